"""backrx benchmarks: every figure of docs/performance.md, with its baselines, in one run.

Usage: python benchmarks/run.py [--quick] [--rss-n 100000]

Not part of the test suite: nothing here passes or fails. Figures are wall-clock on the
machine that runs it; ratios against baselines measured in the same run are the numbers to
compare between machines.
"""

from __future__ import annotations

import argparse
import gc
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

import backrx  # noqa: E402
from backrx._engine import durable_available  # noqa: E402
from backrx.condition import Value  # noqa: E402
from backrx.decision import decide  # noqa: E402
from backrx.facts import profile_values  # noqa: E402
from backrx.planner import plan_data  # noqa: E402
from backrx.rulepack import bundled_path, read_pack  # noqa: E402
from benchmarks.memory import _profiles  # noqa: E402
from benchmarks.memory import run as rss_run  # noqa: E402

ENGINE = "durable" if durable_available() else "reference"


def _times(fn: Callable[[Any], Any], items: Sequence[Any], repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        for item in items:
            start = time.perf_counter()
            fn(item)
            out.append(time.perf_counter() - start)
    return out


def _median_p99(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def _line(label: str, value: str, ratio: str = "") -> None:
    print(f"  {label:52s} {value:>18s}  {ratio}")


def latency(profiles: list[dict[str, Any]], repeat: int) -> dict[str, float]:
    print("\nrecommend latency, one thread, bundled pack")
    out: dict[str, float] = {}
    for engine in ("durable", "reference"):
        if engine == "durable" and not durable_available():
            continue
        rules = backrx.load_rules(engine=engine)  # type: ignore[arg-type]
        for p in profiles:
            rules.recommend(p)
        med, p99 = _median_p99(_times(rules.recommend, profiles, repeat))
        out[f"{engine}_median_ms"], out[f"{engine}_p99_ms"] = med * 1e3, p99 * 1e3
        _line(f"{engine}: median / p99", f"{med * 1e3:.3f} / {p99 * 1e3:.3f} ms")
    if "durable_median_ms" in out:
        _line("durable / reference (median)", "",
              f"ratio {out['durable_median_ms'] / out['reference_median_ms']:.2f}")
    return out


def throughput(profiles: list[dict[str, Any]], repeat: int) -> float:
    print("\nrecommend_many throughput")
    rules = backrx.load_rules(engine=ENGINE)  # type: ignore[arg-type]
    batch = profiles * repeat
    rules.recommend_many(profiles)
    rates = {}
    for pause in (False, True):
        gc.collect()
        start = time.perf_counter()
        rules.recommend_many(batch, pause_gc=pause)
        rates[pause] = len(batch) / (time.perf_counter() - start)
    _line(f"{ENGINE}: profiles per second, GC running", f"{rates[False]:,.0f}/s")
    _line(f"{ENGINE}: profiles per second, GC paused (default)", f"{rates[True]:,.0f}/s",
          f"x{rates[True] / rates[False]:.2f}")
    return rates[True]


def cold_start(runs: int) -> float:
    print("\ncold start: a fresh process imports backrx and loads the bundled pack")
    env_src = str(ROOT / "src")

    def once(code: str) -> float:
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True, env={"PYTHONPATH": env_src},
                       capture_output=True)
        return time.perf_counter() - start

    bare = statistics.median(once("pass") for _ in range(runs))
    cold = statistics.median(once("import backrx; backrx.load_rules()") for _ in range(runs))
    _line("python -c pass (baseline)", f"{bare * 1e3:.0f} ms")
    _line("import backrx + load_rules()", f"{cold * 1e3:.0f} ms", f"ratio {cold / bare:.1f}")
    return cold * 1e3


def _synthetic(root: Path, count: int) -> Path:
    target = root / f"pack-{count}"
    shutil.copytree(bundled_path(), target, ignore=shutil.ignore_patterns("cases"))
    fields = ("age", "pain_intensity", "duration_weeks", "findings.sitting_hours_per_day",
              "findings.straight_leg_raise_deg")
    lines = ["layer: classification", "rules:" if count else "rules: []"]
    for i in range(count):
        field = fields[i % len(fields)]
        lines += [
            f"  - id: synthetic.rule-{i}",
            f"    title: Synthetic rule {i}",
            f"    when: {{all: [{{{field}: {{gt: {100000 + i}}}}}, {{stage: {{exists: true}}}}]}}",
            "    then: {explain: true}",
            "    rationale: A synthetic rule that never fires.",
            "    sources: [hill-2008]",
        ]
    (target / "synthetic.yaml").write_text("\n".join(lines) + "\n")
    return target


def scaling(profiles: list[dict[str, Any]], sizes: Sequence[int]) -> dict[int, tuple[float, float]]:
    print("\nsynthetic packs: the bundled pack plus N classification rules that never fire")
    out: dict[int, tuple[float, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for count in (0, *sizes):
            path = _synthetic(Path(tmp), count)
            start = time.perf_counter()
            rules = backrx.load_rules(path, engine=ENGINE)  # type: ignore[arg-type]
            load = time.perf_counter() - start
            for p in profiles[:50]:
                rules.recommend(p)
            med, _ = _median_p99(_times(rules.recommend, profiles[:200], 1))
            out[count] = (load * 1e3, med * 1e3)
            base_load, base_med = out[0]
            _line(f"+{count:>5d} rules: load / recommend median",
                  f"{load * 1e3:8.1f} / {med * 1e3:.3f} ms",
                  "" if count == 0 else f"x{load * 1e3 / base_load:.1f} load, x{med * 1e3 / base_med:.2f} "
                  "recommend vs +0")
            del rules
            gc.collect()
    return out


# ---- the practical floor: a hand-written function for a small pack (triage + classification)


def handwritten(v: dict[str, Value]) -> set[str]:
    """The bundled triage and classification rules, written out by hand."""
    fired: set[str] = set()
    flags = v["red_flags"]
    assert isinstance(flags, frozenset)
    for flag, rule in (("bilateral_neurological_symptoms", "triage.cauda-equina.bilateral"),
                       ("saddle_anaesthesia", "triage.cauda-equina.saddle"),
                       ("bladder_bowel_dysfunction", "triage.cauda-equina.sphincter"),
                       ("major_trauma", "triage.fracture.major-trauma"),
                       ("suspected_fracture", "triage.fracture.suspected"),
                       ("fever_or_infection", "triage.infection.fever"),
                       ("immunosuppression", "triage.infection.immunosuppression"),
                       ("iv_drug_use", "triage.infection.iv-drug-use"),
                       ("cancer_history", "triage.malignancy.history"),
                       ("unexplained_weight_loss", "triage.malignancy.weight-loss"),
                       ("progressive_neurological_deficit", "triage.neuro.progressive"),
                       ("unrelenting_night_pain", "triage.night-pain"),
                       ("inflammatory_back_pain", "triage.inflammatory")):
        if flag in flags:
            fired.add(rule)
    if "progressive_neurological_deficit" in flags and v.get("bilateral_leg_symptoms") is True:
        fired.add("triage.neuro.progressive-both-legs")
    fired.add("triage.safety-net")
    fired.add(f"classify.stage.{v['stage']}")
    total, psycho = v.get("startback.total"), v.get("startback.psychosocial")
    if total is None:
        fired.add("classify.startback.incomplete")
    else:
        assert isinstance(total, int) and isinstance(psycho, int)
        if total <= 3:
            fired.add("classify.startback.low")
        if total >= 4 and psycho <= 3:
            fired.add("classify.startback.medium")
        if psycho >= 4:
            fired.add("classify.startback.high")
    dp = v.get("directional_preference")
    if dp in ("extension", "flexion"):
        fired.add(f"classify.mckenzie.{dp}")
    worse = v.get("findings.worse_with", frozenset())
    eases = v.get("findings.eases_with", frozenset())
    assert isinstance(worse, frozenset) and isinstance(eases, frozenset)
    age = v["age"]
    assert isinstance(age, int)
    stenosis = sum((age > 48, v.get("bilateral_leg_symptoms") is True,
                    v.get("leg_pain") in ("buttock_thigh", "below_knee"),
                    bool(worse & {"walking", "standing"}), bool(eases & {"sitting", "bending_forward"})))
    if dp != "extension" and stenosis >= 4:
        fired.add("classify.stenosis.cluster")
    slr = v.get("findings.straight_leg_raise_deg")
    aberrant = v.get("findings.aberrant_movement") is True
    pit = v.get("findings.prone_instability_test") is True
    hicks = sum((age < 40, isinstance(slr, float) and slr > 91, aberrant, pit))
    if hicks >= 3:
        fired.add("classify.stabilization.hicks")
    if aberrant and pit:
        fired.add("classify.stabilization.movement-control")
    sitting = v.get("findings.sitting_hours_per_day")
    if v.get("findings.hamstring_tightness") is True and v.get("findings.glute_weakness") is True and (
            (isinstance(sitting, float) and sitting >= 6) or "sitting" in worse):
        fired.add("classify.lower-crossed")
    return fired


def floor(profiles: list[dict[str, Any]], repeat: int) -> dict[str, float]:
    print("\nthe practical floor: triage + classification layers (28 rules), per profile")
    pack = read_pack()
    values = [profile_values(backrx.Profile.model_validate(p)) for p in profiles]
    out: dict[str, float] = {}

    def matcher(engine: str) -> Callable[[dict[str, Value]], set[str]]:
        rules = backrx.load_rules(engine=engine)  # type: ignore[arg-type]
        eng = rules._engine

        def run(v: dict[str, Value]) -> set[str]:
            return {pack.layers[i].rules[k].id for i in (0, 1) for k in eng.match(i, v)}
        return run

    candidates: dict[str, Callable[[dict[str, Value]], set[str]]] = {"hand-written Python": handwritten}
    for engine in ("reference", "durable"):
        if engine == "durable" and not durable_available():
            continue
        candidates[f"{engine} engine"] = matcher(engine)
    for v in values:  # the floor is only a floor if it decides the same
        expected = candidates["reference engine"](v)
        assert handwritten(v) == expected, (v, handwritten(v) ^ expected)
    for name, fn in candidates.items():
        med, _ = _median_p99(_times(fn, values, repeat))
        out[name] = med * 1e6
    base = out["hand-written Python"]
    for name, us in out.items():
        _line(name, f"{us:.1f} us", f"x{us / base:.1f} the hand-written floor")
    return out


def breakdown(profiles: list[dict[str, Any]], repeat: int) -> dict[str, float]:
    print(f"\nwhere the time goes ({ENGINE} engine, mean per recommendation, GC paused)")
    rules = backrx.load_rules(engine=ENGINE)  # type: ignore[arg-type]
    stages: dict[str, float] = {}

    def timed(name: str, fn: Callable[[Any], Any], items: list[Any]) -> list[Any]:
        gc.collect()
        gc.disable()  # compute only: the collector's share is measured by the throughput pair
        start = time.perf_counter()
        results: list[Any] = []
        for _ in range(repeat):  # keep one round of results only: hoarding them all feeds the GC
            results = [fn(x) for x in items]
        stages[name] = (time.perf_counter() - start) / (len(items) * repeat) * 1e6
        gc.enable()
        return results

    valid = timed("validate the profile (pydantic)", backrx.Profile.model_validate, profiles)
    values = timed("profile to facts", profile_values, valid)
    decisions = timed("rule engine (all layers)", lambda v: decide(rules.pack, rules._engine, v), values)
    pairs = list(zip(valid, decisions, strict=True))
    timed("planner", lambda pd: None if pd[1].refers else plan_data(rules.pack, pd[0], pd[1]), pairs)
    recs = timed("planner + assemble and validate the output",
                 lambda pd: rules._build(pd[0], pd[1]), pairs)
    timed("serialise to JSON (not part of recommend)", lambda r: r.model_dump_json(), recs)
    skipped = ("planner", "serialise to JSON (not part of recommend)")
    total = sum(v for k, v in stages.items() if k not in skipped)
    for name, us in stages.items():
        share = "" if "JSON" in name or name == "planner" else f"{us / total * 100:.0f}%"
        _line(name, f"{us:.0f} us", share)
    return stages


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer repetitions, smaller packs")
    parser.add_argument("--rss-n", type=int, default=100_000, help="recommendations for the RSS run")
    args = parser.parse_args()
    repeat = 2 if args.quick else 6
    print(f"backrx {backrx.__version__} benchmarks: Python {platform.python_version()}, "
          f"{platform.machine()}, {sys.platform}, engine {ENGINE}")
    profiles = _profiles(300)
    latency(profiles, repeat)
    throughput(profiles, repeat)
    cold_start(3 if args.quick else 7)
    scaling(profiles, (100, 1000) if args.quick else (100, 1000, 5000))
    floor(profiles, repeat)
    breakdown(profiles, repeat)
    print(f"\nRSS over {args.rss_n:,} recommendations on one RuleSet ({ENGINE})")
    growth = rss_run(ENGINE, args.rss_n)
    _line("RSS growth after warm-up", f"{growth:+.2f} MB", "budget < 5 MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
