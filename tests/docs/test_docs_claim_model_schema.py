"""docs/claim-model.schema.json is the current JSON Schema of the claim model, and it says what the model says."""

from __future__ import annotations

import random
from pathlib import Path

import jsonschema
import orjson
import pytest

from claimflow.claims.model import SCHEMA_PATH, ClaimModel, json_schema, main, render_json_schema
from claimflow.claims.synthetic import claim_item

REPO = Path(__file__).resolve().parents[2]


def test_committed_schema_is_current() -> None:
    assert SCHEMA_PATH == REPO / "docs" / "claim-model.schema.json"
    assert SCHEMA_PATH.read_text(encoding="utf-8") == render_json_schema(), (
        "docs/claim-model.schema.json is stale: run python -m claimflow.claims.model"
    )


def test_check_flags_a_stale_file_and_writing_makes_it_current(tmp_path: Path) -> None:
    out = tmp_path / "schema.json"
    out.write_text("{}\n", encoding="utf-8")
    assert main(["--check", "--out", str(out)]) == 1
    assert main(["--out", str(out)]) == 0
    assert main(["--check", "--out", str(out)]) == 0


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = orjson.loads(SCHEMA_PATH.read_bytes())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def _claims(count: int) -> list[dict]:
    rng = random.Random(5)
    return [orjson.loads(orjson.dumps(ClaimModel.model_validate(claim_item(rng, n)).model_dump(mode="json")))
            for n in range(count)]


def test_validated_claims_fit_the_schema(validator: jsonschema.Draft202012Validator) -> None:
    claims = _claims(25)
    assert any(claim["procedures"] and claim["diagnosis_codes"] for claim in claims)  # the nested parts are used
    for claim in claims:
        assert list(validator.iter_errors(claim)) == []


@pytest.mark.parametrize(
    ("change", "rule"),
    [
        (lambda c: c.update(unknown_field="x"), "additionalProperties"),
        (lambda c: c.pop("claim_id"), "required"),
        (lambda c: c["patient"].update(nickname="x"), "additionalProperties"),
        (lambda c: c.update(total_charge=-1), "minimum"),
        (lambda c: c["procedures"][0].update(units=0), "minimum"),
        (lambda c: c.update(diagnosis_codes=["E11;9"]), "pattern"),
        (lambda c: c.update(diagnosis_codes=["E11.9"] * 100), "maxItems"),
        (lambda c: c["procedures"][0].update(modifiers=["25"] * 5), "maxItems"),
    ],
)
def test_the_schema_states_the_model_constraints(validator, change, rule: str) -> None:
    claim = next(c for c in _claims(10) if c["procedures"])
    assert list(validator.iter_errors(claim)) == []
    change(claim)
    # iter_errors descends into anyOf branches: the rule shows up in an error's context when not at the top.
    found = set()
    for error in validator.iter_errors(claim):
        found |= {error.validator, *(sub.validator for sub in error.context or ())}
    assert rule in found


def test_schema_names_the_claim_groups() -> None:
    schema = json_schema()
    assert {"Patient", "Provider", "Payer", "ProcedureLine"} <= set(schema["$defs"])
    assert schema["required"] == ["claim_id"]
