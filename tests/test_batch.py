"""backrx.batch: flat result tables from many profiles, files in and out, Dask, Spark, pack diff."""

from __future__ import annotations

import csv
import importlib.util
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

import backrx
from backrx import batch
from backrx.cli import main
from backrx.model.recommendation import Phase, Recommendation
from conftest import base_profile

pa = pytest.importorskip("pyarrow")
pd = pytest.importorskip("pandas")
pq = pytest.importorskip("pyarrow.parquet")


def _cohort(count: int = 120, seed: int = 3) -> list[dict[str, Any]]:
    return batch.generate(count, seed)


def test_generate_is_seeded_and_valid(rules: backrx.RuleSet) -> None:
    """The same seed gives the same synthetic profiles, and every one of them is valid."""
    first, again = batch.generate(200, 7), batch.generate(200, 7)
    assert first == again and first != batch.generate(200, 8)
    assert all(backrx.Profile.model_validate(p) for p in first)


def test_rows_match_each_recommendation(rules: backrx.RuleSet) -> None:
    """Each row reports the outcome, urgency, pathways, risk, per-phase counts and rules of its
    own recommendation, in input order."""
    profiles = _cohort(60)
    found = list(batch.rows(profiles, rules))
    assert [row["row"] for row in found] == list(range(60))
    for profile, row in zip(profiles, found, strict=True):
        rec = rules.recommend(profile)
        assert row["outcome"] == rec.outcome
        assert row["urgency"] == (rec.referral.urgency if rec.referral else None)
        assert row["pathways"] == rec.classification.pathways
        assert row["startback_risk"] == rec.classification.startback_risk
        assert row["rules"] == [f.rule_id for f in rec.trace]
        assert row["digest"] == rules.digest and row["error"] is None
        for phase in rules.pack.phases:
            counts = {p.id: len(p.prescriptions) for p in rec.program.phases} if rec.program else {}
            assert row[f"exercises_{phase.id}"] == counts.get(phase.id)


def test_columns_follow_the_output_schema(rules: backrx.RuleSet) -> None:
    """Minutes per week and warnings are columns exactly when the output models have them."""
    names = [name for name, _ in batch.columns(rules)]
    has_minutes = "minutes_per_week" in Phase.model_fields
    has_warnings = "warnings" in Recommendation.model_fields
    assert any(n.startswith("minutes_per_week_") for n in names) == has_minutes
    assert ("warnings" in names) == has_warnings
    per_phase = [n for n in names if n.startswith("exercises_")]
    assert per_phase == [f"exercises_{p.id}" for p in rules.pack.phases]


def test_invalid_rows_get_an_error_code_without_stopping(rules: backrx.RuleSet) -> None:
    """An invalid profile gets error=invalid-profile and its field paths, never its values;
    the rows after it are still computed."""
    profiles = [base_profile(), {**base_profile(), "red_flags": ["hiv_positive"]}, base_profile(age=70)]
    found = list(batch.rows(profiles, rules))
    assert [r["error"] for r in found] == [None, "invalid-profile", None]
    assert found[1]["outcome"] is None and found[2]["outcome"] == "program"
    assert any(f.startswith("red_flags.0") for f in found[1]["error_fields"])
    assert "hiv_positive" not in json.dumps(found[1])


def test_a_missing_red_flag_answer_is_an_error_not_a_no(rules: backrx.RuleSet) -> None:
    """A table row with an empty red_flags cell is refused (unanswered), not read as none."""
    frame = pd.DataFrame([{**base_profile(), "red_flags": None}])
    (row,) = batch.rows(frame, rules)
    assert row["error"] == "invalid-profile" and "red_flags: missing" in row["error_fields"]


def test_dataframe_arrow_and_dotted_columns_give_the_same_rows(rules: backrx.RuleSet) -> None:
    """A pandas DataFrame, an Arrow table and dotted (flattened) columns give the same rows as
    the profiles themselves."""
    profiles = _cohort(50)
    expected = list(batch.rows(profiles, rules))
    assert list(batch.rows(pd.DataFrame(profiles), rules)) == expected
    assert list(batch.rows(pa.Table.from_struct_array(pa.array(profiles)), rules)) == expected
    flat = pd.json_normalize(profiles)  # findings.sitting_hours_per_day, ... with NaN for absent
    assert list(batch.rows(flat, rules)) == expected


def test_id_field_is_reported_and_not_validated(rules: backrx.RuleSet) -> None:
    """An id field rides along in the id column and is not part of the profile."""
    profiles = [{**p, "patient": f"P{i}"} for i, p in enumerate(_cohort(5))]
    found = list(batch.rows(profiles, rules, id_field="patient"))
    assert [r["id"] for r in found] == [f"P{i}" for i in range(5)]
    assert all(r["error"] is None for r in found)


@pytest.mark.slow
def test_rows_with_workers_equal_serial(rules: backrx.RuleSet) -> None:
    """workers=2 gives the same rows, in order, with ids."""
    profiles = [{**p, "key": i} for i, p in enumerate(_cohort(300))] + [{"key": "bad"}]
    serial = list(batch.rows(profiles, rules, id_field="key"))
    assert list(batch.rows(profiles, rules, id_field="key", workers=2, chunk_size=23)) == serial


def _flatten(record: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in record.items():
        if isinstance(value, dict):
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[prefix + key] = value if isinstance(value, str) else json.dumps(value)
    return out


def _write_csv(path: Path, profiles: list[dict[str, Any]]) -> None:
    flat = [_flatten(p) for p in profiles]
    names = sorted({k for row in flat for k in row})
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, names)  # absent fields are empty cells
        writer.writeheader()
        writer.writerows(flat)


def test_read_profiles_from_every_format(tmp_path: Path, rules: backrx.RuleSet) -> None:
    """.jsonl, .json, .csv and .parquet files of the same profiles give the same rows."""
    profiles = _cohort(40)
    expected = list(batch.rows(profiles, rules))
    (tmp_path / "p.jsonl").write_text("".join(json.dumps(p) + "\n" for p in profiles), encoding="utf-8")
    (tmp_path / "p.json").write_text(json.dumps(profiles), encoding="utf-8")
    _write_csv(tmp_path / "p.csv", profiles)
    pq.write_table(pa.Table.from_struct_array(pa.array(profiles)), tmp_path / "p.parquet")
    for name in ("p.jsonl", "p.json", "p.csv", "p.parquet"):
        assert list(batch.rows(batch.read_profiles(tmp_path / name), rules)) == expected, name


def test_bad_json_lines_and_repeated_keys_are_error_rows(tmp_path: Path, rules: backrx.RuleSet) -> None:
    """A line that is not JSON, or repeats a key (which could hide a red flag), is an error row."""
    repeated = '{"age": 40, "duration_weeks": 2, "pain_site": "lower", "leg_pain": "none", ' \
               '"pain_intensity": 3, "tolerance": "low", "red_flags": ["cancer_history"], "red_flags": []}'
    path = tmp_path / "p.jsonl"
    path.write_text(json.dumps(base_profile()) + "\n{nope\n" + repeated + "\n", encoding="utf-8")
    found = list(batch.rows(batch.read_profiles(path), rules))
    assert [r["error"] for r in found] == [None, "invalid-json", "invalid-json"]
    assert "repeated" in found[2]["error_fields"][0]


def test_cli_batch_writes_parquet(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`backrx batch IN OUT` writes one Parquet row per profile and counts the outcomes."""
    profiles = [*_cohort(30), {"age": 1}]
    src = tmp_path / "p.jsonl"
    src.write_text("".join(json.dumps(p) + "\n" for p in profiles), encoding="utf-8")
    assert main(["batch", str(src), str(tmp_path / "out.parquet"), "--no-progress"]) == 0
    table = pq.read_table(tmp_path / "out.parquet")
    assert table.num_rows == 31 and table.column("error").to_pylist()[-1] == "invalid-profile"
    assert table.column("outcome").to_pylist()[:30] == [backrx.recommend(p).outcome for p in profiles[:30]]
    assert "31 profiles" in capsys.readouterr().err


def test_cli_batch_progress_bar_and_jsonl_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--progress draws a tqdm bar on stderr; a .jsonl output needs no pyarrow and has every row."""
    src = tmp_path / "p.jsonl"
    src.write_text("".join(json.dumps(p) + "\n" for p in _cohort(450)), encoding="utf-8")
    assert main(["batch", str(src), str(tmp_path / "out.jsonl"), "--progress"]) == 0
    err = capsys.readouterr().err
    assert "450/450" in err and "profile" in err
    lines = (tmp_path / "out.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["row"] for line in lines] == list(range(450))


def test_cli_batch_refuses_an_unknown_format(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An input with an unknown suffix is a one-line error with exit status 2."""
    (tmp_path / "p.txt").write_text("x", encoding="utf-8")
    assert main(["batch", str(tmp_path / "p.txt"), str(tmp_path / "o.parquet"), "--no-progress"]) == 2
    assert ".jsonl" in capsys.readouterr().err


# --------------------------------------------------------------------------- diff

NEEDLE = "findings.sitting_hours_per_day: {gte: 6}"


def _crosses(p: dict[str, Any]) -> bool:
    """Independent of backrx: lower crossed at >= 6 h of sitting but not at >= 8 h."""
    f = p.get("findings", {})
    sitting = f.get("sitting_hours_per_day")
    return (f.get("hamstring_tightness") is True and f.get("glute_weakness") is True
            and sitting is not None and 6 <= sitting < 8 and "sitting" not in f.get("worse_with", [])
            and p.get("mobility", "independent") != "wheelchair")


def test_diff_lists_exactly_the_profiles_that_cross_a_changed_threshold(pack_copy: Path) -> None:
    """Raising the sitting threshold from 6 to 8 hours changes exactly the profiles with 6 to
    under 8 hours (and the rest of the lower-crossed pattern), all blamed on that rule.

    The cohort keeps the people the old pack gives a program (a referral skips classification,
    so a threshold there cannot change it); which of them cross is worked out from their values."""
    text = (pack_copy / "classification.yaml").read_text(encoding="utf-8")
    assert NEEDLE in text
    new = tmp = pack_copy.parent / "new"
    shutil.copytree(pack_copy, tmp)
    (new / "classification.yaml").write_text(text.replace(NEEDLE, NEEDLE.replace("6", "8")), encoding="utf-8")
    cohort = _cohort(900, seed=11)
    for i, p in enumerate(cohort):
        p["red_flags"] = []
        if i % 3 == 0:
            p["findings"] = {**p.get("findings", {}), "hamstring_tightness": True, "glute_weakness": True,
                             "sitting_hours_per_day": 4 + (i % 11) * 0.5}
    old = backrx.load_rules(pack_copy)
    profiles = [p for p in cohort if old.recommend(p).outcome == "program"]
    expected = [i for i, p in enumerate(profiles) if _crosses(p)]
    assert len(expected) >= 20  # the cohort really probes the threshold
    report = batch.diff(old, new, profiles)
    assert report.changed_rows == expected
    assert report.rules_edited == ("classify.lower-crossed",) and not report.rules_added
    assert [g.rules for g in report.groups] == [("classify.lower-crossed",)]
    assert report.groups[0].aspects["pathways"] == len(expected)


@pytest.mark.slow
def test_diff_with_workers_equals_serial(pack_copy: Path) -> None:
    """A diff computed in worker processes reports the same changed rows and groups."""
    new = pack_copy.parent / "new"
    shutil.copytree(pack_copy, new)
    target = new / "classification.yaml"
    target.write_text(target.read_text(encoding="utf-8").replace(NEEDLE, NEEDLE.replace("6", "3")),
                      encoding="utf-8")
    profiles = _cohort(400, seed=4)
    serial = batch.diff(pack_copy, new, profiles)
    parallel = batch.diff(pack_copy, new, profiles, workers=2, chunk_size=50)
    assert serial.changed > 0 and parallel.as_dict() == serial.as_dict()


def test_diff_of_a_pack_with_itself_is_empty(rules: backrx.RuleSet) -> None:
    """The same pack on both sides changes nothing."""
    report = batch.diff(rules, rules, _cohort(80))
    assert (report.profiles, report.changed, report.groups) == (80, 0, [])


def test_diff_blames_an_added_rule(pack_copy: Path) -> None:
    """A new rule that refers more people is named as responsible for their new outcome."""
    new = pack_copy.parent / "new"
    shutil.copytree(pack_copy, new)
    (new / "extra.yaml").write_text(
        "layer: triage\nrules:\n  - id: triage.test.very-old\n    title: Test rule\n"
        "    when: {age: {gte: 90}}\n"
        "    then: {refer: {urgency: urgent, reason: See a doctor today (test rule).}}\n"
        "    rationale: A test rule.\n    sources: [hill-2008]\n", encoding="utf-8")
    profiles = [base_profile(age=a) for a in (40, 89, 90, 95)]
    report = batch.diff(pack_copy, new, profiles)
    assert report.changed_rows == [2, 3] and report.rules_added == ("triage.test.very-old",)
    assert report.groups[0].rules == ("triage.test.very-old",)
    assert report.groups[0].examples[0].outcome == ("program", "refer")


def test_cli_diff_reports_counts_and_examples(pack_copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`backrx diff OLD NEW --generated N` prints the edited rule, the count and examples."""
    new = pack_copy.parent / "new"
    shutil.copytree(pack_copy, new)
    target = new / "classification.yaml"
    target.write_text(target.read_text(encoding="utf-8").replace(NEEDLE, NEEDLE.replace("6", "2")),
                      encoding="utf-8")
    assert main(["diff", str(pack_copy), str(new), "--generated", "1000", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["profiles"] == 1000 and data["rules_edited"] == ["classify.lower-crossed"]
    assert data["changed"] > 0 and data["groups"][0]["rules"] == ["classify.lower-crossed"]
    assert data["groups"][0]["examples"]


# --------------------------------------------------------------------------- Dask and Spark


def _recipe(heading: str) -> str:
    """The first ```py block under a heading of docs/batch.md: the recipe as users read it."""
    text = (Path(__file__).resolve().parent.parent / "docs" / "batch.md").read_text(encoding="utf-8")
    section = text.split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0]
    return section.split("```py\n", 1)[1].split("```", 1)[0]


def _written(folder: Path, rules: backrx.RuleSet, order: str,
             id_field: str | None = None) -> list[dict[str, Any]]:
    """The rows a recipe wrote to Parquet, in input order (by the whole number in the ``order``
    column), typed as batch.rows types them."""
    table = pd.read_parquet(folder)
    table = table.sort_values(order, key=lambda column: column.astype("int64")).reset_index(drop=True)
    schema = pa.schema([f for f in batch.arrow_schema(rules, id_field=id_field) if f.name in table.columns])
    rows: list[dict[str, Any]] = pa.Table.from_pandas(table[schema.names], schema=schema,
                                                      preserve_index=False).to_pylist()
    return rows


@pytest.mark.slow
def test_dask_recipe_gives_the_same_rows_as_serial(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The Dask recipe of docs/batch.md, run as written (2,000 profiles, a LocalCluster of 2
    worker processes), writes the rows of a serial run."""
    pytest.importorskip("dask.dataframe")
    pytest.importorskip("distributed")
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, Any] = {"__name__": "__main__"}
    exec(compile(_recipe("Dask"), "docs/batch.md#dask", "exec"), namespace)
    rules = namespace["rules"]  # the RuleSet the recipe sent to its workers
    cohort = [{**profile, "patient_id": n} for n, profile in enumerate(batch.generate(2_000, seed=5))]
    serial = [{k: v for k, v in row.items() if k != "row"}
              for row in batch.rows(cohort, rules, id_field="patient_id")]
    assert _written(tmp_path / "results-dask", rules, "id", "patient_id") == serial


def _spark_ready() -> str | None:
    if importlib.util.find_spec("pyspark") is None:
        return "pyspark is not installed (pip install backrx[spark])"
    if shutil.which("java") is None:
        return "no Java runtime for Spark (apt-get install openjdk-17-jre-headless)"
    return None


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas:FutureWarning")
@pytest.mark.filterwarnings("ignore:The copy keyword is deprecated")  # pyspark 4.x with pandas 3
@pytest.mark.filterwarnings("ignore::DeprecationWarning:pyspark")
def test_spark_recipe_gives_the_same_rows_as_serial(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The Spark recipe of docs/batch.md, run as written on local[2] with PYSPARK_PYTHON unset,
    writes the rows of a serial run (CI requires it: BACKRX_REQUIRE_SPARK=1)."""
    missing = _spark_ready()
    if missing is not None:
        if os.environ.get("BACKRX_REQUIRE_SPARK") == "1":
            pytest.fail(f"BACKRX_REQUIRE_SPARK=1 but {missing}")
        pytest.skip(missing)
    monkeypatch.delenv("PYSPARK_PYTHON", raising=False)  # the recipe must set it itself
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, Any] = {"__name__": "__main__"}
    exec(compile(_recipe("Spark"), "docs/batch.md#spark", "exec"), namespace)
    rules = namespace["rules"]  # the RuleSet the recipe sent to its workers
    assert os.environ["PYSPARK_PYTHON"] == sys.executable
    serial = list(batch.rows(batch.generate(2_000, seed=9), rules))
    assert _written(tmp_path / "results-spark", rules, "row") == serial
