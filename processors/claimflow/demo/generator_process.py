"""The claim generator in a process of its own, a boto3 client of the endpoint like any application writing claims.

Why a process: building the claims and serialising each BatchWriteItem with boto3 and botocore take about a
sixth of a demo's CPU. In a thread of the demo's process they shared its interpreter lock with the processors
and the Snowflake writer; in a process of their own the demo's three parts (writer, emulator, NiFi side) spread
over the machine's cores.

The parent hears of each written wave (how many new claims it held) and can cancel between waves; the child's
failures come back as a message naming the exception type and where, never request data.
"""

from __future__ import annotations

import contextlib
import multiprocessing
from collections.abc import Callable, Iterator
from typing import Any

from claimflow.demo.emulator import ProcessUsage, failure_text, process_usage
from claimflow.demo.generator import GenerateStats, GeneratorConfig, generate, new_claims_in

START_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 30.0


class GeneratorError(RuntimeError):
    """The generator's process failed; the message names the exception type and where."""


def generate_in_process(
    endpoint_url: str | None,
    region: str,
    table_name: str,
    config: GeneratorConfig,
    on_wave: Callable[[int], None],
) -> tuple[GenerateStats, ProcessUsage]:
    """Run ``generate`` in a child process against ``endpoint_url``; ``on_wave(new claims)`` runs here after each
    wave the child wrote. When ``on_wave`` raises, the child stops after its current wave and the error is
    re-raised once it has ended. Returns the child's stats and its peak memory and CPU time.

    Raises:
        GeneratorError: when the child failed or ended without an answer.
    """
    context = multiprocessing.get_context("spawn")  # no forked copy of the demo's threads and connections
    parent, child = context.Pipe()
    cancel = context.Event()
    process = context.Process(
        target=_write, args=(child, cancel, endpoint_url, region, table_name, config), name="claimflow-generator",
        daemon=True,
    )  # fmt: skip
    process.start()
    child.close()
    try:
        for kind, value in _messages(parent):
            if kind == "wave":
                on_wave(value)
            elif kind == "done":
                stats, usage = value
                return stats, usage
            else:
                raise GeneratorError(f"the claim generator's process failed: {value}")
        raise GeneratorError(f"the claim generator's process ended (exit code {process.exitcode})")
    except BaseException:
        cancel.set()
        raise
    finally:
        process.join(STOP_TIMEOUT_S)
        if process.is_alive():
            process.terminate()
            process.join(STOP_TIMEOUT_S)
        parent.close()


def _messages(connection: Any) -> Iterator[tuple[str, Any]]:
    while True:
        try:
            yield connection.recv()
        except EOFError:
            return


class _Cancelled(Exception):
    """The parent asked the child to stop."""


def _write(
    connection: Any, cancel: Any, endpoint_url: str | None, region: str, table_name: str, config: GeneratorConfig
) -> None:
    from claimflow.demo.aws import make_clients

    def after_wave(wave: list[Any]) -> None:
        connection.send(("wave", new_claims_in(wave)))
        if cancel.is_set():
            raise _Cancelled

    try:
        stats = generate(make_clients(endpoint_url, region).dynamodb, table_name, config, after_wave)
        connection.send(("done", (stats, process_usage())))
    except _Cancelled:
        pass
    except Exception as exc:
        with contextlib.suppress(Exception):
            connection.send(("error", failure_text(exc)))
    finally:
        connection.close()
