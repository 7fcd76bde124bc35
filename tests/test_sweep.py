"""``rfbench sweep``: the matrix, the trade-off arithmetic and Pareto front, and a resumable
end-to-end sweep on the MobileNet-0.25 fixture."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from rfbench.cli import main
from rfbench.errors import RfbenchError
from rfbench.sweep.matrix import Cell, build_cells, read_config, static_skip_reason
from rfbench.sweep.tradeoff import format_table, mark_pareto, tradeoff_rows

MODEL = "retinaface-mnet025-640.onnx"


def test_static_skips_name_the_reason(tmp_path):
    xml = tmp_path / "m.xml"
    assert "bf16" in static_skip_reason(Cell(Path("m.onnx"), "onnxruntime", "bf16"))
    assert "OpenVINO IR" in static_skip_reason(Cell(xml, "onnxruntime", "int8"))
    assert static_skip_reason(Cell(Path("m.onnx"), "openvino", "bf16")) is None
    assert static_skip_reason(Cell(Path("m.onnx"), "onnxruntime", "int8")) is None


def test_build_cells_is_the_full_product_and_checks_files(tmp_path):
    a, b = tmp_path / "a.onnx", tmp_path / "b.xml"
    a.write_bytes(b"")
    b.write_bytes(b"")
    cells = build_cells([str(a), str(b)], ["openvino", "onnxruntime"], ["f32", "int8"])
    assert len(cells) == 8 and len({c.key for c in cells}) == 8
    assert cells[1] == Cell(a, "openvino", "int8") and cells[1].baseline == Cell(a, "openvino", "f32")
    with pytest.raises(RfbenchError, match="missing.onnx"):
        build_cells([str(tmp_path / "missing.onnx")], ["openvino"], ["f32"])


def test_config_errors_are_one_line(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("models = [\n")
    with pytest.raises(RfbenchError, match="not valid TOML"):
        read_config(bad)
    unknown = tmp_path / "unknown.toml"
    unknown.write_text('models = ["a.onnx"]\nmodle = 1\n')
    with pytest.raises(RfbenchError, match="modle"):
        read_config(unknown)


def _entry(key, runtime, precision, aps, p50, fps=None, size=None):
    return {"key": key, "model": "m", "runtime": runtime, "precision": precision,
            "baseline": f"{key.rsplit('-', 1)[0]}-f32", "status": "done", "aps": aps,
            "latency_p50_ms": p50, "throughput_fps": fps, "model_size_bytes": size}


def test_tradeoff_deltas_and_speedups_are_against_the_same_runtime_f32():
    entries = [
        _entry("ov-f32", "openvino", "f32", {"omz/64px": 0.90}, 100.0),
        _entry("ov-int8", "openvino", "int8", {"omz/64px": 0.88}, 40.0),
        _entry("ort-f32", "onnxruntime", "f32", {"omz/64px": 0.90}, 120.0),
        _entry("ort-int8", "onnxruntime", "int8", {"omz/64px": 0.91}, 60.0),
    ]
    rows = {r["cell"]: r for r in tradeoff_rows(entries)}
    assert rows["ov-int8"]["delta_ap_points"] == pytest.approx(-2.0)
    assert rows["ov-int8"]["speedup_vs_f32"] == pytest.approx(2.5)
    assert rows["ort-int8"]["delta_ap_points"] == pytest.approx(1.0)
    assert rows["ort-int8"]["speedup_vs_f32"] == pytest.approx(2.0)
    assert rows["ov-f32"]["delta_ap_points"] == 0 and rows["ov-f32"]["speedup_vs_f32"] == 1
    # front by hand: ov-int8 fastest; ort-int8 most accurate; both f32 dominated by ort-int8
    assert {k for k, r in rows.items() if r["pareto"]} == {"ov-int8", "ort-int8"}
    text = format_table(list(rows.values()), [{"key": "x-bf16", "reason": "no bf16"}])
    assert "x-bf16" in text and "no bf16" in text and text.count("*") == 2


def test_pareto_ties_and_missing_values():
    rows = [{"setting": "s", "ap": ap, "latency_p50_ms": ms} for ap, ms in
            [(0.9, 10.0), (0.9, 10.0), (0.8, 10.0), (0.95, 30.0), (None, 5.0), (0.99, None)]]
    mark_pareto(rows)
    # equal points do not dominate each other; same speed and less AP is dominated
    assert [r["pareto"] for r in rows] == [True, True, False, True, False, False]


@pytest.mark.slow
def test_sweep_end_to_end_skips_and_resumes(capsys, tmp_path, wider_mini, val_gt_dir, models_dir,
                                            monkeypatch):
    pytest.importorskip("nncf")
    source = models_dir / MODEL
    out = tmp_path / "sweep"
    argv = ["sweep", "--model", str(source), "--runtime", "openvino,onnxruntime",
            "--precision", "f32,bf16,int8", "--data-root", str(wider_mini), "--gt-mat-dir",
            str(val_gt_dir), "--subset-size", "2", "--protocol", "omz", "--time", "0.3",
            "--iterations", "3", "--min-time", "0", "--min-iterations", "3", "--out", str(out)]
    assert main(argv) == 0
    stdout = capsys.readouterr().out
    record = json.loads((out / "results.json").read_text())
    assert record["kind"] == "sweep" and record["complete"]
    cells = {c["key"]: c for c in record["cells"]}
    assert len(cells) == 6
    ort_bf16 = cells["retinaface-mnet025-640--onnxruntime--bf16"]
    assert ort_bf16["status"] == "skipped" and "bf16" in ort_bf16["reason"]
    done = [c for c in cells.values() if c["status"] == "done"]
    assert {(c["runtime"], c["precision"]) for c in done} >= {
        ("openvino", "f32"), ("openvino", "int8"), ("onnxruntime", "f32"), ("onnxruntime", "int8")}
    for c in done:
        assert c["latency_p50_ms"] > 0 and 0 < c["aps"]["omz/64px"] <= 1
    assert all(c["quantized_by_rfbench"] == (c["precision"] == "int8") for c in done)
    # the f32 cell's AP is what rfbench eval measures on its own
    assert main(["eval", "--data-root", str(wider_mini), "--protocol", "omz", "--model",
                 str(source), "--out", str(tmp_path / "ev")]) == 0
    capsys.readouterr()
    alone = json.loads((tmp_path / "ev" / "results.json").read_text())["metrics"][0]["ap"]
    assert cells["retinaface-mnet025-640--openvino--f32"]["aps"]["omz/64px"] == pytest.approx(alone)
    csv = pd.read_csv(out / "results.csv")
    assert len(csv) == len(done) and csv["pareto"].any() and "delta_ap_points" in csv
    assert (out / "tradeoff.png").is_file() and "pareto" in stdout
    # resume: one cell's latency lost; nothing is quantized or evaluated again
    key = "retinaface-mnet025-640--openvino--int8"
    (out / "cells" / key / "latency.json").unlink()
    eval_mtime = (out / "cells" / key / "eval" / "results.json").stat().st_mtime_ns

    def no_quantize(*_a, **_k):
        raise AssertionError("int8 model should come from the cache")

    monkeypatch.setattr("rfbench.quantize.run.run_quantize", no_quantize)
    assert main(argv) == 0
    again = json.loads((out / "results.json").read_text())
    redone = json.loads((out / "cells" / key / "latency.json").read_text())
    assert redone["interleaved_with"] == [key]
    assert (out / "cells" / key / "eval" / "results.json").stat().st_mtime_ns == eval_mtime
    assert again["complete"] and len(again["tradeoff"]) == len(record["tradeoff"])


def test_toml_fills_what_the_command_line_leaves_open(tmp_path):
    from rfbench.cli import build_parser
    from rfbench.commands.sweep_cmd import resolve

    config = tmp_path / "s.toml"
    config.write_text('models = ["a.onnx", "b.xml"]\nruntimes = ["openvino", "onnxruntime"]\n'
                      '[data]\ndata_root = "/data/wider"\nlimit = 50\n'
                      '[latency]\ntime_s = 3.5\n[quantize]\nsubset_size = 100\n')
    args = build_parser().parse_args(["sweep", "--config", str(config), "--limit", "7",
                                      "--precision", "f32,int8"])
    args, models, runtimes, precisions = resolve(args)
    assert models == ["a.onnx", "b.xml"] and runtimes == ["openvino", "onnxruntime"]
    assert precisions == ["f32", "int8"]  # command line wins over TOML / defaults
    assert args.limit == 7 and args.time == 3.5 and args.subset_size == 100
    assert args.data_root == Path("/data/wider") and args.seed == 0 and args.preset == "omz"
    with pytest.raises(RfbenchError, match="--precision 'fp8'"):
        resolve(build_parser().parse_args(["sweep", "--config", str(config), "--precision", "fp8"]))


# --- the trade-off page ----------------------------------------------------------------------


def _page_entries(tmp_path):
    """Cell entries as run_sweep makes them: f32 / int8 on one runtime, one skipped cell."""
    def entry(precision, aps, p50, fps, size, valid=True):
        c = Cell(tmp_path / "m.onnx", "openvino", precision)
        return {"key": c.key, "model": str(c.model), "runtime": "openvino",
                "precision": precision, "baseline": c.baseline.key, "model_run": str(c.model),
                "model_size_bytes": size, "quantized_by_rfbench": precision == "int8",
                "aps": aps, "status": "done", "reason": None, "latency_p50_ms": p50,
                "latency_min_ms": p50 * 0.9, "throughput_fps": fps, "other_busy_cores": 0.1,
                "latency_valid": valid, "latency_invalid_reason": None if valid else "few"}

    skipped = Cell(tmp_path / "m.onnx", "onnxruntime", "bf16")
    return [
        entry("f32", {"omz/64px": 0.9012, "wider/easy": 0.85}, 20.0, 50.0, 1_700_000),
        entry("bf16", {"omz/64px": 0.8990, "wider/easy": 0.86}, 25.0, 40.0, 1_700_000),
        entry("int8", {"omz/64px": 0.8850, "wider/easy": 0.84}, 8.0, 125.0, 600_000, False),
        {"key": skipped.key, "model": str(skipped.model), "runtime": "onnxruntime",
         "precision": "bf16", "baseline": skipped.baseline.key, "status": "skipped",
         "reason": "ONNX Runtime's CPU provider has no bf16 inference precision"},
    ]


def _page(tmp_path) -> tuple[Path, str]:
    from rfbench.sweep.options import SweepOptions
    from rfbench.sweep.run import REPORT_PAGE, entries_record

    out = tmp_path / "sweep"
    out.mkdir()
    entries_record(_page_entries(tmp_path), SweepOptions(cells=(), out=out, data_root=tmp_path))
    page = out / REPORT_PAGE
    return page, page.read_text(encoding="utf-8")


def test_page_shows_the_tradeoff_first(tmp_path):
    import re

    page, html = _page(tmp_path)
    assert html.index('id="tradeoff"') < html.index('id="cells"') < html.index('id="settings"')
    tables = re.findall(r'<table class="tradeoff">.*?</table>', html, flags=re.S)
    assert len(tables) == 2 and html.count("<img ") == 2  # one table and scatter per setting
    assert html.index("<h3>omz/64px") < html.index(tables[0]) < html.index("<h3>wider/easy")
    omz = tables[0]
    rows = re.findall(r"<tr( class=\"pareto\")?><td>([^<]*)</td>(.*?)</tr>", omz, flags=re.S)
    cells = [name for _, name, _ in rows]
    # fastest first; bf16 is slower and less accurate than f32: not on the front
    assert cells == ["m--openvino--int8", "m--openvino--f32", "m--openvino--bf16"]
    assert [bool(mark) for mark, _, _ in rows] == [True, True, False]
    int8 = rows[0][2]
    assert "88.50" in int8 and "-1.62" in int8 and "2.50x" in int8 and "125.0" in int8
    assert ">0.6<" in int8 and '<td class="loss">no</td>' in int8  # MB; latency not valid
    assert "<td>ONNX Runtime&#x27;s CPU provider has no bf16 inference precision</td>" in html
    assert "below the validity minimum for m--openvino--int8" in html
    assert "script" not in html.lower() and "default-src 'none'" in html


@pytest.mark.slow  # a headless browser
def test_page_loads_in_headless_chromium(tmp_path):
    import re
    import subprocess

    import numpy as np
    from matplotlib import image

    chromium = Path("/usr/bin/chromium")
    if not chromium.is_file():
        pytest.skip("/usr/bin/chromium not installed (apt-get install -y chromium)")
    page, html = _page(tmp_path)
    probe = html.replace("default-src 'none';", "default-src 'none'; script-src 'unsafe-inline';", 1)
    probe = probe.replace("</body>", """<script>window.addEventListener("load", () => {
      const bad = [...document.images].filter((i) => !i.complete || i.naturalWidth === 0);
      const out = document.createElement("pre"); out.id = "img-check";
      out.textContent = `images=${document.images.length} bad=${bad.length}`;
      document.body.appendChild(out); });</script></body>""", 1)
    (tmp_path / "probe.html").write_text(probe, encoding="utf-8")

    def browse(target: Path, *args: str) -> subprocess.CompletedProcess:
        command = [str(chromium), "--headless", "--no-sandbox", "--disable-gpu",
                   "--disable-background-networking", "--no-first-run", "--hide-scrollbars",
                   f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr",
                   "--v=0", *args, target.resolve().as_uri()]
        result = subprocess.run(command, capture_output=True, text=True, timeout=90, check=False)
        assert result.returncode == 0, result.stderr[-2000:]
        assert [line for line in result.stderr.splitlines() if ":CONSOLE" in line] == []
        return result

    dom = browse(tmp_path / "probe.html", "--virtual-time-budget=10000", "--dump-dom").stdout
    assert re.search(r'<pre id="img-check">images=2 bad=0</pre>', dom), dom[-500:]
    shot = tmp_path / "shot.png"
    browse(page, f"--screenshot={shot}", "--window-size=1280,1600")
    rgb = image.imread(shot)[..., :3]
    assert rgb.shape[:2] == (1600, 1280)
    assert (rgb < 0.95).any(axis=-1).mean() > 0.03
    assert len(np.unique((rgb * 255).astype(np.uint8).reshape(-1, 3), axis=0)) > 50


@pytest.mark.slow
def test_int8_cell_on_a_small_root_calibrates_on_all_images(capsys, caplog, tmp_path, wider_mini,
                                                            val_gt_dir, models_dir):
    """The default --subset-size (300) on the five-image root: the int8 cell runs (it was
    skipped), calibrated on all five, with one warning; the record says how many."""
    out = tmp_path / "sweep"
    assert main(["sweep", "--model", str(models_dir / MODEL), "--runtime", "onnxruntime",
                 "--precision", "int8", "--data-root", str(wider_mini), "--gt-mat-dir",
                 str(val_gt_dir), "--protocol", "omz", "--iterations", "3", "--min-time", "0",
                 "--min-iterations", "3", "--out", str(out)]) == 0
    capsys.readouterr()
    record = json.loads((out / "results.json").read_text())
    (cell,) = record["cells"]
    assert cell["status"] == "done" and cell["calibration_images"] == 5, cell
    assert record["settings"]["int8_calibration"]["subset_size"] == 300
    warned = [r.getMessage() for r in caplog.records if "--subset-size 300" in r.getMessage()]
    assert len(warned) == 1 and "calibrating on all 5" in warned[0]


@pytest.mark.slow
def test_biubug6_preset_times_a_dynamic_model_at_the_eval_sizes(capsys, tmp_path, wider_mini,
                                                                val_gt_dir, models_dir):
    """--preset biubug6: its recipe feeds each image at its native size. The dynamic model's
    eval and latency both run at those sizes; the fixed 640 model runs at 640x640 (eval warns)."""
    out = tmp_path / "sweep"
    dynamic, fixed = models_dir / "retinaface-mnet025-dynamic.onnx", models_dir / MODEL
    assert main(["sweep", "--model", f"{dynamic},{fixed}", "--runtime", "onnxruntime",
                 "--precision", "f32", "--preset", "biubug6", "--data-root", str(wider_mini),
                 "--gt-mat-dir", str(val_gt_dir), "--protocol", "omz", "--limit", "2",
                 "--iterations", "3", "--min-time", "0", "--min-iterations", "3",
                 "--out", str(out)]) == 0
    capsys.readouterr()
    record = json.loads((out / "results.json").read_text())
    assert record["settings"]["preset"] == "biubug6"
    assert [c["status"] for c in record["cells"]] == ["done", "done"]
    for stem, policy in (("retinaface-mnet025-dynamic", "native"), ("retinaface-mnet025-640", None)):
        cell = out / "cells" / f"{stem}--onnxruntime--f32"
        ev = json.loads((cell / "eval" / "results.json").read_text())
        assert ev["preset"]["name"] == "biubug6"
        assert ev["model"].get("input_size_policy") == policy
        latency = json.loads((cell / "latency.json").read_text())
        assert latency["input_size_policy"] == policy
        assert latency["input_images"] == (5 if policy else None)  # the root's five images


def test_toml_preset_and_protocol_are_checked(tmp_path):
    from rfbench.cli import build_parser
    from rfbench.commands.sweep_cmd import resolve

    config = tmp_path / "s.toml"
    config.write_text('models = ["m.onnx"]\n[data]\npreset = "fastest"\n')
    with pytest.raises(RfbenchError, match=r"s.toml: \[data\] preset = 'fastest': choose from"):
        resolve(build_parser().parse_args(["sweep", "--config", str(config)]))

def _cell_predictions(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes()
            for p in sorted((out / "cells").rglob("*")) if p.is_file() and {"predictions", "landmarks"} & set(p.parts)}


def test_sweep_cells_share_one_decode_and_write_the_uncached_files(capsys, tmp_path, wider_mini, models_dir):
    """Each image decoded and resized once for all cells: the second cell reads the cache, and
    every cell's prediction files and AP equal those of a sweep without the cache."""
    common = ["sweep", "--model", str(models_dir / MODEL), "--runtime", "openvino,onnxruntime",
              "--precision", "f32", "--data-root", str(wider_mini), "--protocol", "omz", "--time", "0.2",
              "--iterations", "2", "--min-time", "0", "--min-iterations", "2"]
    assert main([*common, "--image-cache-mb", "0", "--out", str(tmp_path / "plain")]) == 0
    assert "image cache" not in capsys.readouterr().out and not (tmp_path / "plain" / "image-cache").exists()
    assert main([*common, "--out", str(tmp_path / "cached")]) == 0
    stdout = capsys.readouterr().out
    entries = list((tmp_path / "cached" / "image-cache").glob("*.npz"))
    assert len(entries) == 5 and "image cache: " in stdout and " MB in " in stdout
    plain, cached = _cell_predictions(tmp_path / "plain"), _cell_predictions(tmp_path / "cached")
    assert len(plain) == 2 * 10 and plain == cached  # 2 cells x 5 prediction files and sidecars
    aps = [{c["key"]: c["aps"] for c in json.loads((tmp_path / name / "results.json").read_text())["cells"]}
           for name in ("plain", "cached")]
    assert aps[0] == aps[1]
