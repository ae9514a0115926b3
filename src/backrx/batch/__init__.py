"""Batch runs: many profiles in, one flat result row per profile out (Arrow, pandas, Parquet).

Everything here runs on the same RuleSet machinery as `backrx.recommend`; ``workers=N``
spreads a batch over N processes (see `backrx.RuleSet.recommend_many`), and
`run_dask` over a Dask cluster. An invalid profile does not stop a batch: its row has
``error`` (a code) and ``error_fields`` (where, and pydantic's error type; never the input
value, which may be health data) and no result.

Input: an iterable of mappings or Profiles, a pandas DataFrame, a pyarrow Table, or a file
(`read_profiles`: ``.jsonl``, ``.json``, ``.csv``, ``.parquet``; a record that cannot be read
is an error row too, so rows out always equal records in). In a table, nested
fields are either a column holding a mapping (``findings``) or dotted columns
(``findings.sitting_hours_per_day``); an empty cell or null is "not answered", never "no".

Output columns, in order (the per-phase columns follow the pack's phases):

========================  ===============================================================
``row``                   position in the input (0-based)
``id``                    the value of ``id_field`` when one is named
``outcome``               ``program`` or ``refer``
``urgency``               the referral's urgency, if any
``stage``                 acute, subacute or chronic
``pathways``              list of pathway names
``startback_risk``        low, medium, high or null
``exercises_<phase>``     number of prescriptions in each phase (null when referred)
``minutes_per_week_<p>``  estimated minutes a week per phase (when the output has them)
``warnings``              list of warning codes (when the output has warnings)
``exercises``             list of ``phase/exercise_id``
``rules``                 list of the rule ids that fired, in trace order
``digest``                the pack's digest
``error``                 null, or a code: ``invalid-profile``, ``invalid-json``,
                          ``invalid-utf8``, ``too-deep``, ``invalid-csv-row``
``error_fields``          where the record is, or ``location: error type`` for an invalid profile
========================  ===============================================================

Needs the ``batch`` extra (``pip install backrx[batch]``) for Arrow, pandas and Parquet; rows
as plain dicts (`rows`) need nothing beyond backrx.
"""

from __future__ import annotations

import json
import os
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from contextlib import closing
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from backrx.batch.cohort import generate
from backrx.batch.files import Unreadable, atomic_output, read_profiles, records, safe_text
from backrx.batch.pack_diff import Group, PackDiff, ProfileChange
from backrx.model.profile import Profile
from backrx.model.recommendation import Phase, Recommendation
from backrx.ruleset import RuleSet, default_rules
from backrx.workers.collector import collector_paused

if TYPE_CHECKING:
    import pandas
    import pyarrow

__all__ = [
    "Group",
    "PackDiff",
    "ProfileChange",
    "arrow_schema",
    "columns",
    "diff",
    "generate",
    "meta",
    "read_profiles",
    "records",
    "row_of",
    "rows",
    "run_dask",
    "spark_schema",
    "table",
    "write",
]

#: Phase and Recommendation fields the table reports when the output model has them.
_HAS_MINUTES = "minutes_per_week" in Phase.model_fields
_HAS_WARNINGS = "warnings" in Recommendation.model_fields


def columns(rules: RuleSet | None = None, *, id_field: str | None = None) -> list[tuple[str, str]]:
    """The result table's columns for this pack, as ``(name, kind)``; kind is ``int``,
    ``float``, ``str`` or ``list``."""
    pack = (rules or default_rules()).pack
    cols: list[tuple[str, str]] = [("row", "int")]
    if id_field is not None:
        cols.append(("id", "str"))
    cols += [("outcome", "str"), ("urgency", "str"), ("stage", "str"), ("pathways", "list"),
             ("startback_risk", "str")]
    cols += [(f"exercises_{phase.id}", "int") for phase in pack.phases]
    if _HAS_MINUTES:
        cols += [(f"minutes_per_week_{phase.id}", "float") for phase in pack.phases]
    if _HAS_WARNINGS:
        cols.append(("warnings", "list"))
    cols += [("exercises", "list"), ("rules", "list"), ("digest", "str"), ("error", "str"),
             ("error_fields", "list")]
    return cols


def row_of(rec: Recommendation, rules: RuleSet) -> dict[str, Any]:
    """The result row of one recommendation (without ``row`` and ``id``)."""
    row: dict[str, Any] = {
        "outcome": rec.outcome,
        "urgency": rec.referral.urgency if rec.referral else None,
        "stage": rec.classification.stage,
        "pathways": list(rec.classification.pathways),
        "startback_risk": rec.classification.startback_risk,
    }
    phases = {phase.id: phase for phase in rec.program.phases} if rec.program else {}
    for spec in rules.pack.phases:
        found = phases.get(spec.id)
        row[f"exercises_{spec.id}"] = len(found.prescriptions) if found else None
    if _HAS_MINUTES:
        for spec in rules.pack.phases:
            found = phases.get(spec.id)
            row[f"minutes_per_week_{spec.id}"] = found.__dict__["minutes_per_week"] if found else None
    if _HAS_WARNINGS:
        row["warnings"] = [item.code for item in rec.__dict__["warnings"]]
    row["exercises"] = [f"{phase.id}/{p.exercise.id}" for phase in phases.values()
                        for p in phase.prescriptions]
    row["rules"] = [firing.rule_id for firing in rec.trace]
    row["digest"] = rec.ruleset.digest
    row["error"] = None
    row["error_fields"] = []
    return row


def _error_fields(exc: ValidationError) -> list[str]:
    out = []
    for item in exc.errors(include_input=False, include_url=False, include_context=False):
        loc = ".".join(safe_text(str(part)) for part in item["loc"]) or "(profile)"
        out.append(f"{loc}: {item['type']}")
    return out


def _error_row(rules: RuleSet, code: str, fields: list[str]) -> dict[str, Any]:
    row = dict.fromkeys((name for name, _ in columns(rules) if name != "row"))
    for name, kind in columns(rules):
        if kind == "list":
            row[name] = []
    row.update(digest=rules.digest, error=code, error_fields=fields)
    return row


def _rows_paused(rules: RuleSet, chunk: list[Any]) -> list[dict[str, Any]]:
    """The rows of a chunk with Python's cyclic collector paused meanwhile, as recommend_many
    pauses it: backrx makes no cycles, and the collector would re-scan the RuleSet's caches
    and the caller's growing results again and again."""
    with collector_paused():
        return _row_task(rules, chunk)


def _row_task(rules: RuleSet, chunk: list[Any]) -> list[dict[str, Any]]:
    out = []
    for item in chunk:
        if isinstance(item, Unreadable):
            out.append(_error_row(rules, item.code, [item.detail]))
            continue
        try:
            rec = rules.recommend(item)
        except ValidationError as exc:
            out.append(_error_row(rules, "invalid-profile", _error_fields(exc)))
            continue
        out.append(row_of(rec, rules))
    return out


# --------------------------------------------------------------------------- running


def _split_id(items: Iterable[Any], id_field: str | None) -> Iterator[tuple[Any, Any]]:
    for item in items:
        if id_field is None or isinstance(item, (Unreadable, Profile)) or not isinstance(item, Mapping):
            yield None, item
            continue
        record = dict(item)
        ident = record.pop(id_field, None)
        yield (None if ident is None else safe_text(str(ident), 200)), record


def rows(profiles: Any, rules: RuleSet | None = None, *, workers: int | None = None,
         chunk_size: int | None = None, id_field: str | None = None,
         progress: Callable[[int], None] | None = None) -> Generator[dict[str, Any], None, None]:
    """One result row (a dict, see `columns`) per profile, in input order, lazily.

    ``id_field`` names a field of each record that identifies it (a patient or row id); it is
    taken out before validation and reported in the ``id`` column. ``progress`` is called
    with the number of rows finished after each chunk.
    """
    rules = rules or default_rules()
    if workers is not None and workers < 1:
        raise ValueError(f"workers must be at least 1, not {workers}")
    pairs = _split_id(records(profiles), id_field)
    count = 0
    size = chunk_size or 200
    if workers is not None and workers > 1:
        from backrx.workers.pool import ordered_map

        ids: deque[Any] = deque()

        def items() -> Iterator[Any]:
            for ident, item in pairs:
                ids.append(ident)
                yield item

        with closing(ordered_map(rules, items(), _row_task, workers=workers, chunk_size=size,
                                 local=_rows_paused)) as done:
            for _, chunk in done:
                for row in chunk:
                    yield _finish(row, count, ids.popleft(), id_field)
                    count += 1
                if progress:
                    progress(count)
        return
    batch: list[tuple[Any, Any]] = []
    for pair in pairs:
        batch.append(pair)
        if len(batch) >= size:
            for ident, row in zip((i for i, _ in batch), _rows_paused(rules, [p for _, p in batch]),
                                  strict=True):
                yield _finish(row, count, ident, id_field)
                count += 1
            batch = []
            if progress:
                progress(count)
    for ident, row in zip((i for i, _ in batch), _rows_paused(rules, [p for _, p in batch]),
                          strict=True):
        yield _finish(row, count, ident, id_field)
        count += 1
    if progress and batch:
        progress(count)


def _finish(row: dict[str, Any], index: int, ident: Any, id_field: str | None) -> dict[str, Any]:
    head: dict[str, Any] = {"row": index}
    if id_field is not None:
        head["id"] = ident
    head.update(row)
    return head


def arrow_schema(rules: RuleSet | None = None, *, id_field: str | None = None,
                 row: bool = True) -> pyarrow.Schema:
    """The result table's Arrow schema for this pack; ``row=False`` leaves out the ``row``
    column, as `run_dask` does (pass it to Dask's ``to_parquet(..., schema=...)``)."""
    import pyarrow as pa

    kinds = {"int": pa.int64(), "float": pa.float64(), "str": pa.string(), "list": pa.list_(pa.string())}
    return pa.schema([(name, kinds[kind]) for name, kind in columns(rules, id_field=id_field)
                      if row or name != "row"])


def spark_schema(rules: RuleSet | None = None, *, id_field: str | None = None) -> str:
    """The result columns as a Spark DDL schema string (for ``mapInPandas``)."""
    kinds = {"int": "bigint", "float": "double", "str": "string", "list": "array<string>"}
    return ", ".join(f"`{name}` {kinds[kind]}" for name, kind in columns(rules, id_field=id_field))


def table(profiles: Any, rules: RuleSet | None = None, *, workers: int | None = None,
          chunk_size: int | None = None, id_field: str | None = None) -> pyarrow.Table:
    """The result rows as a pyarrow Table (``.to_pandas()`` for a DataFrame)."""
    import pyarrow as pa

    schema = arrow_schema(rules, id_field=id_field)
    found = list(rows(profiles, rules, workers=workers, chunk_size=chunk_size, id_field=id_field))
    return pa.Table.from_pylist(found, schema=schema)


def write(profiles: Any, out: str | os.PathLike[str], rules: RuleSet | None = None, *,
          workers: int | None = None, chunk_size: int | None = None, id_field: str | None = None,
          progress: Callable[[int], None] | None = None) -> dict[str, int]:
    """Write the result rows to ``out`` (``.parquet``, or ``.jsonl`` without pyarrow), streaming;
    return counts: ``rows``, ``program``, ``refer``, ``invalid``.

    The rows go to a temporary file beside ``out``, which replaces ``out`` only once every row
    is written and synced: an interrupt or an error leaves the old ``out`` (or none), never a
    part of a table.
    """
    target = Path(out)
    suffix = target.suffix.lower()
    if suffix not in (".jsonl", ".parquet"):
        raise ValueError(f"{target.name}: results are written to .parquet or .jsonl files")
    counts = {"rows": 0, "program": 0, "refer": 0, "invalid": 0}
    stream = rows(profiles, rules, workers=workers, chunk_size=chunk_size, id_field=id_field,
                  progress=progress)

    def counted(row: dict[str, Any]) -> dict[str, Any]:
        counts["rows"] += 1
        counts["invalid" if row["error"] else row["outcome"]] += 1
        return row

    if suffix == ".jsonl":
        with atomic_output(target) as f, closing(stream):
            for row in stream:
                f.write((json.dumps(counted(row), ensure_ascii=False) + "\n").encode("utf-8"))
        return counts
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = arrow_schema(rules, id_field=id_field)
    with atomic_output(target) as f, closing(stream), pq.ParquetWriter(f, schema) as writer:
        block: list[dict[str, Any]] = []
        for row in stream:
            block.append(counted(row))
            if len(block) >= 10_000:
                writer.write_table(pa.Table.from_pylist(block, schema=schema))
                block = []
        if block or counts["rows"] == 0:
            writer.write_table(pa.Table.from_pylist(block, schema=schema))
    return counts


# --------------------------------------------------------------------------- Dask


def _partition(frame: pandas.DataFrame, rules: RuleSet, id_field: str | None) -> pandas.DataFrame:
    import pandas as pd

    found = list(rows(frame, rules, id_field=id_field))
    shape = meta(rules, id_field=id_field)
    out = pd.DataFrame(found, columns=["row", *shape.columns]).drop(columns=["row"])
    out.index = frame.index
    return out.astype(shape.dtypes.to_dict())


def meta(rules: RuleSet | None = None, *, id_field: str | None = None) -> pandas.DataFrame:
    """An empty pandas frame with the result columns of a partition (Dask's ``meta``)."""
    import pandas as pd

    dtypes = {"int": "Int64", "float": "Float64", "str": "object", "list": "object"}
    return pd.DataFrame({name: pd.Series(dtype=dtypes[kind])
                         for name, kind in columns(rules, id_field=id_field) if name != "row"})


def run_dask(profiles: Any, rules: RuleSet | None = None, *, id_field: str | None = None) -> Any:
    """The result rows of a Dask DataFrame of profiles, as a lazy Dask DataFrame (one
    ``map_partitions``; each partition runs in a worker with the pickled RuleSet).

    The result keeps the input's index (so rows line up with the profiles) and has every
    column of `columns` but ``row``. Call ``.compute()`` or ``.to_parquet(...)`` on it.
    """
    rules = rules or default_rules()
    result_meta = meta(rules, id_field=id_field)
    return profiles.map_partitions(_partition, rules, id_field, meta=result_meta)


def diff(old: RuleSet | str | os.PathLike[str], new: RuleSet | str | os.PathLike[str],
         profiles: Any, *, workers: int | None = None, chunk_size: int | None = None,
         id_field: str | None = None, examples: int = 3) -> PackDiff:
    """Which profiles two pack versions treat differently, grouped by the rules responsible.

    See `backrx.batch.PackDiff` for what it reports.
    """
    from backrx.batch.pack_diff import diff as run

    return run(old, new, _split_id(records(profiles), id_field), workers=workers,
               chunk_size=chunk_size, examples=examples)

