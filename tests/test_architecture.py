"""The package's import directions, checked from the source (docs/architecture.md draws them).

Every ``import`` statement in ``staticserve/`` is read with ``ast`` — at module level, inside
functions and under ``if TYPE_CHECKING:`` alike — and checked against the rules below, so the
house stays one a newcomer can draw: the sans-IO core imports nothing of ours, the build
pipeline never reaches into the serving modules, the production catalog and the development
finder do not know each other, and no import cycle exists anywhere.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "staticserve"

SERVING = ("staticserve.options", "staticserve.catalog", "staticserve.held", "staticserve.dev")
SERVING += ("staticserve.middleware", "staticserve.asgi", "staticserve.wsgi")
SERVING += ("staticserve.integrations", "staticserve.integrations.*")

# (importer, imported, why): a module matching the first glob must not import one matching the
# second. Globs match dotted module names; ``staticserve.x.*`` does not match ``staticserve.x``.
FORBIDDEN: tuple[tuple[str, str, str], ...] = (
    *(
        (f"staticserve.pipeline{tail}", serving, "the build never imports the serving code")
        for tail in ("", ".*")
        for serving in (*SERVING, "staticserve.cli*", "staticserve")
    ),
    *(
        (serving, pipeline, "only the development finder may use the pipeline")
        for serving in SERVING
        if serving != "staticserve.dev"
        for pipeline in ("staticserve.pipeline", "staticserve.pipeline.*")
    ),
    ("staticserve.catalog", "staticserve.dev", "production and development do not know each other"),
    ("staticserve.held", "staticserve.catalog", "the catalog keeps large files through held"),
    ("staticserve.dev", "staticserve.held", "development mode reads the files on every request"),
    ("staticserve.dev", "staticserve.catalog", "production and development do not know each other"),
    *(
        (low, high, "imports point from the adapters down, never up")
        for low in (*SERVING[:3], "staticserve.dev")
        for high in ("staticserve.middleware", "staticserve.asgi", "staticserve.wsgi")
    ),
    *(
        ("staticserve.options", high, "the options know nothing of what serves them")
        for high in ("staticserve.catalog", "staticserve.dev")
    ),
    *(
        ("staticserve.middleware", adapter, "the adapters stand on the middleware base")
        for adapter in ("staticserve.asgi", "staticserve.wsgi")
    ),
    *(
        ("staticserve.nginx", serving, "the nginx block is made from settings, not by serving")
        for serving in SERVING
        if serving != "staticserve.options"
    ),
    ("staticserve.asgi", "staticserve.wsgi", "the adapters are independent"),
    ("staticserve.wsgi", "staticserve.asgi", "the adapters are independent"),
    # `staticserve publish` (the optional extra): it reads a build's output through the
    # manifest, the pipeline's config and retention rules and the core's pure header rules.
    *(
        (f"staticserve.upload{tail}", high, "the upload never imports the serving code or the CLI")
        for tail in ("", ".*")
        for high in (*SERVING, "staticserve.cli*", "staticserve")
    ),
    *(
        (
            low,
            f"staticserve.upload{tail}",
            "only the CLI and the package's lazy names use the upload",
        )
        for low in (
            *SERVING,
            "staticserve.pipeline",
            "staticserve.pipeline.*",
            "staticserve.core.*",
        )
        for tail in ("", ".*")
    ),
)


# Imports made only for a type annotation (under ``if TYPE_CHECKING:``) that the rules allow:
# the ``config`` option is typed as the pipeline's BuildConfig, which serving never imports.
TYPE_ONLY = {("staticserve.options", "staticserve.pipeline.config")}


@dataclass(frozen=True)
class Edge:
    importer: str
    imported: str
    line: int
    type_checking: bool

    def __str__(self) -> str:
        kind = " (under TYPE_CHECKING)" if self.type_checking else ""
        return f"{self.importer} -> {self.imported}{kind}, line {self.line}"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def resolve(importer: str, is_package: bool, level: int, name: str | None) -> str:
    if level == 0:
        return name or ""
    base = importer.split(".")
    base = base if is_package else base[:-1]
    base = base[: len(base) - (level - 1)]
    return ".".join([*base, name] if name else base)


def _type_checking_lines(tree: ast.Module) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                lines.update(range(child.lineno, (child.end_lineno or child.lineno) + 1))
    return lines


def imports_of(name: str, path: Path, known: set[str]) -> Iterator[Edge]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    guarded = _type_checking_lines(tree)
    is_package = path.name == "__init__.py"
    for node in ast.walk(tree):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            origin = resolve(name, is_package, node.level, node.module)
            # ``from . import x`` names a submodule when one exists, else a package attribute.
            submodules = [f"{origin}.{a.name}" for a in node.names if f"{origin}.{a.name}" in known]
            targets = submodules or [origin]
        for target in targets:
            if target == "staticserve" or target.startswith("staticserve."):
                yield Edge(name, target, node.lineno, node.lineno in guarded)


def all_edges() -> list[Edge]:
    found = modules()
    return [edge for name, path in found.items() for edge in imports_of(name, path, set(found))]


def test_the_checker_reads_relative_and_absolute_imports() -> None:
    edges = {(e.importer, e.imported) for e in all_edges()}
    # Landmarks of the layout, so a checker that reads nothing cannot pass.
    assert ("staticserve.asgi", "staticserve.middleware") in edges
    assert ("staticserve.core.plan", "staticserve.core.negotiate") in edges
    assert ("staticserve.dev", "staticserve.pipeline.config") in edges
    assert ("staticserve.pipeline.fingerprint", "staticserve.pipeline.scan") in edges


@pytest.mark.parametrize(
    ("importer", "imported", "why"), FORBIDDEN, ids=[f"{a}->{b}" for a, b, _ in FORBIDDEN]
)
def test_no_forbidden_import(importer: str, imported: str, why: str) -> None:
    offending = [
        str(edge)
        for edge in all_edges()
        if fnmatchcase(edge.importer, importer)
        and fnmatchcase(edge.imported, imported)
        and not (edge.type_checking and (edge.importer, edge.imported) in TYPE_ONLY)
    ]
    assert not offending, f"{why}: " + "; ".join(offending)


# The floor both halves stand on: each may import only the modules listed.
CONFINED = {
    "staticserve.core": ("staticserve.core", "staticserve.core.*"),
    "staticserve.core.*": ("staticserve.core", "staticserve.core.*"),
    "staticserve.errors": (),
    "staticserve.fingerprinted": (),
    "staticserve.manifest": ("staticserve.errors", "staticserve.fingerprinted"),
}


@pytest.mark.parametrize(("importer", "allowed"), CONFINED.items(), ids=list(CONFINED))
def test_the_floor_imports_only_the_floor(importer: str, allowed: tuple[str, ...]) -> None:
    offending = [
        str(edge)
        for edge in all_edges()
        if fnmatchcase(edge.importer, importer)
        and not any(fnmatchcase(edge.imported, pattern) for pattern in allowed)
    ]
    assert not offending, "sans-IO core / shared floor reaches up: " + "; ".join(offending)


def test_the_development_finder_uses_only_the_pipelines_config_and_collection() -> None:
    allowed = {"staticserve.pipeline.config", "staticserve.pipeline.collect"}
    used = {
        edge.imported
        for edge in all_edges()
        if edge.importer == "staticserve.dev" and edge.imported.startswith("staticserve.pipeline")
    }
    assert used <= allowed, f"dev reaches further into the pipeline: {sorted(used - allowed)}"


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm: the components with more than one module, or a self-import."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for neighbour in sorted(graph.get(node, ())):
            if neighbour not in index:
                visit(neighbour)
                low[node] = min(low[node], low[neighbour])
            elif neighbour in on_stack:
                low[node] = min(low[node], index[neighbour])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1 or node in graph.get(node, ()):
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycle() -> None:
    graph: dict[str, set[str]] = {}
    for edge in all_edges():
        graph.setdefault(edge.importer, set()).add(edge.imported)
    assert strongly_connected(graph) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert strongly_connected(graph) == [["a", "b", "c"]]


def test_no_module_is_much_over_five_hundred_lines() -> None:
    long = {
        name: lines
        for name, path in modules().items()
        if (lines := len(path.read_text(encoding="utf-8").splitlines())) > 520
    }
    assert not long, f"split these by job: {long}"


def test_the_object_storage_client_is_imported_only_by_the_upload_and_only_when_used() -> None:
    """The middleware needs nothing of the ``publish`` extra: obstore is imported in one module
    of ``staticserve/upload/``, inside the function that uses it, never at import time."""
    found = []
    for name, path in modules().items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        top_level = {id(node) for node in tree.body}
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            if not any(n.split(".")[0] == "obstore" for n in names):
                continue
            if node.lineno not in _type_checking_lines(tree):
                found.append((name, id(node) in top_level))
    assert found, "the checker found no import of obstore at all"
    assert {name for name, _ in found} == {"staticserve.upload.store"}
    assert not any(top for _, top in found), "obstore imported at module level"
