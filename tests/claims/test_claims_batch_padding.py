"""A record gives the same row in a NiFi-padded batch as alone, through the fused path (``route_record_fused``,
which ``claimflow transform`` takes for parsed records; content written upstream by a NiFi record writer carries
the padding) and the two-step path. The batch is written under its merged schema (tests/claims/_nifi_padding.py), so one
record whose patient is a string pads every other record's patient map with a null "S" tag."""

from __future__ import annotations

import copy
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from claimflow.claims import ClaimSettings, Routed, route_record_fused, route_records
from claimflow.claims.synthetic import kinesis_record
from claimflow.record_routing import route_content

from ._claims import EVENT_TIME_US, INGEST_US, item, with_change
from ._nifi_padding import has_tag_padding, merged_schema_padding
from .test_claims_routing import MUTATIONS

SETTINGS = ClaimSettings.from_strings(strict="false")
# Values whose DynamoDB type differs from the usual one: in a batch they pad the usual one's tags.
RETYPED: list[tuple[str, Any]] = [
    ("patient", st.just("Ava Okafor")),
    ("provider", st.just(None)),
    ("payer", st.sampled_from(["ACME", 7])),
    ("patient.address", st.just(["12 Oak St"])),
    ("total_charge", st.just("167.50")),
    ("diagnosis_codes", st.just("E119,I10")),
    ("procedure_details.0", st.just("99213")),
]


@st.composite
def batches(draw: st.DrawFn) -> list[dict[str, Any]]:
    records = []
    for number in range(draw(st.integers(2, 8))):
        claim = copy.deepcopy(item(draw(st.integers(0, 40)), seed=3))
        for path, strategy in draw(st.lists(st.sampled_from(MUTATIONS), max_size=2, unique_by=lambda m: m[0])):
            claim = with_change(claim, path, draw(strategy))
        retype = draw(st.one_of(st.none(), st.sampled_from(RETYPED)))
        if retype is not None:  # after the mutations: it may replace a map they changed
            claim = with_change(claim, retype[0], draw(retype[1]))
        name = draw(st.sampled_from(["INSERT", "INSERT", "MODIFY", "REMOVE"]))
        new, old = (None, claim) if name == "REMOVE" else (claim, claim if name == "MODIFY" else None)
        key = claim["claim_id"] if isinstance(claim.get("claim_id"), str) and claim["claim_id"] else f"CLM-{number}"
        records.append(orjson.loads(orjson.dumps(
            kinesis_record(new, name, EVENT_TIME_US + number, number, old_item=old, key=key))))
    return records


def _routed(record: dict[str, Any], index: int) -> Routed:
    return route_record_fused(record, index, SETTINGS, INGEST_US, None)


def _outcome(record: dict[str, Any], index: int) -> tuple[str, Any, Any]:
    routed = _routed(record, index)
    assert not (routed.rule or "").startswith("internal error"), routed.error
    return routed.relationship, routed.row, routed.rule


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batches())
def test_a_record_gives_the_same_row_in_a_padded_batch_as_alone(records: list[dict[str, Any]]) -> None:
    padded = merged_schema_padding(records)
    for index, (alone, in_batch) in enumerate(zip(records, padded, strict=True)):
        assert _outcome(in_batch, index) == _outcome(alone, index)
        # And the same as the two-step path (decoder, then the claim rules) on the unpadded record.
        (two_step,) = route_records(orjson.dumps(alone), SETTINGS, INGEST_US)
        fused = _routed(alone, 0)
        assert fused.relationship == two_step.relationship
        assert fused.relationship == "invalid" or fused.row == two_step.row


def test_the_batches_really_carry_tag_padding() -> None:
    """The property is about null sibling tags: show that the retyped values produce them."""
    claim = item(1, seed=3)
    records = [kinesis_record(claim, "INSERT", EVENT_TIME_US, 0),
               kinesis_record(with_change(claim, "patient", "Ava Okafor"), "INSERT", EVENT_TIME_US, 1)]
    records = [orjson.loads(orjson.dumps(r)) for r in records]
    padded = merged_schema_padding(records)
    assert has_tag_padding(padded)
    assert set(padded[0]["dynamodb"]["NewImage"]["patient"]) == {"M", "S"}
    assert padded[0]["dynamodb"]["NewImage"]["patient"]["S"] is None


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batches())
def test_a_padded_flowfile_gives_each_record_the_row_it_gets_alone(records: list[dict[str, Any]]) -> None:
    """The same, at the FlowFile level the claim processors run: one content of NiFi-padded records through
    ``route_content`` (ProcessClaimChange's core), line for line against each record in a FlowFile of its own.
    Only the record's place in its FlowFile (its index) may differ."""
    padded = merged_schema_padding(records)
    batch = _lines(route_content(b"\n".join(orjson.dumps(r) for r in padded), SETTINGS, None, INGEST_US).content)
    assert len(batch) == len(records)  # one line per record
    for index, (line, alone) in enumerate(zip(batch, records, strict=True)):
        (single,) = _lines(route_content(orjson.dumps(alone), SETTINGS, None, INGEST_US).content)
        if "rule" in single:  # a dead letter: same rule, at its own index
            assert (line["index"], line["rule"]) == (index, single["rule"])
        else:
            assert line["flowFileRecordIndex"] == index
            assert {**line, "flowFileRecordIndex": 0} == single


def _lines(content: bytes) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in content.split(b"\n") if line]
