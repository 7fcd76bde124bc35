"""The budget ends a latency run; the validity rule only judges it (issue 12, item 1).

Checked: the forecast (:meth:`StopRule.plan`) against the real loop on a fake clock, for any
latency and budget; iteration budgets and chunking; the CLI's defaults and option mapping; and
end to end on the MobileNet fixture that the wall time follows the budget, that a budget too
small for the validity rule is announced before measuring and is not extended.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_latency import MS, FakeAsyncAdapter, FakeClock, FakeInference

from rfbench.cli import build_parser, main
from rfbench.latency import AsyncWorkload, StopRule, SyncWorkload, measure, verdict
from rfbench.latency.rules import DEFAULT_MIN_ITERATIONS, DEFAULT_TIME_S

# ---------------------------------------------------------------------------------------------
# The rule and its forecast
# ---------------------------------------------------------------------------------------------


def test_defaults_give_a_valid_r50_run_at_f32_and_bf16() -> None:
    rule = StopRule()
    f32, bf16 = rule.plan(0.490), rule.plan(0.250)  # R50 reference, 2 cores (spec)
    assert f32.iterations == math.ceil(DEFAULT_TIME_S / 0.490) == 62 and f32.valid
    assert bf16.iterations == 120 and bf16.valid
    assert rule.plan(1.041).valid  # R50 f32 p50 measured on this project's AVX2-only 2-core VM
    # The margin: a run is still valid when inference is up to 1/3 slower than f32 here.
    assert rule.plan(DEFAULT_TIME_S / DEFAULT_MIN_ITERATIONS).valid
    assert not rule.plan(DEFAULT_TIME_S / (DEFAULT_MIN_ITERATIONS - 1) * 1.01).valid


def test_plan_names_the_shortfall_before_measuring() -> None:
    rule = StopRule(budget_time_s=5.0, min_time_s=10.0, min_iterations=30)
    plan = rule.plan(0.49)
    assert not plan.valid and plan.iterations == 11 and plan.needed_time_s == pytest.approx(14.7)
    assert "about 15 s for the validity minimum (30 inferences and 10 s)" in plan.text
    assert "--time 5 will give about 11" in plan.text and "NOT VALID" in plan.text
    ok = StopRule(budget_time_s=20.0, min_time_s=10.0, min_iterations=30).plan(0.49)
    assert ok.valid and "--time 20 gives about 41" in ok.text and "NOT VALID" not in ok.text
    by_count = StopRule(None, 100, min_time_s=10.0, min_iterations=30).plan(0.05)
    assert by_count.iterations == 100 and by_count.time_s == pytest.approx(5.0)
    assert not by_count.valid  # 100 x 50 ms = 5 s < the 10 s minimum


@settings(max_examples=60, deadline=None)
@given(
    latency_ms=st.integers(1, 400),
    budget_ms=st.one_of(st.none(), st.integers(1, 3000)),
    budget_n=st.one_of(st.none(), st.integers(1, 80)),
    min_n=st.integers(1, 60),
    min_ms=st.integers(0, 2000),
)
def test_plan_matches_the_loop(latency_ms, budget_ms, budget_n, min_n, min_ms) -> None:
    if budget_ms is None and budget_n is None:
        budget_ms = 500
    rule = StopRule(None if budget_ms is None else budget_ms / 1e3, budget_n,
                    min_time_s=min_ms / 1e3, min_iterations=min_n)  # fmt: skip
    clock = FakeClock()
    (run,) = measure([("f", SyncWorkload(FakeInference(clock, lambda i: latency_ms * MS), clock))], rule)
    plan = rule.plan(latency_ms / 1e3)
    assert run.completed == plan.iterations
    assert run.wall_ns == pytest.approx(plan.time_s * 1e9, abs=1)
    assert verdict(run, rule)[0] == plan.valid
    # the budget is never exceeded by more than the inference running when it ran out
    if budget_ms is not None:
        assert run.wall_ns < (budget_ms + latency_ms) * MS
    if budget_n is not None:
        assert run.completed <= budget_n


def test_validity_rule_never_extends_the_run() -> None:
    clock = FakeClock()
    rule = StopRule(budget_time_s=0.1, min_time_s=5.0, min_iterations=1000)
    (run,) = measure([("f", SyncWorkload(FakeInference(clock, lambda i: 10 * MS), clock))], rule)
    assert run.completed == 10 and run.wall_ns == 100 * MS
    valid, reason = verdict(run, rule)
    assert not valid and reason == (
        "time budget of 0.1 s ended the run: measured 0.100 s < minimum 5 s; "
        "10 inferences < minimum 1000"
    )


def test_iteration_budget_in_throughput_mode_finishes_requests_in_flight() -> None:
    clock = FakeClock()
    adapter = FakeAsyncAdapter(clock, requests=4, latency_ns=40 * MS)
    rule = StopRule(None, 10, min_time_s=0.0, min_iterations=10)
    (run,) = measure([("f", AsyncWorkload(adapter, {}, clock))], rule)
    assert 10 <= run.completed < 10 + 4 and run.completed == 12  # three waves of 4
    assert run.ended_by == "iterations" and verdict(run, rule) == (True, None)


def test_interleaved_iteration_budget_is_split_in_chunks_per_runtime() -> None:
    clock = FakeClock()
    order: list[str] = []

    def tagged(tag: str, ms: int):
        infer = FakeInference(clock, lambda i: ms * MS)

        def run() -> None:
            infer()
            order.append(tag)

        return SyncWorkload(run, clock)

    rule = StopRule(None, 10, min_time_s=0.0, min_iterations=10)
    assert rule.chunk_limits(5) == (None, 2)
    runs = measure([("a", tagged("a", 10)), ("b", tagged("b", 30))], rule, chunk_iterations=3)
    assert [r.completed for r in runs] == [10, 10]  # each runtime gets the whole budget
    assert "".join(order) == "aaabbbaaabbbaaabbbab"
    assert [r.chunks for r in runs] == [4, 4] and all(verdict(r, rule)[0] for r in runs)


def test_both_budgets_first_reached_ends_the_run() -> None:
    for ms, expected, ended in ((10, 7, "iterations"), (100, 3, "time")):
        clock = FakeClock()
        rule = StopRule(0.25, 7, min_time_s=0.0, min_iterations=1)
        (run,) = measure([("f", SyncWorkload(FakeInference(clock, lambda i, ms=ms: ms * MS), clock))], rule)
        assert run.completed == expected and run.ended_by == ended


def test_record_fields_of_the_rule() -> None:
    assert StopRule(3.0, None, 1.0, 5).as_dict() == {
        "budget_time_s": 3.0,
        "budget_iterations": None,
        "budget_scope": "per_runtime",
        "min_time_s": 1.0,
        "min_iterations": 5,
    }


# ---------------------------------------------------------------------------------------------
# Command line: option mapping (no model run)
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "budget"),
    [
        ([], (DEFAULT_TIME_S, None)),
        (["--time", "5"], (5.0, None)),
        (["--iterations", "50"], (None, 50)),
        (["--time", "5", "--iterations", "50"], (5.0, 50)),
    ],
)
def test_cli_budget_options(models_dir: Path, extra, budget) -> None:
    from rfbench.commands.latency_cmd import _options

    args = build_parser().parse_args(
        ["latency", "--model", str(models_dir / "retinaface-mnet025-640.onnx"), *extra,
         "--min-time", "2", "--min-iterations", "7"]  # fmt: skip
    )
    rule = _options(args).rule
    assert (rule.budget_time_s, rule.budget_iterations) == budget
    assert (rule.min_time_s, rule.min_iterations) == (2.0, 7)


def test_cli_help_states_budget_default_and_scope(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["latency", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "Why 30 s" in text and "~490 ms at f32" in text
    assert "The budget is per runtime" in text
    assert "never extends or cuts a run" in text


# ---------------------------------------------------------------------------------------------
# End to end on the MobileNet fixture
# ---------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_cli_wall_time_follows_the_budget(models_dir: Path, tmp_path: Path, capsys) -> None:
    model = models_dir / "retinaface-mnet025-640.onnx"
    out = tmp_path / "budget"
    status = main(["latency", "--model", str(model), "--runtime", "all", "--precision", "f32",
                   "--time", "1.5", "--min-time", "1", "--min-iterations", "100000",
                   "--warmup", "1", "--out", str(out)])  # fmt: skip
    err = capsys.readouterr().err
    assert status == 1  # not valid: far too few samples for the rule, and not extended
    record = json.loads((out / "results.json").read_text())
    assert record["stop_rule"]["budget_time_s"] == 1.5
    assert record["stop_rule"]["budget_scope"] == "per_runtime"
    for run in record["runs"]:
        slowest_s = run["latency_max_ms"] / 1e3
        assert 1.5 <= run["measured_time_s"] < 1.5 + slowest_s
        assert run["invalid_reason"].startswith("time budget of 1.5 s ended the run")
    # The measuring phase: 2 x 1.5 s, plus at most one inference each past the budget and one
    # untimed re-warm inference before each of the <= 5 chunks per runtime (the old rule would
    # have run until its 5x cap, 2 x 7.5 s). Start-up, compile and the report are not in it.
    took_s = float(re.search(r"measuring took ([\d.]+) s wall", err).group(1))
    slowest_s = max(run["latency_max_ms"] for run in record["runs"]) / 1e3
    assert 3.0 <= took_s < 3.0 + 12 * slowest_s + 0.5
    forecast = err.index("NOT VALID (raise the budget")
    assert forecast < err.index("inferences in 1.")  # printed before the measured summary
    assert "expected measuring time: about" in err


@pytest.mark.slow
def test_cli_iteration_budget_gives_exactly_n_samples(models_dir: Path, tmp_path: Path) -> None:
    model = models_dir / "retinaface-mnet025-640.onnx"
    out = tmp_path / "niter"
    status = main(["-q", "latency", "--model", str(model), "--iterations", "7", "--min-time", "0",
                   "--min-iterations", "7", "--warmup", "0", "--out", str(out)])  # fmt: skip
    assert status == 0
    (run,) = json.loads((out / "results.json").read_text())["runs"]
    assert run["iterations"] == 7 and run["valid"]
    lines = (out / "samples.csv").read_text().strip().splitlines()
    assert len(lines) == 1 + 7
