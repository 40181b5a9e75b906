import os
import shutil
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SAMPLE = os.path.join(ROOT, "recordings", "sample")
BIN = os.path.join(ROOT, "target", "release", "paper_trader")


@pytest.fixture(scope="session")
def sample():
    if not os.path.exists(SAMPLE):
        pytest.skip("no recordings/sample")
    return SAMPLE


@pytest.fixture(scope="session")
def cli():
    """The CLI binary (`cargo build --release`), to compare against."""
    if not os.path.exists(BIN):
        subprocess.run(["cargo", "build", "--release", "--quiet", "--bin", "paper_trader"], cwd=ROOT, check=True)
    return BIN


@pytest.fixture(scope="session")
def short_window():
    """The first ten minutes of the sample: enough fills, a quick replay."""
    return "+600s"
