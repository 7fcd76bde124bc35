"""The runtime adapter contract every backend (OpenVINO, ONNX Runtime, third parties) implements.

An adapter loads one model file, compiles it for one device, and runs it. It is the only place
where runtime APIs are called; everything above it deals in ``{name: numpy array}`` dicts.

Construction (keyword-only after ``model_path``)::

    adapter = Adapter(model_path, device="CPU", precision=None, threads=None, streams=None,
                      requests=None, input_shape=None, perf_counters=False,
                      performance_hint=None, input_precision=None)

* ``precision``: ``"f32" | "bf16" | "f16" | None`` (None = the runtime's default; the effective
  value is always read back and reported). Unsupported by the device -> ``RfbenchError``.
* ``threads``: inference threads (OpenVINO ``INFERENCE_NUM_THREADS``, ORT
  ``intra_op_num_threads``). ``streams``: parallel execution streams (OpenVINO ``NUM_STREAMS``).
  ``requests``: infer requests used by :meth:`RuntimeAdapter.run_async`.
* ``input_shape``: the static shape to use for an input with dynamic dimensions: a sequence of
  ints (model with one input) or ``{input_name: shape}``. Static models: must match or error.
  ``-1`` for a dimension the model leaves dynamic keeps it dynamic: each call may then feed its
  own size there (``rfbench eval --input-size native``; OpenVINO dynamic shapes, ORT dynamic axes).
* ``perf_counters``: enable per-layer timing (:meth:`RuntimeAdapter.layer_times`). It adds
  overhead; do not mix timings taken with and without it.
* ``performance_hint``: ``"latency" | "throughput" | None`` (None = runtime default).
* ``input_precision``: ``"u8" | "f32" | None``: the element type the float inputs are fed in
  (None = the model's own). ``"u8"`` folds the conversion into the model as benchmark_app
  does (OpenVINO: ``PrePostProcessor`` tensor element type; ONNX Runtime: a ``Cast`` node at
  the input of a copy of the model); ``self.inputs`` then list uint8, and
  ``effective["input_precision"]`` says what is fed.
* ``image_input`` (adapters with ``takes_u8_images``: OpenVINO): a callable deciding, from the
  model's outputs and metadata, the pixel format the runtime applies to (1, H, W, 3) uint8 BGR
  images (channel reversal, float32, mean, scale, layout: OpenVINO ``PrePostProcessor``, exact
  for whole means and unit scales); ``self.image_pixels`` then holds it, and
  ``effective["input_feed"]`` says ``"u8 NHWC image"``.

Three ways to run, for three callers (each method's docstring is its contract):
:meth:`RuntimeAdapter.infer` (``rfbench eval``: outputs copied, ``infer_lanes`` calls at once),
:meth:`RuntimeAdapter.sync_runner` (latency mode, benchmark_app's sync mode: no input or output
copy) and :meth:`RuntimeAdapter.run_async` (throughput mode: ``requests`` inferences in flight;
the loop is shared, :mod:`rfbench.runtimes.asyncrun`, adapters supply request primitives).

``describe()["effective"]`` always has precision, threads, streams, requests and
performance_hint (None where the runtime has no such setting); adapters may add keys (OpenVINO:
``optimal_requests``, ``execution_devices``; ONNX Runtime: ``threads_source``, ``providers``).
``timings_ms["read"]`` is None when the runtime reads and compiles in one step (ONNX Runtime).

Timings are integers in nanoseconds (``time.perf_counter_ns``) internally and in
:class:`AsyncRunResult`; ``describe()`` reports milliseconds as floats.
"""

from __future__ import annotations

import abc
import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rfbench.errors import RfbenchError
from rfbench.runtimes.asyncrun import AsyncJobs, AsyncRunResult, DoneCallback, StopCondition
from rfbench.runtimes.files import check_model_file
from rfbench.runtimes.layers import LayerSamples, aggregate_layers
from rfbench.runtimes.shapes import fits, shape_str

__all__ = [
    "INPUT_PRECISIONS", "PERFORMANCE_HINTS", "PRECISIONS", "AsyncJobs", "AsyncRunResult", "DoneCallback",
    "RuntimeAdapter", "RuntimeInfo", "StopCondition", "TensorInfo",
]  # fmt: skip

log = logging.getLogger(__name__)

PRECISIONS = ("f32", "bf16", "f16")
PERFORMANCE_HINTS = ("latency", "throughput")
INPUT_PRECISIONS = ("u8", "f32")
#: numpy dtype -> rfbench name of an input element type.
INPUT_DTYPE_NAMES = {np.dtype(np.uint8): "u8", np.dtype(np.float32): "f32",
                     np.dtype(np.float16): "f16"}  # fmt: skip

#: ``image_input(outputs {name: shape}, metadata)``, asked before compiling: a pixel format (see
#: :mod:`rfbench.decoder.preprocess`) to apply to uint8 images, or None for float32 tensors.
ImageInput = Callable[[dict[str, tuple[int | None, ...]], dict[str, str]], Any]


@dataclass(frozen=True)
class TensorInfo:
    """A model input or output.

    ``shape``: one entry per dimension, ``None`` for a dimension still dynamic (only possible for
    outputs the runtime cannot infer before running). ``dtype``: the numpy dtype the runtime
    expects (inputs) or returns (outputs).
    """

    name: str
    shape: tuple[int | None, ...]
    dtype: np.dtype


@dataclass(frozen=True)
class RuntimeInfo:
    """One row of :func:`rfbench.runtimes.list_runtimes`.

    ``available`` is False when the runtime's package cannot be imported; ``error`` then says why.
    ``devices``: device names (OpenVINO) or execution providers (ONNX Runtime).
    ``device_names``: ``{device: full name}`` where the runtime reports one.
    """

    name: str
    target: str
    available: bool
    version: str | None = None
    devices: tuple[str, ...] = ()
    device_names: Mapping[str, str] = field(default_factory=dict)
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {**asdict(self), "devices": list(self.devices),
                "device_names": dict(self.device_names)}


class RuntimeAdapter(abc.ABC):
    """Base class of the runtime adapters: one loaded and compiled model on one device.

    Subclasses set, in ``__init__``: ``inputs``, ``outputs`` (lists of :class:`TensorInfo`),
    ``requested`` and ``effective`` (dicts with keys precision, threads, streams, requests,
    performance_hint), ``device_full_name``, ``read_ms`` and ``compile_ms``; and implement the
    abstract methods. Class attributes ``name`` (registry key) and ``version()``.
    """

    #: Registry name, e.g. ``"openvino"``.
    name: str = ""

    #: Whether ``image_input`` is supported: (1, H, W, 3) uint8 images fed, converted inside.
    takes_u8_images: bool = False

    def __init__(
        self,
        model_path: str | Path,
        *,
        device: str = "CPU",
        precision: str | None = None,
        threads: int | None = None,
        streams: int | None = None,
        requests: int | None = None,
        input_shape: Sequence[int] | Mapping[str, Sequence[int]] | None = None,
        perf_counters: bool = False,
        performance_hint: str | None = None,
        input_precision: str | None = None,
        image_input: ImageInput | None = None,
    ) -> None:
        self.model_path = Path(model_path)
        self.device = device
        self.perf_counters = bool(perf_counters)
        self.input_shape = input_shape
        self.requested: dict[str, Any] = {
            "precision": _check_choice(precision, PRECISIONS, "precision"),
            "threads": _check_positive(threads, "threads"),
            "streams": _check_positive(streams, "streams"),
            "requests": _check_positive(requests, "requests"),
            "performance_hint": _check_choice(
                performance_hint.lower() if isinstance(performance_hint, str) else None,
                PERFORMANCE_HINTS,
                "performance hint",
            ),
            "input_precision": _check_choice(input_precision, INPUT_PRECISIONS, "input precision"),
        }
        self.effective: dict[str, Any] = {}
        self.inputs: list[TensorInfo] = []
        self.outputs: list[TensorInfo] = []
        #: The model file's own key -> value metadata (ONNX ``metadata_props``; for an IR the
        #: same keys as OpenVINO keeps them, e.g. those ``rfbench import`` writes).
        self.metadata: dict[str, str] = {}
        self.device_full_name: str = device
        self.read_ms: float | None = None
        self.compile_ms: float | None = None
        self._infer_lock = threading.Lock()
        self.infer_lanes: int = 1  # how many threads may run ``infer`` at once (OpenVINO: streams)
        self.image_pixels: Any = None  # what the runtime applies to uint8 images (image_input)
        if image_input is not None and not self.takes_u8_images:
            raise RfbenchError(f"{self.name} takes float32 input tensors, not uint8 images")
        self._image_input = image_input
        check_model_file(self.model_path)

    # -- identity -------------------------------------------------------------------------
    @classmethod
    @abc.abstractmethod
    def version(cls) -> str:
        """The runtime package's version string."""

    @classmethod
    @abc.abstractmethod
    def available_devices(cls) -> tuple[str, ...]:
        """Devices (OpenVINO) or execution providers (ORT) usable on this machine."""

    @classmethod
    def device_names(cls) -> dict[str, str]:
        """``{device: full device name}`` for the available devices, where known."""
        return {}

    # -- running --------------------------------------------------------------------------
    @abc.abstractmethod
    def infer(self, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Run one synchronous inference.

        ``feeds``: ``{input name: array}`` with every input, shapes as in ``self.inputs``
        (float32 NCHW for RetinaFace). Returns ``{output name: array}``, arrays owned by the
        caller (copied out of the runtime's buffers). Wrong/missing names or shapes ->
        RfbenchError. Thread-safe: ``infer_lanes`` calls run at once, later ones wait.
        """

    @abc.abstractmethod
    def sync_runner(
        self, feeds: Mapping[str, np.ndarray] | Sequence[Mapping[str, np.ndarray]]
    ) -> Callable[[], None]:
        """Bind ``feeds`` once; return a callable running one sync inference, output discarded.

        ``feeds``: one feed dict, or a sequence cycled over (call ``i`` runs
        ``feeds[i % len(feeds)]``; every one is bound before the first call, switching is a
        pointer swap on the request).

        For latency measurement: the callable does no input conversion and no output copy, so
        timing it measures the runtime. Do not call :meth:`infer` from another thread while the
        runner is in use (they may share the runtime's request).
        """

    def run_async(
        self,
        feeds: Mapping[str, np.ndarray] | Sequence[Mapping[str, np.ndarray]],
        *,
        should_stop: StopCondition | None = None,
        max_iterations: int | None = None,
        on_done: DoneCallback | None = None,
        return_outputs: bool = False,
    ) -> AsyncRunResult:
        """Keep ``effective["requests"]`` inferences in flight until told to stop.

        ``feeds``: one feed dict, or a sequence cycled over (job ``i`` uses
        ``feeds[i % len(feeds)]``); inputs are bound before the clock starts. Submission stops
        when ``should_stop(completed, elapsed_ns)`` returns True or ``max_iterations`` jobs were
        submitted (at least one of them is required); then in-flight requests are drained.
        ``on_done`` is called once per completed job (see :data:`DoneCallback`). A
        KeyboardInterrupt drains the requests and returns with ``stop_reason="interrupted"``.

        The loop lives here; an adapter supplies :meth:`_bind` and the request primitives
        :meth:`_async_open`, :meth:`_async_run` and :meth:`_async_drain`.
        """
        if should_stop is None and max_iterations is None:
            raise RfbenchError("run_async needs should_stop or max_iterations")
        bound = self._bind_all(feeds, "run_async")
        requests = int(self.effective["requests"])
        jobs = AsyncJobs(should_stop, max_iterations, on_done, return_outputs)
        state = self._async_open(jobs, bound, requests)
        jobs.start()
        try:
            self._async_run(jobs, state)
        except KeyboardInterrupt:
            jobs.interrupt()
            log.warning("interrupted: waiting for %d in-flight inferences", jobs.in_flight)
        finally:
            self._async_drain(state)
        if jobs.error is not None:
            raise self._async_error(jobs.error)
        return jobs.result(requests)

    @abc.abstractmethod
    def _bind(self, feeds: Mapping[str, np.ndarray]) -> Any:
        """One feed dict checked (:meth:`_check_feeds`) and bound the runtime's way."""

    def _bind_all(
        self, feeds: Mapping[str, np.ndarray] | Sequence[Mapping[str, np.ndarray]], caller: str
    ) -> list[Any]:
        """One feed dict or a sequence of them, each bound (:meth:`_bind`); ``caller`` names
        the method in the RfbenchError for an empty sequence."""
        feed_list = [feeds] if isinstance(feeds, Mapping) else list(feeds)
        if not feed_list:
            raise RfbenchError(f"{caller}: no feeds given")
        return [self._bind(f) for f in feed_list]

    # -- request primitives of run_async (one run at a time per adapter) -----------------

    @abc.abstractmethod
    def _async_open(self, jobs: AsyncJobs, bound: Sequence[Any], requests: int) -> Any:
        """Set up ``requests`` parallel requests for ``bound`` feeds; returns the run's state.

        Completions must be reported with ``jobs.done`` and runtime-thread failures with
        ``jobs.fail``. Nothing may be submitted yet.
        """

    @abc.abstractmethod
    def _async_run(self, jobs: AsyncJobs, state: Any) -> None:
        """Submit job after job (``jobs.next_job()``, None = stop) while requests are idle."""

    @abc.abstractmethod
    def _async_drain(self, state: Any) -> None:
        """Wait until every submitted job has completed (also after an interrupt)."""

    def _async_error(self, exc: BaseException) -> BaseException:
        """The exception to raise for a failure on a runtime thread (default: itself)."""
        return exc

    def layer_times(self, skip: int = 0) -> list[dict[str, Any]]:
        """Per-layer rows (:mod:`rfbench.runtimes.layers`): median over the profiled inferences.

        Needs ``perf_counters=True`` (else RfbenchError). Every inference the adapter ran since
        it was created is profiled; the first ``skip`` are left out (warm-up).
        """
        if not self.perf_counters:
            raise RfbenchError("per-layer times need the adapter created with perf_counters=True")
        rows = aggregate_layers(self.layer_samples(), skip)
        if not rows:
            raise RfbenchError("per-layer times: no inference has run yet")
        return rows

    def layer_samples(self) -> LayerSamples:
        """Every profiled inference's per-layer times (an adapter with counters overrides it)."""
        raise RfbenchError(f"runtime {self.name} does not report per-layer times")

    def input_precision_effective(self) -> str | None:
        """What the float-typed inputs of the model are fed as: ``"u8"``, ``"f32"``, ..."""
        names = {INPUT_DTYPE_NAMES.get(np.dtype(t.dtype), str(t.dtype)) for t in self.inputs}
        return next(iter(names)) if len(names) == 1 else ",".join(sorted(names)) or None

    # -- reporting ------------------------------------------------------------------------
    def describe(self) -> dict[str, Any]:
        """JSON-ready description of what was requested and what the runtime actually does."""
        return {
            "runtime": self.name,
            "runtime_version": self.version(),
            "model": str(self.model_path),
            "device": self.device,
            "device_full_name": self.device_full_name,
            "requested": dict(self.requested),
            "effective": dict(self.effective),
            "perf_counters": self.perf_counters,
            "inputs": [_tensor_dict(t) for t in self.inputs],
            "outputs": [_tensor_dict(t) for t in self.outputs],
            "timings_ms": {"read": self.read_ms, "compile": self.compile_ms},
        }

    def close(self) -> None:  # noqa: B027 - optional hook, not abstract
        """Release runtime resources (optional; garbage collection also does it)."""

    def __enter__(self) -> RuntimeAdapter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- helpers for subclasses -----------------------------------------------------------
    def _check_feeds(self, feeds: Mapping[str, np.ndarray]) -> None:
        """Raise RfbenchError unless ``feeds`` has exactly the model's inputs with their shapes."""
        expected = {t.name: t for t in self.inputs}
        if set(feeds) != set(expected):
            raise RfbenchError(
                f"{self.model_path.name}: inputs given {sorted(feeds)} but the model expects "
                f"{sorted(expected)}"
            )
        for name, array in feeds.items():
            want = expected[name].shape
            got = tuple(np.shape(array))
            if not fits(want, got):
                raise RfbenchError(
                    f"{self.model_path.name}: input '{name}' has shape {list(got)}, "
                    f"the model expects {shape_str(want)}"
                )


def _check_choice(value: str | None, choices: Sequence[str], what: str) -> str | None:
    if value is None:
        return None
    if value not in choices:
        raise RfbenchError(f"{what} '{value}' is not one of {', '.join(choices)}")
    return value


def _check_positive(value: int | None, what: str) -> int | None:
    if value is None:
        return None
    if int(value) != value or value < 1:
        raise RfbenchError(f"{what} must be a positive integer, got {value!r}")
    return int(value)


def _tensor_dict(t: TensorInfo) -> dict[str, Any]:
    return {"name": t.name, "shape": list(t.shape), "dtype": str(np.dtype(t.dtype))}
