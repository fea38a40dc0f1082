"""Parallel Scan of a table without point-in-time recovery -> change events, rate-limited and resumable.

``TotalSegments`` workers each scan one segment (``Segment``) with ``ConsistentRead`` (the page reflects every
write acknowledged before the request). Each page's items become INSERT change events stamped with the time just
before the page was requested, less ``clock_margin_us`` (the client's clock against DynamoDB's: a stream event
the page might have missed must not look older than the page). The caller lands each page (``on_page``); only
then does the segment's checkpoint move past it, so a crash re-reads at most the pages not yet landed
(at-least-once; the merge makes a re-landed page harmless).

Read capacity: a Scan consumes one read capacity unit per 4 KB of item data read (half with eventually consistent
reads), rounded up per page. All workers share one budget of ``read_units_per_second``: by default
``read_share`` of the table's provisioned read capacity; an on-demand table has no capacity to take a share of,
so the budget must be given. The units are counted from the items' sizes by DynamoDB's rules (and from
``ConsumedCapacity`` when the service reports more).

The checkpoint file holds, per segment, the last key read (``LastEvaluatedKey``: a claim id, protect the file like
the data), pages, items and units; it names the table and the segment count, and a different scan is refused.
"""

from __future__ import annotations

import base64
import json
import math
import os
import queue
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from claimflow.backfill.snapshot import (
    Snapshot,
    SnapshotError,
    item_event,
    snapshot_event_id,
    source_id,
    wire_image,
)
from claimflow.dynamodb import item_size
from claimflow.events import ChangeEvent, Rejection

READ_UNIT_BYTES = 4096
DEFAULT_CLOCK_MARGIN_US = 1_000_000
DEFAULT_READ_SHARE = 0.25
CHECKPOINT_VERSION = 1


def now_us() -> int:
    return time.time_ns() // 1000


def read_units(items: list[dict[str, Any]], consistent: bool) -> float:
    """Read capacity a Scan page of ``items`` consumes: their total size in 4 KB units, rounded up (x0.5 for
    eventually consistent reads)."""
    size = sum(item_size(wire_image(item)) for item in items)
    units = math.ceil(size / READ_UNIT_BYTES) if size else 1  # an empty page still costs a unit
    return float(units) if consistent else units / 2


class RateLimiter:
    """One budget of read units per second for every worker: a request waits until the units spent so far fit
    the rate. (DynamoDB also lends up to 300 s of unused capacity as burst; this never relies on it.)"""

    def __init__(self, units_per_second: float, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:  # fmt: skip
        if units_per_second <= 0:
            raise ValueError("the read rate must be positive")
        self.rate = units_per_second
        self._clock = clock
        self._sleep = sleep
        self._free_at = clock()
        self._lock = threading.Lock()
        self.waited_s = 0.0

    def wait(self) -> None:
        with self._lock:
            delay = self._free_at - self._clock()
        if delay > 0:
            self.waited_s += delay
            self._sleep(delay)

    def charge(self, units: float) -> None:
        with self._lock:
            self._free_at = max(self._free_at, self._clock()) + units / self.rate


def table_read_budget(description: Mapping[str, Any], read_share: float, read_units_per_second: float | None) -> float:
    """Read units per second the scan may use on a table (``DescribeTable``'s ``Table``).

    Raises:
        SnapshotError: an on-demand table without an explicit budget (nor a maximum on-demand throughput).
    """
    if read_units_per_second is not None:
        if read_units_per_second <= 0:
            raise SnapshotError("--read-units-per-second must be positive")
        return float(read_units_per_second)
    if not 0 < read_share <= 1:
        raise SnapshotError("--read-share must be in (0, 1]")
    on_demand = description.get("BillingModeSummary", {}).get("BillingMode") == "PAY_PER_REQUEST"
    provisioned = description.get("ProvisionedThroughput", {}).get("ReadCapacityUnits") or 0
    if not on_demand and provisioned > 0:
        return provisioned * read_share
    maximum = description.get("OnDemandThroughput", {}).get("MaxReadRequestUnits") or 0
    if maximum > 0:
        return maximum * read_share
    raise SnapshotError("the table is on-demand (no read capacity to take a share of): give "
                        "--read-units-per-second, e.g. what the application leaves unused at its peak")  # fmt: skip


# --- Checkpoints -------------------------------------------------------------------------------------------------


def _key_to_json(key: Mapping[str, Any] | None) -> dict[str, Any] | None:
    return None if key is None else wire_image(key)


def _key_from_json(key: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if key is None:
        return None
    out: dict[str, Any] = {}
    for name, value in key.items():
        (tag, inner), *_ = value.items()
        out[name] = {"B": base64.b64decode(inner)} if tag == "B" else {tag: inner}
    return out


@dataclass
class SegmentState:
    next_key: dict[str, Any] | None = None  # ExclusiveStartKey of the next page (boto3 form)
    done: bool = False
    pages: int = 0
    items: int = 0
    rejected: int = 0
    read_units: float = 0.0


@dataclass
class ScanCheckpoint:
    table: str
    total_segments: int
    scan_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    started_us: int | None = None  # just before the first page of the first run
    segments: dict[int, SegmentState] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for segment in range(self.total_segments):
            self.segments.setdefault(segment, SegmentState())

    @property
    def complete(self) -> bool:
        return all(s.done for s in self.segments.values())

    def to_json(self) -> dict[str, Any]:
        return {
            "version": CHECKPOINT_VERSION,
            "table": self.table,
            "total_segments": self.total_segments,
            "scan_id": self.scan_id,
            "started_us": self.started_us,
            "segments": {
                str(n): {
                    "next_key": _key_to_json(s.next_key),
                    "done": s.done,
                    "pages": s.pages,
                    "items": s.items,
                    "rejected": s.rejected,
                    "read_units": s.read_units,
                }
                for n, s in sorted(self.segments.items())
            },
        }

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> ScanCheckpoint:
        if obj.get("version") != CHECKPOINT_VERSION:
            raise SnapshotError("the checkpoint file is not a ClaimFlow scan checkpoint (version 1)")
        try:
            checkpoint = cls(
                table=str(obj["table"]),
                total_segments=int(obj["total_segments"]),
                scan_id=str(obj["scan_id"]),
                started_us=obj.get("started_us"),
                segments={
                    int(n): SegmentState(
                        _key_from_json(s["next_key"]),
                        bool(s["done"]),
                        int(s["pages"]),
                        int(s["items"]),
                        int(s.get("rejected", 0)),
                        float(s["read_units"]),
                    )
                    for n, s in obj["segments"].items()
                },
            )
        except (KeyError, TypeError, ValueError, AttributeError):
            raise SnapshotError("the checkpoint file is damaged (a field is missing or of the wrong type)") from None
        if set(checkpoint.segments) != set(range(checkpoint.total_segments)):
            raise SnapshotError("the checkpoint file is damaged (segments do not match total_segments)")
        return checkpoint


def load_checkpoint(path: Path, table: str, total_segments: int) -> ScanCheckpoint:
    """The checkpoint to resume from, or a new one when ``path`` does not exist.

    Raises:
        SnapshotError: the file is damaged or belongs to another scan (table or segment count).
    """
    if not path.exists():
        return ScanCheckpoint(table, total_segments)
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise SnapshotError(f"cannot read the checkpoint file {path}") from None
    checkpoint = ScanCheckpoint.from_json(obj)
    if checkpoint.table != table or checkpoint.total_segments != total_segments:
        raise SnapshotError(
            f"{path} is the checkpoint of a scan of {checkpoint.table} in {checkpoint.total_segments} segments: "
            "resume it with the same --table and --segments, or delete the file to start a new scan"
        )
    return checkpoint


def save_checkpoint(path: Path, checkpoint: ScanCheckpoint) -> None:
    """Write atomically (a crash leaves the old file or the new one, never half of one)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps(checkpoint.to_json(), indent=1), encoding="utf-8")
    os.replace(temporary, path)


# --- The scan ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScanSettings:
    table_name: str
    total_segments: int = 4
    workers: int | None = None  # default: min(total_segments, 8)
    read_share: float = DEFAULT_READ_SHARE
    read_units_per_second: float | None = None
    page_limit: int | None = None  # Limit per Scan call (None: DynamoDB's 1 MB pages)
    consistent_read: bool = True
    clock_margin_us: int = DEFAULT_CLOCK_MARGIN_US
    key_attributes: tuple[str, ...] | None = None  # default: the table's key schema

    def __post_init__(self) -> None:
        if self.total_segments < 1 or self.total_segments > 1_000_000:
            raise SnapshotError("--segments must be between 1 and 1,000,000 (DynamoDB's TotalSegments)")
        if self.workers is not None and self.workers < 1:
            raise SnapshotError("--workers must be at least 1")
        if self.clock_margin_us < 0:
            raise SnapshotError("the clock margin cannot be negative")


@dataclass(frozen=True)
class Page:
    """One landed page: its segment, its events and rejections (in item order), its snapshot time."""

    segment: int
    items: list[ChangeEvent | Rejection]
    snapshot_time_us: int
    read_units: float


@dataclass
class ScanReport:
    scan_id: str
    snapshot_floor_us: int  # the earliest snapshot time of any page: the full refresh's floor
    complete: bool
    pages: int = 0
    items: int = 0
    rejected: int = 0
    read_units: float = 0.0
    reported_read_units: float = 0.0
    budget_units_per_second: float = 0.0
    elapsed_s: float = 0.0
    throttle_wait_s: float = 0.0
    rejected_claim_keys: list[str] = field(default_factory=list)


_DONE = object()


class ParallelScan:
    """Scan ``settings.table_name`` in ``total_segments`` segments, landing pages through ``on_page``."""

    def __init__(self, dynamodb: Any, settings: ScanSettings, checkpoint_path: Path,
                 clock_us: Callable[[], int] = now_us) -> None:  # fmt: skip
        self._ddb = dynamodb
        self.settings = settings
        self._path = checkpoint_path
        self._clock_us = clock_us

    def run(self, on_page: Callable[[Page], None], stop_after_pages: int | None = None) -> ScanReport:
        """Scan every unfinished segment; call ``on_page`` (on this thread) for each page, then checkpoint it.

        ``stop_after_pages`` stops after that many pages were landed (tests: a crash between pages).

        Raises:
            SnapshotError: a checkpoint of another scan, an on-demand table without a budget.
            botocore errors: the table is unreachable or refuses the scan (the checkpoint keeps what was landed).
            Exception: whatever ``on_page`` raises (that page is not checkpointed).
        """
        s = self.settings
        description = self._ddb.describe_table(TableName=s.table_name)["Table"]
        keys = s.key_attributes or tuple(k["AttributeName"] for k in description["KeySchema"])
        budget = table_read_budget(description, s.read_share, s.read_units_per_second)
        limiter = RateLimiter(budget)
        checkpoint = load_checkpoint(self._path, s.table_name, s.total_segments)
        region = description.get("TableArn", "").split(":")[3] if description.get("TableArn") else None
        source = source_id(checkpoint.scan_id)
        if checkpoint.started_us is None:
            checkpoint.started_us = self._clock_us()
            save_checkpoint(self._path, checkpoint)
        report = ScanReport(checkpoint.scan_id, checkpoint.started_us - s.clock_margin_us, False,
                            budget_units_per_second=budget)  # fmt: skip
        started = time.monotonic()
        pending = [n for n, state in sorted(checkpoint.segments.items()) if not state.done]
        pages: queue.Queue[Any] = queue.Queue(maxsize=2 * max(1, len(pending)))
        stop = threading.Event()
        workers = min(s.workers or min(s.total_segments, 8), max(1, len(pending)))

        def scan_segment(segment: int) -> None:
            state = checkpoint.segments[segment]
            next_key = state.next_key
            try:
                while not stop.is_set():
                    limiter.wait()
                    requested_us = self._clock_us()
                    kwargs: dict[str, Any] = {"TableName": s.table_name, "Segment": segment,
                                              "TotalSegments": s.total_segments, "ConsistentRead": s.consistent_read,
                                              "ReturnConsumedCapacity": "TOTAL"}  # fmt: skip
                    if s.page_limit:
                        kwargs["Limit"] = s.page_limit
                    if next_key:
                        kwargs["ExclusiveStartKey"] = next_key
                    response = self._ddb.scan(**kwargs)
                    items = response.get("Items", [])
                    units = read_units(items, s.consistent_read)
                    reported = float((response.get("ConsumedCapacity") or {}).get("CapacityUnits") or 0.0)
                    limiter.charge(max(units, reported))
                    next_key = response.get("LastEvaluatedKey")
                    _put(pages, stop, (segment, items, next_key, requested_us, units, reported))
                    if not next_key:
                        return
            except BaseException as error:  # handed to the main thread, which stops the others
                _put(pages, stop, (segment, error))

        snapshot_base = Snapshot(source, max(1, checkpoint.started_us - s.clock_margin_us), s.table_name, region, keys)
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="claimflow-scan") as pool:
            try:
                futures = [pool.submit(scan_segment, n) for n in pending]
                pool.submit(_after_all, futures, pages, stop)
                while (entry := pages.get()) is not _DONE:
                    if len(entry) == 2:
                        raise entry[1]
                    segment, items, next_key, requested_us, units, reported = entry
                    snapshot = Snapshot(snapshot_base.source, max(1, requested_us - s.clock_margin_us),
                                        s.table_name, region, keys)  # fmt: skip
                    events = list(_page_events(snapshot, items))
                    page = Page(segment, events, snapshot.time_us, units)
                    on_page(page)
                    state = checkpoint.segments[segment]
                    state.next_key, state.done = next_key, not next_key
                    state.pages += 1
                    state.items += sum(1 for e in events if isinstance(e, ChangeEvent))
                    bad = [e for e in events if isinstance(e, Rejection)]
                    state.rejected += len(bad)
                    state.read_units += units
                    save_checkpoint(self._path, checkpoint)
                    report.pages += 1
                    report.reported_read_units += reported
                    report.rejected_claim_keys.extend(_rejected_keys(bad, items, keys))
                    if stop_after_pages is not None and report.pages >= stop_after_pages:
                        break
            finally:
                stop.set()  # before the pool's shutdown waits for the workers: none stays blocked on the queue
                _drain(pages)
        report.items = sum(st.items for st in checkpoint.segments.values())
        report.rejected = sum(st.rejected for st in checkpoint.segments.values())
        report.read_units = sum(st.read_units for st in checkpoint.segments.values())
        report.complete = checkpoint.complete
        report.elapsed_s = time.monotonic() - started
        report.throttle_wait_s = limiter.waited_s
        return report


def _put(pages: queue.Queue[Any], stop: threading.Event, entry: Any) -> None:
    while not stop.is_set():
        try:
            pages.put(entry, timeout=0.2)
            return
        except queue.Full:
            continue


def _after_all(futures: list[Any], pages: queue.Queue[Any], stop: threading.Event) -> None:
    for future in futures:
        future.result()
    _put(pages, stop, _DONE)


def _drain(pages: queue.Queue[Any]) -> None:
    while True:
        try:
            pages.get_nowait()
        except queue.Empty:
            return


def _page_events(snapshot: Snapshot, items: list[dict[str, Any]]) -> Iterator[ChangeEvent | Rejection]:
    for index, item in enumerate(items):
        event_id = snapshot_event_id(snapshot.source, uuid.uuid4().hex)
        try:
            yield item_event(snapshot, wire_image(item), event_id)
        except SnapshotError as error:
            raw = json.dumps(wire_image(item), separators=(",", ":"), default=str).encode("utf-8")
            yield Rejection.of(index, event_id, str(error), raw)


def _rejected_keys(bad: list[Rejection], items: list[dict[str, Any]], keys: tuple[str, ...]) -> list[str]:
    """The single string key of each rejected item, when it has one (a full refresh must keep those claims)."""
    out = []
    for rejection in bad:
        item = items[rejection.index] if rejection.index < len(items) else {}
        value = item.get(keys[0], {}) if len(keys) == 1 else {}
        out.append(value["S"] if isinstance(value, dict) and isinstance(value.get("S"), str) else "")
    return out
