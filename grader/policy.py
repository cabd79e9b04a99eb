"""Static checks on a submission's source, in the parent, before anything of it runs.

``compile()`` reads the file without running it, so a syntax error is reported with its line.
The task's ``forbidden`` names (a library that does the task's work, host-side computation) are
looked for in imports, attribute accesses and names; dynamic imports and ``exec``/``eval`` are
refused too, since the grader cannot see what they load.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from dataclasses import dataclass

DYNAMIC = {
    "__import__": "dynamic imports hide what a submission uses",
    "importlib": "dynamic imports hide what a submission uses",
    "exec": "exec() runs code the grader cannot check",
    "eval": "eval() runs code the grader cannot check",
}


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
    for node in ast.walk(tree):
        for name in _names(node):
            if name in rules:
                line = getattr(node, "lineno", None)
                return PolicyFinding(
                    "forbidden", f"line {line}: `{name}` is not allowed here: {rules[name]}", line
                )
    return None


def _names(node: ast.AST) -> list[str]:
    if isinstance(node, ast.Import):
        return [part for alias in node.names for part in alias.name.split(".")]
    if isinstance(node, ast.ImportFrom):
        module = (node.module or "").split(".")
        return [*module, *(alias.name for alias in node.names)]
    if isinstance(node, ast.Attribute):
        return [node.attr]
    if isinstance(node, ast.Name):
        return [node.id]
    return []
