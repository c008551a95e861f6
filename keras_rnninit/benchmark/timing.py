"""Timing one training step, predicting a row's cost from shorter lengths, running the ladder."""

import gc
import math

import keras
import numpy as np

from keras_rnninit.benchmark import torch_rungs
from keras_rnninit.benchmark.ladder import (
    DEEP_MODELS,
    DEEP_TWINS,
    DEFAULT_TIMESTEPS,
    KERAS_MODELS,
    METHODS,
    MODELS,
    build_model,
    make_adding_batch,
)
from keras_rnninit.benchmark.tables import add_ratios, describe_machine, progress_line

# A row is skipped when the cost predicted from the same rung's shorter lengths passes the
# budget. The growth exponent is measured from the last two lengths, but never assumed below 1
# (nothing gets cheaper with length) nor above 2.5.
_MIN_EXPONENT = 1.0
_MAX_EXPONENT = 2.5


def time_training_step(network, inputs, targets, repeats=5, warmup=1, max_seconds=None):
    """Median milliseconds of one `train_on_batch` step, after a compile step and warm-up.

    Args:
        network: A compiled model.
        inputs: Input tensor, reused for every step.
        targets: Target tensor, reused for every step.
        repeats: Timed steps, `>= 1`. Defaults to `5`.
        warmup: Untimed steps after the first (compiling) one. Defaults to `1`.
        max_seconds: Once this many seconds have passed, stop after the current step (at least
            one timed step always runs). Defaults to `None` (no limit).

    Returns:
        A dict: `ms_per_step` (median), `ms_min`, `ms_max`, `repeats` (timed steps actually
        run), `first_step_s` (the compile step, seconds), `loss` (the last step's loss).
    """

    # train_on_batch returns the loss as a NumPy value, which waits for the step to finish on
    # every backend, so each timed interval covers the whole step.
    def step():
        return np.asarray(network.train_on_batch(inputs, targets)).reshape(-1)[0]

    return torch_rungs.time_steps(step, repeats=repeats, warmup=warmup, max_seconds=max_seconds)


def _predict_seconds(history, timesteps, warmup, repeats):
    """Predicted seconds for a row from the same rung's measured rows, or None."""
    if not history:
        return None
    points = sorted(history.items())
    (t1, (ms1, first1)) = points[-1]
    exponent = 2.0
    if len(points) >= 2:
        (t0, (ms0, _)) = points[-2]
        if t1 != t0 and ms0 > 0 and ms1 > 0:
            exponent = math.log(ms1 / ms0) / math.log(t1 / t0)
    exponent = min(max(exponent, _MIN_EXPONENT), _MAX_EXPONENT)
    scale = (timesteps / t1) ** exponent
    step = ms1 * scale / 1000.0
    # The first step compiles. Loops are compiled once, not unrolled, so that cost (beyond the
    # step itself) is taken as independent of the length.
    compile_extra = max(first1 - ms1 / 1000.0, 0.0)
    return compile_extra + step * (1 + warmup + repeats)


def run_benchmark(
    models=MODELS,
    methods=METHODS,
    timesteps=DEFAULT_TIMESTEPS,
    batch_size=32,
    input_dim=2,
    units=128,
    layers=2,
    repeats=5,
    warmup=1,
    jit_compile=True,
    max_seconds_per_row=120.0,
    log=None,
    dropout=0.0,
):
    """Times every requested rung at every length on the current Keras backend.

    Args:
        models: Rungs to time, a subset of `MODELS`. Defaults to all.
        methods: IndRNN methods to time for `"indrnn"`. Defaults to all of `METHODS`.
        timesteps: Sequence lengths, timed in increasing order. Defaults to
            `(100, 250, 500, 1000, 5000)`.
        batch_size: Defaults to `32`.
        input_dim: Defaults to `2`.
        units: Defaults to `128`.
        layers: Defaults to `2`.
        repeats: Timed steps per row. Defaults to `5`.
        warmup: Untimed steps per row after the compile step. Defaults to `1`.
        jit_compile: Defaults to `True`.
        max_seconds_per_row: Skip a row (with a note) when its cost predicted from the same
            rung's shorter lengths passes this; a row that runs stops repeating once past it.
            `None` for no limit. Defaults to `120.0`.
        log: Called with one line of progress per row, or `None`. Defaults to `None`.
        dropout: The deep recipes' and their twins' dropout (see `build_model`). Defaults to
            `0.0`.

    Returns:
        A list of row dicts (see `ROW_KEYS`), with the ratios filled in by `add_ratios`.

    Example:

    >>> rows = keras_rnninit.benchmark.run_benchmark(
    ...     models=("twin", "lstm"), timesteps=(8,), repeats=1
    ... )
    """
    unknown = [m for m in models if m not in KERAS_MODELS]
    if unknown:
        raise ValueError(
            f"`models` must be taken from {KERAS_MODELS} (the PyTorch rungs run in their own "
            f"process: `run_torch_rungs`). Received: models={list(models)}"
        )
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise ValueError(
            f"`methods` must be taken from {METHODS}. Received: methods={list(methods)}"
        )
    backend = keras.backend.backend()
    machine = describe_machine()
    rungs = []
    for model in models:
        for method in methods if model == "indrnn" else (None,):
            rungs.append((model, method))
    histories = {}
    failed = set()
    rows = []
    for length in sorted(timesteps):
        inputs, targets = make_adding_batch(batch_size, length, input_dim)
        inputs = keras.ops.convert_to_tensor(inputs)
        targets = keras.ops.convert_to_tensor(targets)
        for model, method in rungs:
            row = {
                "backend": backend,
                "model": model,
                "method": method,
                "timesteps": length,
                "batch_size": batch_size,
                "input_dim": input_dim,
                "units": units,
                "layers": layers,
                "jit_compile": jit_compile,
                "dropout": dropout if model in DEEP_MODELS + DEEP_TWINS else None,
                "ms_per_step": None,
                "repeats": 0,
                "note": None,
                "machine": machine,
            }
            history = histories.setdefault((model, method), {})
            predicted = _predict_seconds(history, length, warmup, repeats)
            if (model, method) in failed:
                # A failed rung would fail the same way at every longer length.
                row["note"] = "skipped: failed at a shorter length"
            elif (
                max_seconds_per_row is not None
                and predicted is not None
                and predicted > max_seconds_per_row
            ):
                row["note"] = (
                    f"skipped: predicted {predicted:.0f} s > --max-seconds-per-row "
                    f"{max_seconds_per_row:g}"
                )
            else:
                keras.backend.clear_session()
                gc.collect()
                keras.utils.set_random_seed(0)
                rss_before = torch_rungs.max_rss_mib()
                try:
                    network = build_model(
                        model,
                        length,
                        method=method,
                        batch_size=batch_size,
                        input_dim=input_dim,
                        units=units,
                        layers=layers,
                        jit_compile=jit_compile,
                        dropout=dropout,
                    )
                    row.update(
                        time_training_step(
                            network,
                            inputs,
                            targets,
                            repeats=repeats,
                            warmup=warmup,
                            max_seconds=max_seconds_per_row,
                        )
                    )
                    history[length] = (row["ms_per_step"], row["first_step_s"])
                    if row["repeats"] < repeats:
                        row["note"] = (
                            f"stopped after {row['repeats']} of {repeats} repeats (budget)"
                        )
                except Exception as error:  # noqa: BLE001 - a failing rung is a row, not a crash.
                    message = " ".join(str(error).split())[:300]
                    row["note"] = f"failed: {type(error).__name__}: {message}"
                    failed.add((model, method))
                # Peak resident memory of the whole process: it only grows, so the increase is
                # what this row needed beyond every earlier row, not its own footprint.
                row["max_rss_mib"] = round(torch_rungs.max_rss_mib(), 1)
                row["max_rss_increase_mib"] = round(torch_rungs.max_rss_mib() - rss_before, 1)
                network = None
            rows.append(row)
            if log is not None:
                log(progress_line(row))
    add_ratios(rows)
    return rows
