"""Dependencies point one way: config <- tracker <- workers <- ingest <- facestream, bench on top.

Every module of the packages is parsed with ``ast`` (nothing is imported, so the
test is fast and sees imports inside functions too). A module may import its own
package and the packages below it, never one above: a lower layer that reached
up would drag the front door (rich, supervisor, the CLI) into every worker. And
no facestream module may take part in an import cycle, not even through an
import inside a function: a cycle works or fails depending on which module
happens to be imported first, and a late import only hides it.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LAYERS = ("config", "tracker", "workers", "ingest", "facestream", "bench")
RANK = {name: i for i, name in enumerate(LAYERS)}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for layer in LAYERS for p in sorted((ROOT / layer).rglob("*.py"))}


def _type_checking_only(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(
    tree: ast.Module, module: str, is_package: bool, top_level_only: bool
) -> Iterator[tuple[int, str]]:
    """(line, imported module) of every import; relative imports resolved against ``module``."""
    package = module if is_package else module.rpartition(".")[0]

    def visit(nodes: list[ast.stmt]) -> Iterator[tuple[int, str]]:
        for node in nodes:
            if isinstance(node, ast.Import):
                for alias in node.names:
                    yield node.lineno, alias.name
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                    base = ".".join([*anchor, base] if base else anchor)
                yield node.lineno, base
                for alias in node.names:  # `from facestream import cameras` imports a module
                    yield node.lineno, f"{base}.{alias.name}"
            if top_level_only:
                if isinstance(node, ast.If) and not _type_checking_only(node):
                    yield from visit(node.body + node.orelse)
                elif isinstance(node, ast.Try):
                    yield from visit(
                        node.body
                        + node.orelse
                        + node.finalbody
                        + [s for h in node.handlers for s in h.body]
                    )
            elif not isinstance(node, (ast.Import, ast.ImportFrom)):
                yield from visit([c for c in ast.iter_child_nodes(node) if isinstance(c, ast.stmt)])

    yield from visit(tree.body)


def _parsed() -> dict[str, tuple[Path, ast.Module]]:
    return {
        name: (path, ast.parse(path.read_text(), str(path))) for name, path in _modules().items()
    }


def test_no_import_from_a_lower_layer_to_a_higher_one() -> None:
    wrong: dict[tuple[Path, int], str] = {}
    for module, (path, tree) in _parsed().items():
        own = RANK[module.split(".")[0]]
        for line, imported in _imports(
            tree, module, path.name == "__init__.py", top_level_only=False
        ):
            target = RANK.get(imported.split(".")[0])
            if target is not None and target > own:
                wrong.setdefault(
                    (path, line),
                    f"{path.relative_to(ROOT)}:{line} imports {imported} "
                    f"({LAYERS[own]} may import {', '.join(LAYERS[: own + 1])})",
                )
    assert not wrong, "imports against the layering:\n" + "\n".join(wrong.values())


def _cycles(graph: dict[str, list[str]]) -> list[str]:
    """Every back edge of a depth-first walk, as the cycle it closes (``a -> b -> a``)."""
    cycles, state = [], {}  # state: 1 on the current path, 2 finished

    def walk(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in graph.get(node, []):
            if state.get(nxt) == 1:
                cycles.append(
                    " -> ".join([*path[path.index(nxt) :], nxt] if nxt in path else [node, nxt])
                )
            elif nxt not in state:
                walk(nxt, [*path, nxt])
        state[node] = 2

    for module in sorted(graph):
        if module not in state:
            walk(module, [module])
    return cycles


def test_no_import_cycle_among_facestream_modules() -> None:
    """Imports inside functions count too: a lazy import that closes a circle is still one."""
    parsed = _parsed()
    ours = {m for m in parsed if m.split(".")[0] == "facestream"}
    graph = {
        m: sorted(
            {
                i
                for _, i in _imports(
                    parsed[m][1], m, parsed[m][0].name == "__init__.py", top_level_only=False
                )
            }
            & ours - {m, "facestream"}
        )
        for m in ours
    }
    cycles = _cycles(graph)
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


def test_the_checks_see_imports_inside_functions_and_relative_ones() -> None:
    """The parser itself: a late import in a function body and a relative import are both found."""
    tree = ast.parse(
        "def f():\n    if True:\n        from facestream import cli\nfrom .sibling import x\n"
    )
    found = {i for _, i in _imports(tree, "workers.thing", False, top_level_only=False)}
    assert {"facestream", "facestream.cli", "workers.sibling", "workers.sibling.x"} <= found
    top = {i for _, i in _imports(tree, "workers.thing", False, top_level_only=True)}
    assert "facestream.cli" not in top


def test_a_circle_through_a_late_import_is_found() -> None:
    """A circle like the one the CLI once had: cli dispatched to commands, which imported cli's
    consoles."""
    graph = {
        "cli": ["commands"],
        "commands": ["service_commands", "cli"],
        "service_commands": ["cli"],
        "console": [],
    }
    assert _cycles(graph) == [
        "cli -> commands -> service_commands -> cli",
        "cli -> commands -> cli",
    ]
    assert _cycles({"a": ["b"], "b": [], "c": ["b"]}) == []
