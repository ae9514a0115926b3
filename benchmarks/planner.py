"""The planner's cost per profile, before and after the time-budget planner, in one run.

Usage: python benchmarks/planner.py [--before COMMIT] [--n 300] [--repeat 5] [--rounds 3]

"Before" is the planner of an earlier commit (default fae0683, the last one without the time
budget), unpacked from git into a temporary folder with its own rule pack; "after" is this
checkout. Each runs in its own process on the same profiles. The rule engine's cost (all layers,
unchanged by the planner work) is measured in the same process as the baseline, so the ratio
planner / engine can be compared between the two trees and between machines.
Not part of the test suite: nothing here passes or fails.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.memory import _profiles  # noqa: E402

_CHILD = r"""
import gc, json, sys, time
sys.path.insert(0, sys.argv[1])
import backrx
from backrx.run.decision import decide
from backrx.run.facts import profile_values
import backrx.run.planner as planner

profiles = json.load(open(sys.argv[2]))
repeat = int(sys.argv[3])
rules = backrx.load_rules(engine="reference")
plan = getattr(planner, "plan_with_warnings", None) or planner.plan_data
valid = [backrx.Profile.model_validate(p) for p in profiles]
pairs = [(v, decide(rules.pack, rules._engine, profile_values(v))) for v in valid]
pairs = [(v, d) for v, d in pairs if not d.refers]

def per_item(fn, items):
    gc.collect(); gc.disable()
    best = []
    for _ in range(repeat):
        start = time.perf_counter()
        for item in items:
            fn(item)
        best.append((time.perf_counter() - start) / len(items))
    gc.enable()
    return min(best) * 1e6  # the least disturbed round: the machine may be shared

engine_us = per_item(lambda v: decide(rules.pack, rules._engine, profile_values(v)), [v for v, _ in pairs])
planner_us = per_item(lambda pd: plan(rules.pack, pd[0], pd[1]), pairs)
print(json.dumps({"engine_us": engine_us, "planner_us": planner_us, "planned": len(pairs)}))
"""


def _run(src: Path, profiles: Path, repeat: int) -> dict[str, float]:
    out = subprocess.run([sys.executable, "-c", _CHILD, str(src), str(profiles), str(repeat)],
                         check=True, capture_output=True, text=True)
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--before", default="fae0683", help="the commit to measure as 'before'")
    parser.add_argument("--n", type=int, default=300, help="profiles")
    parser.add_argument("--repeat", type=int, default=5, help="timed passes per process (the fastest counts)")
    parser.add_argument("--rounds", type=int, default=3, help="processes per tree, alternating")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        before = Path(tmp) / "before"
        before.mkdir()
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", args.before], check=True,
                                 capture_output=True)
        subprocess.run(["tar", "-x", "-C", str(before)], input=archive.stdout, check=True)
        profiles = Path(tmp) / "profiles.json"
        profiles.write_text(json.dumps(_profiles(args.n)))
        olds, news = [], []
        for _ in range(args.rounds):  # alternate, so that a busy spell hits both trees alike
            olds.append(_run(before / "src", profiles, args.repeat))
            news.append(_run(ROOT / "src", profiles, args.repeat))
        old = {k: min(r[k] for r in olds) for k in olds[0]}
        new = {k: min(r[k] for r in news) for k in news[0]}
    print(f"planner cost per profile, {int(new['planned'])} programs, reference engine as baseline")
    for name, r in (("before (" + args.before + ")", old), ("after (this checkout)", new)):
        print(f"  {name:28s} planner {r['planner_us']:8.0f} us   engine {r['engine_us']:8.0f} us   "
              f"planner / engine {r['planner_us'] / r['engine_us']:.2f}")
    relative = (new["planner_us"] / new["engine_us"]) / (old["planner_us"] / old["engine_us"])
    print(f"  after / before: planner {new['planner_us'] / old['planner_us']:.2f}x; "
          f"planner/engine ratio {relative:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
