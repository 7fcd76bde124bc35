"""WIDER submission files: parsing, round trip, missing files, malformed lines."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from rfbench.errors import InputFormatError, RfbenchError
from rfbench.wider.predictions import read_predictions, write_prediction_file


def test_round_trip_is_exact_to_float32(tmp_path):
    rows = np.random.default_rng(0).uniform(-5, 2000, size=(300, 5))
    rows[:, 4] = np.random.default_rng(1).random(300)
    rows[0] = [1.25, 2.5, 30.125, 40.0, 1e-9]
    path = write_prediction_file(tmp_path, "ev--A/img_1", rows)
    assert path.read_text().splitlines()[:3] == ["img_1", "300", "1.25 2.5 30.125 40 9.99999972e-10"]
    got, missing = read_predictions(tmp_path, ["ev--A/img_1"])
    assert missing == []
    assert np.array_equal(got["ev--A/img_1"].astype(np.float32), rows.astype(np.float32))


def test_integers_any_order_and_empty_files(tmp_path):
    (tmp_path / "ev").mkdir()
    (tmp_path / "ev" / "a.txt").write_text("a\n2\n5 6 7 8 0.2\n1 2 3 4 0.9\n\n")
    (tmp_path / "ev" / "b.txt").write_text("b\n0\n")
    got, _ = read_predictions(tmp_path, ["ev/a", "ev/b"])
    assert got["ev/a"].tolist() == [[5, 6, 7, 8, 0.2], [1, 2, 3, 4, 0.9]]  # file order kept
    assert got["ev/b"].shape == (0, 5)


def test_missing_files_warn_once_with_the_count(tmp_path, caplog):
    write_prediction_file(tmp_path, "ev/a", np.zeros((0, 5)))
    with caplog.at_level(logging.WARNING):
        got, missing = read_predictions(tmp_path, ["ev/a", "ev/b", "ev/c"])
    assert missing == ["ev/b", "ev/c"]
    warnings = [r for r in caplog.records if "no prediction file" in r.getMessage()]
    assert len(warnings) == 1 and "2 of 3" in warnings[0].getMessage()


def test_folder_without_prediction_files_is_an_error(tmp_path):
    with pytest.raises(RfbenchError, match="no prediction files"):
        read_predictions(tmp_path, ["ev/a"])
    with pytest.raises(RfbenchError, match="not found"):
        read_predictions(tmp_path / "absent", ["ev/a"])


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("a\n2\n1 2 3 4 0.5\n1 2 3 x 0.5\n", "a.txt:4:"),
        ("a\n1\n1 2 3 4\n", "a.txt:3:"),
        ("a\n1\n1 2 3 4 nan\n", "a.txt:3:"),
        ("a\nseveral\n", "a.txt:2:"),
        ("a\n3\n1 2 3 4 0.5\n", "a.txt:2: count says 3"),
        ("a\n", "a.txt"),
    ],
)
def test_malformed_prediction_lines_name_file_and_line(tmp_path, text, where):
    (tmp_path / "ev").mkdir()
    (tmp_path / "ev" / "a.txt").write_text(text)
    with pytest.raises(InputFormatError) as err:
        read_predictions(tmp_path, ["ev/a"])
    assert where in str(err.value)
