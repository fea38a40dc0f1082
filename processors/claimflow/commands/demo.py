"""``claimflow demo``: the whole CDC pipeline on this machine, reconciled end to end.

moto (DynamoDB, DynamoDB Streams, Kinesis) behind a real HTTP endpoint -> bridge in the Kinesis Data Streams for
DynamoDB format -> checkpointing consumer -> ClaimFlow's NiFi processors (offline runtime, wired as the shipped
flow definition) -> Snowflake emulated by fakesnow on a DuckDB file under .demo/ -> reconciliation.
Exit status 0 and a last line ``reconciled`` when DynamoDB and Snowflake agree; 1 otherwise; 2 for a usage error.

PHI: the shipped flow pseudonymises; the demo keys it with a demo-only HMAC key generated for the run, or with
``$CLAIMFLOW_DEMO_HMAC_KEY`` (never an option: it would show in shell history and process listings).
``--pass-through`` runs the flow with PHI Handling "Pass Through" instead.
"""

from __future__ import annotations

import argparse
import os
import re
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

from claimflow import names

DEMO_KEY_VARIABLE = "CLAIMFLOW_DEMO_HMAC_KEY"


def _rate(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError("must be between 0 and 1")
    return value


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--claims", type=_positive, default=1000, help="claims to generate (default 1000)")
    parser.add_argument("--seed", type=int, default=42, help="random seed of the generator and the chaos (42)")
    parser.add_argument("--shards", type=_positive, default=4, help="Kinesis shards (default 4)")
    parser.add_argument("--batch-size", type=_positive, default=2000, help="Kinesis records per consumer batch (2000)")
    chaos = parser.add_argument_group("chaos (the reconciliation must still pass)")
    chaos.add_argument("--duplicate-rate", type=_rate, default=0.0, help="share of records put into Kinesis twice")
    chaos.add_argument(
        "--invalid-rate", type=_rate, default=0.0, help="share of extra broken records (must reach the dead letter)"
    )
    chaos.add_argument("--shuffle", action="store_true", help="deliver out of order, within and across batches")
    chaos.add_argument(
        "--kill-consumer-after",
        type=_positive,
        metavar="N",
        help="crash the consumer after N records (uncommitted batch not checkpointed), then resume",
    )
    real = parser.add_argument_group("real endpoints (same client code as the emulators)")
    real.add_argument("--endpoint-url", help="AWS endpoint URL (default: start the local moto server)")
    real.add_argument("--aws", action="store_true", help="use real AWS with the normal credential chain")
    real.add_argument("--region", default="us-east-1", help="AWS region (us-east-1)")
    real.add_argument("--table", default=names.DYNAMODB_TABLE, help=f"DynamoDB table ({names.DYNAMODB_TABLE})")
    real.add_argument("--stream", default=names.KINESIS_STREAM, help=f"Kinesis stream ({names.KINESIS_STREAM})")
    real.add_argument(
        "--no-bridge",
        action="store_true",
        help="the table already streams to Kinesis (infra/): do not run the demo's bridge; needs --aws/--endpoint-url",
    )
    real.add_argument(
        "--snowflake-connection",
        metavar="NAME",
        help="a connection in ~/.snowflake/connections.toml (key-pair) instead of the embedded emulator",
    )
    backfill = parser.add_argument_group("an existing table (docs/backfill.md)")
    backfill.add_argument("--existing", type=_positive, default=None, metavar="N",
                          help="write N claims before streaming starts, backfill them, then stream")  # fmt: skip
    backfill.add_argument("--backfill-source", choices=["export", "scan"], default="export",
                          help="export (moto's ExportTableToPointInTime to S3, the default) or a parallel Scan")
    parser.add_argument("--workdir", type=Path, default=Path(".demo"), help="checkpoints and the DuckDB file (.demo)")
    parser.add_argument("--flow", type=Path, help="flow definition to wire the processors (claimflow-nifi.json)")
    parser.add_argument(
        "--pass-through",
        dest="phi_handling",
        action="store_const",
        const="Pass Through",
        help="run the flow with PHI Handling 'Pass Through' (identifiers as written) instead of its default "
        f"'Pseudonymize' (keyed by a demo-only key generated per run, or ${DEMO_KEY_VARIABLE})",
    )


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from claimflow.demo.runner import DemoOptions, check_options, run_demo

    console = Console(highlight=False)
    if not console.is_terminal:
        console = Console(highlight=False, width=160)  # files and pipes: wide enough for the view tables
    options = DemoOptions(
        claims=args.claims,
        seed=args.seed,
        shards=args.shards,
        batch_size=args.batch_size,
        duplicate_rate=args.duplicate_rate,
        invalid_rate=args.invalid_rate,
        shuffle=args.shuffle,
        kill_consumer_after=args.kill_consumer_after,
        workdir=args.workdir,
        endpoint_url=args.endpoint_url,
        use_aws=args.aws,
        region=args.region,
        table_name=args.table,
        stream_name=args.stream,
        snowflake_connection=args.snowflake_connection,
        flow_path=args.flow,
        bridge=not args.no_bridge,
        phi_handling=args.phi_handling,
        hmac_key=os.environ.get(DEMO_KEY_VARIABLE) or None,
        existing=args.existing or 0,
        backfill_source=args.backfill_source,
    )
    try:
        check_options(options)
        _check_key(options.hmac_key)
    except ValueError as exc:
        console.print(f"claimflow demo: {exc}")
        return 2
    with Progress(
        TextColumn("{task.description:<26}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
        refresh_per_second=2,  # the bar's refresh thread shares the interpreter lock with the demo's work
    ) as progress:
        claims_task = progress.add_task("claims written to DynamoDB", total=args.claims)
        landed_task = progress.add_task("records landed in Snowflake", total=None)
        report = run_demo(
            options,
            on_claims=lambda n: progress.advance(claims_task, n),
            on_landed=lambda n: progress.advance(landed_task, n),
        )
        progress.update(landed_task, total=progress.tasks[landed_task].completed)
    print_report(console, report)
    if report.reconciliation.ok:
        console.print("reconciled")
        return 0
    console.print("NOT reconciled")
    return 1


def _check_key(key: str | None) -> None:
    """Raises ValueError (naming the variable, never the key) for a given key the processors would refuse."""
    from claimflow.claims.settings import KEY_GENERATION_HINT, hmac_key_problem

    problem = None if key is None else hmac_key_problem(key.encode())
    if problem is not None:
        raise ValueError(f"${DEMO_KEY_VARIABLE}: {problem}; {KEY_GENERATION_HINT}")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):  # fakesnow returns SUM/AVG of NUMBER(12,2) as DOUBLE; show cents
        return f"{Decimal(repr(value)).quantize(Decimal('0.01')):,}"
    if isinstance(value, Decimal):
        return f"{value:,}"
    if hasattr(value, "isoformat"):
        return value.isoformat(sep=" ", timespec="seconds") if hasattr(value, "hour") else value.isoformat()
    return str(value)


# The views do not share one claimStatus vocabulary (sql/04_views.sql, generated by claimflow.snowflake.ddl): the
# summary and pending views show the canonical code (claimStatusCode, e.g. PAID), the recent events the status as
# the source wrote it (e.g. Paid). Until the views agree, the demo says which one each column holds.
STATUS_COLUMN_LABELS: dict[str, str] = {
    "V_CLAIMS_SUMMARY": "CLAIMSTATUS (code)",
    "V_PENDING_CLAIMS": "CLAIMSTATUS (code)",
    "V_RECENT_EVENTS": "CLAIMSTATUS (as written)",
}


def column_label(title: str, column: str) -> str:
    """The header of ``column`` in the view printed under ``title`` ("Claims summary (V_CLAIMS_SUMMARY)")."""
    view = re.search(r"\((V_\w+)\)$", title)
    if column.upper() == "CLAIMSTATUS" and view and view.group(1) in STATUS_COLUMN_LABELS:
        return STATUS_COLUMN_LABELS[view.group(1)]
    return column


def skipped_line(not_executed: list[str]) -> str:
    """One line naming the sql/ statements the emulator skipped, grouped by kind (most frequent first), each with
    the scripts it is in: ``38 ALTER TABLE (03_stream_task, 05_governance), 12 GRANT (...)``.

    ``not_executed`` holds "script#index KIND" entries (claimflow.demo.runner).
    """
    kinds: Counter[str] = Counter()
    scripts: dict[str, set[str]] = {}
    for entry in not_executed:
        where, _, kind = entry.partition(" ")
        kind = kind or "?"
        kinds[kind] += 1
        scripts.setdefault(kind, set()).add(where.split("#", 1)[0].removesuffix(".sql"))
    grouped = ", ".join(
        f"{count} {kind} ({', '.join(sorted(scripts[kind]))})"
        for kind, count in sorted(kinds.items(), key=lambda kv: (-kv[1], kv[0]))
    )
    return (
        f"skipped (the emulator cannot run them; meant for a real account, see docs/snowflake.md): "
        f"{len(not_executed)} sql/ statements: {grouped}"
    )


def print_report(console: Any, report: Any) -> None:
    from rich.table import Table

    console.print(f"processors wired from: {report.pipeline.origin}: {' -> '.join(report.pipeline.stages)}")
    if report.pipeline.phi:
        console.print(f"PHI Handling: {report.pipeline.phi}")
    if report.sql_not_executed:
        console.print(skipped_line(report.sql_not_executed), soft_wrap=True)  # one line, however long
    for title, (columns, rows) in report.views.items():
        table = Table(title=title, title_justify="left")
        for name in columns:
            table.add_column(column_label(title, name))
        for row in rows:
            table.add_row(*(_cell(v) for v in row))
        console.print(table)

    summary = Table(title="Summary", title_justify="left", show_header=False)
    summary.add_column("what")
    summary.add_column("value", justify="right")
    for name in ("INSERT", "MODIFY", "REMOVE"):
        summary.add_row(f"events {name}", f"{report.events_by_type.get(name, 0):,}")
    summary.add_row("  of which TTL expiries", f"{report.ttl_deletes:,}")
    summary.add_row("duplicates put into Kinesis", f"{report.duplicates:,}")
    if report.invalid_injected:
        summary.add_row("broken records injected", f"{report.invalid_injected:,}")
    summary.add_row("Kinesis records", f"{report.kinesis_records:,}")
    summary.add_row("FlowFiles delivered (incl. re-deliveries)", f"{report.flowfiles_delivered:,}")
    summary.add_row("consumer restarts / records re-delivered", f"{report.consumer_restarts} / {report.redelivered:,}")
    summary.add_row("Snowflake batches (transactions)", f"{report.batches:,}")
    for table_name, count in report.table_rows.items():
        summary.add_row(f"rows in {table_name}", f"{count:,}")
    recon = report.reconciliation
    summary.add_row("live claims: DynamoDB / Snowflake", f"{recon.source_claims:,} / {recon.destination_live:,}")
    summary.add_row("tombstones (deleted claims)", f"{recon.destination_tombstones:,}")
    events = f"{recon.bridge_events:,} / {recon.history_distinct_events:,}"
    summary.add_row("events: bridge / distinct in history", events)
    invalid = sum(report.dead_letters.values())
    summary.add_row("invalid records (dead letter)", f"{invalid:,}")
    for reason, count in report.dead_letters.most_common(10):
        summary.add_row(f"  {reason[:90]}", f"{count:,}")
    backfilled = getattr(report, "backfill", None)
    if backfilled is not None:  # --existing (claimflow.demo.backfill)
        summary.add_row(f"existing claims backfilled ({backfilled.source})",
                        f"{backfilled.rows:,} rows / {backfilled.items:,} items")  # fmt: skip
        summary.add_row("  changed before / after the snapshot, deleted after",
                        f"{backfilled.changed_before} / {backfilled.changed_after}, {backfilled.deleted_after}")
        summary.add_row("  full refresh: claims tombstoned", f"{backfilled.refreshed:,}")
        summary.add_row("  snapshot read + landed", f"{backfilled.snapshot_s:,.1f} s")
    summary.add_row("elapsed", f"{report.elapsed_s:,.1f} s")
    if report.steps_s:
        summary.add_row(f"  {' / '.join(report.steps_s)}", " / ".join(f"{s:,.1f} s" for s in report.steps_s.values()))
    for process, usage in report.usage.items():
        summary.add_row(f"{process} process: peak memory / CPU",
                        f"{usage.peak_rss_bytes / 1e9:,.2f} GB / {usage.cpu_s:,.0f} s")  # fmt: skip
    summary.add_row("events/s (end to end)", f"{report.events / report.elapsed_s:,.0f}" if report.elapsed_s else "-")
    console.print(summary)
    for problem in recon.problems:
        console.print(f"MISMATCH: {problem}")
