"""claimflow.flow.wiring: the Python stages of a flow-definition file, in the order and with the routing the file
wires (what the demo runs)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from claimflow.flow.definitions import NIFI_FILE, OPENFLOW_FILE
from claimflow.flow.export import FLOW_DIRECTORY
from claimflow.flow.pyprocessors import read_processors
from claimflow.flow.wiring import FlowFileError, load_python_pipeline


def kinds(destinations) -> list[tuple[str, str]]:
    return [(d.kind, d.name) for d in destinations]


def test_nifi_flow_stages_in_wiring_order() -> None:
    pipeline = load_python_pipeline(FLOW_DIRECTORY / NIFI_FILE)
    assert pipeline.source == "ConsumeKinesisStream"
    assert [s.type for s in pipeline.stages] == [
        "DecodeDynamoDBChange",
        "TransformClaimChange",
        "MergeClaimsToSnowflake",
    ]
    decode, transform, merge = pipeline.stages
    assert kinds(decode.routes["success"]) == [("python", "TransformClaimChange")]
    # Its rows reach the merge through PartitionRecord + RouteOnAttribute (test_ship_flows.test_nifi_flow_shape).
    assert kinds(transform.routes["success"]) == [("java", "PartitionRecord")]
    assert [d.kind for d in transform.routes["failure"]] == ["funnel"]
    assert kinds(merge.routes["retry"]) == [("self", "MergeClaimsToSnowflake")]
    assert kinds(merge.routes["success"]) == [("auto-terminated", "")]
    assert transform.services == {}  # a FlowFileTransform: no record reader or writer


def test_every_relationship_of_every_stage_is_routed() -> None:
    specs = read_processors()
    for name in (NIFI_FILE, OPENFLOW_FILE):
        for stage in load_python_pipeline(FLOW_DIRECTORY / name).stages:
            assert set(stage.routes) == set(specs[stage.type].relationships), (name, stage.type)
            assert stage.version == specs[stage.type].version


def test_openflow_stage_feeds_the_java_routing() -> None:
    # ProcessClaimChange writes every outcome to success; PartitionRecord and RouteOnAttribute route the records
    # (their wiring on to both Snowpipe processors is checked in test_ship_flows.test_openflow_flow_shape).
    pipeline = load_python_pipeline(FLOW_DIRECTORY / OPENFLOW_FILE)
    (stage,) = pipeline.stages
    assert stage.type == "ProcessClaimChange"
    assert [(d.kind, d.name) for d in stage.routes["success"]] == [("java", "PartitionRecord")]
    assert [d.kind for d in stage.routes["failure"]] == ["funnel"]
    assert [d.kind for d in stage.routes["original"]] == ["auto-terminated"]


def test_properties_resolve_parameters_and_hide_sensitive_ones() -> None:
    document = json.loads((FLOW_DIRECTORY / NIFI_FILE).read_text())
    (context,) = document["parameterContexts"].values()
    values = {p["name"]: p["value"] for p in context["parameters"]}
    transform = load_python_pipeline(FLOW_DIRECTORY / NIFI_FILE).stage("TransformClaimChange")
    assert transform.properties["PHI Handling"] == values["ClaimFlow PHI Handling"]
    assert transform.properties["PHI Handling"]  # a default from the code, not empty
    assert transform.properties["HMAC Key"] is None  # sensitive: never a value
    assert "Record Reader" not in transform.properties


def test_a_file_without_python_stages_is_refused(tmp_path: Path) -> None:
    document = json.loads((FLOW_DIRECTORY / NIFI_FILE).read_text())
    group = document["flowContents"]
    group["processors"] = [p for p in group["processors"] if p["bundle"]["artifact"] != "python-extensions"]
    path = tmp_path / "java-only.json"
    path.write_text(json.dumps(document))
    with pytest.raises(FlowFileError):
        load_python_pipeline(path)
