"""Property tests of the GT-text and prediction-file parsers (issue 11): whatever the text, the
result is a clean RfbenchError or a valid parse, never another exception. Seeded
(``derandomize=True``) and bounded, so a run is reproducible and short."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rfbench.errors import RfbenchError
from rfbench.wider.ground_truth import parse_gt_lines, parse_gt_text
from rfbench.wider.image_ids import image_id_problem
from rfbench.wider.predictions import parse_prediction_text
from rfbench.wider.textio import split_lines

FUZZ = settings(max_examples=120, derandomize=True, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
PATH = Path("fuzz.txt")

# Pieces that real and nearly-real files are made of (mostly well-formed, so that the fuzzing
# reaches the deep branches and a fair share of the examples parse).
GOOD_NUMBERS = ["0", "1", "2", "10", "-2", "3.5", ".5", "1.", "+1", "-0", "9" * 30]
BAD_NUMBERS = ["1e3", "1_0", "0x10", "inf", "nan", "１", "١", "1e999", "", "-", "."]
NUMBERS = st.sampled_from(GOOD_NUMBERS * 20 + BAD_NUMBERS)
NAMES = st.sampled_from(["0--Parade/a.jpg", "ev/x.jpg", "ev/x.png", "ev/y.JPEG"] * 6
                        + ["../x/y.jpg", "/abs/y.jpg", "ev/../y.jpg", "a/b/c.jpg", "ev\\x.jpg", "ev/ x.jpg",
                           "ev/x", "x.jpg", "ev/\x00.jpg", "ev/..jpg"])
SEPARATORS = st.sampled_from([" "] * 60 + ["\t", "  ", "\x0c", "\u00a0", "\u2003"])
ENDS = st.sampled_from(["\n"] * 30 + ["\r\n"] * 10 + ["\r", "\x0b", "\u2028", "\x85"])


@st.composite
def row(draw, width: int) -> str:
    width = draw(st.sampled_from([width] * 20 + [3, 11]))
    values = draw(st.lists(NUMBERS, min_size=width, max_size=width))
    return "".join(value + draw(SEPARATORS) for value in values)


@st.composite
def counted_block(draw, widths: list[int]) -> str:
    """A count line and that many (or, sometimes, not that many) row lines."""
    n = draw(st.integers(0, 3))
    count = draw(st.sampled_from([str(n)] * 30 + [str(n + 1)] + BAD_NUMBERS))
    rows = [draw(row(draw(st.sampled_from(widths)))) for _ in range(n)]
    return count + draw(ENDS) + "".join(r + draw(ENDS) for r in rows)


@st.composite
def gt_like_text(draw) -> str:
    parts = [draw(st.sampled_from(["", "\ufeff"]))]
    for _ in range(draw(st.integers(0, 4))):
        parts += [draw(NAMES), draw(ENDS), draw(counted_block([4, 10]))]
    return "".join(parts)


@st.composite
def prediction_like_text(draw) -> str:
    head = draw(st.sampled_from(["", "\ufeff"])) + draw(st.sampled_from(["a", "", "a b"])) + draw(ENDS)
    return head + draw(counted_block([5]))


def assert_valid_gt(parsed) -> None:
    ids, boxes, flags = parsed
    assert len(ids) == len(boxes) == len(flags) >= 1
    for image_id, image_boxes, image_flags in zip(ids, boxes, flags):
        assert image_id_problem(image_id) is None
        assert image_boxes.dtype == np.float64 and image_boxes.ndim == 2 and image_boxes.shape[1] == 4
        assert np.isfinite(image_boxes).all()
        assert image_flags.dtype == bool and image_flags.shape == (len(image_boxes),)


def assert_valid_predictions(boxes) -> None:
    assert boxes.dtype == np.float64 and boxes.ndim == 2 and boxes.shape[1] == 5
    assert np.isfinite(boxes).all()


def parse_or_refuse(parse, text, check) -> None:
    try:
        parsed = parse(text)
    except RfbenchError as exc:
        assert str(exc) and "\n" not in str(exc).strip()
        return
    check(parsed)


@pytest.mark.slow
@FUZZ
@given(st.one_of(st.text(), gt_like_text()))
def test_gt_parser_on_arbitrary_text_gives_a_result_or_a_clean_error(text):
    parse_or_refuse(lambda t: parse_gt_lines(PATH, split_lines(t)), text, assert_valid_gt)


@pytest.mark.slow
@FUZZ
@given(st.one_of(st.text(), prediction_like_text()))
def test_prediction_parser_on_arbitrary_text_gives_a_result_or_a_clean_error(text):
    parse_or_refuse(lambda t: parse_prediction_text(PATH, t), text, assert_valid_predictions)


@pytest.fixture(scope="module")
def fuzz_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz")


@pytest.mark.slow
@FUZZ
@given(st.one_of(st.binary(max_size=200), gt_like_text().map(lambda t: t.encode("utf-8", "surrogatepass"))))
def test_gt_file_of_arbitrary_bytes_gives_a_result_or_a_clean_error(fuzz_dir, data):
    path = fuzz_dir / "gt.txt"
    path.write_bytes(data)
    parse_or_refuse(parse_gt_text, path, assert_valid_gt)


@st.composite
def well_formed_gt(draw) -> tuple[str, list[str], list[list[list[int]]]]:
    """An official-format GT text (random line ends, maybe a BOM) and the numbers it holds."""
    ids, images, lines = [], [], []
    for k in range(draw(st.integers(1, 4))):
        box = st.lists(st.integers(-5, 2000), min_size=4, max_size=4)
        attributes = st.lists(st.integers(0, 2), min_size=6, max_size=6)
        rows = draw(st.lists(st.tuples(box, attributes).map(lambda t: t[0] + t[1]), max_size=4))
        ids.append(f"{k}--Ev/img_{k}")
        images.append(rows)
        lines += [f"{ids[-1]}.jpg", str(len(rows))] + [" ".join(map(str, r)) + " " for r in rows]
    end = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    return draw(st.sampled_from(["", "\ufeff"])) + end.join(lines) + end, ids, images


@pytest.mark.slow
@FUZZ
@given(well_formed_gt())
def test_well_formed_gt_text_parses_to_exactly_its_numbers(case):
    text, ids, images = case
    got_ids, boxes, flags = parse_gt_lines(PATH, split_lines(text))
    assert got_ids == ids
    for rows, image_boxes, image_flags in zip(images, boxes, flags):
        kept = [r for r in rows if any(r[:4])]  # an all-zero box row is the face-less placeholder
        assert image_boxes.tolist() == [r[:4] for r in kept]
        assert image_flags.tolist() == [r[7] != 0 for r in kept]


def test_fuzz_strategies_reach_valid_parses():
    """The near-valid generators do produce accepted files (else the properties test little)."""
    assert_valid_gt(parse_gt_lines(PATH, split_lines("\ufeffev/x.jpg\r\n1\r\n1 2 3 4\t0 0 0 0 0 0\r\n")))
    assert_valid_predictions(parse_prediction_text(PATH, "a\r1\r1 2 3 4 .5\r"))


def _refused_by_the_full_check(image_id: str) -> bool:
    """The id rules written out again: two parts, none empty, '.' or '..', no surrounding
    blanks or control characters, no backslash or colon."""
    parts = image_id.split("/")
    return not (len(parts) == 2 and all(
        p not in ("", ".", "..") and p == p.strip() and p.isprintable() and "\\" not in p
        and ":" not in p for p in parts))


@settings(max_examples=3000, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("aZ0_-./\\: \t\x00\u00e9\u2028")), min_size=1, max_size=8))
def test_image_id_fast_path_accepts_nothing_the_rules_refuse(image_id):
    if _refused_by_the_full_check(image_id):
        assert image_id_problem(image_id) is not None
    else:
        assert image_id_problem(image_id) is None
