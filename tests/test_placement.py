"""Worker placement: disjoint core slices when they fit, else OpenVINO's pinning off."""

from __future__ import annotations

import subprocess
import sys

from rfbench.accuracy.placement import core_slices


def test_core_slices_are_disjoint_and_refused_when_they_do_not_fit():
    assert core_slices(2, 1, [0, 1]) == [(0,), (1,)]
    assert core_slices(2, 2, [0, 1, 4, 5, 6]) == [(0, 1), (4, 5)]
    assert core_slices(3, 1, [0, 1]) is None
    assert core_slices(1, 3, [0, 1]) is None
    assert core_slices(1, 1, []) is None


PROBE = """
import os, sys
from rfbench.accuracy.placement import place_this_process
from rfbench.runtimes.openvino.core import shared_core
cores = [int(c) for c in sys.argv[1:]] or None
placed = place_this_process(cores, "openvino")
print(placed["cpu_affinity"], placed["cpu_pinning"], sorted(os.sched_getaffinity(0)),
      shared_core().get_property("CPU", "ENABLE_CPU_PINNING"))
"""


def test_a_slice_restricts_the_process_and_no_slice_turns_pinning_off():
    first = sorted(__import__("os").sched_getaffinity(0))[0]
    sliced = subprocess.run([sys.executable, "-c", PROBE, str(first)], capture_output=True, text=True, check=True)
    assert sliced.stdout.split() == [f"[{first}]", "runtime", "default", f"[{first}]", "True"]
    unpinned = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True)
    assert unpinned.stdout.split()[:2] == ["None", "False"] and unpinned.stdout.split()[-1] == "False"
