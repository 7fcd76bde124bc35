"""Running the CLI in-process in tests, and reading its one-line errors."""

from __future__ import annotations

from rfbench.cli import main


def run_cli(capsys, *argv) -> tuple[int, str, str]:
    """``rfbench ARGV`` in this process: (exit code, stdout, stderr)."""
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def one_line_error(err: str) -> str:
    """The one ``rfbench: error:`` line of ``err`` (asserts there is exactly one, no traceback)."""
    lines = [line for line in err.strip().splitlines() if line.startswith("rfbench: error:")]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def interrupt_inference_at(monkeypatch, call: int) -> None:
    """Make ONNX Runtime's ``infer`` raise KeyboardInterrupt (Ctrl-C) at its ``call``-th call
    (1-based) in this process; the calls before it run for real."""
    from rfbench.runtimes.onnxruntime.adapter import ONNXRuntimeAdapter

    real_infer, calls = ONNXRuntimeAdapter.infer, {"n": 0}

    def interrupting_infer(self, feeds):
        calls["n"] += 1
        if calls["n"] == call:
            raise KeyboardInterrupt
        return real_infer(self, feeds)

    monkeypatch.setattr(ONNXRuntimeAdapter, "infer", interrupting_infer)
