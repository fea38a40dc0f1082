"""What the MergeClaimsToSnowflake processor does, without NiFi: settings, session lifecycle, error classification.

- ``MergeSettings``: connection and table settings, every identifier checked against a strict regex (a property
  value can never inject SQL); key-pair (PEM text or file, optional passphrase) or password authentication.
- ``parse_rows``: a FlowFile's claim rows (NDJSON or a JSON array) -> list of dicts.
- ``classify_error``: "retry" for transient failures (network, HTTP 5xx, lock or statement timeouts), "failure"
  otherwise, with a reason that never quotes a data value (database messages can echo values: only the error type
  and code are kept).
- ``MergeService``: one Snowpark session reused across FlowFiles (created lazily, dropped after a connection-level
  error, closed by ``close``), merging each FlowFile in one transaction with ``SnowparkMerger``.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from claimflow.snowflake.connector import BatchResult
from claimflow.snowflake.naming import InvalidIdentifier, check_identifier
from claimflow.snowflake.spec import DEFAULT_TABLES, InvalidRow, TableNames

KEY_PAIR = "KEY_PAIR"
PASSWORD = "PASSWORD"
ACCOUNT = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,254}")
USER = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.@$-]{0,254}")
# Local testing keeps rows in memory only: a production NiFi must not be able to turn it on by a property alone.
ALLOW_LOCAL_TESTING_VARIABLE = "CLAIMFLOW_ALLOW_SNOWPARK_LOCAL_TESTING"


class InvalidSettings(ValueError):
    """A processor setting is missing or malformed (the message names the setting, never its value)."""


class InvalidBatch(ValueError):
    """A FlowFile's content is not claim rows (the message names the line or position, never the content)."""


@dataclass(frozen=True)
class MergeSettings:
    account: str
    user: str
    warehouse: str
    database: str
    schema: str
    role: str | None = None
    authentication: str = KEY_PAIR
    private_key_pem: str | None = field(default=None, repr=False)
    private_key_file: str | None = None
    private_key_passphrase: str | None = field(default=None, repr=False)
    password: str | None = field(default=None, repr=False)
    tables: TableNames = DEFAULT_TABLES
    local_testing: bool = False

    def validate(self) -> None:
        """Raises InvalidSettings naming the first bad setting."""
        if self.local_testing:
            if os.environ.get(ALLOW_LOCAL_TESTING_VARIABLE) != "1":
                raise InvalidSettings(
                    f"Snowpark Local Testing keeps data in memory only and is refused unless the environment sets "
                    f"{ALLOW_LOCAL_TESTING_VARIABLE}=1 (tests and demos)"
                )
            self._check_tables()
            return
        if not ACCOUNT.fullmatch(self.account or ""):
            raise InvalidSettings("Account must be an account identifier such as myorg-myaccount")
        if not USER.fullmatch(self.user or ""):
            raise InvalidSettings("User must be a plain Snowflake user name")
        for label, value in (("Warehouse", self.warehouse), ("Database", self.database), ("Schema", self.schema)):
            _check(value, label)
        if self.role:
            _check(self.role, "Role")
        self._check_tables()
        if self.authentication == KEY_PAIR:
            if not (self.private_key_pem or self.private_key_file):
                raise InvalidSettings("Key-pair authentication needs a Private Key or a Private Key File")
        elif self.authentication == PASSWORD:
            if not self.password:
                raise InvalidSettings("Password authentication needs a Password")
        else:
            raise InvalidSettings(f"Authentication Strategy must be {KEY_PAIR} or {PASSWORD}")

    def _check_tables(self) -> None:
        for label, value in (("Staging Table", self.tables.staging), ("History Table", self.tables.history),
                             ("Destination Table", self.tables.destination)):  # fmt: skip
            _check(value, label)

    def connection_parameters(self) -> dict[str, Any]:
        """Snowpark ``Session.builder.configs`` parameters (secrets included: never log the result)."""
        self.validate()
        params: dict[str, Any] = {
            "account": self.account,
            "user": self.user,
            "warehouse": self.warehouse,
            "database": self.database,
            "schema": self.schema,
            "application": "ClaimFlow",
        }
        if self.role:
            params["role"] = self.role
        if self.authentication == KEY_PAIR:
            params["private_key"] = load_private_key_der(
                self.private_key_pem, self.private_key_file, self.private_key_passphrase
            )
        else:
            params["password"] = self.password
        return params


def _check(value: str, label: str) -> None:
    try:
        check_identifier(value, label)
    except InvalidIdentifier:
        raise InvalidSettings(f"{label} must be a plain unquoted identifier (letters, digits, _ and $)") from None


def load_private_key_der(pem: str | None, path: str | None, passphrase: str | None) -> bytes:
    """PKCS#8 DER bytes of an (optionally encrypted) PEM private key, as the Snowflake connector expects.

    Raises:
        InvalidSettings: the key cannot be read or decrypted (the message never includes key material).
    """
    from cryptography.hazmat.primitives import serialization

    try:
        data = pem.encode() if pem else Path(path or "").read_bytes()
        key = serialization.load_pem_private_key(data, password=passphrase.encode() if passphrase else None)
    except (OSError, ValueError, TypeError) as exc:
        raise InvalidSettings(f"Private Key could not be loaded ({type(exc).__name__})") from None
    return key.private_bytes(
        encoding=serialization.Encoding.DER,
        format=serialization.PrivateFormat.PKCS8,
        encryption_algorithm=serialization.NoEncryption(),
    )


def parse_rows(data: bytes) -> list[dict[str, Any]]:
    """Claim rows from NDJSON or a JSON array (decimals stay strings as the row contract says).

    Raises:
        InvalidBatch: not JSON, or an item is not an object (names the line or index).
    """
    text = data.decode("utf-8", errors="strict").strip() if data else ""
    if not text:
        return []
    if text.startswith("["):
        try:
            items = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InvalidBatch(f"content is not a JSON array (position {exc.pos})") from None
    else:
        items = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                items.append(json.loads(line))
            except json.JSONDecodeError:
                raise InvalidBatch(f"line {number} is not JSON") from None
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise InvalidBatch(f"row {index} is not a JSON object")
    return items


# Snowflake error codes worth retrying. Connection-level ones (client could not reach or lost the service, session
# token expired) also drop the session; lock-waiter limit, statement timeout and cancellation keep it.
CONNECTION_ERROR_CODES = frozenset({250001, 250002, 250003, 390114, 390112})
LOCK_OR_TIMEOUT_CODES = frozenset({625, 630, 604})
_RETRYABLE_TYPE_NAMES = frozenset(
    {
        "OperationalError",
        "InterfaceError",
        "ServiceUnavailableError",
        "GatewayTimeoutError",
        "InternalServerError",
        "BadGatewayError",
        "RequestTimeoutError",
        "OtherHTTPRetryableError",
        "SnowparkSessionException",  # the session was closed or lost: reconnect
    }
)


@dataclass(frozen=True)
class Classified:
    relationship: str  # "retry" or "failure"
    reason: str  # PHI-free
    reconnect: bool  # drop the session before the next FlowFile


def _error_code(exc: BaseException) -> int | None:
    for attr in ("sql_error_code", "errno"):
        value = getattr(exc, attr, None)
        if isinstance(value, int) and value > 0:
            return value
    return None


def classify_error(exc: BaseException) -> Classified:
    """Where a failed FlowFile goes, and why, without quoting the database's message (it can echo values).

    Snowpark wraps connector errors (``SnowparkSQLException.conn_error``, ``sql_error_code``): both layers count.
    """
    if isinstance(exc, InvalidRow | InvalidBatch):
        return Classified("failure", f"invalid input: {exc}", reconnect=False)
    if isinstance(exc, InvalidSettings):
        return Classified("failure", f"invalid configuration: {exc}", reconnect=False)
    inner = getattr(exc, "conn_error", None)
    layers = [exc, *([inner] if isinstance(inner, BaseException) else [])]
    names = {type(layer).__name__ for layer in layers}
    code = next((c for c in (_error_code(layer) for layer in layers) if c), None)
    label = f"{type(exc).__name__} (code {code})" if code else type(exc).__name__
    connection_level = (
        any(isinstance(layer, ConnectionError | TimeoutError) for layer in layers)
        or bool(names & _RETRYABLE_TYPE_NAMES)
        or code in CONNECTION_ERROR_CODES
    )
    if connection_level:
        return Classified("retry", f"transient Snowflake error: {label}", reconnect=True)
    if code in LOCK_OR_TIMEOUT_CODES:
        return Classified("retry", f"transient Snowflake error: {label}", reconnect=False)
    return Classified("failure", f"Snowflake error: {label}", reconnect=False)


SessionFactory = Callable[[MergeSettings], Any]


def default_session_factory(settings: MergeSettings) -> Any:
    from snowflake.snowpark import Session

    if settings.local_testing:
        from claimflow.snowflake.snowpark_merge import create_tables

        session = Session.builder.config("local_testing", True).create()
        create_tables(session, settings.tables)
        return session
    return Session.builder.configs(settings.connection_parameters()).create()


class MergeService:
    """Merges FlowFiles of claim rows through one reused Snowpark session."""

    def __init__(self, settings: MergeSettings, session_factory: SessionFactory = default_session_factory) -> None:
        settings.validate()
        self.settings = settings
        self._factory = session_factory
        self._session: Any = None
        self._merger: Any = None
        # One Snowpark session carries one transaction at a time: concurrent tasks must not interleave BEGIN/COMMIT.
        self._lock = threading.Lock()

    def merge(self, data: bytes) -> BatchResult:
        """Parse and merge one FlowFile's rows in one transaction.

        Raises:
            InvalidBatch, InvalidRow: bad content (nothing written).
            Exception: a Snowflake error, after rollback (see classify_error).
        """
        rows = parse_rows(data)
        with self._lock:
            return self._get_merger().write_batch(rows)

    def _get_merger(self) -> Any:
        if self._merger is None:
            from claimflow.snowflake.snowpark_merge import SnowparkMerger

            self._session = self._factory(self.settings)
            self._merger = SnowparkMerger(self._session, self.settings.tables)
        return self._merger

    @property
    def session(self) -> Any:
        return self._session

    def reset(self) -> None:
        """Drop the session (after a connection-level error); the next merge reconnects."""
        self.close()

    def close(self) -> None:
        with self._lock:
            session, self._session, self._merger = self._session, None, None
        if session is not None:
            with contextlib.suppress(Exception):  # closing a broken session must not hide the original problem
                session.close()
