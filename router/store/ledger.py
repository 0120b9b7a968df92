"""The cost ledger's writer: one thread, group commit, and `record` returns only once the row is committed.

Callers enqueue; the writer thread takes everything queued (up to `max_batch`) and inserts it in one
transaction, so under load many requests share one commit (one WAL sync / one PostgreSQL commit)
instead of paying one each. A request that has answered its client has therefore been recorded.

When the database fails (a batch still fails after the retries) the writer is `healthy = False` until a
commit succeeds again: waiters get `LedgerError` at once (their requests are refused, so no answered
request lacks its row); records nobody waits for (refusals, clients that left) are kept and retried
every `probe_s`. Queued and kept records together are bounded by `max_queued`: over it, `record` raises
and `record_nowait` drops the record with an error log, so a dead database cannot exhaust memory.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from router.store.backend import Params, StoreError
from router.store.clock import to_us
from router.store.database import Database

__all__ = ["LedgerError", "LedgerFull", "LedgerRecord", "LedgerWriter"]

logger = logging.getLogger(__name__)

DEFAULT_MAX_BATCH = 1000
DEFAULT_MAX_QUEUED = 20_000  # a few MB of records: minutes of refusals while the database is down
DEFAULT_PROBE_S = 1.0  # how often a writer whose database failed tries again
RETRY_DELAYS_S = (0.1, 0.5, 2.0)  # then the batch fails: the database is gone, not busy

_INSERT = (
    "INSERT INTO ledger (ts_us, day, request_id, tenant, key_id, endpoint, model, provider, prompt_tokens, "
    "completion_tokens, cost, currency, latency_ms, route, objective, status, error_type, trace_id, "
    "cached_tokens, reasoning_tokens) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")


class LedgerError(StoreError):
    """A ledger record could not be committed."""


class LedgerFull(LedgerError):
    """The writer holds `max_queued` records already."""


@dataclass(frozen=True)
class LedgerRecord:
    """One request as it is billed. `ts` must be timezone-aware; days are counted in UTC.

    `prompt_tokens` includes `cached_tokens` (read from the provider's prompt cache, billed at the
    cached rate); `completion_tokens` includes `reasoning_tokens` (billed as output)."""

    ts: datetime
    request_id: str
    tenant: str
    key_id: str | None
    endpoint: str
    model: str
    provider: str
    prompt_tokens: int
    completion_tokens: int
    cost: float
    currency: str
    latency_ms: float
    route: str
    objective: str | None
    status: int
    error_type: str | None
    trace_id: str | None = None  # the request's OpenTelemetry trace (32 hex digits) when tracing is on
    cached_tokens: int = 0
    reasoning_tokens: int = 0

    def row(self) -> Params:
        """The insert's parameters, in `_INSERT`'s order. NOTE: spelled out, not `astuple` (which deep-
        copies every field): the writer thread builds rows while it holds the GIL the requests need."""
        day = self.ts.astimezone(UTC).date().isoformat()
        return (to_us(self.ts), day, self.request_id, self.tenant, self.key_id, self.endpoint, self.model,
                self.provider, self.prompt_tokens, self.completion_tokens, self.cost, self.currency,
                self.latency_ms, self.route, self.objective, self.status, self.error_type, self.trace_id,
                self.cached_tokens, self.reasoning_tokens)


_Waiter = tuple[asyncio.AbstractEventLoop, "asyncio.Future[None]"]
_Item = tuple[LedgerRecord, _Waiter | None]
CommitListener = Callable[[list[LedgerRecord], float, BaseException | None], None]
"""Told of every batch: its records, the seconds the commit took (retries included), the error or None."""
_NOTHING_NEW = object()


class LedgerWriter:
    """Writes ledger records from one background thread; see the module docstring.

    Records may be queued before `start`; they are written once it runs. After `close` no more are taken.
    """

    def __init__(self, db: Database, *, max_batch: int = DEFAULT_MAX_BATCH,
                 retry_delays_s: tuple[float, ...] = RETRY_DELAYS_S, max_queued: int = DEFAULT_MAX_QUEUED,
                 probe_s: float = DEFAULT_PROBE_S) -> None:
        self._db = db
        self._max_batch = max_batch
        self._retry_delays_s = retry_delays_s
        self._max_queued = max_queued
        self._probe_s = probe_s
        self._queued = 0  # in the queue or kept for a retry
        self._kept: list[LedgerRecord] = []  # unwaited records of failed batches (writer thread only)
        self.healthy = True  # False from a failed batch until a commit succeeds again
        self.dropped = 0  # unwaited records dropped because the queue was full
        self._queue: queue.SimpleQueue[_Item | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._closed = False
        self._thread: threading.Thread | None = None
        self.batches = 0   # committed transactions (for tests and metrics)
        self.rows = 0      # committed records
        self._listeners: list[CommitListener] = []

    def add_listener(self, listener: CommitListener) -> None:
        """Call `listener` (in the writer thread) after each batch, committed or not (e.g. metrics)."""
        self._listeners.append(listener)

    def start(self) -> None:
        """Start the writer thread."""
        with self._lock:
            if self._thread is not None or self._closed:
                raise RuntimeError("LedgerWriter.start: already started or closed")
            self._thread = threading.Thread(target=self._run, name="ledger-writer", daemon=True)
            self._thread.start()

    async def record(self, rec: LedgerRecord) -> None:
        """Queue `rec` and return once its transaction has committed; raises LedgerError if it failed."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        self._put((rec, (loop, future)))
        await future

    def record_nowait(self, rec: LedgerRecord) -> None:
        """Queue `rec` without waiting (error paths); a failure is logged, not raised (a full queue
        drops the record; a closed writer raises)."""
        try:
            self._put((rec, None))
        except LedgerFull:
            self.dropped += 1
            logger.error("ledger: queue full (%d records); record %s dropped", self._max_queued,
                         rec.request_id)

    def close(self, timeout_s: float = 10.0) -> None:
        """Write everything queued so far, then stop the thread (waiting at most `timeout_s`)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._queue.put(None)
            thread = self._thread
        if thread is None:
            return
        thread.join(timeout_s)
        if thread.is_alive():
            logger.error("ledger: writer still busy after %.1f s; queued records may be lost", timeout_s)

    def _put(self, item: _Item) -> None:
        with self._lock:  # NOTE: checked and queued under the lock, so nothing lands after close's sentinel
            if self._closed:
                raise LedgerError("the ledger writer is closed")
            if self._queued >= self._max_queued:
                raise LedgerFull(f"the ledger queue is full ({self._max_queued} records): the database is "
                                 "not keeping up or is down")
            self._queued += 1
            self._queue.put(item)

    def _run(self) -> None:
        stopping = False
        while not stopping:
            batch: list[_Item] = [(rec, None) for rec in self._kept]
            self._kept.clear()
            try:  # a writer with records to retry or a failed database wakes up to try again
                item: object = self._queue.get(timeout=None if self.healthy and not batch else self._probe_s)
            except queue.Empty:
                item = _NOTHING_NEW
            while isinstance(item, tuple):
                batch.append(item)
                if len(batch) >= self._max_batch:
                    break
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
            stopping = item is None
            if batch:
                self._commit(batch)
            elif not self.healthy:
                self._probe()

    def _commit(self, batch: list[_Item]) -> None:
        records = [rec for rec, _ in batch]
        started = time.perf_counter()
        error = self._write_with_retries(records)
        seconds = time.perf_counter() - started
        if error is None:
            self.batches += 1
            self.rows += len(batch)
            self._settled(len(batch))
            if not self.healthy:
                logger.warning("ledger: the database is back; writing again")
            self.healthy = True
        else:
            self._kept = [rec for rec, waiter in batch if waiter is None]
            logger.log(logging.ERROR if self.healthy else logging.DEBUG,
                       "ledger: %d record(s) not committed (%d kept to retry): %s", len(batch),
                       len(self._kept), error)
            self.healthy = False
            self._settled(len(batch) - len(self._kept))
        # Listeners first: a caller woken below sees metrics that already count its record.
        for listener in self._listeners:
            try:
                listener(records, seconds, error)
            except Exception:  # NOTE: a listener's bug must not stop the writer: waiters would hang
                logger.exception("ledger: commit listener failed")
        _wake_waiters([waiter for _, waiter in batch if waiter is not None],
                      None if error is None else LedgerError(f"ledger record not committed: {error}"))

    def _settled(self, count: int) -> None:
        with self._lock:
            self._queued -= count

    def _probe(self) -> None:
        try:
            with self._db.read() as cur:
                cur.fetchall("SELECT 1", [])
        except Exception as exc:  # any failure: still down
            logger.debug("ledger: the database is still unavailable (%s)", exc)
            return
        logger.warning("ledger: the database answers again")
        self.healthy = True

    def _write_with_retries(self, records: list[LedgerRecord]) -> BaseException | None:
        # NOTE: a database already known to be down gets one try per probe, not the retry series,
        # so refused requests are not held up by it.
        for delay in (*(self._retry_delays_s if self.healthy else ()), None):
            try:
                with self._db.write() as cur:
                    cur.executemany(_INSERT, [r.row() for r in records])
                return None
            # Any error (driver, disk, a bug): retry, then hand it to the waiters; never hang them.
            except Exception as exc:
                if delay is None:
                    return exc
                logger.warning("ledger: commit failed (%s); retrying in %.1f s", exc, delay)
                time.sleep(delay)
        raise AssertionError("unreachable")


def _wake_waiters(waiters: list[_Waiter], exc: BaseException | None) -> None:
    """Settle a batch's waiters: one wake-up per event loop, not one per record (each wake-up writes to
    the loop's self-pipe and costs the loop a turn)."""
    by_loop: dict[asyncio.AbstractEventLoop, list[asyncio.Future[None]]] = {}
    for loop, future in waiters:
        by_loop.setdefault(loop, []).append(future)
    for loop, futures in by_loop.items():
        try:
            loop.call_soon_threadsafe(_settle, futures, exc)
        except RuntimeError:  # the loop closed while we wrote: nobody is waiting any more
            logger.debug("ledger: the waiters' event loop is closed")


def _settle(futures: list[asyncio.Future[None]], exc: BaseException | None) -> None:
    for future in futures:
        if future.done():  # the waiter was cancelled; the record is written all the same
            continue
        if exc is None:
            future.set_result(None)
        else:
            future.set_exception(exc)
