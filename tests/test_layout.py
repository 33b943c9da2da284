"""The package's layering: lower modules do not import the ones built on them."""

import os
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
