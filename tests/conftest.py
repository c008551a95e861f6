"""Shared test helpers. The backend is chosen by KERAS_BACKEND, as Keras reads it."""

import os
import subprocess
import sys
import textwrap

import keras
import pytest


@pytest.fixture(autouse=True)
def _seed_everything():
    keras.utils.set_random_seed(1234)
    yield
    keras.backend.clear_session()


@pytest.fixture
def run_in_fresh_process():
    """Runs Python source in a new interpreter (same backend) and returns its stdout."""

    def run(source, **environment):
        env = dict(os.environ, KERAS_BACKEND=keras.backend.backend(), **environment)
        env["TF_CPP_MIN_LOG_LEVEL"] = "3"
        result = subprocess.run(
            [sys.executable, "-c", textwrap.dedent(source)],
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
        )
        if result.returncode != 0:
            raise AssertionError(
                f"fresh process failed ({result.returncode}):\n{result.stderr[-4000:]}"
            )
        return result.stdout

    return run
