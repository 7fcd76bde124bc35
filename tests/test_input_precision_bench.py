"""benchmarks/bench_latency_vs_benchmark_app.py: busy rounds are listed, not folded into the median.

Synthetic rounds (no runtime is run): the median must be over the quiet rounds only, the
busy ones listed; when every round is busy the median is over all and says so.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_latency_vs_benchmark_app.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_latency_vs_ba", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    yield module
    del sys.modules[spec.name]


def _pair(ba_ms: float, rf_ms: float, ba_load: float, rf_load: float) -> dict:
    return {"ba": {"median_ms": ba_ms, "throughput_fps": 1000 / ba_ms, "other_busy_cores": ba_load},
            "rf": {"latency_p50_ms": rf_ms, "throughput_fps": 1000 / rf_ms,
                   "load": {"other_busy_cores": rf_load}}}


def _round(ratio: float, load: float) -> dict:
    cells = {"latency u8 random": _pair(10.0, 10.0 * ratio, 0.0, load),
             "throughput u8 random": _pair(10.0, 10.0, load, 0.0)}
    ov = {"latency_p50_ms": 5.0, "load": {"other_busy_cores": 0.0}}
    ort = {"latency_p50_ms": 10.0, "load": {"other_busy_cores": load}}
    return {"f32": cells, "ov_vs_ort_f32": [ov, ort]}


def test_quiet_median_and_busy_rounds_listed(bench) -> None:
    rounds = [_round(1.00, 0.1), _round(1.50, 0.9), _round(1.02, 0.0), _round(0.60, 1.2)]
    rows = {r["metric"]: r for r in bench.summarise(rounds, ["f32"], [("u8", "random")], 0.25)}
    ratio = rows["f32 latency, u8 input, random data: rfbench p50 / benchmark_app median"]
    assert ratio["busy_rounds"] == [1, 3] and ratio["quiet_rounds"] == 2
    assert ratio["median"] == pytest.approx(1.01) and ratio["median_of"] == "quiet rounds"
    assert ratio["ok"] is True  # 1.01 within 0.97-1.03; the busy 1.50 and 0.60 are not in it
    assert ratio["rounds"] == pytest.approx([1.00, 1.50, 1.02, 0.60])
    ov_ort = rows["f32 OpenVINO / ONNX Runtime p50 (rfbench, interleaved)"]
    assert ov_ort["busy_rounds"] == [1, 3] and ov_ort["median"] == pytest.approx(0.5)


def test_all_busy_says_so(bench) -> None:
    rounds = [_round(1.2, 0.5), _round(1.4, 0.6)]
    rows = {r["metric"]: r for r in bench.summarise(rounds, ["f32"], [("u8", "random")], 0.25)}
    ratio = rows["f32 latency, u8 input, random data: rfbench p50 / benchmark_app median"]
    assert ratio["quiet_rounds"] == 0 and ratio["busy_rounds"] == [0, 1]
    assert ratio["median"] == pytest.approx(1.3)
    assert ratio["median_of"] == "all rounds (every round busy)"


def test_parse_benchmark_app_lines(bench) -> None:
    text = ("[ INFO ] Count:            120 iterations\n[ INFO ] Duration:         5012.3 ms\n"
            "[ INFO ]    Median:        12.70 ms\n[ INFO ] Throughput:   78.1 FPS\n")
    got = bench.parse_benchmark_app(text)
    assert got["count"] == 120 and got["median_ms"] == 12.7 and got["throughput_fps"] == 78.1
    with pytest.raises(ValueError, match="median_ms"):
        bench.parse_benchmark_app("Count: 3 iterations\nThroughput: 1.0 FPS")
