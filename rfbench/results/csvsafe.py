"""CSV cells that a spreadsheet cannot run as formulas (OWASP "CSV Injection").

Excel, LibreOffice Calc and Google Sheets evaluate a cell whose text starts with ``=``, ``+``,
``-`` or ``@`` (and, after trimming, tab or carriage return) as a formula: a model file named
``=1+1.onnx`` would become a formula in ``results.csv``. As OWASP advises, such a text cell is
written with a leading single quote, which spreadsheets read as "this is text". ASVS 1.2.10
adds the NUL character to the list. Numbers are left alone: a numeric column is never touched,
and a text cell that is a plain number (``-1.5``, ``+2``, ``-3e-05``) is a number to a
spreadsheet, not a formula. Quoting of separators and quotes is the CSV writer's job (the
``csv`` module quotes as RFC 4180 says), so a neutralised cell cannot leak into its neighbours.

:func:`csv_text` writes tidy rows with the standard library (an ``eval`` does not import pandas
for one small table): missing values and NaN as empty cells, floats as ``repr``.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\0")
_PLAIN_NUMBER = re.compile(r"[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")


def neutralise_cell(value: Any) -> Any:
    """``value`` with a leading ``'`` if it is text a spreadsheet would run; anything else as is."""
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS) and not _PLAIN_NUMBER.fullmatch(value):
        return "'" + value
    return value


def csv_text(rows: Iterable[Mapping[str, Any]], columns: Sequence[str] | None = None) -> str:
    """CSV of ``rows`` (header first, ``\n`` line ends, minimal quoting), every cell through
    :func:`neutralise_cell`. ``columns``: the header (default: every key, in order of first
    appearance); a row's missing key, None and NaN are empty cells.

    Numbers are written as the version-1 files (pandas) wrote them: floats as ``repr``, and a
    column of numbers that has a float or an empty cell writes its integers as floats too
    (``423264.0``), so a results.csv stays byte for byte what it was.
    """
    rows = list(rows)
    if columns is None:
        columns = list(dict.fromkeys(key for row in rows for key in row))
    cells = [_column(row.get(c) for row in rows) for c in columns]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([neutralise_cell(c) for c in columns])
    writer.writerows(zip(*cells) if cells else [[] for _ in rows])
    return buffer.getvalue()


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _column(values: Iterable[Any]) -> list[Any]:
    """One column's cells (see :func:`csv_text`)."""
    values = list(values)
    present = [v for v in values if not _missing(v)]
    numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in present)
    as_float = numbers and len(present) < len(values) or numbers and any(isinstance(v, float) for v in present)
    return ["" if _missing(v) else repr(float(v)) if as_float or isinstance(v, float)
            else neutralise_cell(v) for v in values]
