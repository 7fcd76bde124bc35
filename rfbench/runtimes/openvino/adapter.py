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
* ``infer`` and ``sync_runner`` share one InferRequest; ``run_async`` uses an
  ``AsyncInferQueue`` (kept between calls) so ``requests`` inferences really run in parallel.
* ``layer_times``: ``get_profiling_info()`` of the last inference of each request used by the
  most recent run (the sync request after ``infer``/``sync_runner``, every request that ran
  after ``run_async``), averaged over those requests.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import openvino as ov

from rfbench.errors import RfbenchError
from rfbench.runtimes.base import (
    AsyncRunResult,
    AsyncTracker,
    DoneCallback,
    RuntimeAdapter,
    StopCondition,
    TensorInfo,
    merge_shape,
    normalise_input_shapes,
)

log = logging.getLogger(__name__)

VIRTUAL_DEVICES = ("AUTO", "MULTI", "HETERO", "BATCH")
#: rfbench precision name -> OPTIMIZATION_CAPABILITIES entry.
_CAPABILITY = {"f32": "FP32", "bf16": "BF16", "f16": "FP16"}
#: rfbench setting -> OpenVINO property it is sent as.
_PROPERTY = {
    "precision": "INFERENCE_PRECISION_HINT",
    "threads": "INFERENCE_NUM_THREADS",
    "streams": "NUM_STREAMS",
    "performance_hint": "PERFORMANCE_HINT",
    "perf_counters": "PERF_COUNT",
}


#: GIL-free pause before dropping a used AsyncInferQueue (see OpenVINOAdapter.close), seconds.
_CALLBACK_DRAIN_S = 0.05


@functools.lru_cache(maxsize=1)
def shared_core() -> ov.Core:
    """The process's one ``ov.Core``, kept until exit.

    OpenVINO's advice is one Core per application, and it matters here: destroying a Core
    shortly after a compiled model that ran asynchronously was released hangs or aborts the
    process on OpenVINO 2026.4 ("Resource deadlock avoided"), so adapters never own one.
    """
    return ov.Core()


def _one_line(exc: BaseException) -> str:
    """OpenVINO's multi-line messages reduced to their informative lines, on one line."""
    lines = [ln.strip() for ln in str(exc).splitlines()]
    keep = [ln for ln in lines if ln and not ln.startswith(("Exception from", "Check '"))]
    return " ".join(keep or [ln for ln in lines if ln][:1]) or type(exc).__name__


def split_device(device: str) -> tuple[str, list[str]]:
    """``"MULTI:CPU,GPU"`` -> ``("MULTI", ["CPU", "GPU"])``; ``"CPU"`` -> ``("CPU", [])``.

    Member decorations are removed: BATCH's ``GPU(4)`` -> ``GPU``, AUTO's exclusion ``-CPU`` -> ``CPU``.
    """
    head, _, rest = device.partition(":")
    members = []
    for item in rest.split(",") if rest else []:
        item = item.strip().lstrip("-").split("(")[0].strip()
        if item:
            members.append(item)
    return head.strip(), members


def validate_device(device: str, available: Sequence[str]) -> None:
    """Raise RfbenchError unless every physical device named in ``device`` is available."""
    head, members = split_device(device)
    if not head:
        raise RfbenchError("OpenVINO device is empty")
    listed = ", ".join(available) or "none"
    if head.upper() in VIRTUAL_DEVICES:
        if head.upper() in ("MULTI", "HETERO", "BATCH") and not members:
            raise RfbenchError(f"OpenVINO device '{device}' needs members, e.g. {head}:CPU")
        to_check = members
    else:
        if members:
            raise RfbenchError(
                f"OpenVINO device '{device}': only {'/'.join(VIRTUAL_DEVICES)} take members"
            )
        to_check = [head]
    for name in to_check:
        if not any(a == name or a.startswith(name + ".") for a in available):
            raise RfbenchError(f"OpenVINO device '{name}' is not available; available: {listed}")


def _precision_name(value: Any) -> str | None:
    """``ov.Type.bf16`` (or ``"bf16"``) -> ``"bf16"``; None stays None."""
    if value is None:
        return None
    if isinstance(value, ov.Type):
        return value.get_type_name()
    return str(value).lower()


def _hint_name(value: Any) -> Any:
    """``PerformanceMode.LATENCY`` or ``"LATENCY"`` -> ``"latency"``; dicts per device likewise."""
    if value is None:
        return None
    if isinstance(value, dict):
        return {dev: _hint_name(v) for dev, v in value.items()}
    return str(getattr(value, "name", value)).lower()


def _ov_shape(port: Any) -> tuple[int | None, ...]:
    """A port's partial shape with dynamic dimensions as None."""
    return tuple(d.get_length() if d.is_static else None for d in port.get_partial_shape())


def _port_name(port: Any, fallback: str) -> str:
    names = port.get_names()
    return port.get_any_name() if names else fallback


class OpenVINOAdapter(RuntimeAdapter):
    """One model compiled by OpenVINO on one device (see the module docstring)."""

    name = "openvino"

    def __init__(self, model_path: str | Path, **kwargs: Any) -> None:
        super().__init__(model_path, **kwargs)
        self._core = shared_core()
        self._check_weights_file()
        validate_device(self.device, self._core.available_devices)
        config = self._compile_config()
        self._check_device_support(config)
        model = self._read()
        self._fix_input_shapes(model)
        self._compiled = self._compile(model, config)
        self._read_back()
        self._describe_ports()
        self._request = self._compiled.create_infer_request()
        self._queue: ov.AsyncInferQueue | None = None
        self._profiled: list[Any] = []

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
                log.debug("FULL_DEVICE_NAME of %s: %s", dev, _one_line(exc))
        return names

    # -- loading --------------------------------------------------------------------------
    def _check_weights_file(self) -> None:
        if self.model_path.suffix.lower() == ".xml":
            weights = self.model_path.with_suffix(".bin")
            if not weights.is_file():
                raise RfbenchError(
                    f"model weights not found: {weights} (needed by {self.model_path})"
                )

    def _compile_config(self) -> dict[str, Any]:
        """The OpenVINO compile properties for the requested settings."""
        req = self.requested
        config: dict[str, Any] = {}
        if req["precision"]:
            config[_PROPERTY["precision"]] = req["precision"]
        if req["threads"]:
            config[_PROPERTY["threads"]] = req["threads"]
        if req["streams"]:
            config[_PROPERTY["streams"]] = req["streams"]
        if req["performance_hint"]:
            config[_PROPERTY["performance_hint"]] = req["performance_hint"].upper()
        if self.perf_counters:
            config[_PROPERTY["perf_counters"]] = True
        return config

    def _check_device_support(self, config: Mapping[str, Any]) -> None:
        """For a physical device: every property supported, precision in its capabilities."""
        head, _ = split_device(self.device)
        if head.upper() in VIRTUAL_DEVICES:
            return  # checked after compiling, from the effective values
        supported = self._core.get_property(self.device, "SUPPORTED_PROPERTIES")
        for setting, prop in _PROPERTY.items():
            if prop in config and prop not in supported:
                raise RfbenchError(
                    f"OpenVINO device {self.device} does not support {setting} ({prop})"
                )
        precision = self.requested["precision"]
        if precision:
            caps = [
                str(c) for c in self._core.get_property(self.device, "OPTIMIZATION_CAPABILITIES")
            ]
            if _CAPABILITY[precision] not in caps:
                raise RfbenchError(
                    f"OpenVINO device {self.device} does not support precision {precision} "
                    f"(capabilities: {', '.join(caps)})"
                )

    def _read(self) -> ov.Model:
        """Read the model file, timing it into ``read_ms``."""
        t0 = time.perf_counter_ns()
        try:
            model = self._core.read_model(str(self.model_path))
        except RuntimeError as exc:
            raise RfbenchError(
                f"OpenVINO cannot read model {self.model_path}: {_one_line(exc)}"
            ) from None
        self.read_ms = (time.perf_counter_ns() - t0) / 1e6
        return model

    def _fix_input_shapes(self, model: ov.Model) -> None:
        """Reshape dynamic inputs to ``input_shape``; error when a dynamic input has none."""
        names = [_port_name(p, f"input{i}") for i, p in enumerate(model.inputs)]
        wanted = normalise_input_shapes(self.input_shape, names, self.model_path.name)
        new_shapes = {}
        for name, port in zip(names, model.inputs, strict=True):
            declared = _ov_shape(port)
            shape = merge_shape(declared, wanted.get(name), name, self.model_path.name)
            if any(d is None for d in shape):
                raise RfbenchError(
                    f"{self.model_path.name}: input '{name}' has a dynamic shape "
                    f"{list(declared)}; give an input shape such as 1x3x640x640"
                )
            if shape != declared:
                new_shapes[port] = ov.PartialShape(list(shape))
        if new_shapes:
            try:
                model.reshape(new_shapes)
            except RuntimeError as exc:
                raise RfbenchError(
                    f"{self.model_path.name}: cannot reshape to {self.input_shape}: {_one_line(exc)}"
                ) from None

    def _compile(self, model: ov.Model, config: dict[str, Any]) -> ov.CompiledModel:
        """Compile for the device, timing it into ``compile_ms``."""
        t0 = time.perf_counter_ns()
        try:
            compiled = self._core.compile_model(model, self.device, config)
        except RuntimeError as exc:
            raise RfbenchError(
                f"OpenVINO cannot compile {self.model_path.name} for {self.device} "
                f"with {config}: {_one_line(exc)}"
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
        """A property of the compiled model, else from its member devices (AUTO, MULTI, HETERO).

        Members that agree give one value; members that differ give ``{device: value}``.
        """
        value = self._property(key)
        if value is not None or not member_props:
            return value
        values = {dev: props.get(key) for dev, props in member_props.items()}
        distinct = {repr(v) for v in values.values()}
        return next(iter(values.values())) if len(distinct) == 1 else values

    def _read_back(self) -> None:
        """Fill ``effective`` and ``device_full_name``; reject a precision not honoured."""
        members = self._property("DEVICE_PROPERTIES") or {}
        hint = self._effective("PERFORMANCE_HINT", members)
        optimal = self._property("OPTIMAL_NUMBER_OF_INFER_REQUESTS")
        precision = self._effective("INFERENCE_PRECISION_HINT", members)
        if isinstance(precision, dict):
            precision = {dev: _precision_name(v) for dev, v in precision.items()}
        else:
            precision = _precision_name(precision)
        self.effective = {
            "precision": precision,
            "threads": self._effective("INFERENCE_NUM_THREADS", members),
            "streams": self._effective("NUM_STREAMS", members),
            "requests": self.requested["requests"] or (int(optimal) if optimal else 1),
            "optimal_requests": int(optimal) if optimal else None,
            "performance_hint": _hint_name(hint),
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
        full = []
        for dev in devices:
            try:
                full.append(str(self._core.get_property(dev, "FULL_DEVICE_NAME")))
            except RuntimeError:
                full.append(dev)
        self.device_full_name = " + ".join(full)

    def _describe_ports(self) -> None:
        self._in_ports = list(self._compiled.inputs)
        self._out_ports = list(self._compiled.outputs)
        self.inputs = [
            TensorInfo(
                _port_name(p, f"input{i}"), _ov_shape(p), np.dtype(p.get_element_type().to_dtype())
            )
            for i, p in enumerate(self._in_ports)
        ]
        self.outputs = [
            TensorInfo(
                _port_name(p, f"output{i}"), _ov_shape(p), np.dtype(p.get_element_type().to_dtype())
            )
            for i, p in enumerate(self._out_ports)
        ]

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
        """One sync inference; every output copied out of the request (``share_outputs=False``)."""
        bound = self._bind(feeds)
        with self._infer_lock:
            result = self._request.infer(bound, share_outputs=False)
            self._profiled = [self._request]
            return {
                info.name: np.asarray(result[port])
                for info, port in zip(self.outputs, self._out_ports, strict=True)
            }

    def sync_runner(self, feeds: Mapping[str, np.ndarray]) -> Callable[[], None]:
        """Bind ``feeds`` to the sync request; the callable runs it (outputs stay inside)."""
        bound = self._bind(feeds)
        request = self._request
        for i, tensor in bound.items():
            request.set_input_tensor(i, tensor)
        self._profiled = [request]

        def run_once() -> None:
            request.infer(share_inputs=True, share_outputs=True)

        return run_once

    def _get_queue(self, n: int) -> ov.AsyncInferQueue:
        if self._queue is None or len(self._queue) != n:
            self._queue = ov.AsyncInferQueue(self._compiled, n)
        return self._queue

    def run_async(
        self,
        feeds: Mapping[str, np.ndarray] | Sequence[Mapping[str, np.ndarray]],
        *,
        should_stop: StopCondition | None = None,
        max_iterations: int | None = None,
        on_done: DoneCallback | None = None,
        return_outputs: bool = False,
    ) -> AsyncRunResult:
        """Throughput run on an AsyncInferQueue of ``effective["requests"]`` requests."""
        if should_stop is None and max_iterations is None:
            raise RfbenchError("run_async needs should_stop or max_iterations")
        feed_list = [feeds] if isinstance(feeds, Mapping) else list(feeds)
        if not feed_list:
            raise RfbenchError("run_async: no feeds given")
        bound = [self._bind(f) for f in feed_list]
        n = int(self.effective["requests"])
        queue = self._get_queue(n)
        state = AsyncTracker()
        out_ports = list(zip(self.outputs, self._out_ports, strict=True))

        def callback(request: ov.InferRequest, userdata: tuple[int, int, int]) -> None:
            done_ns = time.perf_counter_ns()
            job_id, request_id, submit_ns = userdata
            try:
                outputs = None
                if return_outputs:
                    outputs = {
                        info.name: np.array(request.get_tensor(port).data, copy=True)
                        for info, port in out_ports
                    }
                state.record(job_id, done_ns - submit_ns, done_ns)
                if on_done is not None:
                    on_done(job_id, request_id, done_ns - submit_ns, outputs)
            except BaseException as exc:  # noqa: BLE001 - carried to the submitting thread
                state.fail(exc)

        queue.set_callback(callback)
        used: set[int] = set()
        reason = "condition"
        submitted = 0
        start_ns = time.perf_counter_ns()
        try:
            while True:
                if max_iterations is not None and submitted >= max_iterations:
                    reason = "max_iterations"
                    break
                rid = queue.get_idle_request_id()
                if state.error is not None:
                    break
                if should_stop is not None and should_stop(
                    state.completed, time.perf_counter_ns() - start_ns
                ):
                    break
                used.add(rid)
                # start_async takes the idle request get_idle_request_id just returned
                queue.start_async(
                    bound[submitted % len(bound)], userdata=(submitted, rid, time.perf_counter_ns())
                )
                submitted += 1
        except KeyboardInterrupt:
            reason = "interrupted"
            log.warning(
                "interrupted: waiting for %d in-flight requests", submitted - state.completed
            )
        finally:
            queue.wait_all()
            time.sleep(0)  # let the callback threads leave Python (see close())
        if state.error is not None:
            raise state.error
        self._profiled = [queue[i] for i in sorted(used)]
        return state.result(n, start_ns, reason)

    # -- per-layer --------------------------------------------------------------------------
    def layer_times(self) -> list[dict[str, Any]]:
        """Per-layer real times from ``get_profiling_info()``, mean over the requests last used."""
        if not self.perf_counters:
            raise RfbenchError("per-layer times need the adapter created with perf_counters=True")
        if not self._profiled:
            raise RfbenchError("per-layer times: no inference has run yet")
        rows: dict[str, dict[str, Any]] = {}
        for request in self._profiled:
            for info in request.get_profiling_info():
                row = rows.setdefault(
                    info.node_name,
                    {
                        "name": info.node_name,
                        "type": info.node_type,
                        "exec_type": info.exec_type,
                        "status": info.status.name,
                        "time_ms": 0.0,
                        "cpu_time_ms": 0.0,
                        "samples": 0,
                    },
                )
                row["time_ms"] += info.real_time.total_seconds() * 1e3
                row["cpu_time_ms"] += info.cpu_time.total_seconds() * 1e3
                row["samples"] += 1
        for row in rows.values():
            row["time_ms"] /= row["samples"]
            row["cpu_time_ms"] /= row["samples"]
        return list(rows.values())

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
        self._profiled = []
        self._request = None
        self._compiled = None
