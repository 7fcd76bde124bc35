"""``rfbench report``: one self-contained HTML page (and a tidy CSV) from results folders."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

log = logging.getLogger(__name__)

DESCRIPTION = """\
Make one HTML page from one or more rfbench results folders (from eval, latency, profile):
header (versions, command lines, model sha256, protocol, preset), environment (CPU, OS,
runtime versions, requested vs effective settings), accuracy (AP table, PR curves with the
runs overlaid), latency (percentiles, histogram, latency over iterations, compile and first
inference), complexity (params, GMACs, GFLOPs with their counting rule) and, for several runs,
a comparison with ratios against the baseline and an accuracy-vs-latency scatter.

The page is self-contained: inline CSS, plots embedded as images, no scripts, nothing loaded
from the network; it opens offline and prints. Runs that did not measure the same thing (other
images, protocol parameters, latency mode or batch) are shown side by side with a note and no
ratio. A tidy CSV (one row per run and metric) is written next to it with the same name.
"""

EPILOG = """\
examples:
  rfbench report reports/eval-20250101-120000
  rfbench report reports/eval-ov reports/eval-ort reports/latency-cpu --out cmp.html
  rfbench report runs/* --baseline runs/eval-ov
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "report", help="self-contained HTML report (and tidy CSV) of results folders",
        description=DESCRIPTION, epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("result_dirs", nargs="+", metavar="RESULT_DIR",
                        help="results folder(s) written by rfbench eval / latency / profile")
    parser.add_argument("--out", metavar="HTML",
                        help="report file (default: report.html in the single RESULT_DIR, "
                        "or reports/report-<time>.html for several)")
    parser.add_argument("--baseline", metavar="RESULT_DIR",
                        help="results folder the ratios are taken against (default: the first)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Write the report and its CSV; print their paths."""
    from rfbench.report import default_out_path, write_report
    from rfbench.results.outdir import check_output_file

    out = args.out
    if out is None:  # write_report's default, fixed here so that it is checked before any work
        dirs = list(args.result_dirs)
        if args.baseline is not None and not _among(args.baseline, dirs):
            dirs.insert(0, args.baseline)
        out = default_out_path(dirs)
    elif Path(out).is_dir():
        out = Path(out) / "report.html"
    check_output_file(out)
    path = write_report(args.result_dirs, out, baseline=args.baseline)
    print(f"report: {path}")
    print(f"table:  {path.with_suffix('.csv')}")
    return 0


def _among(folder: str, dirs: list[str]) -> bool:
    """Whether ``folder`` (or the folder of a file) is one of ``dirs``."""
    path = Path(folder)
    path = path.parent if path.is_file() else path
    return any(Path(d).resolve() == path.resolve() for d in dirs)
