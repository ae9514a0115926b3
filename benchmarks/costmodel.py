"""The cost model: where a recommendation's time goes, and how it grows with the pack and catalog.

On unseen profiles (a synthetic cohort, each profile once): the time of each rule layer (the
engine matching it), the runner around the engine, the planner (no cache), assembly (the
program already planned: building the result from parts) and JSON, each as a share of the
whole; then the same on the bundled pack grown by synthetic rules that never fire (+100,
+1,000, +4,000) and on a catalog grown by copies of its exercises (500 and 2,000 entries).

Usage: python benchmarks/costmodel.py [--count 300] [--engine durable]
Figures are wall-clock on this machine; read the shares and the growth ratios.
"""

from __future__ import annotations

import argparse
import copy as copying
import gc
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import backrx  # noqa: E402
from backrx import batch  # noqa: E402
from backrx.pack.read import bundled_path  # noqa: E402
from backrx.ruleset import RuleSet  # noqa: E402
from backrx.run.decision import decide  # noqa: E402
from backrx.run.facts import profile_values  # noqa: E402
from backrx.run.planner import plan_data  # noqa: E402
from benchmarks.run import TRUSTED, _synthetic  # noqa: E402


def _mean_us(fn: Callable[[Any], Any], items: list[Any], repeat: int = 3) -> float:
    """The best of ``repeat`` means (a busy moment of the machine is not the code's)."""
    best = float("inf")
    for _ in range(repeat):
        gc.collect()
        gc.disable()
        try:
            start = time.perf_counter()
            for item in items:
                fn(item)
            best = min(best, (time.perf_counter() - start) / len(items) * 1e6)
        finally:
            gc.enable()
    return best


def layer_costs(rules: RuleSet, cohort: list[dict[str, Any]]) -> dict[str, float]:
    """Each layer matched alone on the final facts (the engine's share of the rules' time, by layer)."""
    pack, engine = rules.pack, rules._engine
    facts = [rules.decide(p).values for p in cohort]
    return {layer.name: _mean_us(lambda v, i=index: engine.match(i, v), facts)  # type: ignore[misc]
            for index, layer in enumerate(pack.layers)}


def shares(rules: RuleSet, cohort: list[dict[str, Any]]) -> dict[str, float]:
    """Mean microseconds of each part of a recommendation on these (unseen) profiles."""
    pack, engine = rules.pack, rules._engine
    out: dict[str, float] = {}
    valid = [backrx.Profile.model_validate(p) for p in cohort]
    out["validate the profile"] = _mean_us(backrx.Profile.model_validate, cohort)
    values = [profile_values(v) for v in valid]
    out["profile to facts"] = _mean_us(profile_values, valid)
    decisions = [decide(pack, engine, v, tables=rules.caches.tables) for v in values]
    out["rules: every layer (engine and runner)"] = _mean_us(
        lambda v: decide(pack, engine, v, tables=rules.caches.tables), values)
    pairs = [(v, d) for v, d in zip(valid, decisions, strict=True) if not d.refers]
    planner = _mean_us(lambda pd: plan_data(pack, pd[0], pd[1]), pairs)
    out["planner (no cache)"] = planner * len(pairs) / len(valid)  # a referral plans nothing
    assemble = RuleSet(pack, rules.engine,  # type: ignore[arg-type]
                       caches_off={"results"})._assembler
    for v, d in zip(valid, decisions, strict=True):
        assemble.recommendation(v, d)  # plan each once: assembly from parts is what is timed
    out["assembly (program planned)"] = _mean_us(lambda vd: assemble.recommendation(*vd),
                                                 list(zip(valid, decisions, strict=True)))
    recs = [assemble.recommendation(v, d) for v, d in zip(valid, decisions, strict=True)]
    out["JSON (model_dump_json)"] = _mean_us(lambda r: r.model_dump_json(), recs)
    return out


copy_of = copying.deepcopy


def _catalog(root: Path, size: int) -> Path:
    """The bundled pack with its catalog grown to ``size`` entries by renamed copies."""
    target = root / f"catalog-{size}"
    shutil.copytree(bundled_path(), target, ignore=shutil.ignore_patterns("cases"))
    exercises = yaml.safe_load((target / "exercises.yaml").read_text(encoding="utf-8"))
    figures = yaml.safe_load((target / "figures.yaml").read_text(encoding="utf-8"))
    entries = exercises["exercises"]
    originals = list(entries)
    copy = 0
    while len(entries) < size:
        source = copy_of(originals[copy % len(originals)])  # no YAML aliases: the loader refuses them
        new_id = f"{source['id']}-copy{copy}"
        figures["figures"][new_id] = copy_of(figures["figures"].get(source["id"], {}))
        source.update(id=new_id, name=f"{source['name']} ({copy})", easier=None, harder=None)
        source["pattern"] = f"{source.get('pattern', 'copy')}-copy{copy}"
        entries.append(source)
        copy += 1
    (target / "exercises.yaml").write_text(yaml.safe_dump(exercises, sort_keys=False), encoding="utf-8")
    (target / "figures.yaml").write_text(yaml.safe_dump(figures, sort_keys=False), encoding="utf-8")
    return target


def _recommend_median_ms(rules: RuleSet, cohort: list[dict[str, Any]]) -> float:
    rules.recommend_many(batch.generate(100, seed=907))
    times = []
    for profile in cohort:
        start = time.perf_counter()
        rules.recommend(profile)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


GROWTH_PARTS = ("rules: every layer (engine and runner)", "planner (no cache)",
                "assembly (program planned)", "JSON (model_dump_json)")


def growth(engine: str, cohort: list[dict[str, Any]], rule_sizes: tuple[int, ...],
           catalog_sizes: tuple[int, ...]) -> None:
    print("\ngrowth: recommend median on unseen profiles (each once), and each part's mean in us "
          "(x: against the bundled pack); the generated packs load with raised limits (TRUSTED)")
    with tempfile.TemporaryDirectory() as tmp:
        cases: list[tuple[str, Path]] = [("bundled", bundled_path())]
        cases += [(f"+{n} rules", _synthetic(Path(tmp), n)) for n in rule_sizes]
        cases += [(f"catalog {n}", _catalog(Path(tmp), n)) for n in catalog_sizes]
        base: tuple[float, ...] | None = None
        for label, path in cases:
            try:
                start = time.perf_counter()
                rules = backrx.load_rules(path, engine=engine, limits=TRUSTED)  # type: ignore[arg-type]
                load = time.perf_counter() - start
            except backrx.RuleError as exc:
                print(f"  {label:14s} refused by the loader: {sorted({p.code for p in exc.problems})[:3]}")
                continue
            med = _recommend_median_ms(rules, cohort)
            parts = shares(rules, cohort[:150])
            row = (med, *(parts[name] for name in GROWTH_PARTS), load)
            base = base or row
            cells = "  ".join(f"{name.split(' ')[0].rstrip(':')} {value:6.0f} (x{value / b:.2f})"
                              for name, value, b in zip(GROWTH_PARTS, row[1:], base[1:], strict=False))
            print(f"  {label:14s} {len(rules.pack.exercises):5d} exercises {len(rules.rule_ids):5d} rules  "
                  f"recommend {med:6.3f} ms (x{med / base[0]:.2f})  {cells}  load {load:5.2f} s", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--engine", default="durable")
    args = parser.parse_args()
    cohort = batch.generate(args.count, seed=905)
    rules = backrx.load_rules(engine=args.engine)  # type: ignore[arg-type]
    rules.recommend_many(batch.generate(200, seed=906))
    parts = shares(rules, cohort)
    total = sum(parts.values())
    print(f"where the time goes on {args.count} unseen profiles ({args.engine}), mean per profile")
    for name, us in parts.items():
        print(f"  {name:48s} {us:8.1f} us  {us / total * 100:5.1f}%")
    print(f"  {'total (JSON included)':48s} {total:8.1f} us")
    layers = layer_costs(rules, cohort)
    print("  the engine by layer, each matched alone on the final facts (shares of their sum):")
    for name, us in layers.items():
        print(f"    {name:46s} {us:8.1f} us  {us / sum(layers.values()) * 100:5.1f}%")
    growth(args.engine, cohort, (100, 1000, 4000), (500, 2000))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
