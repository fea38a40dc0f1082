"""HIPAA Safe Harbor mode: no date element but the year, no age above 89, ZIP3 with the 000 rule, direct identifiers
removed, keys as keyed tokens; weak HMAC keys refused. Both row paths (two-step and fused) and the CLI."""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from claimflow.claims import ClaimSettings, PhiMode, route_records, route_records_fused
from claimflow.claims.phi import DIRECT_IDENTIFIERS, SAFE_HARBOR_TOKENS, pseudonym
from claimflow.claims.settings import hmac_key_problem
from claimflow.claims.synthetic import claim_item, claim_records, kinesis_record
from claimflow.record_routing import ACCEPTED_PHI_HANDLING, claim_settings_from_properties
from claimflow.rows import COLUMNS, Kind

KEY = b"made-up Safe Harbor test key: 4Rk9Tq2Wz7Lm"
SAFE = ClaimSettings(phi_mode=PhiMode.SAFE_HARBOR, hmac_key=KEY)
REPO = Path(__file__).resolve().parents[2]
EVENT_US = 1_761_955_200_000_000  # 2025-11-01


def _record(**patient: str) -> bytes:
    item = claim_item(random.Random(3), 1)
    item["patient"] = {**item["patient"], **patient}
    return json.dumps(kinesis_record(item, "INSERT", EVENT_US + 123_456_789, 1)).encode()


def _rows(route: object, data: bytes) -> list[dict]:
    routed = list(route(data, SAFE, 1_761_999_999_000_001))  # type: ignore[operator]
    assert all(r.row is not None for r in routed), [r.error for r in routed]
    return [r.row for r in routed]  # type: ignore[misc]


def _assert_safe_harbor(row: dict) -> None:
    for col in COLUMNS:
        value = row[col.name]
        if value is None:
            continue
        if col.kind is Kind.DATE:
            assert re.fullmatch(r"\d{4}-01-01", value), (col.name, value)
        elif col.kind is Kind.TIMESTAMP:
            assert re.fullmatch(r"\d{4}-01-01T00:00:00\.000000", value), (col.name, value)
    year_start = (date(int(row["eventTimeUtc"][:4]), 1, 1) - date(1970, 1, 1)).days * 86_400_000_000
    assert row["eventCreationUnixTime"] == year_start
    assert row["claimAgeDays"] is None
    assert row["patientAgeAtService"] is None or row["patientAgeAtService"] <= 90
    for column in DIRECT_IDENTIFIERS:
        assert row[column] is None, column
    assert row["patientCity"] is None
    assert row["patientZip"] is None or re.fullmatch(r"\d{3}", row["patientZip"])
    assert all(line["description"] is None for line in row["procedureDetails"] or [])
    assert row["phiMode"] == "safe_harbor"


@pytest.mark.parametrize("route", [route_records, route_records_fused])
def test_safe_harbor_rows_keep_no_date_element_but_the_year(route: object) -> None:
    data = b"\n".join(claim_records(60, seed=17))
    rows = _rows(route, data)
    assert len(rows) == 60
    for row in rows:
        _assert_safe_harbor(row)
    # The merge key and event id are keyed tokens: stable per value, never the value.
    plain = [r.row for r in route_records(data, ClaimSettings(), 1)]  # type: ignore[attr-defined]
    for safe, raw in zip(rows, plain, strict=True):
        for column in SAFE_HARBOR_TOKENS:
            if raw[column] is not None:
                assert safe[column] == pseudonym(KEY, column, raw[column]) != raw[column]


@pytest.mark.parametrize("route", [route_records, route_records_fused])
def test_ages_over_89_are_90_and_their_birth_year_is_gone(route: object) -> None:
    (old,) = _rows(route, _record(date_of_birth="1921-07-04"))
    assert old["patientAgeAtService"] == 90 and old["patientDOB"] is None
    young_year = date.today().year - 40
    (young,) = _rows(route, _record(date_of_birth=f"{young_year}-07-04"))
    assert young["patientDOB"] == f"{young_year}-01-01" and young["patientAgeAtService"] < 90


@pytest.mark.parametrize("route", [route_records, route_records_fused])
def test_zip3_follows_the_000_rule(route: object) -> None:
    item = claim_item(random.Random(3), 1)
    for zip_code, want in (("03601", "000"), ("89301", "000"), ("02134", "021")):
        item["patient"]["address"] = {**item["patient"]["address"], "zip": zip_code}
        data = json.dumps(kinesis_record(item, "INSERT", EVENT_US, 1)).encode()
        (row,) = _rows(route, data)
        assert row["patientZip"] == want


def test_safe_harbor_needs_a_strong_key_and_implies_the_generalisations() -> None:
    with pytest.raises(ValueError, match="safe-harbor mode"):
        ClaimSettings(phi_mode=PhiMode.SAFE_HARBOR)
    assert SAFE.generalize_zip3 and SAFE.generalize_birth_year


@pytest.mark.parametrize("weak", [b" " * 32, b"a" * 32, b"0" * 32, b"password" * 4, b"ab" * 40])
def test_weak_keys_are_refused_with_a_clear_error_that_never_shows_them(weak: bytes) -> None:
    for mode in (PhiMode.PSEUDONYMIZE, PhiMode.SAFE_HARBOR):
        with pytest.raises(ValueError, match="too little variety") as caught:
            ClaimSettings(phi_mode=mode, hmac_key=weak)
        assert "openssl rand" in str(caught.value)
        assert weak.decode().strip() == "" or weak.decode()[:4] not in str(caught.value)


def test_generated_keys_pass() -> None:
    import base64
    import secrets

    for _ in range(50):
        assert hmac_key_problem(base64.b64encode(secrets.token_bytes(48))) is None
        assert hmac_key_problem(secrets.token_hex(32).encode()) is None


def test_the_processors_property_value_safe_harbor_reaches_the_core() -> None:
    assert ACCEPTED_PHI_HANDLING["Safe Harbor"] == PhiMode.SAFE_HARBOR.value
    settings = claim_settings_from_properties("Safe Harbor", KEY.decode(), None, None, None)
    assert settings.phi_mode is PhiMode.SAFE_HARBOR
    with pytest.raises(ValueError, match="too little variety"):
        claim_settings_from_properties("Safe Harbor", "0" * 32, None, None, None)


def test_the_cli_preset_de_identifies(tmp_path: Path) -> None:
    records = tmp_path / "records.ndjson"
    records.write_bytes(b"\n".join(claim_records(5, seed=5)) + b"\n")
    env = {**os.environ, "CLAIMFLOW_HMAC_KEY": KEY.decode()}
    cli = [sys.executable, "-m", "claimflow.cli", "transform", "--safe-harbor", str(records)]
    result = subprocess.run(cli, capture_output=True, env=env, check=False, cwd=REPO)
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(rows) == 5
    for row in rows:
        _assert_safe_harbor(row)
    weak = subprocess.run(cli, capture_output=True, env={**env, "CLAIMFLOW_HMAC_KEY": "a" * 32}, check=False,
                          cwd=REPO)  # fmt: skip
    assert weak.returncode == 2 and b"too little variety" in weak.stderr and not weak.stdout
