"""Pack format 3 (always, layer inputs, blocking tiers) and the format-2 packs it still reads."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.conftest import ENGINES, base_profile, dated

import backrx
from backrx.pack.load import read_pack

HIGH_RISK = {"leg_pain": True, "shoulder_neck_pain": False, "walked_short_distances": True,
             "dressed_slowly": False, "not_safe_to_be_active": True, "worrying_thoughts": True,
             "pain_terrible": True, "not_enjoying": True, "bothersomeness": 4}
PROFILES: list[dict[str, Any]] = [
    base_profile(),
    base_profile(pain_intensity=8),
    base_profile(tolerance="low", duration_weeks=2),
    base_profile(red_flags=["saddle_anaesthesia"]),
    base_profile(red_flags=["iv_drug_use"]),
    base_profile(age=75, pain_intensity=9),
    base_profile(leg_pain="below_knee", age=68, duration_weeks=40),
    base_profile(directional_preference="extension"),
    base_profile(directional_preference="flexion", pain_intensity=7),
    base_profile(startback=HIGH_RISK),
]


def as_format_2(pack: Path) -> None:
    """Rewrite a format-3 pack as format 2 said the same things (no format-3 words left)."""
    meta = pack / "pack.yaml"
    meta.write_text(re.sub(r"(?m)^format_version: 3\n", "", meta.read_text(encoding="utf-8")),
                    encoding="utf-8")
    adjust = pack / "adjust.yaml"
    adjust.write_text(re.sub(r"(?m)^inputs: feedback\n", "", adjust.read_text(encoding="utf-8")),
                      encoding="utf-8")
    urgency = pack / "urgency.yaml"
    urgency.write_text(re.sub(r"(?m)^    (blocks_exercise|sources): .*\n", "",
                              urgency.read_text(encoding="utf-8")), encoding="utf-8")
    for path in pack.glob("*.yaml"):
        text = path.read_text(encoding="utf-8")
        if re.search(r"(?m)^inputs: profile\n", text):  # format 2 read the profile in every layer but adjust
            text = re.sub(r"(?m)^inputs: profile\n", "", text)
            path.write_text(text, encoding="utf-8")
        if "{always: true}" in text:
            path.write_text(text.replace("when: {always: true}", "when: {age: {exists: true}}"),
                            encoding="utf-8")
    text = "\n".join(line for p in pack.glob("*.yaml") for line in p.read_text(encoding="utf-8").splitlines()
                     if not line.lstrip().startswith("#"))
    assert "always:" not in text and "inputs:" not in text and "blocks_exercise" not in text
    assert "format_version" not in text


def _comparable(rec: backrx.Recommendation) -> dict[str, Any]:
    """A recommendation without what names the pack itself (digest) or a matched `age` of the old trick."""
    data = rec.model_dump(mode="json", exclude={"ruleset"})
    for item in data["trace"]:
        if item["matched"].keys() == {"age"}:
            item["matched"] = {}
    for round_ in data.get("adjustments") or []:
        for item in round_["trace"]:
            if item["matched"].keys() == {"age"}:
                item["matched"] = {}
    return data


def test_the_bundled_pack_is_format_3() -> None:
    """The bundled pack is format 3: its adjust layer reads feedback and its tiers say what blocks."""
    pack = read_pack()
    assert pack.format_version == 3
    assert {layer.name: layer.inputs for layer in pack.layers}["adjust"] == "feedback"
    assert {layer.inputs for layer in pack.layers if layer.name != "adjust"} == {"profile"}
    assert pack.tiers is not None and pack.blocking_urgencies == pack.tiers.blocking
    doc = yaml.safe_load((Path(pack.path) / "urgency.yaml").read_text(encoding="utf-8"))
    assert pack.blocking_urgencies == tuple(u for u, t in doc["tiers"].items() if t["blocks_exercise"])


@pytest.mark.parametrize("engine", ENGINES)
def test_a_format_2_copy_gives_the_same_recommendations(pack_copy: Path, engine: str) -> None:
    """The bundled pack rewritten as format 2 loads, recommends and adjusts exactly as the format-3 pack."""
    new = backrx.load_rules(pack_copy, engine=engine)  # type: ignore[arg-type]
    as_format_2(pack_copy)
    old = backrx.load_rules(pack_copy, engine=engine)  # type: ignore[arg-type]
    assert old.pack.format_version == 2 and old.digest != new.digest
    assert old.pack.blocking_urgencies == new.pack.blocking_urgencies
    assert [layer.inputs for layer in old.pack.layers] == [layer.inputs for layer in new.pack.layers]
    for profile in PROFILES:
        a, b = new.recommend(profile), old.recommend(profile)
        assert _comparable(a) == _comparable(b), profile
        feedback = dated({"responses": [], "new_red_flags": []}, a)
        after_a = backrx.adjust(a, feedback, rules=new)
        after_b = backrx.adjust(b, dated({"responses": [], "new_red_flags": []}, b), rules=old)
        assert _comparable(after_a) == _comparable(after_b), profile


def test_an_unknown_format_is_refused_on_its_line(pack_copy: Path) -> None:
    """format_version 4 is refused as unsupported-format at its line in pack.yaml."""
    meta = pack_copy / "pack.yaml"
    meta.write_text(meta.read_text(encoding="utf-8").replace("format_version: 3", "format_version: 4"),
                    encoding="utf-8")
    with pytest.raises(backrx.RuleError) as info:
        read_pack(pack_copy)
    [problem] = info.value.problems
    line = next(i for i, text in enumerate(meta.read_text().splitlines(), 1) if "format_version" in text)
    assert (problem.file, problem.line, problem.code) == ("pack.yaml", line, "unsupported-format")


# --------------------------------------------------------------------------- always


ALWAYS_RULE = """
  - id: classify.test-always
    title: For everyone
    when: {always: true}
    then: {explain: true}
    rationale: Applies to everyone.
    sources: [long-2004]
"""


def _append(pack: Path, file: str, text: str) -> None:
    path = pack / file
    path.write_text(path.read_text(encoding="utf-8").rstrip("\n") + "\n" + text, encoding="utf-8")


@pytest.mark.parametrize("engine", ENGINES)
def test_always_fires_for_every_profile_on_each_engine(pack_copy: Path, engine: str) -> None:
    """A rule whose condition is `always: true` fires for every profile, reading no field."""
    _append(pack_copy, "classification.yaml", ALWAYS_RULE)
    rules = backrx.load_rules(pack_copy, engine=engine)  # type: ignore[arg-type]
    for profile in PROFILES:
        rec = rules.recommend(profile)
        fired = [t for t in rec.trace if t.rule_id == "classify.test-always"]
        if rec.outcome == "program":
            assert len(fired) == 1 and fired[0].matched == {}
    rule = next(r for r in rules.pack.rules if r.id == "classify.test-always")
    assert rule.reads == frozenset()


@pytest.mark.parametrize("engine", ENGINES)
def test_not_always_never_fires(pack_copy: Path, engine: str) -> None:
    """`not: {always: true}` holds for no profile, on either engine."""
    _append(pack_copy, "classification.yaml", ALWAYS_RULE.replace("{always: true}", "{not: {always: true}}"))
    rules = backrx.load_rules(pack_copy, engine=engine)  # type: ignore[arg-type]
    for profile in PROFILES[:3]:
        assert "classify.test-always" not in {t.rule_id for t in rules.recommend(profile).trace}


def test_always_false_is_refused(pack_copy: Path) -> None:
    """`always: false` is a wrong-type problem on its line (a rule is switched off by removing it)."""
    _append(pack_copy, "classification.yaml", ALWAYS_RULE.replace("{always: true}", "{always: false}"))
    with pytest.raises(backrx.RuleError) as info:
        read_pack(pack_copy)
    assert [(p.rule_id, p.code) for p in info.value.problems] == [("classify.test-always", "wrong-type")]
    assert "always takes true" in info.value.problems[0].message


def test_no_bundled_rule_uses_the_exists_trick() -> None:
    """No bundled rule writes "for everyone" as a test that a required field exists."""
    pack = read_pack()
    text = "\n".join(p.read_text(encoding="utf-8") for p in Path(pack.path).glob("*.yaml"))
    assert "when: {age: {exists: true}}" not in text
    assert sum(1 for r in pack.rules if r.reads == frozenset() and r.then.criterion is None) >= 10


def test_severe_pain_is_named_once() -> None:
    """Outside triage the 7-of-10 threshold is one rule setting derived.severe_pain, read by later layers."""
    pack = read_pack()
    readers = {r.layer for r in pack.rules if "derived.severe_pain" in r.reads}
    assert readers == {"components", "exclusions", "dosing"}
    setters = [r for r in pack.rules if ("severe_pain", True) in r.then.set]
    assert [r.layer for r in setters] == ["classification"]
    # Layers up to classification (states, triage) run before severe_pain is set: they read the number.
    before = {layer.name for layer in pack.layers[:[x.name for x in pack.layers].index("classification") + 1]}
    files = [p for p in Path(pack.path).glob("*.yaml")
             if (yaml.safe_load(p.read_text(encoding="utf-8")) or {}).get("layer") not in before]
    assert {"components.yaml", "exclusions.yaml", "dosing.yaml"} <= {p.name for p in files}
    text = "\n".join(p.read_text(encoding="utf-8") for p in files)
    assert "pain_intensity: {gte: 7}" not in text


# --------------------------------------------------------------------------- inputs and blocking


def test_a_feedback_field_in_a_profile_layer_names_the_inputs(pack_copy: Path) -> None:
    """Format 3 adjust.yaml without `inputs: feedback`: its feedback fields are layer-order problems."""
    path = pack_copy / "adjust.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("inputs: feedback\n", ""), encoding="utf-8")
    with pytest.raises(backrx.RuleError) as info:
        read_pack(pack_copy)
    codes = {(p.file, p.code) for p in info.value.problems}
    assert ("adjust.yaml", "layer-order") in codes
    assert any("inputs: feedback" in p.message for p in info.value.problems)


def test_files_of_one_layer_read_the_same_inputs(pack_copy: Path) -> None:
    """A second triage file that says `inputs: feedback` is an inputs-mismatch problem."""
    (pack_copy / "extra.yaml").write_text("layer: triage\ninputs: feedback\nrules: []\n", encoding="utf-8")
    with pytest.raises(backrx.RuleError) as info:
        read_pack(pack_copy)
    [mismatch] = [p for p in info.value.problems if p.code == "inputs-mismatch"]
    assert {mismatch.file, *re.findall(r"\w+\.yaml", mismatch.message)} == {"extra.yaml", "triage.yaml"}


def test_an_unknown_inputs_value_is_refused(pack_copy: Path) -> None:
    """`inputs: weather` is an unknown-value problem with the values allowed."""
    (pack_copy / "extra.yaml").write_text("layer: dosing\ninputs: weather\nrules: []\n", encoding="utf-8")
    with pytest.raises(backrx.RuleError) as info:
        read_pack(pack_copy)
    [problem] = [p for p in info.value.problems if p.file == "extra.yaml"]
    assert problem.code == "unknown-value" and "profile, feedback" in problem.message


def _set_blocks(pack: Path, tier: str, value: str | None) -> None:
    path = pack / "urgency.yaml"
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    if value is None:
        del doc["tiers"][tier]["blocks_exercise"]
    else:
        doc["tiers"][tier]["blocks_exercise"] = value == "true"
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")


def test_which_tiers_block_is_the_packs_decision(pack_copy: Path) -> None:
    """With routine marked as blocking in urgency.yaml, a routine referral replaces the program."""
    high = base_profile(startback=HIGH_RISK)
    before = backrx.load_rules(pack_copy, engine="reference").recommend(high)
    assert before.referral is not None and before.referral.urgency == "routine"
    assert before.outcome == "program"
    _set_blocks(pack_copy, "routine", "true")
    rules = backrx.load_rules(pack_copy, engine="reference")
    assert rules.pack.blocking_urgencies == ("emergency", "urgent", "routine")
    after = rules.recommend(high)
    assert after.outcome == "refer" and after.program is None


def test_a_format_3_tier_must_say_whether_it_blocks(pack_copy: Path) -> None:
    """A format-3 tier without blocks_exercise is a missing-key problem in urgency.yaml."""
    _set_blocks(pack_copy, "urgent", None)
    with pytest.raises(backrx.RuleError) as info:
        read_pack(pack_copy)
    assert [(p.file, p.code, p.location) for p in info.value.problems] == [
        ("urgency.yaml", "missing-key", "tiers.urgent")]


def test_a_blocking_choice_cites_a_known_source(pack_copy: Path) -> None:
    """A tier's blocks_exercise cites sources of sources.yaml; an unknown id is unknown-source."""
    path = pack_copy / "urgency.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("sources: [finucane-2020]\n",
                                                             "sources: [no-such-source]\n", 1),
                    encoding="utf-8")
    with pytest.raises(backrx.RuleError) as info:
        read_pack(pack_copy)
    assert [(p.file, p.code) for p in info.value.problems] == [("urgency.yaml", "unknown-source")]


def test_without_urgency_yaml_every_tier_blocks(pack_copy: Path) -> None:
    """A format-3 pack without urgency.yaml states no tier that lets exercise go on, so all block."""
    (pack_copy / "urgency.yaml").unlink()
    assert read_pack(pack_copy).blocking_urgencies == ("emergency", "urgent", "routine")
