"""Project rules for the source template that no generic linter checks."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from cfnlint.schema import PROVIDER_SCHEMA_MANAGER

from ._cfn import REPO, VARIANTS, as_list, policy_documents, render, resolve, resources_of_type, statements

# The Kinesis Client Library permissions of a NiFi ConsumeKinesisStream / Openflow Kinesis consumer, as
# documented in shared/reference/dynamodb-kinesis.md ("CloudFormation facts") and docs/infrastructure.md.
# Keyed by action; the value is the resource pattern the action must be granted on (and only on).
KCL_APP = "${KclApplicationName}"
LEASE_TABLES = [
    f"arn:${{AWS::Partition}}:dynamodb:${{AWS::Region}}:${{AWS::AccountId}}:table/{KCL_APP}{suffix}"
    for suffix in ("", "-WorkerMetricStats", "-CoordinatorState")
]
LEASE_INDEXES = [f"{table}/index/*" for table in LEASE_TABLES]
STREAM_ARN = "${ClaimsStream.Arn}"
KCL_DOCUMENTED_ACTIONS: dict[str, list[str]] = {
    # stream
    "kinesis:DescribeStream": [STREAM_ARN],
    "kinesis:DescribeStreamSummary": [STREAM_ARN],
    "kinesis:RegisterStreamConsumer": [STREAM_ARN],
    "kinesis:GetRecords": [STREAM_ARN],
    "kinesis:GetShardIterator": [STREAM_ARN],
    "kinesis:ListShards": [STREAM_ARN],
    # enhanced fan-out consumers
    "kinesis:SubscribeToShard": [f"{STREAM_ARN}/consumer/*"],
    "kinesis:DescribeStreamConsumer": [f"{STREAM_ARN}/consumer/*"],
    # lease tables
    "dynamodb:CreateTable": LEASE_TABLES,
    "dynamodb:DescribeTable": LEASE_TABLES,
    "dynamodb:UpdateTable": LEASE_TABLES,
    "dynamodb:Scan": LEASE_TABLES,
    "dynamodb:GetItem": LEASE_TABLES,
    "dynamodb:PutItem": LEASE_TABLES,
    "dynamodb:UpdateItem": LEASE_TABLES,
    "dynamodb:DeleteItem": LEASE_TABLES,
    "dynamodb:Query": LEASE_INDEXES,
    # stream key
    "kms:Decrypt": ["${ClaimsKey.Arn}"],
    # optional (KclPublishMetrics): AWS has no resource-level permission for it
    "cloudwatch:PutMetricData": ["*"],
}

# Actions that have no resource-level permissions, so AWS requires Resource "*" for them.
STAR_RESOURCE_ALLOWED = {
    "cloudwatch:PutMetricData",
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeSubnets",
}

PHI_TAGS = {"DataClassification": "PHI", "Application": "ClaimFlow"}


def _key_id(template: dict[str, Any]) -> str:
    (key_id,) = resources_of_type(template, "AWS::KMS::Key")
    return key_id


def _refers_to(value: Any, logical_id: str) -> bool:
    return render(value) in {f"${{{logical_id}}}", f"${{{logical_id}.Arn}}"}


def test_stream_arn_is_a_getatt_of_the_stream(source_template: dict[str, Any]) -> None:
    streams = resources_of_type(source_template, "AWS::Kinesis::Stream")
    tables = resources_of_type(source_template, "AWS::DynamoDB::Table")
    assert tables
    for name, table in tables.items():
        spec = table["Properties"]["KinesisStreamSpecification"]
        target = spec["StreamArn"]
        assert "Fn::GetAtt" in target, f"{name}: StreamArn must be !GetAtt <Stream>.Arn (a Ref is the name)"
        stream_id, attribute = as_list(target["Fn::GetAtt"])
        assert stream_id in streams and attribute == "Arn"
        assert spec["ApproximateCreationDateTimePrecision"] == "MICROSECOND"


def test_table_and_stream_are_encrypted_with_the_rotating_cmk(source_template: dict[str, Any]) -> None:
    key_id = _key_id(source_template)
    key = source_template["Resources"][key_id]
    assert key["Properties"]["EnableKeyRotation"] is True
    assert key["DeletionPolicy"] == "Retain"
    for name, table in resources_of_type(source_template, "AWS::DynamoDB::Table").items():
        sse = table["Properties"]["SSESpecification"]
        assert sse["SSEEnabled"] is True and sse["SSEType"] == "KMS", name
        assert _refers_to(sse["KMSMasterKeyId"], key_id), name
        props = table["Properties"]
        assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
        assert props["TimeToLiveSpecification"]["Enabled"] is True
        assert render(props["DeletionProtectionEnabled"]) == "${DeletionProtection}"
        assert props["BillingMode"] == "PAY_PER_REQUEST"
        assert props["KeySchema"] == [{"AttributeName": "claim_id", "KeyType": "HASH"}]
    for name, stream in resources_of_type(source_template, "AWS::Kinesis::Stream").items():
        enc = stream["Properties"]["StreamEncryption"]
        assert enc["EncryptionType"] == "KMS", name
        assert _refers_to(enc["KeyId"], key_id), name
    for kind, prop in (("AWS::SNS::Topic", "KmsMasterKeyId"), ("AWS::SQS::Queue", "KmsMasterKeyId")):
        for name, res in resources_of_type(source_template, kind).items():
            assert _refers_to(res["Properties"][prop], key_id), name
    for name, group in resources_of_type(source_template, "AWS::Logs::LogGroup").items():
        assert _refers_to(group["Properties"]["KmsKeyId"], key_id), name
        assert "RetentionInDays" in group["Properties"], name


def test_no_policy_statement_has_a_wildcard_action(source_template: dict[str, Any]) -> None:
    documents = list(policy_documents(source_template["Resources"]))
    assert len(documents) >= 5
    for where, document in documents:
        for st in statements(document):
            assert "NotAction" not in st, f"{where}: NotAction grants everything else"
            for action in as_list(st["Action"]):
                assert isinstance(action, str), f"{where}: computed action {action!r}"
                assert "*" not in action, f"{where}: wildcard action {action}"


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_star_resources_only_where_aws_requires_them(source_template: dict[str, Any], variant: str) -> None:
    key_id = _key_id(source_template)
    # Rendered per variant: a Resource may be an Fn::If (the table's ARN differs by table mode).
    rendered = resolve(source_template, VARIANTS[variant])
    for where, document in policy_documents(rendered["Resources"]):
        if where.startswith(f"/{key_id}/Properties/KeyPolicy"):
            continue  # in a key policy, Resource "*" means "this key"; no other value is allowed
        for st in statements(document):
            if st["Effect"] != "Allow" or "AssumeRolePolicyDocument" in where:
                continue
            if "*" in [render(r) for r in as_list(st["Resource"])]:
                extra = set(as_list(st["Action"])) - STAR_RESOURCE_ALLOWED
                assert not extra, f"{where}: {sorted(extra)} granted on Resource '*'"


def test_key_policy_names_its_users(source_template: dict[str, Any]) -> None:
    key_id = _key_id(source_template)
    policy = source_template["Resources"][key_id]["Properties"]["KeyPolicy"]
    sts = statements(policy)
    principals = [render(p) for st in sts for p in as_list(st["Principal"].get("AWS", []))]
    assert all(p != "*" for p in principals)
    assert "arn:${AWS::Partition}:iam::${AWS::AccountId}:root" in principals
    assert "${ConsumerRole.Arn}" in principals
    via = {
        render(v)
        for st in sts
        for v in as_list(st.get("Condition", {}).get("StringEquals", {}).get("kms:ViaService", []))
    }
    assert {"dynamodb.${AWS::Region}.amazonaws.com", "kinesis.${AWS::Region}.amazonaws.com"} <= via
    # Data use of the key by account principals is only ever granted through a named service.
    for st in sts:
        if render(st["Principal"].get("AWS", "")).endswith(":root"):
            data_actions = {"kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"} & set(as_list(st["Action"]))
            if data_actions:
                assert "kms:ViaService" in st["Condition"]["StringEquals"], st["Sid"]


def _consumer_grants(template: dict[str, Any]) -> dict[str, set[str]]:
    grants: dict[str, set[str]] = {}
    role = template["Resources"]["ConsumerRole"]
    docs = [p["PolicyDocument"] for p in role["Properties"].get("Policies", [])]
    for policy in resources_of_type(template, "AWS::IAM::Policy").values():
        if any(_refers_to(r, "ConsumerRole") for r in policy["Properties"].get("Roles", [])):
            docs.append(policy["Properties"]["PolicyDocument"])
    assert not role["Properties"].get("ManagedPolicyArns"), "no managed policies on the consumer role"
    for doc in docs:
        for st in statements(doc):
            assert st["Effect"] == "Allow"
            for action in as_list(st["Action"]):
                grants.setdefault(action, set()).update(render(r) for r in as_list(st["Resource"]))
            if "cloudwatch:PutMetricData" in as_list(st["Action"]):
                namespace = st["Condition"]["StringEquals"]["cloudwatch:namespace"]
                assert render(namespace) == KCL_APP
    return grants


def test_consumer_role_has_exactly_the_documented_kcl_permissions(source_template: dict[str, Any]) -> None:
    grants = _consumer_grants(source_template)
    assert set(grants) == set(KCL_DOCUMENTED_ACTIONS), (
        f"extra: {sorted(set(grants) - set(KCL_DOCUMENTED_ACTIONS))}, "
        f"missing: {sorted(set(KCL_DOCUMENTED_ACTIONS) - set(grants))}"
    )
    for action, resources in KCL_DOCUMENTED_ACTIONS.items():
        assert grants[action] == set(resources), f"{action} granted on {sorted(grants[action])}"


def test_documented_kcl_list_is_in_the_security_doc() -> None:
    doc = (REPO / "docs" / "infrastructure.md").read_text()
    for action in KCL_DOCUMENTED_ACTIONS:
        assert f"`{action}`" in doc, f"docs/infrastructure.md does not list {action}"


def test_consumer_trust_is_parameterised(source_template: dict[str, Any]) -> None:
    trust = source_template["Resources"]["ConsumerRole"]["Properties"]["AssumeRolePolicyDocument"]
    (st,) = statements(trust)
    assert render(st["Principal"]["AWS"]) == "${ConsumerPrincipalArn}"
    assert st["Action"] == "sts:AssumeRole"
    condition = st["Condition"]["Fn::If"]
    assert condition[0] == "HasExternalId"
    assert render(condition[1]["StringEquals"]["sts:ExternalId"]) == "${ConsumerExternalId}"
    # Without an ExternalId the role admits this account's principals only (never another account's).
    assert render(condition[2]["StringEquals"]["aws:PrincipalAccount"]) == "${AWS::AccountId}"
    assert source_template["Parameters"]["ConsumerExternalId"]["NoEcho"] is True


STACK_ACCOUNT = "111122223333"
OTHER_ACCOUNT = "444455556666"


def _may_assume(template: dict[str, Any], principal: str, external_id: str, caller: str, presented: str | None) -> bool:
    """Evaluate the consumer role's trust statement for one AssumeRole call (the template's own Fn::If resolved
    with the given parameters): does the caller ARN match the principal, and do the condition keys hold?"""
    (st,) = statements(template["Resources"]["ConsumerRole"]["Properties"]["AssumeRolePolicyDocument"])
    values = {"ConsumerPrincipalArn": principal, "ConsumerExternalId": external_id, "AWS::AccountId": STACK_ACCOUNT}
    caller_account = caller.split(":")[4]
    principal_matches = caller == principal or principal == f"arn:aws:iam::{caller_account}:root"
    condition = st["Condition"]["Fn::If"]
    branch = condition[1] if external_id else condition[2]
    context = {"sts:ExternalId": presented, "aws:PrincipalAccount": caller_account}
    holds = all(context[key] == values[render(value)[2:-1]] for key, value in branch["StringEquals"].items())
    return principal_matches and holds


def test_a_cross_account_principal_is_refused_without_an_external_id(source_template: dict[str, Any]) -> None:
    other_role = f"arn:aws:iam::{OTHER_ACCOUNT}:role/nifi"
    other_root = f"arn:aws:iam::{OTHER_ACCOUNT}:root"
    own_role = f"arn:aws:iam::{STACK_ACCOUNT}:role/nifi"
    # The confused deputy: another account named, no ExternalId configured -> nobody there can assume the role.
    assert not _may_assume(source_template, other_role, "", other_role, None)
    assert not _may_assume(source_template, other_root, "", other_role, None)
    # With the ExternalId configured, the other account must present it.
    assert _may_assume(source_template, other_role, "ext-id-42", other_role, "ext-id-42")
    assert not _may_assume(source_template, other_role, "ext-id-42", other_role, None)
    assert not _may_assume(source_template, other_role, "ext-id-42", other_role, "wrong")
    # A principal in the stack's own account needs no ExternalId.
    assert _may_assume(source_template, own_role, "", own_role, None)
    assert not _may_assume(source_template, own_role, "", other_role, None)


def test_every_alarm_notifies_the_encrypted_topic(source_template: dict[str, Any]) -> None:
    alarms = resources_of_type(source_template, "AWS::CloudWatch::Alarm")
    topics = resources_of_type(source_template, "AWS::SNS::Topic")
    watched = set()
    for name, alarm in alarms.items():
        actions = alarm["Properties"].get("AlarmActions")
        assert actions, f"{name} has no AlarmActions"
        for action in actions:
            assert render(action).strip("${}") in topics, f"{name} notifies {action}, not the alarm topic"
        props = alarm["Properties"]
        for metric in [props] + [m["MetricStat"]["Metric"] for m in props.get("Metrics", []) if "MetricStat" in m]:
            if "MetricName" in metric:
                watched.add((metric["Namespace"], metric["MetricName"]))
    assert {
        ("AWS/Kinesis", "GetRecords.IteratorAgeMilliseconds"),
        ("AWS/Kinesis", "ReadProvisionedThroughputExceeded"),
        ("AWS/Kinesis", "WriteProvisionedThroughputExceeded"),
        ("AWS/DynamoDB", "ThrottledRequests"),
        ("AWS/DynamoDB", "SystemErrors"),
        ("AWS/Lambda", "Errors"),
    } <= watched


def _taggable(resource_type: str) -> bool:
    schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema("us-east-1", resource_type).schema
    return "Tags" in schema.get("properties", {})


def test_every_taggable_resource_carries_the_phi_tags(source_template: dict[str, Any]) -> None:
    tagged = 0
    for name, resource in source_template["Resources"].items():
        if not _taggable(resource["Type"]):
            continue
        tags = resource["Properties"].get("Tags")
        assert isinstance(tags, list), f"{name} ({resource['Type']}) has no Tags list"
        as_dict = {t["Key"]: t["Value"] for t in tags}
        for key, value in PHI_TAGS.items():
            assert as_dict.get(key) == value, f"{name} lacks tag {key}={value}"
        tagged += 1
    assert tagged >= 10


def test_parameters_are_constrained_and_described(source_template: dict[str, Any]) -> None:
    for name, param in source_template["Parameters"].items():
        assert param.get("Description"), f"parameter {name} has no Description"
        constraints = {"AllowedValues", "AllowedPattern", "MinValue", "MaxValue"} & set(param)
        assert constraints, f"parameter {name} accepts anything"


FLOW_DEFINITIONS = sorted((REPO / "flow-definitions").glob("*.json"))
WIRING_SECTION = "## Wire the outputs into the flow"
# Flow parameter names start with one of these words (the flows' own convention); a backticked name with a space
# that starts with one of them in the README is taken as naming a flow parameter.
FLOW_PARAMETER_PREFIXES = ("AWS ", "Kinesis ", "Snowflake ", "ClaimFlow ")
_TABLE_ROW = re.compile(r"^\| `(?P<source>[^`]+)`[^|]*\| `(?P<parameter>[^`]+)`", re.MULTILINE)
_BACKTICKED = re.compile(r"`([^`\n]+)`")


def _flow_documents() -> dict[str, dict[str, Any]]:
    return {path.name: json.loads(path.read_text(encoding="utf-8")) for path in FLOW_DEFINITIONS}


def _flow_parameters() -> dict[str, set[str]]:
    """Flow-definition file name -> the names in its parameter context(s), read from the generated JSON."""
    return {
        name: {p["name"] for context in document["parameterContexts"].values() for p in context["parameters"]}
        for name, document in _flow_documents().items()
    }


def _readme_wiring(readme: str) -> dict[str, str]:
    """Stack output or parameter -> flow parameter, from the README's wiring table."""
    assert WIRING_SECTION in readme, f"infra/README.md has no {WIRING_SECTION!r} section"
    section = readme.split(WIRING_SECTION, 1)[1].split("\n## ", 1)[0]
    return {m["source"]: m["parameter"] for m in _TABLE_ROW.finditer(section)}


def test_outputs_feed_the_flow_parameter_context(source_template: dict[str, Any]) -> None:
    outputs = source_template["Outputs"]
    for needed in (
        "AwsRegion",
        "KinesisStreamName",
        "KinesisStreamArn",
        "KinesisApplicationName",
        "ConsumerRoleArn",
        "TableName",
        "KmsKeyArn",
    ):
        assert needed in outputs, f"missing output {needed}"
    assert render(outputs["AwsRegion"]["Value"]) == "${AWS::Region}"
    assert render(outputs["KinesisStreamName"]["Value"]) == "${ClaimsStream}"
    assert render(outputs["KinesisStreamArn"]["Value"]) == "${ClaimsStream.Arn}"
    assert render(outputs["KinesisApplicationName"]["Value"]) == "${KclApplicationName}"
    assert render(outputs["ConsumerRoleArn"]["Value"]) == "${ConsumerRole.Arn}"


def test_readme_maps_real_outputs_to_real_flow_parameters(source_template: dict[str, Any]) -> None:
    """infra/README.md's wiring table maps outputs of the template to parameters of every generated flow."""
    flows = _flow_parameters()
    assert len(flows) >= 2, "flow-definitions/ holds no generated flows"
    wiring = _readme_wiring((REPO / "infra" / "README.md").read_text(encoding="utf-8"))
    # The outputs a deployment cannot do without: where the stream is, who may read it, and the lease tables' name.
    for output in ("AwsRegion", "KinesisStreamName", "KinesisApplicationName", "ConsumerRoleArn"):
        assert output in wiring, f"the README does not map output {output}"
        assert output in source_template["Outputs"], f"{output} is not an Output of the template"
    for source, parameter in wiring.items():
        assert source in source_template["Outputs"] or source in source_template["Parameters"], (
            f"README maps {source}, which the template neither outputs nor takes"
        )
        for flow, parameters in flows.items():
            assert parameter in parameters, f"README maps {source} to {parameter!r}, which {flow} does not have"


def test_readme_names_only_real_flow_parameters() -> None:
    flows = _flow_parameters()
    contexts = {context for document in _flow_documents().values() for context in document["parameterContexts"]}
    known = set.union(*flows.values()) | contexts  # "ClaimFlow NiFi" names a context, not a parameter
    readme = (REPO / "infra" / "README.md").read_text(encoding="utf-8")
    named = {name for name in _BACKTICKED.findall(readme) if name.startswith(FLOW_PARAMETER_PREFIXES)}
    assert named, "the README names no flow parameter"
    assert sorted(named - known) == []


class TestGenerator:
    @pytest.fixture()
    def res(self, source_template: dict[str, Any]) -> dict[str, Any]:
        return source_template["Resources"]

    def test_everything_of_the_generator_is_conditional(self, res: dict[str, Any]) -> None:
        names = [n for n in res if n.startswith("Generator")]
        assert len(names) >= 8
        for name in names:
            assert res[name].get("Condition") in {"GeneratorEnabled", "GeneratorInVpc"}, name

    def test_function_hardening(self, res: dict[str, Any]) -> None:
        props = res["GeneratorFunction"]["Properties"]
        assert props["ReservedConcurrentExecutions"] >= 1
        assert props["TracingConfig"]["Mode"] == "Active"
        assert render(props["DeadLetterConfig"]["TargetArn"]) == "${GeneratorDeadLetterQueue.Arn}"
        assert render(props["KmsKeyArn"]) == "${ClaimsKey.Arn}"
        assert render(props["LoggingConfig"]["LogGroup"]) == "${GeneratorLogGroup}"
        vpc = props["VpcConfig"]["Fn::If"]
        assert vpc[0] == "GeneratorInVpc" and vpc[2] == {"Ref": "AWS::NoValue"}
        code = props["Code"]["ZipFile"]
        assert len(code) <= 4096, "inline Lambda code is limited to 4 KB"
        compile(code, "index.py", "exec")

    def test_security_group_opens_no_inbound_port(self, res: dict[str, Any]) -> None:
        props = res["GeneratorSecurityGroup"]["Properties"]
        assert "SecurityGroupIngress" not in props
        assert not resources_of_type({"Resources": res}, "AWS::EC2::SecurityGroupIngress")
        for rule in props["SecurityGroupEgress"]:
            assert (rule["FromPort"], rule["ToPort"]) == (443, 443)

    def test_role_can_only_write_claims_and_use_the_key(self, source_template: dict[str, Any]) -> None:
        # The stack's own table (default table mode); tests/infra/test_existing_table.py covers the other modes.
        res = resolve(source_template, {"EnableClaimsGenerator": "true"})["Resources"]
        grants: dict[str, set[str]] = {}
        for policy in res["GeneratorRole"]["Properties"]["Policies"]:
            for st in statements(policy["PolicyDocument"]):
                for action in as_list(st["Action"]):
                    grants.setdefault(action, set()).update(render(r) for r in as_list(st["Resource"]))
        dynamodb = {a for a in grants if a.startswith("dynamodb:")}
        assert dynamodb == {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"}
        for action in dynamodb:
            assert grants[action] == {"${ClaimsTable.Arn}"}
        assert {a for a in grants if a.startswith("kms:")} == {"kms:Decrypt", "kms:GenerateDataKey"}
        assert grants["kms:Decrypt"] == {"${ClaimsKey.Arn}"}
        assert set(grants) - dynamodb - {"kms:Decrypt", "kms:GenerateDataKey"} == {
            "sqs:SendMessage",
            "logs:CreateLogStream",
            "logs:PutLogEvents",
            "xray:PutTraceSegments",
            "xray:PutTelemetryRecords",
        }
