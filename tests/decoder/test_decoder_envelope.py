"""Rejection envelopes, change-event lines for a whole FlowFile, and decoding an already-parsed record."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from claimflow.event_time import creation_time_us
from claimflow.events import (
    REJECTION_FIELD,
    ChangeEvent,
    Rejection,
    decode_record_or_rejection,
    decode_records,
    decode_to_lines,
)

from ._records import PHI_SENTINEL, change_record, ndjson


def test_envelope_round_trips_a_rejection() -> None:
    rejection = Rejection(3, "record 3 (eventId e-3): missing dynamodb", "{\"x\": \"é\"}".encode(), "e-3")
    line = rejection.to_json()
    assert b"\n" not in line and "é".encode() in line  # one line, UTF-8 kept as is
    parsed = json.loads(line)
    assert list(parsed) == [REJECTION_FIELD]
    assert parsed[REJECTION_FIELD] == {
        "index": 3,
        "event_id": "e-3",
        "error": "record 3 (eventId e-3): missing dynamodb",
        "raw": '{"x": "é"}',
    }
    assert Rejection.from_envelope(parsed, index=99) == rejection


def test_envelope_of_undecodable_bytes_replaces_them() -> None:
    envelope = Rejection(0, "record 0: malformed JSON", b"\xff\xfe{").to_envelope()
    assert envelope[REJECTION_FIELD]["raw"] == "\ufffd\ufffd{"
    assert envelope[REJECTION_FIELD]["event_id"] is None


def test_envelope_without_raw_keeps_none() -> None:
    rejection = Rejection(1, "record 1: malformed JSON", None)
    assert Rejection.from_envelope(json.loads(rejection.to_json())) == rejection


def test_from_envelope_is_none_for_a_change_event() -> None:
    event_line = json.loads(next(decode_records(json.dumps(change_record()).encode())).to_json())  # type: ignore[union-attr]
    assert Rejection.from_envelope(event_line) is None
    # A record reader that merges schemas adds the envelope field to change events as null.
    assert Rejection.from_envelope({**event_line, REJECTION_FIELD: None}) is None


def test_from_envelope_fills_in_what_an_envelope_lacks() -> None:
    assert Rejection.from_envelope({REJECTION_FIELD: {}}, index=4) == Rejection(
        4, "record 4: rejected by the decoder", None, None, "rejected by the decoder"
    )
    # An envelope with its own index keeps it; one without a rule (written without it) has none.
    assert Rejection.from_envelope({REJECTION_FIELD: {"index": 2, "error": "record 2: x"}}, index=4) == Rejection(
        2, "record 2: x", None, None
    )


def test_envelope_carries_the_rule_when_known() -> None:
    rejection = Rejection.of(3, "9f8e7d6c5b4a39281706f5e4d3c2b1a0", "missing dynamodb", b"{}")
    assert rejection.error == "record 3 (eventId 9f8e7d6c5b4a39281706f5e4d3c2b1a0): missing dynamodb"
    assert rejection.rule == "missing dynamodb"
    envelope = json.loads(rejection.to_json())[REJECTION_FIELD]
    assert envelope["rule"] == "missing dynamodb" and envelope["error"] == rejection.error
    assert Rejection.from_envelope({REJECTION_FIELD: envelope}) == rejection
    assert Rejection.malformed(0, None) == Rejection(0, "record 0: malformed JSON", None, None, "malformed JSON")


def test_decode_to_lines_keeps_every_record_in_order_with_counts() -> None:
    records = [change_record("INSERT", "CLM-1"), change_record("MODIFY", "CLM-2"), change_record("REMOVE", "CLM-3")]
    content = ndjson(*records[:2]) + b"{not json " + PHI_SENTINEL.encode() + b"\n" + ndjson(*records[2:])
    result = decode_to_lines(content)
    lines = result.content.splitlines()
    assert len(lines) == 4 and result.content.endswith(b"\n")
    assert (result.decoded, result.rejected, result.total) == (3, 1, 4)
    assert result.operations == {"INSERT": 1, "MODIFY": 1, "REMOVE": 1}
    assert result.first_error == "record 2: malformed JSON"
    assert ChangeEvent.from_json(lines[0]).keys == {"claim_id": "CLM-1"}
    envelope = json.loads(lines[2])[REJECTION_FIELD]
    assert envelope["index"] == 2 and PHI_SENTINEL in envelope["raw"]  # content keeps the original
    attributes = result.attributes()
    assert attributes == {
        "record.count": "4",
        "cdc.decoded.count": "3",
        "cdc.rejected.count": "1",
        "cdc.insert.count": "1",
        "cdc.modify.count": "1",
        "cdc.remove.count": "1",
        "mime.type": "application/x-ndjson",
    }  # no cdc.error: good records go on, and the claim stage's row FlowFiles would inherit it
    assert PHI_SENTINEL not in json.dumps(attributes)


def test_decode_to_lines_of_good_content_has_no_error_attribute() -> None:
    result = decode_to_lines(ndjson([change_record()]))
    assert result.first_error is None and "cdc.error" not in result.attributes()
    assert decode_to_lines(b"").attributes()["record.count"] == "0"


def test_decode_record_or_rejection() -> None:
    event = decode_record_or_rejection(change_record(), 5)
    assert isinstance(event, ChangeEvent) and event.new_image is not None
    assert event.new_image["totalCharge"] == Decimal("1234.50")
    broken = change_record(event_id="c0ffee00-1234-4abc-8def-0123456789ab")
    del broken["eventName"]
    broken["when"] = Decimal("1.5")  # not JSON-native: written as text in raw
    rejection = decode_record_or_rejection(broken, 5)
    assert isinstance(rejection, Rejection)
    assert rejection.index == 5 and rejection.event_id == "c0ffee00-1234-4abc-8def-0123456789ab"
    assert rejection.error == "record 5 (eventId c0ffee00-1234-4abc-8def-0123456789ab): missing eventName"
    assert rejection.rule == "missing eventName"
    assert rejection.raw is not None and json.loads(rejection.raw)["when"] == "1.5"


@pytest.mark.parametrize(
    ("value", "precision", "expected"),
    [
        (1_720_740_233_012_995, "MICROSECOND", 1_720_740_233_012_995),
        (1_720_740_233_012, "MILLISECOND", 1_720_740_233_012_000),
        (1_720_740_233_012_995, None, 1_720_740_233_012_995),  # by magnitude: microseconds
        (1_720_740_233_012, None, 1_720_740_233_012_000),  # by magnitude: milliseconds
    ],
)
def test_creation_time_us(value: int, precision: str | None, expected: int) -> None:
    assert creation_time_us(value, precision) == expected


MALFORMED_ENVELOPES = [
    ("x", 4, None),
    (5, 4, None),
    (["a"], 4, None),
    ({"raw": 5}, 4, None),
    ({"raw": {"eventID": "e"}}, 4, None),
    ({"index": "2", "error": "record 2: x"}, 4, None),
    ({"index": True}, 4, None),
    ({"index": 2.5}, 4, None),
    ({"index": -1}, 4, None),
    ({"index": 2, "error": ["x"]}, 2, None),
    ({"index": 2, "rule": 7}, 2, None),
    ({"index": 2, "event_id": {"a": 1}}, 2, None),
    ({"index": 2, "event_id": "9f8e7d6c5b4a39281706f5e4d3c2b1a0", "raw": 3}, 2, "9f8e7d6c5b4a39281706f5e4d3c2b1a0"),
]


@pytest.mark.parametrize(("envelope", "index", "event_id"), MALFORMED_ENVELOPES)
def test_from_envelope_never_raises_on_a_malformed_envelope(envelope: object, index: int, event_id: str | None) -> None:
    line = {REJECTION_FIELD: envelope, "other": "kept"}
    rejection = Rejection.from_envelope(line, index=4)
    assert rejection is not None
    assert rejection.rule == "malformed rejection envelope"
    assert rejection.index == index and rejection.event_id == event_id
    expected = f"record {index} (eventId {event_id})" if event_id else f"record {index}"
    assert rejection.error == f"{expected}: malformed rejection envelope"
    assert rejection.raw is not None and json.loads(rejection.raw) == line  # the whole line, for the dead letter


def test_from_envelope_treats_reader_padding_as_absent() -> None:
    padded = {"index": None, "event_id": None, "error": None, "raw": None, "rule": None}
    assert Rejection.from_envelope({REJECTION_FIELD: padded}, index=6) == Rejection(
        6, "record 6: rejected by the decoder", None, None, "rejected by the decoder"
    )
