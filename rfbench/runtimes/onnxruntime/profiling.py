"""ONNX Runtime's profiler JSON as per-inference per-layer samples, and the u8 input Cast.

The profile (``SessionOptions.enable_profiling``) has one ``Node`` event per executed kernel
per run, named ``<node>_kernel_time`` with ``dur`` in microseconds and ``args`` holding
``op_name`` and ``provider``, and one ``Session`` event ``model_run`` per run. The node names
are those of ORT's *optimised* graph: a fused kernel is named after the tensor it writes
(``/body/stage1/.../LeakyRelu_output_0_nchwc``) and its ``op_name`` is the base op (``Conv``).
So the optimised graph is saved too (``optimized_model_filepath``) and read for the kernel's
domain and fused activation, and the original model for the node that produced that tensor:
rows then name the model's layer and the implementation that ran
(``CPUExecutionProvider:com.microsoft.nchwc.Conv``, type ``Conv+LeakyRelu``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rfbench.errors import RfbenchError
from rfbench.runtimes.layers import LayerSamples

log = logging.getLogger(__name__)

_KERNEL_SUFFIX = "_kernel_time"
#: Suffixes ORT's graph transformers append to the name of a node they rewrite.
_REWRITE_SUFFIXES = ("_nchwc", "_token")


@dataclass(frozen=True)
class GraphNames:
    """What the optimised and original graphs say about ORT's node names.

    ``kernels``: ``{optimised node: (domain, op_type, fused activation or "")}``.
    ``producers``: ``{tensor name: original node writing it}``; ``originals``: original node
    names (an optimised node that kept its name is its own layer).
    """

    kernels: Mapping[str, tuple[str, str, str]]
    producers: Mapping[str, str]
    originals: frozenset[str]

    @classmethod
    def empty(cls) -> GraphNames:
        return cls({}, {}, frozenset())

    @classmethod
    def read(cls, optimised: Path | None, original: Path) -> GraphNames:
        """From the two model files (the optimised one may be missing: then kernels is empty)."""
        import onnx

        kernels: dict[str, tuple[str, str, str]] = {}
        if optimised is not None and optimised.is_file():
            for node in onnx.load(str(optimised), load_external_data=False).graph.node:
                activation = next(
                    (a.s.decode() for a in node.attribute if a.name == "activation"), ""
                )
                kernels[node.name] = (node.domain or "ai.onnx", node.op_type, activation)
        graph = onnx.load(str(original), load_external_data=False).graph
        producers = {out: node.name for node in graph.node for out in node.output if node.name}
        return cls(kernels, producers, frozenset(n.name for n in graph.node))

    def layer(self, node: str) -> str:
        """The original model's node behind ORT node ``node`` (``node`` itself if unknown)."""
        if node in self.originals:
            return node
        base = node
        for suffix in _REWRITE_SUFFIXES:
            base = base.removesuffix(suffix)
        return self.producers.get(base, base if base in self.originals else node)


def parse_ort_profile(
    events: Sequence[Mapping[str, Any]], names: GraphNames | None = None
) -> LayerSamples:
    """ORT profile events -> :class:`LayerSamples` (node times and ``model_run`` totals, ms).

    Events are taken in time order; a node's k-th event is its time in the k-th run.
    """
    names = names or GraphNames.empty()
    samples = LayerSamples()
    index_of: dict[str, str] = {}  # node name -> its node_index (names need not be unique)
    for event in sorted(events, key=lambda e: float(e.get("ts", 0))):
        name = str(event.get("name", ""))
        if event.get("cat") == "Session" and name == "model_run":
            samples.totals_ms.append(float(event.get("dur", 0)) / 1e3)
            continue
        if event.get("cat") != "Node" or not name.endswith(_KERNEL_SUFFIX):
            continue
        node = name[: -len(_KERNEL_SUFFIX)]
        args = event.get("args", {})
        index = str(args.get("node_index", ""))
        key = node if index_of.setdefault(node, index) == index else f"{node}#{index}"
        op_name = str(args.get("op_name", ""))
        domain, op_type, activation = names.kernels.get(node, ("", op_name, ""))
        provider = str(args.get("provider", ""))
        kernel = f"{domain}.{op_type}" if domain else op_type
        samples.add(key, {
            "name": names.layer(node),
            "node": key,  # made unique by "#<node_index>" where ORT repeats a name
            "type": f"{op_name or op_type}+{activation}" if activation else (op_name or op_type),
            "exec_type": f"{provider}:{kernel}" if provider else kernel,
            "status": "EXECUTED",
        }, float(event.get("dur", 0)) / 1e3)  # fmt: skip
    return samples


def read_ort_profile(profile: Path, optimised: Path, original: Path) -> LayerSamples:
    """The profile JSON ORT wrote (deleted after reading), named through the two graphs.

    Unreadable graphs only cost the names (ORT's node names are kept, logged at INFO).
    """
    from google.protobuf.message import DecodeError

    try:
        events = json.loads(profile.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise RfbenchError(f"cannot read onnxruntime profile {profile}: {exc}") from None
    finally:
        profile.unlink(missing_ok=True)
    try:
        names = GraphNames.read(optimised, original)
    except (OSError, ValueError, DecodeError) as exc:
        log.info("per-layer names: graphs not readable (%s); ORT node names kept", exc)
        names = GraphNames.empty()
    return parse_ort_profile(events, names)
