"""RSS over many recommendations on one RuleSet: memory must stay flat.

Usage: python benchmarks/memory.py [--n 100000] [--engine durable|reference]

Prints RSS growth after warm-up at checkpoints, in MB; with --compare it also runs the reference
engine on the same profiles in the same process and prints the difference.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

import backrx


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * resource.getpagesize() / 1e6


def _profiles(count: int) -> list[dict[str, object]]:
    prefs = ({"settings": ["home"]}, {"settings": ["gym", "pool"], "enjoys": ["swimming"]},
             {"settings": ["home", "outdoors"], "equipment": ["resistance_band"], "goals": ["golf"]})
    flags = ([], [], [], ["cancer_history"], ["inflammatory_back_pain"], ["saddle_anaesthesia"])
    return [
        {
            "age": 18 + i % 80, "duration_weeks": float(i % 40), "pain_site": ("lower", "middle")[i % 2],
            "leg_pain": ("none", "buttock_thigh", "below_knee")[i % 3], "bilateral_leg_symptoms": i % 5 == 0,
            "pain_intensity": i % 11, "tolerance": ("low", "moderate", "high")[i % 3],
            "directional_preference": ("extension", "flexion", "none", "unknown")[i % 4],
            "red_flags": flags[i % len(flags)], "preferences": prefs[i % len(prefs)],
            "findings": {"aberrant_movement": i % 2 == 0, "prone_instability_test": i % 3 == 0,
                         "worse_with": ["walking"], "eases_with": ["sitting"]},
        }
        for i in range(count)
    ]


def run(engine: str, n: int) -> float:
    rules = backrx.load_rules(engine=engine)  # type: ignore[arg-type]
    pool = _profiles(500)
    for p in pool:
        rules.recommend(p)
    start = _rss_mb()
    t0 = time.perf_counter()
    checkpoints = {n // 10, n // 4, n // 2, n}
    for i in range(1, n + 1):
        rules.recommend(pool[i % len(pool)])
        if i in checkpoints:
            print(f"  {engine:9s} {i:>7d} recommendations: RSS +{_rss_mb() - start:.2f} MB "
                  f"({i / (time.perf_counter() - t0):.0f}/s)", flush=True)
    return _rss_mb() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--engine", default="durable", choices=("durable", "reference"))
    parser.add_argument("--compare", action="store_true", help="also run the reference engine")
    args = parser.parse_args()
    growth = run(args.engine, args.n)
    print(f"RSS growth over {args.n} recommendations ({args.engine}): {growth:.2f} MB "
          f"({'within' if growth < 5 else 'OVER'} the 5 MB budget)")
    if args.compare:
        base = run("reference", args.n)
        print(f"reference engine growth: {base:.2f} MB; difference durable - reference: "
              f"{growth - base:+.2f} MB")
    return 0 if growth < 5 else 1


if __name__ == "__main__":
    raise SystemExit(main())
