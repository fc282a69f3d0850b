"""The project's layout rules, read from the source: no import cycles, the settings table at
the bottom, core/ without streamlit, pages without TensorFlow."""

from __future__ import annotations

import ast
from graphlib import CycleError, TopologicalSorter

from tests.support import ROOT


def modules() -> dict[str, set[str]]:
    """Every project module under core/, ui/ and pages/ -> the project modules it imports
    (anywhere in the file, inside functions too)."""
    paths = {}
    for path in [*ROOT.glob("core/**/*.py"), *ROOT.glob("ui/*.py"), *ROOT.glob("pages/*.py")]:
        name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        paths[name] = path
    graph = {}
    for name, path in paths.items():
        found = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
            else:
                continue
            for candidate in names:
                while candidate and candidate not in paths:
                    candidate = candidate.rpartition(".")[0]
                if candidate and candidate != name:
                    found.add(candidate)
        graph[name] = found
    return graph


def external(prefix: str) -> dict[str, set[str]]:
    """Top-level packages outside the project imported by each module under prefix."""
    out = {}
    for path in ROOT.glob(f"{prefix}/**/*.py"):
        found = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                found.add(node.module.split(".")[0])
        out[str(path.relative_to(ROOT))] = found
    return out


def test_no_module_imports_itself_through_others():
    graph = modules()
    assert len(graph) > 30
    try:
        list(TopologicalSorter(graph).static_order())
    except CycleError as exc:
        raise AssertionError(f"import cycle: {' -> '.join(exc.args[1])}") from None


def test_the_settings_table_imports_nothing_from_the_project():
    assert modules()["core.settings"] == set()


def test_core_never_draws_and_pages_never_train():
    assert not [p for p, found in external("core").items() if "streamlit" in found]
    heavy = {"tensorflow", "keras"}
    assert not [p for p, found in external("pages").items() if found & heavy]
    assert not [p for p, found in external("ui").items() if found & heavy]
