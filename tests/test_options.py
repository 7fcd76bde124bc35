"""The CLI's one set of value parsers: accepted syntax and one-line errors naming the option."""

from __future__ import annotations

import argparse

import pytest

from rfbench.commands import options
from rfbench.errors import RfbenchError


def test_shape_accepts_x_and_comma() -> None:
    assert options.parse_shape("1x3x480x640") == (1, 3, 480, 640)
    assert options.parse_shape("1,3,480,640") == (1, 3, 480, 640)
    assert options.parse_shape("2X3") == (2, 3)


@pytest.mark.parametrize("bad", ["", "1x3xa", "1x0x3", "1x-3"])
def test_bad_shape_names_option_and_value(bad: str) -> None:
    with pytest.raises(RfbenchError, match=f"^--input-shape '{bad}': "):
        options.parse_shape(bad)
    with pytest.raises(argparse.ArgumentTypeError, match=f"^'{bad}': "):
        options.shape_arg(bad)


def test_size_is_width_by_height_returned_as_hw() -> None:
    assert options.parse_size("640x480") == (480, 640)
    with pytest.raises(RfbenchError, match="--input-size '640,480': expected WIDTHxHEIGHT"):
        options.parse_size("640,480")  # sizes take only 'x', as before
    with pytest.raises(RfbenchError, match="must be positive"):
        options.parse_size("0x480")


def test_numbers() -> None:
    assert options.positive_int("3") == 3 and options.non_negative_int("0") == 0
    for parse, bad in [(options.positive_int, "0"), (options.positive_int, "x"),
                       (options.positive_float, "nan"), (options.positive_float, "inf"),
                       (options.floats3, "1,2"), (options.floats3, "1,a,3")]:
        with pytest.raises(argparse.ArgumentTypeError):
            parse(bad)
    assert options.positive_float("0.5") == 0.5
    assert options.floats3("104,117,123") == (104.0, 117.0, 123.0)


def test_runtime_choices_come_from_the_registry() -> None:
    from rfbench.runtimes import runtime_targets

    choices = options.RegisteredRuntimes()
    assert list(choices) == sorted(runtime_targets())
    assert "openvino" in choices and "nope" not in choices
