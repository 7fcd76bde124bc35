"""Errors rfbench reports to users as one line and a non-zero exit code."""


class RfbenchError(Exception):
    """A user-facing failure: bad input, missing file, unsupported setting.

    The CLI prints ``rfbench: error: <message>`` and exits with status 2; no traceback.
    Messages name the file, line, device or option at fault.
    """


class InputFormatError(RfbenchError):
    """A malformed line in a ground-truth or prediction file (message names file and line)."""


class Interrupted(KeyboardInterrupt):
    """Ctrl-C with a note for the user (what was kept, how to continue); exit status 130."""
