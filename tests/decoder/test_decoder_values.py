"""Attribute values: differential tests against boto3's TypeDeserializer, plus the edges it does not cover."""

from __future__ import annotations

import base64
import json
from decimal import Decimal
from typing import Any

import orjson
import pytest
from boto3.dynamodb.types import Binary, TypeDeserializer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from claimflow.dynamodb import (
    MAX_NESTING_DEPTH,
    AttributeValueError,
    decode_image,
    decode_value,
    item_size,
    parse_number,
)

from ._records import nested

# --- strategies -------------------------------------------------------------------------------------------------


@st.composite
def dynamodb_numbers(draw: st.DrawFn) -> str:
    """Number text DynamoDB accepts: up to 38 significant digits, magnitude 1E-130 .. 9.99E+125, or zero."""
    digits = draw(st.integers(min_value=1, max_value=38))
    coefficient = draw(st.integers(min_value=10 ** (digits - 1), max_value=10**digits - 1))
    exponent = draw(st.integers(min_value=-130, max_value=125 - (digits - 1)))
    sign = draw(st.sampled_from(["", "-"]))
    number = Decimal(f"{sign}{coefficient}E{exponent}")
    if draw(st.booleans()):
        number = Decimal(0)
    text = str(number)
    return text.lower() if draw(st.booleans()) else text


binaries = st.binary(max_size=40).map(lambda raw: base64.b64encode(raw).decode())
scalars = st.one_of(
    st.text(max_size=30).map(lambda s: {"S": s}),
    dynamodb_numbers().map(lambda n: {"N": n}),
    binaries.map(lambda b: {"B": b}),
    st.booleans().map(lambda b: {"BOOL": b}),
    st.just({"NULL": True}),
    st.lists(st.text(max_size=10), min_size=1, max_size=5, unique=True).map(lambda v: {"SS": v}),
    st.lists(dynamodb_numbers(), min_size=1, max_size=5, unique_by=Decimal).map(lambda v: {"NS": v}),
    st.lists(st.binary(max_size=8), min_size=1, max_size=5, unique=True).map(
        lambda v: {"BS": [base64.b64encode(b).decode() for b in v]}
    ),
)
attribute_values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4).map(lambda v: {"L": v}),
        st.dictionaries(st.text(max_size=8), children, max_size=4).map(lambda v: {"M": v}),
    ),
    max_leaves=20,
)

# --- the oracle -------------------------------------------------------------------------------------------------


def _bytes_for_boto(value: dict[str, Any]) -> dict[str, Any]:
    """TypeDeserializer expects binaries as bytes (botocore decodes them); this JSON carries base64."""
    ((tag, inner),) = value.items()
    if tag == "B":
        return {"B": base64.b64decode(inner)}
    if tag == "BS":
        return {"BS": [base64.b64decode(member) for member in inner]}
    if tag == "M":
        return {"M": {key: _bytes_for_boto(item) for key, item in inner.items()}}
    if tag == "L":
        return {"L": [_bytes_for_boto(item) for item in inner]}
    return value


def _expected(value: Any) -> Any:
    """TypeDeserializer output in the change-event form: sets as sorted lists, binaries as base64."""
    if isinstance(value, Binary):
        return base64.b64encode(value.value).decode()
    if isinstance(value, set):
        members = list(value)
        if members and isinstance(members[0], Binary):
            return [base64.b64encode(raw).decode() for raw in sorted(member.value for member in members)]
        return sorted(members)
    if isinstance(value, dict):
        return {key: _expected(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_expected(item) for item in value]
    return value


def _exact(value: Any) -> Any:
    """Decimals compared by value AND text (so 1.50 != 1.5), everything else as is."""
    if isinstance(value, Decimal):
        return ("N", str(value))
    if isinstance(value, float):
        raise AssertionError("a float leaked into decoded values")
    if isinstance(value, dict):
        return {key: _exact(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_exact(item) for item in value]
    return value


DESERIALIZER = TypeDeserializer()
FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(attribute_values)
def test_decode_value_matches_boto3_type_deserializer(value: dict[str, Any]) -> None:
    expected = _expected(DESERIALIZER.deserialize(_bytes_for_boto(value)))
    assert _exact(decode_value(value)) == _exact(expected)


@FAST
@given(st.dictionaries(st.text(min_size=1, max_size=12), attribute_values, max_size=6))
def test_decoded_image_survives_json_exactly(image: dict[str, Any]) -> None:
    """Decoded values written with the change-event serialiser read back to the same exact values."""
    decoded = decode_image(image)
    written = orjson.dumps(decoded, default=lambda d: orjson.Fragment(str(d)))
    assert _exact(json.loads(written, parse_float=Decimal, parse_int=Decimal)) == _exact(
        _ints_as_decimal(decoded)
    )


def _ints_as_decimal(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _ints_as_decimal(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_ints_as_decimal(item) for item in value]
    return value


# --- numbers ----------------------------------------------------------------------------------------------------

EDGE_NUMBERS = [
    "12345678901234567890123456789012345678",  # 38 digits
    "-12345678901234567890123456789012345678",
    "1E-130",
    "-1E-130",
    "9.9999999999999999999999999999999999999E+125",
    "-9.9999999999999999999999999999999999999E+125",
    "0",
    "-0",
    "0.000",
    "1.50",
    "100000000000000000000000000000000000000000",  # 1 significant digit, 42 characters
    "0.1",
]


@pytest.mark.parametrize("text", EDGE_NUMBERS)
def test_edge_numbers_survive_exactly(text: str) -> None:
    number = parse_number(text)
    assert number == Decimal(text)
    assert str(number) == str(Decimal(text))
    event_json = orjson.dumps({"n": number}, default=lambda d: orjson.Fragment(str(d)))
    assert json.loads(event_json, parse_float=Decimal, parse_int=Decimal)["n"] == Decimal(text)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("3.14159265358979323846264338327950288419", "38 significant digits"),
        ("123456789012345678901234567890123456789", "38 significant digits"),
        ("1E+126", "range"),
        ("1E-131", "range"),
        ("NaN", "not a decimal number"),
        ("Infinity", "not a decimal number"),
        ("-inf", "not a decimal number"),
        ("1_000", "not a decimal number"),
        (" 5", "not a decimal number"),
        ("", "not a decimal number"),
        ("1..2", "not a decimal number"),
        ("e5", "not a decimal number"),
        ("0x10", "not a decimal number"),
    ],
    ids=lambda v: repr(v) if isinstance(v, str) else v,
)
def test_bad_numbers_are_rejected(text: str, reason: str) -> None:
    with pytest.raises(AttributeValueError, match=reason):
        parse_number(text)


def test_zero_with_an_absurd_exponent_is_plain_zero() -> None:
    assert str(parse_number("0E+99999999999999")) == "0"
    assert str(parse_number("-0E-500")) == "0"
    assert str(parse_number("0.00")) == "0.00"  # an ordinary zero keeps its text


def test_number_as_json_float_is_rejected_and_json_integer_accepted() -> None:
    with pytest.raises(AttributeValueError, match="float"):
        decode_value({"N": 1.5})
    assert decode_value({"N": 5}) == Decimal(5)
    with pytest.raises(AttributeValueError):
        decode_value({"N": True})


def test_no_float_anywhere_in_a_decoded_image() -> None:
    decoded = decode_image({"a": {"N": "0.1"}, "b": {"NS": ["0.2", "0.1"]}, "c": {"L": [{"N": "1e3"}]}})
    assert decoded == {"a": Decimal("0.1"), "b": [Decimal("0.1"), Decimal("0.2")], "c": [Decimal("1E+3")]}
    assert all(isinstance(v, Decimal) for v in [decoded["a"], *decoded["b"], *decoded["c"]])


# --- sets, binaries, strings ------------------------------------------------------------------------------------


def test_sets_are_sorted_by_value() -> None:
    assert decode_value({"NS": ["10", "9", "-1.5", "1E+2"]}) == [Decimal("-1.5"), 9, 10, 100]
    assert decode_value({"SS": ["b", "a", "B", "é", ""]}) == ["", "B", "a", "b", "é"]
    members = [base64.b64encode(raw).decode() for raw in (b"\xff", b"\x00\x01", b"\x00", b"a")]
    # decoded bytes order: 00 < 00 01 < 61 < ff (the base64 text order would differ: "/w==" < "AA==")
    assert decode_value({"BS": members}) == [members[2], members[1], members[3], members[0]]


def test_binary_is_kept_as_validated_base64() -> None:
    assert decode_value({"B": "3q2+7w=="}) == "3q2+7w=="
    assert decode_value({"B": ""}) == ""
    for bad in ("3q2+7w=", "3q2 +7w==", "not base64!", 5):
        with pytest.raises(AttributeValueError, match="base64"):
            decode_value({"B": bad})


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ({"SS": []}, "empty set"),
        ({"NS": []}, "empty set"),
        ({"BS": []}, "empty set"),
        ({"SS": ["a", "a"]}, "duplicate"),
        ({"NS": ["1", "1.0"]}, "duplicate"),
        ({"BS": ["AA==", "AA=="]}, "duplicate"),
        ({"SS": ["a", 1]}, "SS member"),
        ({"SS": "a"}, "array"),
    ],
    ids=["empty-SS", "empty-NS", "empty-BS", "dup-SS", "dup-NS-equal-values", "dup-BS", "SS-non-string", "SS-scalar"],
)
def test_bad_sets_are_rejected(value: dict[str, Any], reason: str) -> None:
    with pytest.raises(AttributeValueError, match=reason):
        decode_value(value)


def test_empty_values_and_unicode() -> None:
    image = {
        "empty_s": {"S": ""},
        "empty_l": {"L": []},
        "empty_m": {"M": {}},
        "unicode": {"S": "Zoë 🩺 \u4e2d\u6587 \u0000 \"quoted\""},
        "ключ": {"S": "значение"},
    }
    decoded = decode_image(image)
    assert decoded == {
        "empty_s": "",
        "empty_l": [],
        "empty_m": {},
        "unicode": "Zoë 🩺 \u4e2d\u6587 \u0000 \"quoted\"",
        "ключ": "значение",
    }


def test_map_keys_that_look_like_type_tags_are_ordinary_keys() -> None:
    # The dynamodb-json package corrupts this shape; it is a map with a key named "S".
    assert decode_value({"M": {"S": {"S": "x"}, "N": {"N": "1"}}}) == {"S": "x", "N": Decimal(1)}


# --- nesting ----------------------------------------------------------------------------------------------------


def test_nesting_of_exactly_32_levels_reaches_the_leaf() -> None:
    value: Any = decode_value(nested(MAX_NESTING_DEPTH))
    containers = 0
    while not isinstance(value, str):
        value = value["k"] if isinstance(value, dict) else value[0]
        containers += 1
    assert (containers, value) == (MAX_NESTING_DEPTH, "leaf")


@pytest.mark.parametrize("levels", [MAX_NESTING_DEPTH + 1, MAX_NESTING_DEPTH + 10, 500])
def test_nesting_deeper_than_32_levels_is_rejected(levels: int) -> None:
    with pytest.raises(AttributeValueError, match="deeper than 32"):
        decode_image({"deep": nested(levels)})


# --- NiFi-reader-mangled values ---------------------------------------------------------------------------------

ALL_NULL = dict.fromkeys(["S", "N", "B", "SS", "NS", "BS", "M", "L", "NULL", "BOOL"])


@pytest.mark.parametrize(
    ("tag", "payload", "expected"),
    [
        ("S", "x", "x"),
        ("N", "5", Decimal(5)),
        ("B", "AA==", "AA=="),
        ("SS", ["b", "a"], ["a", "b"]),
        ("NS", ["2", "1"], [Decimal(1), Decimal(2)]),
        ("BS", ["AQ==", "AA=="], ["AA==", "AQ=="]),
        ("BOOL", False, False),
        ("NULL", True, None),
        ("L", [{**ALL_NULL, "S": "in-list"}], ["in-list"]),
        ("M", {"inner": {**ALL_NULL, "N": "7"}, "absent": None}, {"inner": Decimal(7)}),
    ],
)
def test_values_padded_with_null_type_tags_decode(tag: str, payload: Any, expected: Any) -> None:
    assert decode_value({**ALL_NULL, tag: payload}) == expected


def test_absent_keys_as_null_are_left_out() -> None:
    assert decode_image({"a": {"S": "x"}, "b": None}) == {"a": "x"}


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (ALL_NULL, "no type descriptor"),
        ({}, "no type descriptor"),
        ({**ALL_NULL, "S": "x", "N": "1"}, "more than one type descriptor"),
        ({"X": "1"}, "unknown type descriptor 'X'"),
        ({"S": 5}, "S value must be a string"),
        ({"BOOL": "true"}, "BOOL value"),
        ({"NULL": False}, "NULL value must be true"),
        ({"M": []}, "M value must be an object"),
        ({"L": {}}, "L value must be an array"),
        ("x", "must be an object"),
    ],
    ids=["all-null", "empty", "two-tags", "unknown-tag", "S-number", "BOOL-string", "NULL-false", "M-list", "L-map",
         "not-object"],
)
def test_malformed_values_are_rejected(value: Any, reason: str) -> None:
    with pytest.raises(AttributeValueError, match=reason):
        decode_value(value)


def test_error_names_the_attribute_but_not_its_value() -> None:
    image = {"patientFirstName": {"S": "ok"}, "totalCharge": {"N": "SENTINEL-PHI-VALUE"}}
    with pytest.raises(AttributeValueError) as caught:
        decode_image(image, lambda name: name == "totalCharge", "claim")
    assert "'totalCharge'" in str(caught.value)
    assert "SENTINEL" not in str(caught.value)


def test_by_default_no_attribute_name_is_shown() -> None:
    with pytest.raises(AttributeValueError) as caught:
        decode_image({"patientFirstName": {"S": "ok"}, "totalCharge": {"N": "SENTINEL-PHI-VALUE"}})
    assert str(caught.value).startswith("attribute #1 (name not in the item schema, not shown): ")
    assert "totalCharge" not in str(caught.value)
    assert "SENTINEL" not in str(caught.value)


def test_unknown_tag_that_looks_like_data_is_not_echoed() -> None:
    with pytest.raises(AttributeValueError) as caught:
        decode_value({"Jane Q. Public 1980-01-01": "x"})
    assert "Jane" not in str(caught.value)


def test_item_size_follows_dynamodb_rules() -> None:
    assert item_size({"ab": {"S": "héllo"}}) == 2 + 6
    assert item_size({"b": {"B": base64.b64encode(b"x" * 300).decode()}}) == 1 + 300
    assert item_size({"m": {"M": {"k": {"BOOL": True}}}}) == 1 + 3 + 1 + 1 + 1
    assert item_size({"big": {"S": "x" * 500_000}}) > 400 * 1024
