"""Pseudonymisation and Safe Harbor generalisation of claim rows."""

from __future__ import annotations

import hashlib
import json
import random
from datetime import date

import pytest

from claimflow.claims import ClaimSettings, PhiMode, route_records, route_records_fused
from claimflow.claims.phi import DIRECT_IDENTIFIERS, RESTRICTED_ZIP3, pseudonym
from claimflow.claims.synthetic import claim_item, kinesis_record
from claimflow.rows import COLUMNS, Phi

KEY = b"0123456789abcdef0123456789abcdef"


def _line(**patient: str) -> bytes:
    item = claim_item(random.Random(1), 1)
    item.pop("date_of_service")  # no date of service: no age at service to cap by
    item["patient"] = {**item["patient"], **patient}
    return json.dumps(kinesis_record(item, "INSERT", 1_761_955_200_000_000, 1)).encode()


@pytest.mark.parametrize("route", [route_records, route_records_fused])
def test_a_birth_year_meaning_an_age_over_89_is_dropped_without_a_date_of_service(route: object) -> None:
    settings = ClaimSettings(generalize_birth_year=True)
    old_year = date.today().year - 95
    (old,) = route(_line(date_of_birth=f"{old_year}-05-05"), settings, 1)  # type: ignore[operator]
    assert old.row is not None and old.row["patientDOB"] is None
    young_year = date.today().year - 40
    (young,) = route(_line(date_of_birth=f"{young_year}-05-05"), settings, 1)  # type: ignore[operator]
    assert young.row is not None and young.row["patientDOB"] == f"{young_year}-01-01"


def test_direct_identifiers_are_keyed_hmac_tokens_never_plain_hashes() -> None:
    assert set(DIRECT_IDENTIFIERS) == {c.name for c in COLUMNS if c.phi is Phi.DIRECT_IDENTIFIER}
    settings = ClaimSettings(phi_mode=PhiMode.PSEUDONYMIZE, hmac_key=KEY)
    (routed,) = route_records_fused(_line(first_name="Zelphiax"), settings, 1)
    assert routed.row is not None
    token = routed.row["patientFirstName"]
    assert token == pseudonym(KEY, "patientFirstName", "Zelphiax") and len(token) == 32
    for plain in (hashlib.sha256(b"zelphiax").hexdigest(), hashlib.sha256(b"name\x1fzelphiax").hexdigest()):
        assert not plain.startswith(token)
    assert pseudonym(b"x" * 32, "patientFirstName", "Zelphiax") != token  # another key, another token
    for column in DIRECT_IDENTIFIERS:
        assert routed.row[column] is None or len(routed.row[column]) == 32


def test_short_keys_are_refused_and_keys_never_shown() -> None:
    with pytest.raises(ValueError) as caught:
        ClaimSettings.from_strings(phi_mode="pseudonymize", hmac_key="S3CRET-" * 4)
    assert "S3CRET" not in str(caught.value)
    settings = ClaimSettings(phi_mode=PhiMode.PSEUDONYMIZE, hmac_key=b"S3CRET-KEY" * 4)
    assert "S3CRET" not in f"{settings!r} {settings!s}"


def test_restricted_zip3_areas_are_the_hhs_list() -> None:
    hhs_list = {"036", "059", "063", "102", "203", "556", "692", "790", "821", "823", "830", "831", "878", "879", "884",
                "890", "893"}
    assert hhs_list == RESTRICTED_ZIP3
