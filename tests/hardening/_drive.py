"""How to drive each entry point that takes Kinesis DynamoDB records; one small, uniform result per run.

The cases and properties in this package only see :class:`Outcome`; when a processor's interface changes
(RecordTransform -> FlowFileTransform + Java routing), only this module changes.
"""

from __future__ import annotations

import io
import sys
import tempfile
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from claimflow import cli
from claimflow_offline.java import RoutedRunner
from claimflow_offline.runner import TestRunner

INGEST_US = "1761955260000000"


@dataclass
class Outcome:
    entry: str
    good: int = 0
    rejected: list[tuple[int | None, str]] = field(default_factory=list)
    text: str = ""  # stderr, logs, attributes, reasons: everything an operator sees outside FlowFile content
    crash: str | None = None  # a traceback or an exception raised by the entry point
    keys: list[str] = field(default_factory=list)  # the claim id of every good row or event, as written
    rows: list[dict[str, Any]] = field(default_factory=list)  # claim rows (entry points that build them)

    @property
    def reasons(self) -> str:
        return "\n".join(reason for _, reason in self.rejected)


class _Kept(io.BytesIO):
    """A byte buffer that outlives the text wrapper put in front of it (a wrapper closes its buffer when dropped)."""

    def close(self) -> None:
        pass


def _cli(command: str, content: bytes, attributes: dict[str, str] | None) -> Outcome:
    outcome = Outcome(f"cli-{command}")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "in.ndjson"
        path.write_bytes(content)
        args = [command, str(path)]
        if command == "transform":
            args += ["--ingest-time-us", INGEST_US]
        for name, value in (attributes or {}).items():
            args += ["--attributes", f"{name}={value}"]
        out, err = _Kept(), _Kept()
        saved = sys.stdout, sys.stderr
        sys.stdout = io.TextIOWrapper(out, encoding="utf-8", write_through=True)
        sys.stderr = io.TextIOWrapper(err, encoding="utf-8", write_through=True)
        try:
            if cli.main(args) == 2:  # the command itself failed: every record lost
                outcome.crash = "exit status 2"
        except BaseException:
            outcome.crash = traceback.format_exc()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            sys.stdout, sys.stderr = saved
    stderr = err.getvalue().decode("utf-8", "replace")
    outcome.text = stderr
    if outcome.crash is not None and not outcome.crash.startswith("Traceback"):
        outcome.crash += ": " + stderr[-2000:]
    if "Traceback" in stderr and outcome.crash is None:
        outcome.crash = stderr
    for line in out.getvalue().split(b"\n"):
        if line.strip():
            outcome.good += 1
            parsed = orjson.loads(line)
            outcome.keys.append(_key(parsed))
            if command == "transform":
                outcome.rows.append(parsed)
    for text_line in stderr.split("\n"):
        try:
            reported = orjson.loads(text_line)
        except orjson.JSONDecodeError:
            continue
        if isinstance(reported, dict) and "error" in reported:
            outcome.rejected.append((reported.get("index"), str(reported["error"])))
    return outcome


def _key(line: Any) -> str:
    """The claim id of a change event (decode) or a claim row (transform)."""
    if isinstance(line, dict) and "claimId" in line:
        return str(line["claimId"])
    keys = line.get("keys") if isinstance(line, dict) else None
    return str(keys.get("claim_id")) if isinstance(keys, dict) else "?"


def cli_decode(content: bytes, attributes: dict[str, str] | None = None) -> Outcome:
    return _cli("decode", content, attributes)


def cli_transform(content: bytes, attributes: dict[str, str] | None = None) -> Outcome:
    return _cli("transform", content, attributes)


def _runner_text(runner: TestRunner | RoutedRunner, given: dict[str, str] | None = None) -> str:
    """What the processor wrote outside content: its logs and the attributes it set. An attribute the FlowFile
    already carried with the same value is NiFi's pass-through of the input (the processor cannot drop it), not
    an echo by the processor, so it is left out; the same value under another attribute or in a log still counts."""
    carried = {f"{name}={value}" for name, value in (given or {}).items()}
    attributes = "\n".join(line for line in runner.all_attribute_text().split("\n") if line not in carried)
    return attributes + "\n" + runner.log_text()


def _guarded(entry: str, body: Callable[[Outcome], None]) -> Outcome:
    outcome = Outcome(entry)
    try:
        body(outcome)
    except BaseException:
        outcome.crash = traceback.format_exc()
    return outcome


def _decode_runner(content: bytes, attributes: dict[str, str] | None) -> TestRunner:
    runner = TestRunner("DecodeDynamoDBChange")
    runner.enqueue(content, attributes)
    runner.run()
    return runner


def processor_decode(content: bytes, attributes: dict[str, str] | None = None) -> Outcome:
    def body(outcome: Outcome) -> None:
        runner = _decode_runner(content, attributes)
        outcome.text = _runner_text(runner, attributes)
        for flowfile in runner.get_flowfiles_for("success") + runner.get_flowfiles_for("invalid"):
            for line in flowfile.content.split(b"\n"):
                if not line.strip():
                    continue
                parsed = orjson.loads(line)
                rejected = parsed.get("cdc_rejected") if isinstance(parsed, dict) and len(parsed) == 1 else None
                if isinstance(rejected, dict):
                    outcome.rejected.append((rejected.get("index"), str(rejected.get("error"))))
                else:
                    outcome.good += 1
                    outcome.keys.append(_key(parsed))
        if runner.get_flowfiles_for("failure"):
            outcome.crash = "routed to failure"

    return _guarded("DecodeDynamoDBChange", body)


def _claims(processor: str, content: bytes, attributes: dict[str, str] | None) -> Outcome:
    def body(outcome: Outcome) -> None:
        runner = TestRunner(processor, infer_schema_like_nifi=True)
        text = ""
        if processor == "TransformClaimChange":
            decoder = _decode_runner(content, attributes)
            text = _runner_text(decoder, attributes)
            (decoded,) = decoder.get_flowfiles_for("success") + decoder.get_flowfiles_for("invalid")
            runner.enqueue(decoded.content, decoded.attributes)
        else:
            runner.enqueue(content, attributes)
        runner.run()
        _collect(RoutedRunner(runner), outcome, text, attributes)

    return _guarded(processor, body)


def _collect(runner: RoutedRunner, outcome: Outcome, text: str, given: dict[str, str] | None) -> None:
    """Rows and dead letters of a claim processor, through the flows' Java routing."""
    outcome.text = text + "\n" + _runner_text(runner, given)
    flowfiles_for = runner.get_flowfiles_for
    if flowfiles_for("unmatched"):
        outcome.crash = "routed to unmatched"
    for relationship in ("insert", "modify", "remove"):
        for flowfile in flowfiles_for(relationship):
            for row in flowfile.records():
                outcome.good += 1
                outcome.keys.append(str(row.get("claimId")))
                outcome.rows.append(row)
    for flowfile in flowfiles_for("invalid"):
        for record in flowfile.records():
            outcome.rejected.append((record.get("index"), str(record.get("error"))))
    if flowfiles_for("failure"):
        outcome.crash = "routed to failure"


def processor_transform(content: bytes, attributes: dict[str, str] | None = None) -> Outcome:
    return _claims("TransformClaimChange", content, attributes)


def processor_transform_events(content: bytes, attributes: dict[str, str] | None = None) -> Outcome:
    """TransformClaimChange handed change-event content directly (what it reads from DecodeDynamoDBChange)."""

    def body(outcome: Outcome) -> None:
        runner = TestRunner("TransformClaimChange", infer_schema_like_nifi=True)
        runner.enqueue(content, attributes)
        runner.run()
        _collect(RoutedRunner(runner), outcome, "", None)

    return _guarded("TransformClaimChange(events)", body)


def processor_process(content: bytes, attributes: dict[str, str] | None = None) -> Outcome:
    return _claims("ProcessClaimChange", content, attributes)


ENTRY_POINTS: dict[str, Callable[[bytes, dict[str, str] | None], Outcome]] = {
    "cli-decode": cli_decode,
    "cli-transform": cli_transform,
    "DecodeDynamoDBChange": processor_decode,
    "TransformClaimChange": processor_transform,
    "ProcessClaimChange": processor_process,
}
# Entry points that read change events (decode's output).
EVENT_ENTRY_POINTS: dict[str, Callable[[bytes, dict[str, str] | None], Outcome]] = {
    "cli-transform": cli_transform,
    "TransformClaimChange": processor_transform_events,
}
# Entry points that build claim rows (the decoder alone checks no claim rule).
CLAIM_ENTRY_POINTS = ("cli-transform", "TransformClaimChange", "ProcessClaimChange")


def dumps(record: Any) -> bytes:
    return orjson.dumps(record)
