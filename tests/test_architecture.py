"""The architecture rules of docs/architecture.md, held by CI with the import-linter contract."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FIRST_PARTY = ("core", "organizations", "tokens", "budgets", "optimization", "analytics", "ingestion", "live",
               "demo", "netra_site", "netra_client", "gateway")
MAX_MODULE_LINES = 400


def project_modules() -> list[Path]:
    """Every Python module of the apps, the SDK and the benchmarks, outside migrations and tests."""
    folders = [ROOT / name for name in FIRST_PARTY if (ROOT / name).is_dir()] + [ROOT / "bench"]
    return sorted(
        path for folder in folders for path in folder.rglob("*.py")
        if "migrations" not in path.parts and "build" not in path.parts
    )


def _first_party(node: ast.Import | ast.ImportFrom) -> list[str]:
    names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else [node.module or ""]
    return [n for n in names if n.split(".")[0] in FIRST_PARTY]


def nested_imports(path: Path) -> list[str]:
    """Imports of the project's own modules inside functions (AppConfig.ready excepted) or under except ImportError."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []

    def visit(node: ast.AST, in_function: bool, in_ready: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                visit(child, True, child.name == "ready" and path.name == "apps.py")
            elif isinstance(child, ast.Try) and any(
                isinstance(h.type, ast.Name) and h.type.id in ("ImportError", "ModuleNotFoundError")
                for h in child.handlers
            ):
                found.append(f"{path.relative_to(ROOT)}:{child.lineno} except ImportError")
                visit(child, in_function, in_ready)
            elif isinstance(child, ast.Import | ast.ImportFrom) and in_function and not in_ready:
                if _first_party(child):
                    found.append(f"{path.relative_to(ROOT)}:{child.lineno} {ast.unparse(child)}")
            else:
                visit(child, in_function, in_ready)

    visit(tree, False, False)
    return found


def test_no_function_level_imports_of_the_projects_own_modules():
    tests = sorted((ROOT / "tests").rglob("*.py"))
    offenders = [line for path in [*project_modules(), *tests] for line in nested_imports(path)]
    assert offenders == []


def test_no_module_over_400_lines():
    long = {str(p.relative_to(ROOT)): n for p in project_modules() if (n := len(p.read_text().splitlines())) > 400}
    assert long == {}


def test_the_apps_are_layers():
    """lint-imports (import-linter) keeps every app importing only from the layers below it."""
    result = subprocess.run([str(Path(sys.executable).parent / "lint-imports")], cwd=ROOT, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "Contracts: 2 kept, 0 broken." in result.stdout


@pytest.mark.parametrize("path", ["core/errors.py", "core/money.py", "core/db.py", "core/events.py"])
def test_the_ground_layer_imports_no_app(path):
    tree = ast.parse((ROOT / path).read_text())
    imported = [n for node in ast.walk(tree) if isinstance(node, ast.Import | ast.ImportFrom)
                for n in _first_party(node)]
    assert [n for n in imported if not n.startswith("core")] == []


def test_no_signal_receivers_hide_a_step():
    """Every step of a flow is named by the function that runs it (ingestion.services.usage_ingest,
    budgets.services.check.budget_check): no module defines or connects Django signals."""
    signal_modules = ("django.dispatch", "django.db.models.signals", "django.core.signals", "django.test.signals")
    hooked = []
    for path in project_modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module in signal_modules:
                hooked.append(f"{path.relative_to(ROOT)}:{node.lineno} {ast.unparse(node)}")
    assert hooked == []
