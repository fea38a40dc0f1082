"""``claimflow decode`` as a user runs it: the installed console script in a subprocess."""

from __future__ import annotations

import json
import subprocess
from decimal import Decimal
from pathlib import Path

import orjson
import pytest

from ._records import PHI_SENTINEL, REPO, SAMPLES, change_record

CLAIMFLOW = REPO / ".venv" / "bin" / "claimflow"


def _run(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    assert CLAIMFLOW.exists(), f"{CLAIMFLOW} is missing: run make venv"
    return subprocess.run(
        [str(CLAIMFLOW), "decode", *args], input=stdin, capture_output=True, timeout=60, check=False, cwd=REPO
    )


def test_decodes_the_real_samples_from_a_file() -> None:
    result = _run(str(SAMPLES))
    assert result.returncode == 0, result.stderr
    assert result.stderr == b'{"in":3,"out":3,"rejected":0}\n'  # only the count: every record accounted for
    lines = result.stdout.splitlines()
    assert [json.loads(line)["event_name"] for line in lines] == ["INSERT", "MODIFY", "REMOVE"]
    assert json.loads(lines[0], parse_float=Decimal)["new_image"]["humidity"] == Decimal("84.84")


@pytest.mark.parametrize("args", [("-",), ()], ids=["dash", "omitted"])
def test_reads_stdin(args: tuple[str, ...]) -> None:
    result = _run(*args, stdin=SAMPLES.read_bytes())
    assert result.returncode == 0 and len(result.stdout.splitlines()) == 3


def test_rejections_go_to_stderr_and_good_records_still_come_out() -> None:
    bad = change_record("INSERT", "CLM-2", event_id="0b5e4d1c-8f2a-4c3e-9d7b-6a1f2e3d4c5b")
    bad["dynamodb"]["NewImage"]["patientFirstName"] = {"N": PHI_SENTINEL}
    data = b"\n".join(
        [orjson.dumps(change_record("INSERT", "CLM-1")), orjson.dumps(bad), b"{oops", orjson.dumps(change_record())]
    )
    result = _run("-", stdin=data)
    assert result.returncode == 1
    assert len(result.stdout.splitlines()) == 2
    *errors, counts = [json.loads(line) for line in result.stderr.splitlines()]
    assert counts == {"in": 4, "out": 2, "rejected": 2}
    assert [e["index"] for e in errors] == [1, 2]
    assert set(errors[0]) == {"index", "error"}
    assert "eventId 0b5e4d1c-8f2a-4c3e-9d7b-6a1f2e3d4c5b" in errors[0]["error"]
    assert "'patientFirstName'" in errors[0]["error"]
    assert errors[1]["error"] == "record 2: malformed JSON"
    assert PHI_SENTINEL.encode() not in result.stderr


def test_attributes_simulate_a_flowfile() -> None:
    result = _run(
        "--attributes",
        "aws.kinesis.shard.id=shardId-000000000004",
        "--attributes",
        "aws.kinesis.sequence.number=49654321098765432109876543210987654321098765432109876",
        "--attributes",
        "aws.kinesis.approximate.arrival.timestamp.ms=1720740234567",
        stdin=orjson.dumps(change_record()),
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["kinesis"] == {
        "shard_id": "shardId-000000000004",
        "sequence_number": "49654321098765432109876543210987654321098765432109876",
        "partition_key": None,
        "arrival_time_ms": 1720740234567,
    }


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    bad_attribute = _run("--attributes", "no-equals-sign", stdin=b"")
    assert bad_attribute.returncode == 2 and b"KEY=VALUE" in bad_attribute.stderr
    missing = _run(str(tmp_path / "absent.ndjson"))
    assert missing.returncode == 2 and b"cannot read" in missing.stderr


def test_empty_input_is_success_with_no_output() -> None:
    result = _run("-", stdin=b"\n")
    assert (result.returncode, result.stdout, result.stderr) == (0, b"", b'{"in":0,"out":0,"rejected":0}\n')
