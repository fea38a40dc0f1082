"""The operator's event-time settings (claimflow.event_time.EventTimeRules): the maximum clock skew and the millisecond
switch-over, read and validated in the core, applied alike by the decoder, the fused claim path, the two processors
that decode (DecodeDynamoDBChange, ProcessClaimChange) and the two commands (claimflow decode, claimflow transform).
"""

from __future__ import annotations

import json
import os
import subprocess
from typing import Any

import pytest

from claimflow.event_time import MAX_CLOCK_SKEW_US, EventTimeRules, time_rules_from_strings
from claimflow.events import DecodeError, decode_record
from claimflow_offline.java import RoutedRunner
from claimflow_offline.runner import TestRunner

from ._records import REPO, change_record

CLAIMFLOW = REPO / ".venv" / "bin" / "claimflow"
ARRIVAL_MS = 1720740233012
ATTRIBUTES = {"aws.kinesis.sequence.number": "1", "aws.kinesis.approximate.arrival.timestamp.ms": str(ARRIVAL_MS)}
TWO_MINUTES_US = 120 * 1_000_000
SWITCH = "2024-07-11T23:23:53Z"  # 1720740233000 ms: the millisecond 1720740233012 lies after it
SWITCH_US = 1_720_740_233_000_000


EVENT_ID = "5ce1a0b2-7d3e-4f5a-8b9c-0d1e2f3a4b5c"  # a UUID, as Kinesis writes it: shown in reasons


def _record(offset_us: int, event_id: str = EVENT_ID) -> dict[str, Any]:
    """An INSERT stamped ``offset_us`` past the arrival of ATTRIBUTES (microsecond precision)."""
    return change_record(time=ARRIVAL_MS * 1000 + offset_us, precision="MICROSECOND", event_id=event_id)


# --- the core ---------------------------------------------------------------------------------------------------


def test_the_default_skew_is_15_minutes_and_its_boundary_is_inclusive() -> None:
    assert EventTimeRules().max_clock_skew_us == MAX_CLOCK_SKEW_US == 15 * 60 * 1_000_000
    at_bound = decode_record(_record(MAX_CLOCK_SKEW_US), attributes=ATTRIBUTES)
    assert at_bound.event_time_us == ARRIVAL_MS * 1000 + MAX_CLOCK_SKEW_US
    with pytest.raises(DecodeError, match="more than 15 minutes after its Kinesis arrival"):
        decode_record(_record(MAX_CLOCK_SKEW_US + 1), attributes=ATTRIBUTES)


def test_a_configured_skew_moves_the_boundary() -> None:
    rules = time_rules_from_strings("2 min", None)
    assert rules.max_clock_skew_us == TWO_MINUTES_US
    assert decode_record(_record(TWO_MINUTES_US), attributes=ATTRIBUTES, rules=rules).event_time_us > ARRIVAL_MS * 1000
    with pytest.raises(DecodeError, match="more than 2 minutes after its Kinesis arrival") as raised:
        decode_record(_record(TWO_MINUTES_US + 1), attributes=ATTRIBUTES, rules=rules)
    assert str(ARRIVAL_MS) not in str(raised.value)
    # A wider bound admits what the default rejects.
    wide = time_rules_from_strings("1 hour", None)
    assert decode_record(_record(30 * 60 * 1_000_000), attributes=ATTRIBUTES, rules=wide).event_id == EVENT_ID


@pytest.mark.parametrize(
    ("skew", "since", "rule"),
    [
        ("fifteen", None, "Maximum Clock Skew: expected a whole number and a unit"),
        ("15 fortnights", None, "Maximum Clock Skew: expected a whole number and a unit"),
        ("-5 min", None, "Maximum Clock Skew: expected a whole number and a unit"),
        ("1.5 min", None, "Maximum Clock Skew: expected a whole number and a unit"),
        ("999 ms", None, "Maximum Clock Skew: the maximum clock skew must be from 1 second to 24 hours"),
        ("25 hours", None, "Maximum Clock Skew: the maximum clock skew must be from 1 second to 24 hours"),
        (None, "last tuesday", "Millisecond Precision Since: expected an ISO 8601 date-time"),
        (None, "2013-01-01T00:00:00Z", "Millisecond Precision Since: the millisecond switch-over must be a time"),
    ],
)
def test_bad_settings_are_refused_with_the_setting_and_rule_named(
    skew: str | None, since: str | None, rule: str
) -> None:
    with pytest.raises(ValueError) as raised:
        time_rules_from_strings(skew, since)
    assert str(raised.value).startswith(rule)
    for given in (skew, since):
        assert given is None or given not in str(raised.value)  # the rule, never the value


def test_the_bounds_themselves_are_accepted() -> None:
    assert time_rules_from_strings("1 sec", None).max_clock_skew_us == 1_000_000
    assert time_rules_from_strings("24 hours", None).max_clock_skew_us == 24 * 3600 * 1_000_000
    assert time_rules_from_strings("  ", "") == EventTimeRules()  # blank: the defaults


@pytest.mark.parametrize(
    ("time", "precision", "placed", "default"),
    [
        # A millisecond after the switch-over: its last microsecond (without a switch-over: its first, as before).
        (1720740233012, "MILLISECOND", 1720740233012999, 1720740233012000),
        (1720740233012, None, 1720740233012999, 1720740233012000),  # a millisecond by magnitude, alike
        (1720740232999, "MILLISECOND", 1720740232999000, 1720740232999000),  # ends before the switch-over
        (1720740233012123, "MICROSECOND", 1720740233012123, 1720740233012123),  # microseconds say where they are
        (1720740233012.5, "MILLISECOND", 1720740233012500, 1720740233012500),  # a fraction says more
    ],
)
def test_millisecond_times_after_the_switch_over_are_read_as_their_last_microsecond(
    time: float, precision: str | None, placed: int, default: int
) -> None:
    rules = time_rules_from_strings(None, SWITCH)
    assert rules.millisecond_since_us == SWITCH_US
    record = change_record(time=time, precision=precision)  # type: ignore[arg-type]
    assert decode_record(record, rules=rules).event_time_us == placed
    assert decode_record(record).event_time_us == default


def test_the_switch_over_boundary_is_the_end_of_the_millisecond() -> None:
    """A millisecond is after the switch-over when its last microsecond is: the switch can fall inside it."""
    inside = time_rules_from_strings(None, "2024-07-11T23:23:53.012999Z")
    assert decode_record(change_record(time=1720740233012, precision="MILLISECOND"), rules=inside).event_time_us == (
        1720740233012999
    )
    after = time_rules_from_strings(None, "2024-07-11T23:23:53.013Z")
    assert decode_record(change_record(time=1720740233012, precision="MILLISECOND"), rules=after).event_time_us == (
        1720740233012000
    )


# --- the processors -------------------------------------------------------------------------------------------


def _decode_processor(content: bytes, **properties: str) -> TestRunner:
    runner = TestRunner("DecodeDynamoDBChange")
    for name, value in properties.items():
        runner.set_property(name, value)
    runner.assert_valid()
    runner.enqueue(content, ATTRIBUTES)
    runner.run()
    return runner


def test_decode_processor_applies_its_maximum_clock_skew_at_the_boundary() -> None:
    runner = _decode_processor(json.dumps(_record(TWO_MINUTES_US)).encode(), **{"Maximum Clock Skew": "2 min"})
    runner.assert_all_transferred("success", 1)
    assert runner.get_flowfiles_for("success")[0].attributes["cdc.decoded.count"] == "1"
    runner = _decode_processor(json.dumps(_record(TWO_MINUTES_US + 1)).encode(), **{"Maximum Clock Skew": "2 min"})
    runner.assert_all_transferred("invalid", 1)
    error = runner.get_flowfiles_for("invalid")[0].attributes["cdc.error"]
    assert error == (
        f"record 0 (eventId {EVENT_ID}): dynamodb.ApproximateCreationDateTime is implausible: "
        "more than 2 minutes after its Kinesis arrival (the maximum clock skew)"
    )
    # The default (15 minutes) takes what 2 minutes refuses.
    _decode_processor(json.dumps(_record(TWO_MINUTES_US + 1)).encode()).assert_all_transferred("success", 1)


def test_decode_processor_reads_millisecond_times_after_its_switch_over_as_their_last_microsecond() -> None:
    record = json.dumps(change_record(time=1720740233012, precision="MILLISECOND")).encode()
    runner = _decode_processor(record, **{"Millisecond Precision Since": SWITCH})
    event = json.loads(runner.get_flowfiles_for("success")[0].content)
    assert event["event_time_us"] == 1720740233012999


@pytest.mark.parametrize("processor", ["DecodeDynamoDBChange", "ProcessClaimChange"])
@pytest.mark.parametrize(
    ("name", "value"),
    [("Maximum Clock Skew", "0 sec"), ("Maximum Clock Skew", "48 hours"), ("Millisecond Precision Since", "soon")],
)
def test_processors_refuse_a_bad_event_time_setting(processor: str, name: str, value: str) -> None:
    runner = TestRunner(processor)
    runner.set_property(name, value)
    problems = runner.assert_not_valid()
    assert {p.subject for p in problems} == {name}  # NiFi's own validator may refuse "0 sec" as well
    ours = [p for p in problems if p.explanation.startswith(f"{name}: ")]
    assert len(ours) == 1 and value not in ours[0].explanation and ours[0].input is None


def _process(content: bytes, **properties: str) -> RoutedRunner:
    runner = TestRunner("ProcessClaimChange")
    for name, value in properties.items():
        runner.set_property(name, value)
    runner.assert_valid()
    runner.enqueue(content, ATTRIBUTES)
    runner.run()
    return RoutedRunner(runner)


def _records(routed: RoutedRunner, relationship: str) -> list[dict[str, Any]]:
    """The records the flows' Java routing sends to ``relationship`` (a JSON array per FlowFile)."""
    return [record for f in routed.get_flowfiles_for(relationship) for record in json.loads(f.content)]


def test_process_processor_applies_its_maximum_clock_skew_at_the_boundary() -> None:
    """ProcessClaimChange decodes raw records itself: the fused walk and the decoder behind it apply one bound."""
    within = _process(json.dumps(_record(TWO_MINUTES_US)).encode(), **{"Maximum Clock Skew": "2 min"})
    assert len(within.get_flowfiles_for("insert")) == 1 and not within.get_flowfiles_for("invalid")
    past = _process(json.dumps(_record(TWO_MINUTES_US + 1)).encode(), **{"Maximum Clock Skew": "2 min"})
    assert not past.get_flowfiles_for("insert")
    (dead,) = _records(past, "invalid")
    assert dead["index"] == 0 and dead["rule"] == (
        "dynamodb.ApproximateCreationDateTime is implausible: more than 2 minutes after its Kinesis arrival "
        "(the maximum clock skew)"
    )


def test_process_processor_places_millisecond_times_after_its_switch_over() -> None:
    record = json.dumps(change_record(time=1720740233012, precision="MILLISECOND")).encode()
    routed = _process(record, **{"Millisecond Precision Since": SWITCH})
    (row,) = _records(routed, "insert")
    assert row["eventCreationUnixTime"] == 1720740233012999
    default = _process(record)
    (row,) = _records(default, "insert")
    assert row["eventCreationUnixTime"] == 1720740233012000


# --- the commands -----------------------------------------------------------------------------------------------


def _cli(command: str, content: bytes, *options: str) -> subprocess.CompletedProcess[bytes]:
    assert CLAIMFLOW.exists(), f"{CLAIMFLOW} is missing: run make venv"
    attributes = [f"--attributes={name}={value}" for name, value in ATTRIBUTES.items()]
    return subprocess.run(
        [str(CLAIMFLOW), command, *attributes, *options, "-"], input=content, capture_output=True, timeout=60,
        check=False, cwd=REPO, env=os.environ.copy(),
    )  # fmt: skip


@pytest.mark.parametrize("command", ["decode", "transform"])
def test_commands_apply_max_clock_skew_at_the_boundary(command: str) -> None:
    within = _cli(command, json.dumps(_record(TWO_MINUTES_US)).encode(), "--max-clock-skew", "2 min")
    assert within.returncode == 0, within.stderr
    assert within.stderr.splitlines()[-1] == b'{"in":1,"out":1,"rejected":0}'
    past = _cli(command, json.dumps(_record(TWO_MINUTES_US + 1)).encode(), "--max-clock-skew", "2 min")
    assert past.returncode == 1 and past.stdout == b""
    rejection = json.loads(past.stderr.splitlines()[0])
    assert rejection["index"] == 0
    assert "more than 2 minutes after its Kinesis arrival" in rejection["error"]


@pytest.mark.parametrize("command", ["decode", "transform"])
@pytest.mark.parametrize(
    ("option", "value"), [("--max-clock-skew", "2 weeks"), ("--millisecond-precision-since", "2013-01-01")]
)
def test_commands_refuse_a_bad_event_time_setting(command: str, option: str, value: str) -> None:
    result = _cli(command, json.dumps(_record(0)).encode(), option, value)
    assert result.returncode == 2 and result.stdout == b""
    assert result.stderr.startswith(f"claimflow {command}: ".encode()) and value.encode() not in result.stderr


def test_transform_command_places_millisecond_times_after_its_switch_over() -> None:
    record = json.dumps(change_record(time=1720740233012, precision="MILLISECOND")).encode()
    result = _cli("transform", record, "--millisecond-precision-since", SWITCH)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["eventCreationUnixTime"] == 1720740233012999
