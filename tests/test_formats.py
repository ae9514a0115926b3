"""Plans that survive upgrades: stored formats load, migrate and adjust; the digest ignores formatting."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import backrx
from backrx.cli import main

FIXTURES = Path(__file__).parent / "fixtures"
ALL = sorted(FIXTURES.glob("format-*/*.json"))


def _load(path: Path) -> backrx.Recommendation:
    return backrx.Recommendation.model_validate_json(path.read_text(encoding="utf-8"))


def _next_round(rec: backrx.Recommendation, date: str) -> dict[str, object]:
    assert rec.program is not None
    first = next(p.exercise.id for p in rec.program.phase_now.prescriptions
                 if p.exercise.category != "education")
    return {"date": date, "responses": [{"exercise_id": first, "pain_during": 2, "next_day": "same",
                                         "peripheralized": False}],
            "outcomes": {"nprs": 3}}


def test_there_is_a_fixture_of_every_format() -> None:
    """tests/fixtures keeps recommendations written in format 1 (backrx 0.1) and the current format."""
    formats = {int(p.parent.name.split("-")[1]) for p in ALL}
    assert formats == set(range(1, backrx.model.recommendation.FORMAT_VERSION + 1))


@pytest.mark.parametrize("path", ALL, ids=[f"{p.parent.name}/{p.stem}" for p in ALL])
def test_a_stored_recommendation_loads_migrates_and_adjusts(path: Path, rules: backrx.RuleSet) -> None:
    """Every stored format loads, re-plans on this release's pack replaying its history, and adjusts."""
    stored = _load(path)
    assert stored.format_version == int(path.parent.name.split("-")[1])
    migrated = backrx.migrate(stored, rules)
    assert migrated.migration is not None and migrated.migration.from_format == stored.format_version
    assert migrated.format_version == backrx.model.recommendation.FORMAT_VERSION
    assert migrated.ruleset.digest == rules.digest
    assert len(migrated.adjustments) == len(stored.adjustments)
    rec = backrx.adjust(migrated, _next_round(migrated, "2026-06-01"), rules=rules)
    assert rec.progress is not None and rec.adjustments[-1].feedback.date is not None
    assert backrx.Recommendation.model_validate_json(rec.model_dump_json()) == rec
    original = rules.recommend(stored.profile)  # type: ignore[arg-type]
    assert original.program is not None and rec.program is not None
    assert backrx.replay(original.program, rec.adjustments) == rec.program


def test_format_1_rounds_read_as_diffs() -> None:
    """A format-1 round (full before/after copies) reads as diffs by exercise id."""
    stored = _load(FIXTURES / "format-1" / "chronic-extension-2-rounds.json")
    changes = [c for r in stored.adjustments for c in r.changes]
    drop = next(c for c in changes if c.action == "drop")
    assert drop.exercise_id == "cat-camel" and drop.phases == ["calm"] and drop.prescription is None
    progress = next(c for c in changes if c.action == "progress")
    assert progress.dose is not None and progress.dose.reps == 12


def test_an_old_format_is_re_planned_on_its_first_adjustment(rules: backrx.RuleSet) -> None:
    """adjust() re-plans a stored 0.1 recommendation on this pack (listing what changed), then adjusts."""
    stored = _load(FIXTURES / "format-1" / "chronic-extension-2-rounds.json")
    assert stored.ruleset.digest != rules.digest
    rec = backrx.adjust(stored, _next_round(stored, "2026-06-01"), rules=rules)
    assert rec.format_version == 2 and rec.migration is not None and rec.migration.from_format == 1
    assert len(rec.adjustments) == len(stored.adjustments) + 1
    undated = backrx.adjust(stored, {"responses": []}, rules=rules)  # like 0.1 feedback
    assert undated.adjustments[-1].feedback.date is None and undated.format_version == 2
    with pytest.raises(backrx.FeedbackError) as info:  # from now on, format 2: dated rounds only
        backrx.adjust(undated, {"responses": []}, rules=rules)
    assert info.value.code == "date-required"


def test_a_format_2_recommendation_on_a_changed_pack_must_be_migrated(pack_copy: Path) -> None:
    """A current-format plan is not silently re-planned: another pack is refused with pack-changed."""
    stored = _load(FIXTURES / "format-2" / "chronic-extension-3-rounds.json")
    (pack_copy / "pack.yaml").write_text("name: other\nversion: '9'\n")
    other = backrx.load_rules(pack_copy, engine="reference")
    with pytest.raises(backrx.FeedbackError) as info:
        backrx.adjust(stored, _next_round(stored, "2026-06-01"), rules=other)
    assert info.value.code == "pack-changed" and "migrate" in str(info.value)


def test_undated_rounds_never_count_as_time(rules: backrx.RuleSet) -> None:
    """A format-1 recommendation's undated round is accepted, but no phase clock starts from it."""
    rec = rules.recommend({"age": 40, "duration_weeks": 20, "pain_site": "lower", "leg_pain": "none",
                           "pain_intensity": 4, "tolerance": "moderate", "red_flags": []})
    data = json.loads(rec.model_dump_json())
    del data["format_version"], data["backrx_version"]
    old = backrx.Recommendation.model_validate(data)
    assert old.format_version == 1 and old.backrx_version == "unknown"
    new = backrx.adjust(old, {"responses": []}, rules=rules)
    assert new.format_version == 2 and new.migration is None  # same pack: nothing to re-plan
    assert new.progress is not None and new.progress.phase is not None
    assert new.progress.phase.days is None and new.progress.phase.days_left is None


def test_the_digest_ignores_comments_and_formatting(pack_copy: Path, rules: backrx.RuleSet) -> None:
    """Comments, key order and quoting leave the digest alone; changing a value changes it."""
    dosing = pack_copy / "dosing.yaml"
    text = dosing.read_text(encoding="utf-8")
    dosing.write_text("# a clinic's note\n" + text.replace("layer: dosing", "layer: 'dosing'  # quoted"),
                      encoding="utf-8")
    pack = pack_copy / "pack.yaml"
    pack.write_text(pack.read_text(encoding="utf-8") + "\n\n# end\n", encoding="utf-8")
    same = backrx.load_rules(pack_copy, engine="reference")
    assert same.digest == rules.digest
    dosing.write_text(dosing.read_text(encoding="utf-8").replace(
        "{kind: repeated, phases: [calm], sets: 1, reps: 10,",
        "{kind: repeated, phases: [calm], sets: 1, reps: 8,"),
        encoding="utf-8")
    assert backrx.load_rules(pack_copy, engine="reference").digest != rules.digest


def test_migrate_lists_what_changed(pack_copy: Path, rules: backrx.RuleSet) -> None:
    """Re-planning on a pack with other doses replays the history and names the changed doses."""
    stored = _load(FIXTURES / "format-2" / "chronic-extension-3-rounds.json")
    dosing = pack_copy / "dosing.yaml"
    dosing.write_text(dosing.read_text(encoding="utf-8").replace(
        "{kind: repeated, phases: [calm], sets: 1, reps: 10,",
        "{kind: repeated, phases: [calm], sets: 1, reps: 8,"),
        encoding="utf-8")
    newer = backrx.load_rules(pack_copy, engine="reference")
    migrated = backrx.migrate(stored, newer)
    assert migrated.migration is not None and migrated.ruleset.digest == newer.digest
    assert any("dose" in line for line in migrated.migration.changes), migrated.migration.changes
    assert migrated.migration.from_ruleset == stored.ruleset
    assert backrx.adjust(migrated, _next_round(migrated, "2026-06-01"), rules=newer).progress is not None


def test_cli_adjust_migrate(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """`backrx adjust REC --migrate` re-plans a stored recommendation and says what changed."""
    rec_path = FIXTURES / "format-1" / "chronic-extension-2-rounds.json"
    assert main(["adjust", str(rec_path), "--migrate"]) == 0
    captured = capsys.readouterr()
    assert "migrated:" in captured.err
    data = json.loads(captured.out)
    assert data["format_version"] == 2 and data["migration"]["from_format"] == 1
    fb = tmp_path / "fb.yaml"
    fb.write_text("date: 2026-06-01\nresponses: []\n")
    assert main(["adjust", str(rec_path), str(fb), "--migrate", "--format", "text"]) == 0
    assert "Progress (2026-06-01" in capsys.readouterr().out


def test_the_published_schema_describes_adjusted_recommendations(rules: backrx.RuleSet) -> None:
    """`backrx schema recommendation` validates the JSON of an adjusted plan (compact fields included)."""
    import jsonschema

    schema = backrx.Recommendation.model_json_schema(mode="serialization")
    assert "progress" in schema["properties"] and "format_version" in schema["properties"]
    stored = _load(FIXTURES / "format-2" / "chronic-extension-3-rounds.json")
    data = json.loads(backrx.adjust(stored, _next_round(stored, "2026-06-01"), rules=rules)
                      .model_dump_json()) if stored.ruleset.digest == rules.digest else \
        json.loads(backrx.migrate(stored, rules).model_dump_json())
    jsonschema.validate(data, schema)
