"""The claim-shaped fast path (claims.shaped via fused._fast) gives exactly the general fused path's outcomes."""

from __future__ import annotations

import copy
import random
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from claimflow.claims import (
    ClaimSettings,
    PhiMode,
    Routed,
    fused,
    route_record_fused,
    route_records,
    route_records_fused,
    shaped,
)
from claimflow.claims.build import ROW_TEMPLATE
from claimflow.claims.codes import npi_is_valid
from claimflow.claims.mapping import map_item
from claimflow.claims.synthetic import claim_records
from claimflow.claims.validate import validate_mapped
from claimflow.claims.values import timestamp
from claimflow.dynamodb import decode_image

from ._claims import INGEST_US, fixed_item, record_bytes
from .test_claims_routing import MUTATIONS

SETTINGS = [
    ClaimSettings(),
    ClaimSettings(strict=True),
    ClaimSettings(generalize_zip3=True, generalize_birth_year=True),
    ClaimSettings(
        phi_mode=PhiMode.PSEUDONYMIZE, hmac_key=b"made-up test key: 5hG2wQ8zLx4Nc7Tv9pRk", generalize_birth_year=True
    ),
]


@contextmanager
def general_path_only() -> Iterator[None]:
    original = fused._fast

    def refuse(*args: Any) -> Routed:
        raise shaped.Unusual

    fused._fast = refuse  # type: ignore[assignment]
    try:
        yield
    finally:
        fused._fast = original  # type: ignore[assignment]


@contextmanager
def counting_fast_hits(hits: list[int]) -> Iterator[None]:
    original = fused._fast

    def count(*args: Any) -> Routed:
        routed = original(*args)
        hits.append(routed.index)
        return routed

    fused._fast = count  # type: ignore[assignment]
    try:
        yield
    finally:
        fused._fast = original  # type: ignore[assignment]


def both_paths(data: bytes, settings_: ClaimSettings) -> tuple[list[Routed], list[Routed]]:
    fast = list(route_records_fused(data, settings_, INGEST_US))
    with general_path_only():
        general = list(route_records_fused(data, settings_, INGEST_US))
    return fast, general


@pytest.mark.parametrize("settings_", SETTINGS, ids=["default", "strict", "generalised", "pseudonymized"])
def test_fast_path_equals_general_path_on_generated_records(settings_: ClaimSettings) -> None:
    data = b"\n".join(claim_records(300, seed=11))
    hits: list[int] = []
    with counting_fast_hits(hits):
        fast = list(route_records_fused(data, settings_, INGEST_US))
    with general_path_only():
        general = list(route_records_fused(data, settings_, INGEST_US))
    assert fast == general
    assert [orjson.dumps(r.row) for r in fast] == [orjson.dumps(r.row) for r in general]  # byte-identical rows
    # The comparison means something only if the fast path really ran: every clean record takes it (strict mode
    # sends flagged claims to the general path, which rejects them).
    clean = [r.index for r in general if not (r.row or {}).get("dataQualityFlags")]
    assert set(clean) <= set(hits) and len(hits) >= 250


def test_fast_path_equals_two_step_path_and_per_record_api() -> None:
    records = list(claim_records(120, seed=12))
    data = b"\n".join(records)
    assert list(route_records_fused(data, ClaimSettings(), INGEST_US)) == list(
        route_records(data, ClaimSettings(), INGEST_US)
    )
    for index, raw in enumerate(records[:40]):
        obj = orjson.loads(raw)
        with general_path_only():
            expected = route_record_fused(obj, index, ClaimSettings(), INGEST_US)
        assert route_record_fused(obj, index, ClaimSettings(), INGEST_US) == expected


# Raw DynamoDB-JSON replacements for one attribute value: odd tags, padding, whitespace, numbers in text columns.
ODD_VALUES: list[Any] = [
    {"S": ""},
    {"S": "  "},
    {"S": " padded "},
    {"S": "x" * 600},
    {"N": "5"},
    {"N": "12.5"},
    {"N": "1e3"},
    {"N": "007.10"},
    {"N": "-3.00"},
    {"N": "x"},
    {"S": "E11.9", "N": None},
    {"S": "a", "N": "1"},
    None,
    {"NULL": True},
    {"BOOL": True},
    {"L": []},
    {"L": [{"S": "E11.9"}, {"N": "1"}]},
    {"SS": ["I10", "E11.9"]},
    {"M": {}},
    {"M": {"zip": {"S": "12345"}}},
    {"S": "2025-02-30"},
    {"S": "2025-03-10T18:06:00+05:00"},
    {"S": "2025-03-10T24:06:00Z"},
    {"S": "2025-03-10T18:06:00.5Z"},
    {"S": "0000-03-10T18:06:00Z"},
    {"S": "2025-03-10 18:06:00"},
    {"S": "1899-12-31"},
    {"S": "1234567893"},
    {"S": "1234567894"},
    {"S": "Paid"},
    {"S": "robot"},
    {"S": 5},
    {"S": ["a"]},
    {"S": None},
    {"S": {"a": {"S": "b"}}},
    {"S": True},
    {"N": 5},
    {"M": []},
    {"L": {}},
    [],
    "text",
]
RENAMES = {"claim_id": "id", "patient": "member", "total_charge": "billedAmount", "procedure_details": "procedures",
           "diagnosis_codes": "icd10Codes", "provider": "renderingProvider", "dob": "birth_date", "zip": "postalCode",
           "npi": "NPI", "code": "cpt", "charge": "amount", "units": "quantity"}


def attribute_paths(image: dict[str, Any], prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every (container, key) path to an attribute value in a DynamoDB-JSON image."""
    paths = []
    for key, av in image.items():
        path = (*prefix, key)
        paths.append(path)
        if isinstance(av, dict) and isinstance(av.get("M"), dict):
            paths.extend(attribute_paths(av["M"], (*path, "M")))
        elif isinstance(av, dict) and isinstance(av.get("L"), list):
            for i, element in enumerate(av["L"]):
                paths.append((*path, "L", i))
                if isinstance(element, dict) and isinstance(element.get("M"), dict):
                    paths.extend(attribute_paths(element["M"], (*path, "L", i, "M")))
    return paths


def mutate(record: dict[str, Any], rng: random.Random) -> None:
    change = record["dynamodb"]
    image = change.get("NewImage") or change["OldImage"]
    for _ in range(rng.randint(1, 3)):
        path = rng.choice(attribute_paths(image))
        node: Any = image
        for part in path[:-1]:
            node = node[part]
        last = path[-1]
        roll = rng.random()
        if roll < 0.55:
            node[last] = copy.deepcopy(rng.choice(ODD_VALUES))
        elif roll < 0.7 and isinstance(last, str):
            del node[last]
        elif roll < 0.85 and isinstance(last, str):
            node[RENAMES.get(last, last.upper())] = node.pop(last)
        elif isinstance(last, str):
            node[last + "_copy" if rng.random() < 0.5 else RENAMES.get(last, "Extra")] = copy.deepcopy(node[last])
    if rng.random() < 0.1:
        change["Keys"] = {"claim_id": {"S": "CLM-other"}}
    if rng.random() < 0.1:
        image["patient_zip"] = {"S": "99999"}  # a flat alias next to the nested one


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 10**9), st.sampled_from(range(len(SETTINGS))))
def test_fast_path_equals_general_path_on_mutated_dynamodb_json(seed: int, which: int) -> None:
    rng = random.Random(seed)
    records = [orjson.loads(raw) for raw in claim_records(4, seed=seed % 1000)]
    for record in records:
        mutate(record, rng)
    data = b"\n".join(orjson.dumps(record) for record in records)
    fast, general = both_paths(data, SETTINGS[which])
    assert fast == general


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_fast_path_equals_general_path_on_mutated_items(data: st.DataObject) -> None:
    claim = fixed_item()
    claim["provider"]["address"]["zip"] = "12201"
    for path, strategy in data.draw(st.lists(st.sampled_from(MUTATIONS), max_size=3, unique_by=lambda m: m[0])):
        value = data.draw(strategy)
        node: Any = claim
        parts = path.split(".")
        for part in parts[:-1]:
            node = node[int(part)] if isinstance(node, list) else node[part]
        node[int(parts[-1]) if isinstance(node, list) else parts[-1]] = value
    name = data.draw(st.sampled_from(["INSERT", "MODIFY", "REMOVE"]))
    raw = record_bytes(None if name == "REMOVE" else claim, name, old=None if name == "INSERT" else claim,
                       key="CLM-1")
    fast, general = both_paths(raw + b"\n" + raw, SETTINGS[data.draw(st.integers(0, len(SETTINGS) - 1))])
    assert fast == general


def test_mutations_reach_both_paths() -> None:
    """The mutation tests compare something only if mutated records take the fast path and the general one."""
    rng = random.Random(3)
    taken = set()
    for seed in range(30):
        records = [orjson.loads(raw) for raw in claim_records(4, seed=seed)]
        for record in records[:2]:
            mutate(record, rng)
        hits: list[int] = []
        with counting_fast_hits(hits):
            list(route_records_fused(b"\n".join(orjson.dumps(r) for r in records), ClaimSettings(), INGEST_US))
        taken.update("fast" if i in hits else "general" for i in range(4))
    assert taken == {"fast", "general"}


def _general_values(image: dict[str, Any], key: str) -> Any:
    mapped = map_item(decode_image(image))
    if mapped.fields.get("claimId") is None:
        mapped.fields["claimId"] = key
    return validate_mapped(mapped, dict(ROW_TEMPLATE))


def test_the_walk_is_validate_mapped_of_the_decoded_image() -> None:
    """shaped.claim_values is a compilation of the general rules: for every image it accepts, exactly
    validate_mapped's ValidatedClaim (values with their Python types, diagnoses, flags)."""
    accepted = 0
    for raw in claim_records(400, seed=31):
        record = orjson.loads(raw)
        change = record["dynamodb"]
        image = change.get("NewImage") or change["OldImage"]
        key = change["Keys"]["claim_id"]["S"]
        try:
            fast = shaped.claim_values(image, key, ROW_TEMPLATE)
        except shaped.Unusual:
            continue
        accepted += 1
        general = _general_values(image, key)
        assert fast.values == general.values
        assert [type(v) for v in fast.values.values()] == [type(v) for v in general.values.values()]
        assert fast.diagnoses == general.diagnoses
        assert sorted(fast.flags) == sorted(general.flags)
    assert accepted >= 380


def test_the_walk_reads_nifi_padding_as_the_decoder_does() -> None:
    """A null attribute and null sibling tags (a NiFi reader's merged schema) stay on the fast path, with the
    unpadded image's claim; an unknown attribute that is only padding is no finding."""
    for raw in claim_records(60, seed=32):
        record = orjson.loads(raw)
        change = record["dynamodb"]
        image = change.get("NewImage") or change["OldImage"]
        key = change["Keys"]["claim_id"]["S"]
        padded = _pad_tags(image)
        padded["some_other_attribute"] = None
        padded["patient"]["M"]["middle_name"] = None
        assert shaped.claim_values(padded, key, ROW_TEMPLATE) == shaped.claim_values(image, key, ROW_TEMPLATE)


def _pad_tags(value: Any) -> Any:
    """Every attribute value with the other type tags present as null, as a merged NiFi schema writes them."""
    if isinstance(value, dict) and len(value) == 1 and next(iter(value)) in ("S", "N", "M", "L", "BOOL", "NULL"):
        ((tag, inner),) = value.items()
        if tag == "M":
            inner = {k: _pad_tags(v) for k, v in inner.items()}
        elif tag == "L":
            inner = [_pad_tags(v) for v in inner]
        padded: dict[str, Any] = dict.fromkeys(("S", "N", "M", "L", "NULL"))
        padded[tag] = inner
        return padded
    if isinstance(value, dict):
        return {k: _pad_tags(v) for k, v in value.items()}
    return value


def test_utc_timestamps_read_as_fromisoformat_converts_them() -> None:
    """values.timestamp reads a trailing Z without a time-zone conversion: the same datetime as the conversion."""
    rng = random.Random(9)
    samples = ["2025-03-10T18:06:00Z", "2025-03-10Z", "2025-03-10T18:06:00+00:00Z", "2025-03-10T18:06:00ZZ",
               "2025-03-10T18:06:00-01:00Z", "2025-03-10T1Z", "2024-02-29T23:59:59Z", "2023-02-29T10:00:00Z"]
    for _ in range(3000):
        samples.append(f"{rng.randint(1, 9999):04d}-{rng.randint(0, 13):02d}-{rng.randint(0, 32):02d}"
                       + rng.choice(["T", " ", "t"])
                       + f"{rng.randint(0, 25):02d}:{rng.randint(0, 61):02d}:{rng.randint(0, 61):02d}"
                       + rng.choice(["Z", "", ".5Z", "+01:00", "-05:00", "z", ".123456Z"]))
    for text in samples:
        try:
            parsed = datetime.fromisoformat(text)
            expected: Any = parsed.astimezone(UTC).replace(tzinfo=None) if parsed.tzinfo else parsed
        except ValueError:
            expected = ValueError
        try:
            got: Any = timestamp(text)
        except ValueError:
            got = ValueError
        assert got == expected, text


def test_npi_check_matches_the_luhn_definition() -> None:
    rng = random.Random(4)

    def luhn_npi(npi: str) -> bool:  # the definition: Luhn over "80840" + the 10 digits
        digits = [int(c) for c in "80840" + npi]
        total = 0
        for position, digit in enumerate(reversed(digits)):
            if position % 2 == 1:
                digit = digit * 2 - 9 if digit * 2 > 9 else digit * 2
            total += digit
        return total % 10 == 0

    for _ in range(3000):
        npi = f"{rng.choice('12')}{rng.randrange(10**9):09d}"
        assert npi_is_valid(npi) == luhn_npi(npi), npi
    for bad in ("3234567893", "123456789", "12345678933", "12345678a3", "\uff11234567893", "1234567893\n"):
        assert not npi_is_valid(bad)


def test_two_unknown_fields_are_not_a_conflict_on_any_path() -> None:
    """Regression: the two-step mapping stored unknown fields under a None column, so two of them with different
    values became a "CONFLICTING_FIELD:None" flag, and with a real conflict as well a TypeError for the batch."""
    claim = fixed_item()
    claim["provider"]["address"]["zip"] = "12201"
    claim["patient"]["address"]["zip_copy"] = "1"
    claim["patient"]["address"]["Extra"] = "2"
    claim["patient_zip"] = "99999"  # conflicts with patient.address.zip
    data = record_bytes(claim, key="CLM-1")
    for settings_ in SETTINGS[:2]:
        (two_step,) = route_records(data, settings_, INGEST_US)
        (fast,) = route_records_fused(data, settings_, INGEST_US)
        assert fast == two_step
    (outcome,) = route_records(data, ClaimSettings(), INGEST_US)
    assert outcome.row is not None
    assert outcome.row["dataQualityFlags"] == ["CONFLICTING_FIELD:patientZip", "UNKNOWN_FIELDS:2"]


def test_every_layout_gets_its_own_walker_and_too_many_layouts_fall_back(monkeypatch: pytest.MonkeyPatch) -> None:
    records = [orjson.loads(raw) for raw in claim_records(6, seed=21)]
    for number, record in enumerate(records):
        image = record["dynamodb"].get("NewImage") or record["dynamodb"]["OldImage"]
        names = list(image)
        random.Random(number).shuffle(names)  # the same attributes in another order: another layout
        renamed = {("Claim-ID" if name == "claim_id" else name): image[name] for name in names}
        record["dynamodb"]["NewImage" if "NewImage" in record["dynamodb"] else "OldImage"] = renamed
    data = b"\n".join(orjson.dumps(record) for record in records)
    fast, general = both_paths(data, ClaimSettings())
    assert fast == general and all(r.row is not None for r in fast)
    monkeypatch.setattr(shaped, "_WALKERS", {group: {} for group in shaped._WALKERS})
    monkeypatch.setattr(shaped, "_LAYOUTS_PER_GROUP", 2)
    hits: list[int] = []
    with counting_fast_hits(hits):
        assert list(route_records_fused(data, ClaimSettings(), INGEST_US)) == general
    assert hits == [0, 1]  # two layouts compiled; the others took the general path


def test_no_compile_once_a_group_has_its_layout_quota(monkeypatch: pytest.MonkeyPatch) -> None:
    # A source that sends ever-new layouts must not make every record pay for a compile it then throws away.
    monkeypatch.setattr(shaped, "_WALKERS", {group: {} for group in shaped._WALKERS})
    monkeypatch.setattr(shaped, "_LAYOUTS_PER_GROUP", 0)
    compiled: list[str] = []
    real_compile = compile

    def counting_compile(source: str, filename: str, mode: str) -> Any:
        compiled.append(filename)
        return real_compile(source, filename, mode)

    monkeypatch.setattr(shaped, "compile", counting_compile, raising=False)
    data = b"\n".join(claim_records(3, seed=4))
    assert list(route_records_fused(data, ClaimSettings(), INGEST_US)) == list(
        route_records(data, ClaimSettings(), INGEST_US)
    )
    assert [name for name in compiled if "walker" in name] == []


@pytest.mark.parametrize("bad", [{"N": "x"}, {"S": 5}, {"SS": []}, {"M": {"a": {"N": 1.5}}}, {"S": "a", "N": "1"}, 7])
def test_modify_with_a_bad_old_image_is_rejected_as_the_decoder_rejects_it(bad: Any) -> None:
    records = [orjson.loads(raw) for raw in claim_records(40, seed=5)]
    modify = next(r for r in records if r["eventName"] == "MODIFY")
    changed, unchanged, added = copy.deepcopy(modify), copy.deepcopy(modify), copy.deepcopy(modify)
    changed["dynamodb"]["OldImage"]["claim_status"] = bad
    unchanged["dynamodb"]["OldImage"]["claim_status"] = unchanged["dynamodb"]["NewImage"]["claim_status"]
    added["dynamodb"]["OldImage"]["retired_field"] = bad
    data = b"\n".join(orjson.dumps(r) for r in (changed, unchanged, added))
    fast, general = both_paths(data, ClaimSettings())
    assert fast == general == list(route_records(data, ClaimSettings(), INGEST_US))
    assert [r.relationship for r in fast] == ["invalid", "modify", "invalid"]
