"""MergeClaimsToSnowflake through the offline NiFi TestRunner, on Snowpark local testing."""

from __future__ import annotations

import json
from typing import Any

import pytest
from _sf_helpers import BASE_TIME_US, local_session, make_row
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from snowflake.connector.errors import OperationalError, ProgrammingError

from claimflow.snowflake import spec
from claimflow.snowflake.service import (
    InvalidBatch,
    InvalidSettings,
    MergeSettings,
    classify_error,
    load_private_key_der,
    parse_rows,
)
from claimflow.snowflake.snowpark_merge import SnowparkMerger, create_tables
from claimflow_offline.discovery import inspect_module
from claimflow_offline.runner import PROCESSORS_DIR, TestRunner, load_processor_class

PHI_VALUES = ("Testperson", "alex@example.invalid", "555-0100", "1 Synthetic Way", "1980-02-29")


class _SharedSession:
    """A local-testing session that survives the processor closing it (its data would vanish otherwise)."""

    def __init__(self, session: Any, factory: _Factory) -> None:
        self._session = session
        self._factory = factory

    def close(self) -> None:
        self._factory.closes += 1

    def __getattr__(self, name: str) -> Any:
        return getattr(self._session, name)


class _Factory:
    """Hands the processor one shared local-testing session; counts sessions requested and closed."""

    def __init__(self) -> None:
        self.session = local_session()
        create_tables(self.session)
        self.calls = 0
        self.closes = 0

    def __call__(self, settings: MergeSettings) -> Any:
        self.calls += 1
        return _SharedSession(self.session, self)


def _runner(factory: _Factory) -> TestRunner:
    base = load_processor_class(PROCESSORS_DIR / "MergeClaimsToSnowflake.py")

    class WithFactory(base):  # type: ignore[misc, valid-type]
        def __init__(self, **kwargs: Any) -> None:
            super().__init__(session_factory=factory, **kwargs)

    runner = TestRunner(WithFactory)
    runner.set_property("Account", "local")
    runner.set_property("User", "local")
    runner.set_property("Snowpark Local Testing", "true")
    return runner


def _ndjson(rows: list[dict[str, Any]]) -> bytes:
    return b"\n".join(json.dumps(r).encode() for r in rows)


def _destination(session: Any) -> dict[str, tuple[str, bool]]:
    rows = session.table(spec.DEFAULT_TABLES.destination).collect()
    return {r["CLAIMID"]: (r["EVENTNAME"], r["ISDELETED"]) for r in rows}


def _counts(session: Any) -> tuple[int, int, int]:
    t = spec.DEFAULT_TABLES
    return tuple(session.table(n).count() for n in (t.staging, t.history, t.destination))  # type: ignore[return-value]


def test_processor_is_discoverable_with_literal_details() -> None:
    report = inspect_module(PROCESSORS_DIR / "MergeClaimsToSnowflake.py")
    assert report.problems == []
    (info,) = report.processors
    assert info.version == "0.1.0"
    assert any(d.startswith("snowflake-snowpark-python") for d in info.dependencies)
    runner = TestRunner("MergeClaimsToSnowflake")
    assert info.property_names == [d.name for d in runner.property_descriptors()]
    assert set(runner.relationships()) >= {"success", "retry", "failure"}
    sensitive = {d.name for d in runner.property_descriptors() if d.sensitive}
    assert sensitive == {"Private Key", "Private Key Passphrase", "Password"}


def test_merges_flowfiles_in_order_and_reuses_one_session() -> None:
    factory = _Factory()
    runner = _runner(factory)
    runner.enqueue(_ndjson([make_row("N1", "INSERT", BASE_TIME_US), make_row("N2", "INSERT", BASE_TIME_US)]))
    runner.enqueue(json.dumps([make_row("N1", "MODIFY", BASE_TIME_US + 5), make_row("N2", "REMOVE", BASE_TIME_US + 5)]))
    runner.enqueue(_ndjson([make_row("N1", "INSERT", BASE_TIME_US)]))  # replay of an old event: ignored
    runner.run(3, stop_on_finish=False)
    runner.assert_all_transferred("success", 3)
    first, second, third = runner.get_flowfiles_for("success")
    first.assert_attribute_equals("cdc.merge.inserted", "2")
    second.assert_attribute_equals("cdc.merge.updated", "2")
    third.assert_attribute_equals("cdc.merge.ignored", "1")
    third.assert_attribute_equals("record.count", "1")
    assert _destination(factory.session) == {"N1": ("MODIFY", False), "N2": ("REMOVE", True)}
    assert _counts(factory.session) == (0, 5, 2)
    assert factory.calls == 1 and factory.closes == 0  # created lazily once, reused across FlowFiles
    runner.stop()
    assert runner.processor.service is None and factory.closes == 1  # onStopped closed it


def test_invalid_rows_go_to_failure_without_phi_and_apply_nothing() -> None:
    factory = _Factory()
    runner = _runner(factory)
    bad = make_row("B1", "MODIFY", BASE_TIME_US, kinesisSequenceNumber="12x")
    runner.enqueue(_ndjson([make_row("B0", "INSERT", BASE_TIME_US), bad]))
    runner.enqueue(b'{"claimId": "B2", "patientLastName": "Testperson"\n')
    runner.run(2, stop_on_finish=False)
    runner.assert_all_transferred("failure", 2)
    one, two = runner.get_flowfiles_for("failure")
    assert "row 1" in one.getAttribute("cdc.error") and "kinesisSequenceNumber" in one.getAttribute("cdc.error")
    assert "line 1" in two.getAttribute("cdc.error")
    text = runner.all_attribute_text() + runner.log_text()
    assert not any(value in text for value in PHI_VALUES)
    assert _counts(factory.session) == (0, 0, 0)


def test_transient_error_routes_to_retry_with_nothing_applied(monkeypatch: pytest.MonkeyPatch) -> None:
    factory = _Factory()
    runner = _runner(factory)
    runner.enqueue(_ndjson([make_row("R1", "INSERT", BASE_TIME_US)]))
    runner.run(1, stop_on_finish=False)
    before = _counts(factory.session)

    def network_down(self: Any, *args: Any) -> Any:
        raise OperationalError(msg="connection reset while merging claim for Testperson", errno=250001)

    monkeypatch.setattr(SnowparkMerger, "_merge", network_down)  # fails after staging and history were appended
    runner.enqueue(_ndjson([make_row("R1", "MODIFY", BASE_TIME_US + 1), make_row("R2", "INSERT", BASE_TIME_US)]))
    runner.run(1, stop_on_finish=False)
    runner.assert_transferred("retry", 1)
    (retry,) = runner.get_flowfiles_for("retry")
    assert retry.getAttribute("cdc.error") == "transient Snowflake error: OperationalError (code 250001)"
    assert _counts(factory.session) == before  # rolled back: staging, history and destination unchanged
    assert "Testperson" not in runner.all_attribute_text() + runner.log_text()
    monkeypatch.undo()
    runner.enqueue(_ndjson([make_row("R1", "MODIFY", BASE_TIME_US + 1)]))
    runner.run(1, stop_on_finish=False)
    assert (factory.calls, factory.closes) == (2, 1)  # the connection error dropped the session; then reconnected
    assert _destination(factory.session) == {"R1": ("MODIFY", False)}
    runner.stop()


def test_permanent_snowflake_error_goes_to_failure_with_code_only(monkeypatch: pytest.MonkeyPatch) -> None:
    factory = _Factory()
    runner = _runner(factory)

    def bad_sql(self: Any, *args: Any) -> Any:
        raise ProgrammingError(msg="Numeric value 'Testperson' is not recognized", errno=100038)

    monkeypatch.setattr(SnowparkMerger, "_merge", bad_sql)
    runner.enqueue(_ndjson([make_row("F1", "INSERT", BASE_TIME_US)]))
    runner.run(1)
    runner.assert_all_transferred("failure", 1)
    (failed,) = runner.get_flowfiles_for("failure")
    assert failed.getAttribute("cdc.error") == "Snowflake error: ProgrammingError (code 100038)"
    assert "Testperson" not in runner.all_attribute_text() + runner.log_text()


@pytest.mark.parametrize(
    ("prop", "value"),
    [
        ("Staging Table", "CLAIMS_STAGING; DROP TABLE CLAIMS_CURRENT"),
        ("Destination Table", '"claims"'),
        ("Database", "CLAIMFLOW_DB.CDC"),
        ("Role", "ACCOUNTADMIN --"),
        ("Warehouse", "WH' OR '1'='1"),
    ],
)
def test_identifier_properties_reject_injection(prop: str, value: str) -> None:
    settings = dict(account="myorg-acct", user="CLAIMFLOW_SVC", warehouse="CLAIMFLOW_WH", database="CLAIMFLOW_DB",
                    schema="CDC", role="CLAIMFLOW_MERGER", password="x", authentication="PASSWORD")  # fmt: skip
    key = {"Database": "database", "Role": "role", "Warehouse": "warehouse"}.get(prop)
    tables = spec.TableNames()
    if key:
        settings[key] = value
    elif prop == "Staging Table":
        tables = spec.TableNames(staging=value)
    else:
        tables = spec.TableNames(destination=value)
    with pytest.raises(InvalidSettings) as info:
        MergeSettings(tables=tables, **settings).validate()
    assert prop in str(info.value) and value not in str(info.value)


def _pem(passphrase: bytes | None) -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    encryption = (
        serialization.BestAvailableEncryption(passphrase) if passphrase else serialization.NoEncryption()
    )
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption).decode()


def test_key_pair_settings_load_encrypted_keys_and_never_echo_them(tmp_path: Any) -> None:
    pem = _pem(b"s3cret")
    der = load_private_key_der(pem, None, "s3cret")
    assert serialization.load_der_private_key(der, password=None).key_size == 2048
    path = tmp_path / "rsa_key.p8"
    path.write_text(pem)
    settings = MergeSettings(account="myorg-acct", user="CLAIMFLOW_SVC", warehouse="CLAIMFLOW_WH",
                             database="CLAIMFLOW_DB", schema="CDC", private_key_file=str(path),
                             private_key_passphrase="s3cret")  # fmt: skip
    params = settings.connection_parameters()
    assert params["private_key"] == der and "password" not in params
    assert "s3cret" not in repr(settings) and "PRIVATE KEY" not in repr(settings)
    with pytest.raises(InvalidSettings) as info:
        load_private_key_der(pem, None, "wrong")
    assert "PRIVATE KEY" not in str(info.value) and "wrong" not in str(info.value)
    with pytest.raises(InvalidSettings):
        MergeSettings(account="a", user="u", warehouse="W", database="D", schema="S").validate()  # no key at all


def test_parse_rows_accepts_ndjson_and_arrays_and_names_bad_lines() -> None:
    rows = [make_row("P1", "INSERT", BASE_TIME_US), make_row("P2", "INSERT", BASE_TIME_US)]
    assert parse_rows(_ndjson(rows) + b"\n\n") == rows
    assert parse_rows(json.dumps(rows).encode()) == rows
    assert parse_rows(b"") == []
    with pytest.raises(InvalidBatch, match="line 2"):
        parse_rows(_ndjson(rows[:1]) + b"\n{not json")
    with pytest.raises(InvalidBatch, match="row 0 is not a JSON object"):
        parse_rows(b"[1]")


def test_classify_error() -> None:
    assert classify_error(OperationalError(msg="x", errno=250003)).relationship == "retry"
    assert classify_error(ProgrammingError(msg="lock wait", errno=625)).relationship == "retry"
    assert classify_error(ProgrammingError(msg="no table", errno=2003)).relationship == "failure"
    assert classify_error(ConnectionResetError()).reconnect is True
    assert classify_error(spec.InvalidRow("row 0 (eventId e): bad")).reason == "invalid input: row 0 (eventId e): bad"
    assert classify_error(ValueError("anything")).relationship == "failure"
    from snowflake.snowpark.exceptions import SnowparkSQLException

    wrapped = SnowparkSQLException("boom", error_code="1304", sql_error_code=630)
    assert (classify_error(wrapped).relationship, classify_error(wrapped).reconnect) == ("retry", False)
    lost = SnowparkSQLException("boom", conn_error=OperationalError(msg="reset", errno=250003))
    assert classify_error(lost).reconnect is True and classify_error(lost).reason.endswith("(code 250003)")
    compile_error = SnowparkSQLException("invalid identifier", sql_error_code=904)
    assert classify_error(compile_error).reason == "Snowflake error: SnowparkSQLException (code 904)"


def test_custom_validate_names_the_bad_setting_without_its_value() -> None:
    runner = TestRunner("MergeClaimsToSnowflake")
    runner.set_property("Account", "myorg-acct")
    runner.set_property("User", "CLAIMFLOW_SVC")
    problems = runner.assert_not_valid()  # key-pair authentication without a key
    assert any("Private Key" in p.explanation for p in problems)
    runner.set_property("Private Key", _pem(None))
    runner.set_property("Staging Table", "X;DROP TABLE Y")
    problems = runner.assert_not_valid()
    assert any("Staging Table" in p.explanation and "DROP" not in p.explanation for p in problems)
    runner.set_property("Staging Table", "CLAIMS_STAGING")
    runner.assert_valid()
