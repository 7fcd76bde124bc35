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
