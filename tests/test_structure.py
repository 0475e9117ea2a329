"""The package's shape: no import cycles, lower layers that do not reach up, capabilities that meet only through
each other's public names, a thin CLI, a clean lint (which also keeps functions short: pyproject [tool.ruff])."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "dcgan_cli"


def _modules() -> dict[str, Path]:
    mods = {}
    for p in PACKAGE.rglob("*.py"):
        name = ".".join(p.with_suffix("").relative_to(ROOT).parts)
        mods[name.removesuffix(".__init__")] = p
    return mods


def import_graph() -> dict[str, set[str]]:
    """Module -> the package modules it imports: at the top, inside functions and under `if TYPE_CHECKING:`
    alike (a type-only import is still a dependency a reader follows). What `dcgan_cli` itself imports (its
    lazy API table) is left out: it is the top, above every layer."""
    mods = _modules()
    graph: dict[str, set[str]] = {}
    for name, path in mods.items():
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        deps: set[str] = set()

        def targets(node: ast.ImportFrom) -> list[str]:
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parts = parts[: len(parts) - node.level + 1]
                base = ".".join(parts + ([node.module] if node.module else []))
            return [f"{base}.{a.name}" if f"{base}.{a.name}" in mods else base for a in node.names]

        class Visitor(ast.NodeVisitor):
            def visit_Import(self, node: ast.Import) -> None:
                deps.update(a.name for a in node.names if a.name in mods)

            def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
                deps.update(t for t in targets(node) if t in mods)

        Visitor().visit(ast.parse(path.read_text()))
        graph[name] = deps - {name} if name != "dcgan_cli" else set()
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_nothing_in_the_package_imports_its_top():
    """`dcgan_cli/__init__.py` is the public API over every layer: a module importing it (for its version, say)
    reaches up past all of them."""
    assert sorted(name for name, deps in import_graph().items() if "dcgan_cli" in deps) == []


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle_in_the_package():
    assert cycles(import_graph()) == []


def package_graph(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    """Package -> the other packages its modules import (lazy imports included, as import_graph reads them)."""
    def package(module: str) -> str:
        return module.split(".")[1] if module.count(".") else module

    out: dict[str, set[str]] = {}
    for name, deps in graph.items():
        out.setdefault(package(name), set()).update(package(d) for d in deps)
    return {k: v - {k} for k, v in out.items()}


def test_no_cycle_between_packages():
    """Two capabilities that import each other, even from different modules and inside functions, are one
    capability in two folders: the helper they share belongs in a package below both."""
    assert cycles(package_graph(import_graph())) == []


def test_the_package_check_catches_siblings_that_import_each_other():
    graph = {"dcgan_cli.a.x": {"dcgan_cli.b.y"}, "dcgan_cli.b.y": {"dcgan_cli.a.z"}, "dcgan_cli.a.z": set()}
    assert cycles(graph) == [] and cycles(package_graph(graph)) == [["a", "b"]]


# Who may import whom: core < data < attributes < the capabilities < explore and the CLI. A layer imports
# only layers below it (the capabilities may use one another, without cycles); nothing below the CLI
# imports it, and nothing but the CLI imports the explorer.
LAYERS = [
    ("bundled",),  # the shipped models and their names: it imports nothing of the package
    ("core",),
    ("data",),
    ("attributes",),
    ("training", "evaluation", "latent", "projection", "search", "vector_arithmetic", "analyses"),
    ("explore",),
    ("cli", "__main__"),
]


def layer_of(module: str) -> int:
    top = module.split(".")[1] if module.count(".") else ""
    for rank, packages in enumerate(LAYERS):
        if top in packages:
            return rank
    raise AssertionError(f"{module} is in no layer: put it in a package of LAYERS")


def test_every_module_is_in_a_layer():
    assert sorted(m for m in import_graph() if m != "dcgan_cli" and m.count(".") == 1
                  and (PACKAGE / (m.split(".")[1] + ".py")).exists() and m != "dcgan_cli.__main__") == []
    for m in import_graph():
        if m != "dcgan_cli":
            layer_of(m)


def test_layers_import_only_downwards():
    wrong = []
    for name, deps in import_graph().items():
        if name == "dcgan_cli":
            continue
        for d in deps:
            same_capability_layer = layer_of(d) == layer_of(name) in (layer_of("dcgan_cli.training"), layer_of("dcgan_cli.cli"))
            if layer_of(d) > layer_of(name) or (layer_of(d) == layer_of(name) and not same_capability_layer
                                                 and d.split(".")[1] != name.split(".")[1]):
                wrong.append(f"{name} -> {d}")
    assert wrong == []


CAPABILITIES = LAYERS[4]


def reached_inside(graph: dict[str, set[str]]) -> list[str]:
    """Imports from one capability into the modules of another: a capability reaches another only through
    that package's own `__init__` (its public names), so its modules and private names can change freely."""
    wrong = []
    for name, deps in graph.items():
        mine = name.split(".")[1] if name.count(".") else ""
        for d in deps:
            parts = d.split(".")
            if mine in CAPABILITIES and len(parts) > 2 and parts[1] in CAPABILITIES and parts[1] != mine:
                wrong.append(f"{name} -> {d}")
    return sorted(wrong)


def test_a_capability_uses_another_only_through_its_package():
    assert reached_inside(import_graph()) == []


def test_the_sibling_rule_catches_a_capability_reaching_into_another():
    graph = {"dcgan_cli.latent.steer": {"dcgan_cli.vector_arithmetic.edits", "dcgan_cli.projection", "dcgan_cli.core.model",
                                        "dcgan_cli.latent.sample"},
             "dcgan_cli.explore.app": {"dcgan_cli.latent.steer"}}  # the explorer is above the capabilities: not a sibling
    assert reached_inside(graph) == ["dcgan_cli.latent.steer -> dcgan_cli.vector_arithmetic.edits"]


def test_the_layer_rule_catches_an_upward_import():
    assert layer_of("dcgan_cli.core.model") < layer_of("dcgan_cli.attributes.bank") < layer_of("dcgan_cli.analyses.probe")
    assert layer_of("dcgan_cli.analyses.probe") < layer_of("dcgan_cli.explore.app") < layer_of("dcgan_cli.cli.train")


def test_each_command_is_a_module_that_shows_its_result():
    """cli/ holds one module per command; each command function calls the library and shows the result
    with emit() (explore serves a page until Ctrl-C: it has only its URL to show)."""
    from dcgan_cli.cli import COMMANDS, app

    cli = PACKAGE / "cli"
    assert len((cli / "__init__.py").read_text().splitlines()) <= 80
    for name in COMMANDS:
        source = (cli / f"{name}.py").read_text()
        body = next(f for f in ast.parse(source).body if isinstance(f, ast.FunctionDef) and f.name == name)
        assert name == "explore" or "emit(" in ast.get_source_segment(source, body), name
    registered = {c.name for c in app.registered_commands}
    assert registered == {n.replace("_", "-") for n in COMMANDS}


def test_library_modules_never_import_typer_or_rich():
    """The library speaks Python: parsers of command-line forms and printing live in cli/."""
    wrong = []
    for path in PACKAGE.rglob("*.py"):
        if path.is_relative_to(PACKAGE / "cli"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else [])
            wrong += [f"{path.relative_to(ROOT)}: {n}" for n in names if n.split(".")[0] in ("typer", "rich", "click")]
    assert wrong == []


def test_ruff_is_clean():
    """The project's own lint (pyproject [tool.ruff]): line length, pyflakes, sorted imports.
    ruff comes with the [test] extra, so a missing ruff fails here rather than passing unchecked."""
    r = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "dcgan_cli", "tests", "benchmarks"],
                       cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, (r.stdout + r.stderr)[-3000:]
