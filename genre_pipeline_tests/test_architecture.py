"""The package's structure: no import cycles, no private names across modules, one-way layers.

Every ``import`` in ``genre_pipeline`` counts, at module level or inside a function (an
import moved into a function to dodge a cycle is still a cycle).
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "genre_pipeline"

# Plain-code packages, in data-flow order: a package may import those before it, never after.
PLAIN_ORDER = ["storage", "ingestion", "demo", "catalog", "features", "models"]
WIRING = ["defs", "definitions", "cli", "bench"]


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, ast.Module]:
    return {module_name(p): ast.parse(p.read_text(encoding="utf-8"), str(p)) for p in sorted(PACKAGE.rglob("*.py"))}


def resolve(current: str, is_package: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = current.split(".") if is_package else current.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def project_imports(known: dict[str, ast.Module]) -> tuple[dict[str, set[str]], list[str]]:
    """Module -> project modules it imports; and every use of another module's private name."""
    graph: dict[str, set[str]] = defaultdict(set)
    private: list[str] = []
    for name, tree in known.items():
        is_package = (PACKAGE.parent / Path(*name.split("."))).is_dir()
        aliases: dict[str, str] = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.startswith("genre_pipeline"):
                        graph[name].add(alias.name)
                        aliases[alias.asname or alias.name] = alias.name
            elif isinstance(node, ast.ImportFrom):
                target = resolve(name, is_package, node)
                if not target.startswith("genre_pipeline"):
                    continue
                for alias in node.names:
                    full = f"{target}.{alias.name}"
                    if full in known:  # `from package import module`
                        graph[name].add(full)
                        aliases[alias.asname or alias.name] = full
                    else:
                        graph[name].add(target)
                        if alias.name.startswith("_") and not alias.name.startswith("__"):
                            private.append(f"{name} imports {alias.name} from {target}")
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in aliases
                    and node.attr.startswith("_") and not node.attr.startswith("__")):
                private.append(f"{name} uses {aliases[node.value.id]}.{node.attr}")
    return graph, private


def find_cycle(graph: dict[str, set[str]], known: set[str]) -> list[str] | None:
    edges = {m: {t for t in graph.get(m, ()) if t in known and t != m} for m in known}
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges[node]):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for start in sorted(known):
        if start not in state and (found := visit(start)):
            return found
    return None


@pytest.fixture(scope="module")
def structure():
    known = modules()
    graph, private = project_imports(known)
    return known, graph, private


def test_no_import_cycles(structure):
    known, graph, _ = structure
    # A package's __init__ importing its own submodules is not a cycle between modules of different roles.
    cycle = find_cycle(graph, set(known))
    assert cycle is None, " -> ".join(cycle)


def test_no_module_uses_another_modules_private_names(structure):
    _, _, private = structure
    assert private == []


def layer(module: str) -> str:
    return module.split(".")[1] if "." in module else module


def test_plain_code_never_imports_dagster_or_the_wiring(structure):
    known, graph, _ = structure
    problems = []
    for name, tree in known.items():
        if layer(name) not in PLAIN_ORDER:
            continue
        for node in ast.walk(tree):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            if any(n == "dagster" or n.startswith("dagster.") or n.startswith("dagster_") for n in names):
                problems.append(f"{name} imports dagster")
        for target in graph.get(name, ()):
            if layer(target) in WIRING:
                problems.append(f"{name} imports the wiring module {target}")
    assert problems == []


def test_plain_packages_import_only_earlier_ones(structure):
    _, graph, _ = structure
    rank = {name: i for i, name in enumerate(PLAIN_ORDER)}
    problems = [
        f"{source} imports {target}"
        for source, targets in graph.items()
        for target in targets
        if layer(source) in rank and layer(target) in rank and rank[layer(target)] > rank[layer(source)]
    ]
    assert problems == []


def test_the_checker_sees_what_it_must():
    """The checker itself: a private import, a private attribute and a cycle are found."""
    known = {
        "genre_pipeline.a": ast.parse("from genre_pipeline.b import _hidden\nimport genre_pipeline.b as b\nb._x()"),
        "genre_pipeline.b": ast.parse("def f():\n    from genre_pipeline.a import thing\n"),
    }
    graph, private = project_imports(known)
    assert private == ["genre_pipeline.a imports _hidden from genre_pipeline.b", "genre_pipeline.a uses genre_pipeline.b._x"]
    assert find_cycle(graph, set(known)) == ["genre_pipeline.a", "genre_pipeline.b", "genre_pipeline.a"]
