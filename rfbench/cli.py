"""The ``rfbench`` command line: a thin dispatcher over the modules in :mod:`rfbench.commands`.

Each command module exposes ``register(subparsers)``, which adds its sub-parser and sets
``func`` to a function ``run(args) -> int``. Heavy imports (runtimes, matplotlib) happen
inside ``run`` so that ``rfbench --help`` stays fast and works without optional packages.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from rfbench import __version__
from rfbench.errors import Interrupted, RfbenchError

log = logging.getLogger("rfbench")

# Order here is the order shown by ``rfbench --help``.
COMMAND_MODULES = (
    "rfbench.commands.eval_cmd",
    "rfbench.commands.latency_cmd",
    "rfbench.commands.profile_cmd",
    "rfbench.commands.runtimes_cmd",
    "rfbench.commands.report_cmd",
    "rfbench.commands.export_reference_cmd",
    "rfbench.commands.quantize_cmd",
    "rfbench.commands.sweep_cmd",
)


def build_parser() -> argparse.ArgumentParser:
    """Build the top-level parser with every available sub-command registered."""
    parser = argparse.ArgumentParser(
        prog="rfbench",
        description="Measure how accurate (WIDER FACE AP) and how fast (latency, throughput) "
        "RetinaFace is on your runtime and hardware.",
        epilog="Run 'rfbench COMMAND --help' for the options of one command.",
    )
    parser.add_argument("--version", action="version", version=f"rfbench {__version__}")
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="more diagnostics on stderr (-vv: debug)"
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="only errors on stderr")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(subparsers)
    return parser


def configure_logging(verbose: int, quiet: bool) -> None:
    """Send rfbench's diagnostics to stderr; stdout is kept for results."""
    levels = (logging.WARNING, logging.INFO, logging.DEBUG)
    level = logging.ERROR if quiet else levels[min(verbose, 2)]
    logging.basicConfig(level=level, format="%(levelname)s: %(message)s", stream=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``rfbench`` console script; returns the process exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_logging(args.verbose, args.quiet)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except RfbenchError as exc:
        sys.stderr.write(f"rfbench: error: {exc}\n")
        return 2
    except KeyboardInterrupt as exc:
        note = f": {exc}" if isinstance(exc, Interrupted) and str(exc) else ""
        sys.stderr.write(f"rfbench: interrupted{note}\n")
        return 130
