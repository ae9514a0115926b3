"""A RuleSet travels between processes by content, checked by digest; batches run on workers."""

from __future__ import annotations

import multiprocessing
import pickle
import shutil
import signal
import threading
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

import backrx
from backrx.workers import pool as worker_pool
from backrx.workers import transport
from conftest import base_profile

PROFILES: list[dict[str, Any]] = [
    base_profile(),
    base_profile(red_flags=["saddle_anaesthesia"]),
    base_profile(red_flags=["cancer_history"], age=70),
    base_profile(age=62, leg_pain="below_knee", bilateral_leg_symptoms=True,
                 findings={"worse_with": ["walking", "standing"], "eases_with": ["sitting"]}),
    base_profile(directional_preference="extension", centralizes=True, duration_weeks=2),
    base_profile(age=30, findings={"aberrant_movement": True, "prone_instability_test": True,
                                   "straight_leg_raise_deg": 95.0}),
    base_profile(tolerance="low", pain_intensity=8,
                 preferences={"settings": ["gym", "pool"], "equipment": ["dumbbells"]}),
]


def _json_in_child(payload: bytes) -> list[str]:
    rules = pickle.loads(payload)
    return [rules.recommend(p).model_dump_json() for p in PROFILES] + [rules.engine, rules.digest]


def _spawn(fn: Any, *args: Any) -> Any:
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return pool.apply(fn, args)


def test_pickle_dumps_load_rules() -> None:
    """pickle.dumps(load_rules()) works (issue 9, item 11) and loads back as the same pack."""
    rules = backrx.load_rules()
    back = pickle.loads(pickle.dumps(rules))
    assert (back.digest, back.name, back.version, back.engine, back.rule_ids) == (
        rules.digest, rules.name, rules.version, rules.engine, rules.rule_ids)


@pytest.mark.slow
def test_pickled_ruleset_recommends_identically_in_a_spawned_process(pack_copy: Path) -> None:
    """A pickled RuleSet gives byte-identical recommendations in a fresh (spawned) process,
    even when its folder is gone: the pack travels as content."""
    rules = backrx.load_rules(pack_copy)
    payload = pickle.dumps(rules)
    shutil.rmtree(pack_copy)
    child = _spawn(_json_in_child, payload)
    here = [rules.recommend(p).model_dump_json() for p in PROFILES] + [rules.engine, rules.digest]
    assert child == here


def test_a_localised_ruleset_travels_with_its_locale() -> None:
    """A RuleSet for another locale comes back in that locale, with its translated texts."""
    rules = backrx.load_rules()
    other = [lang for lang in rules.locales if lang != "en"]
    if not other:
        pytest.skip("the bundled pack has no translation")
    view = rules.for_locale(other[0])
    transport.clear_cache()
    back = pickle.loads(pickle.dumps(view))
    assert back.locales == rules.locales
    assert back.recommend(PROFILES[0]).model_dump_json() == view.recommend(PROFILES[0]).model_dump_json()


def test_copy_is_a_shallow_copy_not_a_reload() -> None:
    """copy.copy of a RuleSet shares the pack and engine (the localised views rely on it)."""
    import copy

    rules = backrx.load_rules()
    clone = copy.copy(rules)
    assert clone is not rules and clone.pack is rules.pack and clone._engine is rules._engine


def test_engine_choice_travels() -> None:
    """A RuleSet loaded on the reference engine is rebuilt on the reference engine."""
    rules = backrx.load_rules(engine="reference")
    assert pickle.loads(pickle.dumps(rules)).engine == "reference"


def test_tampered_pack_with_the_same_path_is_refused_by_digest(pack_copy: Path) -> None:
    """A pack edited on disk after loading cannot be pickled: its content no longer has the digest."""
    rules = backrx.load_rules(pack_copy)
    target = pack_copy / "classification.yaml"
    text = target.read_text(encoding="utf-8")
    assert text.count("sitting_hours_per_day: {gte: 6}") == 1
    target.write_text(text.replace("sitting_hours_per_day: {gte: 6}", "sitting_hours_per_day: {gte: 8}"),
                      encoding="utf-8")  # a value: comments and layout do not change the digest
    with pytest.raises(backrx.RuleError) as err:
        pickle.dumps(backrx.RuleSet(rules.pack))
    assert [p.code for p in err.value.problems] == ["pack-changed"]


def test_content_captured_at_load_survives_later_edits(pack_copy: Path) -> None:
    """What travels is the content that was loaded, not whatever is on disk at pickling time."""
    rules = backrx.load_rules(pack_copy)
    (pack_copy / "triage.yaml").write_text("layer: triage\nrules: []\n", encoding="utf-8")
    transport.clear_cache()
    back = pickle.loads(pickle.dumps(rules))
    assert back.digest == rules.digest
    assert back.recommend(base_profile(red_flags=["saddle_anaesthesia"])).outcome == "refer"


def test_tampered_pickle_content_is_refused_by_digest() -> None:
    """Changing a threshold inside the pickled bytes (digest kept) is refused with digest-mismatch."""
    payload = pickle.dumps(backrx.load_rules())
    needle = b"gte: 4"
    assert needle in payload
    tampered = payload.replace(needle, b"gte: 9", 1)
    with pytest.raises(backrx.RuleError) as err:
        pickle.loads(tampered)
    assert [p.code for p in err.value.problems] == ["digest-mismatch"]


def test_pickle_refuses_file_names_outside_a_pack() -> None:
    """A pickled RuleSet naming a file with a path in it is refused before anything is written."""
    content = backrx.load_rules()._content
    assert content is not None
    bad = transport.PackContent((("../x.yaml", b"a: 1"),), content.digest, content.path, "auto")
    rebuild, _ = backrx.load_rules().__reduce__()

    class Forged:  # a pickle made elsewhere, carrying that content
        def __reduce__(self) -> tuple[Any, tuple[Any, str]]:
            return (rebuild, (bad, "en"))

    with pytest.raises(backrx.RuleError) as err:
        pickle.loads(pickle.dumps(Forged()))
    assert err.value.problems[0].code == "bad-pickle"


def test_rule_error_survives_pickling() -> None:
    """A RuleError keeps its problems through pickle (it crosses process boundaries)."""
    err = backrx.RuleError([backrx.Problem("x.yaml", 3, "triage.a", "bad-thing", "message")])
    back = pickle.loads(pickle.dumps(err))
    assert back.problems == err.problems and str(back) == str(err)


@pytest.mark.slow
def test_recommend_many_with_workers_equals_serial_in_order(rules: backrx.RuleSet) -> None:
    """workers=2 gives the same recommendations, byte for byte, in input order, over many chunks."""
    profiles = [dict(p, age=20 + (i * 7) % 70) for i, p in enumerate(PROFILES * 20)]
    serial = [r.model_dump_json() for r in rules.recommend_many(profiles)]
    parallel = [r.model_dump_json() for r in rules.recommend_many(iter(profiles), workers=2, chunk_size=9)]
    assert parallel == serial


@pytest.mark.slow
def test_recommend_many_with_workers_raises_the_first_invalid_profile(rules: backrx.RuleSet) -> None:
    """With workers, the first invalid profile raises the same ValidationError as serially."""
    profiles = [*PROFILES * 3, base_profile(age=5), base_profile(pain_site="knee")]
    with pytest.raises(ValidationError) as serial:
        rules.recommend_many(profiles)
    with pytest.raises(ValidationError) as parallel:
        rules.recommend_many(profiles, workers=2, chunk_size=4)
    assert parallel.value.errors() == serial.value.errors()


@pytest.mark.slow
def test_an_interrupt_stops_the_worker_processes(rules: backrx.RuleSet) -> None:
    """Ctrl-C during a batch on workers raises KeyboardInterrupt promptly and leaves no worker
    process behind (the workers ignore SIGINT; the parent cancels the rest and waits)."""
    from backrx import batch

    profiles = batch.generate(20_000, seed=2)
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)  # as in a terminal
    timer = threading.Timer(3.0, signal.raise_signal, (signal.SIGINT,))
    try:
        timer.start()
        with pytest.raises(KeyboardInterrupt):
            rules.recommend_many(profiles, workers=2)
    finally:
        timer.cancel()
        signal.signal(signal.SIGINT, previous)
    assert multiprocessing.active_children() == []


def test_one_worker_stays_in_process(rules: backrx.RuleSet, monkeypatch: pytest.MonkeyPatch) -> None:
    """workers=1 and workers=None never start a process."""
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a worker process was started")

    monkeypatch.setattr(worker_pool, "recommend_parallel", refuse)
    expected = [rules.recommend(p) for p in PROFILES]
    assert rules.recommend_many(PROFILES, workers=1) == expected
    assert rules.recommend_many(PROFILES, workers=None) == expected


def test_workers_below_one_is_an_error(rules: backrx.RuleSet) -> None:
    """workers=0 is refused with a ValueError that names the argument."""
    with pytest.raises(ValueError, match="workers"):
        rules.recommend_many(PROFILES, workers=0)


def test_results_built_for_a_worker_equal_serial_and_share_parts(rules: backrx.RuleSet) -> None:
    """A worker's chunk (equal parts built once, the profile left for the parent to put back)
    gives the same JSON as serial calls once the profile is back, and equal parts really are one
    object, so pickle sends them once."""
    from backrx.model.profile import validated_profile

    profiles = PROFILES * 3
    serial = [rules.recommend(p).model_dump_json() for p in profiles]
    results = worker_pool.recommend_task(rules, profiles)
    assert all(r.profile is None for r in results)  # not sent: the parent has the input
    assert len({id(r.trace[0]) for r in results}) < len(results)
    assert rules._share is None  # only while a chunk runs
    back = pickle.loads(pickle.dumps(results))
    restored = [r.model_copy(update={"profile": validated_profile(p)})
                for r, p in zip(back, profiles, strict=True)]
    assert [r.model_dump_json() for r in restored] == serial
