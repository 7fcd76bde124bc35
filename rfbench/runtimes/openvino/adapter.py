"""OpenVINO adapter: ``.xml`` (+ ``.bin``) IR and ``.onnx`` on any OpenVINO device.

* Devices: any device string OpenVINO accepts (``CPU``, ``GPU.0``, ``AUTO``, ``AUTO:GPU,CPU``,
  ``MULTI:CPU,GPU``, ``HETERO:GPU,CPU``, ``BATCH:GPU(4)``), validated against
  ``Core().available_devices`` first (virtual devices by their members).
* Settings map to compile properties: precision -> ``INFERENCE_PRECISION_HINT``, threads ->
  ``INFERENCE_NUM_THREADS``, streams -> ``NUM_STREAMS``, performance hint -> ``PERFORMANCE_HINT``,
  perf counters -> ``PERF_COUNT``. Effective values are read back from the compiled model
  (for AUTO/MULTI/HETERO, from its ``DEVICE_PROPERTIES``: one value when the members agree,
  else ``{device: value}``);
  ``requests`` defaults to ``OPTIMAL_NUMBER_OF_INFER_REQUESTS``. A requested precision the device
  does not run is an error (the CPU plugin silently turns ``f16`` into ``bf16`` on this machine).
* ``infer`` and ``sync_runner`` share one InferRequest; with several streams ``infer`` has one
  request per stream (``infer_lanes``), so that many threads infer at once; ``run_async`` uses an
  ``AsyncInferQueue`` (kept between calls) so ``requests`` inferences really run in parallel.
* ``input_precision="u8"``: ``PrePostProcessor`` sets the float inputs' tensor element type to
  u8 before compiling, so the conversion runs inside the model (benchmark_app's default for
  image inputs); ``"f32"`` likewise sets f32 (a no-op on a float32 model).
* ``layer_times``: with ``perf_counters`` every inference's ``get_profiling_info()`` is read
  right after it completes (sync request, or in the async completion callback) and kept;
  the rows are medians over them (:mod:`rfbench.runtimes.layers`).
"""

from __future__ import annotations

import itertools
import logging
import queue
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import openvino as ov

from rfbench.errors import RfbenchError
from rfbench.runtimes.base import (
    AsyncJobs,
    RuntimeAdapter,
    TensorInfo,
)
from rfbench.runtimes.layers import LayerSamples
from rfbench.runtimes.openvino.core import (
    fold_image_input,
    fold_input_precision,
    model_metadata,
    one_line,
    port_name,
    port_shape,
    read_model,
    shared_core,
    validate_device,
    value_name,
)
from rfbench.runtimes.openvino.properties import (
    check_device_support,
    compile_config,
    full_device_name,
    member_value,
)
from rfbench.runtimes.shapes import fixed_input_shapes

log = logging.getLogger(__name__)

#: GIL-free pause before dropping a used AsyncInferQueue (see OpenVINOAdapter.close), seconds.
_CALLBACK_DRAIN_S = 0.05


class OpenVINOAdapter(RuntimeAdapter):
    """One model compiled by OpenVINO on one device (see the module docstring)."""

    name = "openvino"
    takes_u8_images = True

    def __init__(self, model_path: str | Path, **kwargs: Any) -> None:
        super().__init__(model_path, **kwargs)
        self._core = shared_core()
        validate_device(self.device, self._core.available_devices)
        config = compile_config(self.requested, self.perf_counters)
        check_device_support(self._core, self.device, self.requested["precision"], config)
        t0 = time.perf_counter_ns()
        model = read_model(self.model_path)
        self.read_ms = (time.perf_counter_ns() - t0) / 1e6
        self.metadata = model_metadata(model)
        self._fix_input_shapes(model)
        model = fold_input_precision(model, self.requested["input_precision"], self.model_path.name)
        model = self._fold_image_input(model)
        self._compiled = self._compile(model, config)
        self._read_back()
        self._describe_ports()
        self.effective["input_precision"] = self.input_precision_effective()
        self.effective["input_feed"] = "u8 NHWC image" if self.image_pixels is not None else "tensor"
        self._request = self._compiled.create_infer_request()
        streams = self.effective["streams"]
        self.infer_lanes = streams if isinstance(streams, int) and streams > 1 else 1
        self._idle: queue.SimpleQueue[ov.InferRequest] = queue.SimpleQueue()  # infer's requests
        for request in [self._request] + [self._compiled.create_infer_request()
                                          for _ in range(self.infer_lanes - 1)]:
            self._idle.put(request)
        self._queue: ov.AsyncInferQueue | None = None
        self._layers = LayerSamples()
        self._layer_lock = threading.Lock()

    # -- identity -------------------------------------------------------------------------
    @classmethod
    def version(cls) -> str:
        """OpenVINO's version string, e.g. ``2026.4.1-...``."""
        return ov.get_version()

    @classmethod
    def available_devices(cls) -> tuple[str, ...]:
        """``Core().available_devices``, e.g. ``("CPU", "GPU.0")``."""
        return tuple(shared_core().available_devices)

    @classmethod
    def device_names(cls) -> dict[str, str]:
        """``{device: FULL_DEVICE_NAME}`` of the available devices."""
        core = shared_core()
        names = {}
        for dev in core.available_devices:
            try:
                names[dev] = str(core.get_property(dev, "FULL_DEVICE_NAME"))
            except RuntimeError as exc:
                log.debug("FULL_DEVICE_NAME of %s: %s", dev, one_line(exc))
        return names

    # -- loading --------------------------------------------------------------------------
    def _fix_input_shapes(self, model: ov.Model) -> None:
        """Reshape dynamic inputs to ``input_shape``; error when a dynamic input has none."""
        declared = {port_name(p, f"input{i}"): port_shape(p) for i, p in enumerate(model.inputs)}
        shapes = fixed_input_shapes(declared, self.input_shape, self.model_path.name)
        new_shapes = {
            port: ov.PartialShape([-1 if d is None else d for d in shape])
            for port, (name, shape) in zip(model.inputs, shapes.items(), strict=True)
            if shape != declared[name]
        }
        if new_shapes:
            try:
                model.reshape(new_shapes)
            except RuntimeError as exc:
                raise RfbenchError(
                    f"{self.model_path.name}: cannot reshape to {self.input_shape}: {one_line(exc)}"
                ) from None

    def _fold_image_input(self, model: ov.Model) -> ov.Model:
        """With ``image_input``: ask it (outputs and metadata of the reshaped model) for the
        pixel format and fold it into ``model`` (:func:`fold_image_input`); else ``model``."""
        if self._image_input is None or len(model.inputs) != 1 or \
                model.inputs[0].get_element_type() != ov.Type.f32:
            return model
        outputs = {port_name(p, f"output{i}"): port_shape(p) for i, p in enumerate(model.outputs)}
        pixels = self._image_input(outputs, self.metadata)
        if pixels is None:
            return model
        self.image_pixels = pixels
        return fold_image_input(model, pixels, self.model_path.name)

    def _compile(self, model: ov.Model, config: dict[str, Any]) -> ov.CompiledModel:
        """Compile for the device, timing it into ``compile_ms``."""
        t0 = time.perf_counter_ns()
        try:
            compiled = self._core.compile_model(model, self.device, config)
        except RuntimeError as exc:
            raise RfbenchError(
                f"OpenVINO cannot compile {self.model_path.name} for {self.device} "
                f"with {config}: {one_line(exc)}"
            ) from None
        self.compile_ms = (time.perf_counter_ns() - t0) / 1e6
        return compiled

    def _property(self, key: str) -> Any:
        """A compiled-model property, or None when this device does not report it."""
        try:
            return self._compiled.get_property(key)
        except RuntimeError:
            return None

    def _effective(self, key: str, member_props: Mapping[str, Mapping[str, Any]]) -> Any:
        """A property of the compiled model, else from its member devices (AUTO, MULTI, HETERO)."""
        return member_value(self._property(key), key, member_props)

    def _read_back(self) -> None:
        """Fill ``effective`` and ``device_full_name``; reject a precision not honoured."""
        members = self._property("DEVICE_PROPERTIES") or {}
        hint = self._effective("PERFORMANCE_HINT", members)
        optimal = self._property("OPTIMAL_NUMBER_OF_INFER_REQUESTS")
        precision = value_name(self._effective("INFERENCE_PRECISION_HINT", members))
        self.effective = {
            "precision": precision,
            "threads": self._effective("INFERENCE_NUM_THREADS", members),
            "streams": self._effective("NUM_STREAMS", members),
            "requests": self.requested["requests"] or (int(optimal) if optimal else 1),
            "optimal_requests": int(optimal) if optimal else None,
            "performance_hint": value_name(hint),
            "execution_devices": list(self._property("EXECUTION_DEVICES") or []),
        }
        wanted = self.requested["precision"]
        got = precision.values() if isinstance(precision, dict) else [precision]
        wrong = sorted({str(g) for g in got if g is not None and g != wanted})
        if wanted and wrong:
            raise RfbenchError(
                f"OpenVINO device {self.device} does not support precision {wanted} "
                f"(the compiled model runs {', '.join(wrong)})"
            )
        devices = self.effective["execution_devices"] or [self.device]
        self.device_full_name = full_device_name(self._core, devices)

    def _describe_ports(self) -> None:
        self._in_ports = list(self._compiled.inputs)
        self._out_ports = list(self._compiled.outputs)
        self.inputs, self.outputs = (
            [TensorInfo(port_name(p, f"{kind}{i}"), port_shape(p),
                        np.dtype(p.get_element_type().to_dtype())) for i, p in enumerate(ports)]
            for kind, ports in (("input", self._in_ports), ("output", self._out_ports))
        )

    def _bind(self, feeds: Mapping[str, np.ndarray]) -> dict[int, ov.Tensor]:
        """Feeds as ``{input index: ov.Tensor}`` sharing the (contiguous, right-typed) arrays."""
        self._check_feeds(feeds)
        bound = {}
        for i, info in enumerate(self.inputs):
            array = np.ascontiguousarray(feeds[info.name], dtype=info.dtype)
            bound[i] = ov.Tensor(array, shared_memory=True)
        return bound

    # -- running --------------------------------------------------------------------------
    def infer(self, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """One sync inference on an idle request (a caller waits for one: ``infer_lanes`` run at
        once); every output copied out of the request (``share_outputs=False``)."""
        bound = self._bind(feeds)
        request = self._idle.get()
        try:
            result = request.infer(bound, share_outputs=False)
            self._collect(request)
            return {
                info.name: np.asarray(result[port])
                for info, port in zip(self.outputs, self._out_ports, strict=True)
            }
        finally:
            self._idle.put(request)

    def sync_runner(
        self, feeds: Mapping[str, np.ndarray] | Sequence[Mapping[str, np.ndarray]]
    ) -> Callable[[], None]:
        """Bind ``feeds`` to the sync request; the callable runs it (outputs stay inside).

        Several feed dicts: each call first sets the next one's tensors (``set_input_tensor``,
        no copy). With perf counters, each call then reads the request's profiling info.
        """
        bound = self._bind_all(feeds, "sync_runner")
        request = self._request
        for i, tensor in bound[0].items():
            request.set_input_tensor(i, tensor)
        if len(bound) == 1 and not self.perf_counters:

            def run_once() -> None:
                request.infer(share_inputs=True, share_outputs=True)

            return run_once
        next_feeds = itertools.cycle(bound).__next__ if len(bound) > 1 else None

        def run_next() -> None:
            if next_feeds is not None:
                for i, tensor in next_feeds().items():
                    request.set_input_tensor(i, tensor)
            request.infer(share_inputs=True, share_outputs=True)
            self._collect(request)

        return run_next

    # -- run_async's request primitives: an AsyncInferQueue, kept between runs -------------
    def _async_open(
        self, jobs: AsyncJobs, bound: Sequence[dict[int, ov.Tensor]], requests: int
    ) -> tuple[ov.AsyncInferQueue, Sequence[dict[int, ov.Tensor]]]:
        """The queue of ``requests`` requests, its callback reporting to ``jobs``."""
        if self._queue is None or len(self._queue) != requests:
            self._queue = ov.AsyncInferQueue(self._compiled, requests)
        out_ports = list(zip(self.outputs, self._out_ports, strict=True))

        def callback(request: ov.InferRequest, userdata: tuple[int, int, int]) -> None:
            done_ns = time.perf_counter_ns()
            job_id, request_id, submit_ns = userdata

            def outputs() -> dict[str, np.ndarray]:
                return {
                    info.name: np.array(request.get_tensor(port).data, copy=True)
                    for info, port in out_ports
                }

            jobs.done(job_id, request_id, done_ns - submit_ns, done_ns, outputs)
            if self.perf_counters:
                self._collect(request)

        self._queue.set_callback(callback)
        return self._queue, bound

    def _async_run(self, jobs: AsyncJobs, state: Any) -> None:
        """Wait for an idle request, take the next job, start it; until no job comes."""
        queue, bound = state
        while True:
            rid = queue.get_idle_request_id()
            job = jobs.next_job()
            if job is None:
                return
            # start_async takes the idle request get_idle_request_id just returned
            queue.start_async(bound[job % len(bound)], userdata=(job, rid, time.perf_counter_ns()))

    def _async_drain(self, state: Any) -> None:
        state[0].wait_all()
        time.sleep(0)  # let the callback threads leave Python (see close())

    # -- per-layer --------------------------------------------------------------------------
    def _collect(self, request: ov.InferRequest) -> None:
        """Add ``request``'s last inference to the per-layer samples (perf counters only)."""
        if not self.perf_counters:
            return
        infos = request.get_profiling_info()
        with self._layer_lock:
            total = 0.0
            for info in infos:
                time_ms = info.real_time.total_seconds() * 1e3
                total += time_ms
                self._layers.add(info.node_name, {
                    "name": info.node_name, "node": info.node_name, "type": info.node_type,
                    "exec_type": info.exec_type, "status": info.status.name,
                }, time_ms)  # fmt: skip
            self._layers.totals_ms.append(total)

    def layer_samples(self) -> LayerSamples:
        """Every profiled inference so far; ``totals_ms`` is the sum of its layers' real times."""
        if not self.perf_counters:
            raise RfbenchError("per-layer times need the adapter created with perf_counters=True")
        return self._layers

    def close(self) -> None:
        """Drop the requests and the compiled model.

        After an asynchronous run, OpenVINO's callback threads may still be finishing their
        Python-side cleanup when ``wait_all`` returns; the process aborting at exit ("Resource
        deadlock avoided", OpenVINO 2026.4) shows it. Releasing the GIL briefly lets them finish
        before anything is destroyed.
        """
        if self._queue is not None:
            time.sleep(_CALLBACK_DRAIN_S)
        self._queue = None
        self._request = None
        self._compiled = None
