"""Builders for the recurrent networks the papers compare, with the papers' settings.

Every builder returns an UNCOMPILED `keras.Model`. `output` names what it predicts, in the same
words as `keras_rnninit.tasks` (`info["output_kind"]`), with the matching last activation so that
the task's suggested loss (`info["loss"]`) applies as is:

| output | prediction | last activation |
|---|---|---|
| `"regression"` | one scalar per sequence, at the last step (adding, multiplication) | none |
| `"binary"` | one probability per sequence, at the last step | sigmoid |
| `"binary_per_step"` | one probability per step (parity) | sigmoid |
| `"classification"` | `num_classes` probabilities at the last step (MNIST, actions) | softmax |
| `"classification_per_step"` | `num_classes` probabilities per step (language model) | softmax |

Inputs are float sequences `(timesteps, features)`, or, with `vocabulary_size` set, integer
token ids `(timesteps,)` that an `Embedding` of `embedding_dim` turns into features.

| name | family | recurrent layer and initialization |
|---|---|---|
| `indrnn` | IndRNN | `keras_rnninit.IndRNN`, `|u|` bounded by `indrnn_bounds(timesteps)` |
| `bn_indrnn` | IndRNN + batch norm | `keras_rnninit.layers.IndRNNStack` (BN after every layer) |
| `res_indrnn` | residual IndRNN | `layers.ResidualIndRNNBlock`s, F = 2 x (BN -> IndRNN -> Dense) |
| `np_rnn` | np-RNN | `SimpleRNN(relu)`, `NPInitializer`, input weights N(0, 1/N_in) |
| `irnn` | IRNN | `SimpleRNN(relu)`, `IdentityInitializer(1.0)`, input N(0, 0.001^2) |
| `scaled_irnn` | iRNN | as IRNN with `IdentityInitializer(0.01)` |
| `lstm` | LSTM | `keras.layers.LSTM` with Keras' defaults |
| `tanh_rnn` | tanh RNN | `keras.layers.SimpleRNN(tanh)` with Keras' defaults |

`build_model(name, ...)` picks a builder by name (the examples' `--model` flag).
"""

import math

import keras

from keras_rnninit._task_info import OUTPUT_KINDS, PER_STEP_OUTPUT_KINDS
from keras_rnninit._validation import check_choice, check_int
from keras_rnninit.initializers import IdentityInitializer, NPInitializer, indrnn_input_initializer
from keras_rnninit.layers import IndRNN, IndRNNStack, ResidualIndRNNBlock
from keras_rnninit.layers.blocks import sub_seed as _seed

# The tasks' output kinds (`keras_rnninit.tasks.TaskInfo`), one vocabulary for both.
OUTPUTS = OUTPUT_KINDS
_PER_STEP = PER_STEP_OUTPUT_KINDS
# Input-weight spread of IndRNN regression models (see build_indrnn's `input_stddev`).
_REGRESSION_INPUT_STDDEV = 0.01
# The IndRNN authors' MAG: 2 on the adding problem, 5 on MNIST (build_indrnn's `gamma`).
_REGRESSION_GAMMA = 2.0
_CLASSIFIER_GAMMA = 5.0


def _check_common(
    input_shape, output, num_classes, units, num_layers, vocabulary_size, embedding_dim
):
    check_choice("output", output, OUTPUTS)
    if output in ("classification", "classification_per_step") and (
        isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 2
    ):
        raise ValueError(
            f"output={output!r} needs `num_classes`, an int >= 2. "
            f"Received: num_classes={num_classes!r}"
        )
    check_int("vocabulary_size", vocabulary_size, allow_none=True)
    shape = tuple(input_shape)
    tokens = vocabulary_size is not None
    want_rank = 1 if tokens else 2
    if len(shape) != want_rank or any(
        d is not None and (isinstance(d, bool) or not isinstance(d, int) or d < 1) for d in shape
    ):
        form = "(timesteps,) of token ids" if tokens else "(timesteps, features)"
        raise ValueError(
            f"`input_shape` must be {form}{' (vocabulary_size is set)' if tokens else ''}, "
            f"without the batch dimension. Received: input_shape={input_shape!r}"
        )
    if not tokens and shape[-1] is None:
        raise ValueError(
            f"`input_shape` needs a known feature size. Received: input_shape={input_shape!r}"
        )
    check_int("units", units)
    check_int("num_layers", num_layers)
    if tokens:
        check_int("embedding_dim", embedding_dim)
    return shape


def _inputs(shape, vocabulary_size, embedding_dim, seed):
    """Returns `(inputs, sequence, features)`: the model input, the float sequence fed to the
    first recurrent layer, and its feature size."""
    if vocabulary_size is not None:
        inputs = keras.Input(shape, dtype="int32", name="tokens")
        embedded = keras.layers.Embedding(
            vocabulary_size,
            embedding_dim,
            embeddings_initializer=keras.initializers.RandomUniform(
                -0.1, 0.1, seed=_seed(seed, 900)
            ),
            name="embedding",
        )(inputs)
        return inputs, embedded, embedding_dim
    inputs = keras.Input(shape, name="sequence")
    return inputs, inputs, shape[-1]


def _head(x, output, num_classes, seed, kernel_initializer=None, kernel_regularizer=None):
    """Adds the output layer. `x` is per-step when the output is per-step, else per-sequence."""
    if output == "regression":
        units, activation = 1, None
    elif output.startswith("binary"):
        units, activation = 1, "sigmoid"
    else:
        units, activation = num_classes, "softmax"
    initializer = kernel_initializer or keras.initializers.GlorotUniform(seed=_seed(seed, 1000))
    return keras.layers.Dense(
        units,
        activation=activation,
        kernel_initializer=initializer,
        kernel_regularizer=kernel_regularizer,
        name="prediction",
    )(x)


def _stacked_model(
    name,
    make_layer,
    input_shape,
    output,
    num_classes,
    units,
    num_layers,
    vocabulary_size,
    embedding_dim,
    seed,
    head_initializer=None,
):
    """A stack of `num_layers` recurrent layers; `make_layer(index, features, return_sequences)`
    builds layer `index` whose input has `features` features. The last layer of a last-step
    model returns only its last output, which keeps Keras' loop from storing every step."""
    shape = _check_common(
        input_shape, output, num_classes, units, num_layers, vocabulary_size, embedding_dim
    )
    inputs, x, features = _inputs(shape, vocabulary_size, embedding_dim, seed)
    for index in range(num_layers):
        last = index == num_layers - 1
        x = make_layer(index, features, return_sequences=not last or output in _PER_STEP)(x)
        features = units
    outputs = _head(x, output, num_classes, seed, kernel_initializer=head_initializer)
    return keras.Model(inputs, outputs, name=name)


# Every builder shares these arguments; their docstrings list them as "Common arguments".
_COMMON_DOC = """
    Common arguments (every builder):
        input_shape: `(timesteps, features)`, or `(timesteps,)` of token ids when
            `vocabulary_size` is set; `timesteps` may be None.
        output: `"regression"`, `"binary"`, `"binary_per_step"`, `"classification"` or
            `"classification_per_step"` (see the module docstring). Defaults to `"regression"`.
        num_classes: Number of classes, `>= 2`; required for the classification outputs.
            Defaults to `None`.
        units: Hidden units per layer.
        num_layers: Number of stacked recurrent layers.
        vocabulary_size: None for float inputs, or the number of token ids for integer inputs
            (a language model). Defaults to `None`.
        embedding_dim: Embedding size for token inputs. Defaults to `64`.
        seed: None, or an int that makes every initializer reproducible. Defaults to `None`.
"""


def _with_common_doc(function):
    # Adds the arguments every builder shares to its Args. Under `python -OO` there is no
    # docstring to add them to.
    if function.__doc__ is None:
        return function
    function.__doc__ = function.__doc__.replace(
        "    Returns:", _COMMON_DOC.lstrip("\n") + "\n    Returns:", 1
    )
    return function


@_with_common_doc
def build_np_rnn(
    input_shape,
    output="regression",
    num_classes=None,
    units=100,
    num_layers=1,
    *,
    input_scale=1.0,
    identity_shift=True,
    activation="relu",
    vocabulary_size=None,
    embedding_dim=64,
    seed=None,
):
    """np-RNN: a ReLU `SimpleRNN` with a normalized positive-definite recurrent matrix.

    Recurrent kernel `NPInitializer(identity_shift)`: symmetric, largest eigenvalue exactly 1.
    Input kernel `N(0, input_scale^2 / N_in)` with `N_in` the layer's input size; bias zero;
    output layer Glorot normal, as in Talathi and Vartak's setup (one layer of 100 ReLU units,
    plain SGD). The paper scales the input weights by a factor alpha whose value we could not
    verify, so `input_scale` defaults to 1; its result tables are unverified here too.

    Args:
        input_scale: Factor on the input weights' standard deviation `1 / sqrt(N_in)`.
            Defaults to `1.0`.
        identity_shift: Passed to `NPInitializer`: `(A + I) / lambda_max` when True, else
            `A / lambda_max`. Defaults to `True`.
        activation: Recurrent activation. Defaults to `"relu"`; `"tanh"` gives the paper's
            np-tanhRNN.

    Returns:
        An uncompiled `keras.Model`. Defaults: `units=100`, `num_layers=1` (the paper's).

    Example:

    ```python
    model = keras_rnninit.models.build_np_rnn((100, 2))
    model.compile(optimizer="sgd", loss="mse")
    ```

    Reference:
        - [Talathi and Vartak, 2015](https://arxiv.org/abs/1511.03771)
    """

    def make_layer(index, features, return_sequences):
        return keras.layers.SimpleRNN(
            units,
            activation=activation,
            kernel_initializer=keras.initializers.RandomNormal(
                stddev=input_scale / math.sqrt(features), seed=_seed(seed, 10 * index)
            ),
            recurrent_initializer=NPInitializer(
                identity_shift=identity_shift, seed=_seed(seed, 10 * index + 1)
            ),
            return_sequences=return_sequences,
            name=f"np_rnn_{index}",
        )

    return _stacked_model(
        "np_rnn",
        make_layer,
        input_shape,
        output,
        num_classes,
        units,
        num_layers,
        vocabulary_size,
        embedding_dim,
        seed,
        head_initializer=keras.initializers.GlorotNormal(seed=_seed(seed, 1000)),
    )


@_with_common_doc
def build_irnn(
    input_shape,
    output="regression",
    num_classes=None,
    units=100,
    num_layers=1,
    *,
    gain=1.0,
    input_stddev=0.001,
    vocabulary_size=None,
    embedding_dim=64,
    seed=None,
):
    """IRNN: a ReLU `SimpleRNN` whose recurrent matrix starts as the identity.

    Recurrent kernel `gain * I` (`IdentityInitializer`), bias zero, input kernel
    `N(0, input_stddev^2)` (0.001, as in the Keras IRNN example). Le et al. train it with
    gradient clipping; it is very sensitive to the learning rate (the IndRNN authors needed
    1e-5 on the adding problem).

    Args:
        gain: Scale of the identity. Defaults to `1.0` (IRNN); `build_scaled_irnn` uses 0.01.
        input_stddev: Standard deviation of the input weights. Defaults to `0.001`.

    Returns:
        An uncompiled `keras.Model`. Defaults: `units=100`, `num_layers=1`.

    Example:

    ```python
    model = keras_rnninit.models.build_irnn((784, 1), "classification", num_classes=10)
    ```

    Reference:
        - [Le, Jaitly and Hinton, 2015](https://arxiv.org/abs/1504.00941)
    """

    def make_layer(index, features, return_sequences):
        return keras.layers.SimpleRNN(
            units,
            activation="relu",
            kernel_initializer=keras.initializers.RandomNormal(
                stddev=input_stddev, seed=_seed(seed, 10 * index)
            ),
            recurrent_initializer=IdentityInitializer(gain),
            bias_initializer="zeros",
            return_sequences=return_sequences,
            name=f"irnn_{index}",
        )

    return _stacked_model(
        "irnn" if gain == 1.0 else "scaled_irnn",
        make_layer,
        input_shape,
        output,
        num_classes,
        units,
        num_layers,
        vocabulary_size,
        embedding_dim,
        seed,
    )


def build_scaled_irnn(input_shape, output="regression", num_classes=None, *, gain=0.01, **kwargs):
    """iRNN: the IRNN with a scaled identity `gain * I`, `gain < 1`.

    Le et al. call the scaled-identity variant of their speech experiments iRNN; secondary
    sources report the scale as 0.01, the default here (not verified against the paper's text).
    A small gain forgets quickly: fine where long-range memory is not needed, a handicap on the
    adding problem.

    Args:
        input_shape: As in `build_irnn`.
        output: As in `build_irnn`. Defaults to `"regression"`.
        num_classes: As in `build_irnn`. Defaults to `None`.
        gain: Scale of the identity, `0 < gain < 1` intended. Defaults to `0.01`.
        **kwargs: Any other `build_irnn` argument (`units`, `num_layers`, `seed`, ...).

    Returns:
        An uncompiled `keras.Model`.

    Example:

    ```python
    model = keras_rnninit.models.build_scaled_irnn((100, 2), gain=0.01)
    ```

    Reference:
        - [Le, Jaitly and Hinton, 2015](https://arxiv.org/abs/1504.00941)
    """
    return build_irnn(input_shape, output, num_classes, gain=gain, **kwargs)


@_with_common_doc
def build_lstm(
    input_shape,
    output="regression",
    num_classes=None,
    units=128,
    num_layers=1,
    *,
    vocabulary_size=None,
    embedding_dim=64,
    seed=None,
):
    """LSTM baseline: stacked `keras.layers.LSTM` with Keras' defaults (forget-gate bias 1).

    Returns:
        An uncompiled `keras.Model`. Defaults: `units=128`, `num_layers=1`.

    Example:

    ```python
    model = keras_rnninit.models.build_lstm((100, 2))
    ```
    """

    def make_layer(index, features, return_sequences):
        return keras.layers.LSTM(
            units,
            kernel_initializer=keras.initializers.GlorotUniform(seed=_seed(seed, 10 * index)),
            recurrent_initializer=keras.initializers.Orthogonal(seed=_seed(seed, 10 * index + 1)),
            return_sequences=return_sequences,
            name=f"lstm_{index}",
        )

    return _stacked_model(
        "lstm",
        make_layer,
        input_shape,
        output,
        num_classes,
        units,
        num_layers,
        vocabulary_size,
        embedding_dim,
        seed,
    )


@_with_common_doc
def build_tanh_rnn(
    input_shape,
    output="regression",
    num_classes=None,
    units=128,
    num_layers=1,
    *,
    vocabulary_size=None,
    embedding_dim=64,
    seed=None,
):
    """Plain tanh RNN baseline: `keras.layers.SimpleRNN` with Keras' defaults.

    The recurrent kernel starts orthogonal and the activation saturates, so gradients vanish
    over long sequences: the network the three ReLU methods are meant to improve on.

    Returns:
        An uncompiled `keras.Model`. Defaults: `units=128`, `num_layers=1`.

    Example:

    ```python
    model = keras_rnninit.models.build_tanh_rnn((100, 2))
    ```
    """

    def make_layer(index, features, return_sequences):
        return keras.layers.SimpleRNN(
            units,
            activation="tanh",
            kernel_initializer=keras.initializers.GlorotUniform(seed=_seed(seed, 10 * index)),
            recurrent_initializer=keras.initializers.Orthogonal(seed=_seed(seed, 10 * index + 1)),
            return_sequences=return_sequences,
            name=f"tanh_rnn_{index}",
        )

    return _stacked_model(
        "tanh_rnn",
        make_layer,
        input_shape,
        output,
        num_classes,
        units,
        num_layers,
        vocabulary_size,
        embedding_dim,
        seed,
    )


@_with_common_doc
def build_indrnn(
    input_shape,
    output="regression",
    num_classes=None,
    units=128,
    num_layers=2,
    *,
    timesteps=None,
    gamma=None,
    batch_norm=False,
    residual=False,
    dropout=0.0,
    weight_decay=0.0,
    input_stddev=None,
    batch_norm_momentum=0.9,
    method="auto",
    vocabulary_size=None,
    embedding_dim=64,
    seed=None,
):
    """IndRNN: stacked `keras_rnninit.IndRNN` layers with the paper's `|u|` bound.

    Every layer gets `timesteps=T`, so its recurrent vector starts as `U[0, gamma^(1/T)]` and is
    projected to `|u| <= gamma^(1/T)` after every update. For a last-step output (regression,
    binary, classification) the last layer is built with `last_layer=True`: `|u| >=
    (1/gamma)^(1/T)` too, so its units remember to the end. The paper's adding-problem network
    is 2 x 128 (the defaults), trained with Adam at 2e-4.

    `batch_norm=True` builds a `keras_rnninit.layers.IndRNNStack`: batch normalization after
    every IndRNN layer, statistics over batch and time (the paper's per-step statistics for
    language modelling are not implemented). `residual=True` builds the pre-activation residual
    IndRNN: a linear `Dense` projection to `units`, `num_layers // 2`
    `keras_rnninit.layers.ResidualIndRNNBlock`s `x <- x + F(x)` with
    F = 2 x (BN -> IndRNN -> Dense), then a final batch normalization.

    Args:
        timesteps: Sequence length for the bound; None takes `input_shape[0]`. If that is None
            too, the layers get the IndRNN layer's unbounded defaults. Defaults to `None`.
        gamma: Largest gradient growth over `timesteps` steps (the authors' MAG), or None
            for the authors' per-task value: 2 for regression (their adding problem), 5 for
            every other output (their MNIST classifiers). The wider range lets more units
            remember and others forget faster: on MNIST read row by row (2 x 128, Adam 1e-3,
            1 500 steps) test accuracy 0.920 with 5 against 0.898 with 2. Defaults to `None`.
        batch_norm: Whether to add batch normalization after every layer. Defaults to `False`.
        residual: Whether to build the residual IndRNN; `num_layers` must then be even and
            `batch_norm` False (its blocks have their own). Defaults to `False`.
        dropout: Dropout rate. Plain IndRNN: on the inputs of every IndRNN layer; with
            `batch_norm` or `residual`: on the outputs of the IndRNN layers, one mask per
            sequence (the blocks' `dropout`). Defaults to `0.0`.
        weight_decay: Weight decay coefficient `d` on the input kernels and the output layer,
            never on `u`, as the paper's 1e-4: it is added as the L2 penalty
            `(d / 2) * sum(w^2)` (`keras.regularizers.L2(d / 2)`), whose gradient `d * w` is
            the decay a PyTorch optimizer's `weight_decay=d` applies. Defaults to `0.0`.
        input_stddev: Standard deviation of normal input kernels `W`, or None for the
            default, which depends on `output`. Classifiers (every output but
            `"regression"`) get the IndRNN authors' uniform fan-in initializer
            (`keras_rnninit.initializers.indrnn_input_initializer`, bound
            0.30 / sqrt(fan_in)); regression gets N(0, 0.01^2). A ReLU unit with `u` near 1
            sums its inputs over time, so its output grows with T times the input weights. A
            softmax classifier tolerates large starting activations (and batch normalization
            removes them), while tiny weights can leave it with dead units: on a 7 x 7 pixel
            MNIST read pixel by pixel (2 x 128, Adam 1e-3) test accuracy 0.53 with the fan-in
            initializer against 0.39 with N(0, 0.01^2) (on MNIST rows at Adam 1e-3 the two
            tied, 0.898 / 0.896). A regression head reads those sums directly:
            on the adding problem (T = 100, Adam 2e-3, 1000 steps) the fan-in initializer
            started at MSE 173 and ended at test MSE 0.020, N(0, 0.01^2) at 0.0007.
            Defaults to `None`.
        batch_norm_momentum: Momentum of every batch normalization's moving statistics (the
            blocks' argument of the same name). Defaults to `0.9`, PyTorch's default, which the
            authors used; see `keras_rnninit.layers.IndRNNStack` for why not Keras' 0.99.
        method: The IndRNN layer's `method`. Defaults to `"auto"`.

    Returns:
        An uncompiled `keras.Model`. Defaults: `units=128`, `num_layers=2` (the paper's
        adding-problem network).

    Example:

    ```python
    model = keras_rnninit.models.build_indrnn((1000, 2), units=128, num_layers=2)
    model.compile(optimizer=keras.optimizers.Adam(2e-4), loss="mse")
    ```

    Reference:
        - [Li et al., 2018](https://arxiv.org/abs/1803.04831)
        - [Li et al., 2019 (Deep IndRNN)](https://arxiv.org/abs/1910.06251)
    """
    shape = _check_common(
        input_shape, output, num_classes, units, num_layers, vocabulary_size, embedding_dim
    )
    if residual and batch_norm:
        raise ValueError(
            "`residual=True` builds the residual IndRNN, whose blocks have their own batch "
            "normalization; it does not take `batch_norm=True` as well (choose one). "
            f"Received: residual={residual!r}, batch_norm={batch_norm!r}"
        )
    if residual and num_layers % 2:
        raise ValueError(
            "`num_layers` must be even with residual=True (two IndRNN layers per block). "
            f"Received: num_layers={num_layers}"
        )
    if timesteps is None:
        timesteps = shape[0]
    regularizer = keras.regularizers.L2(weight_decay / 2) if weight_decay else None
    per_step = output in _PER_STEP
    inputs, x, _ = _inputs(shape, vocabulary_size, embedding_dim, seed)

    # Only the last IndRNN layer of a last-step model gets the lower bound: it must remember to
    # the end.
    bound_last = not per_step and timesteps is not None

    stddev = input_stddev
    if stddev is None and output == "regression":
        stddev = _REGRESSION_INPUT_STDDEV

    def kernel_initializer(index):
        if stddev is None:
            return indrnn_input_initializer(seed=_seed(seed, 10 * index))
        return keras.initializers.RandomNormal(stddev=stddev, seed=_seed(seed, 10 * index))

    if gamma is None:
        gamma = _REGRESSION_GAMMA if output == "regression" else _CLASSIFIER_GAMMA
    shared = dict(timesteps=timesteps, gamma=gamma, method=method, kernel_regularizer=regularizer)
    if residual:
        x = keras.layers.Dense(
            units,
            kernel_initializer=keras.initializers.GlorotUniform(seed=_seed(seed, 800)),
            kernel_regularizer=regularizer,
            name="projection",
        )(x)
        blocks = num_layers // 2
        for block in range(blocks):
            x = ResidualIndRNNBlock(
                units,
                dropout=dropout,
                last_layer=bound_last and block == blocks - 1,
                batch_norm_momentum=batch_norm_momentum,
                kernel_initializer=kernel_initializer(block),
                seed=_seed(seed, 10 * block + 1),
                name=f"residual_block_{block}",
                **shared,
            )(x)
        x = keras.layers.BatchNormalization(momentum=batch_norm_momentum, name="bn_final")(x)
        if not per_step:
            x = x[:, -1, :]
    elif batch_norm:
        x = IndRNNStack(
            units,
            num_layers=num_layers,
            batch_norm=True,
            dropout=dropout,
            batch_norm_momentum=batch_norm_momentum,
            return_sequences=per_step,
            last_layer=bound_last,
            kernel_initializer=kernel_initializer(0),
            seed=_seed(seed, 1),
            name="indrnn_stack",
            **shared,
        )(x)
    else:
        for index in range(num_layers):
            last = index == num_layers - 1
            x = IndRNN(
                units,
                kernel_initializer=kernel_initializer(index),
                dropout=dropout,
                last_layer=bound_last and last,
                seed=_seed(seed, 10 * index + 1),
                return_sequences=not last or per_step,
                name=f"indrnn_{index}",
                **shared,
            )(x)
    outputs = _head(x, output, num_classes, seed, kernel_regularizer=regularizer)
    name = "res_indrnn" if residual else ("bn_indrnn" if batch_norm else "indrnn")
    return keras.Model(inputs, outputs, name=name)


def _build_bn_indrnn(*args, **kwargs):
    return build_indrnn(*args, batch_norm=True, **kwargs)


def _build_res_indrnn(*args, **kwargs):
    return build_indrnn(*args, residual=True, **kwargs)


MODEL_BUILDERS = {
    "indrnn": build_indrnn,
    "bn_indrnn": _build_bn_indrnn,
    "res_indrnn": _build_res_indrnn,
    "np_rnn": build_np_rnn,
    "irnn": build_irnn,
    "scaled_irnn": build_scaled_irnn,
    "lstm": build_lstm,
    "tanh_rnn": build_tanh_rnn,
}
MODEL_NAMES = tuple(MODEL_BUILDERS)


def build_model(name, input_shape, output="regression", num_classes=None, **kwargs):
    """Builds one of the compared networks by name (the examples' `--model`).

    Names: `indrnn`, `bn_indrnn`, `res_indrnn`, `np_rnn`, `irnn`, `scaled_irnn` (iRNN),
    `lstm`, `tanh_rnn`; hyphens and capitals are accepted (`np-RNN`). Keyword arguments whose
    value is None are dropped, so each family keeps its own defaults (`units=None` gives 100
    units for np-RNN and 128 for IndRNN).

    Args:
        name: The family's name.
        input_shape: `(timesteps, features)`, or `(timesteps,)` of token ids with
            `vocabulary_size`.
        output: Output kind (see the module docstring). Defaults to `"regression"`.
        num_classes: Number of classes for the classification outputs. Defaults to `None`.
        **kwargs: Passed to the family's builder (`units`, `num_layers`, `seed`, ...).

    Returns:
        An uncompiled `keras.Model`.

    Example:

    ```python
    model = keras_rnninit.models.build_model("np-rnn", (100, 2), units=100)
    ```
    """
    key = str(name).lower().replace("-", "_")
    if key not in MODEL_BUILDERS:
        raise ValueError(f"Unknown model; expected one of {MODEL_NAMES}. Received: name={name!r}")
    kwargs = {k: v for k, v in kwargs.items() if v is not None}
    return MODEL_BUILDERS[key](input_shape, output=output, num_classes=num_classes, **kwargs)
