"""Static checks on a submission's source, in the parent, before anything of it runs.

``compile()`` reads the file without running it, so a syntax error is reported with its line.
The task's ``forbidden`` names (a library that does the task's work, host-side computation) are
looked for in imports, attribute accesses and names; dynamic imports and ``exec``/``eval`` are
refused too, since the grader cannot see what they load.

``eval``, ``exec`` and ``__import__`` are the builtins only: the bare names, reached through the
``builtins`` module (``builtins.eval``, ``getattr(builtins, "eval")``, ``__builtins__["eval"]``)
or imported from it; a method of that name on another object (``torch.nn.Identity().eval()``)
is no builtin.

The body of a top-level ``if __name__ == "__main__":`` block is not checked: the grader imports
the submission as a module, so that block never runs (a student's own quick test may copy a
result to the host there). It is checked like the rest where the file could make the test true
on import: it binds ``__name__`` anywhere, or uses what could rewrite its globals or run the file
as ``__main__`` (``globals``, ``vars``, ``locals``, ``setattr``, ``compile``, ``__dict__``,
``runpy``, a star import).
"""

from __future__ import annotations

import ast
import symtable
from collections import deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

DYNAMIC = {
    "__import__": "dynamic imports hide what a submission uses",
    "importlib": "dynamic imports hide what a submission uses",
    "exec": "exec() runs code the grader cannot check",
    "eval": "eval() runs code the grader cannot check",
}
# Names that are refused only as the builtins, not as any object's attribute.
BUILTIN_ONLY = frozenset({"eval", "exec", "__import__"})
# What could make ``__name__ == "__main__"`` true on import, or run the main block anyway:
# builtins that reach a module's globals or compile its source, attributes that rewrite an
# object's namespace, and modules that run a file as ``__main__``.
REWRITES_GLOBALS = frozenset({"globals", "vars", "locals", "setattr", "compile"})
REWRITES_ATTRIBUTES = frozenset({"__dict__", "__setattr__", "__name__"})
RUNS_AS_MAIN = frozenset({"runpy"})


@dataclass
class PolicyFinding:
    reason: str  # "syntax_error" or "forbidden"
    message: str
    line: int | None = None


def check_source(source: str, filename: str, forbidden: Mapping[str, str]) -> PolicyFinding | None:
    try:
        tree = compile(source, filename, "exec", flags=ast.PyCF_ONLY_AST, dont_inherit=True)
    except SyntaxError as exc:
        where = f"line {exc.lineno}" if exc.lineno else "the file"
        text = (exc.text or "").rstrip("\n")
        caret = ""
        if text and exc.offset:
            caret = "\n    " + text + "\n    " + " " * (exc.offset - 1) + "^"
        return PolicyFinding("syntax_error", f"{exc.msg} at {where}{caret}", exc.lineno)
    except ValueError as exc:  # null bytes
        return PolicyFinding("syntax_error", str(exc))
    rules = {**DYNAMIC, **forbidden}
    builtins = _builtins_aliases(tree)
    skipped = _main_block_bodies(tree, source, filename)
    for node in _checked(tree, skipped):
        for name in _names(node, builtins):
            if name in rules:
                line = getattr(node, "lineno", None)
                return PolicyFinding(
                    "forbidden", f"line {line}: `{name}` is not allowed here: {rules[name]}", line
                )
    return None


def _checked(tree: ast.AST, skipped: set[int]) -> Iterator[ast.AST]:
    """Every node of ``tree`` in ``ast.walk``'s order, less the statements in ``skipped``."""
    todo = deque([tree])
    while todo:
        node = todo.popleft()
        if id(node) in skipped:
            continue
        todo.extend(ast.iter_child_nodes(node))
        yield node


def _builtins_aliases(tree: ast.AST) -> set[str]:
    names = {"builtins", "__builtins__"}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.asname or a.name for a in node.names if a.name == "builtins"}
    return names


def _is_main_test(test: ast.expr) -> bool:
    """``__name__ == "__main__"``, either way round."""
    if not (isinstance(test, ast.Compare) and len(test.ops) == 1):
        return False
    if not isinstance(test.ops[0], ast.Eq):
        return False
    sides = [test.left, test.comparators[0]]
    names = [s for s in sides if isinstance(s, ast.Name) and s.id == "__name__"]
    mains = [s for s in sides if isinstance(s, ast.Constant) and s.value == "__main__"]
    return len(names) == 1 and len(mains) == 1


def _main_block_bodies(tree: ast.Module, source: str, filename: str) -> set[int]:
    """The statements of every top-level ``if __name__ == "__main__":`` body (not its
    ``else``, which runs on import), when nothing in the file could make the test true."""
    blocks = [n for n in tree.body if isinstance(n, ast.If) and _is_main_test(n.test)]
    if not blocks or _may_rebind_name(tree, source, filename):
        return set()
    return {id(statement) for block in blocks for statement in block.body}


def _may_rebind_name(tree: ast.AST, source: str, filename: str) -> bool:
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and any(a.name == "*" for a in node.names):
            return True
        rewrites = isinstance(node, ast.Attribute) and node.attr in REWRITES_ATTRIBUTES
        if rewrites and (node.attr != "__name__" or not isinstance(node.ctx, ast.Load)):
            return True  # x.__dict__, x.__setattr__, or x.__name__ = ...
        if isinstance(node, ast.Name) and node.id in REWRITES_GLOBALS | RUNS_AS_MAIN:
            return True
        if isinstance(node, ast.Import | ast.ImportFrom):
            modules = [a.name for a in node.names] + [getattr(node, "module", None) or ""]
            if any(m.split(".")[0] in RUNS_AS_MAIN for m in modules):
                return True
    try:
        tables = [symtable.symtable(source, filename, "exec")]
    except (SyntaxError, ValueError):
        return True
    while tables:  # any binding of __name__, in any scope, by any statement
        table = tables.pop()
        try:
            symbol = table.lookup("__name__")
        except KeyError:
            pass
        else:
            if symbol.is_assigned() or symbol.is_imported() or symbol.is_parameter():
                return True
        tables.extend(table.get_children())
    return False


def _names(node: ast.AST, builtins: set[str]) -> list[str]:
    if isinstance(node, ast.Import):
        return [part for alias in node.names for part in alias.name.split(".")]
    if isinstance(node, ast.ImportFrom):
        module = (node.module or "").split(".")
        return [*module, *(alias.name for alias in node.names)]
    if isinstance(node, ast.Attribute):
        if node.attr not in BUILTIN_ONLY:
            return [node.attr]
        reaches_builtins = isinstance(node.value, ast.Name) and node.value.id in builtins
        return [node.attr] if reaches_builtins else []
    if isinstance(node, ast.Name):
        return [node.id]
    is_getattr = isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
    if is_getattr and node.func.id == "getattr" and len(node.args) >= 2:
        return _text_names(node.args[1])
    if isinstance(node, ast.Subscript):  # __builtins__["eval"], vars(builtins)["exec"]
        return _text_names(node.slice)
    return []


def _text_names(node: ast.AST) -> list[str]:
    if isinstance(node, ast.Constant) and node.value in BUILTIN_ONLY:
        return [node.value]
    return []
