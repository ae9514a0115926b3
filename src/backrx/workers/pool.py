"""Batches over worker processes: a RuleSet pickled once per worker, profiles sent in chunks.

The workers are started with the ``spawn`` method, never ``fork``: a forked child would inherit
the parent's engine locks and C state mid-flight. Each worker receives the pickled RuleSet once
(it reloads the pack from its content and checks the digest, see `backrx.workers.transport`) and
then handles chunks of profiles. Results come back in input order.

``workers=N`` means N processes doing the work: N - 1 workers and this process, which runs the
next chunk itself whenever the result it waits for is not ready (`ordered_map`'s ``local``).
Measured on 2 cores: with two workers and this process only collecting, the collecting (about
0.3 ms a result to unpickle and re-validate the profile) and the workers' start-up (about 1 s,
during which nothing was made) competed with the workers for the cores; now a worker's start-up
overlaps with work done here, and half of the results never cross a process boundary.

Sending a Recommendation between processes costs about as much as making it (pickling about
100 pydantic models), so while a worker runs a chunk its RuleSet builds equal prescriptions,
phases, exclusions and firings once (`share_built`; references and exercises are shared
already); pickle then sends each distinct part once and the parent rebuilds it once (measured:
transfer about 1.0 ms -> 0.1 ms a recommendation, for about 0.03 ms of keying).
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import signal
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import closing
from itertools import islice
from typing import Any, Protocol

from pydantic import BaseModel, ValidationError

from backrx.errors import EngineError
from backrx.workers.collector import collector_paused


class RuleSet(Protocol):
    """What a worker needs of a backrx.ruleset.RuleSet (named here, so this module does not
    import the one that imports it)."""

    def recommend(self, profile: Any, *, locale: str | None = None) -> Any:
        """One recommendation (see backrx.ruleset.RuleSet.recommend)."""
        ...  # pragma: no cover

    def share_equal_parts(self, on: bool) -> None:
        """Build equal parts once while on (see backrx.ruleset.RuleSet.share_equal_parts)."""
        ...  # pragma: no cover

Task = Callable[[Any, list[Any]], list[Any]]  # (what the workers hold, a chunk) -> results

#: Profiles per task when the caller does not say: large enough that the per-task cost (a
#: round trip, a pickle of the shared parts) is small, small enough to keep both cores busy.
DEFAULT_CHUNK = 200

_rules: Any = None  # what this worker process holds: a RuleSet, or a pair of them


def _init_worker(rules: Any) -> None:
    global _rules
    # Ctrl-C reaches the whole process group: only the parent handles it (and stops the pool);
    # a worker that caught it would report it as a task's error and carry on.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _rules = rules  # unpickling it (in the pool's start-up) reloaded the pack(s) by content
    gc.freeze()  # the pack and engine never change: keep the collector off them


def _run_task(task: Task, chunk: list[Any]) -> list[Any]:
    assert _rules is not None, "worker started without a RuleSet"
    with collector_paused():
        try:
            return task(_rules, chunk)
        finally:
            # What the task kept (the pack's caches) stays: keep the collector off it, so the
            # pickling of this result that follows (with the collector on) scans only new objects.
            gc.freeze()


class Invalid:
    """A profile a worker found invalid: the parent validates it again to raise the same error."""

    __slots__ = ("index",)

    def __init__(self, index: int) -> None:
        self.index = index


def recommend_task(rules: RuleSet, chunk: list[Any]) -> list[Any]:
    """Recommendations for a chunk, each without its profile (the parent puts it back); an
    invalid profile ends the chunk with an `Invalid`.

    While the chunk runs, the RuleSet builds equal prescriptions and firings once
    (`share_built`), so that pickle sends each of them once."""
    out: list[Any] = []
    rules.share_equal_parts(True)
    try:
        for index, profile in enumerate(chunk):
            try:
                rec = rules.recommend(profile)
            except ValidationError:
                out.append(Invalid(index))
                break
            # The profile stays behind: the parent validates its own copy of the input again
            # (about a third of what a result costs to send, measured), see _take.
            out.append(rec.model_copy(update={"profile": None}))
    finally:
        rules.share_equal_parts(False)
    return out


def recommend_here(rules: RuleSet, chunk: list[Any]) -> list[Any]:
    """A chunk's recommendations made in this process (profiles kept), ended by an `Invalid`
    at the first invalid profile, as `recommend_task` ends it."""
    out: list[Any] = []
    for index, profile in enumerate(chunk):
        try:
            out.append(rules.recommend(profile))
        except ValidationError:
            out.append(Invalid(index))
            break
    return out


def _plain(value: Any, pins: list[Any]) -> Any:
    """A hashable key, equal exactly for equal plain data; numbers keep their type (1, 1.0 and
    true are written differently); a model counts by identity (and is kept alive by ``pins``)."""
    kind = type(value)
    if kind is str or value is None:
        return value
    if kind is dict:
        return (dict, *[(k, _plain(v, pins)) for k, v in value.items()])
    if kind is list or kind is tuple:
        return (kind, *[_plain(v, pins) for v in value])
    if kind is bool or kind is int or kind is float:
        return (kind, value)
    if isinstance(value, BaseModel):
        pins.append(value)
        return (BaseModel, id(value))
    raise TypeError(kind)


def share_built(table: dict[Any, Any], program: dict[str, Any] | None, trace: list[Any]) -> None:
    """Replace the prescriptions and firings of one result's plain data by models built once
    per chunk: equal data gives the very same (frozen) object."""
    from backrx.model.recommendation import Exclusion, Firing, Phase, Prescription

    pins: list[Any] = table.setdefault("pins", [])

    def built(kind: type[BaseModel], data: Any) -> Any:
        try:
            key = (kind, _plain(data, pins))
        except TypeError:
            return data
        found = table.get(key)
        if found is None:
            found = table[key] = kind.model_validate(data)
        return found

    if program is not None:
        for phase in program["phases"]:
            phase["prescriptions"] = [built(Prescription, p) for p in phase["prescriptions"]]
        program["phases"] = [built(Phase, phase) for phase in program["phases"]]
        if "excluded" in program:
            program["excluded"] = [built(Exclusion, e) for e in program["excluded"]]
    trace[:] = [built(Firing, f) for f in trace]


def _chunks(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    it = iter(items)
    while chunk := list(islice(it, size)):
        yield chunk


class Done(list):  # type: ignore[type-arg]
    """The results of a chunk this process ran itself (see `ordered_map`)."""

    __slots__ = ()


def ordered_map(rules: Any, items: Iterable[Any], task: Task, *, workers: int,
                chunk_size: int | None = None,
                local: Task | None = None) -> Generator[tuple[list[Any], list[Any]], None, None]:
    """``(chunk, task(rules, chunk))`` for consecutive chunks of ``items``, in order, computed in
    ``workers`` processes. At most a few chunks per worker are in flight, so a long iterable is
    never read whole into memory.

    With ``local`` (the task as this process runs it), this process is one of the ``workers``:
    it starts ``workers - 1`` worker processes, and whenever the next result is not ready yet it
    runs the next chunk itself (its results come as a `Done` list). It pays no transfer for its
    own chunks and does not sit idle while the workers start (measured on 2 cores: x1.3 -> x1.8).
    """
    size = chunk_size or DEFAULT_CHUNK
    if size < 1:
        raise ValueError("chunk_size must be at least 1")
    context = multiprocessing.get_context("spawn")
    # A slot per chunk, in input order: a Future (a worker's) or a Done (this process's).
    slots: deque[tuple[list[Any], Future[list[Any]] | Done]] = deque()
    procs = workers - 1 if local is not None else workers
    window = procs * 3
    pool = ProcessPoolExecutor(max_workers=procs, mp_context=context, initializer=_init_worker,
                               initargs=(rules,))
    finished = False
    chunks = _chunks(items, size)
    sent = ahead = 0  # chunks in the workers' hands; chunks this process ran, not yet taken
    exhausted = False  # every chunk has been read from ``items``
    try:
        for chunk in islice(chunks, window):
            slots.append((chunk, pool.submit(_run_task, task, chunk)))
            sent += 1
        while slots:
            chunk, job = slots[0]
            if (local is not None and isinstance(job, Future) and not job.done()
                    and ahead < 2 * window + 2):
                mine = None if exhausted else next(chunks, None)
                if mine is not None:  # the workers are busy: run the next chunk here
                    slots.append((mine, Done(local(rules, mine))))
                    ahead += 1
                    continue
                exhausted = True
                if _steal(slots, rules, local):  # none left to read: take back a queued one
                    sent -= 1
                    ahead += 1
                    continue
            slots.popleft()
            if isinstance(job, Done):
                result: list[Any] = job
                ahead -= 1
            else:
                result = _result(job)
                sent -= 1
            while sent < window and (nxt := next(chunks, None)) is not None:
                slots.append((nxt, pool.submit(_run_task, task, nxt)))
                sent += 1
            yield chunk, result
        finished = True
    finally:
        for _, job in slots:
            if isinstance(job, Future):
                job.cancel()
        # After an error, an interrupt or a consumer that stopped early, what is queued is
        # cancelled and only the chunks already in a worker's hands are finished (a few
        # seconds at most). Killing the workers instead can leave a half-written result in the
        # pool's pipe, and the pool then never shuts down.
        pool.shutdown(wait=True, cancel_futures=not finished)


def _steal(slots: deque[tuple[list[Any], Future[list[Any]] | Done]], rules: Any, local: Task) -> bool:
    """Run here the last chunk that no worker has taken yet (its future still cancellable), so
    that at the end of a batch this process does not wait while a worker works through a queue."""
    for index in range(len(slots) - 1, 0, -1):
        chunk, job = slots[index]
        if isinstance(job, Future) and job.cancel():
            slots[index] = (chunk, Done(local(rules, chunk)))
            return True
    return False


def _result(future: Future[list[Any]]) -> list[Any]:
    try:
        return future.result()
    except BrokenProcessPool as exc:
        raise EngineError(f"a backrx worker process stopped unexpectedly ({exc}); "
                          "the batch was not finished") from None


def recommend_parallel(rules: RuleSet, profiles: Iterable[Any], *, workers: int,
                       chunk_size: int | None = None) -> list[Any]:
    """What ``rules.recommend_many(profiles)`` returns, computed in worker processes."""
    out: list[Any] = []
    with collector_paused():  # as in recommend_many: the growing list of results is no cycle
        _collect(rules, profiles, workers, chunk_size, out)
    return out


def _collect(rules: RuleSet, profiles: Iterable[Any], workers: int, chunk_size: int | None,
             out: list[Any]) -> None:
    with closing(ordered_map(rules, profiles, recommend_task, workers=workers,
                             chunk_size=chunk_size, local=recommend_here)) as chunks:
        _take(rules, chunks, out)


def _take(rules: RuleSet, chunks: Iterable[tuple[list[Any], list[Any]]], out: list[Any]) -> None:
    from backrx.model.profile import validated_profile

    for chunk, results in chunks:
        done = results[:-1] if results and isinstance(results[-1], Invalid) else results
        if isinstance(results, Done):
            out.extend(done)  # made here, profiles and all
        else:
            # Each result gets back the profile it was made for, validated here as the worker did.
            out.extend(rec.model_copy(update={"profile": validated_profile(profile)})
                       for rec, profile in zip(done, chunk, strict=False))
        if done is not results:
            rules.recommend(chunk[results[-1].index])  # raises the same ValidationError here
            raise EngineError("a worker refused a profile that validates here")  # pragma: no cover


def cpu_count() -> int:
    """The cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        return os.cpu_count() or 1
