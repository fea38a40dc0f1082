"""The table's DynamoDB TTL attribute (``expires_at``, ``ttl``, ``expiresAt``) is a known field the mapping ignores
on purpose: never a column, never an unknown-field flag, on every path (mapping, fused, claim-shaped fast path)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import orjson
import pytest

from claimflow.claims import ClaimSettings, route_records, route_records_fused
from claimflow.claims.mapping import map_item

from ._claims import INGEST_US, fixed_item, item, record_bytes
from .test_claims_shaped import both_paths, counting_fast_hits

TTL_SPELLINGS = ["expires_at", "ttl", "expiresAt", "TTL"]


def _flags(row: dict[str, Any] | None) -> list[str]:
    return list((row or {}).get("dataQualityFlags") or [])


@pytest.mark.parametrize("name", TTL_SPELLINGS)
def test_mapping_ignores_the_ttl_attribute(name: str) -> None:
    mapped = map_item({**fixed_item(), name: Decimal(1_800_000_000)})
    assert mapped.unknown == [] and mapped.conflicts == []
    assert mapped.fields == map_item(fixed_item()).fields


def _records(ttl_name: str | None) -> bytes:
    lines = []
    for number in range(20):
        image = item(number)
        if ttl_name is not None:
            image[ttl_name] = Decimal(1_800_000_000 + number)
        name, old = ("INSERT", None) if number % 2 == 0 else ("MODIFY", item(number))
        lines.append(record_bytes(image, name, old=old, number=number))
    return b"\n".join(lines)


@pytest.mark.parametrize("name", TTL_SPELLINGS)
def test_every_path_routes_claims_with_ttl_like_claims_without(name: str) -> None:
    settings_ = ClaimSettings(strict=True)  # strict: an unknown-field flag would reject the claim
    with_ttl, without_ttl = _records(name), _records(None)
    hits_with: list[int] = []
    with counting_fast_hits(hits_with):
        fast = list(route_records_fused(with_ttl, settings_, INGEST_US))
    hits_without: list[int] = []
    with counting_fast_hits(hits_without):
        reference = list(route_records_fused(without_ttl, settings_, INGEST_US))
    assert hits_with == hits_without and len(hits_with) >= 10  # the fast path takes them as it takes the others
    _fast_again, general = both_paths(with_ttl, settings_)
    assert fast == general == list(route_records(with_ttl, settings_, INGEST_US))
    assert [orjson.dumps(r.row) for r in fast] == [orjson.dumps(r.row) for r in reference]
    assert [r.relationship for r in fast] == [r.relationship for r in reference]
    assert not any(flag.startswith("UNKNOWN_FIELDS") for r in fast for flag in _flags(r.row))


def test_other_unknown_fields_are_still_flagged_next_to_the_ttl() -> None:
    data = record_bytes({**fixed_item(), "expires_at": Decimal(1_800_000_000), "surprise": "x"})
    fast, general = both_paths(data, ClaimSettings())
    assert fast == general
    assert "UNKNOWN_FIELDS:1" in _flags(fast[0].row)


def test_a_malformed_ttl_value_is_rejected_alike_on_every_path() -> None:
    record = orjson.loads(record_bytes({**fixed_item(), "expires_at": Decimal(1)}))
    record["dynamodb"]["NewImage"]["expires_at"] = {"N": "not-a-number"}
    data = orjson.dumps(record)
    fast, general = both_paths(data, ClaimSettings())
    assert fast == general == list(route_records(data, ClaimSettings(), INGEST_US))
    assert [r.relationship for r in fast] == ["invalid"]
