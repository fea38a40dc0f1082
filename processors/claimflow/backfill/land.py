"""Landing snapshot events in Snowflake: the same claim rows and the same merge as the stream's.

``SnapshotLander`` routes change events through the claims core (``claimflow.claims.route_events``, as
TransformClaimChange does), writes the rows in batches through a sink (``SnowflakeSink`` or ``SnowparkMerger``:
anything with ``write_batch(rows)`` and ``full_refresh(...)``), and remembers what a full refresh must not
tombstone: the claim keys of the items it could not land. Counts add up: items = rows + rejected.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from claimflow.claims import ClaimSettings, PhiMode, route_events
from claimflow.events import ChangeEvent, Rejection

MAX_KEPT_REASONS = 20


class RefreshRefused(ValueError):
    """A full refresh that could tombstone a claim DynamoDB still holds; the message says why and what to do."""


@dataclass
class LandingReport:
    items: int = 0
    rows: int = 0
    rejected: int = 0
    batches: int = 0
    inserted: int = 0
    updated: int = 0
    reasons: list[tuple[int, str]] = field(default_factory=list)  # (index, reason) of the first rejections
    kept_claims: set[str] = field(default_factory=set)  # keys of rejected items: never tombstoned
    unkeyed_rejections: int = 0  # rejected items whose key could not be read

    @property
    def ignored(self) -> int:
        return self.rows - self.inserted - self.updated


class SnapshotLander:
    def __init__(self, sink: Any, settings: ClaimSettings, key_attribute: str = "claim_id",
                 batch_size: int = 2000) -> None:  # fmt: skip
        self._sink = sink
        self._settings = settings
        self._key = key_attribute
        self._batch_size = batch_size
        self._rows: list[dict[str, Any]] = []
        self.report = LandingReport()

    def land(self, items: Iterable[ChangeEvent | Rejection]) -> None:
        """Route ``items`` and write full batches; call :meth:`flush` at the end."""
        pending = list(items)
        # route_events yields exactly one outcome per item, in order.
        for item, outcome in zip(pending, route_events(pending, self._settings), strict=True):
            self.report.items += 1
            if outcome.row is not None:
                self._rows.append(outcome.row)
                if len(self._rows) >= self._batch_size:
                    self.flush()
                continue
            self.report.rejected += 1
            if len(self.report.reasons) < MAX_KEPT_REASONS:
                self.report.reasons.append((outcome.index, outcome.error or "rejected"))
            key = self._key_of(item)
            if key is None:
                self.report.unkeyed_rejections += 1
            else:
                self.report.kept_claims.add(key)

    def flush(self) -> None:
        if not self._rows:
            return
        result = self._sink.write_batch(self._rows)
        self.report.rows += len(self._rows)
        self.report.batches += 1
        self.report.inserted += result.inserted
        self.report.updated += result.updated
        self._rows = []

    def full_refresh(self, snapshot_time_us: int, source: str) -> Any:
        """Tombstone the claims the complete snapshot does not hold (after :meth:`flush`).

        Raises:
            RefreshRefused: a rejected item whose key is unknown, or rejections under Safe Harbor (its claim ids
                are tokens, which the rejected items' keys cannot be matched against).
        """
        self.flush()
        if self.report.unkeyed_rejections:
            raise RefreshRefused(
                f"{self.report.unkeyed_rejections} rejected snapshot items have no readable key, so the full refresh "
                "could tombstone a claim DynamoDB still holds: fix them (see the rejections) and run again, or run "
                "without --full-refresh"
            )
        if self.report.rejected and self._settings.phi_mode is PhiMode.SAFE_HARBOR:
            raise RefreshRefused("Safe Harbor tokenises claim ids, so the rejected items' claims cannot be spared: "
                                 "fix the rejected items first, or run without --full-refresh")  # fmt: skip
        return self._sink.full_refresh(snapshot_time_us, source, keep=frozenset(self.report.kept_claims))

    def _key_of(self, item: ChangeEvent | Rejection) -> str | None:
        if isinstance(item, ChangeEvent):
            value = item.keys.get(self._key)
            return value if isinstance(value, str) else None
        raw = item.raw
        try:
            obj = json.loads(raw) if raw else None
        except ValueError:
            return None
        if isinstance(obj, dict) and isinstance(obj.get("Item"), dict):
            obj = obj["Item"]  # an export line
        value = obj.get(self._key) if isinstance(obj, dict) else None
        return value.get("S") if isinstance(value, dict) and isinstance(value.get("S"), str) else None
