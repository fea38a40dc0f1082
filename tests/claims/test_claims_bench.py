"""The benchmark runs end to end on a few records and reports every variant, ratio and verdict (no speed asserted)."""

from __future__ import annotations

import re

import pytest

from claimflow import bench


def test_bench_reports_every_variant_and_both_targets(capsys: pytest.CaptureFixture[str]) -> None:
    assert bench.main(["--records", "30", "--repeat", "2"]) == 0
    out = capsys.readouterr().out
    labels = ("a claimflow fused", "a' claimflow fused, ConsumeKinesisStream", "a2 claimflow two-step", "b naive",
              "c floor")
    for label in labels:
        assert re.search(rf"\| {label}.*\| +[\d,]+ \| +[\d.]+ \| +[\d.]+ - [\d.]+ \|", out), label
    assert re.search(r"\| a/b +\| +[\d.]+ \| +>= 3.0 \| +(PASS|MISS) \|", out)
    assert re.search(r"\| a/c +\| +[\d.]+ \| +>= 0.4 \| +(PASS|MISS) \|", out)
    assert re.search(r"\| a'/b \(production\) +\| +[\d.]+ \| +>= 3.0 \| +(PASS|MISS) \|", out)


def test_production_variant_fills_the_kinesis_columns() -> None:
    # a' measures the path the flows run: the FlowFile attributes reach the rows (a many-record FlowFile of
    # ConsumeKinesisStream: the shard, no per-record sequence number).
    records = list(bench.claim_records(3, seed=5))
    attributes = {**bench.CONSUME_KINESIS_STREAM_ATTRIBUTES, "record.count": "3"}
    rows = [r.row for r in bench.route_records_fused(b"\n".join(records), bench.ClaimSettings(), 1, attributes)]
    assert [row["kinesisShardId"] if row else None for row in rows] == ["shardId-000000000001"] * 3


def test_a_variant_that_skips_records_is_refused() -> None:
    with pytest.raises(RuntimeError, match="handled 1 records, not 2"):
        bench._time_once(lambda: 1, 2)
