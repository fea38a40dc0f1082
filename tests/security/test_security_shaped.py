"""The claim-shaped fast path generates Python source at run time: attribute names from the data must never enter
it (they are passed as constants), whatever they look like."""

from __future__ import annotations

import builtins
import json
import random
from pathlib import Path
from typing import Any

import pytest

from claimflow.claims import ClaimSettings, route_records_fused, shaped
from claimflow.claims.synthetic import claim_item, kinesis_record

ODD_SPELLINGS = {"member_id": "Member ID", "claim_id": "c-l-a-i-m-i-d", "total_charge": "TOTAL charge"}
HOSTILE = ["claim_id'\n__import__('os').system('touch PWNED')#", 'x"); __import__("os").system("touch PWNED") #',
           "{i}", "__import__", "member_id\n"]


def _records(tmp: Path) -> bytes:
    records = []
    for number, name in enumerate(HOSTILE):
        item = claim_item(random.Random(number), number)
        item[name] = str(tmp / "PWNED")
        item["patient"] = {**item["patient"], name: "x"}
        records.append(kinesis_record(item, "INSERT", 1_761_955_200_000_000 + number, number))
    item = claim_item(random.Random(99), 99)
    for plain, odd in ODD_SPELLINGS.items():
        item[odd] = item.pop(plain)
    records.append(kinesis_record(item, "INSERT", 1_761_955_200_000_099, 99, key="CLM-00000099"))
    return b"\n".join(json.dumps(r).encode() for r in records)


def test_generated_walkers_never_contain_attribute_names(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sources: list[str] = []
    real_compile = builtins.compile

    def recording_compile(source: Any, filename: Any, mode: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(filename, str) and "claimflow.claims.shaped" in filename:
            sources.append(source)
        return real_compile(source, filename, mode, *args, **kwargs)

    monkeypatch.setattr(shaped, "_WALKERS", {group: {} for group in shaped._WALKERS})
    monkeypatch.setattr(shaped, "_LINE_READERS", {})
    monkeypatch.setattr(builtins, "compile", recording_compile)
    monkeypatch.chdir(tmp_path)
    outcomes = list(route_records_fused(_records(tmp_path), ClaimSettings(), 1))

    assert [o.relationship for o in outcomes] == ["insert"] * (len(HOSTILE) + 1)
    assert outcomes[-1].row is not None and outcomes[-1].row["claimId"] == "CLM-00000099"
    assert sources  # the odd spellings did compile a walker
    for source in sources:
        for name in [*HOSTILE, *ODD_SPELLINGS.values()]:
            assert name not in source
    assert not (tmp_path / "PWNED").exists()
