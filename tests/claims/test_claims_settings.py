"""ClaimSettings and the routing entry points do what their docstrings say."""

from __future__ import annotations

import pytest

from claimflow.claims import ClaimSettings, PhiMode, route_records
from claimflow.claims.synthetic import claim_records

from ._claims import INGEST_US


def test_a_key_with_passthrough_mode_is_accepted_and_unused() -> None:
    data = b"\n".join(claim_records(5, seed=41))
    with_key = ClaimSettings(phi_mode=PhiMode.PASSTHROUGH, hmac_key=b"k" * 40)
    assert list(route_records(data, with_key, INGEST_US)) == list(route_records(data, ClaimSettings(), INGEST_US))
    # The docstring states what happens, and lists only what really raises.
    doc = ClaimSettings.__doc__ or ""
    raises = doc.split("Raises:")[1]
    assert "passthrough" not in raises and "accepted and unused" in doc


def test_pseudonymize_without_a_long_key_raises_as_documented() -> None:
    for key in (None, b"short"):
        with pytest.raises(ValueError, match="at least 32 bytes"):
            ClaimSettings(phi_mode=PhiMode.PSEUDONYMIZE, hmac_key=key)


def test_route_records_calls_itself_the_two_step_path() -> None:
    doc = route_records.__doc__ or ""
    assert "two-step path" in doc and "fused decode + claim path" not in doc
