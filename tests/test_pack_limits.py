"""The loader's size limits: safe defaults for any pack, raised explicitly for a trusted one."""

from __future__ import annotations

import pickle
import threading
from pathlib import Path

import pytest

import backrx
from backrx.pack.limits import DEFAULT_LIMITS, MAX_FILE_BYTES, MAX_PATTERNS, PackLimits, active, limits_for
from conftest import base_profile


def _codes(exc: pytest.ExceptionInfo[backrx.RuleError]) -> set[str]:
    return {p.code for p in exc.value.problems}


def _padded(pack: Path) -> Path:
    """The pack with a comment that makes text.yaml longer than the default per-file limit
    (a comment changes no rule and not the digest)."""
    text = pack / "text.yaml"
    text.write_text(text.read_text(encoding="utf-8") + "\n# " + "x" * MAX_FILE_BYTES + "\n",
                    encoding="utf-8")
    return pack


def test_defaults_are_the_documented_constants() -> None:
    """Without a limits argument the loader holds every pack to the module's constants."""
    assert active() == DEFAULT_LIMITS == PackLimits()
    assert (DEFAULT_LIMITS.file_bytes, DEFAULT_LIMITS.patterns) == (MAX_FILE_BYTES, MAX_PATTERNS)


def test_a_file_over_the_default_limit_is_refused_unless_raised(pack_copy: Path) -> None:
    """A pack file past the per-file limit is refused by default and loads, with the same digest
    as the unpadded pack, once its caller raises the limits for it."""
    plain = backrx.load_rules(pack_copy, engine="reference").digest
    _padded(pack_copy)
    with pytest.raises(backrx.RuleError) as caught:
        backrx.load_rules(pack_copy, engine="reference")
    assert "file-too-large" in _codes(caught) or "pack-too-large" in _codes(caught)
    raised = PackLimits(file_bytes=3 * MAX_FILE_BYTES, pack_bytes=4 * MAX_FILE_BYTES)
    rules = backrx.load_rules(pack_copy, engine="reference", limits=raised)
    assert rules.digest == plain


def test_raised_limits_do_not_outlive_the_load(pack_copy: Path) -> None:
    """After a load with raised limits, the next load without them refuses the same big pack:
    the raise belongs to one call, never to the process or to a kept copy of the pack."""
    _padded(pack_copy)
    raised = PackLimits(file_bytes=3 * MAX_FILE_BYTES, pack_bytes=4 * MAX_FILE_BYTES)
    backrx.load_rules(pack_copy, engine="reference", limits=raised)
    assert active() == DEFAULT_LIMITS
    with pytest.raises(backrx.RuleError) as caught:
        backrx.load_rules(pack_copy, engine="reference")
    assert _codes(caught) & {"file-too-large", "pack-too-large"}


def test_lowered_limits_refuse_the_bundled_pack_by_code() -> None:
    """Limits below the bundled pack's size refuse it with the documented codes, naming the limit."""
    with pytest.raises(backrx.RuleError) as caught:
        backrx.load_rules(engine="reference", limits=PackLimits(patterns=20))
    assert "pack-too-complex" in _codes(caught)
    assert any("20 alternatives" in p.message for p in caught.value.problems)
    with pytest.raises(backrx.RuleError) as caught:
        backrx.load_rules(engine="reference", limits=PackLimits(rules=10))
    assert "too-many-rules" in _codes(caught)


def test_a_raised_pack_travels_to_another_process_with_its_limits(pack_copy: Path) -> None:
    """A RuleSet loaded with raised limits pickles, and the receiving side reloads it under the
    same limits: the same digest and the same recommendation."""
    from backrx.workers.transport import clear_cache

    _padded(pack_copy)
    raised = PackLimits(file_bytes=3 * MAX_FILE_BYTES, pack_bytes=4 * MAX_FILE_BYTES)
    rules = backrx.load_rules(pack_copy, engine="reference", limits=raised)
    clear_cache()  # reload from the bytes, as a fresh worker would
    again = pickle.loads(pickle.dumps(rules))
    assert again.digest == rules.digest and again is not rules
    assert again.recommend(base_profile()) == rules.recommend(base_profile())


def test_limits_are_checked_and_stay_in_their_thread() -> None:
    """A limit must be a positive whole number; limits raised in one thread leave another's
    loads on the defaults."""
    for bad in (0, -1, 1.5, True, "10"):
        with pytest.raises(ValueError, match="rules"):
            PackLimits(rules=bad)  # type: ignore[arg-type]
    with pytest.raises(TypeError), limits_for({"rules": 10}):  # type: ignore[arg-type]
        pass
    seen: list[PackLimits] = []
    with limits_for(PackLimits(rules=10_000)):
        worker = threading.Thread(target=lambda: seen.append(active()))
        worker.start()
        worker.join()
        assert active().rules == 10_000
    assert seen == [DEFAULT_LIMITS] and active() == DEFAULT_LIMITS
