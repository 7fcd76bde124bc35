"""What a long run is doing, on stderr: benchmark_app-style steps and a progress display.

- :class:`Steps` prints ``[Step 2/7] Compiling ...`` and ``[ INFO ] ...`` lines, like OpenVINO's
  benchmark_app, so a user sees which phase a run is in and how long each took.
- :func:`make_progress` returns a tqdm bar (count, rate, ETA) when stderr is a terminal, and a
  :class:`PeriodicLine` otherwise (CI logs, ``nohup``, pipes): one plain line every
  :data:`DEFAULT_PERIOD_S` seconds (``RFBENCH_PROGRESS_PERIOD_S`` overrides it) and one at the
  end, instead of a bar's carriage returns.
- :class:`Ticker` feeds a display from a poll function in a background thread, for loops that
  must not be slowed by a call per iteration (the latency loop).

Everything here is silent under ``rfbench -q`` (the ``rfbench`` logger above WARNING).
Results go to stdout; nothing here writes there.
"""

from __future__ import annotations

import logging
import math
import os
import sys
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol, TextIO

from rfbench.errors import RfbenchError

PERIOD_ENV = "RFBENCH_PROGRESS_PERIOD_S"
DEFAULT_PERIOD_S = 10.0
#: Bar size on a terminal that reports no size.
FALLBACK_COLUMNS = 100
FALLBACK_ROWS = 24


def stderr_enabled() -> bool:
    """False under ``rfbench -q`` (only errors on stderr), else True."""
    return logging.getLogger("rfbench").isEnabledFor(logging.WARNING)


def progress_period_s() -> float:
    """Seconds between two lines of the non-terminal display (env ``RFBENCH_PROGRESS_PERIOD_S``)."""
    text = os.environ.get(PERIOD_ENV)
    if not text:
        return DEFAULT_PERIOD_S
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0 < value < math.inf:
        raise RfbenchError(f"{PERIOD_ENV}={text!r}: must be a number of seconds > 0")
    return value


def format_clock(seconds: float) -> str:
    """``m:ss`` or ``h:mm:ss`` (``?`` when unknown)."""
    if not math.isfinite(seconds) or seconds < 0:
        return "?"
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _write(stream: TextIO, line: str) -> None:
    """One line on ``stream`` that does not garble an active tqdm bar."""
    from tqdm import tqdm

    tqdm.write(line, file=stream)
    stream.flush()


class Steps:
    """Numbered steps and info lines on stderr (benchmark_app's ``[Step k/N]`` look).

    ``total``: number of steps announced; ``enabled`` None = :func:`stderr_enabled`.
    """

    def __init__(self, total: int, stream: TextIO | None = None, enabled: bool | None = None):
        self.total = total
        self.done = 0
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = stderr_enabled() if enabled is None else enabled

    def step(self, text: str) -> None:
        """Start the next step: ``[Step k/N] text``."""
        self.done += 1
        if self.enabled:
            _write(self.stream, f"[Step {self.done}/{self.total}] {text}")

    def info(self, text: str) -> None:
        """A detail of the current step: ``[ INFO ] text``."""
        if self.enabled:
            _write(self.stream, f"[ INFO ] {text}")

    def warning(self, text: str) -> None:
        """Something the user should act on: ``[ WARNING ] text``."""
        if self.enabled:
            _write(self.stream, f"[ WARNING ] {text}")


class Progress(Protocol):
    """The part of tqdm's interface the commands use."""

    def update(self, n: float = 1) -> Any: ...

    def set_postfix_str(self, s: str = "", refresh: bool = True) -> Any: ...

    def close(self) -> Any: ...


class NullProgress:
    """A display that shows nothing (``rfbench -q``, ``progress=False``)."""

    def update(self, n: float = 1) -> None:
        """Ignore progress."""

    def set_postfix_str(self, s: str = "", refresh: bool = True) -> None:
        """Ignore the postfix."""

    def close(self) -> None:
        """Nothing to close."""


class PeriodicLine:
    """Progress for a non-terminal: a line every ``period_s`` seconds and one at :meth:`close`.

    A line reads ``desc: 120/3226 img (3.7%), 11.9 img/s, elapsed 0:10, ETA 4:21, postfix``.
    Lines are written from :meth:`update` (so a stalled run prints nothing new); ``clock``:
    monotonic seconds, injectable for tests. ``precision``: decimals of the count (0 = integer);
    a fractional count (e.g. seconds measured) shows no rate of its own.
    """

    def __init__(self, total: float | None, desc: str, unit: str, stream: TextIO,
                 period_s: float, clock: Callable[[], float] = time.monotonic,
                 precision: int = 0) -> None:  # fmt: skip
        self.total, self.desc, self.unit = total, desc, unit
        self.stream, self.period_s, self.clock = stream, period_s, clock
        self.precision = precision
        self.n: float = 0
        self.postfix = ""
        self.start = self.last = clock()
        self.closed = False

    def update(self, n: float = 1) -> None:
        """Add ``n`` to the count; print a line when ``period_s`` has passed since the last."""
        self.n += n
        now = self.clock()
        if now - self.last >= self.period_s:
            self.last = now
            _write(self.stream, self.line(now))

    def set_postfix_str(self, s: str = "", refresh: bool = True) -> None:
        """Text appended to the next line."""
        self.postfix = s

    def close(self) -> None:
        """Print the last line (once)."""
        if not self.closed:
            self.closed = True
            _write(self.stream, self.line(self.clock(), final=True))

    def abandon(self) -> None:
        """Stop without a last line: the run failed, and its one-line error is the last word."""
        self.closed = True

    def line(self, now: float, final: bool = False) -> str:
        """The text of one progress line at time ``now``."""
        elapsed = max(now - self.start, 0.0)
        rate = self.n / elapsed if elapsed > 0 else math.nan
        count = f"{self.n:.{self.precision}f}"
        parts = [f"{self.desc}: {count}"]
        if self.total:
            parts[0] += f"/{self.total:.{self.precision}f} {self.unit} ({100 * self.n / self.total:.1f}%)"
        else:
            parts[0] += f" {self.unit}"
        if math.isfinite(rate) and not self.precision:
            parts.append(f"{rate:.3g} {self.unit}/s")
        parts.append(f"elapsed {format_clock(elapsed)}")
        if not final and self.total and rate > 0:
            parts.append(f"ETA {format_clock((self.total - self.n) / rate)}")
        if final:
            parts.append("done")
        if self.postfix:
            parts.append(self.postfix)
        return ", ".join(parts)


def make_progress(
    total: float | None,
    *,
    desc: str,
    unit: str,
    stream: TextIO | None = None,
    enabled: bool | None = None,
    tty: bool | None = None,
    period_s: float | None = None,
    precision: int = 0,
) -> Progress:
    """A progress display on ``stream`` (default stderr) for ``total`` units (None: unknown).

    ``tty`` None = ``stream.isatty()``: a tqdm bar with rate and ETA on a terminal, else a
    :class:`PeriodicLine` every ``period_s`` (None = :func:`progress_period_s`). ``enabled``
    None = :func:`stderr_enabled`; False gives a :class:`NullProgress`. ``precision``: decimals
    shown for a fractional count (e.g. seconds measured).
    """
    stream = stream if stream is not None else sys.stderr
    if not (stderr_enabled() if enabled is None else enabled):
        return NullProgress()
    if tty is None:
        tty = bool(getattr(stream, "isatty", lambda: False)())
    if not tty:
        period = progress_period_s() if period_s is None else period_s
        return PeriodicLine(total, desc, unit, stream, period, precision=precision)
    from tqdm import tqdm

    bar_format = None
    if precision:
        bar_format = (f"{{desc}}: {{percentage:3.0f}}%|{{bar}}| {{n:.{precision}f}}/"
                      f"{{total:.{precision}f}} {unit} [{{elapsed}}<{{remaining}}{{postfix}}]")
    # A terminal that reports no size (a bare pseudo-terminal, some CI runners) makes tqdm
    # draw nothing at all; give it a fixed size there.
    sized = _terminal_columns(stream) > 0
    return tqdm(total=total, desc=desc, unit=unit, file=stream, dynamic_ncols=sized,
                ncols=None if sized else FALLBACK_COLUMNS, nrows=None if sized else FALLBACK_ROWS,
                bar_format=bar_format, mininterval=0.2)  # fmt: skip


def _terminal_columns(stream: TextIO) -> int:
    """Width the terminal behind ``stream`` reports (0 when it reports none)."""
    try:
        return os.get_terminal_size(stream.fileno()).columns
    except (OSError, ValueError, AttributeError):
        return 0


class Ticker:
    """Updates ``progress`` from ``poll() -> (count, postfix)`` every ``interval_s`` seconds.

    Runs in a daemon thread so the measured loop makes no call per iteration; :meth:`stop`
    takes a last reading, then closes the display.
    """

    def __init__(self, progress: Progress, poll: Callable[[], tuple[float, str]],
                 interval_s: float = 0.5) -> None:  # fmt: skip
        self.progress, self.poll, self.interval_s = progress, poll, interval_s
        self.shown: float = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rfbench-progress", daemon=True)

    def start(self) -> Ticker:
        """Start the background updates."""
        self._thread.start()
        return self

    def _tick(self) -> None:
        count, postfix = self.poll()
        if postfix:
            self.progress.set_postfix_str(postfix, refresh=False)
        if count != self.shown:
            self.progress.update(count - self.shown)
            self.shown = count

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self._tick()

    def stop(self) -> None:
        """Stop the thread, show the final count and close the display."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        self._tick()
        self.progress.close()
