"""The house's one-way data flow, checked on the source (an AST walk; no import needed).

Layers, low to high: errors/_registry/settings < data < seq/simulate/bio < featurize < models <
evaluate < tasks < challenges < engine < report < cli/__init__. A module imports only from its own
layer or lower ones (function-level imports count; ``if TYPE_CHECKING:`` blocks do not), and a task
package never imports another task package.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "genotx"
LAYERS = {"errors": 0, "_registry": 0, "settings": 0, "data": 1, "seq": 2, "simulate": 2, "bio": 2, "featurize": 3,
          "models": 4, "evaluate": 5, "tasks": 6, "challenges": 7, "engine": 8, "report": 9, "cli": 10, "__init__": 10}


def _imports(path: Path, root: Path = ROOT):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
            for n in ast.walk(node)}
    rel = path.relative_to(root).with_suffix("").parts
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("genotx"):
            yield node.module, node.lineno
        elif isinstance(node, ast.ImportFrom) and node.level > 0:
            base = list(rel[: len(rel) - node.level])
            yield ".".join(["genotx", *base, *((node.module or "").split(".") if node.module else [])]), node.lineno
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("genotx"):
                    yield alias.name, node.lineno


def _layer(parts: tuple[str, ...]) -> int:
    head = parts[0] if parts else "__init__"
    if head not in LAYERS:
        raise AssertionError(f"genotx/{head} is not in the layer list of tests/test_layers.py: place it there")
    return LAYERS[head]


def back_imports(root: Path = ROOT) -> list[str]:
    bad = []
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root).with_suffix("").parts
        for name, line in _imports(path, root):
            target = tuple(name.split(".")[1:])
            if _layer(target) > _layer(rel):
                bad.append(f"genotx/{'/'.join(rel)}.py:{line} imports {name} (a higher layer)")
            if rel[0] == "tasks" and target[:1] == ("tasks",) and len(rel) >= 3 and len(target) >= 3 and rel[2] != target[2]:
                bad.append(f"genotx/{'/'.join(rel)}.py:{line} imports {name} (another task)")
    return bad


def test_no_import_runs_back_up_the_layers():
    assert back_imports() == []


def test_the_check_catches_a_back_import(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "x.py").write_text("def f():\n    from genotx.models.nets import mlp\n")
    (tmp_path / "tasks" / "a" / "one").mkdir(parents=True)
    (tmp_path / "tasks" / "a" / "one" / "__init__.py").write_text("from genotx.tasks.a.two import load\n")
    found = back_imports(tmp_path)
    assert any("data/x.py:2" in b for b in found) and any("another task" in b for b in found)


@pytest.mark.parametrize("name", ["tasks", "engine"])
def test_layers_cover_the_package(name):
    assert name in LAYERS and (ROOT / name).is_dir()
