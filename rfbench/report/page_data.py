"""The data of the report page, apart from its rendering: the sections take it as their
argument, and :class:`rfbench.report.html.Page` (which draws them) extends it."""

from __future__ import annotations

from rfbench.report import plots
from rfbench.report.pairing import Pair
from rfbench.report.runs import Entry, Run
from rfbench.report.tables import Comparison


class PageData:
    """What the report page shows: the loaded runs, their entries, baselines, comparisons
    and pairs, one colour per entry. The sections read it; :class:`rfbench.report.html.Page`
    renders it."""

    def __init__(self, runs: list[Run], entries: list[Entry], baselines: dict[str, Entry],
                 comparisons: dict[str, Comparison], pairs: list[Pair], pair_notes: list[str]):
        self.runs = runs
        self.entries = entries
        self.baselines = baselines
        self.comparisons = comparisons
        self.pairs = pairs
        self.pair_notes = pair_notes
        self.colours = {id(entry): plots.colour(i) for i, entry in enumerate(entries)}

    def of_kind(self, kind: str) -> list[Entry]:
        """The entries of ``kind``; ``eval`` means WIDER evals (FDDB ones: :meth:`fddb_entries`)."""
        return [entry for entry in self.entries if entry.kind == kind
                and not (kind == "eval" and getattr(entry.data, "fddb", None) is not None)]

    def fddb_entries(self) -> list[Entry]:
        """The ``eval --dataset fddb`` entries (their ROC section)."""
        return [e for e in self.entries if e.kind == "eval" and getattr(e.data, "fddb", None) is not None]
