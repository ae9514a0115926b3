"""The rule-pack loader refuses broken packs and says exactly where and why."""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import pytest

import backrx
from backrx import cli
from backrx.pack.read import bundled_path

# --------------------------------------------------------------------------- helpers


def replace(path: Path, old: str, new: str) -> None:
    """Replace the single occurrence of ``old`` in the file with ``new``."""
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times in {path.name}"
    path.write_text(text.replace(old, new), encoding="utf-8")


def line_of(path: Path, marker: str) -> int:
    """The 1-based number of the one line of the file that holds ``marker``."""
    lines = path.read_text(encoding="utf-8").splitlines()
    found = [number for number, line in enumerate(lines, start=1) if marker in line]
    assert len(found) == 1, f"{marker!r} is on lines {found} of {path.name}"
    return found[0]


def problems_of(path: Path) -> list[backrx.Problem]:
    """The problems the loader reports for the pack at ``path`` (it must refuse it)."""
    with pytest.raises(backrx.RuleError) as info:
        backrx.load_rules(path, engine="reference")
    return info.value.problems


def listing(problems: list[backrx.Problem]) -> str:
    """The problems one per line, for assertion messages."""
    return "\n".join(str(p) for p in problems)


@dataclass(frozen=True)
class Broken:
    """One small mutation of the bundled pack and the problem it must produce.

    ``edits`` replace text in ``file``; ``content`` writes ``file`` whole; ``delete`` removes it.
    The expected line is the line of ``marker`` in the mutated file (None: no line).
    """

    file: str
    code: str
    marker: str | None
    rule: str | None = None
    edits: tuple[tuple[str, str], ...] = ()
    content: str | None = None
    delete: bool = False
    says: str = ""

    def apply(self, root: Path) -> None:
        """Break the pack at ``root``."""
        path = root / self.file
        if self.delete:
            path.unlink()
        if self.content is not None:
            path.write_text(self.content, encoding="utf-8")
        for old, new in self.edits:
            replace(path, old, new)

    def line(self, root: Path) -> int | None:
        """The line the problem must name."""
        return None if self.marker is None else line_of(root / self.file, self.marker)


SADDLE_TITLE = "    title: Numbness in the saddle area\n"
SADDLE_PRIORITY = "    priority: 0\n    when: {red_flags: {contains: saddle_anaesthesia}}"
IV_RATIONALE = (
    "    rationale: >-\n      Injecting drug use is a known risk factor for spinal infection."
)
MCKENZIE_EXT_THEN = "then: {pathway: mckenzie_extension}"
# Triage reads clinical states (states.yaml), not flags: triage.night-pain tests the state.
NIGHT_PAIN_WHEN = "when: {derived.night_pain_unrelenting: true}"
BOTH_LEGS_SAFETY_NET = ("    when:\n      bilateral_leg_symptoms: true\n"
                        "    then:\n      warn:\n        code: both-legs-ces-screen")


def template(text: str) -> tuple[tuple[str, str], ...]:
    """Edits that give triage.infection.iv-drug-use a one-line rationale ``text``."""
    return ((IV_RATIONALE, f'    rationale: "{text}"'),)


def nested_not(depth: int, inner: str) -> str:
    """A condition of ``depth`` nested ``not`` around ``inner``, on one line."""
    return "{not: " * depth + inner + "}" * depth


BROKEN = [
    pytest.param(Broken(
        "triage.yaml", "yaml-syntax", "Numbness: in",
        edits=((SADDLE_TITLE, "    title: Numbness: in the saddle area\n"),),
    ), id="yaml-syntax"),
    pytest.param(Broken(
        "pack.yaml", "yaml-alias", "*v",
        edits=(('version: "0.1.0"', 'version: &v "0.1.0"\nname2: *v'),),
    ), id="yaml-alias"),
    pytest.param(Broken(
        "pack.yaml", "yaml-tag", "!!python",
        edits=(('version: "0.1.0"', 'version: !!python/object/apply:os.system ["true"]'),),
    ), id="yaml-tag-python-object"),
    pytest.param(Broken(
        "triage.yaml", "yaml-duplicate-key", "Saddle numbness again",
        edits=((SADDLE_TITLE, SADDLE_TITLE + "    title: Saddle numbness again\n"),),
    ), id="yaml-duplicate-key"),
    pytest.param(Broken(
        "triage.yaml", "unknown-key", "priorty:", "triage.cauda-equina.saddle",
        edits=((SADDLE_PRIORITY, SADDLE_PRIORITY.replace("priority", "priorty")),),
        says="did you mean 'priority'?",
    ), id="unknown-key-with-hint"),
    pytest.param(Broken(
        "triage.yaml", "missing-key", "- id: triage.cauda-equina.saddle",
        "triage.cauda-equina.saddle", edits=((SADDLE_TITLE, ""),), says="'title'",
    ), id="missing-key-title"),
    pytest.param(Broken(
        "classification.yaml", "unknown-layer", "layer: clasification",
        edits=(("layer: classification", "layer: clasification"),),
        says="did you mean 'classification'?",
    ), id="unknown-layer-with-hint"),
    pytest.param(Broken(
        "triage.yaml", "unknown-field", "red_flag:", "triage.cauda-equina.saddle",
        edits=(("{red_flags: {contains: saddle_anaesthesia}}",
                "{red_flag: {contains: saddle_anaesthesia}}"),),
        says="did you mean 'red_flags'?",
    ), id="unknown-field-with-hint"),
    pytest.param(Broken(
        "classification.yaml", "unknown-value", "acutee", "classify.stage.acute",
        edits=(("when: {stage: acute}", "when: {stage: acutee}"),),
        says="did you mean 'acute'?",
    ), id="unknown-enum-value-with-hint"),
    pytest.param(Broken(
        "classification.yaml", "unknown-value", "mckenzie_extensoin", "classify.mckenzie.extension",
        edits=((MCKENZIE_EXT_THEN, "then: {pathway: mckenzie_extensoin}"),),
        says="did you mean 'mckenzie_extension'?",
    ), id="unknown-pathway-with-hint"),
    pytest.param(Broken(
        "classification.yaml", "unknown-operator", "{le: 3}", "classify.startback.low",
        edits=(("{startback.total: {lte: 3}}", "{startback.total: {le: 3}}"),),
        says="did you mean 'lte'?",
    ), id="unknown-operator-with-hint"),
    pytest.param(Broken(
        "classification.yaml", "operator-not-allowed", "{lt: subacute}", "classify.stage.subacute",
        edits=(("when: {stage: subacute}", "when: {stage: {lt: subacute}}"),),
    ), id="lt-on-an-enum"),
    pytest.param(Broken(
        "classification.yaml", "operator-not-allowed", "{contains: 40}",
        "classify.stabilization.hicks",
        edits=(("{age: {lt: 40}}", "{age: {contains: 40}}"),),
    ), id="contains-on-a-number"),
    pytest.param(Broken(
        "classification.yaml", "type-mismatch", '"forty"', "classify.stabilization.hicks",
        edits=(("{age: {lt: 40}}", '{age: {lt: "forty"}}'),),
    ), id="age-lt-text"),
    pytest.param(Broken(
        "triage.yaml", "type-mismatch", "bilateral_leg_symptoms: 1",
        "triage.cauda-equina.both-legs-safety-net",
        edits=((BOTH_LEGS_SAFETY_NET, BOTH_LEGS_SAFETY_NET.replace(": true", ": 1")),),
    ), id="boolean-field-eq-number"),
    pytest.param(Broken(
        "components.yaml", "unknown-exercise", "education-stay-activ]",
        "components.advice.stay-active",
        edits=(("exercises: [education-stay-active]", "exercises: [education-stay-activ]"),),
        says="did you mean 'education-stay-active'?",
    ), id="unknown-exercise-in-prescribe"),
    pytest.param(Broken(
        "exercises.yaml", "unknown-exercise", "harder: educaton-graded-activity",
        edits=(("    easier: null\n    harder: null\n    sources: [dahm-2010",
                "    easier: null\n    harder: educaton-graded-activity\n    sources: [dahm-2010"),),
        says="did you mean 'education-graded-activity'?",
    ), id="unknown-exercise-in-catalog-link"),
    pytest.param(Broken(
        "dosing.yaml", "unknown-source", "alrwaily-2061", "dose.schedule.low-tolerance",
        edits=(("      schedule: {phase: calm, weeks: 3}\n    rationale: >-\n"
                "      With severe pain or low tolerance, the calming phase lasts three weeks rather "
                "than two.\n    sources: [alrwaily-2016]",
                "      schedule: {phase: calm, weeks: 3}\n    rationale: >-\n"
                "      With severe pain or low tolerance, the calming phase lasts three weeks rather "
                "than two.\n    sources: [alrwaily-2061]"),),
        says="did you mean 'alrwaily-2016'?",
    ), id="unknown-source-with-hint"),
    pytest.param(Broken(
        "exclusions.yaml", "unknown-tag", "quad-isolaton", "exclude.lower-crossed.quad-isolation",
        edits=(("exclude: {tags: [quad-isolation], code", "exclude: {tags: [quad-isolaton], code"),),
        says="did you mean 'quad-isolation'?",
    ), id="unknown-tag-with-hint"),
    pytest.param(Broken(
        "dosing.yaml", "unknown-phase", "calmm", "dose.schedule.low-tolerance",
        edits=(("schedule: {phase: calm, weeks: 3}", "schedule: {phase: calmm, weeks: 3}"),),
    ), id="unknown-phase-in-schedule"),
    pytest.param(Broken(
        "exclusions.yaml", "unknown-phase", "phases: [clam]", "exclude.load-cap.severe",
        edits=(("{max_load: 2, phases: [calm], code", "{max_load: 2, phases: [clam], code"),),
        says="did you mean 'calm'?",
    ), id="unknown-phase-in-exclude"),
    pytest.param(Broken(
        "triage.yaml", "duplicate-id", "id: classify.stage.acute", "classify.stage.acute",
        edits=(("- id: triage.night-pain", "- id: classify.stage.acute"),),
        says="already used at classification.yaml:",
    ), id="duplicate-id-across-files"),
    pytest.param(Broken(
        "triage.yaml", "bad-id", "triage.Night-Pain", "triage.Night-Pain",
        edits=(("- id: triage.night-pain", "- id: triage.Night-Pain"),),
    ), id="bad-rule-id"),
    pytest.param(Broken(
        "classification.yaml", "bad-id", "Ext-Flag", "classify.mckenzie.extension",
        edits=((MCKENZIE_EXT_THEN,
                "then:\n      pathway: mckenzie_extension\n      set: {Ext-Flag: true}"),),
    ), id="bad-derived-name"),
    pytest.param(Broken(
        "classification.yaml", "unused-conclusion", "- id: classify.mckenzie.extension",
        "classify.mckenzie.extension",
        edits=((MCKENZIE_EXT_THEN, "then: {pathway: mckenzie_extension, set: {ext_flag: true}}"),),
        says="derived.ext_flag",
    ), id="unused-conclusion"),
    pytest.param(Broken(
        "triage.yaml", "layer-order", "{pathways: {contains: stenosis}}", "triage.night-pain",
        edits=((NIGHT_PAIN_WHEN, "when: {pathways: {contains: stenosis}}"),),
    ), id="triage-reads-pathways"),
    pytest.param(Broken(
        "classification.yaml", "layer-order", "derived.ext_flag", "classify.mckenzie.flexion",
        edits=((MCKENZIE_EXT_THEN, "then: {pathway: mckenzie_extension, set: {ext_flag: true}}"),
               ("        - {directional_preference: flexion}\n        - not:",
                "        - {derived.ext_flag: false}\n        - not:")),
    ), id="reads-derived-of-own-layer"),
    pytest.param(Broken(
        "triage.yaml", "action-not-allowed", "prescribe:", "triage.safety-net",
        edits=(("    then:\n      safety_net:\n",
                "    then:\n      prescribe: {phase: calm, exercises: [education-stay-active]}\n"
                "      safety_net:\n"),),
        says="components layer",
    ), id="prescribe-in-triage"),
    pytest.param(Broken(
        "classification.yaml", "unknown-action", "explian", "classify.stage.acute",
        edits=(("    when: {stage: acute}\n    then: {explain: true}",
                "    when: {stage: acute}\n    then: {explian: true}"),),
        says="did you mean 'explain'?",
    ), id="unknown-action-with-hint"),
    pytest.param(Broken(
        "triage.yaml", "bad-template", "{age!r}", "triage.infection.iv-drug-use",
        edits=template("Risk at {age!r} years."),
    ), id="template-conversion"),
    pytest.param(Broken(
        "triage.yaml", "bad-template", "{0}", "triage.infection.iv-drug-use",
        edits=template("Risk at {0} years."),
    ), id="template-positional"),
    pytest.param(Broken(
        "triage.yaml", "bad-template", "{age[0]}", "triage.infection.iv-drug-use",
        edits=template("Risk at {age[0]} years."),
    ), id="template-index"),
    pytest.param(Broken(
        "triage.yaml", "bad-template", "{age:>9}", "triage.infection.iv-drug-use",
        edits=template("Risk at {age:>9} years."),
    ), id="template-format-spec"),
    pytest.param(Broken(
        "triage.yaml", "bad-template", "{age.__class__}", "triage.infection.iv-drug-use",
        edits=template("Risk at {age.__class__} years."),
    ), id="template-attribute"),
    pytest.param(Broken(
        "classification.yaml", "ambiguous-condition", "{stage: acute, age:", "classify.stage.acute",
        edits=(("when: {stage: acute}", "when: {stage: acute, age: {gt: 18}}"),),
        says="all:",
    ), id="two-keys-in-one-condition"),
    pytest.param(Broken(
        "classification.yaml", "condition-too-deep", "{not: {not:", "classify.stage.chronic",
        edits=(("when: {stage: chronic}", "when: " + nested_not(12, "{stage: chronic}")),),
    ), id="condition-too-deep"),
    pytest.param(Broken(
        "classification.yaml", "out-of-range", "count: 9", "classify.stenosis.cluster",
        edits=(("            count: 3\n", "            count: 9\n"),),
    ), id="at-least-count-out-of-range"),
    pytest.param(Broken(
        "exercises.yaml", "out-of-range", "load: 9",
        edits=(("- id: education-stay-active\n    name: Keep moving and stay active\n"
                "    pattern: advice-stay-active\n"
                "    category: education\n    direction: neutral\n    load: 1\n",
                "- id: education-stay-active\n    name: Keep moving and stay active\n"
                "    pattern: advice-stay-active\n"
                "    category: education\n    direction: neutral\n    load: 9\n"),),
        says="from 1 to 5",
    ), id="exercise-load-9"),
    pytest.param(Broken("phases.yaml", "missing-file", None, delete=True), id="missing-phases"),
    pytest.param(Broken(
        "huge.yaml", "file-too-large", None,
        content="layer: dosing\nrules: []\n" + ("# padding " + "x" * 89 + "\n") * 21_000,
    ), id="file-over-2mb"),
]


CASES: dict[str, Broken] = {str(param.id): cast(Broken, param.values[0]) for param in BROKEN}


@pytest.mark.parametrize("case", BROKEN)
def test_broken_pack_names_file_line_rule_and_code(pack_copy: Path, case: Broken) -> None:
    """Each broken pack is refused with a problem at the right file, line, rule and code."""
    case.apply(pack_copy)
    expected = (case.file, case.line(pack_copy), case.rule, case.code)
    problems = problems_of(pack_copy)
    hits = [p for p in problems if (p.file, p.line, p.rule_id, p.code) == expected]
    assert hits, f"expected {expected} among:\n{listing(problems)}"
    assert any(case.says in p.message for p in hits), f"no message says {case.says!r}: {hits}"


def test_at_least_24_broken_packs_cover_every_code() -> None:
    """The parametrized cases cover every problem code the loader must report clearly."""
    codes = {case.code for case in CASES.values()}
    assert len(CASES) == len(BROKEN) >= 24
    assert codes >= {
        "yaml-syntax", "yaml-alias", "yaml-tag", "yaml-duplicate-key", "unknown-key", "missing-key",
        "unknown-layer", "unknown-field", "unknown-value", "unknown-operator",
        "operator-not-allowed", "type-mismatch", "unknown-exercise", "unknown-source", "unknown-tag",
        "unknown-phase", "duplicate-id", "bad-id", "unused-conclusion", "layer-order",
        "action-not-allowed", "bad-template", "ambiguous-condition", "condition-too-deep",
        "missing-file", "file-too-large", "out-of-range",
    }


def test_duplicate_id_names_the_first_place(pack_copy: Path) -> None:
    """A rule id used in two files is reported at the second, naming the first file and line."""
    replace(pack_copy / "triage.yaml", "- id: triage.night-pain", "- id: classify.stage.acute")
    first = line_of(pack_copy / "classification.yaml", "- id: classify.stage.acute")
    second = line_of(pack_copy / "triage.yaml", "- id: classify.stage.acute")
    dups = [p for p in problems_of(pack_copy) if p.code == "duplicate-id"]
    assert [(p.file, p.line, p.rule_id) for p in dups] == [
        ("triage.yaml", second, "classify.stage.acute")
    ]
    assert f"classification.yaml:{first}" in dups[0].message


def test_template_attribute_access_is_refused(pack_copy: Path) -> None:
    """A rationale that reaches for an attribute ({age.__class__}) never loads."""
    replace(pack_copy / "triage.yaml", IV_RATIONALE, '    rationale: "Risk at {age.__class__}."')
    line = line_of(pack_copy / "triage.yaml", "{age.__class__}")
    problems = problems_of(pack_copy)
    assert [(p.file, p.line, p.rule_id) for p in problems] == [
        ("triage.yaml", line, "triage.infection.iv-drug-use")
    ]


# --------------------------------------------------------------------------- whole-pack behaviour


def test_every_problem_in_every_file_is_reported_at_once(pack_copy: Path) -> None:
    """A pack with five problems in five files reports all five in one RuleError, loading nothing."""
    replace(pack_copy / "triage.yaml", "{red_flags: {contains: saddle_anaesthesia}}",
            "{red_flag: {contains: saddle_anaesthesia}}")
    replace(pack_copy / "classification.yaml", "when: {stage: acute}", "when: {stage: acutee}")
    replace(pack_copy / "dosing.yaml", "schedule: {phase: calm, weeks: 3}",
            "schedule: {phase: calmm, weeks: 3}")
    replace(pack_copy / "exclusions.yaml", "exclude: {tags: [quad-isolation], code",
            "exclude: {tags: [quad-isolaton], code")
    replace(pack_copy / "sources.yaml", "    kind: expert-opinion\n    url: \"https://www.eurekalert",
            "    kind: consensuss\n    url: \"https://www.eurekalert")
    expected = {
        ("triage.yaml", line_of(pack_copy / "triage.yaml", "red_flag:"), "unknown-field"),
        ("classification.yaml", line_of(pack_copy / "classification.yaml", "acutee"),
         "unknown-value"),
        ("dosing.yaml", line_of(pack_copy / "dosing.yaml", "calmm"), "unknown-phase"),
        ("exclusions.yaml", line_of(pack_copy / "exclusions.yaml", "quad-isolaton"), "unknown-tag"),
        ("sources.yaml", line_of(pack_copy / "sources.yaml", "consensuss"), "unknown-value"),
    }
    with pytest.raises(backrx.RuleError) as info:  # raises: no RuleSet, nothing loaded
        backrx.load_rules(pack_copy, engine="reference")
    problems = info.value.problems
    assert {(p.file, p.line, p.code) for p in problems} == expected, listing(problems)
    assert len(problems) == 5, listing(problems)
    assert str(info.value).startswith("the rule pack has 5 problems:")


def test_alias_bomb_is_refused_at_its_first_alias(pack_copy: Path) -> None:
    """A billion-laughs file is refused at its first alias (yaml-alias), without expanding it."""
    lines = ['l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for level in range(1, 10):  # 10**10 strings if it were expanded
        aliases = ", ".join([f"*l{level - 1}"] * 10)
        lines.append(f"l{level}: &l{level} [{aliases}]")
    (pack_copy / "bomb.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    problems = [p for p in problems_of(pack_copy) if p.file == "bomb.yaml"]
    assert [(p.line, p.rule_id, p.code) for p in problems] == [(2, None, "yaml-alias")]


def test_problem_renders_as_file_line_rule_location_message_code(pack_copy: Path) -> None:
    """str(problem) reads `file:line  rule-id > location  message  [code=...]`."""
    replace(pack_copy / "triage.yaml", "{red_flags: {contains: saddle_anaesthesia}}",
            "{red_flag: {contains: saddle_anaesthesia}}")
    line = line_of(pack_copy / "triage.yaml", "red_flag:")
    (problem,) = problems_of(pack_copy)
    assert str(problem) == (
        f"triage.yaml:{line}  triage.cauda-equina.saddle > when.red_flag  "
        "unknown field 'red_flag' (did you mean 'red_flags'?)  [code=unknown-field]"
    )
    bare = backrx.Problem("phases.yaml", None, None, "missing-file", "a pack needs phases.yaml")
    assert str(bare) == "phases.yaml  a pack needs phases.yaml  [code=missing-file]"


def test_every_rendered_problem_has_the_documented_shape(pack_copy: Path) -> None:
    """Every problem of a broken pack renders in the documented shape with a kebab-case code."""
    for name in ("yaml-alias", "unknown-field-with-hint", "unknown-enum-value-with-hint",
                 "unknown-exercise-in-prescribe", "unknown-tag-with-hint",
                 "unknown-phase-in-schedule", "exercise-load-9", "missing-phases"):
        CASES[name].apply(pack_copy)
    shape = re.compile(
        r"^[\w.-]+\.yaml(:\d+)?(  [\w.-]+)?( > [\w.\[\]-]+)?  \S.*\S  \[code=[a-z]+(-[a-z]+)*\]$"
    )
    problems = problems_of(pack_copy)
    assert {p.code for p in problems} >= {"yaml-alias", "unknown-field", "missing-file"}
    for problem in problems:
        assert shape.match(str(problem)), str(problem)


def test_digest_follows_content(pack_copy: Path, tmp_path: Path) -> None:
    """The digest is the same for an identical copy and changes when a rule file changes."""
    twin = tmp_path / "twin"
    shutil.copytree(pack_copy, twin)
    original = backrx.load_rules(pack_copy, engine="reference").digest
    assert original.startswith("sha256:")
    assert backrx.load_rules(twin, engine="reference").digest == original
    assert backrx.load_rules(bundled_path(), engine="reference").digest == original
    replace(twin / "dosing.yaml", "three weeks rather than two", "three weeks instead of two")
    changed = backrx.load_rules(twin, engine="reference").digest
    assert changed != original


def test_check_command_lists_every_problem(
    pack_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`backrx check DIR` exits 1 printing every problem to stderr, and 0 on the bundled pack."""
    replace(pack_copy / "classification.yaml", "when: {stage: acute}", "when: {stage: acutee}")
    replace(pack_copy / "dosing.yaml", "schedule: {phase: calm, weeks: 3}",
            "schedule: {phase: calmm, weeks: 3}")
    (pack_copy / "phases.yaml").unlink()
    problems = problems_of(pack_copy)
    assert len(problems) >= 3
    capsys.readouterr()
    assert cli.main(["check", str(pack_copy)]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert f"the rule pack has {len(problems)} problems" in err
    for problem in problems:
        assert str(problem) in err
    assert cli.main(["check", str(bundled_path())]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("ok: ")
    assert err == ""


# --------------------------------------------------------------------------- regressions


def test_missing_pack_yaml_is_one_problem(pack_copy: Path) -> None:
    """A deleted pack.yaml is reported once, as missing-file, with no follow-on noise."""
    (pack_copy / "pack.yaml").unlink()
    problems = problems_of(pack_copy)
    assert [(p.file, p.code) for p in problems] == [("pack.yaml", "missing-file")], listing(problems)


def test_every_problem_names_a_file_of_the_pack(pack_copy: Path) -> None:
    """Problems name a real pack file, even when the rule that sets a derived value is broken."""
    replace(pack_copy / "classification.yaml", MCKENZIE_EXT_THEN,
            "then: {pathway: mckenzie_extension, set: {ext_flag: true}}")
    replace(pack_copy / "classification.yaml", "title: Directional preference for extension",
            'title: ""')
    problems = problems_of(pack_copy)
    names = {path.name for path in pack_copy.glob("*.yaml")}
    assert all(p.file in names for p in problems), listing(problems)


def test_condition_that_spreads_too_far_is_refused(pack_copy: Path) -> None:
    """Nested at_least that would expand to millions of engine patterns is refused, not compiled."""
    inner = ("{at_least: {count: 3, of: [{age: {gt: 1}}, {age: {gt: 2}}, {age: {gt: 3}}, "
             "{age: {gt: 4}}, {age: {gt: 5}}, {age: {gt: 6}}]}}")
    bomb = "{at_least: {count: 4, of: [" + ", ".join([inner] * 6) + "]}}"
    replace(pack_copy / "classification.yaml", "when: {stage: acute}", f"when: {bomb}")
    problems = problems_of(pack_copy)
    codes = {(p.rule_id, p.code) for p in problems}
    assert ("classify.stage.acute", "condition-too-complex") in codes, listing(problems)


def test_a_red_flag_without_any_referral_is_refused(pack_copy: Path) -> None:
    """A pack in which no triage rule refers for some red flag does not load."""
    # The ticked flag reaches triage through clinical states (states.yaml) and, for a few rules,
    # directly: every test of it, in either file, is made one that can never be true.
    ticked = "red_flags: {contains: unrelenting_night_pain}"
    for name in ("states.yaml", "triage.yaml"):
        path = pack_copy / name
        text = path.read_text(encoding="utf-8")
        assert name == "triage.yaml" or ticked in text, f"states.yaml no longer tests {ticked}"
        path.write_text(text.replace(ticked, "age: {gt: 200}"), encoding="utf-8")
    problems = problems_of(pack_copy)
    assert [p.code for p in problems] == ["red-flag-without-referral"], listing(problems)
    assert "unrelenting_night_pain" in problems[0].message


def test_a_rule_file_with_another_extension_is_refused(pack_copy: Path) -> None:
    """A .yml file in a pack is reported, never silently skipped (it could hold the whole triage)."""
    (pack_copy / "triage.yaml").rename(pack_copy / "triage.yml")
    codes = {(p.file, p.code) for p in problems_of(pack_copy)}
    assert ("triage.yml", "wrong-extension") in codes
    assert ("", "red-flag-without-referral") in codes


def test_an_invalid_explicit_scalar_is_a_rule_error(pack_copy: Path) -> None:
    """`!!int abc` and `!!bool maybe` give yaml-value problems, not stray exceptions."""
    replace(pack_copy / "pack.yaml", 'version: "0.1.0"', "version: !!int abc")
    problems = problems_of(pack_copy)
    assert [(p.file, p.code) for p in problems] == [("pack.yaml", "yaml-value")], listing(problems)
