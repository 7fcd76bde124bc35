"""Pairing for the report: an accuracy (eval) run and a latency run of the same model and runtime,
with notes where they measured at different precisions or input sizes.

Values are the ones in ``results.json``, never recomputed.
"""

from __future__ import annotations

from dataclasses import dataclass

from rfbench.report.runs import Entry


@dataclass
class Pair:
    """An accuracy entry and a latency entry of the same model and runtime."""

    eval_entry: Entry
    latency_entry: Entry
    basis: str  # "sha256" or "file name"
    notes: list[str]


def pair_accuracy_latency(entries: list[Entry]) -> tuple[list[Pair], list[str]]:
    """Pair eval and latency entries by model (sha256 when both have it, else file name) and
    runtime. Returns the pairs and notes about what could not be paired or is paired loosely."""
    evals = [e for e in entries if e.kind == "eval"]
    lats = [e for e in entries if e.kind == "latency"]
    pairs = []
    for ev in evals:
        for lat in lats:
            by_sha = bool(ev.model_sha256 and lat.model_sha256)
            same_model = (ev.model_sha256 == lat.model_sha256 if by_sha
                          else ev.model_name and ev.model_name == lat.model_name)
            if ev.runtime != lat.runtime or not same_model:
                continue
            notes = [] if by_sha else [
                "paired by model file name (no sha256 in the latency results)"]
            if ev.precision != lat.precision:
                notes.append(f"accuracy measured at {ev.precision}, latency at {lat.precision}")
            ev_hw, lat_hw = _input_hw(ev), _input_hw(lat)
            if ev_hw and lat_hw and ev_hw != lat_hw:
                notes.append(f"accuracy measured at input {ev_hw[1]}x{ev_hw[0]}, "
                             f"latency at {lat_hw[1]}x{lat_hw[0]}")
            pairs.append(Pair(ev, lat, "sha256" if by_sha else "file name", notes))
    if not pairs:
        none = "no accuracy and latency runs of the same model and runtime to pair"
        return [], [none] if evals and lats else []
    paired = {id(entry) for pair in pairs for entry in (pair.eval_entry, pair.latency_entry)}
    return pairs, [f"{e.label}: no {'latency' if e.kind == 'eval' else 'accuracy'} run of the same "
                   "model and runtime" for e in evals + lats if id(e) not in paired]


def _input_hw(entry: Entry) -> tuple[int, int] | None:
    """(H, W) of the network input an eval or latency entry ran at (None: not recorded)."""
    model = getattr(entry.data, "model", None)
    if entry.kind == "eval" and model is not None:
        return model.input_height, model.input_width
    inputs = getattr(entry.data, "inputs", None) if entry.kind == "latency" else None
    if inputs and len(inputs[0].shape) == 4:
        shape = inputs[0].shape
        nhwc = shape[3] == 3 and shape[1] != 3
        hw = (shape[1], shape[2]) if nhwc else (shape[2], shape[3])
        return hw if None not in hw else None
    return None
