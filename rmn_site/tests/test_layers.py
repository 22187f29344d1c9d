"""The layering is a checked rule: `lint-imports` (contracts in pyproject.toml) passes on this tree, and each
contract fails when a violation of it is planted in a copy of the tree. Plus the one rule between services and
Celery tasks that the acyclic contract's ignore_imports relies on."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ["rmn_site", "core", "governance", "campaigns", "harmonization", "optimizer", "ml", "feedback", "demo"]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint(root: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"], cwd=root, capture_output=True, text=True, timeout=300, check=False
    )


@pytest.fixture(scope="module")
def tree_copy(tmp_path_factory) -> Path:
    """The packages' Python files and pyproject.toml, where violations can be planted without touching the tree."""
    root = tmp_path_factory.mktemp("tree")
    shutil.copy(ROOT / "pyproject.toml", root / "pyproject.toml")
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            target = root / path.relative_to(ROOT)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(path, target)
    return root


def _plant(root: Path, module: str, line: str):
    path = root / module
    original = path.read_text()
    path.write_text(original + "\n" + line + "\n")
    return lambda: path.write_text(original)


def test_the_tree_keeps_every_contract(tree_copy):
    result = _lint(tree_copy)
    assert result.returncode == 0, result.stdout[-3000:]
    import tomllib

    contracts = tomllib.loads((tree_copy / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    assert f"Contracts: {len(contracts)} kept, 0 broken." in result.stdout


@pytest.mark.parametrize(
    ("module", "line", "broken", "names"),
    [
        # a lower layer importing a higher one
        ("campaigns/models.py", "from ml import models as _ml_models", "Apps are layered", "campaigns.models -> ml"),
        ("governance/models.py", "import core.errors", "Apps are layered", "governance.models -> core.errors"),
        ("optimizer/views/plans.py", "import harmonization.services", "Apps are layered", "optimizer"),
        # an engine reaching Django, directly or through an app's Django module
        ("optimizer/engine/curves.py", "import django.db", "Engines import nothing", "optimizer.engine.curves"),
        ("ml/engine/prompts.py", "from ml import models as _models", "Engines import nothing", "ml.engine.prompts"),
        # the PII core reaching Django or the governance models
        ("governance/pii/redact.py", "import django.db", "The PII core", "governance.pii.redact"),
        ("governance/pii/engine.py", "from governance import models as _m", "The PII core", "governance.pii.engine"),
        # the clean room's core reaching Django or the governance models
        ("governance/cleanroom/engine.py", "import django.db", "clean room's core", "governance.cleanroom.engine"),
        ("governance/cleanroom/rules.py", "import governance.models", "clean room's core", "governance.cleanroom"),
        # a loop between two modules of one app
        ("optimizer/models.py", "from optimizer import selectors as _s", "No import cycles", "optimizer"),
    ],
)
def test_a_planted_violation_breaks_its_contract(tree_copy, module, line, broken, names):
    restore = _plant(tree_copy, module, line)
    try:
        result = _lint(tree_copy)
    finally:
        restore()
    assert result.returncode == 1, result.stdout[-3000:]
    report = result.stdout.split("Broken contracts")[-1]  # the broken contracts, each with the imports that broke it
    assert report.count("Broken contracts") == 0 and broken in report and names in report


def _first_party(node: ast.stmt) -> list[str]:
    if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
        names = [node.module]
    elif isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    else:
        return []
    return [name for name in names if name.split(".")[0] in PACKAGES]


def test_tasks_import_their_services_inside_the_task():
    """HackSoft's rule: a tasks module imports no app code at the top (only inside each task)."""
    offenders = []
    for package in PACKAGES:
        path = ROOT / package / "tasks.py"
        if path.exists():
            tree = ast.parse(path.read_text())
            offenders += [f"{package}/tasks.py: {name}" for node in tree.body for name in _first_party(node)]
    assert offenders == []


def test_services_import_tasks_at_the_top():
    """The other half: a service that enqueues imports the tasks module at the top, never inside a function."""
    inside = []
    for path in [*ROOT.glob("*/services.py"), *ROOT.glob("*/services/*.py"), *ROOT.glob("ml/jobs.py"),
                 *ROOT.glob("ml/inference.py")]:  # fmt: skip
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                for inner in ast.walk(node):
                    if isinstance(inner, ast.Import | ast.ImportFrom):
                        inside += [f"{path.relative_to(ROOT)}: {n}" for n in _first_party(inner) if n.endswith("tasks")]
    assert inside == []
