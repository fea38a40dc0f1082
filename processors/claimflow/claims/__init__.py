"""Claims: field mapping, validation, enrichment, PHI handling and routing of claim rows.

Public API (see docs/claim-rows.md):

- :class:`ClaimSettings`, :class:`PhiMode` - how rows are built (PHI mode, HMAC key, generalisation, strictness);
- :func:`build_row` - one change event -> one claim row (every column of ``claimflow.rows.COLUMNS``);
- :func:`route_events` - decoded items -> :class:`Routed` outcomes (insert / modify / remove / invalid);
- :func:`route_records` - raw Kinesis DynamoDB records -> routed rows (decoder + route_events);
- :func:`route_records_fused` - the same results through the fused one-pass path (faster);
- :func:`route_record_fused` - one already-parsed record (e.g. a NiFi record) through the fused path;
- :class:`InvalidClaim` - the error ``build_row`` raises, naming the field and rule (never a value).
"""

from __future__ import annotations

from claimflow.claims.build import Routed, build_row, route_events, route_records
from claimflow.claims.errors import InvalidClaim
from claimflow.claims.fused import route_record_fused, route_records_fused
from claimflow.claims.settings import ClaimSettings, PhiMode

__all__ = [
    "ClaimSettings",
    "InvalidClaim",
    "PhiMode",
    "Routed",
    "build_row",
    "route_events",
    "route_record_fused",
    "route_records",
    "route_records_fused",
]
