"""A record that breaks several rules is rejected with all of them, on every path, and never with a value."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import orjson
import pytest

from claimflow.claims import ClaimSettings, InvalidClaim, route_events, route_records, route_records_fused
from claimflow.claims.fused import route_record_fused
from claimflow.claims.mapping import map_item
from claimflow.claims.model import validate_item
from claimflow.claims.validate import validate_mapped

from ._claims import event, fixed_item, record_bytes, with_change

BAD_NPI = "1234567894"  # check digit wrong
BAD_ICD = "Q99.Z9X"  # not in ICD-10-CM format
BAD_DOB = "1980-02-30"  # no such day

THREE = (
    "patientDOB: impossible date; providerNPI: not a valid NPI (format or check digit); "
    "diagnosisCodes[1]: not an ICD-10-CM code"
)


def _three_bad() -> dict[str, Any]:
    item = with_change(fixed_item(), "provider.npi", BAD_NPI)
    item = with_change(item, "diagnosis_codes", ["I10", BAD_ICD])
    return with_change(item, "patient.dob", BAD_DOB)


def _reason_has_no_value(reason: str) -> None:
    for value in (BAD_NPI, BAD_ICD, BAD_DOB, "Blue Harbor"):
        assert value not in reason


def test_the_fast_validation_names_every_broken_rule_in_column_order() -> None:
    with pytest.raises(InvalidClaim) as error:
        validate_mapped(map_item(_three_bad()))
    assert str(error.value) == THREE
    assert error.value.failures == (
        ("patientDOB", "impossible date"),
        ("providerNPI", "not a valid NPI (format or check digit)"),
        ("diagnosisCodes[1]", "not an ICD-10-CM code"),
    )
    assert (error.value.field, error.value.rule) == ("patientDOB", "impossible date")  # the first, as before
    _reason_has_no_value(str(error.value))


def test_the_model_rejects_the_same_three_fields() -> None:
    with pytest.raises(InvalidClaim) as error:
        validate_item(_three_bad())
    assert {field for field, _ in error.value.failures} == {"patient.dob", "provider.npi", "diagnosis_codes.1"}
    _reason_has_no_value(str(error.value))


def test_every_bad_field_of_every_procedure_line_is_named() -> None:
    item = with_change(fixed_item(), "procedure_details.0.code", "ZZZZZ")
    item = with_change(item, "procedure_details.0.units", 0)
    item = with_change(item, "procedure_details.1.charge", "-5")
    with pytest.raises(InvalidClaim) as error:
        validate_mapped(map_item(item))
    assert [field for field, _ in error.value.failures] == [
        "procedureDetails[0].code", "procedureDetails[0].units", "procedureDetails[1].charge"
    ]


def test_all_paths_give_the_same_reason() -> None:
    settings = ClaimSettings()
    good = fixed_item()
    data = b"\n".join([record_bytes(good, number=0), record_bytes(_three_bad(), number=1)])
    expected = THREE
    two_step = [r for r in route_records(data, settings, 5) if r.row is None]
    fused = [r for r in route_records_fused(data, settings, 5) if r.row is None]
    single = route_record_fused(orjson.loads(data.splitlines()[1]), 1, settings, 5)
    events = list(route_events([event(_three_bad(), key="CLM-2025-000001")], settings, 5))
    for routed in (two_step[0], fused[0], single, events[0]):
        assert routed.error is not None and routed.error.endswith(f": {expected}")
        assert routed.rule == expected
    assert two_step[0].error == fused[0].error == single.error


def test_transform_reports_all_three_on_stderr(tmp_path: Any) -> None:
    path = tmp_path / "records.ndjson"
    path.write_bytes(record_bytes(_three_bad(), number=3) + b"\n")
    result = subprocess.run(
        [sys.executable, "-m", "claimflow.cli", "transform", str(path), "--ingest-time-us", "5"],
        capture_output=True, timeout=60, check=False,
    )
    assert result.returncode == 1
    line, counts = result.stderr.splitlines()
    assert orjson.loads(counts) == {"in": 1, "out": 0, "rejected": 1}
    reported = orjson.loads(line)
    assert reported["index"] == 0
    assert reported["error"].endswith(f": {THREE}")
    _reason_has_no_value(result.stderr.decode())
