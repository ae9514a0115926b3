"""How big a stored history gets: 12 dated rounds for every bundled example, in JSON bytes.

Usage: python benchmarks/history_size.py

Each round answers every exercise of the current phase (a realistic daily diary: mostly
comfortable days, a worse day now and then, one round where symptoms spread, outcome measures
every fourth round). Printed per example: the history (``adjustments``) in bytes, the whole
recommendation, and the baseline measured in the same run: the same rounds stored as format 1
did, with a full before and after copy of the prescription in every change. The ratio is
history / baseline. Not part of the test suite (tests/test_history.py checks the 40 KB bound).
"""

from __future__ import annotations

import datetime
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

import backrx  # noqa: E402
from backrx.model.recommendation import Prescription  # noqa: E402

ROUNDS = 12
START = datetime.date(2026, 1, 5)
LIMIT = 40_000


def _feedback(rec: backrx.Recommendation, n: int) -> dict[str, Any]:
    assert rec.program is not None
    doing = [p.exercise.id for p in rec.program.phase_now.prescriptions if p.exercise.category != "education"]
    responses = []
    for k, eid in enumerate(doing):
        worse = n % 5 == 4 and k == 0
        responses.append({"exercise_id": eid, "pain_during": 4 if worse else (k + n) % 4,
                          "next_day": "worse" if worse else ("better" if (k + n) % 3 == 0 else "same"),
                          "peripheralized": n == 6 and k == len(doing) - 1})
    out: dict[str, Any] = {"date": (START + datetime.timedelta(days=n)).isoformat(), "responses": responses}
    if n % 4 == 0:
        out["outcomes"] = {"nprs": max(0, 6 - n // 3), "odi": max(0, 40 - n), "walk_minutes": 10 + 2 * n}
    return out


def history(profile: dict[str, Any], rounds: int = ROUNDS) -> backrx.Recommendation:
    """The recommendation after ``rounds`` dated rounds of the diary above."""
    rec = backrx.recommend(profile)
    for n in range(rounds):
        if rec.program is None:
            break
        rec = backrx.adjust(rec, _feedback(rec, n))
    return rec


def _sizes(rec: backrx.Recommendation) -> tuple[int, int, int]:
    """History bytes, whole-recommendation bytes, and the format-1 style baseline for the history."""
    data = json.loads(rec.model_dump_json())
    history_bytes = len(json.dumps(data.get("adjustments", []), separators=(",", ":")))
    # Baseline: every change carries the full prescription before and after, as format 1 stored it.
    original = backrx.recommend(rec.profile)  # type: ignore[arg-type]
    phases = original.program.phases if original.program is not None else []
    state = {(ph.id, p.exercise.id): p for ph in phases for p in ph.prescriptions}
    baseline = 0
    for round_ in rec.adjustments:
        dumped = json.loads(round_.model_dump_json())
        expanded = []
        for change in round_.changes:
            for eid in change.exercise_ids or [None]:
                raw = json.loads(change.model_dump_json())
                raw.pop("exercises", None)
                raw["exercise_id"] = eid
                before: Prescription | None = state.get((change.phase, eid or ""))
                after = change.prescription or before
                if before is not None and change.dose is not None and change.prescription is None:
                    parts = {k: v for k, v in change.dose.model_dump().items() if v is not None}
                    after = before.model_copy(update={"dose": before.dose.model_copy(update=parts)})
                raw["before"] = json.loads(before.model_dump_json()) if before is not None else None
                raw["after"] = json.loads(after.model_dump_json()) if after is not None else None
                if after is not None:
                    state[(change.phase, after.exercise.id)] = after
                expanded.append(raw)
        dumped["changes"] = expanded
        baseline += len(json.dumps(dumped, separators=(",", ":")))
    return history_bytes, len(rec.model_dump_json()), baseline


def main() -> int:
    print(f"{ROUNDS}-round histories (bytes of JSON; limit {LIMIT} for the history)")
    print(f"{'example':28} {'history':>8} {'whole':>8} {'format-1 style':>15} {'ratio':>6}")
    worst = 0
    for path in sorted((ROOT / "examples").glob("*.yaml")):
        profile = backrx.load_profile(path).model_dump(mode="json", exclude_none=True)
        rec = history(profile)
        hist, whole, baseline = _sizes(rec)
        worst = max(worst, hist)
        ratio = f"{hist / baseline:.2f}" if baseline else "-"
        where = rec.program.current_phase if rec.program else "referred"
        print(f"{path.stem:28} {hist:8d} {whole:8d} {baseline:15d} {ratio:>6}  "
              f"({len(rec.adjustments)} rounds, phase {where})")
    print(f"largest history: {worst} bytes ({'under' if worst < LIMIT else 'OVER'} {LIMIT})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
