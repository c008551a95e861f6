"""Speed benchmark: milliseconds per training step of IndRNN and its peers, on this machine.

Run it as a module:

```
python -m keras_rnninit.benchmark                          # the full ladder, current backend
python -m keras_rnninit.benchmark --timesteps 1000 --repeats 3             # about a minute
python -m keras_rnninit.benchmark --backends tensorflow,jax --output rows.json
```

Every row times one training step (forward, backward and optimizer update, one
`model.train_on_batch` on fixed tensors, `jit_compile=True` unless `--no-jit`) as the median of
`--repeats` steps after a compile step and `--warmup` warm-up steps. The model is the adding
problem's: `layers` stacked recurrent layers of `units` units (all but the last return sequences),
then `Dense(1)`, mean squared error, Adam. The rungs of the ladder:

- `twin`: the recurrence-free twin, the same `Dense` projection and ReLU per step with no
  recurrence. No recurrent layer can be faster, so it is the floor.
- `indrnn`: `keras_rnninit.IndRNN` with each `--methods` entry (`auto`, `sequential`, `chunked`,
  `parallel`).
- `rnn_indrnn_cell`: `keras.layers.RNN(keras_rnninit.IndRNNCell(...))`, Keras' own loop over the
  same cell.
- `simple_rnn`: `keras.layers.SimpleRNN(activation="relu")`.
- `lstm`: `keras.layers.LSTM`.
- `bn_indrnn`, `res_indrnn`: the deep recipes of `keras_rnninit.models.build_model` at
  `layers` depth, each with its twin (`bn_indrnn_twin`, `res_indrnn_twin`: every IndRNN
  replaced by `Dense(units, relu)`, batch normalization, residual Dense layers and dropout kept).
- `torch_twin`, `torch_indrnn_loop`, `torch_rnn_relu`, `torch_lstm`: PyTorch's networks on the
  same batches, in their own process, when torch is installed (`keras_rnninit.benchmark_torch`).

The table gives each row's time, its ratio to the twin at the same length, and each peer's ratio
to `IndRNN(method="auto")` (how many times slower the peer is). `--output FILE` writes the rows as
a JSON list. A row whose predicted cost passes `--max-seconds-per-row` is skipped with a note
rather than left running for minutes (e.g. LSTM or a TensorFlow `SimpleRNN` stack, whose
XLA-compiled training step grows as T^2, at T = 5000); ask for it alone to time it anyway.
"""

import argparse
import gc
import importlib.metadata
import importlib.util
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time

import numpy as np

from keras_rnninit import benchmark_torch

KERAS_MODELS = (
    "twin",
    "indrnn",
    "rnn_indrnn_cell",
    "simple_rnn",
    "lstm",
    "bn_indrnn_twin",
    "bn_indrnn",
    "res_indrnn_twin",
    "res_indrnn",
)
# PyTorch's rungs, timed in their own process (`keras_rnninit.benchmark_torch`) when torch is
# installed.
TORCH_MODELS = benchmark_torch.MODELS
MODELS = KERAS_MODELS + TORCH_MODELS
# The deep recipes, built by `keras_rnninit.models.build_model`, each with its own twin: the same
# layers (batch normalization, residual Dense, dropout) with every IndRNN replaced by a Dense
# of the same width and activation.
DEEP_MODELS = ("bn_indrnn", "res_indrnn")
DEEP_TWINS = ("bn_indrnn_twin", "res_indrnn_twin")
# Which twin each rung's `vs_twin` divides by.
TWIN_OF = {
    "bn_indrnn": "bn_indrnn_twin",
    "bn_indrnn_twin": "bn_indrnn_twin",
    "res_indrnn": "res_indrnn_twin",
    "res_indrnn_twin": "res_indrnn_twin",
    **{model: "torch_twin" for model in TORCH_MODELS},
}
METHODS = ("auto", "sequential", "chunked", "parallel")
BACKENDS = ("tensorflow", "jax", "torch")
DEFAULT_TIMESTEPS = (100, 250, 500, 1000, 5000)

# A row is skipped when the cost predicted from the same rung's shorter lengths passes the
# budget. The growth exponent is measured from the last two lengths, but never assumed below 1
# (nothing gets cheaper with length) nor above 2.5.
_MIN_EXPONENT = 1.0
_MAX_EXPONENT = 2.5


def _keras():
    # Imported late so that `--backends` can pick the backend of each subprocess, and the parent
    # process never has to build anything.
    import keras

    return keras


def _indrnn_classes():
    """`(IndRNN, IndRNNCell)`, or the reason they cannot be imported."""
    try:
        from keras_rnninit.layers import indrnn
    except ImportError as error:
        return None, f"IndRNN is not available: {error}"
    return (indrnn.IndRNN, indrnn.IndRNNCell), None


def make_adding_batch(batch_size, timesteps, input_dim=2, seed=0):
    """A fixed adding-problem batch: values in [0, 1) and a marker channel with two ones.

    Args:
        batch_size: Number of sequences.
        timesteps: Sequence length T.
        input_dim: Features per step, `>= 1`. Defaults to `2` (value and marker, as in the
            adding problem); extra channels are uniform noise, a single channel holds values.
        seed: Seed of the NumPy generator. Defaults to `0`.

    Returns:
        `(inputs, targets)`: float32 arrays of shapes `(batch_size, timesteps, input_dim)` and
        `(batch_size, 1)`, the target being the sum of the two marked values.
    """
    rng = np.random.default_rng(seed)
    inputs = rng.uniform(size=(batch_size, timesteps, input_dim)).astype("float32")
    targets = np.zeros((batch_size, 1), "float32")
    if input_dim >= 2:
        inputs[:, :, 1] = 0.0
        for row in range(batch_size):
            marked = rng.choice(timesteps, size=min(2, timesteps), replace=False)
            inputs[row, marked, 1] = 1.0
            targets[row, 0] = inputs[row, marked, 0].sum()
    else:
        targets[:, 0] = inputs[:, -2:, 0].sum(axis=1)
    return inputs, targets


def build_model(
    model,
    timesteps,
    method=None,
    batch_size=32,
    input_dim=2,
    units=128,
    layers=2,
    jit_compile=True,
    dropout=0.0,
):
    """Builds and compiles one rung of the ladder.

    Args:
        model: One of `MODELS`: `"twin"`, `"indrnn"`, `"rnn_indrnn_cell"`, `"simple_rnn"`,
            `"lstm"`, or a deep recipe (`"bn_indrnn"`, `"res_indrnn"`, built by
            `keras_rnninit.models.build_model`) or its twin (`"bn_indrnn_twin"`,
            `"res_indrnn_twin"`).
        timesteps: Sequence length T. The IndRNN rungs also get it as `timesteps=`, so they train
            with the paper's bound on `u` (the last layer with `last_layer=True`).
        method: IndRNN's `method`, for `model="indrnn"` and the deep recipes only. Defaults to
            `None` (`"auto"`).
        batch_size: Batch size. Defaults to `32`.
        input_dim: Features per step. Defaults to `2`.
        units: Units per layer. Defaults to `128`.
        layers: Stacked recurrent layers; all but the last return sequences. For `res_indrnn`
            (two IndRNN layers per residual block) it must be even. Defaults to `2`.
        jit_compile: Passed to `compile`. Defaults to `True`.
        dropout: The deep recipes' (and their twins') dropout between layers, one mask per
            sequence shared by every step. Defaults to `0.0`.

    Returns:
        A compiled `keras.Model` mapping `(batch_size, timesteps, input_dim)` to `(batch_size, 1)`.

    Example:

    >>> model = keras_rnninit.benchmark.build_model("lstm", timesteps=100)
    """
    keras = _keras()
    if model not in MODELS:
        raise ValueError(f"`model` must be one of {MODELS}. Received: model={model!r}")
    inputs = keras.Input(shape=(timesteps, input_dim), batch_size=batch_size)
    if model in DEEP_MODELS:
        network = _build_deep_recipe(model, inputs, method, units, layers, dropout)
    elif model in DEEP_TWINS:
        network = _build_deep_twin(model, inputs, units, layers, dropout)
    else:
        network = _build_stack(model, inputs, timesteps, method, units, layers)
    network.compile(
        optimizer=keras.optimizers.Adam(2e-4), loss="mse", jit_compile=jit_compile
    )
    return network


def _build_stack(model, inputs, timesteps, method, units, layers):
    """The adding problem's stack of `layers` recurrent layers (or the twin's Dense layers)."""
    keras = _keras()
    x = inputs
    for index in range(layers):
        last = index == layers - 1
        sequences = not last
        if model == "twin":
            x = keras.layers.Dense(units, activation="relu", name=f"twin_{index}")(x)
            if last:
                # The recurrent layers project and activate every step too; the twin only drops
                # the recurrence, then keeps the last step as they do.
                x = x[:, -1]
        elif model in ("indrnn", "rnn_indrnn_cell"):
            classes, reason = _indrnn_classes()
            if classes is None:
                raise RuntimeError(reason)
            indrnn_layer, indrnn_cell = classes
            bound = {"timesteps": timesteps, "last_layer": last}
            if model == "indrnn":
                x = indrnn_layer(
                    units, method=method or "auto", return_sequences=sequences, **bound
                )(x)
            else:
                x = keras.layers.RNN(indrnn_cell(units, **bound), return_sequences=sequences)(x)
        elif model == "simple_rnn":
            x = keras.layers.SimpleRNN(units, activation="relu", return_sequences=sequences)(x)
        else:
            x = keras.layers.LSTM(units, return_sequences=sequences)(x)
    outputs = keras.layers.Dense(1)(x)
    return keras.Model(inputs, outputs, name=f"benchmark_{model}")


def _build_deep_recipe(model, inputs, method, units, layers, dropout):
    """`bn_indrnn` or `res_indrnn` exactly as `keras_rnninit.models.build_model` builds it for
    the adding problem (regression at the last step), on the benchmark's fixed-batch input."""
    from keras_rnninit import models

    keras = _keras()
    if model == "res_indrnn" and layers % 2:
        raise ValueError(
            "res_indrnn has two IndRNN layers per residual block: `layers` must be even. "
            f"Received: layers={layers}"
        )
    built = models.build_model(
        model,
        tuple(inputs.shape[1:]),
        units=units,
        num_layers=layers,
        dropout=dropout,
        method=method or "auto",
        seed=0,
    )
    return keras.Model(inputs, built(inputs), name=f"benchmark_{model}")


def _build_deep_twin(model, inputs, units, layers, dropout):
    """The deep recipe `TWIN_OF[model]` twins, with each IndRNN replaced by `Dense(units,
    relu)`: batch normalization (momentum 0.9, over batch and time), the residual blocks'
    Dense projections and sums, and the time-shared dropout are kept, so the two differ by
    the recurrence alone (and by the `units` recurrent weights of each IndRNN layer)."""
    keras = _keras()

    def dense(width, index, activation=None):
        return keras.layers.Dense(width, activation=activation, name=f"twin_{index}")

    def norm(name):
        return keras.layers.BatchNormalization(momentum=0.9, name=name)

    def drop(name):
        return keras.layers.Dropout(dropout, noise_shape=(None, 1, units), seed=0, name=name)

    x = inputs
    if model == "bn_indrnn_twin":
        for index in range(layers):
            x = norm(f"batch_norm_{index}")(dense(units, index, "relu")(x))
            if dropout > 0 and index < layers - 1:
                x = drop(f"dropout_{index}")(x)
    else:
        if layers % 2:
            raise ValueError(
                "res_indrnn_twin mirrors two IndRNN layers per residual block: `layers` must "
                f"be even. Received: layers={layers}"
            )
        x = keras.layers.Dense(units, name="projection")(x)
        for index in range(0, layers, 2):
            branch = x
            for inner in (index, index + 1):
                branch = dense(units, inner, "relu")(norm(f"batch_norm_{inner}")(branch))
                if dropout > 0:
                    branch = drop(f"dropout_{inner}")(branch)
                branch = keras.layers.Dense(units, name=f"block_projection_{inner}")(branch)
            x = keras.layers.Add(name=f"residual_{index // 2}")([x, branch])
        x = norm("bn_final")(x)
    outputs = keras.layers.Dense(1, name="prediction")(x[:, -1])
    return keras.Model(inputs, outputs, name=f"benchmark_{model}")


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

    return benchmark_torch.time_steps(step, repeats=repeats, warmup=warmup, max_seconds=max_seconds)


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


def _row_key(row):
    return (row["backend"], row["model"], row["method"])


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
    keras = _keras()
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
            elif model in ("indrnn", "rnn_indrnn_cell") and _indrnn_classes()[0] is None:
                row["note"] = "skipped: " + _indrnn_classes()[1]
            else:
                keras.backend.clear_session()
                gc.collect()
                keras.utils.set_random_seed(0)
                rss_before = benchmark_torch.max_rss_mib()
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
                row["max_rss_mib"] = round(benchmark_torch.max_rss_mib(), 1)
                row["max_rss_increase_mib"] = round(benchmark_torch.max_rss_mib() - rss_before, 1)
                network = None
            rows.append(row)
            if log is not None:
                log(_progress_line(row))
    add_ratios(rows)
    return rows


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
    """Times the PyTorch rungs (`keras_rnninit.benchmark_torch`) in a subprocess, on the same
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
        return add_ratios([
            {
                "backend": "torch", "model": model, "method": None, "timesteps": length,
                "batch_size": batch_size, "input_dim": input_dim, "units": units,
                "layers": layers, "jit_compile": False, "dropout": None, "ms_per_step": None,
                "repeats": 0, "note": note, "machine": machine,
            }
            for length in sorted(timesteps)
            for model in models
        ])

    if not _torch_installed():
        return skipped("skipped: torch is not installed (optional: pip install torch)")
    with tempfile.TemporaryDirectory() as directory:
        for length in sorted(timesteps):
            inputs, targets = make_adding_batch(batch_size, length, input_dim)
            np.save(os.path.join(directory, f"inputs_{length}.npy"), inputs)
            np.save(os.path.join(directory, f"targets_{length}.npy"), targets)
        path = os.path.join(directory, "rows.json")
        command = [
            sys.executable, benchmark_torch.__file__, "--data", directory, "--output", path,
            "--models", ",".join(models), "--units", str(units), "--layers", str(layers),
            "--repeats", str(repeats), "--warmup", str(warmup),
            "--max-seconds-per-row", str(max_seconds_per_row or 0),
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


ROW_KEYS = (
    "backend",
    "model",
    "method",
    "timesteps",
    "batch_size",
    "input_dim",
    "units",
    "layers",
    "jit_compile",
    "dropout",
    "ms_per_step",
    "repeats",
    "vs_twin",
    "vs_indrnn_auto",
    "note",
)


def _progress_line(row):
    name = row["model"] + (f"[{row['method']}]" if row["method"] else "")
    if row["ms_per_step"] is None:
        return f"{row['backend']} T={row['timesteps']} {name}: {row['note']}"
    return (
        f"{row['backend']} T={row['timesteps']} {name}: {row['ms_per_step']:.1f} ms/step "
        f"(compile step {row['first_step_s']:.1f} s, {row['repeats']} repeats)"
    )


def add_ratios(rows):
    """Fills `vs_twin` (time / its twin's time) and `vs_indrnn_auto` (time / IndRNN auto's).

    Rows are matched on backend, length, batch size, input size, units, layers, `jit_compile`
    and dropout; a ratio is `None` where its reference was not measured. A rung's twin is
    `TWIN_OF[model]` (`"twin"` for the two-layer ladder's rungs). The PyTorch rungs' IndRNN
    reference is the fastest `IndRNN(method="auto")` row of any Keras backend at the same
    length and sizes: how many times slower than this package the PyTorch network is.

    Args:
        rows: Row dicts, updated in place.

    Returns:
        The same list.
    """
    sizes = ("timesteps", "batch_size", "input_dim", "units", "layers")

    def setting(row):
        return (row["backend"], row["jit_compile"], row.get("dropout")) + tuple(
            row[k] for k in sizes
        )

    twin = {}
    auto = {}
    fastest_auto = {}
    for row in rows:
        if row["ms_per_step"] is None:
            continue
        twin[(row["model"], setting(row))] = row["ms_per_step"]
        if row["model"] == "indrnn" and row["method"] == "auto":
            auto[setting(row)] = row["ms_per_step"]
            key = tuple(row[k] for k in sizes)
            fastest_auto[key] = min(fastest_auto.get(key, math.inf), row["ms_per_step"])
    for row in rows:
        ms = row["ms_per_step"]
        reference = twin.get((TWIN_OF.get(row["model"], "twin"), _twin_setting(row, setting)))
        if row["model"] in TORCH_MODELS:
            ref_auto = fastest_auto.get(tuple(row[k] for k in sizes))
        else:
            ref_auto = auto.get(_twin_setting(row, setting, dropout=False))
        row["vs_twin"] = None if ms is None or reference is None else ms / reference
        row["vs_indrnn_auto"] = None if ms is None or ref_auto is None else ms / ref_auto
    return rows


def _twin_setting(row, setting, dropout=True):
    # The two-layer ladder's rungs have no dropout; a deep recipe with dropout compares with
    # its twin at the same dropout, and with IndRNN(auto), which has none.
    if dropout and row["model"] in DEEP_MODELS + DEEP_TWINS:
        return setting(row)
    return setting({**row, "dropout": None})


def format_table(rows):
    """The rows as a Markdown table (readable in a terminal too), median and fastest step.

    Args:
        rows: Row dicts from `run_benchmark`.

    Returns:
        A string: one line per row, sorted by backend, length and ladder order.
    """
    order = {model: i for i, model in enumerate(MODELS)}
    method_order = {method: i for i, method in enumerate(METHODS)}

    def key(row):
        return (
            row["backend"],
            row["batch_size"],
            row["input_dim"],
            row["units"],
            row["layers"],
            row["jit_compile"],
            row["timesteps"],
            order.get(row["model"], len(order)),
            method_order.get(row["method"], -1),
        )

    def ratio(value):
        return "" if value is None else f"{value:.2f}"

    lines = [
        "| backend | T | model | ms/step | min ms | x twin | x IndRNN(auto) | note |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in sorted(rows, key=key):
        name = row["model"] + (f" ({row['method']})" if row["method"] else "")
        ms = "" if row["ms_per_step"] is None else f"{row['ms_per_step']:.1f}"
        # The fastest step, next to the median: a wide gap says the machine was busy.
        fastest = "" if row.get("ms_min") is None else f"{row['ms_min']:.1f}"
        lines.append(
            f"| {row['backend']} | {row['timesteps']} | {name} | {ms} | {fastest} | "
            f"{ratio(row['vs_twin'])} | {ratio(row['vs_indrnn_auto'])} | {row['note'] or ''} |"
        )
    return "\n".join(lines)


def describe_machine():
    """One line: CPU model and count, Python, Keras and the installed backends' versions."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    parts = [f"CPU: {cpu} x {os.cpu_count()}", f"Python {platform.python_version()}"]
    for name in ("keras", "tensorflow", "jax", "jaxlib", "torch"):
        # Package metadata, not an import: importing every framework would take seconds.
        try:
            parts.append(f"{name} {importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            continue
    return ", ".join(parts)


def _parse_list(text, kind=str, choices=None, name="value"):
    values = [kind(part.strip()) for part in text.split(",") if part.strip()]
    if choices is not None:
        bad = [v for v in values if v not in choices]
        if bad:
            raise argparse.ArgumentTypeError(
                f"{name} must be taken from {', '.join(choices)}. Received: {name}={text}"
            )
    if not values:
        raise argparse.ArgumentTypeError(f"{name} is empty. Received: {name}={text!r}")
    return values


def measure_input_pipeline(timesteps, batch_size=32, batches=50, rows=(), log=print):
    """Samples per second of the adding problem's tf.data pipeline against the model's need.

    For each length, times `keras_rnninit.tasks.adding_problem`'s training split (generated
    in-graph, batched, prefetched) with `keras_rnninit.tasks.measure_throughput`, and compares it
    with the training throughput of the fastest measured `IndRNN(method="auto")` row at that
    length in `rows` (over backends) (`batch_size / ms_per_step`). A headroom above 1 means the
    pipeline outruns the model, so training never waits on its input. Needs TensorFlow
    (tf.data); returns no rows without it.

    Returns:
        A list of dicts with `model="input_pipeline"`, `timesteps`, `batch_size`,
        `samples_per_second` (pipeline), `model_samples_per_second` and `headroom`.
    """
    try:
        from keras_rnninit import tasks
    except ImportError as error:  # No TensorFlow: no tf.data pipeline to measure.
        log(f"input pipeline: not measured ({error})")
        return []
    measured = []
    for length in timesteps:
        data = tasks.adding_problem(
            timesteps=length,
            batch_size=batch_size,
            train_size=batch_size * (batches + 10),
            validation_size=batch_size,
            test_size=batch_size,
        )
        result = tasks.measure_throughput(data.train, batches=batches)
        model_times = [
            row["ms_per_step"]
            for row in rows
            if row["model"] == "indrnn"
            and row["method"] == "auto"
            and row["timesteps"] == length
            and row.get("ms_per_step")
        ]
        model_rate = batch_size / (min(model_times) / 1000.0) if model_times else None
        measured.append(
            {
                "model": "input_pipeline",
                "method": None,
                "timesteps": length,
                "batch_size": batch_size,
                "samples_per_second": result["examples_per_second"],
                "model_samples_per_second": model_rate,
                "headroom": result["examples_per_second"] / model_rate if model_rate else None,
            }
        )
        log(f"input pipeline T={length}: {result['examples_per_second']:.0f} samples/s")
    return measured


def format_pipeline_table(measured):
    """The input-pipeline rows as a Markdown table."""
    lines = [
        "| T | pipeline samples/s | IndRNN(auto) training samples/s | headroom |",
        "|---|---|---|---|",
    ]
    for row in measured:
        model_rate = row["model_samples_per_second"]
        lines.append(
            f"| {row['timesteps']} | {row['samples_per_second']:.0f} | "
            + (f"{model_rate:.0f} | {row['headroom']:.1f}x |" if model_rate else "- | - |")
        )
    return "\n".join(lines)


def _parser():
    parser = argparse.ArgumentParser(
        prog="python -m keras_rnninit.benchmark",
        description="Milliseconds per training step of IndRNN and its peers (the speed ladder).",
    )
    parser.add_argument(
        "--backends",
        type=lambda s: _parse_list(s, choices=BACKENDS, name="--backends"),
        default=None,
        help="Comma-separated Keras backends, each run in its own subprocess, rows merged. "
        "Default: the current backend (KERAS_BACKEND) in this process.",
    )
    parser.add_argument(
        "--models",
        type=lambda s: _parse_list(s, choices=MODELS, name="--models"),
        default=list(MODELS),
        help=f"Comma-separated rungs. Default: {','.join(MODELS)}.",
    )
    parser.add_argument(
        "--methods",
        type=lambda s: _parse_list(s, choices=METHODS, name="--methods"),
        default=list(METHODS),
        help=f"Comma-separated IndRNN methods. Default: {','.join(METHODS)}.",
    )
    parser.add_argument(
        "--timesteps",
        type=lambda s: _parse_list(s, kind=int, name="--timesteps"),
        default=list(DEFAULT_TIMESTEPS),
        help="Comma-separated sequence lengths. Default: 100,250,500,1000,5000.",
    )
    parser.add_argument("--batch-size", type=int, default=32, help="Default: 32.")
    parser.add_argument("--input-dim", type=int, default=2, help="Default: 2.")
    parser.add_argument("--units", type=int, default=128, help="Default: 128.")
    parser.add_argument(
        "--layers",
        type=int,
        default=2,
        help="Recurrent layers (res_indrnn: even, two per residual block). Default: 2.",
    )
    parser.add_argument(
        "--dropout",
        type=float,
        default=0.0,
        help="Dropout between the deep recipes' layers (and their twins'), one mask per "
        "sequence. Default: 0.",
    )
    parser.add_argument("--repeats", type=int, default=5, help="Timed steps per row. Default: 5.")
    parser.add_argument(
        "--warmup",
        type=int,
        default=1,
        help="Untimed steps per row after the compiling one. Default: 1.",
    )
    parser.add_argument(
        "--no-jit", action="store_true", help="Compile with jit_compile=False."
    )
    parser.add_argument(
        "--max-seconds-per-row",
        type=float,
        default=120.0,
        help="Skip a row whose predicted cost passes this (0 for no limit). Default: 120.",
    )
    parser.add_argument(
        "--no-pipeline",
        action="store_true",
        help="Skip timing the adding problem's tf.data input pipeline against the model.",
    )
    parser.add_argument("--output", default=None, help="Write the rows to this JSON file.")
    parser.add_argument("--quiet", action="store_true", help="No per-row progress lines.")
    return parser


def _check_positive(parser, args):
    for name in ("batch_size", "input_dim", "units", "layers", "repeats"):
        if getattr(args, name) < 1:
            option = "--" + name.replace("_", "-")
            parser.error(f"{option} must be >= 1. Received: {getattr(args, name)}")
    if args.warmup < 0:
        parser.error(f"--warmup must be >= 0. Received: {args.warmup}")
    if not 0 <= args.dropout < 1:
        parser.error(f"--dropout must be in [0, 1). Received: {args.dropout}")
    if any(t < 1 for t in args.timesteps):
        parser.error(f"--timesteps must be positive. Received: {args.timesteps}")


def _run_backends(argv, backends, models, log):
    """Runs this module once per backend in a subprocess and returns the merged rows."""
    rows = []
    for backend in backends:
        with tempfile.TemporaryDirectory() as directory:
            path = os.path.join(directory, "rows.json")
            # The parent times the input pipeline once, against every backend's rows, and the
            # PyTorch rungs once, in their own process.
            child = _strip_options(argv, ("--backends", "--output", "--models"))
            child += ["--output", path, "--no-pipeline", "--models", ",".join(models)]
            env = dict(os.environ, KERAS_BACKEND=backend)
            env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
            log(f"=== backend {backend} ===")
            # The child's own table goes nowhere: the merged table is printed once, here. Its
            # progress lines and errors (stderr) pass through.
            result = subprocess.run(
                [sys.executable, "-m", "keras_rnninit.benchmark", *child],
                env=env,
                stdout=subprocess.DEVNULL,
            )
            if result.returncode != 0 or not os.path.exists(path):
                log(f"backend {backend} failed with exit status {result.returncode}")
                continue
            with open(path) as handle:
                rows.extend(json.load(handle))
    return add_ratios(rows)


def _strip_options(argv, names):
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


def main(argv=None):
    """Command-line entry point; returns the process exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = _parser()
    args = parser.parse_args(argv)
    _check_positive(parser, args)

    def log(line):
        if not args.quiet:
            print(line, file=sys.stderr, flush=True)

    keras_models = [m for m in args.models if m in KERAS_MODELS]
    torch_models = [m for m in args.models if m in TORCH_MODELS]
    rows = []
    if keras_models and args.backends:
        rows = _run_backends(argv, args.backends, keras_models, log)
    elif keras_models:
        rows = run_benchmark(
            models=keras_models,
            methods=args.methods,
            timesteps=args.timesteps,
            batch_size=args.batch_size,
            input_dim=args.input_dim,
            units=args.units,
            layers=args.layers,
            repeats=args.repeats,
            warmup=args.warmup,
            jit_compile=not args.no_jit,
            max_seconds_per_row=args.max_seconds_per_row or None,
            log=log,
            dropout=args.dropout,
        )
    if torch_models:
        rows += run_torch_rungs(
            models=torch_models,
            timesteps=args.timesteps,
            batch_size=args.batch_size,
            input_dim=args.input_dim,
            units=args.units,
            layers=args.layers,
            repeats=args.repeats,
            warmup=args.warmup,
            max_seconds_per_row=args.max_seconds_per_row or None,
            log=log if not args.quiet else None,
        )
    add_ratios(rows)
    print(describe_machine())
    print(
        f"B={args.batch_size}, D={args.input_dim}, H={args.units}, layers={args.layers}, "
        f"jit_compile={not args.no_jit}, median of {args.repeats} steps after "
        f"{args.warmup} warm-up; ms per training step (forward + backward + Adam update)."
    )
    print(format_table(rows))
    pipeline = []
    if not args.no_pipeline:
        pipeline = measure_input_pipeline(
            args.timesteps, batch_size=args.batch_size, rows=rows, log=log
        )
    if pipeline:
        print("\nInput pipeline (adding problem, tf.data, generated in-graph) against training:")
        print(format_pipeline_table(pipeline))
    if args.output:
        with open(args.output, "w") as handle:
            json.dump(rows + pipeline, handle, indent=1)
        print(f"wrote {len(rows) + len(pipeline)} rows to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
