"""The compiled ``%.9g`` writer must give Python's ``"%.9g" % v`` text byte for byte."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rfbench.wider.g9text import _POW10, _digits, python_digits, rows_text


def python_text(rows: np.ndarray) -> str:
    """The reference: Python's own formatting of each float32 value, row by row."""
    line = " ".join(["%.9g"] * rows.shape[1]) + "\n"
    return "".join(line % tuple(r) for r in np.asarray(rows, np.float32).astype(np.float64).tolist())


def as_rows(values: np.ndarray, columns: int = 5) -> np.ndarray:
    values = np.asarray(values, np.float32).ravel()
    return values[: values.size // columns * columns].reshape(-1, columns)


def test_random_bit_patterns_every_exponent():
    rng = np.random.default_rng(0)
    bits = rng.integers(0, 2**32, 400_000, dtype=np.uint64).astype(np.uint32).view(np.float32)
    rows = as_rows(bits[np.isfinite(bits)])
    assert rows_text(rows) == python_text(rows)


def test_exact_ties_are_rounded_half_to_even():
    # multiples of 2**-f have short exact decimals: many lie exactly half-way at the 9th digit
    rng = np.random.default_rng(1)
    parts = [rng.integers(0, 2**24, 20_000) / 2.0**f * rng.choice([-1, 1], 20_000) for f in range(20)]
    values = np.concatenate(parts).astype(np.float32)
    d, _, ok = _digits(values.astype(np.float64), _POW10)
    assert ok.all()
    exact = [f"{v:.25g}" for v in values[::20].astype(np.float64)]
    significant = [t.replace("-", "").replace(".", "").strip("0") for t in exact]
    assert sum(len(s) == 10 and s.endswith("5") for s in significant) > 50  # many exact ties
    rows = as_rows(values)
    assert rows_text(rows) == python_text(rows)


def test_edge_values():
    values = [0.0, -0.0, 1.0, -1.0, 0.5, 1e-4, 9.9999997e-5, 1e-5, 1e9, 999999999.0, 1e8, 123456789.0,
              26.70703125, 259.7421875, 3.4028235e38, 1.4e-45, 1.17549435e-38, 2.5, 0.0001, 1e-14,
              1.0000001e-14, 9.999999e-15, 1234567.9, 16777216.0, 0.1, 0.2, 0.3, 640.0, 1023.99994, 5e-10]
    rows = as_rows(np.r_[values, -np.asarray(values)], columns=1)
    assert rows_text(rows) == python_text(rows)


def test_inf_and_nan_rows_and_shapes():
    rows = np.array([[1.5, np.inf, -np.inf, np.nan, 2.0]], np.float32)
    assert rows_text(rows) == "1.5 inf -inf nan 2\n"
    assert rows_text(np.zeros((0, 5), np.float32)) == ""
    with pytest.raises(ValueError, match="rows must be"):
        rows_text(np.zeros(5, np.float32))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.floats(width=32, allow_nan=False, allow_infinity=False), min_size=1, max_size=40))
def test_any_float32_list(values):
    rows = as_rows(values, columns=1)
    assert rows_text(rows) == python_text(rows)


def test_python_digits_of_the_near_tie_fallback_agree_with_the_compiled_ones():
    rng = np.random.default_rng(2)
    bits = rng.integers(0, 2**32, 20_000, dtype=np.uint64).astype(np.uint32).view(np.float32)
    values = bits[np.isfinite(bits) & (bits != 0)].astype(np.float64)
    digits, exps, ok = _digits(values, _POW10)
    assert [python_digits(v) for v in values[ok]] == list(zip(digits[ok].tolist(), exps[ok].tolist()))
