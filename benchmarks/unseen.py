"""Figures on people the RuleSet has never seen: each profile timed once, never repeated.

A registry, a screening log or a clinic's day brings people one at a time; the result cache
only answers for someone whose rules fire exactly as an earlier person's did. So every target
is measured here first on a synthetic cohort (``backrx.batch.generate``, a seed no warm-up
used), each profile timed once; the last 500 of them asked again (within the caches' bounds)
are reported beside it as "cached".

Usage: python benchmarks/unseen.py [--count 3000] [--engine durable] [--json]
(``--json`` prints the figures as one JSON object, for the A/B driver benchmarks/ab.py.)

Uses the public API only, so that the same file measures an older checkout (A/B).
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import time
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel

import backrx
from backrx import batch


def _median_p99(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def _each_once(fn: Callable[[Any], Any], items: list[Any]) -> tuple[list[Any], list[float]]:
    out, times = [], []
    clock = time.perf_counter
    for item in items:
        start = clock()
        out.append(fn(item))
        times.append(clock() - start)
    return out, times


def measure(count: int, engine: str) -> dict[str, float]:
    """Every figure, in ms (latency), per second (throughput) or bytes."""
    rules = backrx.load_rules(engine=engine)  # type: ignore[arg-type]
    rules.recommend_many(batch.generate(300, seed=901))  # warm: tables and engine, other people
    cohort = batch.generate(count, seed=902)
    out: dict[str, float] = {}
    gc.collect()
    gc.disable()
    try:
        recs, first = _each_once(rules.recommend, cohort)
        # Cached: the last 500 asked again (within the caches' bounds: RESULTS_KEPT = 1024).
        _, again = _each_once(rules.recommend, cohort[-500:])
        out["recommend_median_ms"], out["recommend_p99_ms"] = (x * 1e3 for x in _median_p99(first))
        out["cached_median_ms"], out["cached_p99_ms"] = (x * 1e3 for x in _median_p99(again))
        # JSON: each result written once by model_dump_json() and once by pydantic's own path,
        # interleaved, so that both see the same machine.
        fast, slow = [], []
        clock = time.perf_counter
        for rec in recs:
            start = clock()
            rec.model_dump_json()
            middle = clock()
            BaseModel.model_dump_json(rec)
            fast.append(middle - start)
            slow.append(clock() - middle)
        out["json_median_ms"] = statistics.median(fast) * 1e3
        out["json_pydantic_median_ms"] = statistics.median(slow) * 1e3
        out["json_bytes_median"] = statistics.median(len(r.model_dump_json().encode()) for r in recs[:500])
    finally:
        gc.enable()
    fresh = batch.generate(count, seed=903)
    gc.collect()
    start = time.perf_counter()
    rules.recommend_many(fresh)
    out["many_per_s"] = count / (time.perf_counter() - start)
    gc.collect()
    start = time.perf_counter()
    rules.recommend_many(fresh)
    out["many_cached_per_s"] = count / (time.perf_counter() - start)
    return out


#: (figure, target, higher is better, unit) for the verdicts.
TARGETS = (
    ("recommend_median_ms", 0.3, False, "ms"),
    ("recommend_p99_ms", 1.0, False, "ms"),
    ("json_median_ms", 0.15, False, "ms"),
    ("many_per_s", 5000.0, True, "/s"),
)
CACHED = {"recommend_median_ms": "cached_median_ms", "recommend_p99_ms": "cached_p99_ms",
          "many_per_s": "many_cached_per_s", "json_median_ms": "json_pydantic_median_ms"}


def verdicts(figures: dict[str, float], engine: str) -> list[tuple[str, str, str]]:
    """(target, measured on unseen profiles with the cached figure beside it, verdict)."""
    out = []
    for name, goal, higher, unit in TARGETS:
        value = figures[name]
        met = value >= goal if higher else value <= goal
        beside = figures[CACHED[name]]
        label = "pydantic's path" if name == "json_median_ms" else "cached"
        shown = f"{value:,.3f}{unit} ({label} {beside:,.3f}{unit})" if unit == "ms" else \
            f"{value:,.0f}{unit} ({label} {beside:,.0f}{unit})"
        miss = f"x{value / goal:.1f} the target" if not higher else f"{goal / value:.1f}x short"
        out.append((f"unseen: {name.replace('_', ' ')} {'>=' if higher else '<='} {goal:g}{unit} ({engine})",
                    shown, "met" if met else f"MISSED: {miss}"))
    return out


def report(count: int, engine: str) -> dict[str, float]:
    """Print the figures and return them."""
    print(f"\nunseen profiles: {count:,} synthetic people, each timed once ({engine}); cached = asked again")
    figures = measure(count, engine)
    for key, value in figures.items():
        print(f"  {key:52s} {value:>14,.3f}")
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=3000)
    parser.add_argument("--engine", default="durable")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.json:
        print(json.dumps(measure(args.count, args.engine)))
        return 0
    figures = report(args.count, args.engine)
    for name, measured, verdict in verdicts(figures, args.engine):
        print(f"  {name:60s} {measured:>40s}  {verdict}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
