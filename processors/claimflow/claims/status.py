"""Claim status normalisation: free text as the source wrote it -> canonical status -> X12 277 category code.

The X12 277 claim status category codes (A* acknowledgement, P* pending, F* finalized, R* requests, E* errors) are
the industry's shared vocabulary for where a claim stands. docs/claim-rows.md explains each choice.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from claimflow.caching import bounded_cache


class Status(NamedTuple):
    canonical: str
    x12_category: str | None


UNKNOWN = Status("UNKNOWN", None)

# canonical -> (X12 277 category, accepted phrasings after normalisation: lower-case words separated by one space)
STATUSES: dict[str, tuple[str, tuple[str, ...]]] = {
    "SUBMITTED": ("A1", ("submitted", "received", "new", "open", "created", "filed", "sent")),
    "ACCEPTED": ("A2", ("accepted", "acknowledged", "accepted into adjudication")),
    "REJECTED": ("A3", ("rejected", "returned", "unprocessable", "returned unprocessable")),
    "IN_REVIEW": ("P1", ("in review", "under review", "review", "reviewing", "in process", "in progress",
                          "processing", "adjudicating", "in adjudication")),
    "PENDED": ("P2", ("pended", "pending", "pending review", "suspended", "on hold", "hold")),
    "INFO_REQUESTED": ("P3", ("info requested", "information requested", "additional info requested",
                              "additional information requested", "needs info", "awaiting documentation")),
    "APPEALED": ("P2", ("appealed", "under appeal", "appeal", "in appeal", "appeal pending")),
    "APPROVED": ("F0", ("approved", "adjudicated", "accepted for payment", "allowed")),
    "DENIED": ("F2", ("denied", "declined", "not covered")),
    "PAID": ("F1", ("paid", "payment issued", "settled", "reimbursed", "paid in full")),
    "PARTIALLY_PAID": ("F1", ("partially paid", "partial payment", "partial paid")),
    "CLOSED": ("F0", ("closed", "completed", "complete", "finalized", "finalised")),
    "VOIDED": ("F0", ("voided", "void", "cancelled", "canceled", "withdrawn")),
}

_PHRASES: dict[str, Status] = {
    phrase: Status(canonical, category)
    for canonical, (category, phrases) in STATUSES.items()
    for phrase in (*phrases, canonical.lower().replace("_", " "))
}
_NON_WORD = re.compile(r"[^a-z0-9]+")


@bounded_cache(1024)
def normalise_status(raw: str | None) -> Status:
    """Map a free-text status ("In Review", "APPROVED", "paid") to its canonical status and X12 category.

    Returns ``UNKNOWN`` (category None) for an absent or unrecognised status.
    """
    if raw is None:
        return UNKNOWN
    key = _NON_WORD.sub(" ", raw.lower()).strip()
    return _PHRASES.get(key, UNKNOWN)
