"""The pipeline runner chains processors by relationship and refuses an unrouted relationship, as NiFi does."""

from __future__ import annotations

from typing import Any

import pytest
from nifiapi.flowfiletransform import FlowFileTransform, FlowFileTransformResult
from nifiapi.relationship import Relationship

from claimflow.claims.synthetic import claim_records
from claimflow_offline.pipeline import JavaRouting, Pipeline, PipelineConfigurationError, Stage

ROWS_OUT = {"insert": "rows", "modify": "rows", "remove": "rows"}


class Classify(FlowFileTransform):
    class Java:
        implements = ["org.apache.nifi.python.processor.FlowFileTransform"]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__()

    def getRelationships(self) -> list[Relationship]:
        return [Relationship("number", "n"), Relationship("word", "w")]

    def transform(self, context: Any, flowFile: Any) -> FlowFileTransformResult:
        text = flowFile.getContentsAsBytes().decode()
        return FlowFileTransformResult("number" if text.isdigit() else "word", {"kind": "classified"})


class Double(FlowFileTransform):
    class Java:
        implements = ["org.apache.nifi.python.processor.FlowFileTransform"]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__()

    def transform(self, context: Any, flowFile: Any) -> FlowFileTransformResult:
        return FlowFileTransformResult("success", contents=str(2 * int(flowFile.getContentsAsBytes())))


def test_runtime_pipeline_routes_between_stages_and_sinks() -> None:
    with Pipeline(
        [
            Stage(Classify, routes={"number": "Double", "word": "words", "failure": "errors"}),
            Stage(Double, routes={"success": "numbers", "failure": "errors"}),
        ]
    ) as pipeline:
        for text in ("21", "hello", "5"):
            pipeline.enqueue(text, {"origin": "test"})
        result = pipeline.run()
    assert [f.content for f in result.flowfiles("numbers")] == [b"42", b"10"]
    assert [f.content for f in result.flowfiles("words")] == [b"hello"]
    assert result.flowfiles("numbers")[0].attributes["kind"] == "classified"  # attributes travel on
    assert result.routed == {"Classify": {"number": 2, "word": 1}, "Double": {"success": 2}}


def test_runtime_pipeline_refuses_unrouted_relationships() -> None:
    with pytest.raises(PipelineConfigurationError, match="'failure' is neither routed nor auto-terminated"):
        Pipeline([Stage(Double, routes={"success": "out"})])
    Pipeline([Stage(Double, routes={"success": "out"}, auto_terminate=["failure"])]).close()
    with pytest.raises(PipelineConfigurationError, match="no relationship 'nope'"):
        Pipeline([Stage(Double, routes={"success": "out", "failure": "x", "nope": "y"})])
    with pytest.raises(PipelineConfigurationError, match="two stages"):
        Pipeline([Stage(Double, routes={"success": "out", "failure": "x"})] * 2)


def test_runtime_pipeline_runs_the_claimflow_processors_end_to_end() -> None:
    records = list(claim_records(30, seed=7))
    dead = {"invalid": "dead-letter", "failure": "dead-letter"}
    stages = [
        Stage("DecodeDynamoDBChange", routes={"success": "TransformClaimChange", **dead}),
        Stage("TransformClaimChange", properties={"Strict Validation": "false"},
              routes={"success": "Java routing", "failure": "dead-letter"}),
        JavaRouting(routes={**ROWS_OUT, "invalid": "dead-letter", "unmatched": "dead-letter"}),
    ]
    with Pipeline(stages, infer_schema_like_nifi=True) as pipeline:
        pipeline.enqueue(b"\n".join(records[:20]))
        pipeline.enqueue(b"\n".join(records[20:]) + b"\n{not json")
        result = pipeline.run()
    rows = result.records("rows")
    assert len(rows) == 30
    assert sorted(r["eventId"] for r in rows) == sorted(__import__("json").loads(r)["eventID"] for r in records)
    assert len(result.records("dead-letter")) == 1


def test_runtime_pipeline_with_the_flows_row_writer_keeps_rows_and_dead_letters_whole() -> None:
    from claimflow.flow.definitions import claim_row_wire_schema

    writer = {"record_writer_schema": claim_row_wire_schema(), "suppress_missing": True}
    dead = {"invalid": "dead-letter", "failure": "dead-letter"}
    records = list(claim_records(12, seed=3))
    bad = b'{"eventID": "6f1d2c3b-4a59-4e8f-9d7c-b6a5f4e3d2c1", "eventName": "UPSERT", "dynamodb": {}}'
    with Pipeline(
        [
            Stage("DecodeDynamoDBChange", routes={"success": "TransformClaimChange", **dead}),
            Stage("TransformClaimChange", routes={"success": "Java routing", "failure": "dead-letter"}),
            JavaRouting(routes={**ROWS_OUT, "invalid": "dead-letter", "unmatched": "dead-letter"}),
        ],
        infer_schema_like_nifi=True,
        **writer,
    ) as pipeline:
        pipeline.enqueue(b"\n".join([*records, bad]))
        result = pipeline.run()
    rows = result.records("rows")
    assert len(rows) == 12 and all(len(row) > 40 for row in rows)
    (dead_letter,) = result.records("dead-letter")
    assert set(dead_letter) == {"index", "eventId", "error", "rule", "record"}
    assert dead_letter["eventId"] == "6f1d2c3b-4a59-4e8f-9d7c-b6a5f4e3d2c1"  # an AWS-shaped id is shown


def test_runtime_pipeline_java_routing_must_route_every_relationship() -> None:
    # As a RouteOnAttribute relationship in NiFi: neither routed nor auto-terminated makes the flow invalid.
    with pytest.raises(PipelineConfigurationError, match="'unmatched' is not routed"):
        Pipeline([JavaRouting(routes={**ROWS_OUT, "invalid": "dead-letter"})])
    with pytest.raises(PipelineConfigurationError, match="has no relationship 'matched'"):
        Pipeline([JavaRouting(routes={**ROWS_OUT, "invalid": "x", "unmatched": "x", "matched": "x"})])
