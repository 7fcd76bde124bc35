"""When a measurement may stop, and whether it is valid (MLPerf LoadGen style).

A run is valid only when it reached BOTH the minimum measured time and the minimum number of
completed inferences. It stops early, and is then not valid, when it hits the hard time cap or
is interrupted; the reason is recorded, never silently dropped.
"""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass
from typing import Any

from rfbench.errors import RfbenchError

#: Defaults of ``rfbench latency``: runnable well under a minute on the R50 reference graph
#: (~120 ms per inference at bf16, ~250 ms at f32 on a quiet 2-core machine).
DEFAULT_MIN_TIME_S = 10.0
DEFAULT_MIN_ITERATIONS = 30
DEFAULT_CAP_FACTOR = 5.0


class Decision(enum.Enum):
    """What the loop does after a completed inference."""

    CONTINUE = "continue"
    DONE = "done"  # both minimums met: stop, valid
    CAP = "cap"  # hard time cap reached before the minimum count: stop, not valid


@dataclass(frozen=True)
class StopRule:
    """Minimum measured time (s) AND minimum completed inferences; hard cap on measured time (s).

    ``max_time_s`` defaults to ``DEFAULT_CAP_FACTOR * min_time_s``; it must be >= ``min_time_s``.
    """

    min_time_s: float = DEFAULT_MIN_TIME_S
    min_iterations: int = DEFAULT_MIN_ITERATIONS
    max_time_s: float | None = None

    def __post_init__(self) -> None:
        if not self.min_time_s > 0:
            raise RfbenchError(f"minimum time must be > 0 s, got {self.min_time_s}")
        if self.min_iterations < 1:
            raise RfbenchError(f"minimum iterations must be >= 1, got {self.min_iterations}")
        if self.max_time_s is None:
            object.__setattr__(self, "max_time_s", DEFAULT_CAP_FACTOR * self.min_time_s)
        if self.max_time_s < self.min_time_s:
            raise RfbenchError(
                f"time cap {self.max_time_s} s is below the minimum time {self.min_time_s} s"
            )

    def decide(self, elapsed_ns: int, completed: int) -> Decision:
        """Decision after ``completed`` inferences in ``elapsed_ns`` of measured time."""
        elapsed_s = elapsed_ns / 1e9
        if elapsed_s >= self.min_time_s and completed >= self.min_iterations:
            return Decision.DONE
        if elapsed_s >= self.max_time_s:
            return Decision.CAP
        return Decision.CONTINUE

    def validity(self, elapsed_ns: int, completed: int, interrupted: bool) -> tuple[bool, str | None]:
        """``(valid, reason)`` of a finished run; ``reason`` is None when valid."""
        if interrupted:
            return False, (
                f"interrupted after {completed} inferences in {elapsed_ns / 1e9:.3f} s"
            )
        missing = []
        if elapsed_ns / 1e9 < self.min_time_s:
            missing.append(f"measured {elapsed_ns / 1e9:.3f} s < minimum {self.min_time_s:g} s")
        if completed < self.min_iterations:
            missing.append(f"{completed} inferences < minimum {self.min_iterations}")
        if not missing:
            return True, None
        capped = elapsed_ns / 1e9 >= self.max_time_s
        prefix = f"hard cap of {self.max_time_s:g} s reached: " if capped else "stopped early: "
        return False, prefix + "; ".join(missing)

    def as_dict(self) -> dict[str, Any]:
        """The rule as a plain dict for results.json."""
        return asdict(self)
