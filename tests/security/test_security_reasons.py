"""Reasons (decoder rejections, invalid claims, log lines, FlowFile attributes) never echo data: not a value, not a
type tag, not an eventName, not an attribute name outside the claim schema. Canaries stand in for PHI."""

from __future__ import annotations

import copy
import json
import random
from typing import Any

import pytest

from claimflow.claims import ClaimSettings, route_records, route_records_fused
from claimflow.claims.synthetic import claim_item, kinesis_record
from claimflow.events import Rejection, decode_records

CANARY = "PHI-CANARY-123"
ALPHA_CANARY = "Zqxcnry"  # letters only: the shape of a type tag or a surname
START_US = 1_761_955_200_000_000


def _record(event_name: str = "INSERT") -> dict[str, Any]:
    item = claim_item(random.Random(5), 5)
    old = item if event_name != "INSERT" else None
    record = kinesis_record(None if event_name == "REMOVE" else item, event_name, START_US, 5, old_item=old)
    return record


def _image(record: dict[str, Any]) -> dict[str, Any]:
    change = record["dynamodb"]
    return change["OldImage"] if record["eventName"] == "REMOVE" else change["NewImage"]


def _mutations() -> list[tuple[str, dict[str, Any]]]:
    cases = []
    for event_name in ("INSERT", "MODIFY", "REMOVE"):
        base = _record(event_name)
        for label, change in (
            ("unknown name, bad N", lambda image: image.__setitem__(CANARY, {"N": CANARY})),
            ("unknown name, bad tag", lambda image: image.__setitem__(ALPHA_CANARY, {ALPHA_CANARY: "x"})),
            ("alpha name, bad B", lambda image: image.__setitem__(ALPHA_CANARY.lower(), {"B": CANARY})),
            ("known name, letters tag", lambda image: image.__setitem__("member_id", {ALPHA_CANARY: CANARY})),
            ("known name, two tags", lambda image: image.__setitem__("member_id", {"S": CANARY, "N": CANARY})),
            ("nested unknown name", lambda image: image["patient"]["M"].__setitem__(CANARY, {"NS": [CANARY]})),
        ):
            record = copy.deepcopy(base)
            change(_image(record))
            cases.append((f"{event_name}: {label}", record))
        record = copy.deepcopy(base)
        record["eventName"] = CANARY
        cases.append((f"{event_name}: eventName", record))
        record = copy.deepcopy(base)
        record["eventName"] = ALPHA_CANARY
        cases.append((f"{event_name}: letters eventName", record))
    return cases


MUTATIONS = _mutations()


def _assert_clean(text: str) -> None:
    assert CANARY.lower() not in text.lower()
    assert ALPHA_CANARY.lower() not in text.lower()


@pytest.mark.parametrize(("label", "record"), MUTATIONS, ids=[label for label, _ in MUTATIONS])
def test_decoder_reasons_do_not_echo_data(label: str, record: dict[str, Any]) -> None:
    (item,) = decode_records(json.dumps(record).encode())
    if isinstance(item, Rejection):
        _assert_clean(item.error)
        _assert_clean(str(item.rule))


@pytest.mark.parametrize(("label", "record"), MUTATIONS, ids=[label for label, _ in MUTATIONS])
def test_routing_reasons_do_not_echo_data(label: str, record: dict[str, Any]) -> None:
    line = json.dumps(record).encode()
    settings = ClaimSettings(strict=True)
    outcomes = [*route_records(line, settings, 1), *route_records_fused(line + b"\n" + line, settings, 1)]
    assert any(o.relationship == "invalid" for o in outcomes)
    for outcome in outcomes:
        _assert_clean(f"{outcome.error} {outcome.rule}")
        if outcome.row is not None:
            _assert_clean(json.dumps(outcome.row["dataQualityFlags"]))


def test_a_known_attribute_is_named_and_an_unknown_one_is_given_by_position() -> None:
    record = _record()
    _image(record)["member_id"] = {"N": CANARY}
    (known,) = decode_records(json.dumps(record).encode())
    assert isinstance(known, Rejection) and "'member_id'" in known.error

    record = _record()
    image = _image(record)
    image[CANARY] = {"N": "5x"}
    position = list(image).index(CANARY)
    (unknown,) = decode_records(json.dumps(record).encode())
    assert isinstance(unknown, Rejection)
    assert f"attribute #{position} " in unknown.error
    _assert_clean(unknown.error)


def test_a_known_type_tag_in_the_wrong_case_is_still_named() -> None:
    record = _record()
    _image(record)["member_id"] = {"s": "MBR1"}
    (item,) = decode_records(json.dumps(record).encode())
    assert isinstance(item, Rejection) and "unknown type descriptor 's'" in item.error
