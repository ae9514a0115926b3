"""The batch door (issue 22, door 5): a malformed record is an error row, never the end of the run;
rows in equal rows out; an interrupted run leaves the old output or none, never a part of one."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import backrx
from backrx import batch
from backrx.cli import main
from conftest import base_profile

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

FIELDS = ["age", "duration_weeks", "pain_site", "leg_pain", "pain_intensity", "tolerance", "red_flags"]
SECRET = "zq-secret-value-7"  # appears in malformed input; must never appear in an error


def _line(profile: dict[str, Any]) -> bytes:
    return json.dumps(profile).encode("utf-8") + b"\n"


def _deep(depth: int) -> bytes:
    return b'{"age": ' + b"[" * depth + b"]" * depth + b"}"


def _jsonl_rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _run_batch(src: Path, out: Path) -> list[dict[str, Any]]:
    assert main(["batch", str(src), str(out), "--no-progress"]) == 0
    return _jsonl_rows(out) if out.suffix == ".jsonl" else pq.read_table(out).to_pylist()


def _diff(src: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    capsys.readouterr()
    assert main(["diff", str(src.parent / "pack"), str(src.parent / "pack"), "--profiles", str(src),
                 "--format", "json"]) == 0
    report: dict[str, Any] = json.loads(capsys.readouterr().out)
    return report


@pytest.fixture
def folder(tmp_path: Path, pack_copy: Path) -> Path:
    """A folder holding a copy of the bundled pack (for `backrx diff`)."""
    return pack_copy.parent


def test_an_invalid_utf8_line_is_one_error_row_in_batch_and_diff(
        folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """One line with a byte that is not UTF-8 is an invalid-utf8 row naming its line; the
    profiles around it are still run, by `backrx batch` and by `backrx diff`."""
    src = folder / "p.jsonl"
    src.write_bytes(_line(base_profile()) + b'{"age": "' + SECRET.encode() + b'\xff"}\n'
                    + _line(base_profile(age=70)))
    found = _run_batch(src, folder / "out.jsonl")
    assert [r["error"] for r in found] == [None, "invalid-utf8", None]
    assert found[1]["error_fields"][0].startswith("line 2:")
    assert [r["outcome"] for r in found] == ["program", None, "program"]
    assert SECRET not in json.dumps(found)
    report = _diff(src, capsys)
    assert (report["profiles"], report["invalid"], report["errors"]) == (3, 1, {"invalid-utf8": 1})


def test_a_line_nested_100000_deep_is_one_error_row_in_batch_and_diff(
        folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A line nested 100,000 deep is a too-deep row (no RecursionError); the others are run."""
    src = folder / "p.jsonl"
    src.write_bytes(_line(base_profile()) + _deep(100_000) + b"\n" + _line(base_profile()))
    for out in (folder / "out.jsonl", folder / "out.parquet"):
        found = _run_batch(src, out)
        assert [r["error"] for r in found] == [None, "too-deep", None], out.name
        assert found[1]["error_fields"] == ["line 2: nested more than 32 levels deep"]
    report = _diff(src, capsys)
    assert (report["profiles"], report["invalid"], report["errors"]) == (3, 1, {"too-deep": 1})


def test_short_and_long_csv_rows_are_error_rows_naming_their_line(folder: Path) -> None:
    """A CSV row with fewer or more cells than the header is an invalid-csv-row row (not an
    internal error), and the rows after it are still run."""
    src = folder / "p.csv"
    src.write_text("\n".join([",".join(FIELDS), "45,20,lower,none,4,moderate,[]", "45,20",
                              f"45,20,lower,none,4,moderate,[],{SECRET}",
                              "70,20,lower,none,4,moderate,[]"]) + "\n", encoding="utf-8")
    found = _run_batch(src, folder / "out.jsonl")
    assert [r["error"] for r in found] == [None, "invalid-csv-row", "invalid-csv-row", None]
    assert found[1]["error_fields"] == ["line 3: 2 cells where the header has 7"]
    assert found[2]["error_fields"] == ["line 4: 8 cells where the header has 7"]
    assert SECRET not in json.dumps(found)


def test_a_byte_order_mark_is_skipped_in_csv_and_jsonl(folder: Path, rules: backrx.RuleSet) -> None:
    """A CSV or JSONL file that starts with a UTF-8 byte-order mark reads like the same file
    without one: every row is run, none is invalid."""
    profiles = [base_profile(), base_profile(age=70, red_flags=["cancer_history"])]
    expected = [rules.recommend(p).outcome for p in profiles]
    csv_text = ",".join(FIELDS) + "\n" + "".join(
        ",".join(json.dumps(p[f]) if not isinstance(p[f], str) else p[f] for f in FIELDS) + "\n"
        for p in profiles)
    (folder / "p.csv").write_text(csv_text, encoding="utf-8-sig")
    (folder / "p.jsonl").write_bytes(b"\xef\xbb\xbf" + b"".join(_line(p) for p in profiles))
    for name in ("p.csv", "p.jsonl"):
        found = _run_batch(folder / name, folder / "out.jsonl")
        assert [r["outcome"] for r in found] == expected, name
        assert [r["error"] for r in found] == [None, None], name


def test_every_input_format_turns_bad_records_into_error_rows(tmp_path: Path, rules: backrx.RuleSet) -> None:
    """In a .json list, a .csv and a .parquet file, records that are not UTF-8, not JSON or
    nested too deeply are error rows; the good records keep their positions and results."""
    good = base_profile()
    (tmp_path / "p.json").write_bytes(b"[" + b", ".join([
        _line(good), b'{"age": "\xfe"}', _deep(5000), b'{"age": nope}', _line(good)]) + b"]")
    with (tmp_path / "p.csv").open("w", encoding="utf-8", errors="surrogateescape", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(FIELDS)
        writer.writerow([45, 20, "lower", "none", 4, "moderate", "[]"])
        writer.writerow([45, 20, "lower\udcff", "none", 4, "moderate", "[]"])
        writer.writerow([45, 20, "lower", "none", 4, "moderate", "[" * 5000 + "]" * 5000])
        writer.writerow([45, 20, "lower", "none", 4, "moderate", "[]"])
    nested: Any = "x"
    for _ in range(60):
        nested = {"n": nested}
    plain = {**good, "findings": None}  # a null cell: not answered
    pq.write_table(pa.Table.from_pylist([plain, {**good, "findings": nested}, plain]), tmp_path / "p.parquet")
    wanted = {"p.json": [None, "invalid-utf8", "too-deep", "invalid-json", None],
              "p.csv": [None, "invalid-utf8", "too-deep", None],
              "p.parquet": [None, "too-deep", None]}
    for name, codes in wanted.items():
        found = list(batch.rows(batch.read_profiles(tmp_path / name), rules))
        assert [r["error"] for r in found] == codes, name
        assert [r["row"] for r in found] == list(range(len(codes))), name
        assert [r["outcome"] for r in found if r["error"] is None] == ["program", "program"], name


def test_control_characters_and_undecodable_text_from_the_input_are_escaped(
        tmp_path: Path, rules: backrx.RuleSet) -> None:
    """An id or an unknown key holding control characters or an undecodable character is
    written escaped, so both output formats are still written in full."""
    src = tmp_path / "p.jsonl"
    src.write_bytes(_line({**base_profile(), "pid": "A\udc80\x1b[31m"})
                    + _line({**base_profile(), "pid": "B", "\x07bell": 1}))
    for name in ("out.jsonl", "out.parquet"):
        counts = batch.write(batch.read_profiles(src), tmp_path / name, rules, id_field="pid")
        assert counts["rows"] == 2, name
    found = pq.read_table(tmp_path / "out.parquet").to_pylist()
    assert _jsonl_rows(tmp_path / "out.jsonl") == found
    assert [r["id"] for r in found] == ["A\\udc80\\x1b[31m", "B"]
    assert found[1]["error_fields"] == ["\\x07bell: extra_forbidden"]
    assert "\x1b" not in (tmp_path / "out.jsonl").read_text(encoding="utf-8")


# --------------------------------------------------------------------------- interrupted output


class _StopError(Exception):
    """A failure raised part-way through a batch."""


def _stopper(after: int, error: BaseException) -> Any:
    def progress(count: int) -> None:
        if count >= after:
            raise error
    return progress


@pytest.mark.parametrize("suffix", [".parquet", ".jsonl"])
@pytest.mark.parametrize("error", [KeyboardInterrupt(), _StopError()], ids=["interrupt", "error"])
def test_an_interrupted_batch_leaves_the_old_output_untouched(
        tmp_path: Path, rules: backrx.RuleSet, suffix: str, error: BaseException) -> None:
    """A batch stopped part-way (Ctrl-C, or an error) leaves the previous output file exactly as
    it was, and no temporary file behind."""
    out = tmp_path / f"out{suffix}"
    batch.write(batch.generate(30, 1), out, rules)
    before = out.read_bytes()
    with pytest.raises(type(error)):
        batch.write(batch.generate(400, 2), out, rules, chunk_size=50, progress=_stopper(200, error))
    assert out.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [out.name]


@pytest.mark.parametrize("suffix", [".parquet", ".jsonl"])
def test_an_interrupted_first_batch_leaves_no_output(tmp_path: Path, rules: backrx.RuleSet,
                                                     suffix: str) -> None:
    """A first batch interrupted part-way leaves no output file at all (not an empty or partial one)."""
    with pytest.raises(KeyboardInterrupt):
        batch.write(batch.generate(400, 2), tmp_path / f"out{suffix}", rules, chunk_size=50,
                    progress=_stopper(200, KeyboardInterrupt()))
    assert list(tmp_path.iterdir()) == []


def test_a_finished_batch_replaces_the_old_output_whole(tmp_path: Path, rules: backrx.RuleSet) -> None:
    """A batch that runs to the end replaces the old output with every new row."""
    out = tmp_path / "out.parquet"
    batch.write(batch.generate(30, 1), out, rules)
    counts = batch.write(batch.generate(75, 2), out, rules, chunk_size=20)
    assert counts["rows"] == 75 and pq.read_table(out).num_rows == 75
    assert sorted(p.name for p in tmp_path.iterdir()) == [out.name]


def _started(folder: Path, out: Path, before: bytes) -> bool:
    """Whether the batch has begun its output: a new file in the folder, or the output changed."""
    names = {p.name for p in folder.iterdir()}
    return bool(names - {"in.jsonl", out.name}) or out.read_bytes() != before


@pytest.mark.slow
@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a child process is POSIX")
def test_sigint_to_a_running_batch_command_leaves_the_old_output(tmp_path: Path) -> None:
    """Ctrl-C (a real SIGINT) to a running `backrx batch` exits 130 and leaves the previous
    Parquet output byte for byte, with no temporary file beside it."""
    src, out = tmp_path / "in.jsonl", tmp_path / "out.parquet"
    src.write_bytes(b"".join(_line(p) for p in batch.generate(60_000, 4)))
    batch.write([base_profile()], out)
    before = out.read_bytes()
    code = "import sys; from backrx.cli import main; sys.exit(main(sys.argv[1:]))"
    child = subprocess.Popen([sys.executable, "-c", code, "batch", str(src), str(out), "--no-progress"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while not _started(tmp_path, out, before) and child.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.5)  # well inside the run: it takes several seconds
        assert child.poll() is None, "the batch ended before it could be interrupted"
        child.send_signal(signal.SIGINT)
        _, err = child.communicate(timeout=120)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == 130, err.decode(errors="replace")
    assert out.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl", "out.parquet"]


# --------------------------------------------------------------------------- property

_MALFORMED = st.one_of(
    st.binary(max_size=20).map(lambda b: b'{"age": "' + b.replace(b"\n", b"") + SECRET.encode() + b'\xff"}'),
    st.integers(min_value=33, max_value=3000).map(_deep),
    st.sampled_from([b"{nope", b"[1, 2", b'"text"', b"42", b"null", b"[]", b"\x0c",
                     b'{"red_flags": [], "red_flags": ["cauda_equina"]}',
                     b'{"age": "' + SECRET.encode() + b'", "red_flags": []}', b'{"unknown_field": 1}']),
)
_LINE = st.one_of(st.integers(0, 10_000).map(lambda seed: ("ok", seed)),
                  _MALFORMED.map(lambda raw: ("bad", raw)))


@settings(max_examples=60)
@given(lines=st.lists(_LINE, max_size=12), blank_lines=st.booleans())
def test_rows_out_equal_rows_in_and_good_rows_equal_recommend(
        tmp_path_factory: pytest.TempPathFactory, rules: backrx.RuleSet,
        lines: list[tuple[str, Any]], blank_lines: bool) -> None:
    """For any mix of good and malformed lines, a batch gives one row per line in order; each
    good line's row has the outcome and urgency `recommend` gives that profile, each malformed
    line's row an error code and no outcome, and no error repeats the input."""
    folder = tmp_path_factory.mktemp("mix")
    profiles = {seed: batch.generate(1, seed)[0] for kind, seed in lines if kind == "ok"}
    raw = b"".join((_line(profiles[v]) if kind == "ok" else v + b"\n") + (b"\n" if blank_lines else b"")
                   for kind, v in lines)
    (folder / "in.jsonl").write_bytes(raw)
    found = _run_batch(folder / "in.jsonl", folder / "out.jsonl")
    assert len(found) == len(lines)
    assert [r["row"] for r in found] == list(range(len(lines)))
    for (kind, value), row in zip(lines, found, strict=True):
        if kind == "ok":
            rec = rules.recommend(profiles[value])
            assert (row["error"], row["outcome"]) == (None, rec.outcome)
            assert row["urgency"] == (rec.referral.urgency if rec.referral else None)
        else:
            assert row["error"] and row["outcome"] is None
    assert SECRET not in (folder / "out.jsonl").read_text(encoding="utf-8")
    report = batch.diff(rules, rules, batch.read_profiles(folder / "in.jsonl"))
    assert report.profiles == len(lines)
    assert report.invalid == sum(1 for row in found if row["error"])
    assert report.changed == 0
    os.remove(folder / "out.jsonl")
