"""``rfbench export-reference``: write the architecture-exact RetinaFace-R50 reference graph."""

from __future__ import annotations

import argparse
import logging
import os
import tempfile
from pathlib import Path

from rfbench.errors import RfbenchError

log = logging.getLogger(__name__)

DESCRIPTION = """\
Write the RetinaFace-R50 reference graph (insightface MXNet architecture, OMZ
retinaface-resnet50: input 'data' 1x3x640x640 raw BGR 0..255, the nine face_rpn_* outputs)
with seeded weights. It is NOT a trained model: use it for latency and complexity, not accuracy.
The graph is built once into the user cache ($RFBENCH_CACHE, else $XDG_CACHE_HOME/rfbench,
else ~/.cache/rfbench) and copied from there.
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "export-reference",
        help="write the reference RetinaFace-R50 graph (ONNX, or OpenVINO IR with --ir)",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--out", metavar="PATH", required=True,
        help="output file: the .onnx model, or with --ir the IR's .xml (its .bin goes beside it)",
    )
    parser.add_argument(
        "--ir", action="store_true",
        help="save an OpenVINO IR (.xml + .bin, f32 weights) instead of ONNX",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Copy the cached ONNX graph to ``--out``, or convert it to an f32 OpenVINO IR."""
    from rfbench.fileio import atomic_copy
    from rfbench.models.reference_r50 import reference_model_path
    from rfbench.results.outdir import check_output_file

    out = check_output_file(Path(args.out), create_folder=False)  # its folder must exist
    source = reference_model_path()
    if args.ir:
        written = export_ir(source, out)
    else:
        try:
            atomic_copy(source, out)
        except OSError as exc:
            raise RfbenchError(f"--out {out}: cannot write: {exc.strerror}") from exc
        log.info("wrote %s", out)
        written = [out]
    for path in written:
        print(path)
    return 0


def export_ir(source: Path, out: Path) -> list[Path]:
    """Convert ``source`` to an OpenVINO IR with f32 weights at ``out`` (.xml) and its .bin."""
    import openvino as ov

    xml = out.with_suffix(".xml")
    if xml != out:
        log.info("--ir: writing %s (and .bin) for --out %s", xml, out)
    model = ov.convert_model(str(source))
    try:
        with tempfile.TemporaryDirectory(dir=xml.parent, prefix=".rfbench-ir-") as tmp:
            tmp_xml = Path(tmp) / xml.name
            ov.save_model(model, str(tmp_xml), compress_to_fp16=False)
            os.replace(tmp_xml.with_suffix(".bin"), xml.with_suffix(".bin"))
            os.replace(tmp_xml, xml)
    except OSError as exc:
        raise RfbenchError(f"--out {out}: cannot write the IR: {exc.strerror}") from exc
    log.info("wrote %s and %s", xml, xml.with_suffix(".bin"))
    return [xml, xml.with_suffix(".bin")]
