"""The ``rfbench`` command line: a thin dispatcher over the modules in :mod:`rfbench.commands`.

Each command module exposes ``register(subparsers)``, which adds its sub-parser and sets
``func`` to a function ``run(args) -> int``. Heavy imports (runtimes, matplotlib) happen
inside ``run`` so that ``rfbench --help`` stays fast and works without optional packages.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import logging
import sys
from pathlib import Path
from typing import Any, NoReturn

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
    "rfbench.commands.import_cmd",
    "rfbench.commands.quantize_cmd",
    "rfbench.commands.sweep_cmd",
)


class OneLineParser(argparse.ArgumentParser):
    """An argument parser whose errors are one line, like every other rfbench error:
    ``rfbench: error: <command>: <what argparse says> (see '<command> --help')``, exit 2 (argparse
    prints the whole usage first, many lines for the larger commands)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"rfbench: error: {self.prog}: {message} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    """Build the top-level parser with every available sub-command registered."""
    parser = OneLineParser(
        prog="rfbench",
        description="Measure how accurate (WIDER FACE AP) and how fast (latency, throughput) "
        "RetinaFace is on your runtime and hardware.",
        epilog="Run 'rfbench COMMAND --help' for the options of one command.",
    )
    parser.add_argument("--version", action="version", version=f"rfbench {__version__}")
    add_verbosity_options(parser, "", 0, False)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(subparsers)
    for sub in subparsers.choices.values():
        add_verbosity_options(sub, "sub_", argparse.SUPPRESS, argparse.SUPPRESS)
    return parser


def add_verbosity_options(parser: argparse.ArgumentParser, prefix: str, count: Any,
                          flag: Any) -> None:
    """``-v`` / ``-q``, on the top level and on a sub-command too (``rfbench eval -v ...``, with
    ``prefix`` ``sub_`` and defaults SUPPRESS: counted with the top level's)."""
    parser.add_argument("-v", "--verbose", action="count", default=count, dest=f"{prefix}verbose",
                        help="more diagnostics on stderr (-vv: debug)")
    parser.add_argument("-q", "--quiet", action="store_true", default=flag, dest=f"{prefix}quiet",
                        help="only errors on stderr")


class NewFolders:
    """The output folders a command creates, removed again if it fails before writing into them.

    Watches ``--out`` (and the parents it would create) or, without ``--out``, new entries of
    the default ``reports/`` folder; only folders that did not exist before and are still empty
    are removed (``rmdir``), so nothing a run wrote is ever deleted.
    """

    def __init__(self, out: str | None) -> None:
        from rfbench.results.writer import DEFAULT_REPORTS_DIR

        self.reports = DEFAULT_REPORTS_DIR
        self.candidates: list[Path] = []
        path = Path(out) if out is not None else self.reports
        while not path.exists() and path != path.parent:
            self.candidates.append(path)
            path = path.parent
        if out is None:
            self.before = set(self.reports.iterdir()) if self.reports.is_dir() else set()

    def remove_empty(self) -> None:
        """Remove the watched folders that the failed command created and left empty."""
        found = list(self.candidates)
        if hasattr(self, "before") and self.reports.is_dir():
            found[:0] = [p for p in self.reports.iterdir() if p not in self.before and p.is_dir()]
        for path in found:
            with contextlib.suppress(OSError):  # not empty, or gone: keep it
                path.rmdir()
                log.debug("removed the empty output folder %s", path)


def printable(text: str) -> str:
    """``text`` with the surrogates of undecodable file-name bytes as ``\\udcXX`` escapes (a
    non-UTF-8 name in a message must not turn the one error line into a UnicodeEncodeError)."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``rfbench`` console script; returns the process exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    args.verbose += getattr(args, "sub_verbose", 0)
    args.quiet = args.quiet or getattr(args, "sub_quiet", False)
    levels = (logging.WARNING, logging.INFO, logging.DEBUG)  # on stderr; stdout is for results
    logging.basicConfig(level=logging.ERROR if args.quiet else levels[min(args.verbose, 2)],
                        format="%(levelname)s: %(message)s", stream=sys.stderr)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    folders = NewFolders(getattr(args, "out", None))
    try:
        return int(args.func(args) or 0)
    except RfbenchError as exc:
        folders.remove_empty()
        sys.stderr.write(f"rfbench: error: {printable(str(exc))}\n")
        return 2
    except KeyboardInterrupt as exc:
        folders.remove_empty()
        note = f": {exc}" if isinstance(exc, Interrupted) and str(exc) else ""
        sys.stderr.write(f"rfbench: interrupted{printable(note)}\n")
        return 130
