"""Issue 11, items 2, 3 and 10: an unusable, reused or locked --out is refused before any work,
with one line; a write that still fails late is one line too (latency still prints its figures).

Tests run as root, so a folder without its write bit proves nothing: an unusable folder is a
path under a regular file, or a read-only bind mount (skipped where ``mount`` is not allowed).
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import one_line_error, run_cli

from rfbench.errors import RfbenchError
from rfbench.results.outdir import LOCK_FILE, prepare_output_dir
from rfbench.wider.ground_truth import load_ground_truth
from rfbench.wider.predictions import write_prediction_file

MODEL = "retinaface-mnet025-640.onnx"
FAST_LATENCY = ["--runtime", "onnxruntime", "--time", "0.05", "--iterations", "3", "--warmup", "0"]
REPO_ROOT = Path(__file__).resolve().parents[1]




@pytest.fixture()
def gt_predictions(tmp_path, wider_mini, val_gt_dir) -> Path:
    """GT boxes of the five mini images as a prediction folder (distinct scores)."""
    gt = load_ground_truth(wider_mini, mat_dir=val_gt_dir)
    pred_dir = tmp_path / "preds"
    rng = np.random.default_rng(5)
    for image_id, boxes in zip(gt.image_ids, gt.boxes_xywh):
        write_prediction_file(pred_dir, image_id, np.c_[boxes, rng.random(len(boxes))])
    return pred_dir


@pytest.fixture()
def read_only_mount(tmp_path):
    """An empty folder bind-mounted read-only onto ``tmp_path/ro``; unmounted afterwards."""
    source, target = tmp_path / "ro-source", tmp_path / "ro"
    source.mkdir()
    target.mkdir()
    try:
        done = subprocess.run(["mount", "--bind", "-o", "ro", str(source), str(target)],
                              capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError) as exc:
        pytest.skip(f"mount not available: {exc}")
    if done.returncode != 0:
        pytest.skip(f"read-only bind mount not allowed here: {done.stderr.strip()}")
    try:
        if os.access(target, os.W_OK) and _writable(target):
            pytest.skip("bind mount did not become read-only")
        yield target
    finally:
        subprocess.run(["umount", str(target)], capture_output=True, timeout=30)


def _writable(folder: Path) -> bool:
    try:
        (folder / ".probe").write_text("x")
    except OSError:
        return False
    (folder / ".probe").unlink()
    return True


def unusable_out(tmp_path: Path, variant: str, request) -> Path:
    if variant == "under-a-file":
        (tmp_path / "file").write_text("not a folder\n")
        return tmp_path / "file" / "out"
    mount = request.getfixturevalue("read_only_mount")
    return mount if variant == "ro-mount" else mount / "out"


def never(name: str):
    def called(*_args, **_kwargs):
        raise AssertionError(f"{name} ran although --out is unusable")

    return called


VARIANTS = ["under-a-file", "ro-mount", "under-a-ro-mount"]


# ---- item 2: every command checks its output folder before any work ------------------------


@pytest.mark.parametrize("variant", VARIANTS)
def test_unusable_out_eval_predictions_fails_before_scoring(capsys, monkeypatch, request, tmp_path,
                                                            wider_mini, val_gt_dir, gt_predictions, variant):
    out = unusable_out(tmp_path, variant, request)
    monkeypatch.setattr("rfbench.evaluation.scoring.score", never("scoring"))
    code, stdout, err = run_cli(capsys, "eval", "--data-root", wider_mini, "--gt-mat-dir", val_gt_dir,
                                "--predictions", gt_predictions, "--out", out)
    line = one_line_error(err)
    assert code == 2 and f"--out {out}" in line and stdout == ""
    assert ("cannot create" in line) if variant != "ro-mount" else ("cannot write" in line)


@pytest.mark.parametrize("variant", VARIANTS)
def test_unusable_out_eval_model_fails_before_loading_the_model(capsys, monkeypatch, request, tmp_path,
                                                                wider_mini, val_gt_dir, models_dir, variant):
    out = unusable_out(tmp_path, variant, request)
    monkeypatch.setattr("rfbench.accuracy.model_run.open_model", never("the model"))
    code, _, err = run_cli(capsys, "eval", "--data-root", wider_mini, "--gt-mat-dir", val_gt_dir,
                           "--model", models_dir / MODEL, "--out", out)
    assert code == 2 and f"--out {out}" in one_line_error(err)


@pytest.mark.parametrize("variant", VARIANTS)
def test_unusable_out_latency_fails_before_measuring(capsys, monkeypatch, request, tmp_path, models_dir,
                                                     variant):
    out = unusable_out(tmp_path, variant, request)
    monkeypatch.setattr("rfbench.latency.run_benchmark", never("the measurement"))
    code, stdout, err = run_cli(capsys, "latency", "--model", models_dir / MODEL, *FAST_LATENCY, "--out", out)
    assert code == 2 and f"--out {out}" in one_line_error(err) and stdout == ""


@pytest.mark.parametrize("variant", VARIANTS)
def test_unusable_out_profile_fails_before_counting(capsys, monkeypatch, request, tmp_path, models_dir,
                                                    variant):
    out = unusable_out(tmp_path, variant, request)
    monkeypatch.setattr("rfbench.complexity.analysis.analyze", never("the analysis"))
    code, stdout, err = run_cli(capsys, "profile", "--model", models_dir / MODEL, "--out", out)
    assert code == 2 and f"--out {out}" in one_line_error(err) and stdout == ""


@pytest.mark.parametrize("variant", VARIANTS)
def test_unusable_out_report_fails_before_reading_runs(capsys, monkeypatch, request, tmp_path, variant):
    out = unusable_out(tmp_path, variant, request) / "report.html"
    monkeypatch.setattr("rfbench.report.write_report", never("the report"))
    (tmp_path / "run").mkdir()
    code, stdout, err = run_cli(capsys, "report", tmp_path / "run", "--out", out)
    assert code == 2 and f"--out {out}" in one_line_error(err) and stdout == ""


def test_unusable_out_report_default_inside_a_read_only_results_folder(capsys, monkeypatch, read_only_mount):
    monkeypatch.setattr("rfbench.report.write_report", never("the report"))
    code, _, err = run_cli(capsys, "report", read_only_mount)
    assert code == 2 and f"{read_only_mount / 'report.html'}" in one_line_error(err)


@pytest.mark.parametrize("variant", VARIANTS)
def test_unusable_out_export_reference_fails_before_building(capsys, monkeypatch, request, tmp_path, variant):
    out = unusable_out(tmp_path, variant, request) / "r50.onnx"
    monkeypatch.setattr("rfbench.models.reference_r50.reference_model_path", never("the build"))
    code, stdout, err = run_cli(capsys, "export-reference", "--out", out)
    assert code == 2 and f"--out {out}" in one_line_error(err) and stdout == ""


def test_out_that_is_a_file_is_refused(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(RfbenchError, match="exists and is not a folder"):
        prepare_output_dir(tmp_path / "f", "eval")


def test_failed_run_removes_the_empty_folder_it_created(capsys, tmp_path, models_dir):
    out = tmp_path / "new"
    code, _, err = run_cli(capsys, "profile", "--model", tmp_path / "absent.onnx", "--out", out)
    assert code == 2 and "model file not found" in one_line_error(err)
    assert not out.exists()


def late_oserror(path_name: str):
    def fail(out_dir, *_args, **_kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(Path(out_dir) / path_name))

    return fail


@pytest.mark.slow
def test_late_write_error_latency_is_one_line_and_still_prints_statistics(capsys, monkeypatch, tmp_path,
                                                                           models_dir):
    monkeypatch.setattr("rfbench.results.writer.write_results", late_oserror("results.json"))
    out = tmp_path / "lat"
    code, stdout, err = run_cli(capsys, "latency", "--model", models_dir / MODEL, *FAST_LATENCY, "--out", out)
    line = one_line_error(err)
    assert code == 2 and "No space left on device" in line and str(out / "results.json") in line
    assert "onnxruntime" in stdout and "p50" in stdout  # the measurement is not lost
    assert (out / "samples.csv").is_file() and not (out / LOCK_FILE).exists()


@pytest.mark.slow
def test_late_write_error_latency_on_a_folder_turned_read_only(capsys, monkeypatch, tmp_path, models_dir):
    """A real late failure: --out becomes a read-only mount while the run measures."""
    import rfbench.latency as latency

    out = tmp_path / "lat"
    real_run = latency.run_benchmark
    mounted: list[Path] = []

    def measure_then_remount(options, *args, **kwargs):
        report = real_run(options, *args, **kwargs)
        done = subprocess.run(["mount", "--bind", "-o", "ro", str(out), str(out)], capture_output=True)
        if done.returncode != 0:
            pytest.skip(f"read-only bind mount not allowed here: {done.stderr.strip()!r}")
        mounted.append(out)
        return report

    monkeypatch.setattr(latency, "run_benchmark", measure_then_remount)
    try:
        code, stdout, err = run_cli(capsys, "latency", "--model", models_dir / MODEL, *FAST_LATENCY,
                                    "--out", out)
    finally:
        for path in mounted:
            subprocess.run(["umount", str(path)], capture_output=True)
    line = one_line_error(err)
    assert code == 2 and "Read-only file system" in line and f"--out {out}" in line
    assert "p50" in stdout and "onnxruntime" in stdout


def test_late_write_error_eval_is_one_line(capsys, monkeypatch, tmp_path, wider_mini, val_gt_dir,
                                           gt_predictions):
    monkeypatch.setattr("rfbench.results.writer.write_results", late_oserror("results.json"))
    out = tmp_path / "ev"
    code, _, err = run_cli(capsys, "eval", "--data-root", wider_mini, "--gt-mat-dir", val_gt_dir,
                           "--predictions", gt_predictions, "--out", out)
    assert code == 2 and "No space left on device" in one_line_error(err)


def test_oserror_outside_the_out_folder_is_not_blamed_on_it(tmp_path):
    with pytest.raises(FileNotFoundError), prepare_output_dir(tmp_path / "o", "eval"):
        (tmp_path / "elsewhere" / "x").read_text()


# ---- item 3: another run's results are not replaced silently --------------------------------


def eval_files(capsys, wider_mini, val_gt_dir, pred_dir, out, *extra) -> tuple[int, str, str]:
    return run_cli(capsys, "eval", "--data-root", wider_mini, "--gt-mat-dir", val_gt_dir, "--protocol", "omz",
                   "--predictions", pred_dir, "--out", out, *extra)


def fake_model_run(folder: Path) -> bytes:
    """A folder laid out like an ``eval --model`` run's; returns its results.json bytes."""
    (folder / "predictions" / "0--Parade").mkdir(parents=True)
    (folder / "run.json").write_text('{"model_sha256": "0"}\n')
    data = json.dumps({"schema_version": 2, "kind": "eval"}).encode()
    (folder / "results.json").write_bytes(data)
    return data


def test_reused_out_eval_predictions_into_a_model_run_is_refused(capsys, tmp_path, wider_mini, val_gt_dir,
                                                                 gt_predictions):
    out = tmp_path / "model-run"
    before = fake_model_run(out)
    code, _, err = eval_files(capsys, wider_mini, val_gt_dir, gt_predictions, out)
    line = one_line_error(err)
    assert code == 2 and "eval --model run" in line and "--force" in line and "another --out" in line
    assert (out / "results.json").read_bytes() == before and (out / "run.json").is_file()


@pytest.mark.slow
def test_reused_out_latency_into_an_eval_folder_is_refused(capsys, monkeypatch, tmp_path, wider_mini,
                                                           val_gt_dir, gt_predictions, models_dir):
    out = tmp_path / "ev"
    assert eval_files(capsys, wider_mini, val_gt_dir, gt_predictions, out)[0] == 0
    before = (out / "results.json").read_bytes()
    monkeypatch.setattr("rfbench.latency.run_benchmark", never("the measurement"))
    code, _, err = run_cli(capsys, "latency", "--model", models_dir / MODEL, *FAST_LATENCY, "--out", out)
    line = one_line_error(err)
    assert code == 2 and "an eval run" in line and "--force" in line
    assert (out / "results.json").read_bytes() == before


def test_reused_out_profile_into_a_profile_folder_is_refused_and_force_replaces(capsys, tmp_path, models_dir):
    out = tmp_path / "prof"
    assert run_cli(capsys, "profile", "--model", models_dir / MODEL, "--out", out)[0] == 0
    (out / "notes.txt").write_text("mine\n")
    code, _, err = run_cli(capsys, "profile", "--model", models_dir / MODEL, "--out", out)
    assert code == 2 and "a profile run" in one_line_error(err)
    assert run_cli(capsys, "profile", "--model", models_dir / MODEL, "--out", out, "--force")[0] == 0
    assert json.loads((out / "results.json").read_text())["kind"] == "profile"
    assert (out / "notes.txt").read_text() == "mine\n"  # --force removes only rfbench's files


def test_reused_out_force_replaces_a_model_run_but_keeps_the_scored_predictions(capsys, tmp_path, wider_mini,
                                                                               val_gt_dir, gt_predictions):
    out = tmp_path / "model-run"
    fake_model_run(out)
    preds = out / "predictions"
    for path in gt_predictions.rglob("*.txt"):
        target = preds / path.relative_to(gt_predictions)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(path.read_bytes())
    code, _, err = eval_files(capsys, wider_mini, val_gt_dir, preds, out, "--force")
    assert code == 0, err
    record = json.loads((out / "results.json").read_text())
    assert record["predictions"] == {"source": "files", "dir": str(preds)}
    assert not (out / "run.json").exists() and len(list(preds.rglob("*.txt"))) == 5


@pytest.mark.slow
def test_reused_out_force_model_run_does_not_count_stale_predictions_as_done(capsys, tmp_path, wider_mini,
                                                                             models_dir):
    out = tmp_path / "model-run"
    fake_model_run(out)
    first = load_ground_truth(wider_mini).image_ids[0]
    stale = out / "predictions" / f"{first}.txt"
    stale.write_text(f"{first.split('/')[1]}\n1\n1 1 1 1 0.5\n")  # an earlier run's file
    code, _, err = run_cli(capsys, "eval", "--data-root", wider_mini, "--protocol", "omz", "--limit", "1",
                           "--model", models_dir / MODEL, "--runtime", "onnxruntime", "--out", out, "--force")
    assert code == 0, err
    record = json.loads((out / "results.json").read_text())
    assert record["prediction_run"]["images_resumed"] == 0
    assert record["prediction_run"]["images_predicted_this_run"] == 1
    assert stale.read_text() != f"{first.split('/')[1]}\n1\n1 1 1 1 0.5\n"
    assert json.loads((out / "run.json").read_text())["runtime"] == "onnxruntime"


def test_reused_out_resume_with_predictions_is_an_error(capsys, tmp_path, wider_mini, val_gt_dir,
                                                        gt_predictions):
    code, _, err = eval_files(capsys, wider_mini, val_gt_dir, gt_predictions, tmp_path / "o", "--resume")
    assert code == 2 and "--resume" in one_line_error(err) and "--predictions" in err
    assert not (tmp_path / "o").exists()


def test_reused_out_resume_and_force_together_are_an_error(tmp_path):
    with pytest.raises(RfbenchError, match="--force .* --resume"):
        prepare_output_dir(tmp_path / "o", "eval", force=True, resume=True)


def test_reused_out_resume_into_another_kind_of_run_is_refused(tmp_path):
    (tmp_path / "lat").mkdir()
    (tmp_path / "lat" / "results.json").write_text('{"kind": "latency"}')
    with pytest.raises(RfbenchError, match="cannot resume in .*a latency run"):
        prepare_output_dir(tmp_path / "lat", "eval", resume=True)


@pytest.mark.slow
def test_reused_out_resume_of_a_model_run_in_its_own_folder_stays_allowed(capsys, tmp_path, wider_mini,
                                                                          val_gt_dir, models_dir):
    args = ["eval", "--data-root", wider_mini, "--gt-mat-dir", val_gt_dir, "--limit", "2", "--protocol", "omz",
            "--model", models_dir / MODEL, "--runtime", "onnxruntime", "--out", tmp_path / "m"]
    assert run_cli(capsys, *args)[0] == 0
    code, _, err = run_cli(capsys, *args)
    line = one_line_error(err)
    assert code == 2 and "--resume to continue it" in line and "--force" in line
    assert run_cli(capsys, *args, "--resume")[0] == 0
    record = json.loads((tmp_path / "m" / "results.json").read_text())
    assert record["prediction_run"]["images_resumed"] == 2


# ---- item 10: one run at a time in a folder --------------------------------------------------


def test_locked_out_second_run_in_this_process_names_the_pid(tmp_path):
    with prepare_output_dir(tmp_path / "o", "eval") as out:
        assert (out / LOCK_FILE).read_text().strip() == str(os.getpid())
        with pytest.raises(RfbenchError) as caught:
            prepare_output_dir(out, "eval")
    message = str(caught.value)
    assert f"--out {out}" in message and f"pid {os.getpid()}" in message and "\n" not in message
    assert not (out / LOCK_FILE).exists()  # released and removed at the end
    with prepare_output_dir(out, "eval"):  # and free again
        pass


HOLDER = """
import sys
from rfbench.results.outdir import prepare_output_dir
with prepare_output_dir(sys.argv[1], "eval"):
    print("locked", flush=True)
    sys.stdin.readline()
"""


def test_locked_out_second_process_gets_one_line_naming_the_holder(capsys, tmp_path, models_dir):
    out = tmp_path / "shared"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")])}
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(out)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        code, _, err = run_cli(capsys, "profile", "--model", models_dir / MODEL, "--out", out)
        line = one_line_error(err)
        assert code == 2 and f"--out {out}" in line and f"pid {holder.pid}" in line
        assert not (out / "results.json").exists()
    finally:
        holder.communicate("\n", timeout=60)
    assert holder.returncode == 0
    assert run_cli(capsys, "profile", "--model", models_dir / MODEL, "--out", out)[0] == 0


def test_locked_out_a_killed_holder_leaves_no_stale_lock(tmp_path):
    out = tmp_path / "o"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")])}
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(out)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True, env=env)
    assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
    holder.kill()
    holder.wait(timeout=60)
    assert (out / LOCK_FILE).exists()  # the file stays, the kernel dropped the lock
    with prepare_output_dir(out, "eval") as path:
        assert (path / LOCK_FILE).read_text().strip() == str(os.getpid())


# ---- the prediction reader's counts reach the eval record -----------------------------------


def test_negative_size_boxes_are_counted_in_the_eval_record(capsys, tmp_path, wider_mini, val_gt_dir,
                                                            gt_predictions):
    image = sorted(gt_predictions.rglob("*.txt"))[0]
    lines = image.read_text().splitlines()
    lines[1] = str(int(lines[1]) + 2)
    lines += ["10 10 -4 5 0.3", "20 20 6 -1 0.2"]  # two boxes with a negative width or height
    image.write_text("\n".join(lines) + "\n")
    out = tmp_path / "ev"
    assert eval_files(capsys, wider_mini, val_gt_dir, gt_predictions, out)[0] == 0
    dataset = json.loads((out / "results.json").read_text())["dataset"]
    assert dataset["num_negative_size_boxes"] == 2 and dataset["num_images_without_predictions"] == 0
