"""CSV cells that a spreadsheet cannot run as formulas (OWASP "CSV Injection").

Excel, LibreOffice Calc and Google Sheets evaluate a cell whose text starts with ``=``, ``+``,
``-`` or ``@`` (and, after trimming, tab or carriage return) as a formula: a model file named
``=1+1.onnx`` would become a formula in ``results.csv``. As OWASP advises, such a text cell is
written with a leading single quote, which spreadsheets read as "this is text". ASVS 1.2.10
adds the NUL character to the list. Numbers are left alone: a numeric column is never touched,
and a text cell that is a plain number (``-1.5``, ``+2``, ``-3e-05``) is a number to a
spreadsheet, not a formula. Quoting of separators and quotes is the CSV writer's job (pandas
quotes as RFC 4180 says), so a neutralised cell cannot leak into its neighbours.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\0")
_PLAIN_NUMBER = re.compile(r"[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")


def neutralise_cell(value: Any) -> Any:
    """``value`` with a leading ``'`` if it is text a spreadsheet would run; anything else as is."""
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS) and not _PLAIN_NUMBER.fullmatch(value):
        return "'" + value
    return value


def neutralise_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose text cells and column names went through :func:`neutralise_cell`.

    Only object and string columns are looked at (numeric columns are numbers by type).
    """
    safe = frame.copy()
    for column in safe.select_dtypes(include=["object", "string"]).columns:
        safe[column] = safe[column].map(neutralise_cell)
    safe.columns = [neutralise_cell(c) for c in safe.columns]
    return safe
