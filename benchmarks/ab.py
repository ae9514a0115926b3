"""A/B: benchmarks/unseen.py on two source trees, interleaved, as ratios (B over A).

Usage: python benchmarks/ab.py A_SRC B_SRC [--rounds 3] [--count 2000] [--engine durable]

Each round runs A then B (then B then A in the next round, so that neither always goes first),
each in a fresh process with ``PYTHONPATH`` set to its ``src`` folder; the median of the rounds
is compared. On a busy machine the absolute figures move with the neighbours; the ratios of
runs interleaved this way are what to read.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def run(src: str, count: int, engine: str) -> dict[str, float]:
    done = subprocess.run([sys.executable, str(HERE / "unseen.py"), "--json", "--count", str(count),
                           "--engine", engine], check=True, capture_output=True, text=True,
                          env={"PYTHONPATH": src, "PATH": "/usr/bin:/bin"}, cwd=str(Path(src).parent))
    figures: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("a")
    parser.add_argument("b")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--engine", default="durable")
    args = parser.parse_args()
    runs: dict[str, list[dict[str, float]]] = {"a": [], "b": []}
    for i in range(args.rounds):
        order = ("a", "b") if i % 2 == 0 else ("b", "a")
        for side in order:
            runs[side].append(run(getattr(args, side), args.count, args.engine))
    print(f"A = {args.a}\nB = {args.b}\n{args.rounds} rounds, {args.count} unseen profiles, {args.engine}")
    print(f"  {'figure':32s} {'A (median)':>14s} {'B (median)':>14s} {'B / A':>8s}")
    for key in runs["a"][0]:
        a = statistics.median(r[key] for r in runs["a"])
        b = statistics.median(r[key] for r in runs["b"])
        print(f"  {key:32s} {a:14,.3f} {b:14,.3f} {b / a:8.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
