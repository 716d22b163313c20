"""Imports flow one way: contracts <- llm <- stages <- corpus <- training <- flows <- dashboard
<- bench <- CLI (the README's architecture section).

Every `import` / `from ... import` of every installed module is read with `ast` (function-level
imports included, since heavy libraries and later stages are often imported lazily) and checked
against the layer order below. Packages on the same layer are peers and never import each other
(the gate does not reach into generation: both use the LLM layer below them). A module named
`cli.py` or `cli_*.py` is CLI layer wherever it sits: it adapts its stage to the command line and
may import anything but the root app, which imports them.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# folder -> (package name, layer): a module may import its own package and lower layers only
LAYERS: dict[str, tuple[str, int]] = {
    "robustclap/contracts": ("robustclap.contracts", 0),
    "prompts": ("robustclap.prompts", 1),
    "robustclap/llm": ("robustclap.llm", 2),
    "pipeline": ("robustclap.pipeline", 3),
    "quality": ("robustclap.quality", 3),
    "corpus": ("robustclap.corpus", 4),
    "training": ("robustclap.training", 5),
    "flows": ("robustclap.flows", 6),
    "dashboard": ("robustclap.dashboard", 7),
    "bench": ("robustclap.bench", 8),
}
CLI_LAYER = 9
ROOT_APP = "robustclap.cli"
PACKAGE_LAYER = {pkg: layer for pkg, layer in LAYERS.values()}


def _layer_of_import(name: str) -> int | None:
    """Layer of an imported robustclap module (None: not ours, or the package root)."""
    if name in (ROOT_APP, "robustclap.cli_options") or name.startswith(ROOT_APP + "."):
        return CLI_LAYER
    for pkg, layer in PACKAGE_LAYER.items():
        if name == pkg or name.startswith(pkg + "."):
            return layer
    return None


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    out: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.append((node.lineno, node.module))
    return out


def _modules() -> list[tuple[Path, str, int]]:
    found = []
    for folder, (pkg, layer) in LAYERS.items():
        for path in sorted((REPO / folder).rglob("*.py")):
            is_cli = path.stem == "cli" or path.stem.startswith("cli_")
            found.append((path, pkg, CLI_LAYER if is_cli else layer))
    return found


def violations(modules: list[tuple[Path, str, int]]) -> list[str]:
    bad = []
    for path, pkg, layer in modules:
        rel = path.relative_to(REPO) if path.is_relative_to(REPO) else path
        for line, name in _imports(path):
            if name == ROOT_APP or name.startswith(ROOT_APP + "."):
                bad.append(f"{rel}:{line} imports the root CLI app {name}")
                continue
            target = _layer_of_import(name)
            if target is None or name == pkg or name.startswith(pkg + "."):
                continue
            if target >= layer and layer != CLI_LAYER:
                bad.append(f"{rel}:{line} (layer {layer}) imports {name} (layer {target})")
    return bad


def test_every_import_points_to_an_earlier_layer() -> None:
    modules = _modules()
    assert len(modules) > 100  # the whole tree was read, not an empty glob
    assert violations(modules) == []


def test_peers_do_not_import_each_other(tmp_path: Path) -> None:
    """The gate reaches the LLM through the LLM layer, never through the generate stage."""
    judge = tmp_path / "judge.py"
    judge.write_text("from robustclap.pipeline.generate import x\nfrom robustclap.llm import y\n")
    found = violations([(judge, "robustclap.quality", 3)])
    assert len(found) == 1 and "robustclap.pipeline.generate (layer 3)" in found[0]


def test_flows_hold_only_prefect_orchestration() -> None:
    """Every module of flows/ uses Prefect; what does not (publishing, the readers' contract,
    cards, export) lives in corpus/, which the dashboard and training read without Prefect."""
    plain = []
    for path in sorted((REPO / "flows").glob("*.py")):
        if path.name == "__init__.py":
            continue
        names = [n for _, n in _imports(path)]
        if not any(n == "prefect" or n.startswith("prefect.") for n in names):
            plain.append(path.name)
    assert plain == []


def test_a_backward_import_is_reported(tmp_path: Path) -> None:
    """The check itself can fail: a stage importing a later stage or the CLI is caught."""
    stage = tmp_path / "stage.py"
    stage.write_text("def f():\n    from robustclap.flows.publish import versions\n"
                     "from robustclap.contracts.errors import RobustclapError\n")
    cli = tmp_path / "cli.py"
    cli.write_text("from robustclap.cli import app\n")
    found = violations([(stage, "robustclap.quality", 3), (cli, "robustclap.quality", CLI_LAYER)])
    assert len(found) == 2
    assert "imports robustclap.flows.publish (layer 6)" in found[0]
    assert "root CLI app" in found[1]


@pytest.mark.parametrize("root_folder", ["pipeline", "flows", "training", "quality", "prompts",
                                         "dashboard", "bench", "corpus"])
def test_no_generic_top_level_package_is_importable_from_an_install(root_folder: str) -> None:
    """The install maps each design-card folder under robustclap.*; pyproject names no bare
    top-level package (checked in the file that decides what lands in site-packages)."""
    import tomllib

    cfg = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]
    packages = cfg["setuptools"]["packages"]
    assert all(p == "robustclap" or p.startswith("robustclap.") for p in packages)
    assert cfg["setuptools"]["package-dir"][f"robustclap.{root_folder}"] == root_folder
