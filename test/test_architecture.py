"""The package layering: no import cycles between packages, no layer importing a higher one.

The graph is built from the source with :mod:`ast`, so imports inside functions count as
much as those at the top (relative imports are resolved). :data:`LAYERS` is the table that
docs/ARCHITECTURE.md shows; a module may import its own layer or lower ones. The ROS
navigator process must not load numba or the simulator (checked in a fresh interpreter).
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "compass_nav"

#: Layer of each top-level package (or module) of compass_nav; imports go down or sideways.
LAYERS: dict[str, int] = {
    "utils": 0,
    "contract": 0,
    "planner": 1,
    "models": 1,
    "policies": 1,
    "sim": 2,
    "runtime": 2,
    "episodes": 3,
    "data": 4,
    "evaluation": 4,
    "learning": 5,
    "logs": 5,
    "teacher": 6,
    "il": 6,
    "rl": 6,
    "distill": 6,
    "worldmodel": 6,
    "export": 6,
    "pipeline": 7,
    "sweep": 7,
    "ros": 7,
    "demo": 7,
    "plugins": 7,
    "cli": 8,
}

#: Modules of the ROS navigator process: none may load numba or compass_nav.sim.
NAVIGATOR_MODULES = (
    "compass_nav.ros.navigator_node",
    "compass_nav.ros.navigator_core",
    "compass_nav.ros.observation",
    "compass_nav.ros.conversions",
    "compass_nav.ros.params",
    "compass_nav.ros.qos",
)


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> set[str]:
    """Every compass_nav module or package ``path`` imports, anywhere in the file."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.add(target)
    return {t for t in found if t == "compass_nav" or t.startswith("compass_nav.")}


def _package(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def package_graph() -> dict[str, dict[str, list[str]]]:
    """``{package: {imported package: [importing module -> imported module, ...]}}``."""
    graph: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for path in sorted(ROOT.rglob("*.py")):
        src = _module_name(path)
        for target in _imports(path):
            a, b = _package(src), _package(target)
            if a and b and a != b and not b.startswith("__"):
                graph[a][b].append(f"{src} -> {target}")
    return graph


def test_every_package_has_a_layer():
    packages = {_package(_module_name(p)) for p in ROOT.rglob("*.py")} - {None}
    missing = sorted(packages - set(LAYERS))
    assert not missing, f"packages without a layer in LAYERS: {missing}"


def test_no_layer_imports_a_higher_one():
    bad = []
    for a, targets in package_graph().items():
        for b, edges in targets.items():
            if LAYERS[b] > LAYERS[a]:
                bad.append(f"{a} (L{LAYERS[a]}) imports {b} (L{LAYERS[b]}): " + "; ".join(edges))
    assert not bad, "imports going up the layers:\n" + "\n".join(bad)


def test_no_cycles_between_packages():
    graph = {a: set(t) for a, t in package_graph().items()}
    cycles = []
    state: dict[str, int] = {}  # 1 = on the stack, 2 = done
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append(stack[stack.index(nxt) :] + [nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    full = package_graph()
    lines = []
    for cycle in cycles:
        edges = [f"  {a} -> {b}: {full[a][b][0]}" for a, b in zip(cycle, cycle[1:], strict=False)]
        lines.append(" -> ".join(cycle) + "\n" + "\n".join(edges))
    assert not cycles, "import cycles between packages:\n" + "\n".join(lines)


def test_navigator_process_loads_neither_numba_nor_the_simulator(fresh_python):
    code = (
        "import sys\n"
        f"for name in {NAVIGATOR_MODULES!r}:\n"
        "    __import__(name)\n"
        "bad = sorted(m for m in sys.modules if m == 'numba' or m.startswith('numba.')\n"
        "             or m == 'compass_nav.sim' or m.startswith('compass_nav.sim.'))\n"
        "print(','.join(bad))\n"
    )
    loaded = fresh_python(code).strip()
    assert loaded == "", f"the navigator process loads: {loaded}"
