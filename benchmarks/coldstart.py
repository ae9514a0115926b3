"""Cold start: fresh processes, each timed whole, as medians, with baselines from the same run.

Usage: python benchmarks/coldstart.py [--runs 9]

A fresh process imports backrx, loads the bundled pack and makes its first recommendation. It is
timed with both engines (durable_rules where it imports, and the pure-Python ``compiled``), with
the pack snapshot and the parsed-file cache on (the usual case after the first run) and off
(``BACKRX_PACK_CACHE=0``: every YAML file parsed and checked). The baselines are ``python -c pass``
and ``python -c "import pydantic"`` in the same run, and the processes take turns, so a drift of
the machine's speed touches every figure alike. Reported: median wall time and median CPU time
(user + system, which other processes on a busy machine disturb less), and ``import backrx`` by
``python -X importtime``. The last lines give the verdict against the targets (cold start
<= 200 ms, ``import backrx`` <= 50 ms). Not part of the test suite.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROFILE = {"age": 40, "duration_weeks": 6.0, "pain_site": "lower", "leg_pain": "none",
           "bilateral_leg_symptoms": False, "pain_intensity": 4, "tolerance": "moderate",
           "directional_preference": "extension", "red_flags": [], "preferences": {"settings": ["home"]},
           "findings": {"aberrant_movement": False}}
FIRST = "import backrx; backrx.load_rules(engine={engine!r}).recommend({profile!r})"
TARGET_COLD_MS = 200
TARGET_IMPORT_MS = 50


def _env(cache: bool) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "BACKRX_PACK_CACHE"}
    env["PYTHONPATH"] = str(ROOT / "src")
    if not cache:
        env["BACKRX_PACK_CACHE"] = "0"
    return env


def _once(code: str, cache: bool = True) -> tuple[float, float]:
    """(wall, cpu) seconds of one fresh process running ``code``."""
    before = os.times()
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, env=_env(cache), capture_output=True)
    wall = time.perf_counter() - start
    after = os.times()
    cpu = (after.children_user - before.children_user) + (after.children_system - before.children_system)
    return wall, cpu


def _import_ms() -> float:
    done = subprocess.run([sys.executable, "-X", "importtime", "-c", "import backrx"], check=True,
                          env=_env(True), capture_output=True, text=True)
    last = [line for line in done.stderr.splitlines() if line.rstrip().endswith("| backrx")][-1]
    return float(last.split("|")[1]) / 1e3


def _engines() -> list[str]:
    code = "from backrx.engine import durable_available as d; print(d())"
    done = subprocess.run([sys.executable, "-c", code], env=_env(True), capture_output=True, text=True,
                          check=True)
    return ["durable", "compiled"] if done.stdout.strip() == "True" else ["compiled"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args()
    cases: dict[str, tuple[str, bool]] = {
        "python -c pass (baseline)": ("pass", True),
        "python -c 'import pydantic' (baseline)": ("import pydantic", True),
        "import backrx": ("import backrx", True),
    }
    engines = _engines()
    for engine in engines:
        code = FIRST.format(engine=engine, profile=PROFILE)
        cases[f"cold start, {engine}"] = (code, True)
        cases[f"cold start, {engine}, BACKRX_PACK_CACHE=0"] = (code, False)
    for code, cache in cases.values():  # warm-up: byte code compiled, the pack snapshot written
        _once(code, cache)
    walls: dict[str, list[float]] = {name: [] for name in cases}
    cpus: dict[str, list[float]] = {name: [] for name in cases}
    imports = []
    for _ in range(args.runs):
        for name, (code, cache) in cases.items():
            wall, cpu = _once(code, cache)
            walls[name].append(wall)
            cpus[name].append(cpu)
        imports.append(_import_ms())
    load = os.getloadavg()[0]
    print(f"cold start: {args.runs} fresh processes each, in turn; medians (load average {load:.1f})")
    bare = statistics.median(cpus["python -c pass (baseline)"])
    for name in cases:
        wall, cpu = statistics.median(walls[name]) * 1e3, statistics.median(cpus[name]) * 1e3
        print(f"  {name:<48} wall {wall:6.0f} ms   cpu {cpu:6.0f} ms   cpu x{cpu / (bare * 1e3):.1f} python")
    imp = statistics.median(imports)
    print(f"  {'import backrx (-X importtime, cumulative)':<48} {imp:6.1f} ms")
    print("targets:")
    print(f"  import backrx <= {TARGET_IMPORT_MS} ms: {imp:.1f} ms: "
          f"{'met' if imp <= TARGET_IMPORT_MS else f'MISSED by {imp - TARGET_IMPORT_MS:.0f} ms'}")
    for engine in engines:
        cpu = statistics.median(cpus[f"cold start, {engine}"]) * 1e3
        wall = statistics.median(walls[f"cold start, {engine}"]) * 1e3
        verdict = "met" if cpu <= TARGET_COLD_MS else f"MISSED by {cpu - TARGET_COLD_MS:.0f} ms"
        print(f"  cold start ({engine}) <= {TARGET_COLD_MS} ms: cpu {cpu:.0f} ms (wall {wall:.0f} ms): "
              f"{verdict}")


if __name__ == "__main__":
    main()
