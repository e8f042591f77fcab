"""The layer rule of docs/ARCHITECTURE.md, checked by import-linter against the contracts
in pyproject.toml, and the absence of any import circle between modules (grimp, the graph
import-linter builds); and proof that each check can fail: a forbidden import planted in a
copy of the package breaks the contract that names it, two planted imports make a circle."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

LINT = ("import sys; from importlinter.cli import lint_imports; "
        "sys.exit(lint_imports(no_cache=True, no_logo=True))")


def lint(tree: Path) -> subprocess.CompletedProcess[str]:
    """Run import-linter on the package in ``tree`` with the contracts of its pyproject.toml."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    return subprocess.run([sys.executable, "-c", LINT], cwd=tree, env=env, text=True,
                          capture_output=True, timeout=120)


def test_the_package_keeps_every_contract():
    result = lint(REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Contracts: 7 kept, 0 broken." in result.stdout


# Every import circle between two or more modules: strongly connected components of the
# module graph (function-level imports count: they run too, only later).
CIRCLES = """
import sys
import grimp
graph = grimp.build_graph("imapsession", cache_dir=None)
index, low, stack, on_stack, circles = {}, {}, [], set(), []
sys.setrecursionlimit(10000)
def visit(module):
    index[module] = low[module] = len(index)
    stack.append(module)
    on_stack.add(module)
    for imported in graph.find_modules_directly_imported_by(module):
        if imported not in index:
            visit(imported)
            low[module] = min(low[module], low[imported])
        elif imported in on_stack:
            low[module] = min(low[module], index[imported])
    if low[module] == index[module]:
        component = []
        while True:
            member = stack.pop()
            on_stack.discard(member)
            component.append(member)
            if member == module:
                break
        if len(component) > 1:
            circles.append(" ".join(sorted(component)))
for module in sorted(graph.modules):
    if module not in index:
        visit(module)
print("\\n".join(circles))
"""


def circles(tree: Path) -> list[str]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    result = subprocess.run([sys.executable, "-c", CIRCLES], cwd=tree, env=env, text=True,
                            capture_output=True, timeout=120, check=True)
    return result.stdout.strip().splitlines()


def test_no_import_circle_anywhere():
    assert circles(REPO) == []


def module_file(tree: Path, dotted: str) -> Path:
    """The file that holds ``dotted`` (a module or a package's __init__)."""
    base = tree.joinpath(*dotted.split("."))
    return base / "__init__.py" if base.is_dir() else base.with_suffix(".py")


# (module to plant in, the forbidden import, the contract names that must then break)
PLANTS = [
    ("imapsession.commands.store", "import imapsession.session",
     ["Commands do not import the session", "Layers from bytes to files"]),
    ("imapsession.storage.mbox", "import imapsession.storage.maildir",
     ["Neither storage backend imports the other"]),
    ("imapsession.storage.base", "import imapsession.view",
     ["Storage knows nothing of IMAP syntax", "Layers from bytes to files"]),
    ("imapsession.protocol.types", "import imapsession.storage",
     ["Protocol imports nothing of ours"]),
    ("imapsession.text.mutf7", "import imapsession.protocol",
     ["imapsession.text is the leaf"]),
]


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> Path:
    copy = tmp_path_factory.mktemp("contracts")
    shutil.copytree(REPO / "imapsession", copy / "imapsession",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "pyproject.toml", copy / "pyproject.toml")
    return copy


@pytest.mark.parametrize("module, planted, broken", PLANTS, ids=[p[0] for p in PLANTS])
def test_a_planted_forbidden_import_breaks_its_contract(tree, module, planted, broken):
    path = module_file(tree, module)
    original = path.read_text()
    path.write_text(original + f"\n{planted}  # planted by the test\n")
    try:
        result = lint(tree)
    finally:
        path.write_text(original)
    assert result.returncode != 0, result.stdout
    report = result.stdout
    for name in broken:
        line = next((ln for ln in report.splitlines() if ln.startswith(name)), None)
        assert line is not None and line.rstrip().endswith("BROKEN"), (name, report)
    assert planted.split()[-1] in report  # the report names the forbidden import


def test_a_planted_circle_is_found(tree):
    first = module_file(tree, "imapsession.protocol.types")
    second = module_file(tree, "imapsession.protocol.serializer")
    originals = first.read_text(), second.read_text()
    first.write_text(originals[0] + "\nimport imapsession.protocol.serializer  # planted\n")
    second.write_text(originals[1] + "\nimport imapsession.protocol.types  # planted\n")
    try:
        found = circles(tree)
    finally:
        first.write_text(originals[0])
        second.write_text(originals[1])
    assert found == ["imapsession.protocol.serializer imapsession.protocol.types"]
