"""Detections drawn on a few images of an eval run, and the images with the most missed faces.

For each eval run with a model: its prediction files (the ``predictions`` folder of the record,
else ``<run>/predictions``), the ground truth from the data root the record names
(``load_ground_truth``; both taken from the :class:`~rfbench.report.runs.ScoredData` that
``rfbench eval`` hands its own report, read only for a folder loaded from disk), outcomes from :mod:`rfbench.report.outcomes` at
:data:`SCORE_THRESHOLD`, and the images from the data root, drawn downscaled to
:data:`DRAW_WIDTH_PX` and embedded as JPEG data URIs (the page stays one file). Landmarks are
dotted where the run kept them (:mod:`rfbench.accuracy.landmarks`: ``<run>/landmarks/``, the
detections at or above the same threshold); a run without them (scored prediction files, or a
run made before they were written) is drawn without landmarks, and the caption says so. A data root or
prediction folder that is gone skips the drawings with a note.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rfbench.accuracy.landmarks import (
    LANDMARKS_DIR,
    MIN_SCORE,
    landmarks_dir_for,
    read_landmarks_file,
)
from rfbench.errors import RfbenchError
from rfbench.report.markup import Html, esc, figure, note, table
from rfbench.report.outcomes import (
    GT_FOUND,
    GT_IGNORED,
    GT_MISSED,
    PRED_FP,
    PRED_IGNORED,
    PRED_TP,
    ImageOutcome,
    classify_official,
    classify_omz,
    most_missed,
)
from rfbench.report.runs import Entry

SCORE_THRESHOLD = MIN_SCORE  # detections drawn and counted: score >= this (= the sidecars')
DRAWN_IMAGES = 3  # per eval run: the images with the most missed faces
MISSED_TABLE_ROWS = 10
MAX_RUNS_DRAWN = 3
DRAW_WIDTH_PX = 480
JPEG_QUALITY = 82
#: BGR colours (and the legend's CSS colour) of each outcome.
COLOURS = {PRED_TP: ((40, 170, 40), "#28aa28"), PRED_FP: ((40, 40, 225), "#e12828"),
           GT_MISSED: ((0, 215, 255), "#ffd700"), GT_IGNORED: ((160, 160, 160), "#a0a0a0")}


@dataclass
class RunOutcomes:
    """An eval entry's outcomes, the protocol they follow, and where the images are."""

    entry: Entry
    outcomes: Sequence[ImageOutcome]
    protocol: str
    images_dir: Path
    landmarks_dir: Path | None


def load_outcomes(entry: Entry) -> RunOutcomes:
    """Read predictions and GT of an eval entry and classify them; RfbenchError saying what is
    missing when the data root, the images or the prediction files are gone."""
    from rfbench.wider.ground_truth import find_images_dir, load_ground_truth, subset
    from rfbench.wider.predictions import read_prediction_folder

    record = entry.data
    dataset = record.dataset
    pred_dir = Path(record.predictions.dir)
    if not pred_dir.is_dir():
        pred_dir = entry.run.path / "predictions"
    matches = None
    if entry.run.scored is not None:  # what the eval that wrote the run scored
        gt, predictions = entry.run.scored.gt, entry.run.scored.predictions
        matches = entry.run.scored.official_matches
    else:
        setting_lists = dataset.setting_lists
        gt = load_ground_truth(dataset.data_root, gt_text=dataset.gt_text,
                               mat_dir=setting_lists if setting_lists and Path(setting_lists).is_dir()
                               else None)
        if dataset.limit:
            gt = subset(gt, int(dataset.limit))
        predictions = read_prediction_folder(pred_dir, gt.image_ids).predictions
    outcomes: Sequence[ImageOutcome]
    if "hard" in gt.setting_indices:
        outcomes = classify_official(gt, predictions, SCORE_THRESHOLD, "hard", matches)
        protocol = "official WIDER protocol, hard setting (IoU \u2265 0.5, +1 convention)"
    else:
        outcomes = classify_omz(gt, predictions, SCORE_THRESHOLD)
        protocol = "OMZ protocol (faces of 64 px and up, IoU \u2265 0.5)"
    landmarks = next((d for d in (landmarks_dir_for(pred_dir), entry.run.path / LANDMARKS_DIR)
                      if d.is_dir()), None)
    return RunOutcomes(entry, outcomes, protocol, find_images_dir(dataset.data_root), landmarks)


def _landmarks_of(pred: np.ndarray, table_rows: np.ndarray) -> list[np.ndarray | None]:
    """Per prediction row, its (5, 2) landmarks from the sidecar (same box and score)."""
    if not len(table_rows):
        return [None] * len(pred)
    out: list[np.ndarray | None] = []
    for row in pred:
        diff = np.abs(table_rows[:, :5] - row[:5]).max(axis=1)
        best = int(diff.argmin())
        out.append(table_rows[best, 5:].reshape(5, 2) if diff[best] < 0.05 else None)
    return out


def draw(image: np.ndarray, outcome: ImageOutcome, landmarks: np.ndarray) -> np.ndarray:
    """``image`` (H, W, 3) BGR scaled to :data:`DRAW_WIDTH_PX` wide with the outcome's boxes:
    ignored GT thin grey, missed faces yellow, true positives green, false positives red,
    landmarks as dots. Returns the drawn (h, w, 3) uint8 image."""
    import cv2

    scale = DRAW_WIDTH_PX / image.shape[1]
    small = cv2.resize(image, (DRAW_WIDTH_PX, max(1, round(image.shape[0] * scale))),
                       interpolation=cv2.INTER_AREA)

    # corners clipped a little outside the picture: cv2 takes int32 points, and a prediction
    # file may hold boxes of 1e30 px (an edge beyond the margin is drawn at it, off-picture)
    margin = 8.0
    high = np.array([small.shape[1], small.shape[0]], dtype=float) + margin

    def corner(x: float, y: float) -> tuple[int, int]:
        cx, cy = np.clip(np.nan_to_num(np.array([x, y]) * scale), -margin, high)
        return round(cx), round(cy)

    def rect(xywh: np.ndarray, colour: tuple[int, int, int], thickness: int) -> None:
        x, y, w, h = np.asarray(xywh[:4], dtype=float).tolist()
        cv2.rectangle(small, corner(x, y), corner(x + w, y + h), colour, thickness,
                      lineType=cv2.LINE_AA)

    for what, thickness in ((GT_IGNORED, 1), (GT_MISSED, 2)):
        for box in outcome.gt_xywh[outcome.gt_outcome == what]:
            rect(box, COLOURS[what][0], thickness)
    points = _landmarks_of(outcome.pred_xywhs, landmarks)
    for what in (PRED_FP, PRED_TP):
        for row, lmk in zip(outcome.pred_xywhs[outcome.pred_outcome == what],
                            [p for p, o in zip(points, outcome.pred_outcome) if o == what]):
            rect(row, COLOURS[what][0], 2)
            radius = 2 if row[2] * scale >= 24 else 1  # dots that do not hide small faces
            for x, y in (lmk if lmk is not None else []):
                cv2.circle(small, corner(x, y), radius, (255, 80, 255), -1,
                           lineType=cv2.LINE_AA)
    return small


def jpeg_data_uri(image: np.ndarray) -> str:
    """``data:image/jpeg;base64,...`` of a BGR uint8 image."""
    import cv2

    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise RfbenchError("cannot encode a drawn image as JPEG")
    return "data:image/jpeg;base64," + base64.b64encode(data.tobytes()).decode("ascii")


def _legend() -> Html:
    names = {PRED_TP: "true positive", PRED_FP: "false positive", GT_MISSED: "missed face",
             GT_IGNORED: "face the protocol ignores"}
    swatches = "".join(f'<span class="legend-swatch" style="border-color:{COLOURS[k][1]}">'
                       f"</span>{esc(v)}" for k, v in names.items())
    return Html(f'<p class="sub legend">{swatches}<span class="legend-swatch" style="border-'
                f'color:#ff50ff;border-radius:50%;width:6px;height:6px"></span>landmarks</p>')


def drawn_parts(run: RunOutcomes) -> list[str]:
    """Figures of the images with the most missed faces and the missed-faces table."""
    from rfbench.decoder.preprocess import read_image
    from rfbench.wider.image_ids import safe_join

    label = run.entry.label
    chosen = most_missed(run.outcomes, MISSED_TABLE_ROWS)
    figures, had_landmarks = [], False
    for outcome in chosen[:DRAWN_IMAGES]:
        try:
            image = read_image(safe_join(run.images_dir, outcome.image_id, ".jpg"))
        except RfbenchError as exc:
            figures.append(note(f"{outcome.image_id}: not drawn: {exc}", True))
            continue
        lmk = read_landmarks_file(run.landmarks_dir, outcome.image_id) if run.landmarks_dir else \
            np.zeros((0, 15))
        had_landmarks |= bool(len(lmk))
        caption = (f"{outcome.image_id}: {outcome.count(PRED_TP)} TP, {outcome.count(PRED_FP)} "
                   f"FP, {outcome.count(GT_MISSED)} missed of {outcome.faces_counted} faces")
        uri = jpeg_data_uri(draw(image, outcome, lmk))
        figures.append(figure(uri, f"detections on {outcome.image_id}", caption, "drawn"))
    rows = [[o.image_id, *map(str, (o.faces_counted, o.count(GT_FOUND), o.count(GT_MISSED),
                                    o.count(PRED_TP), o.count(PRED_FP),
                                    int((o.gt_outcome == GT_IGNORED).sum()),
                                    int((o.pred_outcome == PRED_IGNORED).sum())))] for o in chosen]
    landmark_text = ("landmarks dotted" if had_landmarks else
                     "no landmarks: this run kept none (prediction files hold boxes only; model runs write "
                     f"them to {LANDMARKS_DIR}/)")
    return [
        Html(f"<h3>Detections: {esc(label)}</h3>"),
        Html(f'<p class="sub">Score \u2265 {SCORE_THRESHOLD}, matched as the {esc(run.protocol)}'
             f"; the {DRAWN_IMAGES} images with the most missed faces, {DRAW_WIDTH_PX} px wide; "
             f"{esc(landmark_text)}.</p>"),
        _legend(),
        Html(f'<div class="plots drawn">{"".join(figures)}</div>'),
        table(["image", "faces counted", "found", "missed", "TP", "FP", "faces ignored",
               "detections on ignored faces"], rows, numeric=range(1, 8), cls="missed"),
        Html(f'<p class="sub">The {len(chosen)} images (of {len(run.outcomes)}) with the most '
             f"missed faces at score \u2265 {SCORE_THRESHOLD}.</p>"),
    ]


def detections_parts(evals: list[Entry]) -> list[str]:
    """The drawings of the first :data:`MAX_RUNS_DRAWN` eval runs; notes for the rest."""
    parts: list[str] = []
    drawn = 0
    for entry in evals:
        if drawn == MAX_RUNS_DRAWN:
            parts.append(note(f"{entry.label}: detections not drawn (the first "
                              f"{MAX_RUNS_DRAWN} runs are)"))
            continue
        try:
            run = load_outcomes(entry)
        except (RfbenchError, OSError) as exc:
            parts.append(note(f"{entry.label}: detections not drawn: {exc}", True))
            continue
        parts += drawn_parts(run)
        drawn += 1
    return parts
