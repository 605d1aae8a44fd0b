"""The package layers: each imports only from itself and the layers below it, never in a circle, and
no installed top-level name is another distribution's."""
import ast
import importlib.metadata
import re

import pytest

from tests.helpers.runs import REPO

# Lowest first: a module may import from its own package and from those before it.
LAYERS = ["fileio", "transforms", "datamodules", "lightning_modules", "reports", "callbacks",
          "artist_inference", "artist_cli"]


def module_name(path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_in(source: str, package: list[str]) -> set[str]:
    """Every project name `source` imports (at the top or inside a function); `package` resolves
    relative imports. `from a import b` gives `a` and `a.b`, since b may be a module."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package[:len(package) - node.level + 1] + ([base] if base else []))
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return {name for name in found if name.split(".")[0] in LAYERS}


def project_graph() -> dict[str, set[str]]:
    """module -> the project modules it imports."""
    paths = {module_name(p): p for layer in LAYERS for p in (REPO / layer).rglob("*.py")}
    graph = {}
    for name, path in paths.items():
        package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
        graph[name] = {t for t in imports_in(path.read_text(), package) if t in paths and t != name}
    return graph


def upward_imports(graph) -> list[str]:
    return sorted(f"{module} imports {target}" for module, targets in graph.items() for target in targets
                  if LAYERS.index(target.split(".")[0]) > LAYERS.index(module.split(".")[0]))


def find_circle(graph) -> list[str] | None:
    """One import circle of `graph` (as a path that ends where it starts), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(module, path):
        state[module] = 1
        for target in sorted(graph.get(module, ())):
            if state.get(target) == 1:
                return path[path.index(target):] + [target]
            if target not in state:
                circle = visit(target, path + [target])
                if circle:
                    return circle
        state[module] = 2
        return None

    for module in sorted(graph):
        if module not in state:
            circle = visit(module, [module])
            if circle:
                return circle
    return None


def test_every_installed_package_has_a_layer():
    include = re.search(r"^include = \[(.*)\]$", (REPO / "pyproject.toml").read_text(), re.M).group(1)
    assert sorted(re.findall(r'"(\w+)\*"', include)) == sorted(LAYERS)


def test_no_module_imports_from_a_layer_above_its_own():
    assert upward_imports(project_graph()) == []


def test_no_import_circles():
    assert find_circle(project_graph()) is None


def test_the_checks_see_a_lazy_upward_import_and_a_circle():
    lazy = "def f():\n    from artist_inference.predictor import Predictor\n"
    assert "artist_inference.predictor" in imports_in(lazy, ["transforms"])
    assert upward_imports({"transforms.views": {"artist_inference.predictor"}}) == [
        "transforms.views imports artist_inference.predictor"]
    assert find_circle({"a.x": {"a.y"}, "a.y": {"a.z"}, "a.z": {"a.x"}}) == ["a.x", "a.y", "a.z", "a.x"]
    assert imports_in("from .scoring import evaluate\n", ["artist_inference"]) >= {"artist_inference.scoring"}


@pytest.mark.parametrize("package", LAYERS)
def test_no_other_installed_distribution_provides_the_same_top_level_name(package):
    owners = set(importlib.metadata.packages_distributions().get(package, []))
    assert owners <= {"artist-trainer"}, f"{package} is also installed by {owners - {'artist-trainer'}}"
