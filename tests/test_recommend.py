"""recommend() end to end: triage, stage, a real program, JSON, determinism, robustness."""

from __future__ import annotations

import contextlib
import json
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from tests.conftest import base_profile

import backrx
from backrx.model.profile import RED_FLAGS
from backrx.testing import profiles

EMERGENCY = {"saddle_anaesthesia", "bladder_bowel_dysfunction", "bilateral_neurological_symptoms",
             "major_trauma"}
ROUTINE = {"inflammatory_back_pain"}


@pytest.mark.parametrize("flag", RED_FLAGS)
def test_every_red_flag_gets_its_tier(each_engine: backrx.RuleSet, flag: str) -> None:
    """Each red flag yields a referral of its tier; only a routine referral keeps a program."""
    rec = each_engine.recommend(base_profile(red_flags=[flag]))
    assert rec.referral is not None
    expected = "emergency" if flag in EMERGENCY else "routine" if flag in ROUTINE else "urgent"
    assert rec.referral.urgency == expected
    if flag in ROUTINE:
        assert rec.outcome == "program" and rec.program is not None
    else:
        assert rec.outcome == "refer" and rec.program is None
    assert rec.referral.reasons and all(r.startswith("triage.") for r in rec.referral.rule_ids)


def test_emergency_outranks_urgent(rules: backrx.RuleSet) -> None:
    """With an urgent and an emergency flag, the referral is an emergency."""
    rec = rules.recommend(base_profile(red_flags=["cancer_history", "saddle_anaesthesia"]))
    assert rec.referral is not None and rec.referral.urgency == "emergency"
    # saddle numbness, suspected cord compression (cancer + a neurological sign), and the cancer itself
    assert len(rec.referral.reasons) == 3
    assert "triage.mscc.cancer-and-neuro-sign" in rec.referral.rule_ids


def test_progressive_deficit_in_both_legs_is_an_emergency(rules: backrx.RuleSet) -> None:
    """A progressive deficit is urgent alone and an emergency with symptoms in both legs."""
    alone = rules.recommend(base_profile(red_flags=["progressive_neurological_deficit"]))
    both = rules.recommend(base_profile(red_flags=["progressive_neurological_deficit"],
                                        bilateral_leg_symptoms=True))
    assert alone.referral is not None and alone.referral.urgency == "urgent"
    assert both.referral is not None and both.referral.urgency == "emergency"


@pytest.mark.parametrize(("weeks", "stage"), [(3.99, "acute"), (4, "subacute"), (11.99, "subacute"),
                                              (12, "chronic")])
def test_stage_rules_fire_at_the_boundaries(rules: backrx.RuleSet, weeks: float, stage: str) -> None:
    """The stage rule that fires follows the 4 and 12 week boundaries."""
    rec = rules.recommend(base_profile(duration_weeks=weeks))
    assert rec.classification.stage == stage
    assert f"classify.stage.{stage}" in [f.rule_id for f in rec.trace]


def test_a_plain_profile_gets_a_full_program(rules: backrx.RuleSet) -> None:
    """A profile without flags gets three non-empty phases with doses, rationale and sources."""
    rec = rules.recommend(base_profile())
    assert rec.outcome == "program" and rec.program is not None
    assert [p.id for p in rec.program.phases] == ["calm", "strengthen", "condition"]
    fired = {f.rule_id for f in rec.trace}
    cited = {r.id for r in rec.references}
    for phase in rec.program.phases:
        assert phase.prescriptions, phase.id
        assert phase.progress_when
        for p in phase.prescriptions:
            assert p.rationale and p.sources and p.rule_ids
            assert set(p.rule_ids) <= fired
            assert set(p.sources) <= cited
            if p.exercise.category != "education":
                assert p.dose.describe() != "as advised"


def test_trace_records_matched_values(rules: backrx.RuleSet) -> None:
    """Each firing records the profile values its condition read."""
    rec = rules.recommend(base_profile(duration_weeks=2))
    firing = next(f for f in rec.trace if f.rule_id == "classify.stage.acute")
    assert firing.matched == {"stage": "acute"}
    assert firing.sources


def test_trace_follows_pack_order(rules: backrx.RuleSet) -> None:
    """The trace lists firings in pack order: layer, then priority, then rule id."""
    rec = rules.recommend(base_profile(directional_preference="extension"))
    order = {rule_id: i for i, rule_id in enumerate(rules.rule_ids)}
    positions = [order[f.rule_id] for f in rec.trace]
    assert positions == sorted(positions)


def test_incomplete_startback_gives_no_risk_group(rules: backrx.RuleSet) -> None:
    """An incomplete STarT Back screen gives no risk group, never "low"."""
    rec = rules.recommend(base_profile(startback={"leg_pain": False, "shoulder_neck_pain": False}))
    assert rec.classification.startback_risk is None
    assert "classify.startback.incomplete" in [f.rule_id for f in rec.trace]


def test_json_round_trip(rules: backrx.RuleSet) -> None:
    """model_dump_json round-trips through model_validate_json to an equal object."""
    rec = rules.recommend(base_profile(directional_preference="flexion"))
    again = backrx.Recommendation.model_validate_json(rec.model_dump_json())
    assert again == rec


def test_recommend_uses_the_bundled_pack_by_default(rules: backrx.RuleSet) -> None:
    """backrx.recommend without rules equals RuleSet.recommend on the bundled pack."""
    profile = base_profile(pain_intensity=8)
    assert backrx.recommend(profile).model_dump_json() == rules.recommend(profile).model_dump_json()
    assert backrx.recommend(profile, rules=rules).ruleset.digest == rules.digest


def test_recommend_many_equals_recommend(rules: backrx.RuleSet) -> None:
    """recommend_many gives the same results as recommend on each profile."""
    batch = [base_profile(age=a) for a in (20, 50, 80)]
    assert [r.model_dump_json() for r in rules.recommend_many(batch)] == [
        rules.recommend(p).model_dump_json() for p in batch]


def test_explain_and_handout_say_what_matters(rules: backrx.RuleSet) -> None:
    """explain() and the handout name the outcome, the phases, the reasons and the disclaimer."""
    rec = rules.recommend(base_profile(directional_preference="extension"))
    text = rec.explain()
    assert "Outcome: an exercise program." in text and "does not diagnose" in text
    assert "classify.mckenzie.extension" in text
    md = rec.to_markdown()
    assert md.startswith("# Your back exercise plan")
    assert md.count("\n## Phase ") == 3 and "## Stop and seek care if" in md


@settings(max_examples=150)
@given(profile=profiles())
def test_same_profile_same_bytes(profile: dict[str, Any], rules: backrx.RuleSet) -> None:
    """The same profile and pack always give byte-identical JSON."""
    assert rules.recommend(profile).model_dump_json() == rules.recommend(profile).model_dump_json()


@settings(max_examples=300)
@given(profile=profiles())
def test_red_flags_never_yield_exercise_without_referral(
    profile: dict[str, Any], rules: backrx.RuleSet
) -> None:
    """Any red flag gives a referral; a program comes only with none or a routine one."""
    rec = rules.recommend(profile)
    if profile["red_flags"]:
        assert rec.referral is not None
    if rec.outcome == "refer":
        assert rec.program is None
    else:
        assert rec.program is not None
        assert rec.referral is None or rec.referral.urgency == "routine"


_json = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=8)),
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(st.text(max_size=12), inner, max_size=6)),
    max_leaves=20,
)
_keys = st.sampled_from(["age", "stage", "duration_weeks", "red_flags", "findings", "preferences",
                         "startback", "history", "pain_intensity", "tolerance", "leg_pain"])


@settings(max_examples=400)
@given(
    junk=st.one_of(
        _json,
        st.dictionaries(_keys, _json, max_size=8),
        profiles().flatmap(lambda p: st.dictionaries(_keys, _json, max_size=3).map(
            lambda extra: {**p, **extra})),
    )
)
def test_only_validation_errors_escape(junk: Any, rules: backrx.RuleSet) -> None:
    """For any JSON-like input, recommend returns a result or raises pydantic's ValidationError."""
    outcome: str = "invalid"
    with contextlib.suppress(ValidationError):  # anything else escaping fails the test
        outcome = rules.recommend(junk).outcome
    assert outcome in ("program", "refer", "invalid")


def test_non_finite_numbers_are_refused(rules: backrx.RuleSet) -> None:
    """NaN and infinity are refused before they reach the engine."""
    for bad in (math.nan, math.inf, -math.inf):
        with pytest.raises(ValidationError):
            rules.recommend(base_profile(findings={"straight_leg_raise_deg": bad}))


def test_cli_recommend_prints_json(capsys: pytest.CaptureFixture[str], tmp_path: Any) -> None:
    """`backrx recommend FILE --format json` prints a Recommendation."""
    from backrx.cli import main

    path = tmp_path / "p.json"
    path.write_text(json.dumps(base_profile()))
    assert main(["recommend", str(path), "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["outcome"] == "program"


def test_cli_reports_an_invalid_profile(capsys: pytest.CaptureFixture[str], tmp_path: Any) -> None:
    """An invalid profile exits 2 and names the field."""
    from backrx.cli import main

    path = tmp_path / "p.json"
    path.write_text(json.dumps(base_profile(age=5)))
    assert main(["recommend", str(path)]) == 2
    assert "age" in capsys.readouterr().err


def test_cli_schema_prints_every_schema(capsys: pytest.CaptureFixture[str]) -> None:
    """`backrx schema` prints the Profile, Feedback, Recommendation and rule-file schemas."""
    from backrx.cli import main

    assert main(["schema"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert set(data) == {"profile", "feedback", "recommendation", "rules", "vocabulary"}
    assert "red_flags" in data["profile"]["required"]


def test_rule_schema_accepts_every_bundled_rule_file() -> None:
    """`backrx schema rules` validates every rule file of the bundled pack (editors can use it)."""
    import jsonschema
    import yaml

    from backrx.pack.load import DATA_FILES
    from backrx.pack.model import NON_RULE_FILES
    from backrx.pack.read import bundled_path
    from backrx.pack.schema import rule_file_schema

    validator = jsonschema.Draft202012Validator(rule_file_schema())
    files = [p for p in sorted(bundled_path().glob("*.yaml"))
             if p.name not in DATA_FILES + NON_RULE_FILES]
    assert len(files) >= 6
    for path in files:
        errors = [e.message for e in validator.iter_errors(yaml.safe_load(path.read_text()))]
        assert errors == [], (path.name, errors[:3])
    assert not validator.is_valid({"layer": "triage", "rules": [{"id": "Bad"}]})


def test_recommend_many_restores_the_garbage_collector(rules: backrx.RuleSet) -> None:
    """recommend_many pauses the cyclic GC only while it runs, even when a profile is invalid."""
    import gc

    assert gc.isenabled()
    rules.recommend_many([base_profile()])
    assert gc.isenabled()
    with pytest.raises(ValidationError):
        rules.recommend_many([base_profile(), {"age": 5}])
    assert gc.isenabled()
    gc.disable()
    try:
        rules.recommend_many([base_profile()])
        assert not gc.isenabled()
    finally:
        gc.enable()
