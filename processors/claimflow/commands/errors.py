"""Expected failures of the command line, each told in one line: what is wrong, then what to do.

``claimflow.cli`` prints ``claimflow <command>: <line>`` on stderr and exits 2 for every exception ``explain``
knows; anything else is a bug and keeps its traceback. ``--debug`` shows the traceback of every failure.
The lines name resources (tables, endpoints, connection names) the user typed, never a value of a record.
"""

from __future__ import annotations

import sys


class CommandError(Exception):
    """A failure a subcommand has already put into words (what is wrong; what to do)."""


CREDENTIALS_HINT = (
    "set AWS_PROFILE (or --profile) or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, "
    "or pass --endpoint-url of an emulator such as moto"
)


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else ""


def _explain_botocore(error: BaseException) -> str | None:
    exceptions = sys.modules.get("botocore.exceptions")
    if exceptions is None:
        return None
    if isinstance(error, exceptions.NoCredentialsError):
        return f"no AWS credentials found: {CREDENTIALS_HINT}"
    if isinstance(error, exceptions.PartialCredentialsError):
        return f"incomplete AWS credentials ({_first_line(str(error))}): {CREDENTIALS_HINT}"
    if isinstance(error, exceptions.ProfileNotFound):
        return f"{_first_line(str(error))}: check --profile / AWS_PROFILE against ~/.aws/config"
    if isinstance(error, exceptions.NoRegionError):
        return "no AWS region: pass --region or set AWS_DEFAULT_REGION"
    if isinstance(error, (exceptions.EndpointConnectionError, exceptions.ConnectTimeoutError)):
        endpoint = getattr(error, "kwargs", {}).get("endpoint_url", "the AWS endpoint")
        return f"cannot reach {endpoint}: start the emulator there, or check --endpoint-url and the network"
    if isinstance(error, exceptions.ClientError):
        details = getattr(error, "response", {}).get("Error", {})
        code = details.get("Code", "error")
        operation = getattr(error, "operation_name", "a call")
        if code == "ResourceNotFoundException":
            return f"AWS has no such resource ({operation}): create it (infra/, or --create-table where offered)"
        if code in ("UnrecognizedClientException", "InvalidSignatureException", "ExpiredTokenException",
                    "AccessDeniedException", "AccessDenied"):
            return f"AWS refused {operation} ({code}): check the credentials and the IAM permissions"
        return f"AWS refused {operation} ({code}): {_first_line(details.get('Message', ''))}"
    return None


def _explain_snowflake(error: BaseException) -> str | None:
    errors = sys.modules.get("snowflake.connector.errors")
    if errors is None or not isinstance(error, errors.Error):
        return None
    message = _first_line(getattr(error, "msg", None) or str(error))
    if message.startswith("Invalid connection_name"):
        name = message.split("'")[1] if message.count("'") >= 2 else "?"
        return (
            f"no Snowflake connection named '{name}' in connections.toml (~/.snowflake or $SNOWFLAKE_HOME): "
            "add it (docs/snowflake.md), or omit --snowflake-connection to use the embedded emulator"
        )
    return f"Snowflake: {message}: check the connection in connections.toml and that the account is reachable"


def explain(error: BaseException) -> str | None:
    """The one line for an expected failure; None for an unexpected one (a bug: keep the traceback)."""
    if isinstance(error, CommandError):
        return str(error)
    return _explain_botocore(error) or _explain_snowflake(error)


def internal_error(index: int, error: BaseException) -> str:
    """The reason of a record's rejection for an exception nothing expected (a bug): the record's position and the
    exception's type, never its message (which may quote the record)."""
    return f"record {index}: internal error ({type(error).__name__})"


def debug_traceback(error: BaseException) -> str:
    """What ``--debug`` shows for a record's internal error: the frames (code, never data) and the type, not the
    message."""
    import traceback

    frames = "".join(traceback.format_tb(error.__traceback__))
    return f"Traceback (most recent call last):\n{frames}{type(error).__name__} (message withheld: it may quote data)\n"


def count_line(records: int, written: int, rejected: int) -> bytes:
    """The last line on stderr of ``decode`` and ``transform``: every input record, as written or rejected."""
    import orjson

    return orjson.dumps({"in": records, "out": written, "rejected": rejected}) + b"\n"
