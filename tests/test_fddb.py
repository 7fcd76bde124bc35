"""FDDB: folds and detection files, the official program's regions, matching and ROC merge,
checked against an independent implementation written here (full-size masks, brute-force
matching over permutations, the merge walked literally) and the worked examples of
docs/fddb.md; ``rfbench eval --dataset fddb`` end to end on small FDDB-shaped data."""

from __future__ import annotations

import itertools
import json
import math
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from cli_helpers import one_line_error, run_cli

from rfbench.errors import RfbenchError
from rfbench.fddb.evaluate import DBL_MAX, ImagePoints, evaluate, image_points, merge, tpr_at_fp
from rfbench.fddb.folds import FddbGroundTruth, load_folds, parse_folds
from rfbench.fddb.regions import EllipseMasks

# -- an independent second implementation ------------------------------------------------------


def _cvround(v: float) -> int:
    return int(np.rint(np.float32(v)))


def _masks(ellipses, rects, h, w):
    gts = []
    for ra, rb, theta, cx, cy in ellipses:
        m = np.zeros((h, w), np.uint8)
        cv2.ellipse(m, (_cvround(cx), _cvround(cy)), (int(ra), int(rb)), theta * 180 / math.pi,
                    0, 360, 10, -1)
        gts.append(m > 0)
    dets = []
    for x, y, rw, rh in rects:
        m = np.zeros((h, w), np.uint8)
        cv2.rectangle(m, (_cvround(x), _cvround(y)), (_cvround(x + rw), _cvround(y + rh)), 10, -1)
        dets.append(m > 0)
    return gts, dets


def _overlaps_reference(ellipses, rects, h, w):
    gts, dets = _masks(ellipses, rects, h, w)
    out = np.zeros((len(gts), len(dets)))
    for i, g in enumerate(gts):
        for j, d in enumerate(dets):
            union = np.count_nonzero(g | d)
            out[i, j] = np.count_nonzero(g & d) / union if union else 0.0
    return out


def _best_assignment(m):
    """Brute force: the pairing (each row at most one column and vice versa) of largest sum."""
    rows, cols = m.shape
    best, best_pairs = -1.0, []
    small, big = (rows, cols) if rows <= cols else (cols, rows)
    mm = m if rows <= cols else m.T
    for perm in itertools.permutations(range(big), small):
        total = sum(mm[i, perm[i]] for i in range(small))
        if total > best + 1e-12:
            best, best_pairs = total, [(i, perm[i]) for i in range(small)]
    return [mm[i, j] for i, j in best_pairs]


def _points_reference(overlaps, scores):
    faces = overlaps.shape[0]
    if len(scores) == 0:
        return [(DBL_MAX, 0.0, 0.0, 0.0)]
    out = []
    for t in sorted(set(scores.tolist())):
        valid = scores >= t
        sub = overlaps[:, valid]
        sub = sub[sub.sum(axis=1) > 0][:, sub.sum(axis=0) > 0] if sub.size else sub
        matched = [v for v in _best_assignment(sub) if v > 0] if sub.size else []
        disc = sum(1 for v in matched if v > 0.5)
        out.append((t, float(disc), float(sum(matched)), float(valid.sum() - disc)))
    assert faces >= 0
    return out


def _merge_reference(per_image, faces):
    thresholds = sorted({t for pts in per_image for t, *_ in pts})
    rows = []
    for t in thresholds:
        disc = cont = fp = 0.0
        for pts in per_image:
            own = [p for p in pts if p[0] >= t]
            if own:
                _, d, c, f = min(own, key=lambda p: p[0])
                disc, cont, fp = disc + d, cont + c, fp + f
        rows.append((t, disc / faces, cont / faces, fp))
    return rows


# -- regions ------------------------------------------------------------------------------------


def test_rectangles_are_inclusive_and_rounded_half_to_even():
    masks = EllipseMasks(np.array([[3.0, 3.0, 0.0, 10.0, 10.0]]), 30, 30)
    _, (d2, d0, dh) = _masks([], [(5, 5, 2, 2), (5, 5, 0, 0), (10.5, 11.5, 0, 0)], 30, 30)
    assert (d2.sum(), d0.sum()) == (9, 1)  # spec: w=h=2 gives 9 px, w=h=0 gives 1
    assert np.argwhere(dh).tolist() == [[12, 10]]  # 10.5 -> 10, 11.5 -> 12
    assert masks.areas[0] == _masks([(3.0, 3.0, 0.0, 10.0, 10.0)], [], 30, 30)[0][0].sum()


def test_a_20_by_10_ellipse_covers_675_pixels():
    assert EllipseMasks(np.array([[20.0, 10.0, 0.0, 50.0, 40.0]]), 100, 100).areas[0] == 675  # spec
    # the angle is rounded to whole degrees: 30.4 and 30.0 degrees give the same pixels
    a = EllipseMasks(np.array([[20.0, 10.0, np.radians(30.4), 50.0, 40.0]]), 100, 100)
    b = EllipseMasks(np.array([[20.0, 10.0, np.radians(30.0), 50.0, 40.0]]), 100, 100)
    assert np.array_equal(a.flat, b.flat)


@pytest.mark.parametrize("seed", range(6))
def test_overlaps_equal_full_size_masks(seed):
    rng = np.random.default_rng(seed)
    h, w = 60 + seed * 7, 80 - seed * 5
    ellipses = np.column_stack([rng.uniform(2, 25, 4), rng.uniform(2, 15, 4), rng.uniform(-3, 3, 4),
                                rng.uniform(-10, w + 10, 4), rng.uniform(-10, h + 10, 4)])
    rects = np.column_stack([rng.uniform(-20, w, 9), rng.uniform(-20, h, 9),
                             rng.uniform(0, 40, 9), rng.uniform(0, 40, 9)])
    rects[0] = [w + 5, h + 5, 3, 3]  # wholly outside
    got = EllipseMasks(ellipses, h, w).overlaps(rects)
    want = _overlaps_reference(ellipses, rects, h, w)
    assert np.abs(got - want).max() <= 1e-12


# -- matching and merge -------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(25))
def test_image_points_equal_brute_force(seed):
    rng = np.random.default_rng(100 + seed)
    faces, dets = rng.integers(0, 4), rng.integers(0, 6)
    overlaps = rng.uniform(0, 1, (faces, dets)) * (rng.uniform(0, 1, (faces, dets)) < 0.5)
    scores = np.round(rng.uniform(0, 1, dets), 1)  # ties on purpose
    got = image_points(overlaps, scores)
    want = _points_reference(overlaps, scores)
    assert got.thresholds.tolist() == [p[0] for p in want]
    assert np.allclose(got.tp_disc, [p[1] for p in want], atol=1e-12)
    assert np.allclose(got.tp_cont, [p[2] for p in want], atol=1e-12)
    assert np.allclose(got.fp, [p[3] for p in want], atol=1e-12)


def test_merge_equals_the_literal_walk():
    rng = np.random.default_rng(7)
    per_image, points, faces = [], [], 0
    for _ in range(30):
        n, m = int(rng.integers(0, 3)), int(rng.integers(0, 5))
        overlaps = rng.uniform(0, 1, (n, m)) * (rng.uniform(0, 1, (n, m)) < 0.6)
        scores = np.round(rng.uniform(0, 1, m), 2)
        faces += n
        points.append(image_points(overlaps, scores))
        per_image.append(_points_reference(overlaps, scores))
    roc = merge([ImagePoints(faces if i == 0 else 0, p.thresholds, p.tp_disc, p.tp_cont, p.fp)
                 for i, p in enumerate(points)])
    want = _merge_reference(per_image, faces)
    assert roc.thresholds.tolist() == [r[0] for r in want]
    assert np.abs(roc.tpr_disc - [r[1] for r in want]).max() <= 1e-6
    assert np.abs(roc.tpr_cont - [r[2] for r in want]).max() <= 1e-6
    assert roc.fp.tolist() == [r[3] for r in want]


def test_worked_example_of_docs():
    """docs/fddb.md, example 2: two images, thresholds walked and merged by hand."""
    a = image_points(np.array([[0.7, 0.6]]), np.array([0.9, 0.4]))
    b = image_points(np.array([[0.3], [0.0]]), np.array([0.8]))
    c = image_points(np.zeros((1, 0)), np.zeros(0))
    assert a.thresholds.tolist() == [0.4, 0.9] and a.tp_disc.tolist() == [1, 1]
    assert a.tp_cont.tolist() == [0.7, 0.7] and a.fp.tolist() == [1, 0]
    roc = merge([a, b, c])
    assert roc.faces == 4
    assert roc.thresholds.tolist() == [0.4, 0.8, 0.9, DBL_MAX]
    assert roc.tp_disc.tolist() == [1, 1, 1, 0]
    assert np.allclose(roc.tp_cont, [1.0, 1.0, 0.7, 0.0])
    assert roc.fp.tolist() == [2, 1, 0, 0]
    assert roc.disc_text().splitlines() == ["0.25 2 0.4", "0.25 1 0.8", "0.25 0 0.9",
                                            "0 0 1.79769e+308"]
    assert roc.cont_text().splitlines() == ["0.25 2", "0.25 1", "0.175 0", "0 0"]
    assert tpr_at_fp(roc, 1) == (0.25, 0.25) and tpr_at_fp(roc, 0.5) == (0.25, 0.25)


# -- files and the command ----------------------------------------------------------------------


def make_fddb(root: Path, images: dict[str, tuple[int, int, list[list[float]]]], folds=None) -> Path:
    """An FDDB-shaped data root: images (h, w) with their ellipses, in ``folds`` (fold -> names)."""
    folds = folds or {1: list(images)}
    (root / "FDDB-folds").mkdir(parents=True)
    for name, (h, w, _) in images.items():
        path = root / "originalPics" / f"{name}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(path), np.full((h, w, 3), 128, np.uint8))
    for fold, names in folds.items():
        (root / "FDDB-folds" / f"FDDB-fold-{fold:02d}.txt").write_text("".join(f"{n}\n" for n in names))
        lines = []
        for n in names:
            lines += [n, str(len(images[n][2]))] + [" ".join(f"{v:f}" for v in e) + "  1" for e in images[n][2]]
        (root / "FDDB-folds" / f"FDDB-fold-{fold:02d}-ellipseList.txt").write_text("\n".join(lines) + "\n")
    return root


IMAGES = {
    "2002/08/11/big/img_1": (80, 100, [[20.0, 14.0, 1.2, 40.0, 35.0]]),
    "2002/08/11/big/img_2": (90, 70, [[12.0, 9.0, -0.3, 20.0, 30.0], [15.0, 10.0, 0.1, 50.0, 60.0]]),
    "2003/01/01/big/img_3": (60, 60, [[10.0, 8.0, 0.0, 30.0, 30.0]]),
}
DETS = ("2002/08/11/big/img_1\n2\n22 20 36 32 0.95\n60 60 10 10 0.3\n"
        "2002/08/11/big/img_2\n3.0\n8 20 24 22 0.9\n36 48 28 24 0.5\n-5 -5 20 20 0.2\n"
        "2003/01/01/big/img_3\n0\n")


def test_eval_fddb_predictions_end_to_end(tmp_path, capsys):
    root = make_fddb(tmp_path / "fddb", IMAGES, {1: list(IMAGES)[:2], 2: list(IMAGES)[2:]})
    (tmp_path / "dets.txt").write_text(DETS)
    code, out, err = run_cli(capsys, "eval", "--dataset", "fddb", "--data-root", root,
                             "--predictions", tmp_path / "dets.txt", "--fp-at", "1,2",
                             "--out", tmp_path / "out")
    assert code == 0, err
    assert "TPR at 1 FP" in out
    record = json.loads((tmp_path / "out" / "results.json").read_text())
    assert record["dataset"]["name"] == "fddb" and record["fddb"]["num_faces"] == 4
    disc = (tmp_path / "out" / "DiscROC.txt").read_text().splitlines()
    assert disc[-1] == "0 0 1.79769e+308"  # img_3 has no detection
    gt = load_folds(root, parse_folds("1-2"))
    from rfbench.fddb.detections import read_detections

    roc = evaluate(gt, read_detections(tmp_path / "dets.txt", set(gt.names)))
    assert (tmp_path / "out" / "DiscROC.txt").read_text() == roc.disc_text()
    assert "fddb" in (tmp_path / "out" / "report.html").read_text()


def test_independent_end_to_end(tmp_path):
    """The whole evaluation against the second implementation on the same files."""
    root = make_fddb(tmp_path / "fddb", IMAGES)
    (tmp_path / "dets.txt").write_text(DETS)
    from rfbench.fddb.detections import read_detections

    gt = load_folds(root)
    dets = read_detections(tmp_path / "dets.txt", set(gt.names))
    roc = evaluate(gt, dets)
    per_image, faces = [], 0
    for name in gt.names:
        h, w, ellipses = IMAGES[name]
        d = dets.get(name, np.zeros((0, 5)))
        per_image.append(_points_reference(_overlaps_reference(ellipses, d[:, :4], h, w), d[:, 4]))
        faces += len(ellipses)
    want = _merge_reference(per_image, faces)
    assert np.abs(roc.tpr_disc - [r[1] for r in want]).max() <= 1e-6
    assert np.abs(roc.tpr_cont - [r[2] for r in want]).max() <= 1e-6
    assert roc.fp.tolist() == [r[3] for r in want]


@pytest.mark.parametrize("text,expect", [
    ("2002/08/11/big/img_1\n1\n1 2 3 nan 0.5\n", "dets.txt:3: NaN"),
    ("2002/08/11/big/img_1\n1\n1 2 -3 4 0.5\n", "dets.txt:3: negative width"),
    ("2002/08/11/big/img_9\n0\n", "dets.txt:1: image '2002/08/11/big/img_9' is not in the chosen folds"),
    ("2002/08/11/big/img_1\nx\n", "dets.txt:2: expected a detection count"),
    ("2002/08/11/big/img_1\n2\n1 2 3 4 0.5\n", "dets.txt:4: the file ends"),
    ("2002/08/11/big/img_1\n0\n2002/08/11/big/img_1\n0\n", "dets.txt:3: image '2002/08/11/big/img_1' appears again"),
])
def test_bad_detection_files(tmp_path, capsys, text, expect):
    root = make_fddb(tmp_path / "fddb", IMAGES)
    (tmp_path / "dets.txt").write_text(text)
    code, _, err = run_cli(capsys, "eval", "--dataset", "fddb", "--data-root", root,
                           "--predictions", tmp_path / "dets.txt", "--out", tmp_path / "out")
    assert code == 2 and expect in one_line_error(err)


@pytest.mark.parametrize("line,expect", [
    ("20.0 14.0 1.2 40.0", "FDDB-fold-01-ellipseList.txt:3: expected 'major_radius"),
    ("-20.0 14.0 1.2 40.0 35.0 1", "FDDB-fold-01-ellipseList.txt:3: negative ellipse radius"),
    ("20.0 14.0 nan 40.0 35.0 1", "FDDB-fold-01-ellipseList.txt:3: expected 'major_radius"),
])
def test_bad_ellipse_lines(tmp_path, line, expect):
    root = make_fddb(tmp_path / "fddb", IMAGES)
    path = root / "FDDB-folds" / "FDDB-fold-01-ellipseList.txt"
    lines = path.read_text().splitlines()
    lines[2] = line
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(RfbenchError, match=expect.replace("(", r"\(")):
        load_folds(root)


def test_folds_option_and_missing_folder(tmp_path):
    assert parse_folds("1,3-4") == (1, 3, 4) and parse_folds("1-10") == tuple(range(1, 11))
    assert parse_folds(None) is None
    for bad in ("0", "11", "a", "2-x", ""):
        with pytest.raises(RfbenchError, match="--folds"):
            parse_folds(bad)
    with pytest.raises(RfbenchError, match="no FDDB-folds/"):
        load_folds(tmp_path)



@pytest.mark.parametrize("seed", range(6))
def test_random_folds_equal_the_independent_implementation(seed):
    """evaluate (its vectorised path for images where no detection overlaps two faces, the
    per-level assignment for the others) against the masks / brute force / literal merge, on
    random images: crowded and separate faces, tied scores, detections partly outside the image,
    images without detections or without overlapping ones."""
    rng = np.random.default_rng(seed)
    names, ellipses, dets, sizes = [], {}, {}, {}
    for i in range(12):
        name = f"2002/08/{seed:02d}/big/img_{i}"
        h, w = int(rng.integers(40, 90)), int(rng.integers(40, 90))
        faces = int(rng.integers(1, 4))
        crowd = i % 3 == 0  # faces close together: detections overlap two of them
        cx = rng.uniform(20, 30, faces) if crowd else rng.uniform(10, w - 10, faces)
        cy = rng.uniform(20, 30, faces) if crowd else rng.uniform(10, h - 10, faces)
        e = np.column_stack([rng.uniform(6, 14, faces), rng.uniform(4, 8, faces),
                             rng.uniform(-1.5, 1.5, faces), cx, cy])
        m = 0 if i == 5 else int(rng.integers(1, 7))
        boxes = np.column_stack([rng.uniform(-10, w - 5, m), rng.uniform(-10, h - 5, m),
                                 rng.uniform(3, 30, m), rng.uniform(3, 30, m)])
        scores = np.round(rng.uniform(0, 1, m), 1)  # ties
        names.append(name)
        ellipses[name], sizes[name] = e, (h, w)
        dets[name] = np.column_stack([boxes, scores])
    gt = FddbGroundTruth(Path("."), (1,), names, {n: 1 for n in names}, ellipses)
    roc = evaluate(gt, dets, sizes)
    per_image = [_points_reference(_overlaps_reference(ellipses[n], dets[n][:, :4], *sizes[n]),
                                   dets[n][:, 4]) for n in names]
    want = _merge_reference(per_image, gt.num_faces)
    assert roc.thresholds.tolist() == [r[0] for r in want]
    assert np.abs(roc.tpr_disc - [r[1] for r in want]).max() <= 1e-6
    assert np.abs(roc.tpr_cont - [r[2] for r in want]).max() <= 1e-6
    assert roc.fp.tolist() == [r[3] for r in want]
    one_by_one = merge([image_points(EllipseMasks(ellipses[n], *sizes[n]).overlaps(dets[n][:, :4]),
                                     dets[n][:, 4]) for n in names])
    np.testing.assert_allclose(roc.tp_cont, one_by_one.tp_cont, atol=1e-9)
    assert roc.tp_disc.tolist() == one_by_one.tp_disc.tolist()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__]))
