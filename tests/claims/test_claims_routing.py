"""Routing: one outcome per record, bad records isolated, REMOVE always through; fused == two-step."""

from __future__ import annotations

import copy
import random
from collections import Counter
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from claimflow.claims import ClaimSettings, InvalidClaim, route_events, route_records, route_records_fused
from claimflow.claims.mapping import map_item
from claimflow.claims.model import validate_item
from claimflow.claims.synthetic import claim_records
from claimflow.claims.validate import validate_mapped
from claimflow.events import Rejection, decode_records

from ._claims import INGEST_US, event, fixed_item, item, record_bytes, with_change

BAD_NPI = ("provider.npi", "1234567894")


def test_counts_add_up_and_bad_records_do_not_take_good_ones_down() -> None:
    good = [record_bytes(item(n), number=n) for n in range(6)]
    bad_claim = record_bytes(with_change(item(10), *BAD_NPI), number=10)
    bad_json = b'{"eventID": "x", "eventName": '
    not_a_change = orjson.dumps({"eventID": "e", "eventName": "TRUNCATE", "dynamodb": {}})
    remove_bad_old = record_bytes(None, "REMOVE", old=with_change(item(11), *BAD_NPI), number=11)
    lines = [good[0], bad_claim, good[1], bad_json, good[2], not_a_change, remove_bad_old, *good[3:]]
    data = b"\n".join(lines)
    routed = list(route_records(data, ClaimSettings(), INGEST_US))
    assert len(routed) == len(lines)
    assert [r.index for r in routed] == list(range(len(lines)))
    counts = Counter(r.relationship for r in routed)
    assert counts == {"insert": 6, "invalid": 3, "remove": 1}
    invalid = [r for r in routed if r.relationship == "invalid"]
    assert [r.index for r in invalid] == [1, 3, 5]
    assert "providerNPI" in (invalid[0].error or "") and "record 1" in (invalid[0].error or "")
    assert invalid[0].event_id and invalid[0].event_id in (invalid[0].error or "")
    assert invalid[0].record is not None and invalid[0].record["new_image"]["claim_id"] == "CLM-00000010"
    assert "malformed JSON" in (invalid[1].error or "")
    for outcome in invalid:
        assert outcome.row is None and outcome.error
    remove = next(r for r in routed if r.relationship == "remove")
    assert remove.row is not None and remove.row["claimId"] == "CLM-00000011"
    assert remove.row["dataQualityFlags"] == ["OLD_IMAGE_INVALID"]
    for outcome in routed:
        if outcome.row is not None:
            assert outcome.error is None and outcome.record is None
    assert list(route_records_fused(data, ClaimSettings(), INGEST_US)) == routed


def test_relationship_follows_the_event_name() -> None:
    items = [event(fixed_item()), event(fixed_item(), fixed_item(), name="MODIFY"), event(None, fixed_item(), "REMOVE")]
    assert [r.relationship for r in route_events(items, ClaimSettings(), INGEST_US)] == ["insert", "modify", "remove"]


def test_decoder_rejections_become_invalid_with_their_own_index() -> None:
    items = [event(fixed_item()), Rejection.malformed(7, b"{oops"), Rejection(8, "record 8: moved", None)]
    routed = list(route_events(items, ClaimSettings(), INGEST_US))
    assert routed[1].relationship == "invalid" and routed[1].index == 7
    assert (routed[1].error, routed[1].rule) == ("record 7: malformed JSON", "malformed JSON")
    assert routed[1].record == {"raw": "{oops"}
    # A Rejection made without its rule keeps the whole reason as the rule.
    assert (routed[2].error, routed[2].rule) == ("record 8: moved", "record 8: moved")


def test_invalid_reasons_never_carry_values() -> None:
    secret_member = "MEMBER-" + "9" * 80  # too long: rejected
    claim = with_change(fixed_item(), "member_id", secret_member)
    (outcome,) = route_events([event(claim)], ClaimSettings(), INGEST_US)
    assert outcome.relationship == "invalid"
    assert secret_member not in (outcome.error or "")
    assert "memberId" in (outcome.error or "")


def test_fused_path_equals_two_step_on_generated_records() -> None:
    data = b"\n".join(claim_records(400, seed=3))
    for strict in (False, True):
        settings_ = ClaimSettings(strict=strict, generalize_zip3=strict)
        fused = list(route_records_fused(data, settings_, INGEST_US))
        assert fused == list(route_records(data, settings_, INGEST_US))
        assert len(fused) == 400


def test_fused_path_handles_other_layouts_through_the_decoder() -> None:
    records = list(claim_records(5, seed=4))
    array = b"[" + b",".join(records) + b"]"
    single = records[0]
    for data in (array, single, b"\n".join(records) + b"\n\n"):
        assert list(route_records_fused(data, ClaimSettings(), INGEST_US)) == list(
            route_records(data, ClaimSettings(), INGEST_US)
        )
    attributes = {"aws.kinesis.shard.id": "shardId-000000000001"}
    rows = [r.row for r in route_records_fused(single, ClaimSettings(), INGEST_US, attributes)]
    assert rows[0] is not None and rows[0]["kinesisShardId"] == "shardId-000000000001"


# --- the fast path agrees with the pydantic model -----------------------------------------------------------------

MUTATIONS: list[tuple[str, Any]] = [
    ("total_charge", st.decimals(min_value=-10, max_value=10**11, places=3, allow_nan=False)),
    ("procedure_details.0.charge", st.decimals(min_value=-1, max_value=10**4, places=3, allow_nan=False)),
    ("procedure_details.0.units", st.one_of(st.integers(-2, 10001).map(str), st.sampled_from(["1.5", "x", None]))),
    ("procedure_details.0.code", st.text(alphabet="0123456789FTGJX ", min_size=0, max_size=6)),
    ("procedure_details.0.modifiers", st.lists(st.text(alphabet="25LTRX9 ", max_size=3), max_size=5)),
    ("diagnosis_codes", st.lists(st.sampled_from(["E11.9", "E119", "I10", "E11", "Q99.99", "bad", "Z3A.01", "u07.1"]),
                                 max_size=4)),
    ("provider.npi", st.one_of(st.text(alphabet="0123456789", min_size=9, max_size=11), st.just("1234567893"))),
    ("date_of_service", st.one_of(st.dates().map(str), st.text(alphabet="0123456789-T:", max_size=12))),
    ("patient.dob", st.one_of(st.dates().map(str), st.just("2024-02-30"))),
    ("created_timestamp", st.one_of(st.datetimes().map(lambda d: d.isoformat()), st.just("2025-13-01T00:00:00"))),
    ("patient.gender", st.sampled_from(["M", "f", "Female", "x", "robot", "", None])),
    ("patient.address.zip", st.one_of(st.text(alphabet="0123456789-", max_size=11), st.integers(0, 99999))),
    ("patient.address.state", st.text(alphabet="abNYZ ", max_size=3)),
    ("member_id", st.one_of(st.text(max_size=70), st.integers(0, 10**12), st.none())),
    ("claim_id", st.one_of(st.text(max_size=70), st.none())),
]


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_fast_path_agrees_with_the_pydantic_model(data: st.DataObject) -> None:
    claim = copy.deepcopy(item(data.draw(st.integers(0, 50))))
    claim["procedure_details"][0]["modifiers"] = []
    for path, strategy in data.draw(st.lists(st.sampled_from(MUTATIONS), max_size=3, unique_by=lambda m: m[0])):
        claim = with_change(claim, path, data.draw(strategy))
    try:
        fast_values = validate_mapped(map_item(claim)).values
    except InvalidClaim:
        fast_values = None
    try:
        model_values = validate_item(claim).to_values()
    except InvalidClaim:
        model_values = None
    assert fast_values == model_values


def test_equivalence_check_sees_both_outcomes() -> None:
    """The property above is only meaningful if both valid and invalid items occur; show the mutations do both."""
    rng = random.Random(5)
    outcomes = set()
    for n in range(40):
        claim = item(n)
        if rng.random() < 0.5:
            claim = with_change(claim, *BAD_NPI)
        try:
            validate_mapped(map_item(claim))
            outcomes.add("valid")
        except InvalidClaim:
            outcomes.add("invalid")
    assert outcomes == {"valid", "invalid"}


@pytest.mark.parametrize("name", ["INSERT", "MODIFY"])
def test_decoded_records_roundtrip_through_the_decoder(name: str) -> None:
    data = record_bytes(fixed_item(), name, old=fixed_item() if name == "MODIFY" else None, key="CLM-1")
    (decoded,) = decode_records(data)
    (outcome,) = route_records_fused(data, ClaimSettings(), INGEST_US)
    assert outcome.relationship == name.lower()
    assert outcome.row is not None and outcome.row["eventId"] == getattr(decoded, "event_id", None)


def test_fused_path_equals_two_step_on_json_lines_that_are_not_objects() -> None:
    # A "null" line is JSON (the decoder says it is not an object), unlike a line that does not parse.
    data = b"\n".join([record_bytes(fixed_item(), key="CLM-1"), b"null", b"7", b"{oops"])
    routed = list(route_records(data, ClaimSettings(), INGEST_US))
    assert [r.rule for r in routed[1:]] == ["expected a JSON object, got null", "expected a JSON object, got a number",
                                           "malformed JSON"]
    assert list(route_records_fused(data, ClaimSettings(), INGEST_US)) == routed


def test_route_record_fused_equals_decoder_and_route_events_per_record() -> None:
    from claimflow.claims.fused import route_record_fused
    from claimflow.events import DecodeError, decode_record

    objs: list[Any] = [orjson.loads(r) for r in claim_records(60, seed=8)]
    objs.append(orjson.loads(record_bytes(with_change(fixed_item(), *BAD_NPI), key="CLM-1")))
    objs.append({"eventID": "x", "eventName": "INSERT"})  # no dynamodb: the decoder rejects it
    objs.append(["not", "a", "record"])
    objs.append(None)  # a reader's null record: rejected, the dead letter keeps "null" as the two-step path does
    padded = orjson.loads(record_bytes(fixed_item(), key="CLM-1"))
    padded["dynamodb"]["NewImage"]["member_id"] = {"S": "MBR-77", "N": None, "M": None}  # a NiFi reader's padding
    objs.append(padded)
    for index, obj in enumerate(objs):
        try:
            item: Any = decode_record(obj, index, None, single_record=False)
        except DecodeError as error:
            item = Rejection.of_error(error, orjson.dumps(obj))
        expected = next(route_events([item], ClaimSettings(), INGEST_US, first_index=index))
        assert route_record_fused(obj, index, ClaimSettings(), INGEST_US) == expected, index
    assert route_record_fused(padded, 0, ClaimSettings(), INGEST_US).row["memberId"] == "MBR-77"  # type: ignore[index]


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_fused_path_agrees_with_the_two_step_path_on_mutated_records(data: st.DataObject) -> None:
    claims = []
    for number in range(3):
        claim = copy.deepcopy(item(data.draw(st.integers(0, 50))))
        claim["claim_id"] = f"CLM-{number}"
        mutations = st.lists(st.sampled_from(MUTATIONS[:-1]), max_size=2, unique_by=lambda m: m[0])
        for path, strategy in data.draw(mutations):
            value = data.draw(strategy)
            claim = with_change(claim, path, float(value) if isinstance(value, int) and path == "member_id" else value)
        if data.draw(st.booleans()):
            claim["procedures"] = claim["procedure_details"]  # the same column twice
        claims.append(claim)
    names = data.draw(st.lists(st.sampled_from(["INSERT", "MODIFY", "REMOVE"]), min_size=3, max_size=3))
    lines = []
    for number, (claim, name) in enumerate(zip(claims, names, strict=True)):
        new = None if name == "REMOVE" else claim
        old = claim if name != "INSERT" else None
        try:
            lines.append(record_bytes(new, name, old=old, number=number, key=f"CLM-{number}"))
        except TypeError:  # a float cannot be written as DynamoDB JSON by the helper: write it raw
            lines.append(b'{"eventID":"bad","eventName":"INSERT","dynamodb":{"NewImage":{"x":{"N":1.5}}}}')
    blob = b"\n".join(lines)
    assert list(route_records_fused(blob, ClaimSettings(), INGEST_US)) == list(
        route_records(blob, ClaimSettings(), INGEST_US)
    )


def test_ttl_remove_and_strict_mode_never_block_a_delete() -> None:
    record = orjson.loads(record_bytes(None, "REMOVE", old=with_change(fixed_item(), "member_id", ...), key="CLM-1"))
    record["userIdentity"] = {"type": "Service", "principalId": "dynamodb.amazonaws.com"}
    data = orjson.dumps(record)
    strict = ClaimSettings(strict=True)
    for routed in (list(route_records(data, strict, INGEST_US)), list(route_records_fused(data, strict, INGEST_US))):
        (outcome,) = routed
        assert outcome.relationship == "remove"
        assert outcome.row is not None and outcome.row["ttlDelete"] is True
        assert "MISSING:memberId" in outcome.row["dataQualityFlags"]  # flagged, not rejected


def test_first_index_numbers_change_events() -> None:
    routed = list(route_events([event(fixed_item()), event({"claim_id": "CLM-1", "total_charge": "x"})],
                               ClaimSettings(), INGEST_US, first_index=40))
    assert [r.index for r in routed] == [40, 41]
    assert (routed[1].error or "").startswith("record 41: totalCharge")


def test_fused_errors_carry_no_values() -> None:
    secret = "Zebulon Q. Secretname"
    claim = with_change(fixed_item(), "patient.last_name", secret + "x" * 200)
    (outcome,) = route_records_fused(record_bytes(claim, key="CLM-1"), ClaimSettings(), INGEST_US)
    assert outcome.relationship == "invalid" and "patientLastName" in (outcome.error or "")
    assert "Zebulon" not in (outcome.error or "")
    assert outcome.record is not None  # the original goes to the dead-letter content, not to the reason


def _envelope(change: Any) -> bytes:
    record = orjson.loads(record_bytes(fixed_item(), "MODIFY", old=fixed_item(), key="CLM-1"))
    change(record)
    return orjson.dumps(record)


ENVELOPE_CHANGES: dict[str, Any] = {
    "milliseconds": lambda r: r["dynamodb"].update(ApproximateCreationDateTime=1_761_955_200_123,
                                                   ApproximateCreationDateTimePrecision="MILLISECOND"),
    "no precision, ms magnitude": lambda r: (r["dynamodb"].update(ApproximateCreationDateTime=1_761_955_200_123),
                                             r["dynamodb"].pop("ApproximateCreationDateTimePrecision")),
    "seconds as bool": lambda r: r["dynamodb"].update(ApproximateCreationDateTime=True),
    "negative time": lambda r: r["dynamodb"].update(ApproximateCreationDateTime=-5),
    "no keys": lambda r: r["dynamodb"].pop("Keys"),
    "empty keys": lambda r: r["dynamodb"].update(Keys={}),
    "bad key value": lambda r: r["dynamodb"].update(Keys={"claim_id": {"N": "x"}}),
    "modify without new image": lambda r: r["dynamodb"].pop("NewImage"),
    "bad old image": lambda r: r["dynamodb"]["OldImage"].update(member_id={"SS": []}),
    "lower-case event name": lambda r: r.update(eventName="modify"),
    "event name not text": lambda r: r.update(eventName={"x": 1}),
    "no event id": lambda r: r.pop("eventID"),
    "wrapper": lambda r: r.update(value=dict(r), metadata={"aws.kinesis.shard.id": "shardId-1"}),
    "remove by ttl": lambda r: r.update(eventName="REMOVE", userIdentity={"type": "Service",
                                                                          "principalId": "dynamodb.amazonaws.com"}),
    "table name not text": lambda r: r.update(tableName=5, awsRegion=""),
    "size bytes text": lambda r: r["dynamodb"].update(SizeBytes="99"),
    "nested set in unknown field": lambda r: r["dynamodb"]["NewImage"].update(tags={"SS": ["b", "a"]}),
    "binary in unknown field": lambda r: r["dynamodb"]["NewImage"].update(scan={"B": "not base64!"}),
}


@pytest.mark.parametrize("name", sorted(ENVELOPE_CHANGES))
def test_fused_path_equals_two_step_on_envelope_variants(name: str) -> None:
    data = b"\n".join([record_bytes(fixed_item(), key="CLM-1"), _envelope(ENVELOPE_CHANGES[name])])
    fused = list(route_records_fused(data, ClaimSettings(), INGEST_US))
    assert fused == list(route_records(data, ClaimSettings(), INGEST_US))
    assert len(fused) == 2 and fused[0].relationship == "insert"
