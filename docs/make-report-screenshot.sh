#!/usr/bin/env bash
# Rebuild docs/report-screenshot.png from real runs on the test fixtures:
# MobileNet-0.25 RetinaFace on the five WIDER val images (OpenVINO, ONNX Runtime, the layout-A
# export), a latency run of both runtimes, the complexity of the MobileNet model and of the R50
# reference, in one report; the shot is the top of the page (summary, accuracy, detections).
# Needs the fixtures (../shared/fixtures or $RFBENCH_FIXTURES) and /usr/bin/chromium.
set -euo pipefail
cd "$(dirname "$0")/.."
fixtures="${RFBENCH_FIXTURES:-../shared/fixtures}"
models="$fixtures/models"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
data=(--data-root "$fixtures/wider-mini" --gt-mat-dir "$fixtures/wider-val-gt")

rfbench -q eval "${data[@]}" --model "$models/retinaface-mnet025-640.onnx" --out "$work/eval-ov"
rfbench -q eval "${data[@]}" --model "$models/retinaface-mnet025-640.onnx" --runtime onnxruntime \
    --out "$work/eval-ort"
rfbench -q eval "${data[@]}" --model "$models/retinaface-mnet025-omzlayout.onnx" --out "$work/eval-a"
rfbench -q latency --model "$models/retinaface-mnet025-640.onnx" --runtime all --precision f32 \
    --time 4 --min-time 2 --out "$work/lat"
rfbench -q profile --model "$models/retinaface-mnet025-640.onnx" --out "$work/profile-mnet"
rfbench -q profile --out "$work/profile"
rfbench -q report "$work/eval-ov" "$work/eval-ort" "$work/eval-a" "$work/lat" "$work/profile-mnet" \
    "$work/profile" --out "$work/report.html"
/usr/bin/chromium --headless --no-sandbox --disable-gpu --hide-scrollbars \
    --user-data-dir="$work/chromium" --window-size=1280,2900 \
    --screenshot="$PWD/docs/report-screenshot.png" "file://$work/report.html"
echo "wrote docs/report-screenshot.png"
