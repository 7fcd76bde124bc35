"""Ray resources of a non-CPU ``--device`` (:mod:`rfbench.accuracy.ray_devices`)."""

from __future__ import annotations

import pytest

from rfbench.accuracy.ray_devices import check_cluster_offers, device_resources
from rfbench.errors import RfbenchError


@pytest.mark.parametrize(("device", "needed"), [
    ("CPU", {}),
    ("AUTO", {}),
    ("AUTO:GPU,CPU", {}),
    ("GPU", {"device:GPU": 1.0}),
    ("GPU.1", {"device:GPU.1": 1.0}),
    ("npu", {"device:NPU": 1.0}),
    ("HETERO:GPU,CPU", {"device:GPU": 1.0}),
    ("MULTI:GPU.0,GPU.1", {"device:GPU.0": 1.0, "device:GPU.1": 1.0}),
    ("CUDA,CPU", {"GPU": 1.0}),
    ("CUDAExecutionProvider", {"GPU": 1.0}),
    ("TensorrtExecutionProvider,CUDA", {"GPU": 1.0}),
    ("DmlExecutionProvider", {"device:DML": 1.0}),
])
def test_each_device_names_its_ray_resource(device, needed):
    assert device_resources(device) == needed


def test_cpu_leaves_the_worker_count_to_the_cpus():
    assert check_cluster_offers({}, {"CPU": 8.0}, "CPU", None) is None
    assert check_cluster_offers({}, {"CPU": 8.0}, "CPU", 3) == 3


def test_device_units_decide_the_default_worker_count():
    cluster = {"CPU": 16.0, "device:GPU": 3.0, "GPU": 2.0}
    assert check_cluster_offers({"device:GPU": 1.0}, cluster, "GPU", None) == 3
    assert check_cluster_offers({"device:GPU": 1.0}, cluster, "GPU", 2) == 2
    assert check_cluster_offers({"GPU": 1.0}, cluster, "CUDA", None) == 2


def test_missing_resource_is_one_line_saying_how_to_offer_it():
    with pytest.raises(RfbenchError) as err:
        check_cluster_offers({"device:NPU": 1.0}, {"CPU": 4.0}, "NPU", None)
    message = str(err.value)
    assert "\n" not in message and "'device:NPU'" in message
    assert """ray start ... --resources='{"device:NPU": 1}'""" in message
    with pytest.raises(RfbenchError, match="Ray finds NVIDIA GPUs by itself"):
        check_cluster_offers({"GPU": 1.0}, {"CPU": 4.0}, "CUDA", 1)


def test_more_workers_than_device_units_is_one_line():
    with pytest.raises(RfbenchError, match=r"3 workers need 3 units of 'device:GPU', the cluster offers 2"):
        check_cluster_offers({"device:GPU": 1.0}, {"CPU": 8.0, "device:GPU": 2.0}, "GPU", 3)
