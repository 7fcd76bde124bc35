"""When a measurement ends (the budget) and whether it is valid (the validity rule).

Two separate things, as in benchmark_app (``-t``, ``-niter``) and MLPerf LoadGen (minimum
duration and query count):

- the **budget** ends the run: ``budget_time_s`` seconds of measured time and/or
  ``budget_iterations`` completed inferences, whichever is reached first. It applies to each
  runtime on its own (``--runtime all`` measures every runtime for the whole budget). The loop
  asks before each submission, so the inference running when the time is up is completed and
  counted (measured time overshoots by less than one inference; in throughput mode the requests
  in flight are finished too).
- the **validity rule** judges the finished run: valid only when it reached BOTH ``min_time_s``
  of measured time and ``min_iterations`` completed inferences and was not interrupted. It
  never extends nor cuts a run; :meth:`StopRule.plan` forecasts the verdict from the warm-up
  latency so that the user learns before waiting whether the budget can give a valid run.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from typing import Any

from rfbench.errors import RfbenchError

#: Default budget per runtime (s). On the R50 reference graph one f32 inference takes ~490 ms
#: on the 2-core VM of the spec and ~1.04 s on this project's AVX2-only 2-core VM: 30 s gives
#: ~61 or ~29 samples, above the 20-sample minimum on both (and ~120 at bf16, ~250 ms).
DEFAULT_TIME_S = 30.0
#: Default validity rule: at least 10 s measured and at least 20 completed inferences.
DEFAULT_MIN_TIME_S = 10.0
DEFAULT_MIN_ITERATIONS = 20
#: How the budget is shared between interleaved runtimes (recorded in results.json).
BUDGET_SCOPE = "per_runtime"


class Decision(enum.Enum):
    """What the loop does before the next submission."""

    CONTINUE = "continue"
    DONE = "done"  # the budget is spent: stop (the verdict is the validity rule's)


@dataclass(frozen=True)
class Plan:
    """Forecast of one runtime's run from its warm-up latency (see :meth:`StopRule.plan`).

    ``seconds_per_inference``: the estimate used (s); ``iterations`` / ``time_s``: what the
    budget will give; ``needed_time_s``: measured time needed to meet the validity rule;
    ``valid``: whether the budget is expected to meet it; ``text``: one line for the user.
    """

    seconds_per_inference: float
    iterations: int
    time_s: float
    needed_time_s: float
    valid: bool
    text: str


@dataclass(frozen=True)
class StopRule:
    """Budget (``budget_time_s`` s and/or ``budget_iterations``; first reached ends the run)
    and validity rule (``min_time_s`` s AND ``min_iterations`` inferences; 0 s = no minimum).

    At least one budget must be set; with neither given the time budget defaults to
    :data:`DEFAULT_TIME_S`.
    """

    budget_time_s: float | None = DEFAULT_TIME_S
    budget_iterations: int | None = None
    min_time_s: float = DEFAULT_MIN_TIME_S
    min_iterations: int = DEFAULT_MIN_ITERATIONS

    def __post_init__(self) -> None:
        if self.budget_time_s is None and self.budget_iterations is None:
            raise RfbenchError("no budget: give a time (--time) or an iteration count (--iterations)")
        if self.budget_time_s is not None and not 0 < self.budget_time_s < math.inf:
            raise RfbenchError(f"time budget must be > 0 s, got {self.budget_time_s}")
        if self.budget_iterations is not None and self.budget_iterations < 1:
            raise RfbenchError(f"iteration budget must be >= 1, got {self.budget_iterations}")
        if not 0 <= self.min_time_s < math.inf:
            raise RfbenchError(f"minimum time must be >= 0 s, got {self.min_time_s}")
        if self.min_iterations < 1:
            raise RfbenchError(f"minimum iterations must be >= 1, got {self.min_iterations}")

    # -- the budget ------------------------------------------------------------------------

    def ended_by(self, elapsed_ns: int, completed: int) -> str | None:
        """``"time"`` or ``"iterations"`` once that budget is spent, else None."""
        if self.budget_iterations is not None and completed >= self.budget_iterations:
            return "iterations"
        if self.budget_time_s is not None and elapsed_ns >= round(self.budget_time_s * 1e9):
            return "time"  # whole ns: 0.067 s * 1e9 is 67000000.00000001 in floating point
        return None

    def decide(self, elapsed_ns: int, completed: int) -> Decision:
        """Decision after ``completed`` inferences in ``elapsed_ns`` of measured time."""
        return Decision.DONE if self.ended_by(elapsed_ns, completed) else Decision.CONTINUE

    def budget_text(self) -> str:
        """The budget in the command's words, e.g. ``--time 20`` or ``--iterations 100``."""
        parts = []
        if self.budget_time_s is not None:
            parts.append(f"--time {self.budget_time_s:g}")
        if self.budget_iterations is not None:
            parts.append(f"--iterations {self.budget_iterations}")
        return " / ".join(parts)

    def chunk_limits(self, chunks: int) -> tuple[float | None, int | None]:
        """``(seconds, inferences)`` per chunk when the budget is split into ``chunks`` chunks."""
        seconds = self.budget_time_s / chunks if self.budget_time_s is not None else None
        count = math.ceil(self.budget_iterations / chunks) if self.budget_iterations else None
        return seconds, count

    # -- the validity rule -------------------------------------------------------------------

    def minimum_text(self) -> str:
        """The validity rule in words, e.g. ``30 inferences and 10 s``."""
        if self.min_time_s > 0:
            return f"{self.min_iterations} inferences and {self.min_time_s:g} s"
        return f"{self.min_iterations} inferences"

    def validity(self, elapsed_ns: int, completed: int, interrupted: bool) -> tuple[bool, str | None]:
        """``(valid, reason)`` of a finished run; ``reason`` is None when valid."""
        if interrupted:
            return False, f"interrupted after {completed} inferences in {elapsed_ns / 1e9:.3f} s"
        missing = []
        if elapsed_ns / 1e9 < self.min_time_s:
            missing.append(f"measured {elapsed_ns / 1e9:.3f} s < minimum {self.min_time_s:g} s")
        if completed < self.min_iterations:
            missing.append(f"{completed} inferences < minimum {self.min_iterations}")
        if not missing:
            return True, None
        ended = self.ended_by(elapsed_ns, completed)
        if ended == "time":
            prefix = f"time budget of {self.budget_time_s:g} s ended the run: "
        elif ended == "iterations":
            prefix = f"iteration budget of {self.budget_iterations} ended the run: "
        else:
            prefix = "stopped early: "
        return False, prefix + "; ".join(missing)

    # -- the forecast ------------------------------------------------------------------------

    def plan(self, seconds_per_inference: float) -> Plan:
        """What the budget gives at ``seconds_per_inference`` (s, > 0), and its verdict.

        Time budget S: the loop stops at the first completion at or after S, so it gives
        ``ceil(S / t)`` inferences; an iteration budget N gives N; both: the smaller.
        """
        t = max(float(seconds_per_inference), 1e-9)
        counts = []
        if self.budget_time_s is not None:
            counts.append(max(1, math.ceil(round(self.budget_time_s * 1e9) / (t * 1e9) - 1e-9)))
        if self.budget_iterations is not None:
            counts.append(self.budget_iterations)
        n = min(counts)
        time_s = n * t
        needed = max(self.min_time_s, self.min_iterations * t)
        valid = n >= self.min_iterations and time_s >= self.min_time_s
        per = f"about {duration_text(t)} per inference"
        if valid:
            text = (f"{per}: {self.budget_text()} gives about {n} in {duration_text(time_s)}; "
                    f"the validity minimum ({self.minimum_text()}) is met")
        else:
            text = (f"{per}: about {duration_text(needed)} for the validity minimum "
                    f"({self.minimum_text()}); {self.budget_text()} will give about {n} in "
                    f"{duration_text(time_s)}: NOT VALID (raise the budget or lower "
                    "--min-iterations / --min-time)")
        return Plan(t, n, time_s, needed, valid, text)

    def as_dict(self) -> dict[str, Any]:
        """The rule as a plain dict for results.json (``stop_rule``)."""
        return {
            "budget_time_s": self.budget_time_s,
            "budget_iterations": self.budget_iterations,
            "budget_scope": BUDGET_SCOPE,
            "min_time_s": self.min_time_s,
            "min_iterations": self.min_iterations,
        }


def duration_text(seconds: float) -> str:
    """``490 ms``, ``15 s``, ``2.5 s`` or ``3 min 20 s``."""
    if seconds < 1.0:
        return f"{seconds * 1e3:.0f} ms"
    if seconds < 10.0:
        return f"{seconds:.1f} s"
    if seconds < 120.0:
        return f"{seconds:.0f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest} s"
