"""The benchmark's subprocesses: one per Keras backend, and one for the PyTorch rungs."""

import importlib.util
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

from keras_rnninit.benchmark import torch_rungs
from keras_rnninit.benchmark.ladder import DEFAULT_TIMESTEPS, TORCH_MODELS, make_adding_batch
from keras_rnninit.benchmark.tables import add_ratios, describe_machine


def _torch_installed():
    # Found without importing it: importing torch here would put its thread pool in the
    # process that times the Keras rungs.
    return importlib.util.find_spec("torch") is not None


def run_torch_rungs(
    models=TORCH_MODELS,
    timesteps=DEFAULT_TIMESTEPS,
    batch_size=32,
    input_dim=2,
    units=128,
    layers=2,
    repeats=5,
    warmup=1,
    max_seconds_per_row=120.0,
    log=None,
):
    """Times the PyTorch rungs (`keras_rnninit.benchmark.torch_rungs`) in a subprocess, on the same
    batches as the Keras rungs (`make_adding_batch`, seed 0).

    torch is optional: without it every requested row is a skipped row whose note says so.
    The subprocess imports neither Keras nor this package, so no backend's thread pool
    competes with torch's. A row that runs stops repeating once past `max_seconds_per_row`
    (nothing is predicted or skipped: PyTorch's loops grow linearly in T).

    Args:
        models: Rungs, from `TORCH_MODELS`. Defaults to all.
        timesteps: As in `run_benchmark`.
        batch_size: As in `run_benchmark`.
        input_dim: As in `run_benchmark`.
        units: As in `run_benchmark`.
        layers: As in `run_benchmark`.
        repeats: As in `run_benchmark`.
        warmup: As in `run_benchmark`.
        max_seconds_per_row: As in `run_benchmark`.
        log: As in `run_benchmark`.

    Returns:
        A list of row dicts with `backend="torch"` (see `ROW_KEYS`), `vs_twin` filled in
        (against `torch_twin`); `add_ratios` over these and the Keras rows fills
        `vs_indrnn_auto`.
    """
    unknown = [m for m in models if m not in TORCH_MODELS]
    if unknown:
        raise ValueError(
            f"`models` must be taken from {TORCH_MODELS}. Received: models={list(models)}"
        )
    machine = describe_machine()

    def skipped(note):
        return add_ratios(
            [
                {
                    "backend": "torch",
                    "model": model,
                    "method": None,
                    "timesteps": length,
                    "batch_size": batch_size,
                    "input_dim": input_dim,
                    "units": units,
                    "layers": layers,
                    "jit_compile": False,
                    "dropout": None,
                    "ms_per_step": None,
                    "repeats": 0,
                    "note": note,
                    "machine": machine,
                }
                for length in sorted(timesteps)
                for model in models
            ]
        )

    if not _torch_installed():
        return skipped("skipped: torch is not installed (optional: pip install torch)")
    with tempfile.TemporaryDirectory() as directory:
        for length in sorted(timesteps):
            inputs, targets = make_adding_batch(batch_size, length, input_dim)
            np.save(os.path.join(directory, f"inputs_{length}.npy"), inputs)
            np.save(os.path.join(directory, f"targets_{length}.npy"), targets)
        path = os.path.join(directory, "rows.json")
        command = [
            sys.executable,
            torch_rungs.__file__,
            "--data",
            directory,
            "--output",
            path,
            "--models",
            ",".join(models),
            "--units",
            str(units),
            "--layers",
            str(layers),
            "--repeats",
            str(repeats),
            "--warmup",
            str(warmup),
            "--max-seconds-per-row",
            str(max_seconds_per_row or 0),
        ]
        if log is None:
            command.append("--quiet")
        if log is not None:
            log("=== torch ===")
        result = subprocess.run(command)
        if result.returncode != 0 or not os.path.exists(path):
            return skipped(f"failed: the torch subprocess exited with status {result.returncode}")
        with open(path) as handle:
            rows = json.load(handle)
    for row in rows:
        row["machine"] = machine
    return add_ratios(rows)


def run_backends(argv, backends, models, log=None):
    """Runs `python -m keras_rnninit.benchmark` once per backend, each in a subprocess with
    that `KERAS_BACKEND`, and returns the merged rows with their ratios.

    `log` (or `None`) gets a header line per backend; a backend that fails is always reported,
    on stderr."""
    rows = []
    for backend in backends:
        with tempfile.TemporaryDirectory() as directory:
            path = os.path.join(directory, "rows.json")
            # The parent times the input pipeline once, against every backend's rows, and the
            # PyTorch rungs once, in their own process.
            child = strip_options(argv, ("--backends", "--output", "--models"))
            child += ["--output", path, "--no-pipeline", "--models", ",".join(models)]
            env = dict(os.environ, KERAS_BACKEND=backend)
            env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
            if log is not None:
                log(f"=== backend {backend} ===")
            # The child's own table goes nowhere: the merged table is printed once, here. Its
            # progress lines and errors (stderr) pass through.
            result = subprocess.run(
                [sys.executable, "-m", "keras_rnninit.benchmark", *child],
                env=env,
                stdout=subprocess.DEVNULL,
            )
            if result.returncode != 0 or not os.path.exists(path):
                print(
                    f"backend {backend} failed with exit status {result.returncode}",
                    file=sys.stderr,
                    flush=True,
                )
                continue
            with open(path) as handle:
                rows.extend(json.load(handle))
    return add_ratios(rows)


def strip_options(argv, names):
    kept = []
    skip = False
    for item in argv:
        if skip:
            skip = False
            continue
        if item in names:
            skip = True
            continue
        if any(item.startswith(name + "=") for name in names):
            continue
        kept.append(item)
    return kept
