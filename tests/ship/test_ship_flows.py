"""The committed flow definitions: reproducible from the one Python description, importable by NiFi (every field
its import dereferences, every connection endpoint, every relationship handled, services and parameters that
resolve) and matching the Python processors' code."""

from __future__ import annotations

import copy
import itertools
import json
import re
from pathlib import Path
from typing import Any

import pytest

from claimflow import rows
from claimflow.flow import platform as pf
from claimflow.flow.definitions import NIFI_FILE, OPENFLOW_FILE, claim_row_schema_text, claim_row_wire_schema
from claimflow.flow.export import FLOW_DIRECTORY, rendered, stale
from claimflow.flow.pyprocessors import PROCESSOR_FOLDER, ProcessorSpec, read_processors
from claimflow.record_routing import PARTITION_PATHS, ROUTES
from claimflow.snowflake.spec import DEFAULT_TABLES
from claimflow_offline.discovery import inspect_module

from .flow_checks import problems

FILES = (OPENFLOW_FILE, NIFI_FILE)


@pytest.fixture(scope="module")
def specs() -> dict[str, ProcessorSpec]:
    return read_processors()


def load(name: str) -> dict[str, Any]:
    return json.loads((FLOW_DIRECTORY / name).read_text(encoding="utf-8"))


def by_name(document: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in document["flowContents"][kind]}


def by_type(document: dict[str, Any], type_name: str) -> list[dict[str, Any]]:
    return [p for p in document["flowContents"]["processors"] if p["type"].rsplit(".", 1)[-1] == type_name]


def test_committed_files_equal_a_fresh_export() -> None:
    assert stale() == [], "run `claimflow flow export` and commit flow-definitions/"


def test_export_is_reproducible() -> None:
    assert rendered() == rendered()


@pytest.mark.parametrize("name", FILES)
def test_flow_is_importable(name: str, specs: dict[str, ProcessorSpec]) -> None:
    assert problems(load(name), specs) == []


def test_python_processor_facts_agree_with_the_runtime_discovery_scanner(specs: dict[str, ProcessorSpec]) -> None:
    """Two independent AST readers (the flow generator's and the RUNTIME engineer's) see the same processors."""
    for path in sorted(PROCESSOR_FOLDER.glob("*.py")):
        if path.name == "__init__.py":
            continue
        (info,) = inspect_module(path).processors
        spec = specs[info.class_name]
        assert spec.version == info.version
        own = [p for p in spec.property_names if p not in ("Record Reader", "Record Writer")]
        assert own == info.property_names


# --- the checker itself catches what it must (mutations of a real file) ---------------------------------------
def _processor(document: dict[str, Any], type_name: str) -> dict[str, Any]:
    return by_type(document, type_name)[0]


def _drop_connection_of(document: dict[str, Any], relationship: str) -> None:
    connections = document["flowContents"]["connections"]
    document["flowContents"]["connections"] = [c for c in connections if relationship not in c["selectedRelationships"]]


def _service(document: dict[str, Any], name: str) -> dict[str, Any]:
    return by_name(document, "controllerServices")[name]


def _mark_sensitive(document: dict[str, Any], service_name: str, property_name: str) -> None:
    """Makes a property and the parameter it references sensitive together, consistent within the document."""
    service = _service(document, service_name)
    service["propertyDescriptors"][property_name]["sensitive"] = True
    referenced = service["properties"][property_name][2:-1]
    (context,) = document["parameterContexts"].values()
    for parameter in context["parameters"]:
        if parameter["name"] == referenced:
            parameter.update(sensitive=True, value=None)


MUTATIONS = {
    "unconnected invalid": (lambda d: _drop_connection_of(d, "invalid"), "'invalid' is neither connected"),
    "auto-terminated failure": (
        lambda d: _processor(d, "TransformClaimChange")["autoTerminatedRelationships"].append("failure"),
        "'failure' is auto-terminated",
    ),
    "missing bulletinLevel": (
        lambda d: _processor(d, "DecodeDynamoDBChange").pop("bulletinLevel"),
        "missing bulletinLevel",
    ),
    "dangling endpoint": (
        lambda d: d["flowContents"]["connections"][0]["destination"].update(id="00000000-0000-0000-0000-000000000000"),
        "does not exist",
    ),
    "wrong python version": (
        lambda d: _processor(d, "TransformClaimChange")["bundle"].update(version="9.9.9"),
        "!= ProcessorDetails.version",
    ),
    "unknown property": (
        lambda d: _processor(d, "TransformClaimChange")["properties"].update({"PHI Mode": "x"}),
        "do not exist in TransformClaimChange",
    ),
    "unresolved parameter": (
        lambda d: _processor(d, "ConsumeKinesisStream")["properties"].update({"Region": "#{No Such Parameter}"}),
        "does not exist",
    ),
    "old property name": (
        lambda d: _processor(d, "ConsumeKinesisStream")["properties"].update({"kinesis-stream-name": "x"}),
        "are not NiFi",
    ),
    "sensitive value": (
        lambda d: next(
            p for p in d["parameterContexts"][d["flowContents"]["parameterContextName"]]["parameters"] if p["sensitive"]
        ).update(value="secret"),
        "carries a value",
    ),
    "sensitive external id": (
        lambda d: _mark_sensitive(d, "AWS Credentials", "Assume Role External ID"),
        "sensitive flag differs from NiFi's descriptor",
    ),
    "obsolete assume-role name": (
        lambda d: _service(d, "AWS Credentials")["properties"].update({"assume-role-external-id": "x"}),
        "is not a property name",
    ),
    "missing service": (
        lambda d: d["flowContents"].update(controllerServices=d["flowContents"]["controllerServices"][1:]),
        "is not in the group",
    ),
}


@pytest.mark.parametrize("mutation", sorted(MUTATIONS))
def test_checker_catches_a_broken_flow(mutation: str, specs: dict[str, ProcessorSpec]) -> None:
    document = copy.deepcopy(load(NIFI_FILE))
    mutate, expected = MUTATIONS[mutation]
    mutate(document)
    assert any(expected in problem for problem in problems(document, specs)), problems(document, specs)


# --- what each flow must say -----------------------------------------------------------------------------
def test_openflow_flow_shape() -> None:
    document = load(OPENFLOW_FILE)
    python = [p for p in document["flowContents"]["processors"] if p["bundle"]["artifact"] == "python-extensions"]
    assert [p["type"] for p in python] == ["ProcessClaimChange"]  # Openflow: at most 2 Python processors
    (consume,) = by_type(document, "ConsumeKinesisStream")
    (process,) = python
    (partition,) = by_type(document, "PartitionRecord")
    (route,) = by_type(document, "RouteOnAttribute")
    puts = by_type(document, "PutSnowpipeStreaming")
    assert puts and all(p["bundle"] == pf.OPENFLOW_SNOWPIPE_NAR.to_json() for p in puts)
    connections = document["flowContents"]["connections"]

    def out_of(component: dict) -> list[dict]:
        return [c for c in connections if c["source"]["id"] == component["identifier"]]

    funnels = {f["identifier"] for f in document["flowContents"]["funnels"]}
    # ProcessClaimChange -> PartitionRecord -> RouteOnAttribute, by the record paths and expressions of the core.
    assert [(c["selectedRelationships"], c["destination"]["id"]) for c in out_of(process) if
            c["destination"]["id"] not in funnels] == [(["success"], partition["identifier"])]
    assert {k: v for k, v in partition["properties"].items() if k.startswith("cdc.")} == dict(PARTITION_PATHS)
    assert [(c["selectedRelationships"], c["destination"]["id"]) for c in out_of(partition) if
            c["destination"]["id"] not in funnels] == [(["success"], route["identifier"])]
    assert route["properties"]["Routing Strategy"] == "Route to Property name"
    assert {k: v for k, v in route["properties"].items() if k != "Routing Strategy"} == dict(ROUTES)
    row_targets = {
        c["destination"]["id"]
        for c in out_of(route)
        if set(c["selectedRelationships"]) == {"insert", "modify", "remove"}
    }
    assert row_targets == {p["identifier"] for p in puts}  # every row to staging AND history
    parameters = {p["name"]: p for p in next(iter(document["parameterContexts"].values()))["parameters"]}
    tables = {parameters[p["properties"]["Table"][2:-1]]["value"] for p in puts}
    assert tables == {DEFAULT_TABLES.staging, DEFAULT_TABLES.history}
    dead = {r for component in (process, partition, route) for c in out_of(component)
            if c["destination"]["id"] in funnels for r in c["selectedRelationships"]}
    assert dead == {"invalid", "unmatched", "failure"}
    assert not [c for c in connections if c["source"]["id"] in funnels]  # the dead letter holds FlowFiles
    assert [c["destination"]["id"] for c in out_of(consume)] == [process["identifier"]]


def test_nifi_flow_shape() -> None:
    document = load(NIFI_FILE)
    order = ["ConsumeKinesisStream", "DecodeDynamoDBChange", "TransformClaimChange", "PartitionRecord",
             "RouteOnAttribute", "MergeClaimsToSnowflake"]
    ids = {name: by_type(document, name)[0]["identifier"] for name in order}
    connections = document["flowContents"]["connections"]
    for upstream, downstream in itertools.pairwise(order):
        assert any(
            c["source"]["id"] == ids[upstream] and c["destination"]["id"] == ids[downstream] for c in connections
        )
    merge = by_type(document, "MergeClaimsToSnowflake")[0]
    loop = [c for c in connections if c["source"]["id"] == merge["identifier"] == c["destination"]["id"]]
    assert [c["selectedRelationships"] for c in loop] == [["retry"]]
    assert merge["retriedRelationships"] == ["retry"] and merge["retryCount"] > 0
    assert merge["backoffMechanism"] in ("PENALIZE_FLOWFILE", "YIELD_PROCESSOR")
    funnels = {f["identifier"] for f in document["flowContents"]["funnels"]}
    dead = {
        (c["source"]["name"], r)
        for c in connections
        if c["destination"]["id"] in funnels
        for r in c["selectedRelationships"]
    }
    for name in order[1:]:
        processor = by_type(document, name)[0]
        if name == "RouteOnAttribute":  # it has no failure: what matches no route goes to unmatched
            assert {(processor["name"], "invalid"), (processor["name"], "unmatched")} <= dead
        else:
            assert (processor["name"], "failure") in dead
    (route,) = by_type(document, "RouteOnAttribute")
    to_merge = [c["selectedRelationships"] for c in connections
                if c["source"]["id"] == route["identifier"] and c["destination"]["id"] == ids["MergeClaimsToSnowflake"]]
    assert to_merge == [["insert", "modify", "remove"]]


@pytest.mark.parametrize("name", FILES)
def test_pinned_versions(name: str) -> None:
    document = load(name)
    for processor in by_type(document, "ConsumeKinesisStream"):
        assert processor["bundle"] == pf.AWS_NAR.to_json()
        assert processor["properties"]["Amazon Kinesis Stream Name"] == "#{Kinesis Stream Name}"
    for service in document["flowContents"]["controllerServices"]:
        if service["bundle"]["group"] == "org.apache.nifi":
            assert service["bundle"]["version"] == pf.NIFI_VERSION


@pytest.mark.parametrize("name", FILES)
def test_parameter_context_has_the_deployment_parameters(name: str) -> None:
    (context,) = load(name)["parameterContexts"].values()
    parameters = {p["name"]: p for p in context["parameters"]}
    for needed in (
        "AWS Region",
        "Kinesis Stream Name",
        "Kinesis Application Name",
        "Snowflake Account",
        "Snowflake User",
        "Snowflake Role",
        "Snowflake Database",
        "Snowflake Schema",
        "Snowflake Warehouse",
    ):
        assert needed in parameters and not parameters[needed]["sensitive"]
    for key in ("Snowflake Private Key", "AWS Secret Access Key", "ClaimFlow HMAC Key"):
        if key in parameters:
            assert parameters[key]["sensitive"] and parameters[key]["value"] is None
    assert parameters["Snowflake Private Key"]["sensitive"]


@pytest.mark.parametrize("name", FILES)
def test_record_services_carry_the_claim_row_schema(name: str) -> None:
    document = load(name)
    services = by_name(document, "controllerServices")
    writer = services["Claim Row Writer"]["properties"]
    assert writer["Schema Access Strategy"] == "schema-text-property"
    assert json.loads(writer["Schema Text"]) == claim_row_wire_schema()
    written = [f["name"] for f in json.loads(writer["Schema Text"])["fields"]]
    assert written[: len(rows.COLUMN_NAMES)] == list(rows.COLUMN_NAMES)
    assert writer["Suppress Null Values"] == "suppress-missing"
    if "Claim Row Reader" in services:
        reader = services["Claim Row Reader"]["properties"]
        assert reader["Schema Text"] == claim_row_schema_text()
        assert json.loads(reader["Schema Text"]) == rows.avro_schema()


def test_wire_schema_keeps_exact_values_as_strings() -> None:
    fields = {f["name"]: f["type"] for f in claim_row_wire_schema()["fields"]}
    decimal_columns = [c.name for c in rows.COLUMNS if c.kind is rows.Kind.DECIMAL]
    assert decimal_columns and all(fields[name] == ["null", "string"] for name in decimal_columns)
    assert all(isinstance(t, list) and t[0] == "null" for t in fields.values())


def test_flow_directory_holds_only_the_generated_files() -> None:
    assert sorted(p.name for p in Path(FLOW_DIRECTORY).iterdir()) == sorted(FILES)


@pytest.mark.parametrize("name", FILES)
def test_aws_credentials_can_assume_the_consumer_role(name: str) -> None:
    """The consumer role of infra/claimflow-source.yaml is set in the parameter context, not on the service."""
    document = load(name)
    (context,) = document["parameterContexts"].values()
    parameters = {p["name"]: p for p in context["parameters"]}
    credentials = _service(document, "AWS Credentials")
    assert credentials["type"] == pf.AWS_CREDENTIALS_SERVICE.type
    properties = credentials["properties"]
    wiring = {
        pf.ASSUME_ROLE_ARN: "AWS Assume Role ARN",
        pf.ASSUME_ROLE_SESSION_NAME: "AWS Assume Role Session Name",
        pf.ASSUME_ROLE_EXTERNAL_ID: "AWS Assume Role External ID",
        pf.ASSUME_ROLE_STS_REGION: "AWS Region",  # STS in the stream's region, not NiFi's us-west-2 default
    }
    for property_name, parameter_name in wiring.items():
        assert properties[property_name] == "#{" + parameter_name + "}"
        assert not credentials["propertyDescriptors"][property_name]["sensitive"]
        assert not parameters[parameter_name]["sensitive"]
    # Deployment-specific: no role ARN or external ID ships in the flow. Empty resolves to "not set", so NiFi skips
    # the assume-role step and the session name (required only with an ARN) needs a usable default.
    assert parameters["AWS Assume Role ARN"]["value"] is None
    assert parameters["AWS Assume Role External ID"]["value"] is None
    assert re.fullmatch(r"[\w+=,.@-]{2,64}", parameters["AWS Assume Role Session Name"]["value"])
    assert "ConsumerRoleArn" in parameters["AWS Assume Role ARN"]["description"]
    assert "ConsumerExternalId" in parameters["AWS Assume Role External ID"]["description"]
    for key in (pf.AWS_ACCESS_KEY_ID, pf.AWS_SECRET_ACCESS_KEY):
        assert credentials["propertyDescriptors"][key]["sensitive"]
    (consume,) = by_type(document, "ConsumeKinesisStream")
    assert consume["properties"][pf.KINESIS_CREDENTIALS] == credentials["identifier"]


DEPLOY_PAGES = {"deploy-nifi.md": NIFI_FILE, "deploy-openflow.md": OPENFLOW_FILE}
# Flow parameter names begin with one of these words; a backticked name with a space starting with one of them in a
# deploy page is read as a parameter (or parameter context) name. "ClaimFlow …" stands for a group of them.
PARAMETER_PREFIXES = ("AWS ", "Kinesis ", "Snowflake ", "ClaimFlow ")


@pytest.mark.parametrize("page", sorted(DEPLOY_PAGES))
def test_deploy_page_names_only_parameters_of_its_flow(page: str) -> None:
    document = load(DEPLOY_PAGES[page])
    known = set(document["parameterContexts"])
    known |= {p["name"] for context in document["parameterContexts"].values() for p in context["parameters"]}
    text = (FLOW_DIRECTORY.parent / "docs" / page).read_text(encoding="utf-8")
    named = {
        name
        for name in re.findall(r"`([^`\n]+)`", text)
        if name.startswith(PARAMETER_PREFIXES) and not name.endswith("…")
    }
    assert sorted(named - known) == []
    # Every AWS parameter of the flow is explained on its deploy page, the consumer role's included.
    aws = {name for name in known if name.startswith("AWS ")}
    assert "AWS Assume Role ARN" in aws
    assert sorted(aws - named) == []
