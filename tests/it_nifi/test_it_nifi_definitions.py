"""What a real NiFi says about ClaimFlow's processors (discovery, the processor definitions that feed its docs) and
about the two shipped flow definitions once imported."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from claimflow.flow.pyprocessors import PROCESSOR_FOLDER, read_processors

from .conftest import report
from .nifi import PYTHON_BUNDLE, NiFi, still_loading

REPO = Path(__file__).resolve().parents[2]
SPECS = read_processors(PROCESSOR_FOLDER)
# NiFi 2.9-2.11 write these three relationships into every Python processor's definition (runtime manifest), whatever
# the processor declares (StandardRuntimeManifestService.createExtension); a created processor has its own.
MANIFEST_RELATIONSHIPS = ["failure", "original", "success"]
# What only a real account can make valid: properties and parameters holding credentials or account names.
CREDENTIAL_WORDS = ("Access Key", "Secret", "Account", "User", "Private Key", "HMAC Key", "Password", "Role ARN",
                    "Credentials", "External ID")
# Components of the Openflow flow that a plain Apache NiFi does not have (Snowflake's Openflow runtime bundles).
OPENFLOW_ONLY_TYPES = ("com.snowflake.openflow.runtime.processors.snowpipe.PutSnowpipeStreaming",)


def test_it_nifi_discovers_every_processor(nifi: NiFi) -> None:
    found = nifi.wait_for("ClaimFlow's processor types", lambda: (
        lambda types: types if set(SPECS) <= set(types) else None)(
        {t["type"]: t["bundle"] for t in nifi.processor_types()}), 300, 3)
    for name, spec in SPECS.items():
        assert found[name] == {**PYTHON_BUNDLE, "version": spec.version}, name


@pytest.mark.parametrize("name", sorted(SPECS))
def test_it_nifi_documents_each_property_as_the_processor_declares(nifi: NiFi, name: str) -> None:
    spec = SPECS[name]
    definition = nifi.api("GET", f"/flow/processor-definition/{PYTHON_BUNDLE['group']}/"
                                 f"{PYTHON_BUNDLE['artifact']}/{spec.version}/{name}")
    documented = definition.get("propertyDescriptors") or {}
    java_side = ("Record Reader", "Record Writer")
    assert sorted(documented) == sorted(p.name for p in spec.properties if p.name not in java_side)
    for prop in spec.properties:
        if prop.name in java_side:
            continue
        shown = documented[prop.name]
        values = [v["value"] for v in shown.get("allowableValues") or []] or None
        assert values == (None if prop.allowable_values is None else list(prop.allowable_values)), prop.name
        assert all(v.get("value") for v in shown.get("allowableValues") or []), prop.name  # no [{}, {}]
        assert shown.get("defaultValue") == prop.default, prop.name
        assert (shown["required"], shown["sensitive"]) == (prop.required, prop.sensitive), prop.name
        dependencies = [(d["propertyName"], tuple(d["dependentValues"]["values"] if isinstance(
            d["dependentValues"], dict) else d["dependentValues"])) for d in shown.get("dependencies") or []]
        assert dependencies == list(prop.dependencies), prop.name
    # Every true/false property shows its two values, and nothing ClaimFlow declares is left without a default.
    for prop in spec.properties:
        if prop.default in ("true", "false"):
            assert [v["value"] for v in documented[prop.name]["allowableValues"]] == ["true", "false"]
    assert sorted(r["name"] for r in definition.get("supportedRelationships") or []) == MANIFEST_RELATIONSHIPS


def test_it_nifi_loads_the_snowpark_merge_processor(nifi: NiFi) -> None:
    """MergeClaimsToSnowflake from the Snowpark NAR: its Python process imports Snowpark from the bundled
    dependencies; without an account only its account properties are invalid."""
    spec = SPECS["MergeClaimsToSnowflake"]
    group = nifi.create_group(nifi.root_id(), "claimflow-it-merge")
    pid = nifi.create_processor(group, spec.class_name, {**PYTHON_BUNDLE, "version": spec.version}, spec.class_name)
    component = nifi.wait_loaded(pid, len(spec.properties))
    relationships = sorted(r["name"] for r in component["relationships"])
    assert relationships == sorted(spec.relationships)
    nifi.update_processor(pid, auto_terminate=relationships)  # unconnected on purpose
    component = nifi.wait_for("the merge processor to validate", lambda: (
        lambda c: c if c["validationStatus"] != "VALIDATING" else None)(nifi.processor(pid)), 120)
    errors = [e for e in component.get("validationErrors") or [] if "Upstream Connections" not in e]  # unconnected
    assert errors and all(any(word in e for word in CREDENTIAL_WORDS) for e in errors), errors
    report("merge_processor_validation", errors)


def _components(nifi: NiFi, group: str) -> list[dict[str, Any]]:
    """Every processor and controller service under ``group``, nested groups too."""
    found = []
    flow = nifi.api("GET", f"/flow/process-groups/{group}")["processGroupFlow"]["flow"]
    found += [{"kind": "processor", **p["component"]} for p in flow["processors"]]
    services = nifi.api("GET", f"/flow/process-groups/{group}/controller-services?includeAncestorGroups=false")
    found += [{"kind": "service", **s["component"]} for s in services["controllerServices"]]
    for child in flow["processGroups"]:
        found += _components(nifi, child["id"])
    return found


def _wait_python_loaded(nifi: NiFi, group: str) -> list[dict[str, Any]]:
    def settled() -> list[dict[str, Any]] | None:
        components = _components(nifi, group)
        pending = [c for c in components if c.get("validationStatus") == "VALIDATING" or any(
            still_loading(e) for e in c.get("validationErrors") or [])]
        return None if pending else components

    return list(nifi.wait_for("the imported flow to validate", settled, 420, 3))


@pytest.mark.parametrize("flow_file", ["claimflow-nifi.json", "claimflow-openflow.json"])
def test_it_nifi_imports_the_flow_definition_valid_but_for_credentials(nifi: NiFi, flow_file: str) -> None:
    definition = (REPO / "flow-definitions" / flow_file).read_bytes()
    group = nifi.upload_flow(nifi.root_id(), flow_file.removesuffix(".json"), definition)
    services = nifi.api("GET", f"/flow/process-groups/{group}/controller-services?includeAncestorGroups=false")
    nifi.api("PUT", f"/flow/process-groups/{group}/controller-services", {"id": group, "state": "ENABLED"})
    components = _wait_python_loaded(nifi, group)
    expected_names = {p["name"] for p in json.loads(definition)["flowContents"]["processors"]}
    assert {c["name"] for c in components if c["kind"] == "processor"} == expected_names
    openflow_only, not_installed, invalid, reasons = [], [], {}, {}
    installed = {nar.name.rsplit("-", 1)[0] for nar in (nifi.home / "lib").glob("*.nar")}
    for component in components:
        if component["type"] in OPENFLOW_ONLY_TYPES:
            assert component.get("extensionMissing"), component["name"]
            openflow_only.append(component["name"])
            continue
        if component.get("extensionMissing"):
            # Allowed only when this NiFi lacks the whole bundle (a trimmed build; official binaries have it).
            assert component["bundle"]["artifact"] not in installed, (component["name"], component["type"])
            not_installed.append(f"{component['name']} ({component['bundle']['artifact']})")
            continue
        errors = component.get("validationErrors") or []
        if errors:
            invalid[component["name"]] = errors
    for name, errors in invalid.items():
        for error in errors:
            # A component may also be invalid because a service it uses is (that service's reason is checked).
            ok = any(word in error for word in CREDENTIAL_WORDS) or "Controller Service" in error
            reasons.setdefault("credential" if ok else "other", []).append(f"{name}: {error}")
    report(f"import_{flow_file}", {"invalid": invalid, "openflow_only": openflow_only,
                                   "bundle_not_in_this_nifi": not_installed,
                                   "services": len(services["controllerServices"])})
    assert reasons.get("other", []) == []
    if flow_file == "claimflow-openflow.json":
        assert openflow_only, "the Openflow flow's PutSnowpipeStreaming should be missing from plain NiFi"
