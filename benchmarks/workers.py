"""Worker processes and Dask against one process, on profiles no RuleSet has seen.

Each figure is a ratio measured in the same run: one process (``workers=1``) against
``workers=2`` on the same cohort, each on a RuleSet freshly loaded and warmed on other people,
so neither side has seen the cohort (its result cache cannot answer). The pairs run in turn
(serial, parallel, serial, parallel, ...) so that both see the same neighbours, and the load
average is printed before and after: on a shared machine the wall-clock ratio says as much about
the neighbours as about backrx. The CPU columns count every process (parent and workers).

Usage: python benchmarks/workers.py [--count 20000] [--repeat 2] [--no-dask] [--engine durable]

Not part of the test suite: nothing here passes or fails.
"""

from __future__ import annotations

import argparse
import gc
import os
import pickle
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

import backrx
from backrx import batch
from backrx.engine import durable_available
from backrx.workers.pool import recommend_task


def _cpu() -> float:
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def _timed(fn: Callable[[], Any]) -> tuple[Any, float, float]:
    gc.collect()
    wall, cpu = time.perf_counter(), _cpu()
    out = fn()
    return out, time.perf_counter() - wall, _cpu() - cpu


def _fresh(engine: str) -> backrx.RuleSet:
    rules = backrx.load_rules(engine=engine)  # type: ignore[arg-type]
    rules.recommend_many(batch.generate(300, seed=901))  # warm: tables and engine, other people
    return rules


def _load() -> str:
    one, five, _ = os.getloadavg()
    return f"{one:.2f} (1 min), {five:.2f} (5 min)"


def _pair(name: str, count: int, engine: str, serial: Callable[[backrx.RuleSet], Any],
          parallel: Callable[[backrx.RuleSet], Any]) -> float:
    a, b = _fresh(engine), _fresh(engine)
    first, one, one_cpu = _timed(lambda: serial(a))
    second, two, two_cpu = _timed(lambda: parallel(b))
    same = first == second
    print(f"  {name:34s} one process {count / one:7,.0f}/s ({one_cpu / count * 1e6:4.0f} us CPU each)"
          f"  workers=2 {count / two:7,.0f}/s ({two_cpu / count * 1e6:4.0f} us CPU each)"
          f"  x{one / two:.2f}  {'identical' if same else 'DIFFERENT'}", flush=True)
    return one / two


def transfer(engine: str) -> None:
    """What one result costs to send from a worker: pickle there, unpickle here."""
    rules = _fresh(engine)
    chunk = batch.generate(400, seed=904)
    recommend_task(rules, chunk[:200])
    made, make, _ = _timed(lambda: recommend_task(rules, chunk[200:]))
    data, out, _ = _timed(lambda: pickle.dumps(made, protocol=pickle.HIGHEST_PROTOCOL))
    _, back, _ = _timed(lambda: pickle.loads(data))
    print(f"  a result made in a worker: {make / 200 * 1e6:.0f} us; sent: pickled {out / 200 * 1e6:.0f} us, "
          f"{len(data) / 200:,.0f} bytes, unpickled {back / 200 * 1e6:.0f} us", flush=True)
    _, start, _ = _timed(lambda: rules.recommend_many(chunk[:2], workers=2, chunk_size=1))
    print(f"  workers=2 on 2 profiles (start-up and shut-down of one worker): {start * 1e3:.0f} ms",
          flush=True)


def dask_pair(engine: str, count: int, profiles: list[dict[str, Any]]) -> float | None:
    try:
        import dask
        import dask.dataframe as dd
        import distributed
        import pandas as pd
    except ImportError:
        print("  Dask: not installed (pip install backrx[dask])")
        return None
    with dask.config.set({"dataframe.convert-string": False}):
        frame = dd.from_pandas(pd.DataFrame(profiles), npartitions=16)
    cluster, up, _ = _timed(lambda: distributed.LocalCluster(n_workers=2, threads_per_worker=1,
                                                             processes=True, dashboard_address=":0"))
    with cluster, distributed.Client(cluster):
        print(f"  Dask LocalCluster (2 worker processes) start-up: {up:.1f} s (not counted below)")
        serial_rules, dask_rules = _fresh(engine), _fresh(engine)
        first, one, _ = _timed(lambda: [{k: v for k, v in r.items() if k != "row"}
                                        for r in batch.rows(profiles, serial_rules)])
        second, two, _ = _timed(lambda: batch.run_dask(frame, dask_rules).compute())
        got = second.to_dict("records")
        same = len(got) == len(first) and all(a["outcome"] == b["outcome"] and a["rules"] == list(b["rules"])
                                              for a, b in zip(first, got, strict=True))
    print(f"  {'Dask run_dask, 16 partitions':34s} one process {count / one:7,.0f}/s"
          f"{'':24s}  Dask       {count / two:7,.0f}/s{'':24s}  x{one / two:.2f}  "
          f"{'same outcomes and rules' if same else 'DIFFERENT'}", flush=True)
    return one / two


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--no-dask", action="store_true")
    parser.add_argument("--engine", default="durable" if durable_available() else "reference")
    args = parser.parse_args()
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"backrx {backrx.__version__}: workers=2 against one process, {args.count:,} unseen "
          f"profiles, engine {args.engine}, {cores} cores; load average before: {_load()}")
    profiles = batch.generate(args.count, seed=902)
    transfer(args.engine)
    ratios: dict[str, list[float]] = {"recommend_many": [], "batch.rows": [], "dask": []}
    for _ in range(args.repeat):
        ratios["recommend_many"].append(_pair(
            "recommend_many", args.count, args.engine,
            lambda rules: rules.recommend_many(profiles),
            lambda rules: rules.recommend_many(profiles, workers=2)))
        ratios["batch.rows"].append(_pair(
            "batch.rows", args.count, args.engine,
            lambda rules: list(batch.rows(profiles, rules)),
            lambda rules: list(batch.rows(profiles, rules, workers=2))))
        if not args.no_dask:
            found = dask_pair(args.engine, args.count, profiles)
            if found is not None:
                ratios["dask"].append(found)
    print(f"load average after: {_load()}")
    for name, found in ratios.items():
        if found:
            print(f"  {name:16s} best x{max(found):.2f}  all {', '.join(f'x{r:.2f}' for r in found)}  "
                  f"target x1.7: {'met' if max(found) >= 1.7 else 'missed'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
