"""End to end: a small demo run with duplicates, shuffling and a consumer crash reconciles; the reconciliation
itself catches a changed column, a resurrected claim and a lost event."""

from __future__ import annotations

from pathlib import Path

from claimflow.claims import ClaimSettings
from claimflow.demo.aws import ensure_resources
from claimflow.demo.bridge import EventLedger
from claimflow.demo.generator import ClaimGenerator, GeneratorConfig, to_attribute_values
from claimflow.demo.reconcile import expected_row, reconcile
from claimflow.demo.runner import DemoOptions, _snowflake, run_demo
from claimflow.snowflake import SnowflakeSink


def test_demo_run_with_chaos_reconciles(tmp_path: Path) -> None:
    options = DemoOptions(
        claims=250,
        seed=9,
        shards=3,
        batch_size=60,
        duplicate_rate=0.2,
        invalid_rate=0.02,
        shuffle=True,
        kill_consumer_after=200,
        workdir=tmp_path / "demo",
    )
    report = run_demo(options)
    recon = report.reconciliation
    assert recon.ok, recon.problems
    # The emulator and the generator ran in processes of their own, each reporting what it used.
    assert list(report.usage) == ["demo", "AWS emulator", "claim generator"]
    assert all(u.cpu_s > 0 and u.peak_rss_bytes > 10_000_000 for u in report.usage.values())
    assert recon.source_claims == recon.destination_live > 0
    assert recon.destination_tombstones == report.events_by_type["REMOVE"] > 0
    assert report.ttl_deletes > 0
    assert recon.bridge_events == recon.history_distinct_events == report.events
    assert report.duplicates > 0 and report.invalid_injected > 0
    assert report.kinesis_records == report.events + report.duplicates + report.invalid_injected
    assert report.consumer_restarts == 1 and report.redelivered > 0
    assert report.flowfiles_delivered == report.kinesis_records + report.redelivered
    # History is append-only: duplicates and records committed beyond the checkpoint before the crash (shuffle
    # commits out of order) land twice; the distinct event ids still match the bridge exactly.
    good_records = report.kinesis_records - report.invalid_injected
    assert good_records <= recon.history_rows <= good_records + report.redelivered
    # every broken record, and nothing else, reached the dead letter, each with a reason
    assert sum(report.dead_letters.values()) == report.invalid_injected
    assert all(reason.strip(": ") for reason in report.dead_letters)
    assert report.pipeline.stages == ["DecodeDynamoDBChange", "TransformClaimChange",
                                      "PartitionRecord + RouteOnAttribute (offline models)"]
    assert report.table_rows["CLAIMS_CURRENT"] == recon.destination_live + recon.destination_tombstones
    assert all(rows for _, rows in report.views.values())  # the three quickstart views answer
    assert (tmp_path / "demo" / "checkpoints.json").exists()
    assert any((tmp_path / "demo" / "snowflake").iterdir())  # the DuckDB file is kept


def test_demo_reconciliation_names_claims_columns_and_events(aws, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    resources = ensure_resources(aws, "ReconcileClaims", "ReconcileStream", shards=1)
    generator = ClaimGenerator(GeneratorConfig(claims=3, seed=4))
    items = [generator.new_claim(i) for i in range(3)]
    ids = [item["claim_id"] for item in items]
    ledger = EventLedger()
    settings = ClaimSettings()
    rows = []
    for number, item in enumerate(items):
        attribute_values = to_attribute_values(item)
        aws.dynamodb.put_item(TableName="ReconcileClaims", Item=attribute_values)
        row = expected_row(attribute_values, "us-east-1", "ReconcileClaims", 1_780_000_000_000_000 + number, settings)
        row["eventId"] = f"event-{number}"
        ledger.add(row["eventId"], "INSERT")
        rows.append(row)
    with _snowflake(DemoOptions(workdir=tmp_path)) as (connection, _):
        SnowflakeSink(connection).write_batch(rows)

        def check() -> list[str]:
            return reconcile(connection, aws.dynamodb, resources.table_name, "us-east-1", ledger, settings).problems

        assert check() == []
        cursor = connection.cursor()
        cursor.execute("UPDATE CLAIMS_CURRENT SET totalCharge = totalCharge + 1 WHERE claimId = ?", [ids[0]])
        (problem,) = check()
        assert ids[0] in problem and "totalCharge" in problem and ids[1] not in problem
        assert str(items[0]["total_charge"]) not in problem  # names, never values

        cursor.execute("UPDATE CLAIMS_CURRENT SET totalCharge = totalCharge - 1 WHERE claimId = ?", [ids[0]])
        aws.dynamodb.delete_item(TableName="ReconcileClaims", Key={"claim_id": {"S": ids[1]}})
        (problem,) = check()  # deleted at the source, alive in Snowflake: a resurrection
        assert "Snowflake has 3 live claims, DynamoDB 2" in problem

        aws.dynamodb.put_item(TableName="ReconcileClaims", Item=to_attribute_values(items[1]))
        ledger.add("event-lost", "MODIFY")
        result = reconcile(
            connection, aws.dynamodb, resources.table_name, "us-east-1", ledger, settings, event_log=None
        )
        assert len(result.problems) == 2 and "history" in " ".join(result.problems)


def test_demo_without_bridge_reads_what_the_table_streams_itself(aws, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """--no-bridge: the table's own Kinesis streaming (played here by a bridge in another thread, as DynamoDB's
    streaming destination would be) feeds the stream; the demo only generates, consumes and reconciles."""
    import threading
    import time

    from claimflow.demo.aws import make_clients
    from claimflow.demo.bridge import StreamBridge

    resources = ensure_resources(aws, "SelfStreamingClaims", "SelfStreamingStream", shards=2)
    stop = threading.Event()
    destination = StreamBridge(make_clients(aws.endpoint_url), resources)

    streaming_errors: list[BaseException] = []

    def stream_changes() -> None:  # DynamoDB's Kinesis streaming destination, asynchronously
        try:
            while not stop.is_set():
                destination.pump()
                time.sleep(0.2)
        except BaseException as error:  # a dead streamer would otherwise show only as missing events
            streaming_errors.append(error)

    streamer = threading.Thread(target=stream_changes, daemon=True)
    streamer.start()
    try:
        # The wait runs only while events are missing: a long one costs nothing when all arrive, and under a
        # loaded -n 2 run one failure (not reproduced) is suspected of a 15 s silence while the streamer lagged.
        report = run_demo(DemoOptions(
            claims=40, seed=3, shards=2, batch_size=50, workdir=tmp_path / "demo", endpoint_url=aws.endpoint_url,
            table_name="SelfStreamingClaims", stream_name="SelfStreamingStream", bridge=False, arrival_wait_s=60,
        ))  # fmt: skip
    finally:
        stop.set()
        streamer.join()
    assert not streaming_errors, streaming_errors
    recon = report.reconciliation
    assert recon.ok, recon.problems
    assert report.kinesis_records == 0  # the demo itself put nothing into Kinesis
    assert recon.bridge_events == destination.ledger.count == recon.history_distinct_events > 40
    assert recon.source_claims == recon.destination_live > 0


def test_demo_refuses_no_bridge_where_nothing_would_stream(tmp_path: Path) -> None:
    from claimflow.demo.runner import check_options

    failures = []
    for options in (
        DemoOptions(bridge=False, workdir=tmp_path),  # embedded moto never streams a table to Kinesis
        DemoOptions(bridge=False, endpoint_url="http://127.0.0.1:1", duplicate_rate=0.1, workdir=tmp_path),
    ):
        try:
            check_options(options)
        except ValueError as exc:
            failures.append(str(exc))
    assert len(failures) == 2 and "--no-bridge" in failures[0] and "--duplicate-rate" in failures[1]
    check_options(DemoOptions(bridge=False, endpoint_url="http://127.0.0.1:1", workdir=tmp_path))  # no error
