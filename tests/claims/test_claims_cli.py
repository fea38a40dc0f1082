"""``claimflow transform`` end to end, as a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import orjson
import pytest

from claimflow import cli
from claimflow.claims.synthetic import claim_records
from claimflow.rows import COLUMN_NAMES

from ._claims import event, fixed_item, record_bytes, with_change

KEY = "made-up test key for the CLI: 6Yt3Qp9Wz2"


def transform(*args: str, stdin: bytes = b"", env: dict[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "claimflow.cli", "transform", *args],
        input=stdin,
        capture_output=True,
        env={**os.environ, **(env or {})},
        timeout=60,
        check=False,
    )


def test_records_in_rows_out_and_rejections_on_stderr(tmp_path: Path) -> None:
    good = list(claim_records(4, seed=9))
    bad = record_bytes(with_change(fixed_item(), "provider.npi", "1234567894"), key="CLM-1", number=99)
    path = tmp_path / "records.ndjson"
    path.write_bytes(b"\n".join([good[0], bad, *good[1:], b"{not json"]) + b"\n")
    result = transform(str(path), "--ingest-time-us", "1761955260000000")
    assert result.returncode == 1
    rows = [orjson.loads(line) for line in result.stdout.splitlines()]
    assert len(rows) == 4
    assert all(list(row) == list(COLUMN_NAMES) for row in rows)
    assert {row["ingestTime"] for row in rows} == {"2025-11-01T00:01:00.000000"}
    *errors, counts = [orjson.loads(line) for line in result.stderr.splitlines()]
    assert counts == {"in": 6, "out": 4, "rejected": 2}
    assert [e["index"] for e in errors] == [1, 5]
    assert "providerNPI" in errors[0]["error"] and "malformed JSON" in errors[1]["error"]
    assert b"1234567894" not in result.stderr


def test_change_events_from_decode_are_accepted_on_stdin() -> None:
    records = b"\n".join(claim_records(3, seed=2))
    decoded = subprocess.run(
        [sys.executable, "-m", "claimflow.cli", "decode"], input=records, capture_output=True, timeout=60, check=True
    ).stdout
    from_events = transform("--ingest-time-us", "5", stdin=decoded)
    from_records = transform("--ingest-time-us", "5", stdin=records)
    assert from_events.returncode == 0 and from_records.returncode == 0
    assert from_events.stdout == from_records.stdout
    assert len(from_events.stdout.splitlines()) == 3


def test_pseudonymize_takes_the_key_from_the_environment_only() -> None:
    records = record_bytes(fixed_item(), key="CLM-1")
    refused = transform("--phi-mode", "pseudonymize", stdin=records, env={"CLAIMFLOW_HMAC_KEY": ""})
    assert refused.returncode == 2 and b"CLAIMFLOW_HMAC_KEY" in refused.stderr and not refused.stdout
    result = transform("--phi-mode", "pseudonymize", "--zip3", stdin=records, env={"CLAIMFLOW_HMAC_KEY": KEY})
    assert result.returncode == 0
    row = orjson.loads(result.stdout)
    assert row["phiMode"] == "pseudonymized" and row["patientZip"] == "000"
    for raw in (b"Okafor", b"MBR-77", b"ava@example.com", b"12 Oak St"):
        assert raw not in result.stdout
    assert KEY.encode() not in result.stdout + result.stderr



def _exact_pretty(line: bytes) -> bytes:
    """The change-event line as one pretty-printed document, numbers as written."""
    exact = json.loads(line, parse_float=Decimal, parse_int=Decimal)
    return orjson.dumps(exact, default=lambda value: orjson.Fragment(str(value)), option=orjson.OPT_INDENT_2)


def _change_event_layouts(line: bytes) -> dict[str, bytes]:
    """One change-event line in every layout ``claimflow transform`` reads change events in."""
    return {
        "ndjson": line + b"\n" + line + b"\n",
        "single line": line,
        "single pretty": _exact_pretty(line),
        "array": b"[" + line + b"," + line + b"]",
        "array over lines": b"[\n  " + line + b",\n  " + line + b"\n]\n",
        "array pretty": b"[" + _exact_pretty(line) + b"," + _exact_pretty(line) + b"]",
    }


BIG = "12345678901234567890123.45"


@pytest.mark.parametrize("layout", ["ndjson", "single line", "single pretty", "array", "array over lines",
                                    "array pretty"])
def test_change_events_keep_exact_numbers_in_every_layout(
    layout: str, tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    item = fixed_item()
    item["reference_total"] = Decimal(BIG)  # an attribute the claim does not map: read, not written
    item["procedure_details"][0]["charge"] = Decimal("125.000000000000000001")
    data = _change_event_layouts(event(new=item).to_json())[layout]
    assert BIG.encode() in data
    # End to end: a float would have made the charge 125.0 and the claim valid; exact, it has too many places.
    path = tmp_path / "events.json"
    path.write_bytes(data)
    assert cli.main(["transform", str(path), "--ingest-time-us", "5"]) == 1  # in process: the layouts are many
    out, err = capsysbinary.readouterr()
    assert out == b""
    *errors, counts = [orjson.loads(line) for line in err.splitlines()]
    expected = 2 if layout in ("ndjson", "array", "array over lines", "array pretty") else 1
    assert counts == {"in": expected, "out": 0, "rejected": expected}
    assert len(errors) == expected
    assert all("more than 2 decimal places" in e["error"] for e in errors)


def test_attributes_reach_raw_records_mixed_into_change_events(
    tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    records = list(claim_records(2, seed=3))
    path = tmp_path / "mixed.ndjson"
    path.write_bytes(b"\n".join([event(new=fixed_item()).to_json(), records[0], records[1]]) + b"\n")
    shard = "aws.kinesis.shard.id=shardId-000000000005"
    sequence = "aws.kinesis.sequence.number=4965000000000000000001"
    assert cli.main(["transform", str(path), "--ingest-time-us", "5", "--attributes", shard,
                     "--attributes", sequence]) == 0
    out, _ = capsysbinary.readouterr()
    rows = [orjson.loads(line) for line in out.splitlines()]
    assert len(rows) == 3
    # The change event keeps its own position; the raw records get the FlowFile's shard, as decode gives a record
    # of a many-record FlowFile (the sequence number belongs to its last record only).
    assert rows[0]["kinesisShardId"] == "shardId-000000000000"
    assert [row["kinesisShardId"] for row in rows[1:]] == ["shardId-000000000005"] * 2
    assert [row["kinesisSequenceNumber"] for row in rows[1:]] == [None, None]
