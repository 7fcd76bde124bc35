"""The one set of parsers for the CLI's option values: shapes, sizes, counts, numbers.

Each value has one parser that raises ``ValueError`` with the reason (:func:`shape`,
:func:`size_hw`, ...). Two thin front-ends turn that into the user-facing error:

* as an argparse ``type=`` (:func:`shape_arg`, :func:`positive_int`, ...): argparse prints
  ``argument --opt: '<value>': <reason>`` and exits with status 2;
* after parsing (:func:`parse_shape`, :func:`parse_size`): an :class:`RfbenchError`
  ``--opt '<value>': <reason>``, which the CLI prints as one line, also status 2.

Accepted syntax: a shape is ``1x3x640x640`` or ``1,3,640,640`` (every dimension >= 1); a size
is ``WIDTHxHEIGHT`` such as ``640x480`` (returned as (height, width), the numpy order); an
input-size policy (:func:`parse_input_size`, ``eval --input-size``) is a size, ``native`` or
``SHORT:LONG`` such as ``1600:2150``.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from rfbench.errors import RfbenchError

if TYPE_CHECKING:
    from rfbench.decoder.sizing import SizePolicy

T = TypeVar("T")

SHAPE_EXAMPLE = "1x3x640x640"
MAX_INPUT_ELEMENTS = 1 << 31  # of one input tensor (--input-shape): 8 GB of float32
SIZE_EXAMPLE = "640x640"


def shape(text: str) -> tuple[int, ...]:
    """``"1x3x480x640"`` or ``"1,3,480,640"`` -> ``(1, 3, 480, 640)``; ValueError says why not."""
    try:
        dims = tuple(int(p) for p in text.lower().replace(",", "x").split("x"))
    except ValueError:
        raise ValueError(f"expected a shape like {SHAPE_EXAMPLE}") from None
    if any(d < 1 for d in dims):
        raise ValueError("dimensions must be >= 1")
    if math.prod(dims) > MAX_INPUT_ELEMENTS:
        raise ValueError(f"{math.prod(dims):,} elements is over the {MAX_INPUT_ELEMENTS:,} "
                         "(8 GB of float32) rfbench feeds")
    return dims


def size_hw(text: str) -> tuple[int, int]:
    """``"WxH"`` (e.g. ``"640x480"``) -> (H, W) in pixels; ValueError says why not."""
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise ValueError(f"expected WIDTHxHEIGHT, e.g. {SIZE_EXAMPLE}") from None
    if width <= 0 or height <= 0:
        raise ValueError("width and height must be positive")
    from rfbench.decoder.sizing import MAX_NETWORK_SIDE

    if max(width, height) > MAX_NETWORK_SIDE:
        raise ValueError(f"a side over {MAX_NETWORK_SIDE} px, the largest network side")
    return height, width


def parse_input_size(text: str, option: str = "--input-size") -> SizePolicy:
    """``"640x480"``, ``"native"`` or ``"1600:2150"`` as a size policy
    (:func:`rfbench.decoder.sizing.parse_size_policy`), raising RfbenchError naming ``option``."""
    from rfbench.decoder.sizing import parse_size_policy

    return _checked(parse_size_policy, text, option)


def parse_shape(text: str, option: str = "--input-shape") -> tuple[int, ...]:
    """:func:`shape`, raising RfbenchError naming ``option`` and the value."""
    return _checked(shape, text, option)


def parse_size(text: str, option: str = "--input-size") -> tuple[int, int]:
    """:func:`size_hw` ((H, W) from ``WxH``), raising RfbenchError naming ``option``."""
    return _checked(size_hw, text, option)


def _checked(parse: Callable[[str], T], text: str, option: str) -> T:
    try:
        return parse(text)
    except ValueError as exc:
        raise RfbenchError(f"{option} {text!r}: {exc}") from None


def argtype(parse: Callable[[str], T]) -> Callable[[str], T]:
    """``parse`` as an argparse ``type=``: its ValueError becomes argparse's usage error."""

    def parse_arg(text: str) -> T:
        try:
            return parse(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(f"{text!r}: {exc}") from None

    parse_arg.__name__ = parse.__name__
    return parse_arg


def int_at_least(minimum: int) -> Callable[[str], int]:
    """argparse type factory: a whole number >= ``minimum``."""

    def whole_number(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise ValueError("expected a whole number") from None
        if value < minimum:
            raise ValueError(f"must be >= {minimum}")
        return value

    return argtype(whole_number)


def finite_number(zero: bool) -> Callable[[str], float]:
    """argparse type factory: a finite number > 0 (``zero``: >= 0)."""

    def number(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise ValueError("expected a number") from None
        if not (0 <= value if zero else 0 < value) or not value < math.inf:
            raise ValueError(f"must be a finite number {'>=' if zero else '>'} 0")
        return value

    return argtype(number)


def _three_floats(text: str) -> tuple[float, float, float]:
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        values = ()
    if len(values) != 3:
        raise ValueError("expected three numbers like 104,117,123")
    return values[0], values[1], values[2]


#: argparse types.
positive_int = int_at_least(1)
non_negative_int = int_at_least(0)
positive_float = finite_number(zero=False)
non_negative_float = finite_number(zero=True)
floats3 = argtype(_three_floats)
shape_arg = argtype(shape)


class RegisteredRuntimes:
    """argparse ``choices``: the names in the runtime registry, built in and from entry points.

    Read only when argparse needs them (checking a given value, printing help), so building the
    parser imports neither the runtimes nor numpy.
    """

    def _names(self) -> list[str]:
        from rfbench.runtimes import runtime_targets

        return sorted(runtime_targets())

    def __contains__(self, name: object) -> bool:
        return name in self._names()

    def __iter__(self) -> Iterator[str]:
        return iter(self._names())


# -- options shared by the commands that run a model --------------------------------------------

#: ``--precision`` values; ``default`` leaves the choice to the runtime.
PRECISION_CHOICES = ("f32", "bf16", "f16", "default")
#: The one precision policy of ``eval`` and ``latency``: f32 unless asked otherwise, so that an
#: accuracy run and a latency run of the same model are measured alike.
DEFAULT_PRECISION = "f32"
PRECISION_HELP = (
    "inference precision (default: f32, in eval and latency alike, so accuracy and latency are "
    "measured at the same precision; 'default': the runtime's own choice, e.g. bf16 for OpenVINO "
    "on CPUs with AVX-512 BF16/AMX, about 2x faster; the effective precision is printed and "
    "recorded)"
)
#: The one option for the network input size, in every command.
INPUT_SIZE_OPTION = "--input-size"
INPUT_SIZE_HELP = (
    "network input WIDTHxHEIGHT for a model whose input size is dynamic, e.g. 640x480 "
    f"(default: {SIZE_EXAMPLE}; the size used is printed and recorded; a model with a fixed "
    "size must be given that size or none)"
)


def add_precision_option(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """``--precision f32|bf16|f16|default`` (default f32), as eval and latency take it."""
    parser.add_argument("--precision", choices=PRECISION_CHOICES, default=DEFAULT_PRECISION,
                        help=PRECISION_HELP)


def add_results_options(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """``--out DIR``, ``--json`` and ``--force``, as eval and latency take them."""
    parser.add_argument("--out", metavar="DIR", help="output folder (default: a new folder under reports/)")
    parser.add_argument("--json", action="store_true",
                        help="print the results record (results.json) on stdout instead of the tables")
    parser.add_argument("--force", action="store_true",
                        help="replace the results of another run in --out (default: refuse)")


def precision_value(choice: str | None) -> str | None:
    """The precision to ask the runtime for: None (its own default) for ``default``."""
    return None if choice in (None, "default") else choice


#: What ``native`` and ``SHORT:LONG`` add to the option, in the commands that take them.
INPUT_SIZE_POLICY_HELP = (
    "; or native (each image at its own size) or SHORT:LONG (short side SHORT unless the long "
    "side would exceed LONG, e.g. 1600:2150) for a model with a dynamic input"
)


def add_input_size_option(parser: argparse.ArgumentParser | argparse._ArgumentGroup,
                          policies: bool = False, extra_help: str = "") -> None:
    """``--input-size WxH``, the same option and syntax in every command (parsed after argparse
    by :func:`input_hw` or :func:`input_size_of`, so a bad value is a one-line error naming the
    option). ``policies``: the command also takes ``native`` and ``SHORT:LONG``."""
    metavar = "WxH|native|S:L" if policies else "WxH"
    help_text = INPUT_SIZE_HELP + (INPUT_SIZE_POLICY_HELP if policies else "") + extra_help
    parser.add_argument(INPUT_SIZE_OPTION, metavar=metavar, dest="input_size", help=help_text)


def input_size_of(args: argparse.Namespace) -> SizePolicy | None:
    """``--input-size`` as a size policy (a fixed WxH, native or SHORT:LONG; None when not given)."""
    text = getattr(args, "input_size", None)
    return parse_input_size(text) if text else None


def input_hw(args: argparse.Namespace) -> tuple[int, int] | None:
    """(H, W) from ``--input-size`` (None when not given); RfbenchError names the option."""
    text = getattr(args, "input_size", None)
    return parse_size(text) if text else None


def model_file(args: argparse.Namespace, value: str | Path | None = None) -> Path:
    """``--model`` (or ``value``) as a model file. A checkpoint (MXNet ``.params`` /
    ``-symbol.json``, ``.pth``) is imported once into the cache at the size this command runs it:
    fixed at ``--input-size`` (default 640x640), or dynamic for ``native`` / ``SHORT:LONG`` and
    ``--scales``."""
    from rfbench.models.importer.cache import resolve_model

    policy = input_size_of(args)
    dynamic = (policy is not None and policy.per_image) or bool(getattr(args, "scales", None))
    hw = None if dynamic else (policy.hw if policy is not None and policy.hw else (640, 640))
    return resolve_model(value if value is not None else args.model, hw)
