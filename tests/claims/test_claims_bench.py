"""The benchmark runs end to end on a few records and reports every variant, ratio and verdict (no speed asserted)."""

from __future__ import annotations

import re

import pytest

from claimflow import bench


def test_bench_reports_every_variant_and_both_targets(capsys: pytest.CaptureFixture[str]) -> None:
    assert bench.main(["--records", "30", "--repeat", "2"]) == 0
    out = capsys.readouterr().out
    for label in ("a claimflow fused", "a2 claimflow two-step", "b naive", "c floor"):
        assert re.search(rf"\| {label}.*\| +[\d,]+ \| +[\d.]+ \| +[\d.]+ - [\d.]+ \|", out), label
    assert re.search(r"\| a/b +\| +[\d.]+ \| +>= 3.0 \| +(PASS|MISS) \|", out)
    assert re.search(r"\| a/c +\| +[\d.]+ \| +>= 0.4 \| +(PASS|MISS) \|", out)


def test_a_variant_that_skips_records_is_refused() -> None:
    with pytest.raises(RuntimeError, match="handled 1 records, not 2"):
        bench._time_once(lambda: 1, 2)
