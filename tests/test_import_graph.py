"""The import graph of ``rfbench/``: no circles, and packages import only down the flow.

Every ``import`` / ``from ... import`` of an rfbench module counts, at module level, inside
functions (lazy imports) and under ``TYPE_CHECKING`` alike: a circle through any of them is a
circle a reader has to untangle. The graph is read from the source with :mod:`ast`; nothing is
imported.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "rfbench"

#: The flow, bottom first: a package may import the packages before it, never one after it.
#: ``rfbench`` is the package's own ``__init__`` (the version) and its shared modules.
LAYERS = (
    "rfbench", "console", "results", "decoder", "runtimes", "models", "wider", "fddb", "evaluation",
    "accuracy", "quantize", "latency", "complexity", "report", "sweep", "commands", "cli",
)


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, modules: set[str]) -> set[str]:
    """rfbench modules that ``path`` imports (a ``from pkg import name`` of a submodule counts
    as that submodule)."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([node.module] if node.module else []))
            for alias in node.names:
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base)
    return {target for target in found if target in modules and target != name}


def _graph() -> dict[str, set[str]]:
    paths = sorted(PACKAGE.rglob("*.py"))
    modules = {_module_name(p) for p in paths}
    return {_module_name(p): _imports(p, modules) for p in paths}


def _layer(module: str) -> str:
    parts = module.split(".")
    if len(parts) == 1 or (len(parts) == 2 and not (PACKAGE / parts[1]).is_dir()):
        return "cli" if module in ("rfbench.cli", "rfbench.__main__") else "rfbench"
    return parts[1]


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_circles():
    assert _cycles(_graph()) == []


def test_tarjan_finds_a_planted_circle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(graph) == [["a", "b", "c"]]


def test_every_package_has_a_place_in_the_flow():
    packages = {_layer(m) for m in _graph()}
    assert packages <= set(LAYERS), packages - set(LAYERS)


def test_imports_run_down_the_flow():
    climbing = defaultdict(set)
    for module, targets in _graph().items():
        for target in targets:
            if LAYERS.index(_layer(target)) > LAYERS.index(_layer(module)):
                climbing[module].add(target)
    assert dict(climbing) == {}


def test_top_level_modules_and_file_sizes():
    top = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert len(top) <= 5, top
    long_files = {str(p.relative_to(PACKAGE)): n for p in PACKAGE.rglob("*.py")
                  if (n := len(p.read_text(encoding="utf-8").splitlines())) > 400}
    assert long_files == {}


def test_no_function_over_60_lines():
    """Functions fit on a screen: at most 60 lines, docstring included (``get_preset``, a table
    of the presets, is the longest at 60)."""
    long = {}
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > 60:
                    long[f"{path.relative_to(PACKAGE)}:{node.name}"] = length
    assert long == {}


def test_internals_lists_every_module():
    """docs/internals.md has one line per module, under its package."""
    text = (PACKAGE.parent / "docs" / "internals.md").read_text(encoding="utf-8")
    missing = []
    for path in sorted(PACKAGE.rglob("*.py")):
        folder = path.parent.relative_to(PACKAGE.parent).as_posix() + "/"
        heading = text.find(f"- `{folder}`")
        line = f"  - `{path.name}`:"
        end = text.find("\n- `", heading + 1)
        if heading < 0 or line not in text[heading:end if end > 0 else None]:
            missing.append(str(path.relative_to(PACKAGE.parent)))
    assert missing == []
