"""Properties over generated records and batches: exact round trips and counts that always add up."""

from __future__ import annotations

from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from claimflow.dynamodb import decode_value
from claimflow.events import ChangeEvent, Rejection, decode_records, parse_change_events

from ._records import change_record
from .test_decoder_values import attribute_values

PROPERTY = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])

images = st.dictionaries(st.text(min_size=1, max_size=10), attribute_values, max_size=5)


@PROPERTY
@given(images, st.sampled_from(["INSERT", "MODIFY", "REMOVE"]))
def test_change_event_json_round_trip_is_exact(extra: dict[str, Any], event_name: str) -> None:
    record = change_record(event_name)
    for image in ("NewImage", "OldImage"):
        if image in record["dynamodb"]:
            record["dynamodb"][image].update(extra)
    (event,) = decode_records(orjson.dumps(record))
    assert isinstance(event, ChangeEvent)
    (again,) = parse_change_events(event.to_json() + b"\n")
    assert again == event
    assert again.to_json() == event.to_json()


# A batch: each entry is a good record, a broken one, or a line of garbage.
entries = st.lists(
    st.one_of(
        st.tuples(st.just("good"), st.sampled_from(["INSERT", "MODIFY", "REMOVE"])),
        st.tuples(st.just("bad"), st.sampled_from(["no-keys", "bad-number", "no-name", "unknown-tag"])),
        st.tuples(st.just("garbage"), st.binary(min_size=1, max_size=20).filter(lambda b: b"\n" not in b)),
    ),
    min_size=1,
    max_size=25,
)


def _bad(kind: str, i: int) -> dict[str, Any]:
    record = change_record("INSERT", f"CLM-{i}")
    if kind == "no-keys":
        del record["dynamodb"]["Keys"]
    elif kind == "bad-number":
        record["dynamodb"]["NewImage"]["totalCharge"] = {"N": "12,50"}
    elif kind == "no-name":
        del record["eventName"]
    else:
        record["dynamodb"]["NewImage"]["x"] = {"Z": "1"}
    return record


@PROPERTY
@given(entries, st.sampled_from(["ndjson", "array"]))
def test_counts_in_equal_out_plus_rejected(batch: list[tuple[str, Any]], layout: str) -> None:
    records: list[Any] = []
    expected_good: list[int] = []
    for i, (kind, detail) in enumerate(batch):
        if kind == "good":
            records.append(change_record(detail, f"CLM-{i}"))
            expected_good.append(i)
        elif kind == "bad":
            records.append(_bad(detail, i))
        else:
            records.append(detail)
    if layout == "array":
        # garbage cannot sit inside a JSON array: use a JSON string in its place (not an object: rejected)
        data = orjson.dumps([r if isinstance(r, dict) else r.hex() for r in records])
    else:
        data = b"\n".join(r if isinstance(r, bytes) else orjson.dumps(r) for r in records)

    out = list(decode_records(data))

    good = [i for i, x in enumerate(out) if isinstance(x, ChangeEvent)]
    rejected = [x.index for x in out if isinstance(x, Rejection)]
    content = data.removeprefix(b"\xef\xbb\xbf")  # a byte order mark at the very start is not content
    lines = len(records) if layout == "array" else sum(1 for r in content.split(b"\n") if r.strip(b" \t\r"))
    assert len(out) == lines == len(good) + len(rejected)
    if lines == len(records):  # no garbage line was blank or got split: positions match the input
        assert good == expected_good
        assert rejected == [i for i in range(len(records)) if i not in expected_good]


TAGS = ["S", "N", "B", "SS", "NS", "BS", "M", "L", "NULL", "BOOL"]


def _as_nifi_reader_writes_it(value: dict[str, Any]) -> dict[str, Any]:
    """Every type tag present, the absent ones null, recursively (a NiFi JSON reader with a merged schema)."""
    ((tag, inner),) = value.items()
    if tag == "M":
        inner = {key: _as_nifi_reader_writes_it(item) for key, item in inner.items()}
        inner["absentHere"] = None
    elif tag == "L":
        inner = [_as_nifi_reader_writes_it(item) for item in inner]
    return {**dict.fromkeys(TAGS), tag: inner}


@PROPERTY
@given(attribute_values)
def test_nifi_reader_padding_never_changes_the_decoded_value(value: dict[str, Any]) -> None:
    assert decode_value(_as_nifi_reader_writes_it(value)) == decode_value(value)
