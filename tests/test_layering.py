"""The package's layering (README, "Architecture"): each folder is one stage and imports
only from the stages below it; no module imports itself back through others; torch is imported
only in `empirical/`; and only `api/sources.py` reaches into `empirical/` from above. Imports under
``if TYPE_CHECKING:`` never run and are left out.

The graph is read from the source (every import statement, those inside functions included), so a
lazy back-import counts as much as a top-level one. The checker is tested on a small tree of its
own with a deliberate back-import, so this test could fail.

Two rules more: `results/` holds values and opens no file (no `open`, no `Path.read_text` …, no
`cnnprof.files` or `cnnprof.cache`); and a command loads only what it runs (`cnnprof count`, run
in a fresh interpreter, has imported no latency, device or empirical module when it ends; nor,
for a registry model whose family the cache keeps, PyYAML or the timing and training values;
`cnnprof --help` lists the commands without the options, the stages or any command module).
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "cnnprof"

# The stages that present a result: JSON and text (report), the terminal's tables (render).
PRESENTATION = {"report", "render"}
# Stage → the stages it may import (itself included). The package's own `__init__`, `__main__`,
# errors and version are listed as stages of their own.
ALLOWED: dict[str, set[str]] = {
    "version": {"version"},
    "cache": {"errors", "files", "cache"},
    # the registry's cached catalogue: below the api package so that `list` loads none of it
    "catalog": {"errors", "cache", "version", "arch", "results", "analytic", "catalog"},
    "errors": {"errors"},
    "files": {"errors", "files"},
    "arch": {"errors", "cache", "files", "version", "arch"},  # version: a key of its caches
    # results: cache and files name no back-import, but results/ may not use them (file_access)
    "results": {"errors", "cache", "files", "arch", "results"},
    "analytic": {"errors", "cache", "files", "arch", "results", "analytic"},
    # the measurement protocol every runtime shares (warm-up, timed runs, interleaving)
    "protocol": {"errors", "files", "results", "protocol"},
    "empirical": {
        "errors",
        "cache",
        "files",
        "arch",
        "results",
        "analytic",
        "protocol",
        "empirical",
    },
    "deploy": {"errors", "cache", "files", "arch", "results", "analytic", "protocol", "deploy"},
    "api": {
        "errors",
        "cache",
        "files",
        "version",
        "arch",
        "results",
        "analytic",
        "protocol",
        "empirical",
        "deploy",
        "api",
    },
    "report": {"errors", "cache", "files", "arch", "results", "report"},
    "render": {"errors", "cache", "files", "arch", "results", "report", "render"},
    "cli": {
        "errors",
        "cache",
        "files",
        "version",
        "catalog",
        "arch",
        "results",
        "api",
        "report",
        "render",
        "cli",
    },
    # the public API, with report and render for `cnnprof.to_json` and `cnnprof.show`
    "__init__": {"errors", "cache", "files", "version", "arch", "results", "api"} | PRESENTATION,
    "__main__": {"cli"},
}
TORCH = ("torch", "torchvision", "timm", "fvcore")
ONNX = ("onnx", "onnxruntime", "onnxscript")  # imported only in deploy/ (torch's exporter aside)
# the modules above `empirical` that may import it: the sources, the other doors (the device's
# calibration), the export of their models, and the worker process that runs a guest model
EMPIRICAL_DOOR = {"api/sources.py", "api/doors.py", "api/exporting.py", "api/guest_worker.py"}
# An import by a name computed at run time, which no reading can follow: allowed only where a
# user's code is imported by design, and in the CLI's command table, which imports a command's
# module when it runs (tests/cli/test_app.py holds every module it names to cli/). The torch
# gate's trial import of torch is allowed too.
DYNAMIC = "<computed name>"
DYNAMIC_ALLOWED = {
    ("empirical/outside.py", DYNAMIC),
    ("cli/app.py", DYNAMIC),
    ("api/sources.py", "torch"),
}


def _stage(relative: Path) -> str:
    return relative.parts[0] if len(relative.parts) > 1 else relative.stem


def _module(relative: Path) -> str:
    parts = list(relative.with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(["cnnprof", *parts])


def _type_only(tree: ast.AST) -> set[ast.AST]:
    """Import statements under ``if TYPE_CHECKING:``: read by type checkers, never run."""
    return {
        inner
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and getattr(node.test, "id", "") == "TYPE_CHECKING"
        for inner in ast.walk(node)
    }


def _imports(tree: ast.AST, package: str, root: Path) -> set[str]:
    """The cnnprof modules and third-party roots a module's import statements name."""
    out: set[str] = set()
    skipped = _type_only(tree)
    for node in ast.walk(tree):
        if node in skipped:
            continue
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.Call) and _dynamic(node):
            argument = node.args[0] if node.args else None
            constant = isinstance(argument, ast.Constant) and isinstance(argument.value, str)
            out.add(argument.value if constant else DYNAMIC)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parent = ".".join(parts[: len(parts) - node.level + 1])
                base = f"{parent}.{node.module}" if node.module else parent
            out.add(base)
            for alias in node.names:  # `from cnnprof.cli import count`: the submodule
                candidate = root.parent / Path(*f"{base}.{alias.name}".split("."))
                if candidate.with_suffix(".py").is_file() or (candidate / "__init__.py").is_file():
                    out.add(f"{base}.{alias.name}")
    return out


def _dynamic(call: ast.Call) -> bool:
    """``importlib.import_module(…)`` or ``__import__(…)``: an import the statements don't show."""
    name = call.func.attr if isinstance(call.func, ast.Attribute) else getattr(call.func, "id", "")
    return name in ("import_module", "__import__")


def _sources(root: Path) -> Iterator[tuple[Path, str, ast.Module, set[str]]]:
    """Each file under root: its path from root, module name, syntax tree and imports."""
    for file in sorted(root.rglob("*.py")):
        relative = file.relative_to(root)
        module = _module(relative)
        package = module if file.name == "__init__.py" else module.rpartition(".")[0]
        tree = ast.parse(file.read_text(encoding="utf-8"))
        yield relative, module, tree, _imports(tree, package, root)


def graph(root: Path) -> dict[str, tuple[str, set[str]]]:
    """Module → (its stage, the modules and packages it imports), for every file under root."""
    sources = _sources(root)
    return {module: (_stage(relative), imported) for relative, module, _, imported in sources}


def violations(root: Path) -> list[str]:
    """Every import that breaks the layering, and every cycle, as readable lines."""
    modules = graph(root)
    problems = []
    for module, (stage, imported) in modules.items():
        relative = module.removeprefix("cnnprof.").replace(".", "/") + ".py"
        for name in sorted(imported):
            top = name.split(".")[0]
            if (relative, name) in DYNAMIC_ALLOWED:
                continue
            if name == DYNAMIC:
                problems.append(f"{module} imports a module by a computed name")
                continue
            if top in TORCH and stage != "empirical":
                problems.append(f"{module} imports {name}: torch belongs to empirical/")
            if top in ONNX and stage != "deploy":
                problems.append(f"{module} imports {name}: onnx belongs to deploy/")
            if top != "cnnprof" or name == "cnnprof":
                if name == "cnnprof" and stage != "__init__":
                    problems.append(f"{module} imports the top-level package")
                continue
            target = name.split(".")[1]
            target_stage = target if target in ALLOWED else target.split(".")[0]
            if target_stage not in ALLOWED.get(stage, set()):
                problems.append(f"{module} ({stage}) imports {name} ({target_stage})")
            if target_stage == "empirical" and stage == "api" and relative not in EMPIRICAL_DOOR:
                problems.append(f"{module} imports {name}: only api/sources.py opens empirical/")
    problems += [f"import cycle: {' → '.join(c)}" for c in _cycles(modules)]
    return problems


def _cycles(modules: dict[str, tuple[str, set[str]]]) -> list[list[str]]:
    edges = {
        m: sorted(i for i in imported if i in modules and i != m)
        for m, (_, imported) in modules.items()
    }
    cycles, state = [], {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = "open"
        for nxt in edges[node]:
            if state.get(nxt) == "open":
                cycles.append([*path[path.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = "done"

    for node in edges:
        if node not in state:
            visit(node, [node])
    return cycles


# `results/` holds values: it opens no file and imports none of the modules that do I/O.
PURE = {"results"}
IO_MODULES = ("cnnprof.files", "cnnprof.cache")
# `open(…)`, `io.open`, `os.open`, `Path.open`, and the `Path` methods that read or write a file.
IO_CALLS = frozenset({"open", "read_text", "read_bytes", "write_text", "write_bytes"})


def file_access(root: Path) -> list[str]:
    """Every place a module of a pure stage opens a file or imports an I/O module."""
    problems = []
    for relative, module, tree, imported in _sources(root):
        if _stage(relative) not in PURE:
            continue
        for name in sorted(imported):
            if any(name == io or name.startswith(f"{io}.") for io in IO_MODULES):
                problems.append(f"{module} imports {name}: {relative.parts[0]}/ opens no file")
        for node in ast.walk(tree):
            called = _called(node)
            if called in IO_CALLS:
                stage = relative.parts[0]
                problems.append(f"{module}:{node.lineno} calls {called}: {stage}/ opens no file")
    return problems


def _called(node: ast.AST) -> str:
    """The name a call calls (``open`` for ``open(…)`` and ``path.open(…)``), else ""."""
    if not isinstance(node, ast.Call):
        return ""
    func = node.func
    return func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")


def test_the_package_is_layered():
    assert violations(PACKAGE) == []


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "cnnprof"
    for name, text in {"__init__.py": "", **files}.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        (path.parent / "__init__.py").touch()
        path.write_text(text, encoding="utf-8")
    return root


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({"arch/a.py": "from cnnprof.cli.app import app\n", "cli/app.py": ""}, "(arch) imports"),
        (
            {"results/a.py": "def f():\n    from cnnprof.api import x\n", "api/x.py": ""},
            "(results) imports",
        ),
        ({"analytic/a.py": "import torch\n"}, "torch belongs to empirical/"),
        (
            {
                "results/a.py": "import importlib\nimportlib.import_module('cnnprof.cli.app')\n",
                "cli/app.py": "",
            },
            "(results) imports",
        ),
        (
            {
                "api/count.py": "import importlib\nname = 'count'\n"
                "importlib.import_module(f'cnnprof.empirical.{name}')\n"
            },
            "computed name",
        ),
        ({"arch/a.py": "from .. import cli\n", "cli/__init__.py": ""}, "(arch) imports"),
        (
            {"api/count.py": "from cnnprof.empirical.count import c\n", "empirical/count.py": ""},
            "only api/sources.py",
        ),
        (
            {
                "arch/a.py": "from cnnprof.arch.b import x\n",
                "arch/b.py": "from cnnprof.arch.a import y\n",
            },
            "import cycle",
        ),
    ],
)
def test_the_checker_catches_a_back_import(tmp_path: Path, files: dict[str, str], expected: str):
    found = violations(_tree(tmp_path, files))
    assert any(expected in line for line in found), found


def test_a_clean_tree_passes_the_checker(tmp_path: Path):
    files = {
        "arch/a.py": "import yaml\n",
        "results/b.py": "from cnnprof.arch.a import x\n",
        "api/sources.py": "from cnnprof.empirical import build\n",
        "empirical/build.py": "",
    }
    assert violations(_tree(tmp_path, files)) == []


def test_a_clean_results_stage_passes_the_file_rule(tmp_path: Path):
    files = {
        "results/a.py": "import json\nfrom pathlib import Path\nx, p = json.dumps({}), Path()\n",
        "arch/load.py": "import cnnprof.files\ntext = open('a.yaml').read()\n",
    }
    assert file_access(_tree(tmp_path, files)) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("data = open('device.json').read()\n", "calls open"),
        ("import io\nio.open('x')\n", "calls open"),
        ("from pathlib import Path\nPath('x').read_text()\n", "calls read_text"),
        ("def save(path):\n    path.write_bytes(b'')\n", "calls write_bytes"),
        ("def read(path):\n    with path.open() as f:\n        return f.read()\n", "calls open"),
        ("import cnnprof.files as files\n", "imports cnnprof.files"),
        ("from cnnprof import cache\n", "imports cnnprof.cache"),
        ("def f():\n    from cnnprof.cache import read_json\n", "imports cnnprof.cache"),
    ],
)
def test_the_file_rule_catches_a_results_module_that_opens_a_file(
    tmp_path: Path, text: str, expected: str
):
    found = file_access(_tree(tmp_path, {"results/a.py": text, "cache.py": "", "files.py": ""}))
    assert any(expected in line for line in found), found


RESULTS = sorted(_module(p.relative_to(PACKAGE)) for p in (PACKAGE / "results").glob("*.py"))


@pytest.mark.parametrize("module", RESULTS)
def test_a_results_module_opens_no_file(module: str):
    assert [p for p in file_access(PACKAGE) if p.startswith((f"{module} ", f"{module}:"))] == []


# What a command must not load: the latency, device and empirical modules a count never runs.
LATENCY = (
    "cnnprof.api.latency",
    "cnnprof.analytic.predictor",
    "cnnprof.results.device",
    "cnnprof.report.latency",
    "cnnprof.render.latency",
    "cnnprof.empirical",
)
OTHER_COMMANDS = ("cnnprof.cli.check", "cnnprof.cli.tables", "cnnprof.cli.latency")
# What the app's own help needs of cnnprof: its table of commands, nothing they import.
STAGES = ("cnnprof.cli.options", "cnnprof.arch", "cnnprof.api", "cnnprof.render", "cnnprof.report")
# What a count of a registry model, its family kept in the cache, never runs.
NOT_COUNTED = ("yaml", *(f"cnnprof.results.{m}" for m in ("timing", "training", "interleaved")))


def loaded_by(argv: list[str], cache: Path) -> set[str]:
    """The modules a fresh interpreter has loaded once ``cnnprof ARGV`` has run."""
    script = (
        "import sys\nfrom cnnprof.cli import main\nmain(sys.argv[2:])\n"
        "open(sys.argv[1], 'w', encoding='utf-8').write('\\n'.join(sys.modules))\n"
    )
    out = cache / "modules.txt"
    env = {**os.environ, "CNNPROF_CACHE_DIR": str(cache)}
    command = [sys.executable, "-c", script, str(out), *argv]
    proc = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return set(out.read_text(encoding="utf-8").split("\n"))


def unused(loaded: set[str], forbidden: tuple[str, ...]) -> list[str]:
    return sorted(m for m in loaded if any(m == f or m.startswith(f"{f}.") for f in forbidden))


COUNT = ["count", "mobilenet", "--alpha", "0.5"]
# What only ONNX work loads (a registry count starts without it).
ONNX = ("onnx", "onnxruntime", "cnnprof.deploy")


@pytest.mark.parametrize(
    ("argv", "forbidden"),
    [
        (["--help"], ("cnnprof.cli.count", *OTHER_COMMANDS, *LATENCY, *STAGES)),
        (["list"], (*OTHER_COMMANDS, *LATENCY)),
        (COUNT, (*OTHER_COMMANDS, *LATENCY, *ONNX)),
    ],
    ids=["help", "list", "count"],
)
@pytest.mark.slow
def test_a_command_loads_only_what_it_runs(tmp_path: Path, argv: list[str], forbidden):
    assert unused(loaded_by(argv, tmp_path), forbidden) == []


@pytest.mark.slow
def test_a_warm_registry_count_parses_no_yaml(tmp_path: Path):
    """The first count parses the family file and keeps its data in the cache; the next reads
    it as JSON (so the check could fail: the first loads PyYAML)."""
    assert "yaml" in loaded_by(COUNT, tmp_path)
    assert unused(loaded_by(COUNT, tmp_path), NOT_COUNTED) == []


@pytest.mark.slow
def test_the_load_check_sees_what_a_command_loads(tmp_path: Path):
    """The check could fail: `latency --help` imports the latency command's module and with it
    the latency and device modules."""
    assert "cnnprof.report.latency" in unused(loaded_by(["latency", "--help"], tmp_path), LATENCY)
