"""The report in a real browser: headless Chromium loads it offline without console errors,
every embedded image decodes, and the screenshot is a non-blank PNG.

Needs /usr/bin/chromium (Debian: ``apt-get install -y chromium``). Without it the tests are
skipped, except under CI (``CI`` set), where they fail.
"""

from __future__ import annotations

import base64
import os
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest

from rfbench.report import write_report

pytestmark = pytest.mark.slow  # a headless browser per test, ~2-9 s each

CHROMIUM = Path("/usr/bin/chromium")
INSTALL = "apt-get update && apt-get install -y chromium"
TIMEOUT_S = 90

IMAGE_CHECK = """<script>
window.addEventListener("load", () => {
  const images = [...document.images];
  const bad = images.filter((img) => !img.complete || img.naturalWidth === 0).map((img) => img.alt);
  const out = document.createElement("pre");
  out.id = "img-check";
  out.textContent = `images=${images.length} decoded=${images.length - bad.length} bad=${bad.join("|")}`;
  document.body.appendChild(out);
});
</script>"""


@pytest.fixture(scope="module")
def chromium() -> Path:
    if not CHROMIUM.is_file():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} not found; CI must install it first: {INSTALL}", pytrace=False)
        pytest.skip(f"{CHROMIUM} not installed (install with: {INSTALL})")
    return CHROMIUM


@pytest.fixture(scope="module")
def report(chromium, tmp_path_factory, real_runs) -> Path:
    """A real two-run report (accuracy and latency of the same model on ONNX Runtime)."""
    root = tmp_path_factory.mktemp("browser")
    return write_report([real_runs["eval"], real_runs["lat"]], root / "report" / "report.html")


def run_chromium(chromium: Path, page: Path, profile: Path, *args: str) -> subprocess.CompletedProcess:
    command = [
        str(chromium), "--headless", "--no-sandbox", "--disable-gpu",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--no-first-run", "--hide-scrollbars", f"--user-data-dir={profile}",
        "--enable-logging=stderr", "--v=0", *args, page.resolve().as_uri(),
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT_S, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    return result


def console_messages(stderr: str) -> list[str]:
    """Console output of the page (errors, CSP violations, blocked loads)."""
    return [line for line in stderr.splitlines() if ":CONSOLE" in line]


def img_count(html: str) -> int:
    return len(re.findall(r"<img\b", html))


def test_report_loads_without_console_errors(chromium, report, tmp_path):
    result = run_chromium(chromium, report, tmp_path / "profile", "--virtual-time-budget=5000",
                          "--dump-dom")
    assert console_messages(result.stderr) == []
    dom = result.stdout
    expected = img_count(report.read_text(encoding="utf-8"))
    # four PR curves, one latency figure, the accuracy-latency scatter, three drawn images
    assert expected == 9
    assert img_count(dom) == expected
    assert 'id="accuracy"' in dom and 'id="latency"' in dom


def test_every_image_decodes(chromium, report, tmp_path):
    html = report.read_text(encoding="utf-8")
    # a copy that may run one inline script (still no network), reporting each image's state
    probe = html.replace("default-src 'none';", "default-src 'none'; script-src 'unsafe-inline';", 1)
    assert probe != html
    probe = probe.replace("</body>", IMAGE_CHECK + "</body>", 1)
    page = tmp_path / "probe.html"
    page.write_text(probe, encoding="utf-8")
    result = run_chromium(chromium, page, tmp_path / "profile", "--virtual-time-budget=10000",
                          "--dump-dom")
    assert console_messages(result.stderr) == []
    match = re.search(r'<pre id="img-check">images=(\d+) decoded=(\d+) bad=(.*?)</pre>',
                      result.stdout)
    assert match, result.stdout[-500:]
    count = img_count(html)
    assert (int(match.group(1)), int(match.group(2)), match.group(3)) == (count, count, "")


def test_screenshot_is_a_non_blank_png(chromium, report, tmp_path):
    from matplotlib import image

    shot = tmp_path / "shot.png"
    result = run_chromium(chromium, report, tmp_path / "profile", f"--screenshot={shot}",
                          "--window-size=1280,2000")
    assert console_messages(result.stderr) == []
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pixels = image.imread(shot)
    assert pixels.shape[:2] == (2000, 1280)
    rgb = pixels[..., :3]
    not_white = (rgb < 0.95).any(axis=-1).mean()
    colours = len(np.unique((rgb * 255).astype(np.uint8).reshape(-1, 3), axis=0))
    assert not_white > 0.03 and colours > 50, (not_white, colours)


DRAWN_CHECK = """<script>
window.addEventListener("load", () => {
  const drawn = [...document.images].filter((img) => img.alt.startsWith("detections on "));
  const out = document.createElement("pre");
  out.id = "drawn-check";
  out.textContent = drawn.map((img) => `${img.naturalWidth}x${img.naturalHeight}`).join(" ");
  document.body.appendChild(out);
});
</script>"""


def test_drawn_detections_decode_at_their_size(chromium, report, tmp_path):
    """The JPEG data URIs of the drawn images decode in the browser, 480 px wide each."""
    import cv2

    html = report.read_text(encoding="utf-8")
    probe = html.replace("default-src 'none';", "default-src 'none'; script-src 'unsafe-inline';", 1)
    probe = probe.replace("</body>", DRAWN_CHECK + "</body>", 1)
    page = tmp_path / "drawn.html"
    page.write_text(probe, encoding="utf-8")
    result = run_chromium(chromium, page, tmp_path / "profile", "--virtual-time-budget=10000",
                          "--dump-dom")
    assert console_messages(result.stderr) == []
    match = re.search(r'<pre id="drawn-check">(.*?)</pre>', result.stdout)
    assert match, result.stdout[-500:]
    sizes = match.group(1).split()
    assert len(sizes) == 3, sizes
    # the sizes the browser decoded equal the JPEG's own (OpenCV decoding the same bytes)
    uris = re.findall(r'<img src="data:image/jpeg;base64,([^"]+)" alt="detections on ', html)
    expected = []
    for data in uris:
        image = cv2.imdecode(np.frombuffer(base64.b64decode(data), np.uint8), cv2.IMREAD_COLOR)
        expected.append(f"{image.shape[1]}x{image.shape[0]}")
    assert sizes == expected and all(size.startswith("480x") for size in sizes)
