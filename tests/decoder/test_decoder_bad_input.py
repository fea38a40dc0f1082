"""Bad input: every case gets a clear reason naming the record, good records around it still come through,
and counts add up (in = out + rejected). No reason ever carries a value from the record."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import orjson
import pytest

from claimflow.events import ChangeEvent, DecodeError, Rejection, decode_record, decode_records

from ._records import PHI_SENTINEL, change_record, nested, with_attribute

Record = dict[str, Any]


def _drop(*path: str) -> Callable[[Record], Record]:
    def change(record: Record) -> Record:
        changed = copy.deepcopy(record)
        target = changed
        for part in path[:-1]:
            target = target[part]
        del target[path[-1]]
        return changed

    return change


def _set(value: Any, *path: str) -> Callable[[Record], Record]:
    def change(record: Record) -> Record:
        changed = copy.deepcopy(record)
        target = changed
        for part in path[:-1]:
            target = target[part]
        target[path[-1]] = value
        return changed

    return change


def _attribute(value: Any, image: str = "NewImage") -> Callable[[Record], Record]:
    return lambda record: with_attribute(record, "patientFirstName", value, image)


# (case id, event name of the base record, change, expected words in the reason, whether the eventID is known)
CASES: list[tuple[str, str, Callable[[Record], Record], str, bool]] = [
    ("missing-eventID", "INSERT", _drop("eventID"), "missing eventID", False),
    ("eventID-not-string", "INSERT", _set(7, "eventID"), "eventID must be a string", False),
    ("missing-eventName", "INSERT", _drop("eventName"), "missing eventName", True),
    ("unsupported-eventName", "INSERT", _set("UPSERT", "eventName"), "unsupported eventName; expected INSERT", True),
    ("eventName-not-string", "INSERT", _set({"x": PHI_SENTINEL}, "eventName"), "unsupported eventName", True),
    ("missing-dynamodb", "INSERT", _drop("dynamodb"), "missing dynamodb", True),
    ("dynamodb-not-object", "INSERT", _set([PHI_SENTINEL], "dynamodb"), "dynamodb must be an object", True),
    ("missing-Keys", "INSERT", _drop("dynamodb", "Keys"), "missing dynamodb.Keys", True),
    ("empty-Keys", "INSERT", _set({}, "dynamodb", "Keys"), "dynamodb.Keys is empty", True),
    ("Keys-not-object", "INSERT", _set(PHI_SENTINEL, "dynamodb", "Keys"), "dynamodb.Keys", True),
    ("INSERT-without-NewImage", "INSERT", _drop("dynamodb", "NewImage"), "INSERT without dynamodb.NewImage", True),
    ("MODIFY-without-NewImage", "MODIFY", _drop("dynamodb", "NewImage"), "MODIFY without dynamodb.NewImage", True),
    ("REMOVE-without-OldImage", "REMOVE", _drop("dynamodb", "OldImage"), "REMOVE without dynamodb.OldImage", True),
    ("missing-time", "INSERT", _drop("dynamodb", "ApproximateCreationDateTime"), "ApproximateCreationDateTime", True),
    ("time-as-string", "INSERT", _set("1720740233012", "dynamodb", "ApproximateCreationDateTime"), "positive number",
     True),
    ("time-as-bool", "INSERT", _set(True, "dynamodb", "ApproximateCreationDateTime"), "positive number", True),
    ("time-negative", "INSERT", _set(-5, "dynamodb", "ApproximateCreationDateTime"), "positive number", True),
    ("time-negative-float", "INSERT", _set(-5.5, "dynamodb", "ApproximateCreationDateTime"), "positive number", True),
    ("unknown-type-descriptor", "INSERT", _attribute({"Q": PHI_SENTINEL}), "unknown type descriptor 'Q'", True),
    ("no-type-descriptor", "INSERT", _attribute({}), "no type descriptor", True),
    ("two-type-descriptors", "INSERT", _attribute({"S": PHI_SENTINEL, "N": "1"}), "more than one type", True),
    ("N-not-numeric", "INSERT", _attribute({"N": PHI_SENTINEL}), "not a decimal number", True),
    ("N-NaN", "INSERT", _attribute({"N": "NaN"}), "not a decimal number", True),
    ("N-39-digits", "INSERT", _attribute({"N": "1" * 39}), "38 significant digits", True),
    ("N-too-large", "INSERT", _attribute({"N": "1E+126"}), "outside DynamoDB's number range", True),
    ("N-too-small", "INSERT", _attribute({"N": "-1E-131"}), "outside DynamoDB's number range", True),
    ("N-float", "INSERT", _attribute({"N": 1.25}), "JSON float", True),
    ("S-not-string", "INSERT", _attribute({"S": ["x"]}), "S value must be a string", True),
    ("B-not-base64", "INSERT", _attribute({"B": PHI_SENTINEL + "!"}), "not valid base64", True),
    ("BS-member-not-base64", "INSERT", _attribute({"BS": ["AA==", "%%%"]}), "not valid base64", True),
    ("SS-empty", "INSERT", _attribute({"SS": []}), "empty set", True),
    ("SS-duplicates", "INSERT", _attribute({"SS": [PHI_SENTINEL, PHI_SENTINEL]}), "duplicate members", True),
    ("BOOL-not-bool", "INSERT", _attribute({"BOOL": "yes"}), "BOOL value", True),
    ("NULL-false", "INSERT", _attribute({"NULL": False}), "NULL value must be true", True),
    ("M-not-object", "INSERT", _attribute({"M": [PHI_SENTINEL]}), "M value must be an object", True),
    ("L-not-array", "INSERT", _attribute({"L": PHI_SENTINEL}), "L value must be an array", True),
    ("nesting-33-levels", "INSERT", _attribute(nested(33)), "deeper than 32 levels", True),
    ("bad-OldImage-on-MODIFY", "MODIFY", _attribute({"N": "x"}, "OldImage"), "dynamodb.OldImage", True),
    ("bad-Keys-value", "INSERT", _set({"claim_id": {"S": 5}}, "dynamodb", "Keys"), "dynamodb.Keys", True),
    ("oversized-item", "INSERT", lambda r: _set(600_000, "dynamodb", "SizeBytes")(
        _attribute({"S": PHI_SENTINEL * 20_000})(r)), "SizeBytes must be a whole number of bytes",
     True),
    ("wrapper-value-not-object", "INSERT", lambda r: {"metadata": {}, "value": [PHI_SENTINEL]}, "wrapper value", False),
]
IDS = [case[0] for case in CASES]


@pytest.mark.parametrize(("case", "base", "change", "reason", "id_known"), CASES, ids=IDS)
def test_bad_record_is_rejected_and_the_batch_survives(
    case: str, base: str, change: Callable[[Record], Record], reason: str, id_known: bool
) -> None:
    bad = change(change_record(base, "CLM-BAD", event_id="0b5e4d1c-8f2a-4c3e-9d7b-6a1f2e3d4c5b"))
    good_before, good_after = change_record("INSERT", "CLM-1"), change_record("REMOVE", "CLM-2")
    data = b"\n".join(orjson.dumps(r) for r in (good_before, bad, good_after))

    out = list(decode_records(data))

    assert len(out) == 3  # counts in = out + rejected
    first, rejection, last = out
    assert isinstance(first, ChangeEvent) and first.event_id == good_before["eventID"]
    assert isinstance(last, ChangeEvent) and last.event_id == good_after["eventID"]
    assert isinstance(rejection, Rejection)
    assert rejection.index == 1
    assert rejection.error.startswith("record 1")
    assert reason in rejection.error
    assert ("eventId 0b5e4d1c-8f2a-4c3e-9d7b-6a1f2e3d4c5b" in rejection.error) is id_known
    assert rejection.event_id == ("0b5e4d1c-8f2a-4c3e-9d7b-6a1f2e3d4c5b" if id_known else None)
    assert PHI_SENTINEL not in rejection.error
    assert rejection.raw is not None and orjson.loads(rejection.raw) == bad  # the original, for dead-lettering


@pytest.mark.parametrize(("case", "base", "change", "reason", "id_known"), CASES, ids=IDS)
def test_decode_record_raises_decode_error(
    case: str, base: str, change: Callable[[Record], Record], reason: str, id_known: bool
) -> None:
    bad = change(change_record(base, "CLM-BAD", event_id="0b5e4d1c-8f2a-4c3e-9d7b-6a1f2e3d4c5b"))
    with pytest.raises(DecodeError) as caught:
        decode_record(bad, index=41)
    assert str(caught.value).startswith("record 41")
    assert reason in caught.value.reason
    assert caught.value.index == 41
    assert PHI_SENTINEL not in str(caught.value)


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (b'{"eventID": "e", "eventName": ', "malformed JSON"),
        (b"not json at all " + PHI_SENTINEL.encode(), "malformed JSON"),
        (b"\xff\xfe\x00", "malformed JSON: not valid UTF-8"),
        (b'"' + PHI_SENTINEL.encode() + b'"', "expected a JSON object, got a string"),
        (b"[1, 2]", "expected a JSON object, got an array"),
        (b"42", "expected a JSON object, got a number"),
        (b"null", "expected a JSON object, got null"),
    ],
    ids=["truncated", "text", "binary", "string", "array", "number", "null"],
)
def test_lines_that_are_not_records(line: bytes, reason: str) -> None:
    data = orjson.dumps(change_record("INSERT", "CLM-1")) + b"\n" + line + b"\n" + orjson.dumps(change_record())
    out = list(decode_records(data))
    assert [type(x) for x in out] == [ChangeEvent, Rejection, ChangeEvent]
    rejection = out[1]
    assert isinstance(rejection, Rejection)
    assert rejection.index == 1 and rejection.error == f"record 1: {reason}" and rejection.raw == line


def test_array_with_bad_elements_keeps_good_ones_and_indexes() -> None:
    good = change_record("INSERT", "CLM-1")
    data = orjson.dumps([good, 5, _drop("eventName")(good), change_record("REMOVE", "CLM-2")])
    out = list(decode_records(data))
    assert [type(x) for x in out] == [ChangeEvent, Rejection, Rejection, ChangeEvent]
    assert [x.index for x in out if isinstance(x, Rejection)] == [1, 2]


def test_one_malformed_single_line_document_is_one_rejection() -> None:
    (only,) = decode_records(b'{"eventID": "e1", "eventName": "INSERT", \n')
    assert isinstance(only, Rejection) and only.index == 0 and "malformed JSON" in only.error


def test_text_that_is_neither_ndjson_nor_one_document_is_read_line_by_line() -> None:
    """A broken first line must not turn the whole FlowFile into one rejection and lose the good lines."""
    data = b'{"eventID": "e1", "eventName": \n{broken too\n' + orjson.dumps(change_record())
    out = list(decode_records(data))
    assert [type(x) for x in out] == [Rejection, Rejection, ChangeEvent]


def test_counts_add_up_on_a_mixed_batch() -> None:
    lines = []
    for i in range(200):
        record = change_record(["INSERT", "MODIFY", "REMOVE"][i % 3], f"CLM-{i}")
        if i % 7 == 0:
            _, base, change, _, _ = CASES[i % len(CASES)]
            record = change(change_record(base, f"CLM-{i}"))
        lines.append(orjson.dumps(record))
    lines.insert(50, b"{broken")
    out = list(decode_records(b"\n".join(lines)))
    events = [x for x in out if isinstance(x, ChangeEvent)]
    rejections = [x for x in out if isinstance(x, Rejection)]
    assert len(out) == len(lines) == len(events) + len(rejections)
    assert [x.index for x in out if isinstance(x, Rejection)] == [i for i, x in enumerate(out) if x in rejections]
    assert 25 <= len(rejections) <= 31  # every seventh record was broken, plus one line of bad JSON


def test_oversized_item_is_caught_from_the_raw_size_even_when_SizeBytes_understates_it() -> None:
    bad = with_attribute(change_record("INSERT", "CLM-BIG"), "notes", {"S": "x" * 420_000})
    assert bad["dynamodb"]["SizeBytes"] < 1000
    (rejection,) = decode_records(orjson.dumps(bad))
    assert isinstance(rejection, Rejection) and "400 KB" in rejection.error
    bad["dynamodb"]["SizeBytes"] = 420_321  # in a large array only SizeBytes tells the size without a walk
    in_array = list(decode_records(orjson.dumps([change_record(), bad])))
    assert isinstance(in_array[0], ChangeEvent)
    # 420,321 bytes for one image is over the limit SizeBytes can have (keys and one 400 KB item)
    assert isinstance(in_array[1], Rejection) and "SizeBytes" in in_array[1].error and "item limit" in in_array[1].error
    # 250,000 quote characters: 500 KB of JSON (each is escaped) but a 250 KB item, so it must pass
    escaped = with_attribute(change_record("INSERT", "CLM-BIG"), "notes", {"S": '"' * 250_000})
    assert len(orjson.dumps(escaped)) > 400 * 1024
    (event,) = decode_records(orjson.dumps(escaped))
    assert isinstance(event, ChangeEvent)


def test_an_unexpected_decoder_failure_becomes_a_rejection(monkeypatch: pytest.MonkeyPatch) -> None:
    import claimflow.events as events

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise KeyError(PHI_SENTINEL)

    data = b"\n".join(orjson.dumps(change_record("INSERT", f"CLM-{i}")) for i in range(3))
    monkeypatch.setattr(events, "_decode", broken)
    out = list(decode_records(data))
    assert [type(x) for x in out] == [Rejection] * 3
    assert all("internal decoder error (KeyError)" in x.error and PHI_SENTINEL not in x.error for x in out)
