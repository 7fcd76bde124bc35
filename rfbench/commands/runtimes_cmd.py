"""``rfbench runtimes``: which inference runtimes are installed, their versions and devices."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence

log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "runtimes",
        help="list installed inference runtimes with versions and devices",
        description="List the registered inference runtimes (built in and from the "
        "'rfbench.runtimes' entry point group): version, devices or execution providers, "
        "or why a runtime cannot be used.",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.set_defaults(func=run)


def format_table(rows: Sequence[dict]) -> str:
    """A plain-text table of :meth:`RuntimeInfo.as_dict` rows, one runtime per line."""
    from rfbench.commands.header import device_text

    header = ("RUNTIME", "VERSION", "DEVICES / PROVIDERS")
    lines = []
    for row in rows:
        if row["available"]:
            devices = [device_text(dev, row["device_names"].get(dev)) for dev in row["devices"]]
            lines.append((row["name"], row["version"] or "?", ", ".join(devices) or "none"))
        else:
            lines.append((row["name"], "-", f"unavailable: {row['error']}"))
    widths = [max(len(r[i]) for r in [header, *lines]) for i in range(2)]
    return "\n".join(f"{cells[0]:<{widths[0]}}  {cells[1]:<{widths[1]}}  {cells[2]}".rstrip()
                     for cells in [header, *lines])


def run(args: argparse.Namespace) -> int:
    """Print the runtimes; exit status 0 when at least one is usable, else 2."""
    from rfbench.runtimes import list_runtimes

    rows = [info.as_dict() for info in list_runtimes()]
    sys.stdout.write((json.dumps(rows, indent=2) if args.json else format_table(rows)) + "\n")
    if not any(row["available"] for row in rows):
        log.error("no inference runtime is usable: pip install openvino or onnxruntime")
        return 2
    return 0
