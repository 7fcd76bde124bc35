"""``rfbench profile``: parameters, MACs and FLOPs of a model, each figure with its counting rule."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rfbench.commands.options import add_input_size_option, input_hw, model_file

if TYPE_CHECKING:
    from rfbench.results.profile_record import ProfileRecord

log = logging.getLogger(__name__)

DESCRIPTION = """\
Theoretical complexity of a RetinaFace model (.onnx or OpenVINO .xml), counted on the graph as
the runtime sees it: a BatchNorm directly after a conv is folded into it (the conv gains a bias),
other BatchNorms are per-channel scale + shift; constant and dead sub-graphs cost nothing.

A bare "GFLOPs" is ambiguous by 2x: some tools count a multiply-accumulate (MAC) as one
operation, most papers as two, and tools differ on biases, BatchNorms and element-wise layers.
So every figure is printed with the rule that produced it:

  params / mparams                weights after BN folding
  gmacs                           multiply-accumulates of convs and matrix products
  gflops_omz                      OpenVINO model_analyzer 2019 rules, the Open Model Zoo
                                  model cards' "GFLOPs" (conv 2*Cin/g*k*k per output, bias
                                  free; ReLU 2; pooling k*k; eltwise add 3; scale-shift 2;
                                  softmax 5; data movement 0)
  gflops_2x_macs                  2 x MACs (conv/matmul only), the convention of most papers
  gflops_model_analyzer_current   today's model_analyzer: conv bias +1, eltwise add 1

Operations without a counting rule are listed as "not counted", never dropped silently.
Without --model the reference RetinaFace-R50 graph is profiled (OMZ card: GFLOPs 100.8478,
MParams 29.4276).
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "profile",
        help="parameters, MACs and FLOPs of a model under named counting rules",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--model", metavar="PATH",
        help="model file (.onnx or OpenVINO .xml); default: the reference RetinaFace-R50 graph",
    )
    add_input_size_option(parser)
    parser.add_argument(
        "--out", metavar="DIR",
        help="output folder for results.json / results.csv (default: reports/profile-<time>)",
    )
    parser.add_argument(
        "--force", action="store_true",
        help="replace the results of another run in --out (default: refuse)",
    )
    parser.add_argument(
        "--json", action="store_true", help="print the result record as JSON instead of a table"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Profile the model, print the figures, write results.json and results.csv."""
    from rfbench.complexity.analysis import analyze
    from rfbench.models.reference_r50 import reference_model_path
    from rfbench.results.outdir import prepare_output_dir
    from rfbench.results.record import record_header
    from rfbench.results.writer import record_json_text, write_results

    hw = input_hw(args)
    with prepare_output_dir(args.out, "profile", force=args.force) as out_dir:
        model = model_file(args) if args.model else reference_model_path()
        report = analyze(model, hw)
        record = profile_record(report, record_header("profile"))
        write_results(out_dir, record)
    if args.json:
        print(record_json_text(record), end="")
    else:
        from rfbench.models.files import read_input_shapes

        dynamic = any(d is None for dims in read_input_shapes(model).values() for d in dims)
        print(format_table(record, dynamic_input=dynamic))
        print(f"\nresults: {out_dir}")
    return 0


def profile_record(report: Any, header: dict[str, Any]) -> ProfileRecord:
    """The profile record of a complexity ``report`` (``header``: ``record_header("profile")``)."""
    from rfbench.models.files import file_sha256, model_sha256
    from rfbench.results.profile_record import ProfileRecord

    path = Path(report.model_path)
    model_format = "openvino-ir" if path.suffix.lower() == ".xml" else "onnx"
    fields: dict[str, Any] = {
        "model_path": str(path.resolve()),
        "model_format": model_format,
        "model_sha256": model_sha256(path),
        "input_shapes": report.input_shapes,
    }
    weights = path.with_suffix(".bin")
    if model_format == "openvino-ir" and weights.is_file():
        fields["weights_sha256"] = file_sha256(weights)
    rules = {}
    for figure in report.figures():
        fields[figure.name] = int(figure.value) if figure.name == "params" else figure.value
        fields[f"{figure.name}_rule"] = figure.rule
        rules[figure.rule] = figure.description
    fields["rules"] = rules
    fields["breakdown"] = [
        {
            "op_type": row.op_type,
            "count": row.count,
            "gflops_omz": row.gflops_omz,
            "gflops_model_analyzer_current": row.gflops_current,
            "gmacs": row.gmacs,
            "params": row.params,
        }
        for row in report.breakdown
    ]
    fields["not_counted"] = dict(report.not_counted)
    return ProfileRecord.build(header, **fields)


#: (figure, label, format) of the printed table, in :data:`~rfbench.results.profile_record.FIGURES` order.
_LABELS = (
    ("params", "params", "{:,.0f}"),
    ("mparams", "MParams", "{:.4f}"),
    ("gmacs", "GMACs", "{:.4f}"),
    ("gflops_omz", "GFLOPs (OMZ 2019 convention)", "{:.4f}"),
    ("gflops_2x_macs", "GFLOPs (2 x MACs)", "{:.4f}"),
    ("gflops_model_analyzer_current", "GFLOPs (model_analyzer current)", "{:.4f}"),
    ("gmacs_int8", "GMACs in INT8", "{:.4f}"),
    ("int8_macs_share", "share of MACs in INT8", "{:.4f}"),
)


def format_table(record: ProfileRecord, dynamic_input: bool = False) -> str:
    """A readable report: the header (:func:`rfbench.commands.header.profile_header`; with
    ``dynamic_input`` it says the size counted at is the one of ``--input-size``), figures with
    their rules, then the per-operation-type breakdown."""
    from rfbench.commands.header import profile_header, text

    lines = [
        profile_header(record, dynamic_input),
        "",
        f"{'figure':34s} {'value':>12s}  rule",
    ]
    names = record.figure_names()
    for key, label, fmt in _LABELS:
        if key not in names:
            continue
        value, rule = record.figure(key)
        cell = text(value) if value is None else fmt.format(value)
        lines.append(f"{label:34s} {cell:>12s}  {rule}")
    lines += ["", "rules:"]
    lines += [f"  {name}: {text}" for name, text in record.rules.items()]
    lines += [
        "",
        f"{'operation type':22s} {'count':>6s} {'GFLOPs OMZ':>11s} {'GFLOPs cur':>11s} "
        f"{'GMACs':>9s} {'params':>12s}",
    ]
    for row in record.breakdown:
        lines.append(
            f"{row.op_type:22s} {row.count:6d} {row.gflops_omz:11.4f} "
            f"{row.gflops_model_analyzer_current:11.4f} {row.gmacs:9.4f} "
            f"{row.params:12,d}"
        )
    counted = ", ".join(f"{k} x{v}" for k, v in sorted(record.not_counted.items()))
    lines += ["", f"not counted (no rule): {counted or 'none'}"]
    return "\n".join(lines)
