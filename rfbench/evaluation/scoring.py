"""Score detections against WIDER ground truth with the requested protocols, and describe
the outcome as the eval record's accuracy fields and a console table."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

import numpy as np

from rfbench.evaluation import ProtocolResult, evaluate_official, evaluate_omz
from rfbench.evaluation.official import OfficialMatches, match_official
from rfbench.wider.ground_truth import SETTINGS, WiderGroundTruth, setting_mat_name

log = logging.getLogger(__name__)

PROTOCOL_TITLES = {
    "wider": "official WIDER FACE (eval_tools, Easy/Medium/Hard)",
    "omz": "OMZ model card (faces >= 64 px high, as 'AP 87.30%')",
}


def protocols_for(choice: str) -> tuple[str, ...]:
    """The protocol names ``--protocol CHOICE`` runs."""
    return ("wider", "omz") if choice == "all" else (choice,)


def protocols_available(
    protocols: tuple[str, ...], gt: WiderGroundTruth
) -> tuple[tuple[str, ...], str | None]:
    """The protocols that ``gt`` can score, and a one-line note when one had to be skipped.

    The official protocol needs the easy/medium/hard ``.mat`` lists of eval_tools; a data root
    laid out like Open Model Zoo's (images and ``wider_face_split/`` only) has none, so with
    several protocols asked for, the official one is skipped and the others are scored.
    """
    if "wider" not in protocols or gt.setting_indices or protocols == ("wider",):
        return protocols, None
    names = ", ".join(setting_mat_name(s) for s in SETTINGS)
    note = (f"official WIDER protocol skipped: it needs {names} from WIDER's eval_tools "
            "(in DATA_ROOT/eval_tools/ground_truth, or pass --gt-mat-dir)")
    return tuple(p for p in protocols if p != "wider"), note


def score(
    gt: WiderGroundTruth, predictions: Mapping[str, np.ndarray], protocols: tuple[str, ...]
) -> tuple[list[ProtocolResult], float]:
    """Run the protocols; returns (results in table order, evaluator seconds)."""
    results, seconds, _ = score_with_matches(gt, predictions, protocols)
    return results, seconds


def score_with_matches(
    gt: WiderGroundTruth, predictions: Mapping[str, np.ndarray], protocols: tuple[str, ...]
) -> tuple[list[ProtocolResult], float, OfficialMatches | None]:
    """:func:`score`, also returning the official protocol's matches (None without it), which
    the report's drawings reuse (:meth:`OfficialMatches.above`)."""
    start = time.perf_counter()
    results: list[ProtocolResult] = []
    matches = None
    if "wider" in protocols:
        matches = match_official(gt, predictions)
        results.extend(evaluate_official(gt, predictions, matches=matches).values())
    if "omz" in protocols:
        results.append(evaluate_omz(gt, predictions, matches.pooled if matches else None))
    return results, time.perf_counter() - start, matches


def accuracy_fields(results: list[ProtocolResult]) -> dict[str, Any]:
    """The accuracy fields of :class:`~rfbench.results.eval_record.EvalRecord`: protocol
    titles, per protocol/setting summaries, protocol parameters and PR curves."""
    return {
        "protocols": {name: PROTOCOL_TITLES[name] for name in dict.fromkeys(r.protocol for r in results)},
        "metrics": [r.summary() for r in results],
        "protocol_params": {r.protocol: r.params for r in results},
        "pr_curves": {f"{r.protocol}/{r.setting}": r.curve() for r in results},
    }


def format_table(results: list[ProtocolResult]) -> str:
    """A small fixed-width table: protocol, setting, AP (%), counted faces, predictions."""
    header = f"{'protocol':<9} {'setting':<8} {'AP %':>7} {'faces':>7} {'predictions':>12}"
    lines = [header, "-" * len(header)]
    for r in results:
        ap = "n/a" if np.isnan(r.ap) else f"{100 * r.ap:.2f}"
        lines.append(f"{r.protocol:<9} {r.setting:<8} {ap:>7} {r.num_faces:>7,} {r.num_predictions:>12,}")
    return "\n".join(lines)
