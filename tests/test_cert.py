"""The CERT report (Slade 2016): all 16 items for every bundled example, none empty, each naming the
rules that set it, as Markdown and JSON, from `backrx cert` and `--format cert`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.conftest import base_profile

import backrx
from backrx import cli
from backrx.pack.examples import example_names, example_text
from backrx.pack.read import bundled_path
from backrx.render.cert import cert_markdown, cert_report

#: CERT's 16 items; 7, 14 and 16 have two parts (Slade 2016, table 1).
NUMBERS = ["1", "2", "3", "4", "5", "6", "7a", "7b", "8", "9", "10", "11", "12", "13", "14a", "14b",
           "15", "16a", "16b"]


def _rec(rules: backrx.RuleSet, name: str) -> backrx.Recommendation:
    return rules.recommend(backrx.Profile.model_validate(yaml.safe_load(example_text(name))))


@pytest.mark.parametrize("name", example_names())
def test_every_example_gets_all_16_items_and_none_is_empty(rules: backrx.RuleSet, name: str) -> None:
    """Each bundled example's report has the 16 CERT items (19 entries with the a/b parts), in
    order, and every entry says something."""
    data = cert_report(_rec(rules, name), rules=rules)
    assert [i["number"] for i in data["items"]] == NUMBERS
    assert len({i["number"].rstrip("ab") for i in data["items"]}) == 16
    for item in data["items"]:
        assert item["title"].strip() and item["domain"].strip(), item["number"]
        assert item["text"] and all(line.strip() for line in item["text"]), item["number"]


@pytest.mark.parametrize("name", example_names())
def test_every_named_rule_is_a_rule_of_the_pack(rules: backrx.RuleSet, name: str) -> None:
    """The rules an item names as having set it are rules of the pack that made the plan."""
    known = {r.id for r in rules.pack.rules}
    for item in cert_report(_rec(rules, name), rules=rules)["items"]:
        assert set(item["rule_ids"]) <= known, item["number"]


def test_what_backrx_cannot_know_is_left_to_the_clinic(rules: backrx.RuleSet) -> None:
    """The provider item says plainly that the clinic must state the qualifications."""
    items = {i["number"]: i for i in cert_report(_rec(rules, "chronic-extension"), rules=rules)["items"]}
    assert items["2"]["clinic"] and "qualification" in items["2"]["clinic"]
    assert items["12"]["clinic"]


def test_the_dose_item_carries_each_prescription(rules: backrx.RuleSet) -> None:
    """Item 13 names every prescribed exercise with its dose in words, and the dosing rules that fired."""
    rec = _rec(rules, "chronic-extension")
    item = next(i for i in cert_report(rec, rules=rules)["items"] if i["number"] == "13")
    text = " ".join(item["text"])
    assert rec.program is not None
    for phase in rec.program.phases:
        for p in phase.prescriptions:
            assert p.exercise.name in text
            if p.dose.describe():
                assert p.dose.describe() in text
    assert set(item["rule_ids"]) == {f.rule_id for f in rec.trace if f.layer == "dosing"}


def test_a_referral_without_a_program_still_fills_every_item(rules: backrx.RuleSet) -> None:
    """When a referral replaced the program, items about the program say so and name the referral's
    rules; none is empty."""
    rec = _rec(rules, "red-flag-emergency")
    assert rec.program is None and rec.referral is not None
    items = cert_report(rec, rules=rules)["items"]
    eight = next(i for i in items if i["number"] == "8")
    assert "referral" in eight["text"][0] and set(rec.referral.rule_ids) <= set(eight["rule_ids"])


@settings(max_examples=15, deadline=None)
@given(rounds=st.lists(st.tuples(st.integers(0, 7), st.integers(1, 7)), min_size=1, max_size=3))
def test_delivered_as_planned_sums_the_recorded_sessions(rules: backrx.RuleSet,
                                                         rounds: list[tuple[int, int]]) -> None:
    """Item 16b reports the sessions done of those planned over every recorded round."""
    rec = rules.recommend(backrx.Profile.model_validate(base_profile()))
    for n, (done, planned) in enumerate(rounds):
        rec = backrx.adjust(rec, {"date": f"2026-01-{5 + n:02d}", "responses": [],
                                  "adherence": {"sessions_done": done, "sessions_planned": planned}},
                            rules=rules)
    item = next(i for i in cert_report(rec, rules=rules)["items"] if i["number"] == "16b")
    done_all, planned_all = sum(d for d, _ in rounds), sum(p for _, p in rounds)
    assert f"{done_all} of {planned_all}" in item["text"][0]


def test_markdown_has_a_section_per_item(rules: backrx.RuleSet) -> None:
    """The Markdown report has one heading per entry, numbered as CERT numbers them."""
    text = cert_markdown(_rec(rules, "stenosis"), rules=rules)
    headings = [line for line in text.splitlines() if line.startswith("## ")]
    assert [h.split(".")[0][3:] for h in headings] == NUMBERS


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    status = cli.main(argv)
    out, err = capsys.readouterr()
    return status, out, err


def test_the_command_line_writes_markdown_and_json(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """`backrx cert REC` writes Markdown, `--format json` the items as JSON, and `recommend --format
    cert` the same Markdown straight from a profile."""
    profile = tmp_path / "p.yaml"
    profile.write_text(example_text("chronic-extension"), encoding="utf-8")
    status, out, _ = _run(["recommend", str(profile), "--format", "json"], capsys)
    assert status == 0
    rec = tmp_path / "rec.json"
    rec.write_text(out, encoding="utf-8")
    status, md, _ = _run(["cert", str(rec)], capsys)
    assert status == 0 and md.startswith("# CERT")
    status, js, _ = _run(["cert", str(rec), "--format", "json"], capsys)
    data: dict[str, Any] = json.loads(js)
    assert status == 0 and [i["number"] for i in data["items"]] == NUMBERS
    status, direct, _ = _run(["recommend", str(profile), "--format", "cert"], capsys)
    assert status == 0 and direct == md


def test_a_broken_cert_file_is_refused_naming_it(tmp_path: Path) -> None:
    """A cert.yaml item with an unknown filler is a RuleError naming cert.yaml and the item."""
    pack = tmp_path / "pack"
    shutil.copytree(bundled_path(), pack)
    path = pack / "cert.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("fill: equipment", "fill: guesswork"),
                    encoding="utf-8")
    rules = backrx.load_rules(pack)
    rec = rules.recommend(backrx.Profile.model_validate(base_profile()))
    with pytest.raises(backrx.RuleError) as info:
        cert_report(rec, rules=rules)
    problem = info.value.problems[0]
    assert (problem.file, problem.code, problem.location) == ("cert.yaml", "unknown-value", "items[0].fill")
