"""The package's shape: no import cycles, lower layers that do not reach up, a thin CLI, a clean lint."""

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
    """Module -> the package modules it imports, at the top or inside functions alike; imports under
    `if TYPE_CHECKING:` are left out (they never run). `dcgan_cli` itself (its version) is left out too."""
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
            def visit_If(self, node: ast.If) -> None:
                if not (isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"):
                    self.generic_visit(node)

            def visit_Import(self, node: ast.Import) -> None:
                deps.update(a.name for a in node.names if a.name in mods)

            def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
                deps.update(t for t in targets(node) if t in mods)

        Visitor().visit(ast.parse(path.read_text()))
        graph[name] = deps - {name, "dcgan_cli"}
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


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle_in_the_package():
    assert cycles(import_graph()) == []


# Who may import whom: the shared layer (the package's top-level modules and data/) knows nothing of
# the commands above it; evaluation does not reach into analysis; nothing but the CLI imports it.
# explore/ is a front end like the CLI: it calls the analyses, and nothing below it imports it.
UPPER = ("dcgan_cli.analysis", "dcgan_cli.evaluation", "dcgan_cli.training", "dcgan_cli.explore", "dcgan_cli.cli",
         "dcgan_cli.cli.console")
CLI_ONLY = ("dcgan_cli.cli", "dcgan_cli.cli.options", "dcgan_cli.cli.console", "dcgan_cli.__main__")


def _reaches(module: str, prefixes: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def test_layers_import_only_downwards():
    graph = import_graph()
    wrong = []
    for name, deps in graph.items():
        lower = not _reaches(name, UPPER + CLI_ONLY)
        for d in deps:
            evaluation_into_analysis = name.startswith("dcgan_cli.evaluation") and _reaches(d, ("dcgan_cli.analysis",))
            if (lower and _reaches(d, UPPER)) or evaluation_into_analysis:
                wrong.append(f"{name} -> {d}")
            if _reaches(d, CLI_ONLY) and not _reaches(name, CLI_ONLY):
                wrong.append(f"{name} -> {d}")
    assert wrong == []
    below_explore = [f"{n} -> {d}" for n, deps in graph.items() for d in deps
                     if _reaches(d, ("dcgan_cli.explore",)) and not _reaches(n, ("dcgan_cli.explore", *CLI_ONLY))]
    assert below_explore == []


def test_cli_is_thin():
    """cli.py parses, calls one library function per command and emits its result."""
    source = (PACKAGE / "cli.py").read_text()
    assert len(source.splitlines()) < 560  # about 35 lines a command, most of them its options
    tree = ast.parse(source)
    commands = [f for f in tree.body if isinstance(f, ast.FunctionDef) and any(
        isinstance(d, ast.Call) and getattr(d.func, "attr", "") == "command" for d in f.decorator_list)]
    assert len(commands) == 15
    emitted = [f.name for f in commands if "emit(" in ast.get_source_segment(source, f)]
    serves = ["explore"]  # a server until Ctrl-C: it has no result to show, only its URL
    assert sorted(emitted + serves) == sorted(f.name for f in commands), "every command shows its result through emit()"


def test_ruff_is_clean():
    """The project's own lint (pyproject [tool.ruff]): line length, pyflakes, sorted imports.
    ruff comes with the [test] extra, so a missing ruff fails here rather than passing unchecked."""
    r = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "dcgan_cli", "tests", "benchmarks"],
                       cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, (r.stdout + r.stderr)[-3000:]
