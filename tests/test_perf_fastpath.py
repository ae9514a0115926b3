"""Recommendations built from cached parts equal the ones validated from plain data, field for field."""

from __future__ import annotations

import gc
from typing import Any

import pytest
from hypothesis import HealthCheck, given, reject, settings
from pydantic import ValidationError

import backrx
from backrx.model.recommendation import DISCLAIMER, FORMAT_VERSION, Program, Recommendation
from backrx.model.vocabulary import URGENCIES
from backrx.run.decision import notices, referral_data, tiers_of_reasons
from backrx.run.education import education_parts, education_sources
from backrx.run.evidence import evidence_data
from backrx.run.facts import profile_values
from backrx.run.planner import plan_with_warnings
from backrx.testing import profiles
from conftest import base_profile


def _plain(value: Any) -> Any:
    return sorted(value) if isinstance(value, frozenset) else value


def validated(rules: backrx.RuleSet, data: dict[str, Any]) -> Recommendation:
    """The slow path, written out: every part as plain data, validated once, nothing cached."""
    pack = rules.pack
    profile = backrx.Profile.model_validate(data)
    decision = rules.decide_facts(profile_values(profile))
    referral, deferred = None, []
    if decision.urgency is not None:
        tier_of = tiers_of_reasons(f.rule for f in decision.fired)
        reasons, rule_ids = list(decision.referral_reasons), list(decision.referral_rules)
        if decision.refers:
            open_tiers = {u for u in URGENCIES if u not in pack.blocking_urgencies}
            reasons = [r for r in reasons if tier_of.get(r) not in open_tiers]
            routine = {f.rule.id for f in decision.fired
                       if f.rule.then.refer is not None and f.rule.then.refer.urgency in open_tiers}
            rule_ids = [r for r in rule_ids if r not in routine]
            deferred = [("routine-referral-deferred", f.rule.then.refer.reason, f.rule.id)
                        for f in decision.fired if f.rule.id in routine and f.rule.then.refer]
        referral = referral_data(pack, decision.urgency, reasons, rule_ids, tier_of)
    program, planned = (None, []) if decision.refers else plan_with_warnings(pack, profile, decision)
    cited = {s for f in decision.fired for s in f.rule.sources}
    if program is not None:
        cited |= {s for phase in program["phases"] for p in phase["prescriptions"] for s in p["sources"]}
        # The education parts (issue 28) read the planned program: added to the plain data.
        parts = education_parts(pack, profile, decision, Program.model_validate(program), "en",
                                list(decision.safety_net))
        program = {**program, **parts}
        cited |= set(education_sources(Program.model_validate(program)))
    return Recommendation.model_validate({
        "format_version": FORMAT_VERSION, "backrx_version": backrx.__version__,
        "outcome": "refer" if decision.refers else "program", "referral": referral, "program": program,
        "classification": {"stage": profile.stage, "pathways": list(decision.pathways),
                           "startback_risk": decision.risk},
        "rationale": [f.rationale for f in decision.fired if f.rule.layer in ("triage", "classification")],
        "safety_net": list(decision.safety_net),
        "warnings": notices([*decision.warnings, *deferred, *planned]),
        "trace": [{"rule_id": f.rule.id, "layer": f.rule.layer, "title": f.rule.title,
                   "rationale": f.rationale, "sources": list(f.rule.sources), "patient": f.patient,
                   "matched": {k: _plain(v) for k, v in f.matched.items()},
                   "evidence": evidence_data(f.rule)} for f in decision.fired],
        "references": [{"id": s, "citation": pack.sources[s].citation, "url": pack.sources[s].url,
                        "year": pack.sources[s].year} for s in sorted(cited)],
        "ruleset": {"name": pack.name, "version": pack.version, "digest": pack.digest},
        "profile": profile, "locale": "en", "disclaimer": pack.texts.get("disclaimer", DISCLAIMER),
    })


@settings(max_examples=120)
@given(profile=profiles())
def test_the_fast_path_equals_the_validated_one(profile: dict[str, Any], rules: backrx.RuleSet) -> None:
    """On generated profiles, recommend (cached programs and firings, models taken as built)
    gives a result equal to, and serialised byte for byte as, the one validated from plain data;
    asked twice (the second time from the caches), still the same."""
    try:
        slow = validated(rules, profile)
    except ValidationError:
        reject()
    for _ in range(2):
        fast = rules.recommend(profile)
        assert fast == slow
        assert fast.model_dump_json() == slow.model_dump_json()


def test_equal_inputs_share_one_program_and_differ_where_the_person_does(rules: backrx.RuleSet) -> None:
    """Two profiles the planner cannot tell apart get the very same program object; a profile
    with other equipment or time gets its own (the key holds what the planner reads)."""
    a = rules.recommend(base_profile(age=40))
    b = rules.recommend(base_profile(age=41))
    assert a.program is not None and b.program is not None
    assert a.program is b.program
    gym = rules.recommend(base_profile(age=40, preferences={"settings": ["gym"]}))
    short = rules.recommend(base_profile(age=40, preferences={"minutes_per_session": 10}))
    assert gym.program is not a.program and short.program is not a.program
    assert gym.program == validated(rules, base_profile(age=40, preferences={"settings": ["gym"]})).program
    assert short.program == validated(rules, base_profile(age=40,
                                                          preferences={"minutes_per_session": 10})).program


def test_adjust_and_override_leave_the_cached_program_as_it_was(rules: backrx.RuleSet) -> None:
    """Adjusting or overriding a recommendation never changes the shared program other results hold."""
    first = rules.recommend(base_profile())
    before = first.model_dump_json()
    assert first.program is not None
    phase = first.program.phase_now
    eid = phase.prescriptions[-1].exercise.id
    feedback = {"date": "2026-01-10", "responses": [{"exercise_id": eid, "pain_during": 6,
                                                      "next_day": "worse", "peripheralized": False}]}
    backrx.adjust(first, feedback, rules=rules)
    backrx.override(first, {"remove": [{"phase": phase.id, "exercise_id": eid}]},
                    reason="a test", by="a clinician", rules=rules)
    again = rules.recommend(base_profile())
    assert first.model_dump_json() == before == again.model_dump_json()


def test_the_plan_cache_is_bounded_and_goes_with_its_ruleset() -> None:
    """The RuleSet's plan cache keeps at most its bound of programs, and the pack goes away with
    the RuleSet (no module table holds it)."""
    import weakref

    from backrx.run import plancache

    rules = backrx.load_rules(engine="reference")
    for i in range(plancache.PLANS_KEPT + 40):
        rules.recommend(base_profile(preferences={"minutes_per_session": 10 + i % 170,
                                                  "sessions_per_week": 1 + i // 170}))
    cache = rules.caches.plans
    assert len(cache) == plancache.PLANS_KEPT
    gone = weakref.ref(rules.pack)
    del rules, cache
    gc.collect()
    assert gone() is None


def test_recommending_writes_nothing_onto_the_pack() -> None:
    """The frozen pack gains no attribute from recommend: every cache lives in the RuleSet's seam,
    and a planner run outside a RuleSet gets a cache of its own."""
    from backrx.run.plancache import pack_cache

    rules = backrx.load_rules(engine="reference")
    rules.pack.blocking_urgencies  # noqa: B018 - the pack's own cached property, filled first
    before = set(vars(rules.pack))
    rules.recommend(base_profile())
    rules.recommend(base_profile(red_flags=["saddle_anaesthesia"]))
    assert set(vars(rules.pack)) == before
    assert pack_cache(rules.pack) is not rules.caches.plans


def test_writing_json_parses_no_python_source(rules: backrx.RuleSet, monkeypatch: Any) -> None:
    """Dumping a recommendation (with adjustment history) never parses Python text: on Python
    3.11 the ast parser's recursion counter is shared by all threads, so threads that write JSON
    at the same time would fail now and then (CPython gh-106905)."""
    import ast

    rec = rules.recommend(base_profile(directional_preference="extension"))
    assert rec.program is not None
    first = rec.program.phase_now.prescriptions[0].exercise.id
    adjusted = backrx.adjust(rec, {"date": "2026-03-02", "responses": [
        {"exercise_id": first, "pain_during": 2, "next_day": "same", "peripheralized": False}]}, rules=rules)
    expected = [rec.model_dump_json(), adjusted.model_dump_json()]

    calls: list[Any] = []
    parse = ast.parse

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(args[:1])
        return parse(*args, **kwargs)

    monkeypatch.setattr(ast, "parse", counted)
    again = [rec.model_dump_json(), adjusted.model_dump_json()]
    monkeypatch.undo()
    assert calls == []
    assert again == expected
    assert Recommendation.model_validate_json(expected[1]) == adjusted


def test_a_result_from_the_result_cache_carries_its_own_profile() -> None:
    """Two people whose rules fire alike get results assembled once, each with the person's own
    profile; a third with other time gets its own program; each equals the slow path."""
    rules = backrx.load_rules(engine="reference")
    people = [base_profile(outcomes={"odi": 30}), base_profile(outcomes={"odi": 50}),
              base_profile(outcomes={"odi": 30}, preferences={"minutes_per_session": 12})]
    recs = [rules.recommend(p) for p in people]
    assert recs[0].trace == recs[1].trace and recs[0].program is recs[1].program
    assert recs[0].profile is not None and recs[1].profile is not None
    assert (recs[0].profile.outcomes.odi, recs[1].profile.outcomes.odi) == (30, 50)  # type: ignore[union-attr]
    assert recs[2].program != recs[0].program
    for person, rec in zip(people, recs, strict=True):
        assert rec.model_dump_json() == validated(rules, person).model_dump_json()


def test_the_result_cache_is_bounded() -> None:
    """The table of assembled results never holds more than its bound."""
    from backrx.run.caches import RESULTS_KEPT

    rules = backrx.load_rules(engine="reference")
    for i in range(RESULTS_KEPT + 30):
        rules.recommend(base_profile(preferences={"minutes_per_session": 10 + i % 170,
                                                  "sessions_per_week": 1 + i // 170}))
    assert 0 < len(rules.caches.results) <= RESULTS_KEPT


@pytest.fixture(scope="module")
def every_engine() -> dict[str, backrx.RuleSet]:
    """The bundled pack on the interpreter (the oracle), the compiled engine and durable_rules."""
    from conftest import ENGINES

    return {name: backrx.load_rules(engine=name) for name in {*ENGINES, "reference", "compiled"}}  # type: ignore[arg-type]


@pytest.mark.slow
@settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(profile=profiles())
def test_the_fast_paths_equal_the_validated_slow_path_on_3000_profiles(
        profile: dict[str, Any], every_engine: dict[str, backrx.RuleSet]) -> None:
    """On 3,000 generated profiles, every engine's recommend (cached parts, compiled matcher and
    fact writer) writes byte for byte the JSON of the result validated from plain data by the
    interpreter, with nothing cached."""
    try:
        slow = validated(every_engine["reference"], profile).model_dump_json()
    except ValidationError:
        reject()
    for rules in every_engine.values():
        assert rules.recommend(profile).model_dump_json() == slow, rules.engine
