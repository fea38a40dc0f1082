"""Generated hostile records (mutations of a valid Kinesis DynamoDB record) through both CLIs and the three
record processors: no exception, in = out + rejected, no PHI sentinel, and the same accept/reject decision for
each record on every entry point that checks the same rules."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ._drive import CLAIM_ENTRY_POINTS, ENTRY_POINTS
from ._hostile import GOOD_COUNT, HOSTILE_INDEX, SENTINEL, SENTINEL_PARTS, base_record, batch, dumps

ODD_TEXT = st.one_of(
    st.text(alphabet=st.sampled_from(" \t\r\x0b\x0c\x00\x85\u00a0\u2028\u2029\ufeffaZ9-"), max_size=12),
    st.just(SENTINEL),
    st.integers(min_value=1, max_value=5000).map(lambda n: "x" * n),
)
ODD_VALUE: st.SearchStrategy[Any] = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    ODD_TEXT,
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.sampled_from(["S", "N", "M", "L", "BOOL", "NULL", "Q"]), ODD_TEXT, max_size=2),
)
PATHS = [
    ("eventID",),
    ("eventName",),
    ("awsRegion",),
    ("tableName",),
    ("dynamodb",),
    ("dynamodb", "ApproximateCreationDateTime"),
    ("dynamodb", "ApproximateCreationDateTimePrecision"),
    ("dynamodb", "SizeBytes"),
    ("dynamodb", "Keys"),
    ("dynamodb", "Keys", "claim_id"),
    ("dynamodb", "NewImage"),
    ("dynamodb", "NewImage", "claim_id"),
    ("dynamodb", "NewImage", "total_charge"),
    ("dynamodb", "NewImage", "date_of_service"),
    ("dynamodb", "NewImage", "claim_status"),
    ("dynamodb", "NewImage", "patient"),
    ("dynamodb", "NewImage", "extra_attribute"),
]


@st.composite
def hostile_records(draw: st.DrawFn) -> bytes:
    record = copy.deepcopy(base_record())
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        path = draw(st.sampled_from(PATHS))
        target: Any = record
        for part in path[:-1]:
            if not isinstance(target, dict) or not isinstance(target.get(part), dict):
                break
            target = target[part]
        else:
            if isinstance(target, dict):
                if draw(st.booleans()) and path[-1] in target:
                    del target[path[-1]]  # a missing field
                else:
                    target[path[-1]] = draw(ODD_VALUE)
    image = record.get("dynamodb", {}).get("NewImage") if isinstance(record.get("dynamodb"), dict) else None
    if isinstance(image, dict) and draw(st.booleans()):
        depth = draw(st.integers(min_value=1, max_value=1200))
        image["deep"] = "@@DEEP@@"  # deep nesting, written as text (orjson refuses to write it)
        deep = b'{"M":{"k":' * depth + b'{"S":"ZZSENTINEL"}' + b"}}" * depth
        return dumps(record).replace(b'"@@DEEP@@"', deep)
    return dumps(record)  # integers beyond 64 bits too


def _decision(outcome_rejected: list[tuple[int | None, str]]) -> bool:
    return any(index == HOSTILE_INDEX for index, _ in outcome_rejected)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(hostile_records())
def test_hardening_generated_hostile_records(hostile: bytes) -> None:
    content = batch(hostile)
    count = sum(1 for line in content.split(b"\n") if line.strip(b" \t\r"))
    decisions: dict[str, bool] = {}
    for entry, drive in ENTRY_POINTS.items():
        outcome = drive(content, None)
        assert outcome.crash is None, f"{entry}: {outcome.crash[-2000:]}"
        assert outcome.good + len(outcome.rejected) == count, (entry, outcome.good, outcome.rejected)
        for part in SENTINEL_PARTS:
            assert part not in outcome.text and part not in outcome.reasons, f"{entry}: PHI sentinel shown"
        assert outcome.good >= GOOD_COUNT, f"{entry}: a good record was lost"
        decisions[entry] = _decision(outcome.rejected)
    decoders = {decisions["cli-decode"], decisions["DecodeDynamoDBChange"]}
    assert len(decoders) == 1, decisions
    claims = {decisions[entry] for entry in CLAIM_ENTRY_POINTS if entry in decisions}
    assert len(claims) == 1, decisions
    if decisions["cli-decode"]:  # what the decoder rejects, no claim path may accept
        assert claims == {True}, decisions
