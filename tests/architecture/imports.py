"""The import graph of a package tree, read from its source (imports inside functions too)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Import:
    module: str  # the importing module
    target: str  # the imported module (within the tree)
    line: int
    in_function: bool
    comment: str  # the import's own lines and the comment line above its run of imports


def module_name(root: Path, path: Path) -> str:
    parts = path.relative_to(root.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules(root: Path) -> dict[str, Path]:
    return {module_name(root, path): path for path in sorted(root.rglob("*.py"))}


def _function_nodes(tree: ast.AST) -> set[int]:
    inside: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            inside.update(id(child) for child in ast.walk(node) if child is not node)
    return inside


def imports(root: Path, extra: dict[str, Path] | None = None) -> Iterator[Import]:
    """Every import of a module of the tree (or of any module when `extra` names files
    outside it, e.g. app.py), resolved to the longest known module name."""
    known = modules(root)
    files = {**known, **(extra or {})}
    for name, path in files.items():
        source = path.read_text()
        lines = source.splitlines()
        tree = ast.parse(source)
        inside = _function_nodes(tree)
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        import_lines = {
            line
            for node in ast.walk(tree)
            if isinstance(node, ast.Import | ast.ImportFrom)
            for line in range(node.lineno, (node.end_lineno or node.lineno) + 1)
        }
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                candidates = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    up = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*up, base] if base else up)
                candidates = [f"{base}.{alias.name}" for alias in node.names] + [base]
            else:
                continue
            # the comment above the run of imports this one belongs to
            line = node.lineno - 1
            while line in import_lines:
                line -= 1
            above = lines[line - 1] if line >= 1 else ""
            own = "\n".join(lines[node.lineno - 1 : (node.end_lineno or node.lineno)])
            comment = own + ("\n" + above if above.strip().startswith("#") else "")
            for candidate in candidates:
                target = _known(candidate, known)
                yield Import(name, target or candidate, node.lineno, id(node) in inside, comment)
                if target is not None:
                    break


def _known(name: str, known: dict[str, Path]) -> str | None:
    while name:
        if name in known:
            return name
        name = name.rpartition(".")[0]
    return None


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), and self-loops."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in edges.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def graph(root: Path) -> dict[str, set[str]]:
    """module -> the modules of the tree it imports (a package's __init__ not counted as an
    edge from its own submodules)."""
    known = modules(root)
    edges: dict[str, set[str]] = {name: set() for name in known}
    for item in imports(root):
        if (
            item.target in known
            and item.target != item.module
            and not item.module.startswith(item.target + ".")
        ):
            edges[item.module].add(item.target)
    return edges
