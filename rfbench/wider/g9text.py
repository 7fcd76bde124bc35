"""The submission files' ``%.9g`` numbers, compiled: byte for byte Python's, ~4x faster.

Each float32 value is written as Python's ``"%.9g" % float(v)`` writes it.

``%.9g`` writes the value rounded to 9 significant digits (correctly rounded, ties to even) as
``D.DDDDDDDDe±XX`` when its decimal exponent X is below -4 or at least 9, else in fixed notation,
and drops trailing zeros (and a bare decimal point). The digits come from one float64 product
``v * 10**(8 - X)`` in [1e8, 1e9), within ``2**-51 * 1e9 < 5e-7`` of the exact one
(:func:`_round_at`: exact for values from 1e-14 to 1e9, exact ties such as a box width of
26.70703125 included); the rare values whose rounding it cannot decide take Python's own
``"%.8e"``, which gives the 9 digits and the exponent exactly.

:func:`rows_text` falls back to Python's formatting for rows holding inf or NaN.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from rfbench.decoder.compiled import numba

_TIE_WINDOW = 1e-6  # > 5e-7, the bound on the product's error
_K_MIN, _K_MAX = -40, 60  # 10**k for every k = 8 - X a float32 can need (X in [-45, 38])
_POW10 = np.array([float(Fraction(10) ** k) for k in range(_K_MIN, _K_MAX + 1)])  # correctly rounded
_NUMBER_CHARS = 16  # "-d.dddddddde-45" and "-0.000ddddddddd" are 15 characters


@numba.njit(cache=True, nogil=True)
def _round_at(a, x, pow10):  # pragma: no cover - compiled
    """``round(a * 10**(8 - x))`` ties to even, and whether that is certain.

    For ``0 <= 8 - x <= 22`` the power of ten is exact in float64 and the rounding is decided
    exactly: half-integers are float64 numbers below 2**52, so the rounded product ``y`` falls on
    the correct side of ``N + 0.5`` or on it, and on it the product's exact error (Dekker's
    product with a Veltkamp split: ``a`` has 24 bits, so ``a * hi`` and ``a * lo`` are exact)
    decides. Other powers are within 1 ulp: certain unless ``y`` is within :data:`_TIE_WINDOW`
    of a tie.
    """
    k = 8 - x
    p = pow10[k - _K_MIN]
    y = a * p
    n = np.floor(y)
    frac = y - n  # exact: y < 2**31
    if 0 <= k <= 22:
        if frac > 0.5:
            return int(n) + 1, True
        if frac < 0.5:
            return int(n), True
        c = 134217729.0 * p
        hi = c - (c - p)
        err = (a * hi - y) + a * (p - hi)  # a * p - y, exactly
        if err > 0.0 or (err == 0.0 and int(n) % 2 == 1):
            return int(n) + 1, True
        return int(n), True
    return int(np.floor(y + 0.5)), abs(frac - 0.5) >= _TIE_WINDOW


@numba.njit(cache=True, nogil=True)
def _digits(values, pow10):  # pragma: no cover - compiled
    """9 significant digits of each value.

    Args:
        values: (N,) float64, finite (float32 values).
        pow10: :data:`_POW10`.
    Returns:
        (digits, exponents, ok): (N,) int64 ``round(|v| * 10**(8 - X))`` in [1e8, 1e9) (0 for
        zeros), (N,) int64 decimal exponents X, (N,) bool False where the rounding could not be
        decided from float64 products (:func:`_round_at`).
    """
    n = values.size
    digits = np.zeros(n, np.int64)
    exps = np.zeros(n, np.int64)
    ok = np.ones(n, np.bool_)
    for i in range(n):
        a = abs(values[i])
        if a == 0.0:
            continue
        x = int(np.floor(np.log10(a)))  # off by at most one near powers of ten
        d, sure = _round_at(a, x, pow10)
        if d < 100000000:
            x -= 1
            d, sure = _round_at(a, x, pow10)
        elif d >= 1000000000:
            x += 1
            d, sure = _round_at(a, x, pow10)
        digits[i], exps[i] = d, x
        ok[i] = sure and 100000000 <= d < 1000000000
    return digits, exps, ok


@numba.njit(cache=True, nogil=True)
def _put_number(buf, pos, negative, d, x, tmp):  # pragma: no cover - compiled
    """Write one ``%.9g`` number (sign, digits ``d`` in [1e8, 1e9) or 0, exponent ``x``) at
    ``buf[pos:]``; returns the position after it. ``tmp``: (9,) uint8 scratch."""
    if negative:
        buf[pos] = 45  # '-'
        pos += 1
    if d == 0:
        buf[pos] = 48
        return pos + 1
    u = np.uint32(d)  # unsigned: the divisions by 10 compile to multiply-shifts
    for k in range(8, -1, -1):
        q = u // np.uint32(10)
        tmp[k] = np.uint8(48 + (u - q * np.uint32(10)))
        u = q
    nd = 9
    while nd > 1 and tmp[nd - 1] == 48:
        nd -= 1
    if -4 <= x < 9:
        if x >= 0:
            buf[pos:pos + x + 1] = tmp[:x + 1]
            pos += x + 1
            if nd > x + 1:
                buf[pos] = 46  # '.'
                buf[pos + 1:pos + nd - x] = tmp[x + 1:nd]
                pos += nd - x
        else:  # "0." then -x - 1 zeros, then the digits
            buf[pos] = 48
            buf[pos + 1] = 46
            buf[pos + 2:pos + 1 - x] = 48
            pos += 1 - x
            buf[pos:pos + nd] = tmp[:nd]
            pos += nd
        return pos
    buf[pos] = tmp[0]
    if nd > 1:
        buf[pos + 1] = 46
        buf[pos + 2:pos + nd + 1] = tmp[1:nd]
        pos += nd
    pos += 1
    buf[pos] = 101  # 'e'
    buf[pos + 1] = 45 if x < 0 else 43
    pos += 2
    e = abs(x)
    if e >= 100:
        buf[pos] = 48 + e // 100
        pos += 1
    buf[pos] = 48 + (e // 10) % 10
    buf[pos + 1] = 48 + e % 10
    return pos + 2


@numba.njit(cache=True, nogil=True)
def _emit(values, digits, exps, columns):  # pragma: no cover - compiled
    """The text bytes: ``columns`` numbers per line, separated by spaces, each line ending in
    a newline; (M,) uint8."""
    n = values.size
    buf = np.empty(n * (_NUMBER_CHARS + 1), np.uint8)
    tmp = np.empty(9, np.uint8)
    pos = 0
    for i in range(n):
        pos = _put_number(buf, pos, np.signbit(values[i]), digits[i], exps[i], tmp)
        buf[pos] = 10 if (i + 1) % columns == 0 else 32
        pos += 1
    return buf[:pos]


def python_digits(value: float) -> tuple[int, int]:
    """The 9 significant digits of ``|value|`` as an integer in [1e8, 1e9) and its decimal
    exponent, from Python's correctly rounded ``"%.8e"`` (value finite and non-zero)."""
    mantissa, exponent = f"{abs(value):.8e}".split("e")
    return int(mantissa.replace(".", "")), int(exponent)


def rows_text(rows: np.ndarray) -> str:
    """Each row of ``rows`` as one line of ``%.9g`` numbers separated by single spaces.

    Args:
        rows: (N, C) float32.
    Returns:
        The N lines, each ending in ``"\\n"``; identical to ``("%.9g " * C)[:-1] + "\\n"`` per row.
    """
    rows = np.asarray(rows, dtype=np.float32)
    if rows.ndim != 2:
        raise ValueError(f"rows must be (N, C), got shape {rows.shape}")
    if rows.size == 0:
        return ""
    values = rows.astype(np.float64).ravel()
    if not np.isfinite(values).all():
        line = " ".join(["%.9g"] * rows.shape[1]) + "\n"
        return (line * rows.shape[0]) % tuple(values.tolist())
    digits, exps, ok = _digits(values, _POW10)
    for i in np.flatnonzero(~ok):  # near a tie: Python's exact conversion decides
        digits[i], exps[i] = python_digits(float(values[i]))
    return _emit(values, digits, exps, rows.shape[1]).tobytes().decode("ascii")
