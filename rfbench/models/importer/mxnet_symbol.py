"""MXNet's ``symbol.json`` (the graph of a checkpoint) read without mxnet.

A symbol file holds ``nodes`` (each ``op``, ``name``, ``inputs`` as ``[node, output, version]``
triples and its attributes), ``arg_nodes`` and ``heads`` (the outputs). Attributes are spelled
``attrs`` since MXNet 1.0 and ``param`` (operator parameters) plus ``attr`` (user attributes) in
older files; :func:`read_symbol` merges the spellings, so the translation sees one dict. Values
are strings as MXNet prints them: ``"(3, 3)"``, ``"True"``, ``"1e-05"``.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rfbench.errors import RfbenchError


@dataclass(frozen=True)
class SymbolNode:
    """One node: ``op`` ("null" for a variable), ``name``, ``inputs`` as (node index, output
    index) pairs, ``attrs`` (strings, double-underscore user attributes dropped)."""

    index: int
    op: str
    name: str
    inputs: tuple[tuple[int, int], ...]
    attrs: dict[str, str] = field(default_factory=dict)

    def where(self) -> str:
        """``node 'NAME' (#i, op OP)`` for error messages."""
        return f"node '{self.name}' (#{self.index}, op {self.op})"


@dataclass(frozen=True)
class Symbol:
    """A parsed symbol: ``nodes`` in file order (topological, as MXNet writes them), the
    ``heads`` as (node index, output index), and the MXNet version that saved it (or None)."""

    path: Path
    nodes: tuple[SymbolNode, ...]
    heads: tuple[tuple[int, int], ...]
    mxnet_version: int | None

    def op_counts(self) -> dict[str, int]:
        """How many nodes use each operator (variables excluded), most used first."""
        counts = Counter(node.op for node in self.nodes if node.op != "null")
        return dict(counts.most_common())


def read_symbol(path: str | Path) -> Symbol:
    """Parse ``NAME-symbol.json``; RfbenchError naming the file for anything malformed."""
    path = Path(path)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise RfbenchError(f"{path}: cannot read: {exc.strerror}") from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RfbenchError(f"{path}: not an MXNet symbol file (not JSON: {exc})") from exc
    if not isinstance(raw, dict) or not isinstance(raw.get("nodes"), list) or "heads" not in raw:
        raise RfbenchError(f"{path}: not an MXNet symbol file (no 'nodes' and 'heads')")
    nodes = tuple(_node(path, index, item) for index, item in enumerate(raw["nodes"]))
    heads = tuple(_ref(path, f"head {i}", entry, len(nodes)) for i, entry in enumerate(raw["heads"]))
    for node in nodes:
        for source, _ in node.inputs:
            if source >= node.index:
                raise RfbenchError(f"{path}: {node.where()} reads node #{source}, which comes "
                                   "later (the file is not in topological order)")
    version = raw.get("attrs", {}).get("mxnet_version")
    return Symbol(path, nodes, heads, int(version[1]) if isinstance(version, list) else None)


def _node(path: Path, index: int, item: Any) -> SymbolNode:
    """One entry of ``nodes``, its attribute spellings merged (``param`` < ``attr`` < ``attrs``)."""
    if not isinstance(item, dict) or not isinstance(item.get("op"), str) or "name" not in item:
        raise RfbenchError(f"{path}: node #{index} is not an MXNet node (no 'op' and 'name')")
    attrs: dict[str, str] = {}
    for spelling in ("param", "attr", "attrs"):
        values = item.get(spelling) or {}
        if not isinstance(values, dict):
            raise RfbenchError(f"{path}: node #{index} '{item['name']}': '{spelling}' is not an object")
        attrs.update({str(k): str(v) for k, v in values.items() if not str(k).startswith("__")})
    inputs = tuple(_ref(path, f"node #{index} '{item['name']}' input", entry, index)
                   for entry in item.get("inputs", []))
    return SymbolNode(index, item["op"], str(item["name"]), inputs, attrs)


def _ref(path: Path, what: str, entry: Any, limit: int) -> tuple[int, int]:
    """``[node, output(, version)]`` -> (node, output), the node index below ``limit``."""
    if (not isinstance(entry, list) or len(entry) < 2
            or not all(isinstance(v, int) for v in entry[:2])):
        raise RfbenchError(f"{path}: {what} {entry!r} is not a [node, output] pair")
    if not 0 <= entry[0] < limit:
        raise RfbenchError(f"{path}: {what} refers to node #{entry[0]}, which does not exist")
    return int(entry[0]), int(entry[1])


# -- attribute values -------------------------------------------------------------------------


def attr_tuple(node: SymbolNode, key: str, default: tuple[int, ...] | None = None) -> tuple[int, ...]:
    """``"(3, 3)"`` / ``"[1,1]"`` / ``"3"`` -> a tuple of ints; ``default`` when absent."""
    text = node.attrs.get(key)
    if text is None:
        if default is None:
            raise RfbenchError(f"{node.where()}: attribute '{key}' is missing")
        return default
    body = text.strip().strip("()[]").replace(" ", "")
    try:
        return tuple(int(part) for part in body.split(",") if part not in ("", "None"))
    except ValueError:
        raise RfbenchError(f"{node.where()}: attribute {key}={text!r} is not a tuple of "
                           "integers") from None


def attr_int(node: SymbolNode, key: str, default: int) -> int:
    """An integer attribute (``default`` when absent)."""
    text = node.attrs.get(key)
    try:
        return default if text is None else int(text)
    except ValueError:
        raise RfbenchError(f"{node.where()}: attribute {key}={text!r} is not an integer") from None


def attr_float(node: SymbolNode, key: str, default: float) -> float:
    """A float attribute (``default`` when absent)."""
    text = node.attrs.get(key)
    try:
        return default if text is None else float(text)
    except ValueError:
        raise RfbenchError(f"{node.where()}: attribute {key}={text!r} is not a number") from None


def attr_bool(node: SymbolNode, key: str, default: bool) -> bool:
    """``"True"`` / ``"False"`` / ``"1"`` / ``"0"`` (``default`` when absent)."""
    text = node.attrs.get(key)
    if text is None:
        return default
    lowered = text.strip().lower()
    if lowered in ("true", "1"):
        return True
    if lowered in ("false", "0"):
        return False
    raise RfbenchError(f"{node.where()}: attribute {key}={text!r} is not a boolean")


def attr_str(node: SymbolNode, key: str, default: str) -> str:
    """A string attribute, lower-cased (``default`` when absent)."""
    return node.attrs.get(key, default).strip().lower()
