"""Expected failures of the command line end in one line (what is wrong, what to do) and exit status 2.

Real boto3 against a real endpoint (the module's moto server, or a closed port of 127.0.0.1), the real Snowflake
connector; ``--debug`` brings the traceback back.
"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from claimflow.cli import main
from claimflow.demo.aws import AwsClients


@pytest.fixture
def no_aws_credentials(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No credential source botocore could find: no variables, no files, no instance or container metadata."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
                 "AWS_DEFAULT_PROFILE", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
                 "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture
def closed_port() -> str:
    """An endpoint URL on 127.0.0.1 where nothing listens."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def _one_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


@pytest.mark.usefixtures("no_aws_credentials")
def test_generate_without_aws_credentials(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["generate", "--claims", "5"]) == 2
    assert _one_line(capsys) == (
        "claimflow generate: no AWS credentials found: set AWS_PROFILE (or --profile) or "
        "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or pass --endpoint-url of an emulator such as moto"
    )


@pytest.mark.usefixtures("no_aws_credentials")
def test_debug_shows_the_traceback_instead() -> None:
    from botocore.exceptions import NoCredentialsError

    with pytest.raises(NoCredentialsError):
        main(["generate", "--claims", "5", "--debug"])
    with pytest.raises(NoCredentialsError):
        main(["--debug", "generate", "--claims", "5"])


@pytest.mark.usefixtures("no_aws_credentials")
def test_generate_with_an_unknown_profile(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["generate", "--profile", "nobody"]) == 2
    assert _one_line(capsys) == (
        "claimflow generate: The config profile (nobody) could not be found: check --profile / AWS_PROFILE against "
        "~/.aws/config"
    )


def test_generate_into_a_missing_table_without_create_table(
    aws: AwsClients, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["generate", "--claims", "5", "--endpoint-url", str(aws.endpoint_url), "--table", "NoSuchTable"]) == 2
    assert _one_line(capsys) == (
        f"claimflow generate: DynamoDB table NoSuchTable does not exist at {aws.endpoint_url}: pass --create-table, "
        "or create it with infra/ (docs/infrastructure.md)"
    )
    assert "NoSuchTable" not in aws.dynamodb.list_tables()["TableNames"]


def test_generate_against_an_unreachable_endpoint(closed_port: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["generate", "--claims", "5", "--endpoint-url", closed_port]) == 2
    assert _one_line(capsys) == (
        f"claimflow generate: cannot reach {closed_port}/: start the emulator there, or check --endpoint-url and the "
        "network"
    )


def test_demo_with_an_unknown_snowflake_connection(
    closed_port: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SNOWFLAKE_HOME", str(tmp_path / "snowflake-home"))  # no connections.toml there
    argv = ["demo", "--claims", "3", "--snowflake-connection", "nope", "--endpoint-url", closed_port,
            "--workdir", str(tmp_path / "demo")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.splitlines()[-1] == (
        "claimflow demo: no Snowflake connection named 'nope' in connections.toml (~/.snowflake or $SNOWFLAKE_HOME): "
        "add it (docs/snowflake.md), or omit --snowflake-connection to use the embedded emulator"
    )


@pytest.mark.parametrize("command", ["decode", "transform"])
def test_missing_input_file(command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "records.ndjson"
    assert main([command, str(missing)]) == 2
    assert _one_line(capsys) == (
        f"claimflow {command}: cannot read {missing}: No such file or directory; give a readable file, or '-' for "
        "stdin"
    )


def test_an_unexpected_error_keeps_its_traceback(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Only known failures are turned into a line: a bug must stay visible."""
    from claimflow.commands import decode

    def broken(prog: str, path: str) -> bytes:
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(decode, "read_input", broken)
    with pytest.raises(ZeroDivisionError):
        main(["decode", str(tmp_path / "x")])
