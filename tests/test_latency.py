"""Tests of ``rfbench latency``: statistics, budget and validity, loop, load, interruption, CLI.

More on the budget (time / iterations ending the run) in test_latency_budget.py.
"""

from __future__ import annotations

import csv
import json
import math
import statistics
from pathlib import Path

import numpy as np
import pytest

from rfbench.cli import main
from rfbench.latency import (
    AsyncWorkload,
    Decision,
    StopRule,
    SyncWorkload,
    make_feeds,
    measure,
    summarize_latencies_ns,
    verdict,
)
from rfbench.latency import loop as loop_mod
from rfbench.latency.load import CpuSnapshot, LoadAccumulator, _read_proc_stat
from rfbench.latency.records import _ns_to_ms_text, samples_csv_text
from rfbench.latency.stats import min_samples_for_percentile
from rfbench.runtimes.base import AsyncRunResult, TensorInfo

MS = 1_000_000  # ns per ms

# ---------------------------------------------------------------------------------------------
# Statistics
# ---------------------------------------------------------------------------------------------


def test_statistics_match_stdlib_on_1_to_100_ms() -> None:
    values_ms = list(range(1, 101))
    stats = summarize_latencies_ns([v * MS for v in values_ms])
    # statistics.quantiles(method="inclusive") is the same type-7 rule, computed independently.
    q = statistics.quantiles(values_ms, n=1000, method="inclusive")
    assert stats["samples"] == 100
    assert stats["latency_min_ms"] == 1.0
    assert stats["latency_max_ms"] == 100.0
    assert stats["latency_mean_ms"] == pytest.approx(50.5, abs=1e-12)
    assert stats["latency_std_ms"] == pytest.approx(statistics.stdev(values_ms), rel=1e-12)
    assert stats["latency_p50_ms"] == pytest.approx(q[499], abs=1e-9) == pytest.approx(50.5)
    assert stats["latency_p90_ms"] == pytest.approx(q[899], abs=1e-9) == pytest.approx(90.1)
    assert stats["latency_p95_ms"] == pytest.approx(q[949], abs=1e-9)
    assert stats["latency_p99_ms"] == pytest.approx(q[989], abs=1e-9) == pytest.approx(99.01)
    assert stats["latency_p99_9_ms"] == pytest.approx(q[998], abs=1e-9) == pytest.approx(99.901)


def test_statistics_by_hand_on_four_samples() -> None:
    stats = summarize_latencies_ns([40 * MS, 10 * MS, 30 * MS, 20 * MS])  # order must not matter
    assert stats["latency_p50_ms"] == pytest.approx(25.0)
    # rank (4 - 1) * 0.9 = 2.7 -> 30 + 0.7 * (40 - 30)
    assert stats["latency_p90_ms"] == pytest.approx(37.0)
    assert stats["latency_std_ms"] == pytest.approx(math.sqrt(500.0 / 3.0))  # ddof = 1


def test_statistics_skewed_sample_keeps_outlier() -> None:
    values = [10 * MS] * 99 + [1000 * MS]
    stats = summarize_latencies_ns(values)
    assert stats["latency_max_ms"] == 1000.0  # never dropped
    assert stats["latency_mean_ms"] == pytest.approx(19.9)
    assert stats["latency_p99_ms"] == pytest.approx(10.0 + 0.01 * 990.0)


def test_statistics_empty_and_single() -> None:
    empty = summarize_latencies_ns([])
    assert empty["samples"] == 0 and empty["latency_p50_ms"] is None
    one = summarize_latencies_ns([7 * MS + 5])
    assert one["latency_p99_9_ms"] == one["latency_min_ms"] == 7.000005
    assert one["latency_std_ms"] is None


def test_min_samples_for_percentile() -> None:
    assert min_samples_for_percentile(99.9) == 1001
    assert min_samples_for_percentile(50.0) == 3


def test_ns_to_ms_text_is_exact() -> None:
    assert _ns_to_ms_text(1) == "0.000001"
    assert _ns_to_ms_text(123_456_789_012) == "123456.789012"
    assert _ns_to_ms_text(-1_500_000) == "-1.500000"


# ---------------------------------------------------------------------------------------------
# Budget and validity rule
# ---------------------------------------------------------------------------------------------


def test_rule_needs_both_time_and_count() -> None:
    # Validity needs both minimums; only the budget (here 5 s) ends the run.
    rule = StopRule(budget_time_s=5.0, min_time_s=1.0, min_iterations=10)
    assert rule.decide(2 * 10**9, 9) is Decision.CONTINUE  # minimum time met: no stop
    assert rule.decide(10**9 - 1, 500) is Decision.CONTINUE  # minimum count met: no stop
    assert rule.decide(10**9, 10) is Decision.CONTINUE  # both minimums met: still no stop
    assert rule.decide(5 * 10**9, 9) is Decision.DONE
    assert rule.validity(10**9, 10, interrupted=False) == (True, None)
    assert not rule.validity(2 * 10**9, 9, interrupted=False)[0]  # time met, count not
    assert not rule.validity(10**9 - 1, 500, interrupted=False)[0]  # count met, time not
    valid, reason = rule.validity(5 * 10**9, 9, interrupted=False)
    assert not valid and "time budget of 5 s" in reason and "9 inferences < minimum 10" in reason
    valid, reason = rule.validity(3 * 10**9, 50, interrupted=True)
    assert not valid and reason.startswith("interrupted")


def test_rule_default_budget_and_bad_values() -> None:
    assert StopRule().budget_time_s == 30.0 and StopRule().budget_iterations is None
    assert StopRule(min_time_s=0.0).validity(1, 30, interrupted=False) == (True, None)
    with pytest.raises(Exception, match="minimum time"):
        StopRule(min_time_s=-1.0)
    with pytest.raises(Exception, match="minimum iterations"):
        StopRule(min_time_s=1.0, min_iterations=0)
    with pytest.raises(Exception, match="time budget"):
        StopRule(budget_time_s=0.0)
    with pytest.raises(Exception, match="no budget"):
        StopRule(budget_time_s=None, budget_iterations=None)


# ---------------------------------------------------------------------------------------------
# The loop, with an injected clock and inference
# ---------------------------------------------------------------------------------------------


class FakeClock:
    """A ns clock that only moves when a fake inference runs."""

    def __init__(self) -> None:
        self.now = 1_000

    def __call__(self) -> int:
        return self.now


class FakeInference:
    """Each call advances the clock by the next duration (ns); optional interrupt on call k."""

    def __init__(self, clock: FakeClock, durations_ns, interrupt_on: int | None = None, log=None):
        self.clock = clock
        self.durations = durations_ns
        self.calls = 0
        self.interrupt_on = interrupt_on
        self.log = log

    def __call__(self) -> None:
        self.calls += 1
        if self.interrupt_on is not None and self.calls == self.interrupt_on:
            raise KeyboardInterrupt
        self.clock.now += self.durations(self.calls)
        if self.log is not None:
            self.log.append(self)


def test_sync_loop_stops_at_time_or_iteration_budget() -> None:
    clock = FakeClock()
    infer = FakeInference(clock, lambda i: 10 * MS)
    rule = StopRule(0.1, min_time_s=0.1, min_iterations=5)
    (run,) = measure([("fake", SyncWorkload(infer, clock))], rule)
    assert run.completed == 10 and run.wall_ns == 100 * MS  # the time budget ended it
    assert verdict(run, rule) == (True, None) and run.ended_by == "time"

    clock = FakeClock()
    infer = FakeInference(clock, lambda i: 10 * MS)
    rule = StopRule(None, 25, min_time_s=0.1, min_iterations=5)
    (run,) = measure([("fake", SyncWorkload(infer, clock))], rule)
    assert run.completed == 25 and run.wall_ns == 250 * MS  # the iteration budget ended it
    assert throughput_close(run.throughput_per_s(), 100.0) and run.ended_by == "iterations"


def throughput_close(value: float | None, expected: float) -> bool:
    return value is not None and math.isclose(value, expected, rel_tol=1e-12)


def test_sync_loop_cap_marks_run_invalid() -> None:
    clock = FakeClock()
    infer = FakeInference(clock, lambda i: 10 * MS)
    rule = StopRule(budget_time_s=0.2, min_time_s=0.05, min_iterations=1000)
    (run,) = measure([("fake", SyncWorkload(infer, clock))], rule)
    assert run.completed == 20 and run.ended_by == "time" and not run.interrupted
    valid, reason = verdict(run, rule)
    assert not valid and "time budget" in reason and "20 inferences < minimum 1000" in reason


def test_sync_loop_records_each_sample_exactly() -> None:
    clock = FakeClock()
    infer = FakeInference(clock, lambda i: i * MS)  # 1 ms, 2 ms, 3 ms, ...
    (run,) = measure([("fake", SyncWorkload(infer, clock))], StopRule(None, 4))
    assert [row[1] for row in run.samples] == [1 * MS, 2 * MS, 3 * MS, 4 * MS]
    starts = [row[0] for row in run.samples]
    assert np.diff(starts).tolist() == [1 * MS, 2 * MS, 3 * MS]


def test_interrupt_keeps_samples_and_marks_invalid() -> None:
    clock = FakeClock()
    infer = FakeInference(clock, lambda i: 10 * MS, interrupt_on=7)
    rule = StopRule(1.0, min_time_s=1.0, min_iterations=10)
    (run,) = measure([("fake", SyncWorkload(infer, clock))], rule)
    assert run.interrupted and run.completed == 6 and len(run.samples) == 6
    assert run.wall_ns == 60 * MS
    valid, reason = verdict(run, rule)
    assert not valid and reason.startswith("interrupted after 6 inferences")
    text = samples_csv_text([run])
    assert text.count("\n") == 7  # header + 6 rows


def test_interleaved_chunks_alternate_and_interrupt_stops_all() -> None:
    clock = FakeClock()
    order: list[str] = []
    a = FakeInference(clock, lambda i: 10 * MS)
    b = FakeInference(clock, lambda i: 20 * MS)

    def tagged(infer, tag):
        def run() -> None:
            infer()
            order.append(tag)
        return run

    rule = StopRule(0.1, min_time_s=0.1, min_iterations=1)
    runs = measure(
        [("a", SyncWorkload(tagged(a, "a"), clock)), ("b", SyncWorkload(tagged(b, "b"), clock))],
        rule,
        chunk_s=0.04,
    )
    collapsed = [t for i, t in enumerate(order) if i == 0 or order[i - 1] != t]
    assert collapsed[:4] == ["a", "b", "a", "b"]
    assert all(verdict(run, rule)[0] for run in runs)
    assert runs[0].wall_ns == 100 * MS and runs[1].wall_ns == 100 * MS
    assert runs[0].chunks >= 3 and {row[3] for row in runs[0].samples} == set(range(runs[0].chunks))

    clock = FakeClock()
    a = FakeInference(clock, lambda i: 10 * MS)
    b = FakeInference(clock, lambda i: 10 * MS, interrupt_on=3)
    runs = measure(
        [("a", SyncWorkload(a, clock)), ("b", SyncWorkload(b, clock))], rule, chunk_s=0.02
    )
    assert all(run.interrupted for run in runs)
    assert runs[0].completed == 4 and runs[1].completed == 2


def test_rewarm_runs_untimed_before_each_chunk() -> None:
    clock = FakeClock()
    warm_calls = {"a": 0}

    class Counting(SyncWorkload):
        def warm(self) -> None:
            warm_calls["a"] += 1
            clock.now += 50 * MS  # a slow, cold inference: must not show up anywhere

    a = FakeInference(clock, lambda i: 10 * MS)
    rule = StopRule(0.1, min_time_s=0.1, min_iterations=1)
    (run,) = measure([("a", Counting(a, clock))], rule, chunk_s=0.03, rewarm=True)
    assert warm_calls["a"] == run.chunks >= 3
    assert run.wall_ns == 100 * MS and max(row[1] for row in run.samples) == 10 * MS


class FakeAsyncAdapter:
    """Follows the run_async contract: N requests in flight, each ``latency`` ns, on a fake clock."""

    def __init__(self, clock: FakeClock, requests: int, latency_ns: int, interrupt_at: int = 0):
        self.clock, self.requests, self.latency = clock, requests, latency_ns
        self.interrupt_at = interrupt_at

    def run_async(self, feeds, *, should_stop=None, max_iterations=None, on_done=None):
        start = self.clock.now
        completed = submitted = 0
        reason = "condition"
        latencies = []
        while True:
            if max_iterations is not None and submitted >= max_iterations:
                reason = "max_iterations"
                break
            if should_stop is not None and should_stop(completed, self.clock.now - start):
                break
            if self.interrupt_at and submitted == self.interrupt_at:
                reason = "interrupted"
                break
            submitted += self.requests  # a wave of N parallel requests
            self.clock.now += self.latency
            for _ in range(self.requests):
                completed += 1
                latencies.append(self.latency)
                on_done(completed - 1, (completed - 1) % self.requests, self.latency, None)
        return AsyncRunResult(
            requests=self.requests,
            completed=completed,
            wall_ns=self.clock.now - start,
            latencies_ns=np.array(latencies, dtype=np.int64),
            job_ids=np.arange(completed),
            stop_reason=reason,
        )


def test_async_throughput_is_measured_not_derived_from_latency() -> None:
    clock = FakeClock()
    adapter = FakeAsyncAdapter(clock, requests=4, latency_ns=40 * MS)
    rule = StopRule(0.2, min_time_s=0.2, min_iterations=8)
    (run,) = measure([("fake", AsyncWorkload(adapter, {}, clock))], rule)
    # 4 requests in flight, 40 ms each: 100 inferences/s, while 1/latency would say 25/s.
    assert throughput_close(run.throughput_per_s(), 100.0)
    assert run.completed == len(run.samples) == 20
    assert summarize_latencies_ns(run.latencies_ns())["latency_p50_ms"] == 40.0
    assert verdict(run, rule) == (True, None)

    clock = FakeClock()
    adapter = FakeAsyncAdapter(clock, requests=2, latency_ns=40 * MS, interrupt_at=6)
    (run,) = measure([("fake", AsyncWorkload(adapter, {}, clock))], rule)
    assert run.interrupted and run.completed == 6 and not verdict(run, rule)[0]


# ---------------------------------------------------------------------------------------------
# Load from other processes
# ---------------------------------------------------------------------------------------------


def test_load_accumulator_subtracts_own_cpu_time() -> None:
    acc = LoadAccumulator()
    acc.add(CpuSnapshot(0, 100.0, 1.0, 10.0), CpuSnapshot(2 * 10**9, 103.0, 1.2, 11.5))
    acc.add(CpuSnapshot(5 * 10**9, 110.0, 2.0, 12.0), CpuSnapshot(7 * 10**9, 113.0, 2.0, 13.5))
    d = acc.as_dict()
    assert d["wall_s"] == 4.0
    assert d["own_cpu_cores"] == 0.75  # 3 s of own CPU over 4 s
    assert d["machine_busy_cores"] == 1.5
    assert d["other_busy_cores"] == 0.75
    assert d["steal_cores"] == 0.05


def test_read_proc_stat_parses_busy_and_steal(tmp_path: Path) -> None:
    import os

    hz = os.sysconf("SC_CLK_TCK")
    fake = tmp_path / "stat"
    fake.write_text("cpu  100 10 50 9000 20 5 5 30 7 0\ncpu0 1 2 3 4 5 6 7 8 9 10\n")
    busy, steal = _read_proc_stat(fake)
    assert busy == pytest.approx((100 + 10 + 50 + 5 + 5) / hz)
    assert steal == pytest.approx(30 / hz)
    assert _read_proc_stat(tmp_path / "missing") is None


# ---------------------------------------------------------------------------------------------
# Inputs
# ---------------------------------------------------------------------------------------------


def test_make_feeds_is_seeded_and_typed() -> None:
    infos = [TensorInfo("x", (1, 3, 4, 4), np.dtype(np.float32)), TensorInfo("y", (2,), np.dtype(np.uint8))]
    a, b = make_feeds(infos, seed=3), make_feeds(infos, seed=3)
    assert a["x"].dtype == np.float32 and a["x"].shape == (1, 3, 4, 4)
    assert a["y"].dtype == np.uint8
    assert np.array_equal(a["x"], b["x"]) and 0 <= a["x"].min() and a["x"].max() < 255
    with pytest.raises(Exception, match="dynamic shape"):
        make_feeds([TensorInfo("z", (1, 3, None, None), np.dtype(np.float32))])


# ---------------------------------------------------------------------------------------------
# Command line, end to end on the fixture model
# ---------------------------------------------------------------------------------------------

# An iteration budget, so the sample count does not depend on how busy the machine is (the
# fixture takes ~20 ms per inference on a quiet 2-core machine, 300 ms on a crowded one).
FAST = ["--iterations", "20", "--min-time", "0", "--min-iterations", "5", "--warmup", "1"]
# 40 inferences of >= ~12 ms: at least the 0.3 s the validity rule asks for.
FAST_TIMED = ["--iterations", "40", "--min-time", "0.3", "--min-iterations", "5", "--warmup", "1"]


def _read_samples(path: Path) -> dict[str, list[dict[str, str]]]:
    by_runtime: dict[str, list[dict[str, str]]] = {}
    with open(path, newline="") as handle:
        for row in csv.DictReader(handle):
            by_runtime.setdefault(row["runtime"], []).append(row)
    return by_runtime


@pytest.mark.slow
def test_cli_both_runtimes_results_match_samples(models_dir: Path, tmp_path: Path, capsys) -> None:
    model = models_dir / "retinaface-mnet025-640.onnx"
    out = tmp_path / "all"
    status = main(["latency", "--model", str(model), "--runtime", "all", "--precision", "f32",
                   *FAST_TIMED, "--out", str(out)])  # fmt: skip
    assert status == 0
    stdout = capsys.readouterr().out
    assert "onnxruntime/openvino" in stdout and "latency p99.9 ms" in stdout
    record = json.loads((out / "results.json").read_text())
    assert record["kind"] == "latency" and record["valid"] is True
    assert record["statistics"]["percentile_method"].startswith("linear")
    assert [r["runtime"] for r in record["runs"]] == ["openvino", "onnxruntime"]
    assert record["comparison"][0]["baseline"] == "openvino"
    samples = _read_samples(out / "samples.csv")
    for run in record["runs"]:
        rows = samples[run["runtime"]]
        assert run["valid"] and run["invalid_reason"] is None
        assert run["precision_effective"] == "f32"
        assert len(rows) == run["iterations"] >= 5 and run["measured_time_s"] >= 0.3
        assert [int(r["iteration"]) for r in rows] == list(range(len(rows)))
        latencies_ns = [round(float(r["latency_ms"]) * 1e6) for r in rows]
        again = summarize_latencies_ns(latencies_ns)
        for key in ("latency_min_ms", "latency_mean_ms", "latency_p50_ms", "latency_p99_9_ms",
                    "latency_max_ms", "latency_std_ms"):  # fmt: skip
            assert run[key] == pytest.approx(again[key], rel=1e-9), key
        assert run["throughput_fps"] == pytest.approx(run["iterations"] / run["measured_time_s"])
        assert run["compile_time_ms"] > 0 and run["first_inference_ms"] > 0
        assert run["requested"]["precision"] == "f32" and run["effective"]["threads"] >= 1
        assert run["load"]["loadavg_before"] is not None
        assert run["chunks"] >= 2  # interleaved
    csv_text = (out / "results.csv").read_text()
    assert csv_text.count("\n") == 3


def test_cli_throughput_mode_and_batch(models_dir: Path, tmp_path: Path) -> None:
    model = models_dir / "retinaface-mnet025-dynamic.onnx"
    out = tmp_path / "tput"
    status = main(["latency", "--model", str(model), "--mode", "throughput", "--requests", "2",
                   "--batch", "2", "--input-shape", "1x3x160x160", *FAST, "--out", str(out)])  # fmt: skip
    assert status == 0
    (run,) = json.loads((out / "results.json").read_text())["runs"]
    assert run["mode"] == "throughput" and run["api"] == "async"
    assert run["effective"]["requests"] == 2 and run["effective"]["batch"] == 2
    assert run["inputs"][0]["shape"] == [2, 3, 160, 160]
    assert run["throughput_fps"] == pytest.approx(2 * run["iterations"] / run["measured_time_s"])
    request_ids = {row["request_id"] for row in _read_samples(out / "samples.csv")["openvino"]}
    assert request_ids and request_ids <= {"0", "1"}  # which of the 2 requests ran each sample


def test_cli_interrupt_writes_invalid_samples(models_dir: Path, tmp_path: Path, monkeypatch) -> None:
    real = loop_mod.SyncWorkload.run_chunk

    def interrupted_chunk(self, should_stop, record):
        calls = {"n": 0}
        runner = self._runner

        def flaky() -> None:
            calls["n"] += 1
            if calls["n"] == 4:
                raise KeyboardInterrupt
            runner()

        self._runner = flaky
        return real(self, should_stop, record)

    monkeypatch.setattr(loop_mod.SyncWorkload, "run_chunk", interrupted_chunk)
    out = tmp_path / "int"
    model = models_dir / "retinaface-mnet025-640.onnx"
    status = main(["latency", "--model", str(model), *FAST, "--out", str(out)])
    assert status == 130
    record = json.loads((out / "results.json").read_text())
    (run,) = record["runs"]
    assert record["valid"] is False and record["interrupted"] is True
    assert run["valid"] is False and run["invalid_reason"].startswith("interrupted after 3")
    assert len(_read_samples(out / "samples.csv")["openvino"]) == 3


def test_cli_cap_reached_exits_nonzero(models_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "cap"
    model = models_dir / "retinaface-mnet025-640.onnx"
    status = main(["latency", "--model", str(model), "--min-time", "0.05", "--time", "0.1",
                   "--min-iterations", "100000", "--warmup", "0", "--out", str(out)])  # fmt: skip
    assert status == 1
    (run,) = json.loads((out / "results.json").read_text())["runs"]
    assert not run["valid"] and run["invalid_reason"].startswith("time budget of 0.1 s")


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--model", "/nonexistent/m.onnx"], "/nonexistent/m.onnx"),
        (["--device", "NOPE"], "NOPE"),
        (["--runtime", "onnxruntime", "--precision", "bf16"], "bf16"),
        (["--requests", "2"], "--requests"),
    ],
)
def test_cli_bad_input_one_line_error(models_dir, tmp_path, capsys, extra, message) -> None:
    # -q: the steps printed before the failing one are not part of the error
    args = ["-q", "latency", "--model", str(models_dir / "retinaface-mnet025-640.onnx"), *FAST,
            "--out", str(tmp_path / "bad"), *extra]  # fmt: skip
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("rfbench: error:") and message in err and "\n" not in err


@pytest.mark.parametrize(
    "extra",
    [
        ["--time", "0"],
        ["--time", "-1"],
        ["--time", "nan"],
        ["--iterations", "0"],
        ["--iterations", "-3"],
        ["--min-time", "-1"],
        ["--min-iterations", "0"],
        ["--threads", "0"],
        ["--batch", "0"],
        ["--warmup", "-1"],
        ["--runtime", "tensorflow"],
    ],
)
def test_cli_bad_numbers_rejected_by_argparse(extra, capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["latency", *extra])
    assert exc.value.code == 2
    assert "error:" in capsys.readouterr().err


def test_cli_defaults_match_library() -> None:
    from rfbench.commands import latency_cmd
    from rfbench.latency import rules, runner

    assert latency_cmd._MIN_TIME_S == rules.DEFAULT_MIN_TIME_S
    assert latency_cmd._MIN_ITERATIONS == rules.DEFAULT_MIN_ITERATIONS
    assert latency_cmd._TIME_S == rules.DEFAULT_TIME_S
    assert latency_cmd._WARMUP == runner.DEFAULT_WARMUP
