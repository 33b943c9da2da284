"""The layering: lower modules do not import those built on them; tests and bench not each other."""

import ast
import os
import pathlib
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _imports(module):
    """Return the shopsync modules a fresh interpreter loads to import `module`."""
    result = subprocess.run(
        [sys.executable, "-c", f"import sys, {module}; print(' '.join(sorted(sys.modules)))"],
        cwd=ROOT, capture_output=True, text=True, check=True, timeout=60)
    return set(result.stdout.split())


@pytest.mark.parametrize("lower", ["shopsync.ingest", "shopsync.failed_items"])
def test_applying_records_does_not_import_the_dead_letter_queue_built_on_it(lower):
    assert "shopsync.dlq" not in _imports(lower)


def _imported_packages(directory):
    """Return {file: top-level packages it imports} for the Python files of `directory`."""
    found = {}
    for path in sorted((pathlib.Path(ROOT) / directory).glob("*.py")):
        names = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names.add(node.module.split(".")[0])
        found[path.name] = names
    return found


def test_tests_and_benchmarks_share_support_only_through_shopsync_testing():
    assert [name for name, packages in _imported_packages("bench").items() if "tests" in packages] == []
    # Only the benchmarks' own tests import them: the smoke runs, and the chaos run and its judge.
    assert [name for name, packages in _imported_packages("tests").items() if "bench" in packages] == [
        "test_bench_smoke.py", "test_chaos.py"]
