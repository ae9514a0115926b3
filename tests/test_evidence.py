"""Evidence grades: every source has a kind, every rule states its evidence, and users see it."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from tests.conftest import base_profile, dated
from tests.test_loader import line_of, problems_of, replace

import backrx
from backrx import cli
from backrx.pack.load import read_pack
from backrx.pack.model import LEGACY_SOURCE_KINDS, SOURCE_KINDS


def test_every_bundled_rule_states_its_evidence() -> None:
    """Each rule of the bundled pack has an evidence kind or says it is a design choice."""
    pack = read_pack()
    missing = [rule.id for rule in pack.rules if rule.evidence is None]
    assert missing == []
    for rule in pack.rules:
        assert rule.evidence is not None
        assert rule.evidence.kind in SOURCE_KINDS or rule.evidence.design, rule.id


def test_every_bundled_source_uses_a_current_kind() -> None:
    """No source of the bundled pack relies on the pre-0.2 kind names."""
    pack = read_pack()
    assert all(s.kind in SOURCE_KINDS and s.legacy_kind is None for s in pack.sources.values())
    assert {s.id for s in pack.sources.values() if s.kind == "seed-article"} == {
        s for s in pack.sources if s.startswith("seed-")}


def test_evidence_line_follows_the_sources_line() -> None:
    """In every bundled rule file, evidence/design sits directly after each rule's sources line."""
    for path in sorted(Path(read_pack().path).glob("*.yaml")):
        lines = path.read_text(encoding="utf-8").splitlines()
        for number, line in enumerate(lines):
            if re.match(r"    sources: \[", line) and "layer:" in lines[0] + "".join(lines[:8]):
                assert re.match(r"    (evidence|design): ", lines[number + 1]), f"{path.name}:{number + 2}"


def test_old_kind_names_still_load_and_warn(pack_copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A pack written with the 0.1 kind names loads (mapped) and `backrx check` warns, exit 0."""
    text = (pack_copy / "sources.yaml").read_text(encoding="utf-8")
    text = text.replace("kind: rct", "kind: trial").replace("kind: seed-article", "kind: practitioner")
    (pack_copy / "sources.yaml").write_text(text, encoding="utf-8")
    pack = read_pack(pack_copy)
    assert pack.sources["long-2004"].kind == LEGACY_SOURCE_KINDS["trial"] == "rct"
    assert pack.sources["seed-lower-crossed"].kind == "expert-opinion"
    assert cli.main(["check", str(_without_locales(pack_copy))]) == 0
    out = capsys.readouterr().out
    assert "source long-2004 uses the old kind 'trial'" in out and "[code=old-source-kind]" in out


def test_rules_without_evidence_lines_load_and_warn(pack_copy: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """Evidence is optional for the loader; check lists each rule without it as a warning."""
    path = pack_copy / "exclusions.yaml"
    text = re.sub(r"\n    (evidence|design): .*", "", path.read_text(encoding="utf-8"))
    path.write_text(text, encoding="utf-8")
    rules = backrx.load_rules(pack_copy, engine="reference")
    assert rules.rule("exclude.leg-press").evidence is None
    assert cli.main(["check", str(_without_locales(pack_copy))]) == 0
    out = capsys.readouterr().out
    assert "exclude.leg-press  the rule states no evidence" in out
    rec = rules.recommend(base_profile())
    shown = next(f for f in rec.trace if f.rule_id == "exclude.leg-press")
    assert shown.evidence is None
    assert "No leg press [evidence: not stated]" in rec.explain()


def _without_locales(pack: Path) -> Path:
    """The pack without its translations, so that these checks do not depend on them."""
    shutil.rmtree(pack / "locales", ignore_errors=True)
    return pack


def test_check_lists_seed_and_design_only_rules(pack_copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`backrx check` names the rules that rest only on seed articles or design choices, exit 0."""
    assert cli.main(["check", str(_without_locales(pack_copy))]) == 0
    out = capsys.readouterr().out
    assert "exclude.leg-press  the rule rests only on seed articles" in out
    assert "classify.startback.incomplete  the rule rests on a design choice only" in out
    assert "triage.cauda-equina.saddle" not in out


def test_a_rule_cannot_claim_more_than_its_sources(pack_copy: Path) -> None:
    """A rule that states guideline evidence while citing only a seed article is refused."""
    path = pack_copy / "exclusions.yaml"
    before = ("    sources: [seed-lower-crossed]\n    evidence: seed-article\n\n"
              "  - id: exclude.lower-crossed.quad")
    replace(path, before, before.replace("evidence: seed-article", "evidence: guideline"))
    found = [p for p in problems_of(pack_copy) if p.code == "evidence-above-sources"]
    assert [(p.file, p.rule_id) for p in found] == [("exclusions.yaml", "exclude.leg-press")]
    assert found[0].line == line_of(path, "id: exclude.leg-press")


def test_an_unknown_evidence_kind_is_named(pack_copy: Path) -> None:
    """A misspelt evidence kind is reported with file, line, rule id and a suggestion."""
    path = pack_copy / "exclusions.yaml"
    before = ("    sources: [seed-lower-crossed]\n    evidence: seed-article\n\n"
              "  - id: exclude.lower-crossed.quad")
    replace(path, before, before.replace("evidence: seed-article", "evidence: seed-artcle"))
    (problem,) = problems_of(pack_copy)
    assert (problem.code, problem.rule_id, problem.location) == (
        "unknown-value", "exclude.leg-press", "evidence")
    assert "did you mean 'seed-article'" in problem.message
    assert problem.line == line_of(path, "evidence: seed-artcle")


def test_a_source_grade_reaches_the_rules_of_its_kind(pack_copy: Path) -> None:
    """A grade on a source shows on each rule whose evidence kind is that source's kind."""
    replace(pack_copy / "sources.yaml", "  - id: long-2004\n",
            "  - id: long-2004\n    grade: \"test grade\"\n")
    rules = backrx.load_rules(pack_copy, engine="reference")
    ev = rules.rule("components.mckenzie.extension").evidence
    assert ev is not None and ev.grade == "long-2004: test grade"
    rec = rules.recommend(base_profile(directional_preference="extension"))
    assert "rct (long-2004: test grade)" in rec.explain()


def test_explain_shows_the_evidence_of_every_firing(rules: backrx.RuleSet) -> None:
    """explain() gives an evidence line for every rule that fired and every prescription."""
    rec = rules.recommend(base_profile(directional_preference="extension", pain_intensity=8))
    text = rec.explain()
    assert all(f.evidence is not None for f in rec.trace)
    for f in rec.trace:
        assert f"{f.rule_id}: {f.title} [evidence: {f.evidence.describe()}]" in text  # type: ignore[union-attr]
    assert rec.program is not None
    count = sum(len(ph.prescriptions) for ph in rec.program.phases)
    assert text.count("      evidence: ") == count
    assert "design choice without evidence" in text  # exclude.load-cap.severe fired
    assert backrx.Recommendation.model_validate_json(rec.model_dump_json()) == rec


def test_adjust_firings_carry_evidence(rules: backrx.RuleSet) -> None:
    """The rules that fire in adjust carry their evidence into the round's trace."""
    rec = rules.recommend(base_profile(directional_preference="extension"))
    feedback = {"responses": [
        {"exercise_id": "prone-press-up", "pain_during": 6, "next_day": "same", "peripheralized": False}]}
    after = backrx.adjust(rec, dated(feedback, rec), rules=rules)
    firing = next(f for f in after.adjustments[0].trace if f.rule_id == "adjust.pain.too-high")
    assert firing.evidence is not None and firing.evidence.kind == "rct"
    assert firing.evidence.note is not None and "indirect" in firing.evidence.note


def test_evidence_of_a_prescription_for_views(rules: backrx.RuleSet) -> None:
    """evidence_of gives the evidence of the rules behind a prescription, for clinician views."""
    from backrx.run.evidence import evidence_of

    rec = rules.recommend(base_profile(directional_preference="extension"))
    assert rec.program is not None
    p = next(p for p in rec.program.phases[0].prescriptions if p.exercise.id == "prone-press-up")
    found = evidence_of(rec, p.rule_ids)
    assert list(found) == p.rule_ids
    ev = found["components.mckenzie.extension"]
    assert ev is not None and ev.kind == "rct"
    assert evidence_of(rec, ["no.such-rule"]) == {}


def test_the_clinician_handout_shows_evidence_and_the_patient_one_does_not(rules: backrx.RuleSet) -> None:
    """The clinician view's trace names each rule's evidence; the patient view carries no trace."""
    from backrx.render import render

    rec = rules.recommend(base_profile(directional_preference="extension"))
    for fmt in ("md", "text", "html"):
        clinician = render(rec, fmt, view="clinician", rules=rules)
        assert "classify.mckenzie.extension" in clinician and "(rct)" in clinician, fmt
        assert "(a design choice without evidence)" in clinician, fmt  # classify.startback.incomplete
        assert "(rct)" not in render(rec, fmt, view="patient", rules=rules), fmt
