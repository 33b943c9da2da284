"""A copy of the repository alone in an empty directory runs the suite: nothing reads outside it."""

import os
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _repository_files():
    """Return the paths git keeps (tracked or new, ignored ones left out), relative to ROOT."""
    if not os.path.exists(os.path.join(ROOT, ".git")):  # a directory, or a file in a worktree
        pytest.skip("not a git checkout")
    listing = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                             cwd=ROOT, capture_output=True, check=True).stdout
    paths = [path for path in listing.decode().split("\0") if path]
    return [path for path in paths if os.path.exists(os.path.join(ROOT, path))]


def test_a_copy_in_an_empty_directory_runs_the_tests_that_read_fixtures(tmp_path):
    clone = tmp_path / "empty" / "shopsync"
    for path in _repository_files():
        target = clone / path
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(os.path.join(ROOT, path), target)
    env = {name: value for name, value in os.environ.items() if not name.startswith("SHOPSYNC_")}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_webhooks.py",
         "tests/test_simulator.py", "-k", "hmac or fixture or sample"],
        cwd=clone, env=env, capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert " passed" in result.stdout.splitlines()[-1]
