"""No attribute is ever dropped: what the claim schema does not know lands, exactly typed, in extraAttributes."""

from __future__ import annotations

import json
import random
from decimal import Decimal
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from claimflow.claims import ClaimSettings, PhiMode, route_records, route_records_fused
from claimflow.claims.mapping import dynamodb_json
from claimflow.claims.synthetic import claim_item, kinesis_record, to_attribute_value

from ._claims import EVENT_TIME_US, INGEST_US

KEY = "made-up test key: 5hG2wQ8zLx4Nc7Tv9pRk"


def _record(item: dict[str, Any], name: str = "INSERT") -> bytes:
    new, old = (None, item) if name == "REMOVE" else (item, None)
    return orjson.dumps(kinesis_record(new, name, EVENT_TIME_US, 0, old_item=old))


def _both(data: bytes, settings_: ClaimSettings | None = None) -> dict[str, Any]:
    settings_ = settings_ or ClaimSettings()
    (two_step,) = route_records(data, settings_, INGEST_US)
    (fused,) = route_records_fused(data, settings_, INGEST_US)
    assert fused == two_step
    assert two_step.row is not None, two_step.error
    return two_step.row


def test_unknown_attributes_at_every_level_are_kept_with_their_dynamodb_types() -> None:
    item = claim_item(random.Random(1), 1)
    item["loyalty_tier"] = "gold"
    item["visit_count"] = Decimal("12.50")
    item["consent"] = {"sms": True, "since": "2024-01-02", "channels": ["sms", "mail"], "note": None}
    item["patient"]["middle_name"] = "Quinn"
    item["procedure_details"][0]["revenue_code"] = "0450"
    row = _both(_record(item))
    extras = {path: json.loads(text) for path, text in row["extraAttributes"].items()}
    assert extras == {
        "loyalty_tier": {"S": "gold"},
        "visit_count": {"N": "12.50"},  # exact, as written
        "consent": {"M": {"sms": {"BOOL": True}, "since": {"S": "2024-01-02"},
                          "channels": {"L": [{"S": "sms"}, {"S": "mail"}]}, "note": {"NULL": True}}},
        "patient.middle_name": {"S": "Quinn"},
        "procedures[0].revenue_code": {"S": "0450"},
    }
    assert "UNKNOWN_FIELDS:5" in row["dataQualityFlags"]
    # A claim without extra attributes has none.
    assert _both(_record(claim_item(random.Random(2), 2)))["extraAttributes"] is None


def test_a_remove_keeps_the_old_image_s_extra_attributes() -> None:
    item = claim_item(random.Random(3), 3)
    item["legacy_code"] = "X-1"
    row = _both(_record(item, "REMOVE"))
    assert row["eventName"] == "REMOVE" and json.loads(row["extraAttributes"]["legacy_code"]) == {"S": "X-1"}


def test_pseudonymize_tokenises_extra_values_and_safe_harbor_removes_them() -> None:
    item = claim_item(random.Random(4), 4)
    item["ssn_last4"] = "6789"
    data = _record(item)
    pseudonymized = _both(data, ClaimSettings(phi_mode=PhiMode.PSEUDONYMIZE, hmac_key=KEY.encode()))
    token = pseudonymized["extraAttributes"]["ssn_last4"]
    assert len(token) == 32 and "6789" not in orjson.dumps(pseudonymized).decode()
    again = _both(data, ClaimSettings(phi_mode=PhiMode.PSEUDONYMIZE, hmac_key=KEY.encode()))
    assert again["extraAttributes"]["ssn_last4"] == token  # stable for one key: still joinable
    safe = _both(data, ClaimSettings(phi_mode=PhiMode.SAFE_HARBOR, hmac_key=KEY.encode()))
    assert safe["extraAttributes"] is None and "6789" not in orjson.dumps(safe).decode()


# DynamoDB values the decoder's value model keeps exactly (S, N, BOOL, NULL, M, L).
_scalars = st.one_of(
    st.text(max_size=12).map(lambda s: {"S": s}),
    st.decimals(allow_nan=False, allow_infinity=False, places=3, min_value=-10**9, max_value=10**9)
    .map(lambda d: {"N": str(d)}),
    st.booleans().map(lambda b: {"BOOL": b}),
    st.just({"NULL": True}),
)
_values = st.recursive(
    _scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=3).map(lambda items: {"L": items}),
                            st.dictionaries(st.text("abcxyz_", min_size=1, max_size=6), inner, max_size=3)
                            .map(lambda m: {"M": m})),
    max_leaves=8,
)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_values)
def test_any_exactly_typed_value_survives_as_written(value: dict[str, Any]) -> None:
    record = kinesis_record(claim_item(random.Random(5), 5), "INSERT", EVENT_TIME_US, 0)
    record["dynamodb"]["NewImage"]["new_attribute"] = value
    row = _both(orjson.dumps(record))
    got = json.loads(row["extraAttributes"]["new_attribute"])
    # The decoder normalises a number's text (1.50 stays 1.50, but 1E+2 becomes 1E+2's Decimal text).
    assert got == dynamodb_json(_decoded(value))
    assert _same_shape(got, value)


def _decoded(value: dict[str, Any]) -> Any:
    ((tag, inner),) = value.items()
    return {"S": lambda: inner, "N": lambda: Decimal(inner), "BOOL": lambda: inner, "NULL": lambda: None,
            "L": lambda: [_decoded(v) for v in inner], "M": lambda: {k: _decoded(v) for k, v in inner.items()}}[tag]()


def _same_shape(got: Any, written: Any) -> bool:
    """Tags and strings as written, numbers equal as decimals."""
    ((tag, inner),) = written.items()
    ((got_tag, got_inner),) = got.items()
    if tag != got_tag:
        return False
    if tag == "N":
        return Decimal(got_inner) == Decimal(inner)
    if tag == "L":
        return len(inner) == len(got_inner) and all(map(_same_shape, got_inner, inner))
    if tag == "M":
        return inner.keys() == got_inner.keys() and all(_same_shape(got_inner[k], inner[k]) for k in inner)
    return got_inner == inner


def test_sets_and_binaries_come_back_as_the_decoder_models_them() -> None:
    """Documented limit: the decoder has no set or binary type, so SS is kept as its L and B as its base64 S."""
    record = kinesis_record(claim_item(random.Random(6), 6), "INSERT", EVENT_TIME_US, 0)
    record["dynamodb"]["NewImage"]["tags"] = {"SS": ["b", "a"]}
    record["dynamodb"]["NewImage"]["blob"] = {"B": "AAEC"}
    extras = _both(orjson.dumps(record))["extraAttributes"]
    assert json.loads(extras["tags"]) == {"L": [{"S": "a"}, {"S": "b"}]}
    assert json.loads(extras["blob"]) == {"S": "AAEC"}
    assert to_attribute_value("x") == {"S": "x"}
