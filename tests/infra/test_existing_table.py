"""The source template's table modes: create the table (default), use an existing one by name, or declare the
existing one for a resource import. Each mode is rendered as CloudFormation would decide it (_cfn.resolve)."""

from __future__ import annotations

import ast
import json
import os
import re
from collections.abc import Iterator
from typing import Any

import boto3
import botocore.session
import pytest
from moto import mock_aws

from ._cfn import SOURCE_TEMPLATE, VARIANTS, load_template, render, resolve, resources_of_type, rules_hold
from .test_moto_deploy import PARAMETERS as MOTO_PARAMETERS
from .test_moto_deploy import REGION, _deployable_variant

EXISTING = VARIANTS["existing-table"]["ExistingTableName"]
EXISTING_ARN = f"arn:${{AWS::Partition}}:dynamodb:${{AWS::Region}}:${{AWS::AccountId}}:table/{EXISTING}"
TABLE_ID = "ClaimsTable"
# Everything optional switched on, so that every reference to the table is rendered.
ALL_ON = {"EnableClaimsGenerator": "true", "KclPublishMetrics": "true", "AlarmEmail": "oncall@example.com"}
CREATED = ALL_ON
BY_NAME = {**ALL_ON, "ExistingTableName": EXISTING}
IMPORTED = {**BY_NAME, "ImportExistingTable": "true"}


def _walk(node: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], Any]]:
    yield path, node
    if isinstance(node, dict):
        for key, child in node.items():
            yield from _walk(child, (*path, key))
    elif isinstance(node, list):
        for i, child in enumerate(node):
            yield from _walk(child, (*path, i))


def _table_reference(node: Any) -> str | None:
    """'name' or 'arn' for a Ref / GetAtt of the table resource, 'sub' for Fn::Sub text naming it; else None."""
    if not isinstance(node, dict) or len(node) != 1:
        return None
    ((fn, arg),) = node.items()
    if fn == "Ref" and arg == TABLE_ID:
        return "name"
    if fn == "Fn::GetAtt":
        parts = arg if isinstance(arg, list) else str(arg).split(".", 1)
        if parts[0] == TABLE_ID:
            assert parts[1] == "Arn", f"unexpected attribute {parts}"
            return "arn"
    if fn == "Fn::Sub" and isinstance(arg, str) and re.search(r"\$\{" + TABLE_ID + r"[.}]", arg):
        return "sub"
    return None


def table_references(rendered: dict[str, Any]) -> dict[tuple[Any, ...], str]:
    """Where the rendered resources (other than the table) and outputs refer to the table resource."""
    found = {}
    for section in ("Resources", "Outputs"):
        for name, body in rendered[section].items():
            if name == TABLE_ID:
                continue
            depends = body.get("DependsOn", [])
            assert TABLE_ID not in (depends if isinstance(depends, list) else [depends]), f"{name} DependsOn the table"
            for path, node in _walk(body, (section, name)):
                kind = _table_reference(node)
                if kind:
                    found[path] = kind
    return found


def _at(rendered: dict[str, Any], path: tuple[Any, ...]) -> Any:
    node: Any = rendered
    for step in path:
        node = node[step]
    return node


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template(SOURCE_TEMPLATE)


def test_the_created_table_is_referenced_from_alarms_dashboard_generator_and_outputs(template: dict[str, Any]) -> None:
    refs = table_references(resolve(template, CREATED))
    where = {path[:2] for path in refs}
    alarms = {
        ("Resources", name)
        for name, alarm in resources_of_type(template, "AWS::CloudWatch::Alarm").items()
        if "AWS/DynamoDB" in json.dumps(alarm)
    }
    assert alarms, "no DynamoDB alarm in the template"
    needed = alarms | {
        ("Resources", "Dashboard"),
        ("Resources", "GeneratorRole"),
        ("Resources", "GeneratorFunction"),
        ("Outputs", "TableName"),
        ("Outputs", "TableArn"),
    }
    assert needed <= where, f"no table reference in {sorted(needed - where)}"


def test_existing_table_mode_declares_no_table_and_no_reference_to_it(template: dict[str, Any]) -> None:
    rendered = resolve(template, BY_NAME)
    assert not resources_of_type(rendered, "AWS::DynamoDB::Table")
    assert table_references(rendered) == {}


def test_every_table_reference_points_at_the_existing_table(template: dict[str, Any]) -> None:
    created = resolve(template, CREATED)
    existing = resolve(template, BY_NAME)
    refs = table_references(created)
    assert refs
    for path, kind in refs.items():
        value = _at(existing, path)
        if kind == "name":
            assert value == EXISTING, f"{'/'.join(map(str, path))} is {value!r}"
        elif kind == "arn":
            assert render(value) == EXISTING_ARN, f"{'/'.join(map(str, path))} is {value!r}"
        else:
            expected = re.sub(r"\$\{" + TABLE_ID + r"\}", EXISTING, _at(created, path)["Fn::Sub"])
            assert value == {"Fn::Sub": expected}, f"{'/'.join(map(str, path))} differs"


def test_default_mode_creates_the_table_every_reference_uses(template: dict[str, Any]) -> None:
    created = resolve(template, CREATED)
    (table_id,) = resources_of_type(created, "AWS::DynamoDB::Table")
    assert table_id == TABLE_ID
    table = created["Resources"][TABLE_ID]
    assert table["Properties"]["TableName"] == template["Parameters"]["TableName"]["Default"]
    spec = table["Properties"]["KinesisStreamSpecification"]
    assert render(spec["StreamArn"]) == "${ClaimsStream.Arn}"
    # By Ref/GetAtt (never a name-built string), so CloudFormation still creates the table before its users: the
    # only table ARNs written out by name are the KCL lease tables.
    lease_prefix = created["Parameters"]["KclApplicationName"]
    for path, node in _walk({"Resources": created["Resources"], "Outputs": created["Outputs"]}):
        if isinstance(node, dict) and isinstance(node.get("Fn::Sub"), str):
            for named in re.findall(r":table/([^/\"\s]*)", node["Fn::Sub"]):
                assert named.startswith(lease_prefix), f"{'/'.join(map(str, path))} names table {named!r}"
    # Table mode changes nothing else: the same resources and outputs apart from the table and the one command.
    existing = resolve(template, BY_NAME)
    assert set(created["Resources"]) - set(existing["Resources"]) == {TABLE_ID}
    assert set(existing["Resources"]) <= set(created["Resources"])
    assert set(existing["Outputs"]) ^ set(created["Outputs"]) == {"EnableStreamingCommand"}
    refs = table_references(created)
    for name in existing["Resources"]:
        if not any(path[:2] == ("Resources", name) for path in refs):
            assert existing["Resources"][name] == created["Resources"][name], f"{name} changes with the table mode"


def test_import_mode_adds_the_table_and_changes_nothing_else(template: dict[str, Any]) -> None:
    """CloudFormation refuses an import change set that also modifies other resources or outputs."""
    by_name = resolve(template, BY_NAME)
    imported = resolve(template, IMPORTED)
    assert set(imported["Resources"]) - set(by_name["Resources"]) == {TABLE_ID}
    for name, body in by_name["Resources"].items():
        assert imported["Resources"][name] == body, f"the import would modify {name}"
    assert imported["Outputs"] == by_name["Outputs"]
    table = imported["Resources"][TABLE_ID]
    assert table["Properties"]["TableName"] == EXISTING  # the import's resource identifier
    # Owning the destination the EnableStreamingCommand output turned on: the same stream and precision.
    spec = table["Properties"]["KinesisStreamSpecification"]
    command = render(by_name["Outputs"]["EnableStreamingCommand"]["Value"])
    assert f"--stream-arn {render(spec['StreamArn'])} " in command
    assert f"ApproximateCreationDateTimePrecision={spec['ApproximateCreationDateTimePrecision']}" in command


def test_the_table_is_retained_so_an_import_or_a_stack_deletion_never_deletes_claims(template: dict[str, Any]) -> None:
    table = template["Resources"][TABLE_ID]
    assert table["DeletionPolicy"] == "Retain"
    assert table["UpdateReplacePolicy"] == "Retain"


def test_import_without_a_table_name_is_refused_before_deployment(template: dict[str, Any]) -> None:
    assert rules_hold(template, {}) == []
    assert rules_hold(template, BY_NAME) == []
    assert rules_hold(template, IMPORTED) == []
    assert rules_hold(template, {"ImportExistingTable": "true"}), "ImportExistingTable alone would create a table"


def test_enable_streaming_command_is_a_valid_cli_call_for_the_existing_table(template: dict[str, Any]) -> None:
    assert "EnableStreamingCommand" not in resolve(template, CREATED)["Outputs"]
    command = render(resolve(template, BY_NAME)["Outputs"]["EnableStreamingCommand"]["Value"])
    words = command.split()
    assert words[:3] == ["aws", "dynamodb", "enable-kinesis-streaming-destination"]
    flags = dict(zip(words[3::2], words[4::2], strict=True))
    assert flags["--table-name"] == EXISTING
    assert flags["--stream-arn"] == "${ClaimsStream.Arn}"
    operation = (
        botocore.session.get_session()
        .get_service_model("dynamodb")
        .operation_model("EnableKinesisStreamingDestination")
    )
    members = operation.input_shape.members
    cli_names = {"--" + re.sub(r"(?<!^)(?=[A-Z])", "-", m).lower(): m for m in members}
    assert set(flags) - {"--region"} <= set(cli_names), f"unknown flags {sorted(set(flags) - set(cli_names))}"
    assert set(operation.input_shape.required_members) <= {cli_names[f] for f in flags if f in cli_names}
    key, value = flags["--enable-kinesis-streaming-configuration"].split("=")
    shape = members["EnableKinesisStreamingConfiguration"].members[key]
    assert value in shape.enum


def test_a_reference_left_on_the_table_resource_is_found(template: dict[str, Any]) -> None:
    """Guard against an inert check: one dimension put back to !Ref ClaimsTable must be reported."""
    broken = json.loads(json.dumps(template))
    alarm = broken["Resources"]["TableSystemErrorsAlarm"]["Properties"]
    alarm["Metrics"][1]["MetricStat"]["Metric"]["Dimensions"][0]["Value"] = {"Ref": TABLE_ID}
    dashboard = broken["Resources"]["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    dashboard[0] = dashboard[0].replace("${ClaimsTableName}", "${ClaimsTable}", 1)
    left = table_references(resolve(broken, BY_NAME))
    assert {path[:2] for path in left} == {("Resources", "TableSystemErrorsAlarm"), ("Resources", "Dashboard")}


# ---------------------------------------------------------------------------------------------------------------
# moto: the existing-table mode deployed next to a table that was there before the stack.
# ---------------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def existing_stack() -> Iterator[dict[str, Any]]:
    saved = {k: os.environ.get(k) for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION")}
    os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION=REGION)
    try:
        with mock_aws():
            ddb = boto3.client("dynamodb", region_name=REGION)
            table = ddb.create_table(
                TableName=EXISTING,
                AttributeDefinitions=[{"AttributeName": "claim_id", "AttributeType": "S"}],
                KeySchema=[{"AttributeName": "claim_id", "KeyType": "HASH"}],
                BillingMode="PAY_PER_REQUEST",
            )["TableDescription"]
            ddb.put_item(TableName=EXISTING, Item={"claim_id": {"S": "CLM-before-the-stack"}})
            cfn = boto3.client("cloudformation", region_name=REGION)
            parameters = {**MOTO_PARAMETERS, "ExistingTableName": EXISTING}
            cfn.create_stack(
                StackName="claimflow-existing",
                TemplateBody=json.dumps(_deployable_variant()),
                Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
                Capabilities=["CAPABILITY_IAM"],
            )
            (description,) = cfn.describe_stacks(StackName="claimflow-existing")["Stacks"]
            yield {
                "table": table,
                "description": description,
                "outputs": {o["OutputKey"]: o["OutputValue"] for o in description.get("Outputs", [])},
                "resources": cfn.list_stack_resources(StackName="claimflow-existing")["StackResourceSummaries"],
                "cfn": cfn,
            }
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def test_moto_stack_uses_the_existing_table_and_leaves_it_on_deletion(existing_stack: dict[str, Any]) -> None:
    assert existing_stack["description"]["StackStatus"] == "CREATE_COMPLETE"
    types = {r["ResourceType"] for r in existing_stack["resources"]}
    assert "AWS::DynamoDB::Table" not in types and "AWS::Kinesis::Stream" in types
    out = existing_stack["outputs"]
    assert out["TableName"] == EXISTING
    # The ARN the template builds by name is the one DynamoDB reports for the table.
    assert out["TableArn"] == existing_stack["table"]["TableArn"]
    assert f"--table-name {EXISTING} --stream-arn {out['KinesisStreamArn']} " in out["EnableStreamingCommand"]
    lam = boto3.client("lambda", region_name=REGION)
    (function,) = lam.list_functions()["Functions"]
    assert function["Environment"]["Variables"]["TABLE_NAME"] == EXISTING
    iam = boto3.client("iam", region_name=REGION)
    (role,) = [r for r in existing_stack["resources"] if r["LogicalResourceId"] == "GeneratorRole"]
    (policy,) = iam.list_role_policies(RoleName=role["PhysicalResourceId"])["PolicyNames"]
    document = iam.get_role_policy(RoleName=role["PhysicalResourceId"], PolicyName=policy)["PolicyDocument"]
    if isinstance(document, str):  # moto keeps a stack's inline role policies as the Python repr of the dict
        document = ast.literal_eval(document)
    (write,) = [st for st in document["Statement"] if st.get("Sid") == "WriteClaims"]
    assert write["Resource"] == existing_stack["table"]["TableArn"]
    # The stack never owned the table: deleting the stack leaves it and its items.
    existing_stack["cfn"].delete_stack(StackName="claimflow-existing")
    ddb = boto3.client("dynamodb", region_name=REGION)
    assert ddb.describe_table(TableName=EXISTING)["Table"]["TableStatus"] == "ACTIVE"
    assert ddb.get_item(TableName=EXISTING, Key={"claim_id": {"S": "CLM-before-the-stack"}}).get("Item")
