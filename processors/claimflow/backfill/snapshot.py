"""A snapshot: which one (its id) and the point in time it reflects; and the change event of one item in it.

The point in time is what coordinates a snapshot with the stream: a snapshot row carries it as its event time, so
any stream event after it wins, any before it loses, whatever the arrival order; at an equal time the stream event
wins (the snapshot's eventId ranks it ``0``, see ``claimflow.snowflake.spec``). The time given must never be LATER
than what the snapshot reflects (a stream event between the two would lose to a stale snapshot row); earlier is
always safe as long as the stream is consumed from before it (docs/backfill.md), which is what ``clock_margin_us``
buys for a scan timed by the client's clock.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from claimflow.claims.mapping import is_known_item_name
from claimflow.dynamodb import AttributeValueError, decode_image
from claimflow.events import SNAPSHOT_EVENT_PREFIX, ChangeEvent

SOURCE_ID_LENGTH = 16
ITEM_REF_LENGTH = 32
# snapshot:<16 hex>:<32 hex> = 58 characters, within the eventId column (VARCHAR(64)).
EVENT_ID_LENGTH = len(SNAPSHOT_EVENT_PREFIX) + SOURCE_ID_LENGTH + 1 + ITEM_REF_LENGTH
DEFAULT_KEY_ATTRIBUTES = ("claim_id",)
_HEX = re.compile(r"[0-9a-f]+")


class SnapshotError(ValueError):
    """A snapshot that cannot be read as asked (layout, manifest, time); the message names files and fields, never
    an item's value."""


def source_id(identity: str) -> str:
    """A short, stable id of a snapshot from what names it (an export ARN, a scan id): 16 hex digits."""
    return hashlib.sha256(identity.encode("utf-8")).hexdigest()[:SOURCE_ID_LENGTH]


def snapshot_event_id(source: str, item_ref: str) -> str:
    """``snapshot:<source>:<item_ref>``; ``item_ref`` 32 hex digits (a digest of the item's place in the snapshot,
    or a random id): never derived from the item's values, which are PHI."""
    if len(source) != SOURCE_ID_LENGTH or not _HEX.fullmatch(source):
        raise ValueError("a snapshot source id is 16 lower-case hex digits")
    if len(item_ref) != ITEM_REF_LENGTH or not _HEX.fullmatch(item_ref):
        raise ValueError("a snapshot item reference is 32 lower-case hex digits")
    return f"{SNAPSHOT_EVENT_PREFIX}{source}:{item_ref}"


def place_ref(*parts: object) -> str:
    """A deterministic item reference from the item's place (file, line): the same export read twice gives the
    same event ids, so a replay is a copy of one event in history, as a Kinesis redelivery is."""
    text = "\n".join(str(p) for p in parts)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:ITEM_REF_LENGTH]


def parse_time_us(value: object) -> int:
    """A point in time as epoch microseconds: ISO 8601 (``2020-11-04T07:28:34.028Z``, as manifest-summary.json's
    ``exportTime``; no offset means UTC), or an epoch number (seconds below 1e11, milliseconds below 1e14,
    microseconds above).

    Raises:
        SnapshotError: not a time.
    """
    if isinstance(value, bool):
        raise SnapshotError("a snapshot time must be an ISO 8601 timestamp or an epoch number")
    if isinstance(value, int | float):
        number = Decimal(str(value))
    elif isinstance(value, str) and re.fullmatch(r"\s*\d+(\.\d+)?\s*", value):
        number = Decimal(value.strip())  # exact: no float rounding of epoch milliseconds
    elif isinstance(value, str):
        text = value.strip()
        try:
            moment = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text)
        except ValueError:
            raise SnapshotError("a snapshot time must be an ISO 8601 timestamp or an epoch number") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
        return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    else:
        raise SnapshotError("a snapshot time must be an ISO 8601 timestamp or an epoch number")
    if number <= 0:
        raise SnapshotError("a snapshot time must be after 1970")
    if number < 10**11:
        return int(number * 1_000_000)
    if number < 10**14:
        return int(number * 1_000)
    return int(number)


@dataclass(frozen=True)
class Snapshot:
    """One snapshot: ``source`` (16 hex digits, in every event id), the point in time its rows carry
    (``time_us``, epoch microseconds, already less any clock margin), and where its items come from."""

    source: str
    time_us: int
    table_name: str | None = None
    aws_region: str | None = None
    key_attributes: Sequence[str] = DEFAULT_KEY_ATTRIBUTES

    def __post_init__(self) -> None:
        if self.time_us <= 0:
            raise SnapshotError("a snapshot time must be after 1970")
        if not self.key_attributes:
            raise SnapshotError("a snapshot needs the table's key attribute names")


def wire_image(item: Mapping[str, Any]) -> dict[str, Any]:
    """An item as boto3's low-level client returns it (binaries as bytes) in DynamoDB JSON (binaries as base64)."""
    return {name: _wire_value(value) for name, value in item.items()}


def _wire_value(value: Mapping[str, Any]) -> Any:
    if not isinstance(value, Mapping) or len(value) != 1:
        return value  # not an attribute value: the decoder names the problem
    (tag, inner), *_ = value.items()
    if tag == "B" and isinstance(inner, bytes | bytearray):
        return {"B": base64.b64encode(inner).decode("ascii")}
    if tag == "BS" and isinstance(inner, list):
        return {"BS": [base64.b64encode(b).decode("ascii") if isinstance(b, bytes | bytearray) else b for b in inner]}
    if tag == "M" and isinstance(inner, Mapping):
        return {"M": {k: _wire_value(v) for k, v in inner.items()}}
    if tag == "L" and isinstance(inner, list):
        return {"L": [_wire_value(v) for v in inner]}
    return {tag: inner}


def item_event(snapshot: Snapshot, item: object, event_id: str) -> ChangeEvent:
    """The change event of one snapshot item (DynamoDB JSON, binaries base64): an INSERT of the whole item at
    the snapshot's time, keys taken from the item, no Kinesis position.

    Raises:
        SnapshotError: not an object, a key attribute missing, or an attribute value that does not decode (the
            message names the attribute when the claim schema knows it, never a value).
    """
    if not isinstance(item, dict):
        raise SnapshotError("the item is not a JSON object")
    missing = [name for name in snapshot.key_attributes if item.get(name) is None]
    if missing:
        raise SnapshotError(f"the item lacks its key attribute {_shown(missing[0])}")
    try:
        image = decode_image(item, is_known_item_name, "claim")
    except AttributeValueError as error:
        raise SnapshotError(f"item: {error}") from None
    keys = {name: image[name] for name in snapshot.key_attributes}
    return ChangeEvent(
        event_id,
        "INSERT",
        snapshot.table_name,
        snapshot.aws_region,
        snapshot.time_us,
        False,
        keys,
        image,
        None,
        None,
        None,
    )


def _shown(name: str) -> str:
    # A key attribute name comes from the table's schema (or the operator's configuration), not from an item.
    return repr(name) if len(name) <= 64 else "(name not shown)"
