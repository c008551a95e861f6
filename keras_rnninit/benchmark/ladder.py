"""The ladder's Keras rungs: one compiled adding-problem model per rung (see the package doc)."""

import keras

from keras_rnninit import models
from keras_rnninit.arrays import adding_problem_arrays
from keras_rnninit.benchmark import torch_rungs
from keras_rnninit.layers import IndRNN, IndRNNCell

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
# PyTorch's rungs, timed in their own process (`keras_rnninit.benchmark.torch_rungs`) when
# torch is installed.
TORCH_MODELS = torch_rungs.MODELS
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
    **dict.fromkeys(TORCH_MODELS, "torch_twin"),
}
METHODS = ("auto", "sequential", "chunked", "parallel")
BACKENDS = ("tensorflow", "jax", "torch")
DEFAULT_TIMESTEPS = (100, 250, 500, 1000, 5000)


def make_adding_batch(batch_size, timesteps, input_dim=2, seed=0):
    """The ladder's fixed batch: `keras_rnninit.arrays.adding_problem_arrays` (uniform markers).

    Args:
        batch_size: Number of sequences.
        timesteps: Sequence length T.
        input_dim: Features per step. Defaults to `2`.
        seed: Seed of the NumPy generator. Defaults to `0`.

    Returns:
        `(inputs, targets)`, float32 arrays of shapes `(batch_size, timesteps, input_dim)` and
        `(batch_size, 1)`.
    """
    return adding_problem_arrays(batch_size, timesteps, input_dim=input_dim, seed=seed)


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
    if model not in MODELS:
        raise ValueError(f"`model` must be one of {MODELS}. Received: model={model!r}")
    inputs = keras.Input(shape=(timesteps, input_dim), batch_size=batch_size)
    if model in DEEP_MODELS:
        network = _build_deep_recipe(model, inputs, method, units, layers, dropout)
    elif model in DEEP_TWINS:
        network = _build_deep_twin(model, inputs, units, layers, dropout)
    else:
        network = _build_stack(model, inputs, timesteps, method, units, layers)
    network.compile(optimizer=keras.optimizers.Adam(2e-4), loss="mse", jit_compile=jit_compile)
    return network


def _build_stack(model, inputs, timesteps, method, units, layers):
    """The adding problem's stack of `layers` recurrent layers (or the twin's Dense layers)."""
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
            bound = {"timesteps": timesteps, "last_layer": last}
            if model == "indrnn":
                x = IndRNN(units, method=method or "auto", return_sequences=sequences, **bound)(x)
            else:
                x = keras.layers.RNN(IndRNNCell(units, **bound), return_sequences=sequences)(x)
        elif model == "simple_rnn":
            x = keras.layers.SimpleRNN(units, activation="relu", return_sequences=sequences)(x)
        else:
            x = keras.layers.LSTM(units, return_sequences=sequences)(x)
    outputs = keras.layers.Dense(1)(x)
    return keras.Model(inputs, outputs, name=f"benchmark_{model}")


def _build_deep_recipe(model, inputs, method, units, layers, dropout):
    """`bn_indrnn` or `res_indrnn` exactly as `keras_rnninit.models.build_model` builds it for
    the adding problem (regression at the last step), on the benchmark's fixed-batch input."""
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
