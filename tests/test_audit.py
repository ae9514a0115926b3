"""Rule audits: invariants, shrunk counterexamples, coverage and conflicts, on safe and unsafe packs."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, Phase, given, seed, settings

import backrx
from backrx.audit.invariants import (
    BUILTIN_INVARIANTS,
    Invariant,
    default_invariants,
    invariant,
    no_dose_increase_after_worse_day,
    register_invariant,
    registered_invariants,
    unregister_invariant,
)
from backrx.audit.report import AuditReport
from backrx.audit.run import audit, audit_command
from backrx.engine import durable_available
from backrx.model.profile import RED_FLAGS
from backrx.model.recommendation import Dose, Exercise, Prescription, Recommendation
from backrx.model.vocabulary import PATHWAYS
from backrx.pack.load import read_pack
from backrx.pack.read import bundled_path
from backrx.testing import (
    VOCABULARY_TARGETS,
    corner_profile,
    corners,
    feedback,
    pathway_triggers,
    profiles,
    record_events,
)

EXAMPLES = 100
OPTIONAL_SECTIONS = ("findings", "history", "startback", "preferences")


def _only(*ids: str) -> list[Invariant]:
    """The built-in invariants with these ids (the audit always adds output.no-error)."""
    chosen = [item for item in BUILTIN_INVARIANTS if item.id in ids]
    assert len(chosen) == len(ids)
    return chosen


def _copy_pack(tmp_path: Path) -> Path:
    target = tmp_path / "pack"
    shutil.copytree(bundled_path(), target, ignore=shutil.ignore_patterns("cases"))
    return target


def _edit(pack: Path, file: str, change: Callable[[dict[str, Any]], None]) -> None:
    """Load one YAML file of the pack, let ``change`` edit it, write it back."""
    doc = yaml.safe_load((pack / file).read_text(encoding="utf-8"))
    change(doc)
    (pack / file).write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")


def _rule(doc: dict[str, Any], rule_id: str) -> dict[str, Any]:
    found: dict[str, Any] = next(r for r in doc["rules"] if r["id"] == rule_id)
    return found


def _flexion_first_for_extension(doc: dict[str, Any]) -> None:
    calm = _rule(doc, "components.mckenzie.extension")["then"]["prescribe"][0]
    calm["exercises"] = ["double-knee-to-chest", "childs-pose", *calm["exercises"]]


@pytest.fixture(scope="module")
def bundled_report() -> AuditReport:
    """The audit of the bundled pack on the reference engine (shared by the tests below)."""
    return audit(backrx.load_rules(engine="reference"), max_examples=200)


# --------------------------------------------------------------------------- the bundled pack


def test_bundled_pack_passes_the_audit(bundled_report: AuditReport) -> None:
    """Every built-in invariant holds for the bundled pack (adjust's may be skipped until it exists)."""
    statuses = {r.id: r.status for r in bundled_report.results}
    assert bundled_report.ok, bundled_report.format_text()
    assert statuses.pop("adjust.no-dose-increase-after-worse-day") in ("holds", "skipped")
    engines = statuses.pop("engine.agreement")
    assert engines == ("holds" if durable_available() else "skipped")
    assert set(statuses.values()) == {"holds"}
    assert bundled_report.examples == 200 + len(corners())


def test_every_bundled_rule_fires_and_has_a_golden_case(bundled_report: AuditReport) -> None:
    """Coverage: every bundled rule fires for some audited profile, and a golden case covers each."""
    rules = backrx.load_rules(engine="reference")
    expected = [r for r in rules.rule_ids if not r.startswith("adjust.")]
    assert list(bundled_report.coverage) == expected
    assert bundled_report.never_fired == []
    assert bundled_report.rules_without_case == []
    assert bundled_report.case_problems == ()
    saddle = bundled_report.golden_cases["triage.cauda-equina.saddle"]
    assert "triage/saddle-numbness-is-an-emergency" in saddle
    assert bundled_report.coverage["triage.safety-net"] == bundled_report.examples


def test_report_renders_as_text_and_json(bundled_report: AuditReport) -> None:
    """The report renders as text (verdict, invariants, coverage) and as JSON that parses back."""
    text = bundled_report.format_text()
    assert "PASS: every invariant holds" in text
    assert "safety.red-flag-refers" in text and "Rule coverage:" in text and "Conflicts:" in text
    data = json.loads(bundled_report.to_json())
    assert data["ok"] is True
    assert data["pack"]["name"] == "backrx-core" and data["pack"]["digest"].startswith("sha256:")
    assert {i["id"] for i in data["invariants"]} == {i.id for i in default_invariants()}
    assert data["coverage"]["never_fired"] == []
    assert data == json.loads(json.dumps(bundled_report.as_dict()))


def test_same_seed_gives_the_same_report() -> None:
    """Two audits with the same seed generate the same profiles and report the same results."""
    rules = backrx.load_rules(engine="reference")
    chosen = _only("safety.red-flag-refers")
    first = audit(rules, max_examples=40, seed=7, invariants=chosen).as_dict()
    second = audit(rules, max_examples=40, seed=7, invariants=chosen).as_dict()
    first.pop("seconds")
    second.pop("seconds")
    assert first == second


def test_progress_lines_are_reported() -> None:
    """audit() sends progress lines to the callback: the start, the counts and the end."""
    lines: list[str] = []
    audit(backrx.load_rules(engine="reference"), fields=False, max_examples=20, invariants=[],
          progress=lines.append)
    assert lines[0].startswith("audit: backrx-core")
    assert any("profiles checked" in line for line in lines)
    assert lines[-1].startswith("audit: done")


# --------------------------------------------------------------------------- unsafe packs


def test_prescribing_despite_a_red_flag_is_caught_and_shrunk(tmp_path: Path) -> None:
    """A cancer-history rule that can no longer fire: a shrunk profile with that one red flag.

    (The loader refuses a pack where no triage rule names a flag; this rule still names it, under
    a condition that never holds, which only an audit can find.)"""
    pack = _copy_pack(tmp_path)
    _edit(pack, "triage.yaml", lambda doc: _rule(doc, "triage.malignancy.history").update(
        when={"all": [{"red_flags": {"contains": "cancer_history"}}, {"age": {"gt": 200}}]}))
    report = audit(backrx.load_rules(pack, engine="reference"), fields=False, max_examples=EXAMPLES)
    assert not report.ok
    assert [r.id for r in report.violations] == ["safety.red-flag-refers"]
    found = report.result("safety.red-flag-refers").counterexample
    assert found is not None and found.shrunk
    assert found.profile["red_flags"] == ["cancer_history"]
    assert not set(OPTIONAL_SECTIONS) & set(found.profile)
    assert "cancer_history but no referral" in found.reason
    assert found.explanation.startswith("Outcome: an exercise program.")
    assert yaml.safe_load(found.yaml) == found.profile
    assert "VIOLATED safety.red-flag-refers" in report.format_text()


def test_an_emergency_sign_downgraded_to_urgent_is_caught(tmp_path: Path) -> None:
    """Saddle anaesthesia made urgent: the emergency invariant fails on a profile with just that flag."""
    pack = _copy_pack(tmp_path)
    _edit(pack, "triage.yaml", lambda doc: _rule(doc, "triage.cauda-equina.saddle")["then"]["refer"].update(
        urgency="urgent", reason="Saddle numbness: see a doctor today."))
    report = audit(backrx.load_rules(pack, engine="reference"), fields=False, max_examples=EXAMPLES,
                   invariants=_only("safety.red-flag-refers", "safety.emergency-signs-emergency",
                                    "safety.refer-means-no-program"))
    assert [r.id for r in report.violations] == ["safety.emergency-signs-emergency"]
    found = report.violations[0].counterexample
    assert found is not None and found.shrunk
    assert found.profile["red_flags"] == ["saddle_anaesthesia"]
    assert "urgent referral, not an emergency one" in found.reason


def test_an_exercise_against_the_directional_preference_is_caught(tmp_path: Path) -> None:
    """Flexion put first for extension, its exclusion deleted: a minimal extension-preference profile."""
    pack = _copy_pack(tmp_path)
    _edit(pack, "components.yaml", _flexion_first_for_extension)
    _edit(pack, "exclusions.yaml", lambda doc: doc.update(rules=[
        r for r in doc["rules"] if r["id"] != "exclude.direction.against-extension-preference"]))
    report = audit(backrx.load_rules(pack, engine="reference"), fields=False, max_examples=EXAMPLES)
    assert [r.id for r in report.violations] == ["program.phase-one-direction"]
    found = report.violations[0].counterexample
    assert found is not None and found.shrunk
    assert found.profile["directional_preference"] == "extension"
    assert found.profile["red_flags"] == []
    assert not set(OPTIONAL_SECTIONS) & set(found.profile)
    assert "double-knee-to-chest" in found.reason


def test_a_prescription_against_an_exclusion_is_reported_as_a_conflict(
        tmp_path: Path, bundled_report: AuditReport) -> None:
    """Flexion candidates for an extension preference, exclusion kept: safe, but a reported conflict."""
    pack = _copy_pack(tmp_path)
    _edit(pack, "components.yaml", _flexion_first_for_extension)
    report = audit(backrx.load_rules(pack, engine="reference"), fields=False, max_examples=EXAMPLES,
                   invariants=_only("program.phase-one-direction"))
    assert report.ok
    pair = ("components.mckenzie.extension", "exclude.direction.against-extension-preference")
    found = [c for c in report.conflicts if c.rule_ids == pair]
    assert len(found) == 1
    conflict = found[0]
    assert conflict.kind == "prescribe-vs-exclude" and conflict.phases == ("calm",)
    assert set(conflict.exercises) == {"double-knee-to-chest", "childs-pose"}
    assert conflict.profile["directional_preference"] == "extension"
    rec = backrx.load_rules(pack, engine="reference").recommend(conflict.profile)
    assert {f.rule_id for f in rec.trace} >= set(pair)
    assert pair not in {c.rule_ids for c in bundled_report.conflicts}


def test_a_rule_that_never_fires_is_reported(tmp_path: Path) -> None:
    """A rule with an impossible condition (age under 5) shows 0 firings and is listed as never fired."""
    pack = _copy_pack(tmp_path)
    _edit(pack, "components.yaml", lambda doc: doc["rules"].append({
        "id": "components.paediatric.toddler-play", "title": "Play for toddlers", "priority": 90,
        "when": {"age": {"lt": 5}},
        "then": {"prescribe": [{"phase": "calm", "exercises": ["education-stay-active"]}]},
        "rationale": "Toddlers learn to move by playing.", "sources": ["dahm-2010"],
    }))
    report = audit(backrx.load_rules(pack, engine="reference"), fields=False, max_examples=EXAMPLES,
                   invariants=[])
    assert report.ok
    assert report.coverage["components.paediatric.toddler-play"] == 0
    assert report.never_fired == ["components.paediatric.toddler-play"]
    assert "    - components.paediatric.toddler-play" in report.format_text()


# --------------------------------------------------------------------------- equipment and engines


def _exercise(rules: backrx.RuleSet, exercise_id: str) -> Exercise:
    e = rules.pack.exercises[exercise_id]
    return Exercise(id=e.id, name=e.name, category=e.category, direction=e.direction,  # type: ignore[arg-type]
                    load=e.load, equipment=list(e.equipment), settings=list(e.settings),
                    targets=list(e.targets), instructions=e.instructions, easier=e.easier, harder=e.harder)


def _with_foam_roller(rules: backrx.RuleSet, rec: Recommendation) -> Recommendation:
    """``rec`` with a foam-roller exercise slipped into phase 1, as a planner bug would."""
    if rec.program is None:
        return rec
    first = rec.program.phases[0]
    extra = Prescription(exercise=_exercise(rules, "foam-roll-calves"), dose=Dose(reps=10),
                         rationale="Roll the calves.", sources=["seed-lower-crossed"],
                         rule_ids=[first.prescriptions[0].rule_ids[0]])
    phase = first.model_copy(update={"prescriptions": [*first.prescriptions, extra]})
    program = rec.program.model_copy(update={"phases": [phase, *rec.program.phases[1:]]})
    return rec.model_copy(update={"program": program})


class _LeakyPlanner(backrx.RuleSet):
    """The bundled pack with a planner that forgets equipment (a pack edit cannot do this)."""

    def recommend(self, profile: Any) -> Recommendation:
        return _with_foam_roller(self, super().recommend(profile))


@pytest.fixture(scope="module")
def leaky_report() -> AuditReport:
    """The audit of a RuleSet whose planner ignores equipment."""
    return audit(_LeakyPlanner(read_pack(), "reference"), fields=False, max_examples=EXAMPLES,
                 invariants=_only("program.equipment-and-settings", "engine.agreement"))


def test_the_equipment_invariant_flags_a_hand_built_recommendation() -> None:
    """A recommendation holding a foam-roller exercise for someone without one violates the invariant."""
    rules = backrx.load_rules(engine="reference")
    check = next(i for i in BUILTIN_INVARIANTS if i.id == "program.equipment-and-settings").check
    profile = corner_profile({})
    rec = rules.recommend(profile)
    assert check(rules, profile, rec) is None
    reason = check(rules, profile, _with_foam_roller(rules, rec))
    assert reason is not None and "foam-roll-calves (calm) needs foam_roller" in reason
    gym = corner_profile({"preferences": {"settings": ["gym"]}})
    assert check(rules, gym, _with_foam_roller(rules, rules.recommend(gym))) is None


def test_an_exercise_needing_missing_equipment_is_caught_and_shrunk(leaky_report: AuditReport) -> None:
    """The audit reports the leaky planner with a minimal profile: no preferences (home, no equipment)."""
    result = leaky_report.result("program.equipment-and-settings")
    assert result.status == "violated"
    found = result.counterexample
    assert found is not None and found.shrunk
    assert "preferences" not in found.profile
    assert found.profile["red_flags"] == []
    assert "foam_roller" in found.reason


@pytest.mark.skipif(not durable_available(), reason="durable_rules does not import here")
def test_engine_disagreement_is_caught(leaky_report: AuditReport) -> None:
    """Output that the other engine does not reproduce fails engine.agreement."""
    result = leaky_report.result("engine.agreement")
    assert result.status == "violated"
    assert result.counterexample is not None and "different JSON" in result.counterexample.reason


# --------------------------------------------------------------------------- clinics' own invariants


def _under_sixty(rules: backrx.RuleSet, profile: dict[str, Any], rec: Recommendation) -> str | None:
    if rec.program is not None and profile["age"] >= 60:
        return f"a program for someone aged {profile['age']}"
    return None


def test_a_custom_invariant_runs_and_can_fail() -> None:
    """A clinic's invariant passed to audit() fails with a shrunk counterexample at its boundary."""
    strict = invariant("clinic.under-sixty-only", "Only people under 60 get a program.",
                       register=False)(_under_sixty)

    @invariant("clinic.always-a-safety-net", "Every recommendation carries safety-net advice.",
               register=False)
    def safety_net(rules: backrx.RuleSet, profile: dict[str, Any], rec: Recommendation) -> str | None:
        return None if rec.safety_net else "no safety-net advice"

    report = audit(backrx.load_rules(engine="reference"), fields=False, max_examples=EXAMPLES,
                   invariants=[strict, safety_net])
    assert report.result("clinic.always-a-safety-net").status == "holds"
    result = report.result("clinic.under-sixty-only")
    assert result.status == "violated"
    assert result.counterexample is not None and result.counterexample.shrunk
    # The counterexample is a real one (no pin on where Hypothesis's shrinker stops: versions differ).
    assert result.counterexample.profile["age"] >= 60
    assert backrx.recommend(result.counterexample.profile).program is not None


def test_a_registered_invariant_joins_the_default_audit() -> None:
    """register_invariant adds to default_invariants() until unregistered; audit() then runs it."""
    assert registered_invariants() == ()
    item = register_invariant(Invariant("clinic.under-sixty-only", "Only people under 60 get a program.",
                                        _under_sixty))
    try:
        assert default_invariants()[-1] is item
        assert len(default_invariants()) == len(BUILTIN_INVARIANTS) + 1
        with pytest.raises(ValueError, match="already registered"):
            register_invariant(item)
        report = audit(backrx.load_rules(engine="reference"), fields=False, max_examples=30,
                       invariants=[i for i in default_invariants() if i.id.startswith("clinic.")])
        assert report.result("clinic.under-sixty-only").status == "violated"
    finally:
        unregister_invariant(item.id)
    assert registered_invariants() == ()


def test_invariants_are_validated() -> None:
    """An invariant needs a dotted lower-case id, a one-line statement, and an id no other one has."""
    with pytest.raises(ValueError, match="dotted"):
        Invariant("NoDots", "A statement.", _under_sixty)
    with pytest.raises(ValueError, match="one line"):
        Invariant("clinic.two-lines", "First line.\nSecond line.", _under_sixty)
    with pytest.raises(ValueError, match="already registered"):
        register_invariant(Invariant("safety.red-flag-refers", "Shadowing a built-in.", _under_sixty))
    twice = Invariant("clinic.twice", "Listed twice.", _under_sixty)
    with pytest.raises(ValueError, match="unique"):
        audit(backrx.load_rules(engine="reference"), fields=False, max_examples=1, invariants=[twice, twice])


def test_a_crashing_check_counts_as_a_violation() -> None:
    """A check that raises is reported as violated, with the exception as its reason."""

    def crash(rules: backrx.RuleSet, profile: dict[str, Any], rec: Recommendation) -> str | None:
        raise KeyError("missing")

    report = audit(backrx.load_rules(engine="reference"), fields=False, max_examples=10,
                   invariants=[Invariant("clinic.crashes", "Never crashes.", crash)])
    result = report.result("clinic.crashes")
    assert result.status == "violated"
    assert result.counterexample is not None and "KeyError" in result.counterexample.reason


def test_adjust_hook_catches_a_dose_raised_after_a_worse_day() -> None:
    """The adjust invariant fails when adjust raises doses after every exercise went worse."""

    def greedy(rec: Recommendation, fb: Any, **_: Any) -> Recommendation:
        if rec.program is None:
            return rec
        first = rec.program.phases[0]
        bumped = [p.model_copy(update={"dose": Dose(**{k: (v + 1 if v is not None else None)
                                                        for k, v in p.dose.model_dump().items()})})
                  for p in first.prescriptions]
        phase = first.model_copy(update={"prescriptions": bumped})
        return rec.model_copy(update={"program": rec.program.model_copy(
            update={"phases": [phase, *rec.program.phases[1:]]})})

    report = audit(backrx.load_rules(engine="reference"), fields=False, max_examples=30,
                   invariants=[no_dose_increase_after_worse_day(greedy)])
    result = report.result("adjust.no-dose-increase-after-worse-day")
    assert result.status == "violated"
    assert result.counterexample is not None and "->" in result.counterexample.reason
    kind = no_dose_increase_after_worse_day(lambda rec, fb: rec)
    assert audit(backrx.load_rules(engine="reference"), fields=False, max_examples=20, invariants=[kind]).ok


# --------------------------------------------------------------------------- the command line


@pytest.mark.slow
def test_audit_command_passes_the_bundled_pack(capsys: pytest.CaptureFixture[str]) -> None:
    """audit_command exits 0 on the bundled pack and prints the text report."""
    assert audit_command(None, 30, 0, "text") == 0
    out = capsys.readouterr().out
    assert "PASS: every invariant holds" in out and "Rule coverage:" in out


def test_audit_command_exits_1_on_a_violation_with_json(tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    """audit_command exits 1 when an invariant fails; --format json gives the report as JSON."""
    pack = _copy_pack(tmp_path)
    _edit(pack, "triage.yaml", lambda doc: _rule(doc, "triage.night-pain").update(
        when={"all": [{"derived.night_pain_unrelenting": True}, {"age": {"gt": 200}}]}))
    assert audit_command(str(pack), 30, 0, "json") == 1
    data = json.loads(capsys.readouterr().out)
    assert data["ok"] is False
    violated = [i for i in data["invariants"] if i["status"] == "violated"]
    # the flag no longer refers, and the safety net's "doctor today" line no longer matches the decision
    assert {i["id"] for i in violated} == {"safety.red-flag-refers", "safety.net-consistent"}
    flagged = next(i for i in violated if i["id"] == "safety.red-flag-refers")
    assert flagged["counterexample"]["profile"]["red_flags"] == ["unrelenting_night_pain"]


def test_audit_command_exits_2_when_the_pack_does_not_load(tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    """audit_command exits 2 for a broken pack and prints its problems to stderr."""
    pack = _copy_pack(tmp_path)
    _edit(pack, "triage.yaml", lambda doc: _rule(doc, "triage.night-pain").update(
        when={"red_flag": {"contains": "unrelenting_night_pain"}}))
    assert audit_command(str(pack), 30, 0, "text") == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "code=unknown-field" in captured.err and "triage.night-pain" in captured.err
    assert audit_command(str(tmp_path / "nowhere"), 30, 0, "text") == 2


# --------------------------------------------------------------------------- the strategies


@pytest.mark.slow
def test_profiles_reach_every_corner_within_2000_examples() -> None:
    """Within 2,000 examples profiles() reaches every red flag, pathway, boundary and vocabulary value."""
    rules = backrx.load_rules(engine="reference")
    tally: Counter[str] = Counter()
    concluded: Counter[str] = Counter()

    @seed(2024)
    @settings(max_examples=2000, database=None, deadline=None, phases=[Phase.generate],
              suppress_health_check=[HealthCheck.too_slow])
    @given(profiles())
    def run(profile: dict[str, Any]) -> None:
        tally.update(record_events(profile))
        rec = rules.recommend(profile)
        if rec.program is not None:
            concluded.update(rec.classification.pathways)

    run()
    assert [label for label in VOCABULARY_TARGETS if not tally[label]] == []
    assert [name for name in PATHWAYS if not concluded[name]] == []
    named = ["duration_weeks=3.99", "duration_weeks=4", "duration_weeks=11.99", "duration_weeks=12",
             "age=39", "age=40", "findings.straight_leg_raise_deg=91", "findings.straight_leg_raise_deg=91.5",
             "startback.total=3", "startback.total=4", "startback.psychosocial=3", "startback.psychosocial=4"]
    assert [label for label in named if not tally[f"boundary: {label}"]] == []
    assert [flag for flag in RED_FLAGS if not tally[f"red flag: {flag}"]] == []


def test_pathway_triggers_match_the_bundled_pack() -> None:
    """pathway_triggers() reads the same pathways off a profile as the bundled pack concludes."""
    rules = backrx.load_rules(engine="reference")
    for fixed in corners():
        profile = corner_profile({**fixed, "red_flags": [], "red_flags_unsure": []})
        rec = rules.recommend(profile)
        if rec.outcome == "refer":  # a cluster referred: classification never ran
            assert rec.classification.pathways == []
            continue
        assert sorted(pathway_triggers(profile)) == sorted(rec.classification.pathways)


def test_every_corner_is_a_valid_profile() -> None:
    """Every corner case is a valid profile, and each red flag has a corner of its own."""
    for fixed in corners():
        backrx.Profile.model_validate(corner_profile(fixed))
    singles = {tuple(c["red_flags"]) for c in corners() if len(c.get("red_flags", [])) == 1}
    assert singles == {(flag,) for flag in RED_FLAGS}


@settings(max_examples=30, deadline=None)
@given(data=profiles(red_flags=[], red_flags_unsure=[]).map(backrx.recommend).filter(
    lambda rec: rec.program is not None).flatmap(
    lambda rec: feedback(rec).map(lambda fb: (rec, fb))))
def test_feedback_strategy_gives_valid_feedback(data: tuple[Recommendation, dict[str, Any]]) -> None:
    """feedback(rec) generates valid Feedback naming only exercises of the program, each once."""
    from backrx.model.feedback import Feedback

    rec, fb = data
    valid = Feedback.model_validate(fb)
    ids = [r.exercise_id for r in valid.responses]
    assert len(ids) == len(set(ids))
    assert rec.program is not None
    assert set(ids) <= {p.exercise.id for phase in rec.program.phases for p in phase.prescriptions}


# --------------------------------------------------------------------------- populations (issue 15)


def _drop_rule(rule_id: str) -> Callable[[dict[str, Any]], None]:
    def change(doc: dict[str, Any]) -> None:
        doc["rules"] = [r for r in doc["rules"] if r["id"] != rule_id]
    return change


def _drop_avoid(rule_id: str) -> Callable[[dict[str, Any]], None]:
    """Take one exclusion rule out of the population that declares it (populations.yaml)."""
    def change(doc: dict[str, Any]) -> None:
        for population in doc["populations"]:
            population["avoid"] = [r for r in population.get("avoid", []) if r["id"] != rule_id]
    return change


def test_prone_work_in_pregnancy_is_caught(tmp_path: Path) -> None:
    """Without the prone exclusion, the pregnancy invariant fails on a pregnant profile."""
    pack = _copy_pack(tmp_path)
    _edit(pack, "populations.yaml", _drop_avoid("exclude.pregnancy.prone"))
    _edit(pack, "components.yaml", lambda doc: _rule(doc, "components.pregnancy.supported")["then"][
        "prescribe"].append({"phase": "calm", "exercises": ["prone-lying"], "role": "pathway"}))
    # (as essential work: the default budget keeps the walk whole, so extras may wait for time)
    report = audit(backrx.load_rules(pack, engine="reference"), fields=False, max_examples=EXAMPLES,
                   invariants=_only("population.pregnancy"))
    assert [r.id for r in report.violations] == ["population.pregnancy"]
    found = report.violations[0].counterexample
    # one movement family per phase (issue 10): the press-up may take the place of prone lying
    assert found is not None and "lying face down" in found.reason


def test_walking_for_a_wheelchair_user_is_caught(tmp_path: Path) -> None:
    """Without the seated-program exclusion, the wheelchair invariant fails."""
    pack = _copy_pack(tmp_path)
    _edit(pack, "populations.yaml", _drop_avoid("exclude.wheelchair.seated-program"))
    report = audit(backrx.load_rules(pack, engine="reference"), fields=False, max_examples=EXAMPLES,
                   invariants=_only("population.wheelchair-seated"))
    assert [r.id for r in report.violations] == ["population.wheelchair-seated"]
    found = report.violations[0].counterexample
    assert found is not None and found.profile["mobility"] == "wheelchair"


def test_an_unsure_flag_left_silent_is_caught(tmp_path: Path) -> None:
    """An unsure-flag rule that can never fire: the loader accepts it, the audit catches the silence."""
    pack = _copy_pack(tmp_path)
    _edit(pack, "triage.yaml", lambda doc: _rule(doc, "triage.unsure.iv-drug-use").update(
        when={"all": [{"red_flags_unsure": {"contains": "iv_drug_use"}}, {"age": {"gt": 200}}]}))
    report = audit(backrx.load_rules(pack, engine="reference"), fields=False, max_examples=EXAMPLES,
                   invariants=_only("safety.unsure-red-flag-reviewed"))
    assert [r.id for r in report.violations] == ["safety.unsure-red-flag-reviewed"]
    found = report.violations[0].counterexample
    assert found is not None and found.profile["red_flags_unsure"] == ["iv_drug_use"]
