"""Shared fixtures: the bundled pack on each engine, and a profile builder."""

from __future__ import annotations

import functools
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

import backrx
from backrx.engine import durable_available
from backrx.pack.load import read_pack
from backrx.pack.model import Pack
from backrx.pack.read import bundled_path

# filter_too_much: many property tests assume() a program, and the generated profiles refer often
# (the states layer); a test whose every example is filtered out still fails (Unsatisfiable).
settings.register_profile(
    "backrx", deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    print_blob=True
)
settings.load_profile("backrx")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Modules that hold a test marked ``slow`` run first, each module's tests kept together and in
    order (module fixtures are built once). Under xdist the long tests then start early, and the
    last minutes hold short tests that spread evenly over the cores."""
    heavy = {item.module.__name__ for item in items
             if item.get_closest_marker("slow") is not None and getattr(item, "module", None) is not None}
    items.sort(key=lambda item: getattr(getattr(item, "module", None), "__name__", "") not in heavy)


def pytest_configure(config: pytest.Config) -> None:
    """Under pytest-xdist (``-n auto``), idle workers take queued tests from busy ones
    (``--dist worksteal``), so a long test drawn late does not leave one core waiting."""
    if getattr(config.option, "dist", "no") == "load":
        config.option.dist = "worksteal"


ENGINES = ["reference", "durable"] if durable_available() else ["reference"]
needs_durable = pytest.mark.skipif(not durable_available(), reason="durable_rules does not import here")


@functools.lru_cache(maxsize=8)
def _any_of(fragments: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile(r"(?<!\w)(?:" + "|".join(map(re.escape, fragments)) + r")(?!\w)")


def whole_word_hits(fragments: list[str], text: str) -> list[str]:
    """The fragments that occur in ``text`` as whole words. One combined search says whether any
    does (at each position it tries every fragment), so a clean text costs one pass."""
    if not fragments or _any_of(tuple(fragments)).search(text) is None:
        return []
    return [f for f in fragments if re.search(rf"(?<!\w){re.escape(f)}(?!\w)", text)]


def base_profile(**overrides: Any) -> dict[str, Any]:
    """A plain, valid profile: chronic low back pain, no flags, nothing special."""
    data: dict[str, Any] = {
        "age": 45,
        "duration_weeks": 20,
        "pain_site": "lower",
        "leg_pain": "none",
        "pain_intensity": 4,
        "tolerance": "moderate",
        "red_flags": [],
    }
    data.update(overrides)
    return data


@pytest.fixture(scope="session")
def bundled_pack() -> Pack:
    """The bundled pack, read once per test session (read it again only where a read is tested)."""
    return read_pack()


@pytest.fixture(scope="session")
def rules() -> backrx.RuleSet:
    """The bundled pack on the default engine."""
    return backrx.load_rules()


@pytest.fixture(scope="session")
def reference_rules() -> backrx.RuleSet:
    """The bundled pack on the pure-Python reference engine."""
    return backrx.load_rules(engine="reference")


@pytest.fixture(scope="session", params=ENGINES)
def each_engine(request: pytest.FixtureRequest) -> backrx.RuleSet:
    """The bundled pack on every engine available here."""
    return backrx.load_rules(engine=request.param)


@pytest.fixture
def pack_copy(tmp_path: Path) -> Path:
    """A writable copy of the bundled pack."""
    target = tmp_path / "pack"
    shutil.copytree(bundled_path(), target, ignore=shutil.ignore_patterns("cases"))
    return target


def dated(feedback: dict[str, Any], rec: backrx.Recommendation) -> dict[str, Any]:
    """The feedback with a date: the day after the recommendation's last round (from 2026-01-05)."""
    if "date" in feedback:
        return feedback
    import datetime

    day = datetime.date(2026, 1, 5) + datetime.timedelta(days=len(rec.adjustments))
    return {**feedback, "date": day.isoformat()}
