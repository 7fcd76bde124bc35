"""run_async's shared half: job hand-out, stop reasons, completion records, failures."""

from __future__ import annotations

import threading

import numpy as np

from rfbench.runtimes.asyncrun import AsyncJobs


def test_max_iterations_hands_out_each_job_once_across_threads() -> None:
    jobs = AsyncJobs(None, 100, None, False)
    jobs.start()
    taken: list[int] = []
    lock = threading.Lock()

    def worker(request_id: int) -> None:
        while (job := jobs.next_job()) is not None:
            with lock:
                taken.append(job)
            jobs.done(job, request_id, 5, 10 + job)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    result = jobs.result(4)
    assert sorted(taken) == list(range(100)) and result.completed == 100
    assert result.stop_reason == "max_iterations" and sorted(result.job_ids) == list(range(100))
    assert (result.latencies_ns == 5).all() and result.latencies_ns.dtype == np.int64
    assert result.wall_ns == max(10 + 99 - jobs.start_ns, 0)


def test_condition_sees_completions_and_elapsed_time() -> None:
    seen = []

    def should_stop(completed: int, elapsed_ns: int) -> bool:
        seen.append((completed, elapsed_ns))
        return completed >= 2

    jobs = AsyncJobs(should_stop, None, None, False)
    jobs.start()
    while (job := jobs.next_job()) is not None:
        jobs.done(job, 0, 1, jobs.start_ns + 1)
    assert [c for c, _ in seen] == [0, 1, 2] and all(e >= 0 for _, e in seen)
    assert jobs.result(1).stop_reason == "condition" and jobs.next_job() is None


def test_outputs_only_when_asked_and_callback_errors_stop_submission() -> None:
    got = []
    jobs = AsyncJobs(None, 10, lambda j, r, lat, out: got.append(out), True)
    job = jobs.next_job()
    assert job == 0
    jobs.done(job, 0, 1, 1, lambda: {"y": np.ones(2)})
    assert got[0]["y"].tolist() == [1.0, 1.0]

    def boom(*_: object) -> None:
        raise ValueError("boom")

    failing = AsyncJobs(None, 10, boom, False)
    failing.done(failing.next_job() or 0, 0, 1, 1)
    assert isinstance(failing.error, ValueError) and failing.next_job() is None


def test_interrupt() -> None:
    jobs = AsyncJobs(None, 10, None, False)
    assert jobs.next_job() == 0 and jobs.in_flight == 1
    jobs.interrupt()
    assert jobs.next_job() is None and jobs.result(1).stop_reason == "interrupted"
