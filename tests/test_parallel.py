"""Worker processes: this process helps, the order holds, and a pack sent again is not parsed again."""

from __future__ import annotations

import os
import pickle
from contextlib import closing
from typing import Any

import pytest

import backrx
from backrx import batch
from backrx.workers import pool as _parallel
from backrx.workers import transport as _transport


def _tagged(holder: Any, chunk: list[int]) -> list[tuple[int, int]]:
    """Each item with the id of the process that handled it."""
    return [(os.getpid(), item) for item in chunk]


def test_this_process_and_a_worker_share_the_chunks_in_order() -> None:
    """With a local task, workers=2 starts one worker and runs chunks here while it is busy;
    every item comes back once, in input order, and both processes did some of them."""
    items = list(range(400))
    with closing(_parallel.ordered_map("held", iter(items), _tagged, workers=2, chunk_size=5,
                                       local=_tagged)) as stream:
        got = [pair for _, chunk in stream for pair in chunk]
    assert [item for _, item in got] == items
    pids = {pid for pid, _ in got}
    assert os.getpid() in pids and len(pids) == 2


def test_without_a_local_task_only_workers_run_chunks() -> None:
    """Without a local task every chunk runs in one of the worker processes, never here."""
    items = list(range(60))
    with closing(_parallel.ordered_map("held", iter(items), _tagged, workers=2, chunk_size=7)) as stream:
        got = [pair for _, chunk in stream for pair in chunk]
    assert [item for _, item in got] == items
    assert os.getpid() not in {pid for pid, _ in got}


@pytest.mark.slow
def test_rows_and_recommendations_with_workers_equal_serial(rules: backrx.RuleSet) -> None:
    """Over a generated cohort split into many chunks, workers=2 gives the serial rows and the
    serial recommendations (as JSON, byte for byte), in input order."""
    cohort = batch.generate(900, seed=31)
    serial = [r.model_dump_json() for r in rules.recommend_many(cohort)]
    parallel = [r.model_dump_json() for r in rules.recommend_many(iter(cohort), workers=2, chunk_size=25)]
    assert parallel == serial
    assert list(batch.rows(cohort, rules, workers=2, chunk_size=25)) == list(batch.rows(cohort, rules))


def test_a_pack_received_again_is_hashed_not_parsed(rules: backrx.RuleSet,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """The same pickled pack arriving again (Dask and Spark send it with every task) is checked
    by the hash of its bytes, without parsing it again, and gives the same RuleSet."""
    _transport.clear_cache()
    data = pickle.dumps(rules)
    first = pickle.loads(data)
    parsed: list[int] = []
    real = _transport.digest_of_files
    monkeypatch.setattr(_transport, "digest_of_files", lambda *a: parsed.append(1) or real(*a))
    again = pickle.loads(data)
    assert again is first and parsed == []


def test_changed_bytes_are_parsed_and_refused_after_a_good_copy(rules: backrx.RuleSet) -> None:
    """After a good copy of a pack was received, a copy whose bytes were changed on the way (its
    claimed hashes kept) is still parsed and refused with digest-mismatch."""
    _transport.clear_cache()
    pickle.loads(pickle.dumps(rules))
    content = rules._content
    assert content is not None
    files = tuple((name, data + b"\nforged: 1\n" if name == "triage.yaml" else data)
                  for name, data in content.files)
    forged = _transport.PackContent(files, content.digest, content.path, content.engine,
                                    content.content_digest)
    with pytest.raises(backrx.RuleError) as caught:
        _transport.verify(forged)
    assert {p.code for p in caught.value.problems} == {"digest-mismatch"}
