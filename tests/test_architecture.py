"""The grader's shape, checked: kinds decide kind-specific things, and modules import in a DAG.

* No ``isinstance`` on a task class outside ``grader/kinds/``: everything kind-specific is a
  method of the task's kind, found by the spec's ``kind`` name.
* No import cycle among the grader's modules, counting imports inside functions too (a cycle
  hidden in a function is still a cycle).
"""

from __future__ import annotations

import ast
from pathlib import Path

import grader.spec

GRADER = Path(grader.spec.__file__).parent
TASK_CLASSES = {
    name
    for name, value in vars(grader.spec).items()
    if isinstance(value, type) and name.endswith("Task")
}


def _modules() -> dict[str, Path]:
    found = {}
    for path in sorted(GRADER.rglob("*.py")):
        parts = path.relative_to(GRADER.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def _imports(path: Path, module: str, modules: dict[str, Path]) -> set[str]:
    """The grader modules ``module`` imports anywhere, leaving out ``if TYPE_CHECKING:``.

    ``from package import submodule`` depends on the submodule; ``from module import name`` on
    the module."""
    tree = ast.parse(path.read_text())
    type_only = {
        id(node)
        for top in ast.walk(tree)
        if isinstance(top, ast.If) and "TYPE_CHECKING" in ast.unparse(top.test)
        for node in ast.walk(top)
    }
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if id(node) in type_only:
            continue
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join([*package.split(".")[: len(package.split(".")) - node.level + 1]])
                base = f"{base}.{node.module}" if node.module else base
            submodules = {f"{base}.{a.name}" for a in node.names} & set(modules)
            found |= submodules or {base}
    return {name for name in found if name in modules and name != module}


def test_task_classes_are_known() -> None:
    assert {"KernelTask", "PipelineTask", "CacheTask"} <= TASK_CLASSES


def test_no_isinstance_on_task_classes_outside_the_kinds() -> None:
    offenders = []
    for module, path in _modules().items():
        if module.startswith("grader.kinds"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "isinstance":
                named = {n.id for n in ast.walk(node.args[1]) if isinstance(n, ast.Name)}
                named |= {n.attr for n in ast.walk(node.args[1]) if isinstance(n, ast.Attribute)}
                if named & TASK_CLASSES:
                    offenders.append(f"{path.name}:{node.lineno}")
    assert offenders == [], f"isinstance on a task class outside grader/kinds: {offenders}"


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A cycle in ``graph`` (module -> what it imports) as a path, or None.

    A package importing its own submodules is not a cycle through the package (Python runs a
    package's ``__init__`` before any submodule, so the edge back is not an import)."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(module: str) -> list[str] | None:
        state[module] = 1
        stack.append(module)
        for child in sorted(graph.get(module, ())):
            if child.startswith(module + "."):
                continue
            if state.get(child) == 1:
                return [*stack[stack.index(child) :], child]
            if child not in state and (found := visit(child)):
                return found
        stack.pop()
        state[module] = 2
        return None

    for module in sorted(graph):
        if module not in state and (found := visit(module)):
            return found
    return None


def test_the_cycle_finder_finds_a_cycle_and_allows_a_package_and_its_parts() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"p": {"p.x"}, "p.x": {"q"}, "q": set()}) is None
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_the_grader_imports_form_no_cycle() -> None:
    modules = _modules()
    graph = {module: _imports(path, module, modules) for module, path in modules.items()}
    assert graph["grader.runner"], "the import reader found nothing: it is broken"
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])
