"""Issue 11's bad-input suite: each named case is one hostile record among good ones, run through every entry
point that takes Kinesis DynamoDB records (both CLIs, the three record processors in the offline runtime).

Every case asserts: no traceback or exception, in = out + rejected, the good records kept, the hostile record's
decision (accepted, or rejected with a reason naming the broken rule), the same decision on every entry point
that checks that rule, and no PHI sentinel in stderr, logs, attributes or reasons.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from claimflow.snowflake.spec import validate_row

from ._checks import fits_ddl
from ._drive import CLAIM_ENTRY_POINTS, ENTRY_POINTS, Outcome
from ._hostile import (
    DELETE,
    GOOD_COUNT,
    HOSTILE_INDEX,
    SENTINEL,
    SENTINEL_PARTS,
    base_record,
    batch,
    deep_text,
    dumps,
    good_lines,
    mutate,
    with_image,
    with_key,
)
from ._known import KNOWN_DEFECTS

US_2025 = 1_761_955_200_000_000
ARRIVAL_MS = "aws.kinesis.approximate.arrival.timestamp.ms"
SEQUENCE = "aws.kinesis.sequence.number"


@dataclass
class Case:
    hostile: Callable[[], bytes]
    expect: str  # "reject" (every entry point), "claim" (rejected where claim rows are built), "accept", "flowfile"
    rule: tuple[str, ...] = ()  # words of which the reason names at least one (a rule, not prose)
    attributes: dict[str, str] = field(default_factory=dict)
    key: str | None = None  # accepted cases: the claim id the good output must carry, exactly


def _rec(**changes: object) -> Callable[[], bytes]:
    return lambda: dumps(mutate(**changes))


def _img(name: str, value: object) -> Callable[[], bytes]:
    return lambda: dumps(with_image(name, value))


def _raw(data: bytes) -> Callable[[], bytes]:
    return lambda: data


def _meta(**fields: object) -> Callable[[], bytes]:
    """The base record with ConsumeKinesis's injected per-record metadata (a valid position, then ``fields``)."""

    def build() -> bytes:
        record = base_record()
        record["kinesisMetadata"] = {
            "shardId": "shardId-000000000001",
            "sequenceNumber": "49650000000000000000000000000000000000000000000000000077",
            "partitionKey": "CLM-77777777",
            "approximateArrival": US_2025 // 1000 + 5,
            **fields,
        }
        return dumps(record)

    return build


def _eventid(text: str) -> Callable[[], bytes]:
    return _rec(eventID=text)


def _exponent_time() -> bytes:
    """The base record's creation time written as 1.761955204000012e15 (what a double-typed reader writes)."""
    record = base_record()
    written = str(record["dynamodb"]["ApproximateCreationDateTime"]).encode()
    exponent = f"{int(written) / 10**15:.15f}".rstrip("0").encode() + b"e15"
    field_name = b'"ApproximateCreationDateTime":'
    text = dumps(record).replace(field_name + written, field_name + exponent)
    assert exponent in text
    return text


TIME = ("time", "creation", "approximate")
SEQ = ("sequence",)
SIZE = ("size", "bytes", "large", "long")
WIDTH = ("width", "long", "length", "characters", "chars", "too")
EVENT_ID = ("eventid", "event id", "event_id")
JSON = ("json",)
OPERATION = ("eventname", "operation", "event name")
DEPTH = ("depth", "nest", "deep")
ARRIVAL = ("arrival",)
ATTRIBUTE = ("attribute", "type", "value", "number", "n ")
PLAUSIBLE = (*TIME, "plausib", "future", "before", "range")

CASES: dict[str, Case] = {
    # 1. crashes on out-of-range times and deep nesting
    "creation-time-1e19-us": Case(_rec(dynamodb__ApproximateCreationDateTime=10**19), "reject", PLAUSIBLE),
    "creation-time-us-labelled-millisecond": Case(
        _rec(dynamodb__ApproximateCreationDateTimePrecision="MILLISECOND"), "reject", PLAUSIBLE
    ),
    "creation-time-negative": Case(_rec(dynamodb__ApproximateCreationDateTime=-1), "reject", PLAUSIBLE),
    "creation-time-2-pow-64": Case(_rec(dynamodb__ApproximateCreationDateTime=2**64), "reject", PLAUSIBLE),
    "creation-time-string": Case(_rec(dynamodb__ApproximateCreationDateTime=SENTINEL), "reject", TIME),
    "creation-time-bool": Case(_rec(dynamodb__ApproximateCreationDateTime=True), "reject", TIME),
    "creation-time-object": Case(_rec(dynamodb__ApproximateCreationDateTime={"N": "1"}), "reject", TIME),
    "precision-nanosecond-label": Case(
        _rec(dynamodb__ApproximateCreationDateTimePrecision="NANOSECOND"), "reject", ("precision", *TIME)
    ),
    "arrival-attribute-twenty-nines": Case(lambda: dumps(base_record()), "flowfile", ARRIVAL, {ARRIVAL_MS: "9" * 20}),
    "arrival-attribute-negative": Case(lambda: dumps(base_record()), "flowfile", ARRIVAL, {ARRIVAL_MS: "-5"}),
    "arrival-attribute-phi-text": Case(lambda: dumps(base_record()), "flowfile", ARRIVAL, {ARRIVAL_MS: SENTINEL}),
    "metadata-arrival-negative": Case(_meta(approximateArrival=-1), "reject", ARRIVAL),
    "metadata-arrival-twenty-nines": Case(_meta(approximateArrival=int("9" * 20)), "reject", ARRIVAL),
    "deep-nesting-990-levels": Case(lambda: deep_text(990), "reject", DEPTH),
    "deep-nesting-5000-levels": Case(lambda: deep_text(5000), "reject", DEPTH),
    # 2. one row failing a merge batch
    "metadata-sequence-65-digits": Case(_meta(sequenceNumber="9" * 65), "reject", SEQ),
    "metadata-sequence-phi-text": Case(_meta(sequenceNumber=SENTINEL), "reject", SEQ),
    "metadata-shard-1000-chars": Case(_meta(shardId="s" * 1000), "reject", ("shard", *WIDTH)),
    "metadata-partition-key-1000-chars": Case(_meta(partitionKey="p" * 1000), "reject", ("partition", *WIDTH)),
    "sequence-attribute-65-digits": Case(lambda: dumps(base_record()), "flowfile", SEQ, {SEQUENCE: "9" * 65}),
    "eventid-300-chars": Case(_eventid("a" * 300), "reject", EVENT_ID),
    "eventid-100kb": Case(_eventid("f" * 100_000), "reject", EVENT_ID),
    "sourcetable-10000-chars": Case(_rec(tableName="T" * 10_000), "reject", ("sourcetable", "table", *WIDTH)),
    "awsregion-5000-chars": Case(_rec(awsRegion="r" * 5_000), "reject", ("awsregion", "region", *WIDTH)),
    "shard-attribute-1000-chars": Case(
        lambda: dumps(base_record()), "flowfile", ("shard", *WIDTH), {"aws.kinesis.shard.id": "s" * 1000}
    ),
    "partition-key-attribute-1000-chars": Case(
        lambda: dumps(base_record()), "flowfile", ("partition", *WIDTH), {"aws.kinesis.partition.key": "p" * 1000}
    ),
    "u2028-inside-value": Case(_img("referral_source", {"S": "a\u2028b"}), "accept"),
    "u2029-inside-value": Case(_img("referral_source", {"S": "a\u2029b"}), "accept"),
    "u0085-inside-value": Case(_img("referral_source", {"S": "a\u0085b"}), "accept"),
    "u001c-inside-value": Case(_img("referral_source", {"S": "a\u001cb\u001db\u001eb"}), "accept"),
    # 4. implausible times
    "creation-time-year-3000": Case(
        _rec(dynamodb__ApproximateCreationDateTime=32_503_680_000_000_000), "reject", PLAUSIBLE
    ),
    "creation-time-seconds-as-us": Case(
        _rec(dynamodb__ApproximateCreationDateTime=US_2025 // 1_000_000), "reject", PLAUSIBLE
    ),
    "creation-time-2010-before-streams": Case(
        _rec(dynamodb__ApproximateCreationDateTime=1_262_304_000_000_000), "reject", PLAUSIBLE
    ),
    "creation-time-ms-labelled-ms": Case(
        _rec(
            dynamodb__ApproximateCreationDateTime=US_2025 // 1000,
            dynamodb__ApproximateCreationDateTimePrecision="MILLISECOND",
        ),
        "accept",
    ),
    "creation-time-day-after-arrival": Case(
        _rec(dynamodb__ApproximateCreationDateTime=US_2025 + 86_400_000_000),
        "reject",
        PLAUSIBLE,
        {ARRIVAL_MS: str(US_2025 // 1000)},
    ),
    # 5. keys differing by whitespace
    "key-trailing-space": Case(lambda: dumps(with_key("CLM-77777777 ")), "accept", key="CLM-77777777 "),
    "key-leading-space": Case(lambda: dumps(with_key(" CLM-77777777")), "accept", key=" CLM-77777777"),
    "key-trailing-tab": Case(lambda: dumps(with_key("CLM-77777777\t")), "accept", key="CLM-77777777\t"),
    "key-trailing-nbsp": Case(lambda: dumps(with_key("CLM-77777777\u00a0")), "accept", key="CLM-77777777\u00a0"),
    "key-keys-and-image-differ-by-space": Case(
        lambda: dumps(mutate(dynamodb__Keys={"claim_id": {"S": "CLM-77777777 "}})), "claim", ("key", "claim")
    ),
    # 6. one fractional ApproximateCreationDateTime in a batch
    "creation-time-integral-float": Case(_rec(dynamodb__ApproximateCreationDateTime=float(US_2025)), "accept"),
    "creation-time-fractional-ms": Case(
        _rec(
            dynamodb__ApproximateCreationDateTime=US_2025 / 1000 + 0.5,
            dynamodb__ApproximateCreationDateTimePrecision="MILLISECOND",
        ),
        "accept",
    ),
    "creation-time-exponent-float": Case(_exponent_time, "accept"),
    # 7. PHI through the eventID and crafted lines
    "eventid-phi-sentinel": Case(_rec(eventID=SENTINEL, eventName="UPSERT"), "reject", OPERATION),
    "eventid-phi-alone": Case(_eventid(SENTINEL), "reject", EVENT_ID),
    "eventid-number": Case(_eventid(12345), "reject", EVENT_ID),  # type: ignore[arg-type]
    "cdc-rejected-crafted-line": Case(
        lambda: dumps({"cdc_rejected": {"index": 0, "error": SENTINEL, "raw": SENTINEL}}),
        "reject",
        ("record", *JSON, "event"),
    ),
    "eventname-phi": Case(_rec(eventName=SENTINEL), "reject", OPERATION),
    "eventname-lowercase": Case(_rec(eventName="insert"), "reject", OPERATION),
    "attribute-unknown-type-tag-phi": Case(_img("claim_status", {"Q": SENTINEL}), "reject", ATTRIBUTE),
    "attribute-name-phi-bad-value": Case(_img(SENTINEL, {"N": "x"}), "reject", ATTRIBUTE),
    "number-holds-phi": Case(_img("total_charge", {"N": SENTINEL}), "reject", ("number", "charge", *ATTRIBUTE)),
    "date-of-service-holds-phi": Case(_img("date_of_service", {"S": SENTINEL}), "claim", ("date", "service")),
    # 8. paths that disagree
    "formfeed-only-line": Case(_raw(b"\x0c"), "reject", JSON),
    "vtab-only-line": Case(_raw(b"\x0b"), "reject", JSON),
    "nul-only-line": Case(_raw(b"\x00"), "reject", JSON),
    "invalid-utf8-line": Case(_raw(b"\xff\xfe" + SENTINEL.encode()), "reject", (*JSON, "utf")),
    "attribute-5mb-small-sizebytes": Case(_img("referral_source", {"S": "x" * 5_000_000}), "reject", SIZE),
    "sizebytes-over-item-limit": Case(_rec(dynamodb__SizeBytes=500_000), "reject", SIZE),
    "sizebytes-negative": Case(_rec(dynamodb__SizeBytes=-1), "reject", SIZE),
    "sizebytes-string": Case(_rec(dynamodb__SizeBytes=SENTINEL), "reject", SIZE),
    # other malformed envelopes
    "malformed-json-with-phi": Case(_raw(b'{"eventID": "' + SENTINEL.encode() + b'", '), "reject", JSON),
    "top-level-number": Case(_raw(b"42"), "reject", ("object", "record", *JSON)),
    "top-level-string-phi": Case(lambda: dumps(SENTINEL), "reject", ("object", "record", *JSON)),
    "dynamodb-missing": Case(_rec(dynamodb=DELETE), "reject", ("dynamodb",)),
    "dynamodb-not-object": Case(_rec(dynamodb=[1, 2]), "reject", ("dynamodb",)),
    "newimage-not-object": Case(_rec(dynamodb__NewImage="x"), "reject", ("newimage", "image")),
    "keys-missing": Case(_rec(dynamodb__Keys=DELETE), "reject", ("keys", "key")),
    "number-1e400": Case(_img("total_charge", {"N": "1e400"}), "reject", ("number", *ATTRIBUTE)),
    "number-100-digits": Case(_img("total_charge", {"N": "9" * 100}), "reject", ("number", "digits", *ATTRIBUTE)),
    "number-leading-space": Case(_img("total_charge", {"N": " 12.00"}), "reject", ("number", *ATTRIBUTE)),
    "bool-as-string": Case(_img("referral_flag", {"BOOL": "true"}), "reject", ("bool", *ATTRIBUTE)),
    "extra-top-level-field": Case(_rec(unexpectedField={"S": 1}), "accept"),
}


def _in_count(content: bytes) -> int:
    """Records in: every line that holds something other than JSON whitespace."""
    return sum(1 for line in content.split(b"\n") if line.strip(b" \t\r"))


def _no_sentinel(outcome: Outcome) -> None:
    for part in SENTINEL_PARTS:
        assert part not in outcome.text, f"{outcome.entry}: PHI sentinel in stderr/logs/attributes"
        assert part not in outcome.reasons, f"{outcome.entry}: PHI sentinel in a reason"


def _rejects(entry: str, expect: str) -> bool:
    return expect == "reject" or (expect == "claim" and entry in CLAIM_ENTRY_POINTS)


@pytest.mark.parametrize("entry", list(ENTRY_POINTS))
@pytest.mark.parametrize("name", list(CASES))
def test_hardening_case(name: str, entry: str, request: pytest.FixtureRequest) -> None:
    if (name, entry) in KNOWN_DEFECTS:
        request.applymarker(pytest.mark.xfail(strict=True, reason=KNOWN_DEFECTS[name, entry]))
    case = CASES[name]
    content = batch(case.hostile())
    outcome = ENTRY_POINTS[entry](content, case.attributes or None)
    assert outcome.crash is None, f"{entry} raised or printed a traceback:\n{outcome.crash[-3000:]}"
    assert "Traceback" not in outcome.text
    count = _in_count(content)
    assert outcome.good + len(outcome.rejected) == count, (entry, outcome.good, outcome.rejected)
    _no_sentinel(outcome)
    assert all(len(reason) < 2000 for reason in outcome.reasons.splitlines()), "unbounded reason"
    for index, row in enumerate(outcome.rows):  # a row that would fail the merge batch must not be emitted
        validate_row(row, index)
        fits_ddl(row)
    if case.expect == "flowfile":
        # A FlowFile attribute is broken: the records are either all kept (the attribute ignored) or all
        # rejected for that attribute, never a crash nor a partial loss.
        assert outcome.good in (count, 0), (entry, outcome.rejected)
        if outcome.rejected:
            assert any(word in outcome.reasons.lower() for word in case.rule), outcome.reasons
        return
    if _rejects(entry, case.expect):
        assert outcome.good == GOOD_COUNT, f"{entry}: good records lost or the hostile one accepted"
        assert [index for index, _ in outcome.rejected] == [HOSTILE_INDEX], outcome.rejected
        reason = outcome.rejected[0][1].lower()
        assert any(word in reason for word in case.rule), f"{entry}: reason names none of {case.rule}: {reason}"
    else:
        assert outcome.rejected == [], f"{entry}: a valid record was rejected: {outcome.rejected}"
        assert outcome.good == count
        if case.key is not None:
            assert case.key in outcome.keys, f"{entry}: key not kept exactly: {outcome.keys!r}"


def test_hardening_good_lines_alone_pass_everywhere() -> None:
    """The control: the good lines and the unmodified base record are accepted by every entry point."""
    content = batch(dumps(base_record()))
    for entry, drive in ENTRY_POINTS.items():
        outcome = drive(content, None)
        assert outcome.crash is None and outcome.rejected == [] and outcome.good == GOOD_COUNT + 1, entry
        assert len(set(outcome.keys)) == GOOD_COUNT + 1


def test_hardening_suite_has_sixty_named_cases() -> None:
    assert len(CASES) >= 60
    assert len(good_lines()) == GOOD_COUNT
