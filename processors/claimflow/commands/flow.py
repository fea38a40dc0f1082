"""``claimflow flow``: export the NiFi / Openflow flow definitions, check them, show their Python wiring."""

from __future__ import annotations

import argparse
from pathlib import Path

from claimflow.flow.definitions import FlowDescriptionError
from claimflow.flow.export import FLOW_DIRECTORY, compared, write_all
from claimflow.flow.pyprocessors import ProcessorSourceError
from claimflow.flow.wiring import Destination, load_python_pipeline


def _describe(destination: Destination) -> str:
    if destination.kind == "java":
        return f"java:{destination.name} ({destination.component})"
    return f"{destination.kind}:{destination.name}" if destination.name else destination.kind


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True)
    export = sub.add_parser("export", help="write the flow definitions (default: flow-definitions/)")
    export.add_argument("--out", type=Path, default=FLOW_DIRECTORY, help="output directory")
    check = sub.add_parser("check", help="fail when the committed flow definitions differ from a fresh export")
    check.add_argument("--dir", type=Path, default=FLOW_DIRECTORY, help="directory of the committed files")
    wiring = sub.add_parser("wiring", help="print the Python stages of a flow definition in wiring order")
    wiring.add_argument("file", type=Path, help="a flow definition JSON file")


def run(args: argparse.Namespace) -> int:
    try:
        if args.action == "export":
            for path in write_all(args.out):
                print(path)
            return 0
        if args.action == "check":
            results = compared(args.dir)
            differing = [name for name, same in results.items() if not same]
            for name in differing:
                print(f"{name}: differs from `claimflow flow export` (re-export and commit)")
            if not differing:
                where = args.dir.resolve()
                shown = where.relative_to(Path.cwd()) if where.is_relative_to(Path.cwd()) else where
                print(
                    f"flow definitions up to date: {', '.join(results)} in {shown}/ equal a fresh export from "
                    "the processor sources (properties, relationships, wiring, parameters)"
                )
            return 1 if differing else 0
    except (FlowDescriptionError, ProcessorSourceError) as error:
        print(f"cannot describe the flows: {error}")
        return 1
    pipeline = load_python_pipeline(args.file)
    print(f"{pipeline.flow_name}: source {pipeline.source}")
    for stage in pipeline.stages:
        print(f"- {stage.type} {stage.version} ({stage.name})")
        for relationship, destinations in stage.routes.items():
            shown = ", ".join(_describe(d) for d in destinations)
            print(f"    {relationship} -> {shown}")
    return 0
