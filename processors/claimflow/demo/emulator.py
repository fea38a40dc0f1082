"""The embedded AWS emulator in a process of its own: moto's HTTP server, and DynamoDB's Kinesis streaming.

Everything the demo does as a client of AWS (the generator's BatchWriteItem, the consumer's ListShards /
GetShardIterator / GetRecords, the reconciliation's Scan) goes through boto3 to this process's HTTP endpoint, as
it would go to AWS. What AWS does by itself runs here too: the bridge that plays "Kinesis Data Streams for
DynamoDB" (``claimflow.demo.bridge``) forwards the table's changes into Kinesis in a thread of this process, and
the emulated retention (``aws.trim_emulator_streams``) drops what every reader has passed; the consumer's
progress comes from its checkpoint file, the only thing the retention needs from the demo.

Why a process: moto, its HTTP server and the bridge cost about as much CPU as the generator, the processors and
the Snowflake writer together. In one process they shared one interpreter lock and the demo used one of the
machine's cores; here the two halves run side by side.

One lock serialises the emulator: each HTTP request is handled under it, and so is each pass of the bridge and
each trim, because moto's models are not written for concurrent use (a Kinesis GetRecords iterating a shard
while the bridge appends to it would fail).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import resource
import sys
import threading
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from claimflow.demo.aws import Resources

# How long the bridge waits before looking again when the table's stream held nothing new.
IDLE_WAIT_S = 0.02
BETWEEN_PASSES_S = 0.001
SWITCH_INTERVAL_S = 0.0005
START_TIMEOUT_S = 120.0
# Changes the bridge forwards per hold of the emulator's lock: the generator's writes and the consumer's reads wait
# while it holds it, so it lets go often.
PASS_RECORDS = 100
# Changes forwarded between two passes of the emulated retention (memory held: about this many stream records).
TRIM_EVERY = 1000
STOP_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class StreamingSettings:
    """What the emulator's bridge needs: where to read and write, the chaos, and where the demo keeps state."""

    resources: Resources
    region: str
    duplicate_rate: float
    invalid_rate: float
    seed: float
    event_log: Path
    checkpoints: Path


@dataclass(frozen=True)
class StreamingTotals:
    """What the bridge forwarded (its ledger's count and digest, by type, TTL deletes) and put into Kinesis."""

    events: int
    digest: int
    by_type: dict[str, int]
    ttl_deletes: int
    duplicates: int
    invalid_injected: int
    kinesis_records: int



class EmulatorError(RuntimeError):
    """The emulator's process failed; the message names the exception type and where, never request data."""


class EmulatorProcess:
    """Starts the emulator's process and talks to it over a pipe; a context manager that stops it on exit.

    ``url`` is its HTTP endpoint. ``start_streaming`` starts the bridge once the table and the stream exist;
    ``finish_streaming`` waits until the bridge has forwarded every change written so far and returns its totals.
    """

    def __init__(self, region: str, item_directory: Path) -> None:
        self._region = region
        self._item_directory = item_directory
        self._process: Any = None
        self._connection: Any = None
        self.url = ""

    def __enter__(self) -> EmulatorProcess:
        context = multiprocessing.get_context("spawn")  # no forked copy of the demo's threads and connections
        self._connection, child = context.Pipe()
        self._process = context.Process(
            target=serve, args=(child, self._region, self._item_directory), name="claimflow-aws", daemon=True
        )
        self._process.start()
        child.close()
        self.url = str(self._call(None, timeout=START_TIMEOUT_S))
        return self

    def __exit__(self, *exc: object) -> None:
        with contextlib.suppress(Exception):
            self._call(("stop", None), timeout=STOP_TIMEOUT_S)
        self._process.join(STOP_TIMEOUT_S)
        if self._process.is_alive():
            self._process.terminate()
            self._process.join(STOP_TIMEOUT_S)
        self._connection.close()

    def start_streaming(self, settings: StreamingSettings) -> None:
        self._call(("stream", settings))

    def finish_streaming(self) -> StreamingTotals:
        totals = self._call(("finish", None))
        assert isinstance(totals, StreamingTotals)
        return totals

    def usage(self) -> ProcessUsage:
        """The emulator process's peak memory and CPU time so far."""
        usage = self._call(("usage", None))
        assert isinstance(usage, ProcessUsage)
        return usage

    def _call(self, message: tuple[str, Any] | None, timeout: float | None = None) -> Any:
        if message is not None:
            self._connection.send(message)
        if timeout is not None and not self._connection.poll(timeout):
            raise EmulatorError(f"the AWS emulator's process did not answer within {timeout:.0f} s")
        try:
            status, value = self._connection.recv()
        except EOFError as exc:
            raise EmulatorError(f"the AWS emulator's process ended (exit code {self._process.exitcode})") from exc
        if status == "error":
            raise EmulatorError(f"the AWS emulator's process failed: {value}")
        return value


def failure_text(exc: BaseException) -> str:
    # Type and the innermost frame only: request data (synthetic claims, but still) stays out of the message.
    frame = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
    where = f" at {Path(frame.filename).name}:{frame.lineno}" if frame else ""
    return f"{type(exc).__name__}{where}"


class _Streaming:
    """The bridge in a thread of the emulator's process, plus the emulated retention after each pass."""

    def __init__(self, url: str, settings: StreamingSettings, lock: threading.Lock) -> None:
        import random

        from claimflow.demo.aws import embedded_bridge_clients, make_clients
        from claimflow.demo.bridge import EventLedger, StreamBridge
        from claimflow.demo.consumer import CheckpointStore

        self._settings = settings
        self._lock = lock
        self._ledger = EventLedger(settings.event_log)
        self._bridge = StreamBridge(
            embedded_bridge_clients(make_clients(url, settings.region)), settings.resources, ledger=self._ledger,
            duplicate_rate=settings.duplicate_rate, invalid_rate=settings.invalid_rate,
            rng=random.Random(settings.seed),
        )  # fmt: skip
        self._checkpoints = CheckpointStore(settings.checkpoints, settings.resources.kinesis_stream)
        self._checkpoint_mtime = 0.0
        self._consumed: dict[str, str] = {}
        self._untrimmed = 0
        self._stop = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="claimflow-bridge", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                # Between passes, let a request that waits for the lock have it (a lock is not fair).
                self._stop.wait(BETWEEN_PASSES_S if self._pass() else IDLE_WAIT_S)
        except BaseException as exc:  # reported by finish(); the demo then fails with it
            self._error = exc

    def _pass(self) -> int:
        from claimflow.demo.aws import trim_emulator_streams

        with self._lock:
            forwarded = self._bridge.pump(max_records=PASS_RECORDS)
            self._untrimmed += forwarded
            if self._untrimmed >= TRIM_EVERY:  # retention is a background chore; every pass would cost ~5%
                trim_emulator_streams(self._settings.resources, self._settings.region, self._bridge.positions,
                                      self._consumer_checkpoints())  # fmt: skip
                self._untrimmed = 0
        return forwarded

    def _consumer_checkpoints(self) -> dict[str, str]:
        # The consumer saves its checkpoints after each committed batch; read the file again only when it changed.
        try:
            mtime = self._settings.checkpoints.stat().st_mtime
        except FileNotFoundError:
            return self._consumed
        if mtime != self._checkpoint_mtime:
            with contextlib.suppress(ValueError, OSError):  # a file being replaced: the last one read still holds
                self._consumed = self._checkpoints.load()
                self._checkpoint_mtime = mtime
        return self._consumed

    def finish(self) -> StreamingTotals:
        self._stop.set()
        self._thread.join()
        if self._error is not None:
            raise self._error
        while self._pass():
            pass
        self._ledger.close()
        bridge, ledger = self._bridge, self._ledger
        return StreamingTotals(
            events=ledger.count, digest=ledger.digest, by_type=dict(ledger.by_type), ttl_deletes=ledger.ttl_deletes,
            duplicates=bridge.duplicates, invalid_injected=bridge.invalid_injected,
            kinesis_records=bridge.kinesis_records,
        )  # fmt: skip


@dataclass(frozen=True)
class ProcessUsage:
    """What one process of the demo used so far: peak resident set size and CPU time (user + system)."""

    peak_rss_bytes: int
    cpu_s: float


def process_usage() -> ProcessUsage:
    """This process's usage (Linux reports the peak RSS in kilobytes)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return ProcessUsage(usage.ru_maxrss * 1024, usage.ru_utime + usage.ru_stime)


def serve(connection: Any, region: str, item_directory: Path) -> None:
    """The emulator's process: start moto, answer the demo's commands until ``stop``."""
    from claimflow.demo.aws import local_aws

    # Request threads wait for the interpreter lock after each socket read and write; with the bridge thread
    # computing, the default 5 ms hand-over left the emulator idle between a request's many small reads.
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    lock = threading.Lock()
    streaming: _Streaming | None = None
    try:
        with local_aws(lock=lock, item_directory=item_directory) as url:
            connection.send(("ok", url))
            for command, argument in _commands(connection):
                try:
                    if command == "stream":
                        streaming = _Streaming(url, argument, lock)
                        streaming.start()
                        connection.send(("ok", None))
                    elif command == "finish":
                        if streaming is None:
                            raise RuntimeError("finish before stream")
                        connection.send(("ok", streaming.finish()))
                        streaming = None
                    elif command == "usage":
                        connection.send(("ok", process_usage()))
                    else:  # stop
                        connection.send(("ok", None))
                        return
                except Exception as exc:
                    connection.send(("error", failure_text(exc)))
    except Exception as exc:
        with contextlib.suppress(Exception):
            connection.send(("error", failure_text(exc)))


def _commands(connection: Any) -> Iterator[tuple[str, Any]]:
    while True:
        try:
            yield connection.recv()
        except EOFError:  # the demo's process is gone
            return
