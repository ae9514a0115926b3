"""Batches over worker processes: a RuleSet pickled once per worker, profiles sent in chunks.

The workers are started with the ``spawn`` method, never ``fork``: a forked child would inherit
the parent's engine locks and C state mid-flight. Each worker receives the pickled RuleSet once
(it reloads the pack from its content and checks the digest, see :mod:`backrx._transport`) and
then handles chunks of profiles. Results come back in input order.

Sending a Recommendation between processes costs about as much as making it (pickling about
100 pydantic models), so a worker first replaces equal immutable parts of the results of one
chunk (references, firings, doses, prescriptions, ...) by one shared object; pickle then sends
each distinct part once and the parent rebuilds it once (measured: transfer 1.0 ms -> ~0.1 ms
a recommendation).
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
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

from backrx.errors import EngineError

if TYPE_CHECKING:
    from backrx.ruleset import RuleSet

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
    paused = gc.isenabled()
    if paused:
        gc.disable()
    try:
        return task(_rules, chunk)
    finally:
        if paused:
            gc.enable()


class Invalid:
    """A profile a worker found invalid: the parent validates it again to raise the same error."""

    __slots__ = ("index",)

    def __init__(self, index: int) -> None:
        self.index = index


def recommend_task(rules: RuleSet, chunk: list[Any]) -> list[Any]:
    """Recommendations for a chunk; an invalid profile ends the chunk with an :class:`Invalid`."""
    out: list[Any] = []
    for index, profile in enumerate(chunk):
        try:
            out.append(rules.recommend(profile))
        except ValidationError:
            out.append(Invalid(index))
            break
    share_parts(out)
    return out


def share_parts(results: list[Any]) -> None:
    """Make equal immutable parts of these results one shared object (in place).

    The parts are the models that hold no list of models (a prescription with its exercise and
    dose, a firing, a reference, an exclusion, ...); equal means the same type and the same
    JSON from pydantic-core's serializer (which keeps 1, 1.0 and true apart). Containers (a
    recommendation, its program and phases) and the profile stay distinct objects.
    """
    table: dict[tuple[type, bytes], BaseModel] = {}
    seen: dict[int, BaseModel] = {}  # parts already shared (e.g. one Reference per source)

    def canon(model: BaseModel) -> BaseModel:
        found = seen.get(id(model))
        if found is not None:
            return found
        kind = type(model)
        found = table.setdefault((kind, kind.__pydantic_serializer__.to_json(model)), model)
        seen[id(model)] = seen[id(found)] = found
        return found

    def walk(model: BaseModel) -> None:
        fields = model.__dict__
        for name, value in fields.items():
            if type(value) is list and value and isinstance(value[0], BaseModel):
                for i, item in enumerate(value):
                    if _is_container(item):
                        walk(item)
                    else:
                        value[i] = canon(item)
            elif isinstance(value, BaseModel) and name != "profile":
                if _is_container(value):
                    walk(value)
                else:
                    fields[name] = canon(value)

    for result in results:
        if isinstance(result, BaseModel):
            walk(result)


def _is_container(model: BaseModel) -> bool:
    return any(type(v) is list and v and isinstance(v[0], BaseModel) for v in model.__dict__.values())


def _chunks(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    it = iter(items)
    while chunk := list(islice(it, size)):
        yield chunk


def ordered_map(rules: Any, items: Iterable[Any], task: Task, *, workers: int,
                chunk_size: int | None = None) -> Generator[tuple[list[Any], list[Any]], None, None]:
    """``(chunk, task(rules, chunk))`` for consecutive chunks of ``items``, in order, computed in
    ``workers`` processes. At most a few chunks per worker are in flight, so a long iterable is
    never read whole into memory."""
    size = chunk_size or DEFAULT_CHUNK
    if size < 1:
        raise ValueError("chunk_size must be at least 1")
    context = multiprocessing.get_context("spawn")
    pending: deque[tuple[list[Any], Future[list[Any]]]] = deque()
    window = workers * 3
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_init_worker,
                               initargs=(rules,))
    finished = False
    try:
        chunks = _chunks(items, size)
        for chunk in chunks:
            pending.append((chunk, pool.submit(_run_task, task, chunk)))
            if len(pending) >= window:
                break
        while pending:
            chunk, future = pending.popleft()
            try:
                result = future.result()
            except BrokenProcessPool as exc:
                raise EngineError(f"a backrx worker process stopped unexpectedly ({exc}); "
                                  "the batch was not finished") from None
            nxt = next(chunks, None)
            if nxt is not None:
                pending.append((nxt, pool.submit(_run_task, task, nxt)))
            yield chunk, result
        finished = True
    finally:
        for _, future in pending:
            future.cancel()
        # After an error, an interrupt or a consumer that stopped early, what is queued is
        # cancelled and only the chunks already in a worker's hands are finished (a few
        # seconds at most). Killing the workers instead can leave a half-written result in the
        # pool's pipe, and the pool then never shuts down.
        pool.shutdown(wait=True, cancel_futures=not finished)


def recommend_parallel(rules: RuleSet, profiles: Iterable[Any], *, workers: int,
                       chunk_size: int | None = None) -> list[Any]:
    """What ``rules.recommend_many(profiles)`` returns, computed in worker processes."""
    out: list[Any] = []
    paused = gc.isenabled()
    if paused:
        gc.disable()  # as in recommend_many: the growing list of results is no cycle
    try:
        _collect(rules, profiles, workers, chunk_size, out)
    finally:
        if paused:
            gc.enable()
    return out


def _collect(rules: RuleSet, profiles: Iterable[Any], workers: int, chunk_size: int | None,
             out: list[Any]) -> None:
    with closing(ordered_map(rules, profiles, recommend_task, workers=workers,
                             chunk_size=chunk_size)) as chunks:
        _take(rules, chunks, out)


def _take(rules: RuleSet, chunks: Iterable[tuple[list[Any], list[Any]]], out: list[Any]) -> None:
    for chunk, results in chunks:
        if results and isinstance(results[-1], Invalid):
            out.extend(results[:-1])
            rules.recommend(chunk[results[-1].index])  # raises the same ValidationError here
            raise EngineError("a worker refused a profile that validates here")  # pragma: no cover
        out.extend(results)


def cpu_count() -> int:
    """The cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        return os.cpu_count() or 1
