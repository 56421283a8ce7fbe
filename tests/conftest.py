import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data"
SEQLAB = Path(sys.executable).parent / "seqlab"


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT
