"""ONNX Runtime adapter: ``.onnx`` models on execution providers.

* Device: ``"CPU"`` means ``CPUExecutionProvider``; otherwise one provider name or a
  comma-separated priority list (``"CUDAExecutionProvider,CPUExecutionProvider"``; the
  ``ExecutionProvider`` suffix may be left off). Names are checked against
  ``onnxruntime.get_available_providers()`` first, because ORT itself silently falls back to CPU.
* Precision: ORT runs the model's own element type; only ``f32`` (or None) is accepted, and the
  effective precision is the model's float input type.
* Threads: ``intra_op_num_threads``; the effective value is the request, else ORT's default of
  one thread per physical core (which ORT does not report back; computed the same way).
* Streams: ORT has none (only None or 1 accepted; reported as None). Requests: ``run_async``
  runs ``requests`` worker threads calling ``Run`` concurrently on the one session (ORT sessions
  are thread-safe for concurrent ``Run``); default 1.
* Performance hint: recorded as requested; ORT has no equivalent (effective None).
* Dynamic inputs: ``input_shape`` fixes the shape that must be fed; output shapes are then
  worked out with ORT's symbolic shape inference where possible (else their dynamic dims are None).
* ``read_ms`` is None: session creation reads and optimises in one step (``compile_ms``).
* ``input_precision="u8"``: the session gets a copy of the model whose float inputs are uint8,
  with a ``Cast`` to the original type inside (:mod:`.input_cast`): the conversion benchmark_app
  folds into OpenVINO models, done the same way here so both runtimes do the same work.
* ``layer_times``: ``enable_profiling`` JSON, one sample per node per run since the session was
  created (skip the warm-up with ``skip``), named through the saved optimised graph
  (:mod:`.profiling`). Reading the samples ends profiling for this session.
"""

from __future__ import annotations

import itertools
import logging
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
from onnxruntime.capi import onnxruntime_pybind11_state as ort_state

from rfbench.errors import RfbenchError
from rfbench.results.environment import cpu_model_name
from rfbench.runtimes.base import (
    AsyncJobs,
    RuntimeAdapter,
    TensorInfo,
)
from rfbench.runtimes.layers import LayerSamples
from rfbench.runtimes.onnxruntime.input_cast import model_with_input_type
from rfbench.runtimes.onnxruntime.profiling import read_ort_profile
from rfbench.runtimes.onnxruntime.providers import (
    CPU_PROVIDER,
    physical_core_count,
    resolve_providers,
)
from rfbench.runtimes.onnxruntime.tensors import (
    PRECISION_OF,
    declared_shape,
    infer_output_shapes,
    tensor_dtype,
)
from rfbench.runtimes.shapes import fixed_input_shapes

log = logging.getLogger(__name__)

#: ORT's exception types for a model it cannot load or a setting it rejects.
ORT_ERRORS: tuple[type[BaseException], ...] = tuple(
    getattr(ort_state, name)
    for name in (
        "Fail InvalidArgument InvalidGraph InvalidProtobuf NoSuchFile NoModel NotImplemented "
        "RuntimeException EPFail EngineError ModelRequiresCompilation"
    ).split()
    if hasattr(ort_state, name)
)


class ONNXRuntimeAdapter(RuntimeAdapter):
    """One ONNX model in an ONNX Runtime InferenceSession (see the module docstring)."""

    name = "onnxruntime"

    def __init__(self, model_path: str | Path, **kwargs: Any) -> None:
        if Path(model_path).suffix.lower() == ".xml":
            raise RfbenchError(
                f"onnxruntime reads .onnx models, not OpenVINO IR: {model_path} "
                "(use the openvino runtime)"
            )
        super().__init__(model_path, **kwargs)
        self._check_settings()
        self._providers = resolve_providers(self.device, ort.get_available_providers())
        self._profile_dir: tempfile.TemporaryDirectory[str] | None = None
        self._layer_cache: LayerSamples | None = None
        self._session = self._create_session()
        self.metadata = dict(self._session.get_modelmeta().custom_metadata_map)
        self._describe_ports()
        self._fill_effective()
        self.effective["input_precision"] = self.input_precision_effective()

    # -- identity -------------------------------------------------------------------------
    @classmethod
    def version(cls) -> str:
        """onnxruntime's version string."""
        return ort.__version__

    @classmethod
    def available_devices(cls) -> tuple[str, ...]:
        """The execution providers usable here, e.g. ``("CPUExecutionProvider",)``."""
        return tuple(ort.get_available_providers())

    @classmethod
    def device_names(cls) -> dict[str, str]:
        """The CPU provider's CPU model name."""
        return {CPU_PROVIDER: cpu_model_name()} if CPU_PROVIDER in cls.available_devices() else {}

    # -- loading --------------------------------------------------------------------------
    def _check_settings(self) -> None:
        req = self.requested
        if req["precision"] not in (None, "f32"):
            raise RfbenchError(
                f"onnxruntime runs the model's own precision; {req['precision']} is not "
                f"supported on {self.device} (use f32, or a model converted to that precision)"
            )
        if req["streams"] not in (None, 1):
            raise RfbenchError(
                "onnxruntime has no execution streams; use requests for concurrent inferences"
            )
        if req["performance_hint"]:
            log.info(
                "onnxruntime has no performance hint; '%s' recorded only", req["performance_hint"]
            )

    def _create_session(self) -> ort.InferenceSession:
        """Create the session (reads and optimises the model), timed into ``compile_ms``."""
        options = ort.SessionOptions()
        options.log_severity_level = 3  # errors only; rfbench reports its own
        if self.requested["threads"]:
            options.intra_op_num_threads = self.requested["threads"]
        if self.perf_counters:
            self._profile_dir = tempfile.TemporaryDirectory(prefix="rfbench-ort-profile-")
            options.enable_profiling = True
            options.profile_file_prefix = str(Path(self._profile_dir.name) / "ort")
            options.optimized_model_filepath = str(self._optimised_path())
        wanted = self.requested["input_precision"]
        model: str | bytes = str(self.model_path)
        if wanted is not None:
            model = model_with_input_type(self.model_path, wanted) or model
        t0 = time.perf_counter_ns()
        try:
            session = ort.InferenceSession(model, sess_options=options, providers=self._providers)
        except ORT_ERRORS as exc:
            message = " ".join(str(exc).split())
            raise RfbenchError(
                f"onnxruntime cannot load model {self.model_path}: {message}"
            ) from None
        self.compile_ms = (time.perf_counter_ns() - t0) / 1e6
        return session

    def _describe_ports(self) -> None:
        """Fill ``inputs`` (fixed by ``input_shape``) and ``outputs``."""
        model = self.model_path.name
        raw_inputs = self._session.get_inputs()
        shapes = fixed_input_shapes({i.name: declared_shape(i.shape) for i in raw_inputs},
                                    self.input_shape, model, {i.name: i.shape for i in raw_inputs})
        self.inputs = [
            TensorInfo(i.name, shapes[i.name], tensor_dtype(i.type, model)) for i in raw_inputs
        ]
        raw_outputs = self._session.get_outputs()
        shapes = {o.name: declared_shape(o.shape) for o in raw_outputs}
        if any(None in s for s in shapes.values()) and not any(None in t.shape for t in self.inputs):
            shapes.update(infer_output_shapes(self.model_path, self.inputs))
        self.outputs = [
            TensorInfo(o.name, shapes[o.name], tensor_dtype(o.type, model)) for o in raw_outputs
        ]
        self._output_names = [o.name for o in raw_outputs]

    def _fill_effective(self) -> None:
        float_inputs = [t.dtype for t in self.inputs if t.dtype.kind == "f"]
        used = self._session.get_providers()
        threads = self.requested["threads"]
        self.effective = {
            "precision": PRECISION_OF.get(float_inputs[0]) if float_inputs else None,
            "threads": threads or physical_core_count(),
            "threads_source": "requested" if threads else "default (physical cores)",
            "streams": None,
            "requests": self.requested["requests"] or 1,
            "performance_hint": None,
            "providers": list(used),
        }
        if used and used[0] == CPU_PROVIDER:
            self.device_full_name = cpu_model_name()
        else:
            self.device_full_name = ", ".join(used)

    # -- running --------------------------------------------------------------------------
    def _bind(self, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        self._check_feeds(feeds)
        return {t.name: np.ascontiguousarray(feeds[t.name], dtype=t.dtype) for t in self.inputs}

    def _run(self, prepared: Mapping[str, np.ndarray]) -> list[np.ndarray]:
        try:
            return self._session.run(self._output_names, prepared)
        except ORT_ERRORS as exc:
            raise self._async_error(exc) from None

    def infer(self, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """One sync inference; ORT returns freshly allocated arrays, owned by the caller."""
        prepared = self._bind(feeds)
        with self._infer_lock:
            results = self._run(prepared)
        return dict(zip(self._output_names, results, strict=True))

    def sync_runner(
        self, feeds: Mapping[str, np.ndarray] | Sequence[Mapping[str, np.ndarray]]
    ) -> Callable[[], None]:
        """An IOBinding per feed dict, inputs bound once; the callable runs the next binding
        (outputs stay in ORT)."""
        prepared = self._bind_all(feeds, "sync_runner")
        bindings = []
        for arrays in prepared:
            binding = self._session.io_binding()
            for name, array in arrays.items():
                binding.bind_cpu_input(name, array)
            for name in self._output_names:
                binding.bind_output(name)
            bindings.append(binding)
        session = self._session
        # each binding with its input arrays, which must live as long as the runner
        next_binding = itertools.cycle(zip(bindings, prepared, strict=True)).__next__

        def run_next() -> None:
            session.run_with_iobinding(next_binding()[0])

        return run_next

    # -- run_async's request primitives: one worker thread per request, one shared session --
    def _async_open(
        self, jobs: AsyncJobs, bound: Sequence[dict[str, np.ndarray]], requests: int
    ) -> list[threading.Thread]:
        """``requests`` worker threads (not started), each calling ``Run`` job after job."""
        session, names = self._session, self._output_names

        def worker(request_id: int) -> None:
            try:
                while (job := jobs.next_job()) is not None:
                    t0 = time.perf_counter_ns()
                    results = session.run(names, bound[job % len(bound)])
                    done = time.perf_counter_ns()

                    def outputs(results: list[np.ndarray] = results) -> dict[str, np.ndarray]:
                        return dict(zip(names, results, strict=True))

                    jobs.done(job, request_id, done - t0, done, outputs)
            except BaseException as exc:  # noqa: BLE001 - carried to the calling thread
                jobs.fail(exc)

        return [
            threading.Thread(target=worker, args=(i,), name=f"rfbench-ort-{i}")
            for i in range(requests)
        ]

    def _async_run(self, jobs: AsyncJobs, state: Any) -> None:
        for thread in state:
            thread.start()
        for thread in state:
            thread.join()

    def _async_drain(self, state: Any) -> None:
        for thread in state:
            if thread.ident is not None:  # started
                thread.join()

    def _async_error(self, exc: BaseException) -> BaseException:
        """ORT's own exception types become one-line RfbenchErrors naming the model (also for
        :meth:`infer`)."""
        if isinstance(exc, ORT_ERRORS):
            message = " ".join(str(exc).split())
            return RfbenchError(f"onnxruntime failed running {self.model_path.name}: {message}")
        return exc

    # -- per-layer --------------------------------------------------------------------------
    def _optimised_path(self) -> Path:
        assert self._profile_dir is not None
        return Path(self._profile_dir.name) / "optimised.onnx"

    def layer_samples(self) -> LayerSamples:
        """Every run's node kernel times from ORT's profile (the first call ends profiling)."""
        if not self.perf_counters:
            raise RfbenchError("per-layer times need the adapter created with perf_counters=True")
        if self._layer_cache is None:
            profile = Path(self._session.end_profiling())
            self._layer_cache = read_ort_profile(profile, self._optimised_path(), self.model_path)
        return self._layer_cache

    def close(self) -> None:
        """Drop the session and its profile folder."""
        self._session = None
        if self._profile_dir is not None:
            self._profile_dir.cleanup()
            self._profile_dir = None
