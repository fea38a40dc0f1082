"""``claimflow demo``: generate claims -> DynamoDB -> bridge -> Kinesis -> consumer -> processors -> Snowflake,
then reconcile. Everything streams in batches; nothing holds all events."""

from __future__ import annotations

import contextlib
import random
import re
import shutil
import sys
import threading
import time
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from claimflow.demo.aws import DEFAULT_REGION, DEFAULT_STREAM, DEFAULT_TABLE, ensure_resources, make_clients
from claimflow.demo.bridge import EventLedger, StreamBridge
from claimflow.demo.consumer import CheckpointStore, KinesisConsumer, KinesisFlowFile
from claimflow.demo.emulator import EmulatorProcess, ProcessUsage, StreamingSettings, StreamingTotals, process_usage
from claimflow.demo.generator import GenerateStats, GeneratorConfig, generate, new_claims_in
from claimflow.demo.generator_process import generate_in_process
from claimflow.demo.pipeline import ClaimPipeline, PipelineDescription
from claimflow.demo.reconcile import Reconciliation, reconcile, release_emulator_results
from claimflow.snowflake.spec import DEFAULT_TABLES

SNOWFLAKE_DATABASE = "CLAIMFLOW_DB"
SWITCH_INTERVAL_S = 0.0005
SNOWFLAKE_SCHEMA = "CDC"


@dataclass
class DemoOptions:
    claims: int = 1000
    seed: int = 42
    shards: int = 4
    batch_size: int = 2000  # per Snowflake transaction; bulk staging makes bigger batches cheaper per row
    duplicate_rate: float = 0.0
    invalid_rate: float = 0.0
    shuffle: bool = False
    kill_consumer_after: int | None = None
    workdir: Path = Path(".demo")
    endpoint_url: str | None = None  # None: start the local emulator (unless use_aws)
    use_aws: bool = False  # talk to real AWS with the normal credential chain
    region: str = DEFAULT_REGION
    table_name: str = DEFAULT_TABLE
    stream_name: str = DEFAULT_STREAM
    snowflake_connection: str | None = None  # a name in ~/.snowflake/connections.toml; None: embedded emulator
    flow_path: Path | None = None
    phi_handling: str | None = None  # a PHI Handling label instead of the flow's (Pseudonymize); --pass-through
    hmac_key: str | None = field(default=None, repr=False)  # None: a demo-only key generated for the run
    # False: the table already streams to Kinesis (Kinesis Data Streams for DynamoDB, infra/), so the demo's bridge
    # must not write a second copy; the consumer waits up to ``arrival_wait_s`` of silence for the changes.
    bridge: bool = True
    arrival_wait_s: float = 120.0
    existing: int = 0  # claims written before streaming starts, then backfilled (claimflow.demo.backfill)
    backfill_source: str = "export"  # "export" (moto's ExportTableToPointInTime) or "scan"


def check_options(options: DemoOptions) -> None:
    """Raises ValueError for option combinations that cannot work."""
    if not options.bridge:
        if not (options.use_aws or options.endpoint_url):
            raise ValueError("--no-bridge needs a table that streams to Kinesis itself (--aws or --endpoint-url); "
                             "the embedded emulator never does")
        if options.duplicate_rate or options.invalid_rate:
            raise ValueError("--duplicate-rate and --invalid-rate are done by the bridge; not with --no-bridge")


@dataclass
class DemoReport:
    generated: GenerateStats
    events_by_type: Counter[str]
    ttl_deletes: int
    duplicates: int
    invalid_injected: int
    kinesis_records: int
    flowfiles_delivered: int
    consumer_restarts: int
    redelivered: int
    rows_written: int
    batches: int
    dead_letters: Counter[str]
    table_rows: dict[str, int]
    reconciliation: Reconciliation
    pipeline: PipelineDescription
    sql_not_executed: list[str]
    elapsed_s: float
    views: dict[str, tuple[list[str], list[tuple[Any, ...]]]] = field(default_factory=dict)
    backfill: Any = None  # claimflow.demo.backfill.BackfillReport with --existing
    usage: dict[str, ProcessUsage] = field(default_factory=dict)  # per process: demo, AWS emulator, claim generator
    # Seconds of each step after set-up, in order: writing the claims (while consuming), landing what was still
    # on its way when the writing ended, the reconciliation.
    steps_s: dict[str, float] = field(default_factory=dict)

    @property
    def events(self) -> int:
        return sum(self.events_by_type.values())


@contextlib.contextmanager
def _aws_endpoint(options: DemoOptions) -> Iterator[tuple[str | None, EmulatorProcess | None]]:
    """The AWS endpoint, and the emulator's process when the demo runs its own (``claimflow.demo.emulator``)."""
    if options.use_aws or options.endpoint_url:
        yield options.endpoint_url, None
    else:
        items = options.workdir / "aws"  # the emulated table's items, on disk (recreated at each run)
        shutil.rmtree(items, ignore_errors=True)
        with EmulatorProcess(options.region, items) as emulator:
            yield emulator.url, emulator


class _ClientStreaming:
    """The bridge in the demo's own process, as a boto3 client of the endpoint (``--endpoint-url``, ``--aws``)."""

    pumps_after_waves = True  # the bridge runs here, between the generator's waves

    def __init__(self, bridge: StreamBridge, ledger: EventLedger) -> None:
        self._bridge = bridge
        self._ledger = ledger

    def after_wave(self) -> None:
        self._bridge.pump()

    def finish(self) -> StreamingTotals:
        while self._bridge.pump():
            pass
        self._ledger.close()
        ledger, bridge = self._ledger, self._bridge
        return StreamingTotals(ledger.count, ledger.digest, dict(ledger.by_type), ledger.ttl_deletes,
                               bridge.duplicates, bridge.invalid_injected, bridge.kinesis_records)  # fmt: skip


class _EmulatorStreaming:
    """The bridge in the emulator's process, which forwards changes by itself, as DynamoDB does."""

    pumps_after_waves = False

    def __init__(self, emulator: EmulatorProcess, settings: StreamingSettings) -> None:
        self._emulator = emulator
        emulator.start_streaming(settings)

    def after_wave(self) -> None:
        pass

    def finish(self) -> StreamingTotals:
        return self._emulator.finish_streaming()


class _NoStreaming:
    """``--no-bridge``: the table streams to Kinesis itself."""

    pumps_after_waves = False

    def after_wave(self) -> None:
        pass

    def finish(self) -> StreamingTotals:
        return StreamingTotals(0, 0, {}, 0, 0, 0, 0)


class _Cancelled(Exception):
    """The consumer side failed: the generator stops at its next wave."""


class _Generation(threading.Thread):
    """The generator's writes, in a thread: while it waits for the emulator, the consumer side runs."""

    def __init__(self, write: Callable[[], GenerateStats]) -> None:
        super().__init__(name="claimflow-generator", daemon=True)
        self._write = write
        self.cancelled = threading.Event()
        self.stats: GenerateStats | None = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.stats = self._write()
        except _Cancelled:
            pass
        except BaseException as exc:  # re-raised in the demo's thread by result()
            self.error = exc

    def result(self) -> GenerateStats:
        self.join()
        if self.error is not None:
            raise self.error
        assert self.stats is not None
        return self.stats


def sql_directory() -> Path:
    """The project's sql/ scripts (a checkout); raises FileNotFoundError when they are not next to the package."""
    path = Path(__file__).resolve().parents[3] / "sql"
    if not (path / "01_tables.sql").exists():
        raise FileNotFoundError(f"sql/ scripts not found at {path}")
    return path


@contextlib.contextmanager
def _snowflake(options: DemoOptions) -> Iterator[tuple[Any, list[str]]]:
    """A connector connection: the embedded emulator (fakesnow on a DuckDB file under workdir) or a real account."""
    import snowflake.connector

    from claimflow.snowflake import SCHEMA_SCRIPTS, apply_sql_scripts

    if options.snowflake_connection:
        conn = snowflake.connector.connect(connection_name=options.snowflake_connection, paramstyle="qmark")
        try:
            yield conn, []  # the account is set up with sql/ by its administrator (docs/snowflake.md)
        finally:
            conn.close()
        return
    import fakesnow

    from claimflow.demo.snowflake_emulator import install_statement_cache, uninstall_statement_cache

    db_dir = options.workdir / "snowflake"
    shutil.rmtree(db_dir, ignore_errors=True)  # a fresh emulator run starts from empty tables
    db_dir.mkdir(parents=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with fakesnow.patch(db_path=str(db_dir)):
            conn = snowflake.connector.connect(
                database=SNOWFLAKE_DATABASE, schema=SNOWFLAKE_SCHEMA, paramstyle="qmark"
            )
            _bound_emulator_memory(conn)
            install_statement_cache()  # fakesnow translates each of the sink's statements once, not per batch
            try:
                report = apply_sql_scripts(conn, [sql_directory() / name for name in SCHEMA_SCRIPTS])
                skipped = [f"{n.script}#{n.index} {n.kind}" for n in report.not_executed]
                yield conn, skipped
            finally:
                uninstall_statement_cache()
                conn.close()


EMULATOR_MEMORY_LIMIT = "256MB"


def _bound_emulator_memory(conn: Any) -> None:
    """DuckDB caches up to 80% of RAM by default; cap it so the demo's memory does not grow with the data."""
    duck = getattr(conn, "_duck_conn", None)
    if duck is not None:
        duck.execute(f"SET memory_limit = '{EMULATOR_MEMORY_LIMIT}'")
        duck.execute("SET threads = 2")


def _sink(options: DemoOptions, connection: Any) -> Any:
    """The project's sink; on the embedded emulator it stages each batch through DuckDB's bulk path."""
    from claimflow.snowflake import SnowflakeSink

    if options.snowflake_connection:
        return SnowflakeSink(connection)
    from claimflow.demo.snowflake_emulator import DuckDBStager

    return SnowflakeSink(connection, stage_rows=DuckDBStager(connection))


def _claim_settings(pipeline: ClaimPipeline) -> Any:
    """The row-building settings of the flow's TransformClaimChange (with the run's HMAC key), for the
    reconciliation's expected rows."""
    return pipeline.claim_settings()


def reason_kind(reason: str) -> str:
    """A dead-letter reason without the record's index and event id, so equal reasons group together."""
    text = re.sub(r"\s*\(eventID [^)]*\)", "", reason)
    return re.sub(r"^record \d+:?\s*", "", text).strip() or reason


class _ConsumerLoop:
    """Poll -> processors -> Snowflake (one transaction) -> checkpoint, with the optional consumer crash."""

    def __init__(
        self,
        options: DemoOptions,
        new_consumer: Callable[[], KinesisConsumer],
        pipeline: ClaimPipeline,
        sink: Any,
        sink_connection: Any,
        on_landed: Callable[[int], None] | None,
    ) -> None:
        self._options = options
        self._new_consumer = new_consumer
        self._pipeline = pipeline
        self._sink = sink
        self.sink = sink  # the backfill hook writes through the same sink
        self._sink_connection = sink_connection
        self._on_landed = on_landed
        self.consumer = new_consumer()
        self.killed = False
        self.restarts = self.delivered = self.redelivered = self.rows = self.batches = 0
        self.dead: Counter[str] = Counter()
        self.dead_positions: set[tuple[str, str]] = set()  # bounded by the broken records, not by N

    def drain(self) -> None:
        """Process everything the stream holds now."""
        self.follow(lambda: True)

    def follow(self, producer_done: Callable[[], bool], idle_wait_s: float = 0.5) -> None:
        """Process full batches as records arrive; once ``producer_done()`` holds and the stream has nothing
        more, process what is left and return. A batch waits to fill while more records may come, so batches
        (Snowflake transactions) stay ``batch_size`` long however fast the records trickle in."""
        batch: list[KinesisFlowFile] = []
        while True:
            done = producer_done()  # before polling: done and then nothing new means the stream is drained
            got = self.consumer.poll(limit=self._options.batch_size - len(batch))
            batch.extend(got)
            if len(batch) >= self._options.batch_size or (batch and not got and done):
                self._process(batch)
                batch = []
            elif not got:
                if done:
                    return
                time.sleep(idle_wait_s)

    def _process(self, batch: list[KinesisFlowFile]) -> None:
        self.delivered += len(batch)
        kill_at = self._options.kill_consumer_after
        if kill_at is not None and not self.killed and self.consumer.delivered >= kill_at:
            # Crash mid-batch: the first records are processed, nothing is committed or checkpointed.
            self._pipeline.process(batch[: len(batch) - (self.consumer.delivered - kill_at)])
            self.redelivered += self.consumer.pending - self.consumer.held_back  # delivered, never committed
            self.killed = True
            self.restarts += 1
            self.consumer = self._new_consumer()  # resumes after the saved checkpoints
            return
        output = self._pipeline.process(batch)
        for letter in output.dead_letters:
            if letter.position is not None and letter.position in self.dead_positions:
                continue  # re-delivered after a restart: already counted
            if letter.position is not None:
                self.dead_positions.add(letter.position)
            self.dead[reason_kind(letter.reason)] += 1
        if output.rows:
            self._sink.write_batch(output.rows)
            release_emulator_results(self._sink_connection)
        self.consumer.commit(batch)  # only after Snowflake committed the batch
        self.rows += len(output.rows)
        self.batches += 1
        if self._on_landed:
            self._on_landed(len(batch))


def run_demo(
    options: DemoOptions,
    on_claims: Callable[[int], None] | None = None,
    on_landed: Callable[[int], None] | None = None,
) -> DemoReport:
    """Run the whole pipeline and reconcile. ``on_claims``/``on_landed`` report progress (claims written, events
    committed to Snowflake).

    Raises:
        ValueError: options that cannot work together (``check_options``).
        RuntimeError, botocore errors, database errors: the environment failed (not a reconciliation mismatch,
        which is reported in ``DemoReport.reconciliation``).
    """
    check_options(options)
    started = time.monotonic()
    switch_interval = sys.getswitchinterval()
    # The writer threads wait for the interpreter lock after each socket read and write while the consumer's
    # thread computes; at the default 5 ms hand-over they, and the emulator behind them, sat idle.
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    try:
        return _run_demo(options, started, on_claims, on_landed)
    finally:
        sys.setswitchinterval(switch_interval)


def _run_demo(
    options: DemoOptions,
    started: float,
    on_claims: Callable[[int], None] | None,
    on_landed: Callable[[int], None] | None,
) -> DemoReport:
    workdir = options.workdir
    workdir.mkdir(parents=True, exist_ok=True)
    checkpoint_path = workdir / "checkpoints.json"
    event_log = workdir / "bridge-events.txt"
    for stale in (checkpoint_path, event_log):
        stale.unlink(missing_ok=True)
    rng = random.Random(options.seed)

    with _aws_endpoint(options) as (endpoint, emulator), _snowflake(options) as (connection, sql_skipped):
        clients = make_clients(endpoint, options.region)
        existing = None
        if options.existing:  # hook: the table holds claims before streaming starts (claimflow.demo.backfill)
            from claimflow.demo.backfill import write_existing

            existing = write_existing(clients, options.table_name, options.existing, options.seed)
        resources = ensure_resources(clients, options.table_name, options.stream_name, options.shards)
        ledger = EventLedger(event_log)  # the backfill's snapshot events; the bridge's join it at the end
        bridge_seed = rng.random()
        store = CheckpointStore(checkpoint_path, options.stream_name)
        consumer_rng = random.Random(rng.random())

        def new_consumer() -> KinesisConsumer:
            return KinesisConsumer(
                clients.kinesis, options.stream_name, store, batch_size=options.batch_size,
                shuffle=options.shuffle, rng=consumer_rng,
            )  # fmt: skip

        pipeline = ClaimPipeline(options.flow_path, phi_handling=options.phi_handling, hmac_key=options.hmac_key)
        flow = _ConsumerLoop(options, new_consumer, pipeline, _sink(options, connection), connection, on_landed)
        backfilled = None
        if existing is not None:  # hook: snapshot them through the merge, then stream (claimflow.demo.backfill)
            from claimflow.demo.backfill import backfill_existing

            backfilled = backfill_existing(
                clients, resources.table_name, existing, flow.sink, connection, pipeline.claim_settings(), ledger,
                workdir, options.backfill_source, options.seed,
            )  # fmt: skip
        ledger.close()  # the bridge appends to the same event log from here on
        streaming = _streaming(options, emulator, clients, resources, bridge_seed, event_log, checkpoint_path)
        generator_usage: dict[str, ProcessUsage] = {}  # when the generator runs in a process of its own

        config = GeneratorConfig(claims=options.claims, seed=options.seed)

        def written(new_claims: int) -> None:
            if generation.cancelled.is_set():
                raise _Cancelled
            streaming.after_wave()
            if on_claims:
                on_claims(new_claims)

        def write_claims() -> GenerateStats:
            if not streaming.pumps_after_waves:  # nothing of this process runs between waves: write from another
                stats, generator_usage["claim generator"] = generate_in_process(
                    endpoint, options.region, resources.table_name, config, written
                )
                return stats
            return generate(clients.dynamodb, resources.table_name, config, lambda wave: written(new_claims_in(wave)))

        generation = _Generation(write_claims)
        writing_started = time.monotonic()
        generation.start()
        try:
            flow.follow(lambda: not generation.is_alive())  # consume while the claims are being written
        except BaseException:
            generation.cancelled.set()
            generation.join()
            raise
        generated = generation.result()
        writing_ended = time.monotonic()
        expected_events = generated.puts + generated.deletes  # every write changes the item: one event each
        totals = streaming.finish()  # every change is in Kinesis now
        if options.bridge:
            flow.drain()
        else:
            _await_arrivals(flow, expected_events, options.arrival_wait_s)
        ledger.absorb(totals.events, totals.digest, totals.by_type, totals.ttl_deletes)
        pipeline.close()

        settings = _claim_settings(pipeline)
        landed = time.monotonic()
        result = reconcile(
            connection, clients.dynamodb, resources.table_name, options.region, ledger if options.bridge else None,
            settings, event_log=event_log, expected_events=expected_events,
        )  # fmt: skip
        steps_s = {
            "writing": writing_ended - writing_started,
            "landing after the writing": landed - writing_ended,
            "reconciliation": time.monotonic() - landed,
        }
        dead_total = sum(flow.dead.values())
        if dead_total != totals.invalid_injected:
            result.problems.append(
                f"{dead_total} records reached the dead letter, {totals.invalid_injected} broken ones were injected"
            )
        usage = {"demo": process_usage(), **({"AWS emulator": emulator.usage()} if emulator else {}), **generator_usage}
        table_rows = _table_rows(connection)
        views = _views(connection)

    return DemoReport(
        generated=generated,
        events_by_type=Counter(ledger.by_type),
        ttl_deletes=ledger.ttl_deletes,
        duplicates=totals.duplicates,
        invalid_injected=totals.invalid_injected,
        kinesis_records=totals.kinesis_records,
        flowfiles_delivered=flow.delivered,
        consumer_restarts=flow.restarts,
        redelivered=flow.redelivered,
        rows_written=flow.rows,
        batches=flow.batches,
        dead_letters=flow.dead,
        table_rows=table_rows,
        reconciliation=result,
        pipeline=pipeline.description,
        sql_not_executed=sql_skipped,
        elapsed_s=time.monotonic() - started,
        views=views,
        backfill=backfilled,
        usage=usage,
        steps_s=steps_s,
    )


def _streaming(
    options: DemoOptions,
    emulator: EmulatorProcess | None,
    clients: Any,
    resources: Any,
    seed: float,
    event_log: Path,
    checkpoints: Path,
) -> _ClientStreaming | _EmulatorStreaming | _NoStreaming:
    """Who forwards the table's changes into Kinesis: nobody (``--no-bridge``), the emulator's process, or the
    bridge in this process as a client of the endpoint."""
    if not options.bridge:
        return _NoStreaming()
    if emulator is not None:
        settings = StreamingSettings(resources, options.region, options.duplicate_rate, options.invalid_rate, seed,
                                     event_log, checkpoints)  # fmt: skip
        return _EmulatorStreaming(emulator, settings)
    ledger = EventLedger(event_log)
    bridge = StreamBridge(clients, resources, ledger=ledger, duplicate_rate=options.duplicate_rate,
                          invalid_rate=options.invalid_rate, rng=random.Random(seed))  # fmt: skip
    return _ClientStreaming(bridge, ledger)


def _await_arrivals(flow: _ConsumerLoop, expected: int, quiet_s: float, poll_s: float = 1.0) -> None:
    """Drain until ``expected`` records were delivered or nothing new arrived for ``quiet_s`` (the reconciliation
    then names what is missing). Kinesis Data Streams for DynamoDB delivers within seconds, asynchronously."""
    last_progress = time.monotonic()
    while flow.delivered < expected:
        before = flow.delivered
        flow.drain()
        if flow.delivered > before:
            last_progress = time.monotonic()
        elif time.monotonic() - last_progress > quiet_s:
            return
        else:
            time.sleep(poll_s)


def _table_rows(connection: Any) -> dict[str, int]:
    cursor = connection.cursor()
    try:
        counts = {}
        for table in (DEFAULT_TABLES.staging, DEFAULT_TABLES.history, DEFAULT_TABLES.destination):
            cursor.execute(f"SELECT COUNT(*) FROM {table}")
            counts[table] = int(cursor.fetchone()[0])
        return counts
    finally:
        cursor.close()


# The quickstart's three views: (title, view, preferred ORDER BY, row limit). The ORDER BY falls back to none
# when the view's columns change; every column the view exposes is shown (the views hide tombstones and PHI).
VIEWS: tuple[tuple[str, str, str, int | None], ...] = (
    ("Claims summary", "V_CLAIMS_SUMMARY", "claimCount DESC, claimStatus, paymentStatus", None),
    ("Recent events (latest 10)", "V_RECENT_EVENTS", "eventTimeUtc DESC, eventId DESC", 10),
    ("Pending claims (oldest 10)", "V_PENDING_CLAIMS", "billSubmitDate, claimId", 10),
)
HIDDEN_VIEW_COLUMNS = frozenset({"EVENTID", "INGESTTIME", "MERGEDAT"})


def _views(connection: Any) -> dict[str, tuple[list[str], list[tuple[Any, ...]]]]:
    out = {}
    for title, view, order_by, limit in VIEWS:
        tail = f" LIMIT {limit}" if limit else ""
        cursor = connection.cursor()
        try:
            try:
                cursor.execute(f"SELECT * FROM {view} ORDER BY {order_by}{tail}")
            except Exception:  # a column was renamed: show the view unordered rather than not at all
                cursor.execute(f"SELECT * FROM {view}{tail}")
            names = [d[0] for d in cursor.description]
            keep = [i for i, name in enumerate(names) if name.upper() not in HIDDEN_VIEW_COLUMNS]
            rows = [tuple(record[i] for i in keep) for record in cursor.fetchall()]
            out[f"{title} ({view})"] = ([names[i] for i in keep], rows)
        finally:
            cursor.close()
    return out
