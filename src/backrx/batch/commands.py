"""The ``backrx batch`` and ``backrx diff`` commands."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any


def count_rows(path: str) -> int | None:
    """Profiles in the input (the progress bar's total, so that it shows an ETA), when cheap to
    know: lines of .jsonl, rows of .csv, the row count a .parquet file records."""
    lower = path.lower()
    if lower.endswith((".jsonl", ".ndjson")):
        with open(path, "rb") as f:
            return sum(1 for line in f if line.strip(b" \t\r\n"))
    if lower.endswith(".csv"):
        import csv

        with open(path, encoding="utf-8-sig", newline="", errors="replace") as f:
            return max(sum(1 for row in csv.reader(f) if row) - 1, 0)  # less the header
    if lower.endswith(".parquet"):
        try:
            import pyarrow.parquet as pq
        except ImportError:
            return None
        return int(pq.ParquetFile(path).metadata.num_rows)
    return None


@contextmanager
def progress_bar(show: bool | None, total: int | None) -> Iterator[Callable[[int], None] | None]:
    """A tqdm bar on stderr (when ``show``, or by default when stderr is a terminal) that the
    caller updates with the count done; ``None`` when not shown or tqdm is missing."""
    if show is None:
        show = sys.stderr.isatty()
    if not show:
        yield None
        return
    try:
        from tqdm import tqdm
    except ImportError:
        sys.stderr.write("backrx: no progress bar (install backrx[batch] for tqdm)\n")
        yield None
        return
    # With a total, tqdm shows the share done, the rate and the time left (ETA).
    bar = tqdm(total=total, unit="profile", file=sys.stderr, smoothing=0.1, dynamic_ncols=True)
    done = 0

    def update(count: int) -> None:
        nonlocal done
        bar.update(count - done)
        done = count

    try:
        yield update
    finally:
        bar.close()


def batch_command(args: argparse.Namespace) -> int:
    """``backrx batch IN OUT``: 0 when the table was written (invalid rows included)."""
    from backrx.batch import read_profiles, write
    from backrx.ruleset import load_rules

    rules = load_rules(args.rules) if args.rules else None
    if not os.path.isfile(args.input):
        raise OSError(f"{args.input}: no such file")
    with progress_bar(args.progress, count_rows(args.input)) as progress:
        counts = write(read_profiles(args.input), args.output, rules, workers=args.workers,
                       id_field=args.id_field, progress=progress)
    sys.stderr.write(f"{counts['rows']} profiles -> {args.output}: {counts['program']} program, "
                     f"{counts['refer']} refer, {counts['invalid']} invalid\n")
    return 0


def diff_command(args: argparse.Namespace) -> int:
    """``backrx diff OLD NEW``: 0 when the comparison ran (whether or not anything changed)."""
    from backrx.batch import diff, generate, read_profiles
    from backrx.ruleset import load_rules

    old, new = load_rules(args.old), load_rules(args.new)
    profiles: Any
    if args.profiles:
        profiles = read_profiles(args.profiles)
    else:
        count = 2000 if args.generated is None else args.generated
        if count < 1:
            raise ValueError("--generated needs at least 1 profile")
        profiles = generate(count, args.seed)
    report = diff(old, new, profiles, workers=args.workers, id_field=args.id_field,
                  examples=args.examples)
    if args.format == "json":
        sys.stdout.write(json.dumps(report.as_dict(), indent=2) + "\n")
    else:
        sys.stdout.write(report.format())
    return 0
