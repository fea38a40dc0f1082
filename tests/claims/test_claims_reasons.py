"""Decoder and claim reasons designate a record the same way: ``record <index> (eventId <id>): <rule>``."""

from __future__ import annotations

import orjson

from claimflow.claims import ClaimSettings, route_records

from ._claims import INGEST_US, fixed_item, record_bytes, with_change


def test_decoder_and_claim_reasons_spell_eventid_alike() -> None:
    decoder_bad = orjson.loads(record_bytes(fixed_item(), key="CLM-1", number=1))
    decoder_bad["eventName"] = "UPSERT"
    claim_bad = record_bytes(with_change(fixed_item(), "provider.npi", "1234567894"), key="CLM-1", number=2)
    routed = list(route_records(orjson.dumps(decoder_bad) + b"\n" + claim_bad, ClaimSettings(), INGEST_US))
    assert [r.relationship for r in routed] == ["invalid", "invalid"]
    for index, outcome in enumerate(routed):
        assert outcome.error is not None and outcome.event_id
        assert outcome.error.startswith(f"record {index} (eventId {outcome.event_id}): ")
        assert outcome.error == f"record {index} (eventId {outcome.event_id}): {outcome.rule}"
