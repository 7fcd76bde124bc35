"""Long runs say what they do on stderr (issue 12, item 2).

Unit tests of :mod:`rfbench.console.progress` with an injected clock, then the real commands
under a real pseudo-terminal (python's ``pty``: the bar with rate and ETA must appear) and with
stderr on a pipe (periodic plain lines instead, period from ``RFBENCH_PROGRESS_PERIOD_S``).
"""

from __future__ import annotations

import fcntl
import io
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

from rfbench.console.progress import (
    PERIOD_ENV,
    NullProgress,
    PeriodicLine,
    Steps,
    Ticker,
    format_clock,
    make_progress,
    progress_period_s,
)
from rfbench.errors import RfbenchError

REPO_ROOT = Path(__file__).resolve().parents[1]

# ---------------------------------------------------------------------------------------------
# Units
# ---------------------------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_periodic_line_prints_every_period_with_rate_and_eta() -> None:
    out, clock = io.StringIO(), Clock()
    line = PeriodicLine(100, "eval", "img", out, period_s=10.0, clock=clock)
    for _ in range(10):  # 10 images in 9 s: nothing yet
        clock.now += 0.9
        line.update(1)
    assert out.getvalue() == ""
    clock.now += 1.0  # 11 images at 10 s
    line.update(1)
    assert out.getvalue() == "eval: 11/100 img (11.0%), 1.1 img/s, elapsed 0:10, ETA 1:21\n"
    clock.now += 5.0
    line.update(4)  # 5 s later: no new line
    assert out.getvalue().count("\n") == 1
    line.set_postfix_str("3 failed")
    clock.now += 5.0
    line.close()
    line.close()  # once only
    last = out.getvalue().splitlines()[-1]
    assert last == "eval: 15/100 img (15.0%), 0.75 img/s, elapsed 0:20, done, 3 failed"
    assert "\r" not in out.getvalue()


def test_periodic_line_fractional_count_shows_no_rate_of_its_own() -> None:
    out, clock = io.StringIO(), Clock()
    line = PeriodicLine(20.0, "measuring", "s", out, period_s=1.0, clock=clock, precision=1)
    clock.now += 5.0
    line.set_postfix_str("10 inferences, 2/s")
    line.update(5.0)
    assert out.getvalue() == (
        "measuring: 5.0/20.0 s (25.0%), elapsed 0:05, ETA 0:15, 10 inferences, 2/s\n"
    )


def test_make_progress_picks_bar_line_or_nothing() -> None:
    from tqdm import tqdm

    out = io.StringIO()
    assert isinstance(make_progress(3, desc="x", unit="img", stream=out, enabled=True), PeriodicLine)
    assert isinstance(make_progress(3, desc="x", unit="img", stream=out, enabled=False), NullProgress)
    bar = make_progress(3, desc="x", unit="img", stream=out, enabled=True, tty=True)
    assert isinstance(bar, tqdm)
    bar.update(3)
    bar.close()
    assert re.search(r"x: 100%\|.*\| 3/3 \[\d\d:\d\d<\d\d:\d\d, +[\d.]+img/s\]", out.getvalue())


def test_period_from_environment(monkeypatch) -> None:
    monkeypatch.delenv(PERIOD_ENV, raising=False)
    assert progress_period_s() == 10.0
    monkeypatch.setenv(PERIOD_ENV, "0.25")
    assert progress_period_s() == 0.25
    for bad in ("0", "-1", "soon", "inf"):
        monkeypatch.setenv(PERIOD_ENV, bad)
        with pytest.raises(RfbenchError, match=PERIOD_ENV):
            progress_period_s()


def test_steps_and_clock_format() -> None:
    out = io.StringIO()
    steps = Steps(2, out, enabled=True)
    steps.step("Reading model")
    steps.info("read model took 12.0 ms")
    steps.step("Measuring")
    steps.warning("NOT VALID")
    Steps(1, out, enabled=False).step("hidden")
    assert out.getvalue().splitlines() == [
        "[Step 1/2] Reading model", "[ INFO ] read model took 12.0 ms",
        "[Step 2/2] Measuring", "[ WARNING ] NOT VALID",
    ]  # fmt: skip
    assert (format_clock(5), format_clock(81.4), format_clock(3725), format_clock(-1)) == (
        "0:05", "1:21", "1:02:05", "?",
    )  # fmt: skip


def test_ticker_shows_the_final_count_and_closes() -> None:
    out, clock = io.StringIO(), Clock()
    line = PeriodicLine(10, "measuring", "inferences", out, period_s=1e9, clock=clock)
    state = {"n": 0}
    ticker = Ticker(line, lambda: (state["n"], f"{state['n']} done"), interval_s=0.01).start()
    for _ in range(7):
        state["n"] += 1
        time.sleep(0.005)
    ticker.stop()
    assert line.n == 7 and line.closed and out.getvalue().startswith("measuring: 7/10 inferences")


# ---------------------------------------------------------------------------------------------
# The real commands under a pseudo-terminal and on a pipe
# ---------------------------------------------------------------------------------------------


def _env(**extra: str) -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT), **extra)
    env.pop("CI", None)  # not needed by the child; keeps its fixture lookup quiet
    return env


def run_in_pty(args: list[str], columns: int = 120, timeout_s: float = 240.0) -> str:
    """Run ``python -m rfbench ARGS`` with stdin/stdout/stderr on a new pseudo-terminal of
    ``columns`` x 40 (0: a bare pty that reports no size); returns everything it wrote."""
    master, slave = pty.openpty()
    if columns:
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
    proc = subprocess.Popen([sys.executable, "-m", "rfbench", *args], stdin=slave, stdout=slave,
                            stderr=slave, env=_env(), close_fds=True)  # fmt: skip
    os.close(slave)
    chunks, deadline = [], time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 1.0)
            if not ready:
                if proc.poll() is not None:
                    break
                continue
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)
    return b"".join(chunks).decode("utf-8", errors="replace")


def run_piped(args: list[str], period_s: float) -> subprocess.CompletedProcess:
    """Run ``python -m rfbench ARGS`` with stderr on a pipe (as under CI or nohup)."""
    return subprocess.run([sys.executable, "-m", "rfbench", *args], capture_output=True,
                          text=True, env=_env(**{PERIOD_ENV: str(period_s)}), timeout=240,
                          check=False)  # fmt: skip


def _latency_args(models_dir: Path, out: Path, seconds: str) -> list[str]:
    return ["latency", "--model", str(models_dir / "retinaface-mnet025-640.onnx"), "--time",
            seconds, "--min-time", "0", "--min-iterations", "1", "--warmup", "1", "--out", str(out)]


def _eval_args(wider_mini: Path, val_gt_dir: Path, models_dir: Path, out: Path) -> list[str]:
    return ["eval", "--data-root", str(wider_mini), "--gt-mat-dir", str(val_gt_dir), "--model",
            str(models_dir / "retinaface-mnet025-640.onnx"), "--out", str(out)]


LATENCY_BAR = re.compile(
    r"\rmeasuring: +\d+%\|[^|\r]*\| [\d.]+/2\.0 s \[\d\d:\d\d<\d\d:\d\d, \d+ inferences, [\d.]+/s\]"
)
EVAL_BAR = re.compile(r"\reval: +\d+%\|[^|\r]*\| \d/5 \[\d\d:\d\d<\d\d:\d\d, +[\d.]+img/s\]")


@pytest.mark.slow
@pytest.mark.parametrize("columns", [120, 0])
def test_latency_bar_with_rate_and_eta_on_a_terminal(models_dir, tmp_path, columns) -> None:
    text = run_in_pty(_latency_args(models_dir, tmp_path / "lat", "2"), columns=columns)
    assert (tmp_path / "lat" / "results.json").is_file(), text[-2000:]
    steps = re.findall(r"\[Step (\d)/4\] (\w+)", text)
    assert steps == [("1", "Reading"), ("2", "Effective"), ("3", "Warming"), ("4", "Measuring")]
    assert re.search(r"read model took [\d.]+ ms, compile model took [\d.]+ ms", text)
    assert "first inference took" in text and "expected measuring time: about" in text
    bars = LATENCY_BAR.findall(text)
    assert len(bars) >= 2, text[-3000:]  # redrawn in place, with rate and ETA
    assert "measuring: 100%" in text


@pytest.mark.slow
def test_latency_periodic_lines_off_a_terminal(models_dir, tmp_path) -> None:
    result = run_piped(_latency_args(models_dir, tmp_path / "lat", "2"), period_s=0.3)
    assert result.returncode == 0, result.stderr[-2000:]
    err = result.stderr
    assert "\r" not in err and "[Step 4/4] Measuring openvino" in err
    lines = re.findall(r"^measuring: ([\d.]+)/2\.0 s \([\d.]+%\), elapsed \d:\d\d, (ETA \d:\d\d|done)"
                       r", \d+ inferences, [\d.]+/s$", err, flags=re.M)  # fmt: skip
    assert len(lines) >= 3, err  # about one per 0.5 s ticker tick, then the last one
    assert lines[-1] == ("2.0", "done") and all(eta.startswith("ETA") for _, eta in lines[:-1])
    assert "results:" in result.stdout and "measuring" not in result.stdout


@pytest.mark.slow
def test_eval_bar_on_a_terminal(wider_mini, val_gt_dir, models_dir, tmp_path) -> None:
    text = run_in_pty(_eval_args(wider_mini, val_gt_dir, models_dir, tmp_path / "ev"))
    assert (tmp_path / "ev" / "results.json").is_file(), text[-2000:]
    assert EVAL_BAR.search(text), text[-3000:]
    assert "eval: 100%" in text


@pytest.mark.slow
def test_eval_periodic_lines_off_a_terminal(wider_mini, val_gt_dir, models_dir, tmp_path) -> None:
    result = run_piped(_eval_args(wider_mini, val_gt_dir, models_dir, tmp_path / "ev"), 0.02)
    assert result.returncode == 0, result.stderr[-2000:]
    err = result.stderr
    lines = re.findall(r"^eval: (\d)/5 img \([\d.]+%\), [\d.]+ img/s, elapsed \d:\d\d, (ETA|done)",
                       err, flags=re.M)  # fmt: skip
    assert "\r" not in err and len(lines) >= 2, err
    assert lines[-1] == ("5", "done")
    quiet = run_piped(["-q", *_eval_args(wider_mini, val_gt_dir, models_dir, tmp_path / "q")], 0.02)
    assert quiet.returncode == 0 and "eval:" not in quiet.stderr


def test_latency_console_forecast_and_expected_time() -> None:
    """Steps of a two-runtime run from fake sessions: forecast per runtime, re-warm included."""
    from types import SimpleNamespace

    from rfbench.commands.latency_progress import LatencyConsole, seconds_per_inference
    from rfbench.latency import LatencyOptions, RunMeasurement, StopRule

    options = LatencyOptions(model=Path("m.onnx"), runtimes=("openvino", "onnxruntime"),
                             rule=StopRule(5.0, min_time_s=1.0, min_iterations=30))  # fmt: skip
    fast = SimpleNamespace(name="openvino", warmup_ms=[90.0, 100.0, 110.0], first_inference_ms=300.0)
    slow = SimpleNamespace(name="onnxruntime", warmup_ms=[], first_inference_ms=490.0)
    assert seconds_per_inference(fast, "latency") == pytest.approx(0.1)
    out = io.StringIO()
    console = LatencyConsole(options, stream=out, enabled=True, tty=False, period_s=1e9)
    console.measuring([fast, slow], options)
    run = RunMeasurement("openvino", wall_ns=5 * 10**9, completed=50, chunks=5)
    console.chunk_started(run)
    console.chunk_ended(run)
    console.measured()
    lines = out.getvalue().splitlines()
    assert lines[0] == ("[Step 1/7] Measuring openvino, onnxruntime (latency mode): budget "
                        "--time 5 per runtime, valid with >= 30 inferences and 1 s")  # fmt: skip
    assert lines[1].startswith("[ INFO ] openvino: about 100 ms per inference: --time 5 gives "
                               "about 50 in 5.0 s")  # fmt: skip
    assert lines[2].startswith("[ WARNING ] onnxruntime: about 490 ms per inference: about 15 s "
                               "for the validity minimum")  # fmt: skip
    # The same run on a fake clock (re-warm included): the forecast is its wall time.
    from test_latency import FakeClock, FakeInference

    from rfbench.latency import SyncWorkload, measure

    clock = FakeClock()
    start = clock.now
    workloads = [(name, SyncWorkload(FakeInference(clock, lambda i, ms=ms: ms * 10**6), clock))
                 for name, ms in (("openvino", 100), ("onnxruntime", 490))]  # fmt: skip
    measure(workloads, options.rule, chunk_s=options.effective_chunk_s(), rewarm=True)
    wall_s = (clock.now - start) / 1e9
    assert wall_s == pytest.approx(5.0 + 5 * 0.1 + 11 * 0.49 + 4 * 0.49)  # 50 + 11 timed, 5 + 4 re-warm
    assert lines[3] == f"[ INFO ] expected measuring time: about {wall_s:.0f} s"
    assert "openvino: 50 inferences in 5.00 s measured, 5 chunk(s)" in out.getvalue()
