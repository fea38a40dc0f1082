"""Issue 11 class 9: every cache of the claim rules is bounded by size as well as by count, because its keys are
data. A plain functools.lru_cache (or an unbounded dict of data keys) added to a claims module fails here."""

from __future__ import annotations

import contextlib
import functools
import importlib
import pkgutil
import tracemalloc
from types import ModuleType

import claimflow.claims
from claimflow.caching import MAX_KEY_CHARS, BoundedCache, bounded_cache
from claimflow.claims import mapping, validate
from claimflow.claims.build import build_row
from claimflow.claims.errors import InvalidClaim
from claimflow.claims.settings import ClaimSettings

from ._claims import INGEST_US, event, fixed_item


def _claim_modules() -> list[ModuleType]:
    return [
        importlib.import_module(f"claimflow.claims.{info.name}")
        for info in pkgutil.iter_modules(claimflow.claims.__path__)
    ]


def _plain_lru_caches() -> list[str]:
    found = []
    for module in _claim_modules():
        for name, value in vars(module).items():
            if isinstance(value, functools._lru_cache_wrapper):  # type: ignore[attr-defined]
                found.append(f"{module.__name__}.{name}")
    for name, cached, _parse, _flag in validate.PARSED_CACHED:
        if not isinstance(cached, BoundedCache):
            found.append(f"claimflow.claims.validate.PARSED_CACHED[{name}]")
    return found


def test_no_claims_cache_is_bounded_by_count_alone() -> None:
    assert _plain_lru_caches() == [], "use claimflow.caching.bounded_cache: cache keys are data"
    bounded = [v for module in _claim_modules() for v in vars(module).values() if isinstance(v, BoundedCache)]
    assert len(bounded) >= 8  # the rules' caches are found at all (the scan would pass vacuously otherwise)


def test_a_long_key_is_computed_without_being_kept() -> None:
    calls: list[str] = []

    @bounded_cache(16)
    def length(text: str) -> int:
        calls.append(text)
        return len(text)

    short, long = "x" * MAX_KEY_CHARS, "y" * (MAX_KEY_CHARS + 1)
    assert [length(short), length(short), length(long), length(long)] == [MAX_KEY_CHARS, MAX_KEY_CHARS] + [
        MAX_KEY_CHARS + 1
    ] * 2
    assert calls == [short, long, long]  # the short key was served from the cache, the long one never kept
    assert length.cache_info().currsize == 1
    tuple_key = bounded_cache(16)(lambda *parts: parts)
    tuple_key("a", ("b" * MAX_KEY_CHARS,))
    assert tuple_key.cache_info().currsize == 0  # text inside a tuple counts too


def test_unique_long_values_do_not_grow_the_caches() -> None:
    """The report's case: records with unique 5 KB values in cached fields (a status, a diagnosis code, a date,
    an amount, a procedure line) and unique 5 KB attribute names. Measured, not timed: the memory the rules
    retain after 2,000 such records stays far below what keeping their keys would take (2,000 x 6 x 5 KB)."""
    settings = ClaimSettings()
    validate_caches = [cached for _name, cached, _p, _f in validate.PARSED_CACHED]
    for cached in validate_caches:
        cached.cache_clear()
    mapping._normalised_keys.clear()
    tracemalloc.start()
    try:
        before = tracemalloc.take_snapshot()
        for n in range(2000):
            filler = f"{n:05d}" + "z" * 5000
            new = fixed_item()
            new.update(
                claim_id=f"CLM-{n:08d}",
                claim_status=filler,
                payment_status=filler,
                diagnosis_codes=[filler],
                date_of_service=filler,
                total_charge=filler,
            )
            new["procedure_details"][0]["code"] = filler
            new[f"extra{filler}"] = "v"
            with contextlib.suppress(InvalidClaim):  # rejected, as it should be: what matters is what is kept
                build_row(event(new, key=new["claim_id"]), settings, INGEST_US)
        after = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    retained = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    assert retained < 5_000_000, f"the claim rules kept {retained:,} bytes for 2,000 records"
