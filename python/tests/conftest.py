"""Fixtures of the Python tests: the package from this tree, the example data, and one
model trained on examples/assistant.tsv for the whole session (half a second)."""
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # python/, so that `import intent` finds the package

REPO = HERE.parent.parent
EXAMPLES = REPO / "examples"

import intent  # noqa: E402


@pytest.fixture(scope="session")
def examples() -> Path:
    return EXAMPLES


@pytest.fixture(scope="session")
def model_path(tmp_path_factory) -> Path:
    m = intent.train(EXAMPLES / "assistant.tsv", none_label="oos", threads=2)
    path = tmp_path_factory.mktemp("model") / "assistant.intent"
    m.save(path)
    m.close()
    return path


@pytest.fixture(scope="session")
def model(model_path):
    m = intent.Model.load(model_path)
    yield m
    m.close()
