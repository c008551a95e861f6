"""Deep IndRNN blocks: a batch-normalized stack and the pre-activation residual block.

Both take `(batch, timesteps, features)` sequences. Their batch normalization is Keras'
`BatchNormalization` on the last axis of a `(batch, timesteps, units)` tensor, so its statistics
are taken over batch AND time, as the Deep IndRNN paper does for classification.
"""

import keras
from keras import ops

from keras_rnninit._validation import PACKAGE, check_bool, check_fraction, check_int
from keras_rnninit.layers.indrnn import IndRNN


def _fresh(getter, identifier, index=0, seed=None):
    """A new instance for sub-layer `index`, so that no two sub-layers draw the same values.

    A Keras random initializer gives the same values on every call (with `seed=None` it draws
    its seed once), so one instance shared by two equal-shaped kernels would make them equal.
    Each sub-layer gets its own copy; an int seed is offset by `index`, which keeps a seeded
    block reproducible while its layers differ. An initializer left unseeded gets `seed`
    (the block's seed plus an offset) when that is an int, so a seeded block is reproducible
    across processes.
    """
    if identifier is None:
        return None
    config = keras.saving.serialize_keras_object(getter(identifier))
    inner = config.get("config") if isinstance(config, dict) else None
    own = inner.get("seed") if isinstance(inner, dict) else None
    if isinstance(own, int) and not isinstance(own, bool):
        config = {**config, "config": {**inner, "seed": own + index}}
    elif own is None and seed is not None and isinstance(inner, dict) and "seed" in inner:
        config = {**config, "config": {**inner, "seed": seed}}
    return getter(config)


def _serialize(obj):
    return None if obj is None else keras.saving.serialize_keras_object(obj)


def sub_seed(seed, offset):
    """Distinct, reproducible seeds per weight when the caller gives one int seed."""
    return None if seed is None else int(seed) + offset


# Sub-layers both blocks build the same way, from the block's own stored arguments.


def _make_indrnn(block, index, last_layer, return_sequences):
    return IndRNN(
        block.units,
        activation=block.activation,
        kernel_initializer=_fresh(
            keras.initializers.get,
            block.kernel_initializer,
            index,
            sub_seed(block.seed, 200 + index),
        ),
        recurrent_initializer=_fresh(
            keras.initializers.get,
            block.recurrent_initializer,
            index,
            sub_seed(block.seed, 300 + index),
        ),
        kernel_regularizer=_fresh(keras.regularizers.get, block.kernel_regularizer),
        timesteps=block.timesteps,
        last_layer=last_layer,
        gamma=block.gamma,
        epsilon=block.epsilon,
        method=block.method,
        # Seeds the default recurrent initializer (recurrent_initializer=None).
        seed=sub_seed(block.seed, 100 + index),
        return_sequences=return_sequences,
        dtype=block.dtype_policy,
        name=f"indrnn_{index}",
    )


def _make_batch_norm(block, index):
    return keras.layers.BatchNormalization(
        axis=-1,
        momentum=block.batch_norm_momentum,
        dtype=block.dtype_policy,
        name=f"batch_norm_{index}",
    )


def _make_time_shared_dropout(block, index):
    return keras.layers.Dropout(
        block.dropout,
        # One mask per sequence and unit, the same at every step.
        noise_shape=(None, 1, block.units),
        seed=sub_seed(block.seed, index),
        dtype=block.dtype_policy,
        name=f"dropout_{index}",
    )


def _last_valid_step(x, mask):
    """x[:, t] at each sequence's last unmasked step t (the last step without a mask)."""
    if mask is None:
        return x[:, -1]
    positions = ops.expand_dims(ops.arange(ops.shape(x)[1]), 0)
    last = ops.max(ops.where(mask, positions, 0), axis=1, keepdims=True)
    picked = ops.expand_dims(ops.equal(positions, last), -1)
    return ops.sum(ops.where(picked, x, ops.zeros_like(x)), axis=1)


class _IndRNNBlockBase(keras.layers.Layer):
    """What `IndRNNStack` and `ResidualIndRNNBlock` share: the IndRNN layers' arguments, their
    checks and their config, and the sub-layers built from them."""

    def __init__(
        self,
        *,
        units,
        timesteps,
        activation,
        batch_norm_momentum,
        dropout,
        return_sequences,
        last_layer,
        gamma,
        epsilon,
        method,
        kernel_initializer,
        recurrent_initializer,
        kernel_regularizer,
        seed,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.supports_masking = True
        owner = type(self).__name__
        self.units = check_int("units", units, owner=owner)
        self.timesteps = timesteps
        self.activation = keras.activations.serialize(keras.activations.get(activation))
        self.batch_norm_momentum = check_fraction(
            "batch_norm_momentum", batch_norm_momentum, owner=owner, open_maximum=False
        )
        self.dropout = check_fraction("dropout", dropout, owner=owner)
        self.return_sequences = check_bool("return_sequences", return_sequences, owner=owner)
        self.last_layer = check_bool("last_layer", last_layer, owner=owner)
        # IndRNN checks these three when the sub-layers are made.
        self.gamma = gamma
        self.epsilon = epsilon
        self.method = method
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.recurrent_initializer = (
            None if recurrent_initializer is None else keras.initializers.get(recurrent_initializer)
        )
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.seed = check_int("seed", seed, minimum=0, owner=owner, allow_none=True)

    def compute_mask(self, inputs, mask=None):
        return mask if self.return_sequences else None

    def get_config(self):
        config = {
            "units": self.units,
            "timesteps": self.timesteps,
            "activation": self.activation,
            "batch_norm_momentum": self.batch_norm_momentum,
            "dropout": self.dropout,
            "return_sequences": self.return_sequences,
            "last_layer": self.last_layer,
            "gamma": self.gamma,
            "epsilon": self.epsilon,
            "method": self.method,
            "kernel_initializer": _serialize(self.kernel_initializer),
            "recurrent_initializer": _serialize(self.recurrent_initializer),
            "kernel_regularizer": _serialize(self.kernel_regularizer),
            "seed": self.seed,
        }
        return {**super().get_config(), **config}


@keras.saving.register_keras_serializable(package=PACKAGE)
class IndRNNStack(_IndRNNBlockBase):
    """A stack of IndRNN layers, each followed by batch normalization (over batch and time).

    Layer `l` computes `h_l = BN(IndRNN(h_{l-1}))`, with dropout (one mask per sequence, shared
    over time) between layers. Every IndRNN layer gets `timesteps`, so it is initialized and
    bounded as in the IndRNN paper (`|u| <= gamma^(1/T)`); with `last_layer=True` the top layer
    also keeps `|u| >= epsilon^(1/T)`, for a model that reads only the last step.

    The batch normalization follows the activation and normalizes each unit with one mean and
    variance taken over the batch and every time step. With `return_sequences=False` the top
    layer's whole sequence is normalized and then its last step returned.

    Args:
        units: Units per IndRNN layer, a positive int.
        num_layers: Number of IndRNN layers, a positive int. Defaults to `2`.
        timesteps: Training sequence length T, or `None`. Passed to every IndRNN layer, which
            derives its recurrent initializer and `|u|` bound from it. Defaults to `None`.
        activation: Activation of every IndRNN layer. Defaults to `"relu"`.
        batch_norm: Whether to normalize after each layer. Defaults to `True`.
        batch_norm_momentum: Momentum of the moving statistics used at inference.
            Defaults to `0.9` (PyTorch's default, which the IndRNN authors trained with), not
            Keras' 0.99: units with `u` near 1 integrate over time, so their statistics move
            fast while they train, and an average over ~100 steps lags them. Measured on
            MNIST read row by row, six IndRNN -> BN layers: 0.11 test accuracy at inference
            (0.91 in training mode) with 0.99, 0.90 / 0.90 with 0.9.
        dropout: Fraction of each layer's outputs dropped before the next layer, in `[0, 1)`,
            one mask per sequence for all steps. Not applied after the top layer. Defaults to
            `0.0`.
        return_sequences: Whether to return the whole sequence `(batch, timesteps, units)` or
            only the last step `(batch, units)`. Defaults to `False`.
        last_layer: Whether the top layer gets IndRNN's lower bound on `|u|` too (for a model
            that classifies or regresses at the last step). Defaults to `False`.
        gamma: Largest gradient growth over T steps, passed to every IndRNN layer. Defaults to
            `2.0`.
        epsilon: Smallest gradient decay over T steps for the top layer when `last_layer=True`,
            or `None` for `1 / gamma`. Defaults to `None`.
        method: The IndRNN layers' `method` (`"auto"`, `"sequential"`, `"chunked"` or
            `"parallel"`). Defaults to `"auto"`.
        kernel_initializer: Initializer of the input kernels `W`. Every layer gets its own
            copy (an int seed is offset by the layer's index), so layers never share draws.
            Defaults to `"glorot_uniform"`.
        recurrent_initializer: Initializer of the recurrent vectors `u`, or `None` for IndRNN's
            default (derived from `timesteps`). Defaults to `None`.
        kernel_regularizer: Regularizer of the input kernels `W`, e.g. the paper's weight decay
            `keras.regularizers.L2(1e-4)`. The recurrent vectors `u` are never decayed: their
            magnitude is what lets a unit remember. Defaults to `None`.
        seed: Int seed of the dropout masks and of every initializer left unseeded (offset per
            sub-layer), or `None`. Defaults to `None`.
        **kwargs: Base `keras.layers.Layer` arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: A `(batch, timesteps, features)` tensor.
        training: Whether batch normalization uses batch statistics and dropout is active.

    Example:

    ```python
    inputs = keras.Input((784, 1))
    x = keras_rnninit.layers.IndRNNStack(128, num_layers=6, timesteps=784, last_layer=True)(inputs)
    outputs = keras.layers.Dense(10, activation="softmax")(x)
    model = keras.Model(inputs, outputs)
    ```

    Reference:
        - [Li et al., 2018](https://arxiv.org/abs/1803.04831)
        - [Li et al., 2019 (Deep IndRNN)](https://arxiv.org/abs/1910.06251)
    """

    def __init__(
        self,
        units,
        num_layers=2,
        timesteps=None,
        activation="relu",
        batch_norm=True,
        batch_norm_momentum=0.9,
        dropout=0.0,
        return_sequences=False,
        last_layer=False,
        gamma=2.0,
        epsilon=None,
        method="auto",
        kernel_initializer="glorot_uniform",
        recurrent_initializer=None,
        kernel_regularizer=None,
        seed=None,
        **kwargs,
    ):
        super().__init__(
            units=units,
            timesteps=timesteps,
            activation=activation,
            batch_norm_momentum=batch_norm_momentum,
            dropout=dropout,
            return_sequences=return_sequences,
            last_layer=last_layer,
            gamma=gamma,
            epsilon=epsilon,
            method=method,
            kernel_initializer=kernel_initializer,
            recurrent_initializer=recurrent_initializer,
            kernel_regularizer=kernel_regularizer,
            seed=seed,
            **kwargs,
        )
        owner = "IndRNNStack"
        self.num_layers = check_int("num_layers", num_layers, owner=owner)
        self.batch_norm = check_bool("batch_norm", batch_norm, owner=owner)

        self.recurrent_layers = []
        self.norm_layers = []
        self.dropout_layers = []
        for index in range(self.num_layers):
            top = index == self.num_layers - 1
            self.recurrent_layers.append(
                _make_indrnn(
                    self,
                    index,
                    last_layer=self.last_layer and top,
                    # Batch norm needs the top layer's whole sequence, to take its statistics
                    # over time too.
                    return_sequences=(not top) or self.return_sequences or self.batch_norm,
                )
            )
            if self.batch_norm:
                self.norm_layers.append(_make_batch_norm(self, index))
            if self.dropout > 0 and not top:
                self.dropout_layers.append(_make_time_shared_dropout(self, index))

    def build(self, input_shape):
        if len(input_shape) != 3:
            raise ValueError(
                "IndRNNStack expects inputs of shape (batch, timesteps, features). "
                f"Received: input_shape={tuple(input_shape)}"
            )
        shape = tuple(input_shape)
        for index, layer in enumerate(self.recurrent_layers):
            layer.build(shape)
            shape = (shape[0], shape[1], self.units)
            if self.batch_norm:
                self.norm_layers[index].build(shape)
            if index < len(self.dropout_layers):
                self.dropout_layers[index].build(shape)

    def call(self, inputs, training=None, mask=None):
        x = inputs
        for index, layer in enumerate(self.recurrent_layers):
            x = layer(x, training=training, mask=mask)
            if self.batch_norm:
                x = self.norm_layers[index](x, training=training, mask=mask)
            if index < len(self.dropout_layers):
                x = self.dropout_layers[index](x, training=training)
        if not self.return_sequences and len(x.shape) == 3:
            x = _last_valid_step(x, mask)
        return x

    def compute_output_shape(self, input_shape):
        if self.return_sequences:
            return (input_shape[0], input_shape[1], self.units)
        return (input_shape[0], self.units)

    def get_config(self):
        config = {"num_layers": self.num_layers, "batch_norm": self.batch_norm}
        return {**super().get_config(), **config}


@keras.saving.register_keras_serializable(package=PACKAGE)
class ResidualIndRNNBlock(_IndRNNBlockBase):
    """The pre-activation residual IndRNN block: `x_l = x_{l-1} + F(x_{l-1})`.

    ```
    F(x) = Dense(IndRNN(BN(Dense(IndRNN(BN(x))))))      (twice: BN -> IndRNN + ReLU -> Dense)
    ```

    Each `Dense` maps back to the block's input width, so the output has the input's shape and
    blocks chain. Because the identity path carries the signal, a deep stack of blocks trains
    like a shallow one; a first layer (e.g. `Dense` or `IndRNN`) sets the width the blocks keep.
    The batch normalization takes its statistics over batch and time.

    Args:
        units: Units of the two IndRNN layers inside `F`, a positive int.
        timesteps: Training sequence length T, or `None`. Passed to both IndRNN layers, which
            derive their recurrent initializer and `|u|` bound from it. Defaults to `None`.
        activation: Activation of the IndRNN layers. Defaults to `"relu"`.
        batch_norm_momentum: Momentum of the moving statistics used at inference. Defaults
            to `0.9`, not Keras' 0.99, for the reason `IndRNNStack` gives.
        dropout: Fraction of each IndRNN layer's outputs dropped, in `[0, 1)`, one mask per
            sequence for all steps. Defaults to `0.0`.
        return_sequences: Whether to return the whole sequence or only the last step.
            Defaults to `True` (so blocks chain).
        last_layer: Whether the block's second IndRNN layer gets IndRNN's lower bound on `|u|`
            (for the last block of a model that reads only the last step). Defaults to `False`.
        gamma: Largest gradient growth over T steps. Defaults to `2.0`.
        epsilon: Smallest gradient decay over T steps when `last_layer=True`, or `None` for
            `1 / gamma`. Defaults to `None`.
        method: The IndRNN layers' `method`. Defaults to `"auto"`.
        kernel_initializer: Initializer of the IndRNN input kernels. Each layer gets its own
            copy (an int seed is offset by the layer's index). Defaults to `"glorot_uniform"`.
        recurrent_initializer: Initializer of the recurrent vectors `u`, or `None` for IndRNN's
            default. Defaults to `None`.
        projection_initializer: Initializer of the two `Dense` kernels. `"zeros"` makes the
            block start as the identity. Defaults to `"glorot_uniform"`.
        kernel_regularizer: Regularizer of the IndRNN input kernels and the `Dense` kernels
            (never of `u`). Defaults to `None`.
        seed: Int seed of the dropout masks and of every initializer left unseeded (offset per
            sub-layer), or `None`. Defaults to `None`.
        **kwargs: Base `keras.layers.Layer` arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: A `(batch, timesteps, features)` tensor.
        training: Whether batch normalization uses batch statistics and dropout is active.

    Example:

    ```python
    inputs = keras.Input((784, 1))
    x = keras.layers.Dense(128)(inputs)
    for _ in range(4):
        x = keras_rnninit.layers.ResidualIndRNNBlock(128, timesteps=784)(x)
    x = keras.layers.BatchNormalization()(x)
    outputs = keras.layers.Dense(10, activation="softmax")(x[:, -1])
    model = keras.Model(inputs, outputs)
    ```

    Reference:
        - [Li et al., 2019 (Deep IndRNN)](https://arxiv.org/abs/1910.06251)
    """

    def __init__(
        self,
        units,
        timesteps=None,
        activation="relu",
        batch_norm_momentum=0.9,
        dropout=0.0,
        return_sequences=True,
        last_layer=False,
        gamma=2.0,
        epsilon=None,
        method="auto",
        kernel_initializer="glorot_uniform",
        recurrent_initializer=None,
        projection_initializer="glorot_uniform",
        kernel_regularizer=None,
        seed=None,
        **kwargs,
    ):
        super().__init__(
            units=units,
            timesteps=timesteps,
            activation=activation,
            batch_norm_momentum=batch_norm_momentum,
            dropout=dropout,
            return_sequences=return_sequences,
            last_layer=last_layer,
            gamma=gamma,
            epsilon=epsilon,
            method=method,
            kernel_initializer=kernel_initializer,
            recurrent_initializer=recurrent_initializer,
            kernel_regularizer=kernel_regularizer,
            seed=seed,
            **kwargs,
        )
        self.projection_initializer = keras.initializers.get(projection_initializer)

        self.norm_layers = []
        self.recurrent_layers = []
        self.dropout_layers = []
        for index in range(2):
            self.norm_layers.append(_make_batch_norm(self, index))
            self.recurrent_layers.append(
                _make_indrnn(
                    self, index, last_layer=self.last_layer and index == 1, return_sequences=True
                )
            )
            if self.dropout > 0:
                self.dropout_layers.append(_make_time_shared_dropout(self, index))
        # The Dense widths are the input's, known only in build.
        self.projection_layers = []

    def build(self, input_shape):
        if len(input_shape) != 3 or input_shape[-1] is None:
            raise ValueError(
                "ResidualIndRNNBlock expects inputs of shape (batch, timesteps, features) with a "
                f"known number of features. Received: input_shape={tuple(input_shape)}"
            )
        shape = tuple(input_shape)
        width = shape[-1]
        hidden = (shape[0], shape[1], self.units)
        self.projection_layers = [
            keras.layers.Dense(
                width,
                kernel_initializer=_fresh(
                    keras.initializers.get,
                    self.projection_initializer,
                    index,
                    sub_seed(self.seed, 400 + index),
                ),
                kernel_regularizer=_fresh(keras.regularizers.get, self.kernel_regularizer),
                dtype=self.dtype_policy,
                name=f"projection_{index}",
            )
            for index in range(2)
        ]
        for index in range(2):
            self.norm_layers[index].build(shape)
            self.recurrent_layers[index].build(shape)
            if self.dropout_layers:
                self.dropout_layers[index].build(hidden)
            self.projection_layers[index].build(hidden)

    def call(self, inputs, training=None, mask=None):
        x = inputs
        for index in range(2):
            x = self.norm_layers[index](x, training=training, mask=mask)
            x = self.recurrent_layers[index](x, training=training, mask=mask)
            if self.dropout_layers:
                x = self.dropout_layers[index](x, training=training)
            x = self.projection_layers[index](x)
        # At masked steps the sum is not meaningful; the mask goes on with the sequence, and
        # the last-step output is the last unmasked step's.
        outputs = inputs + ops.cast(x, inputs.dtype)
        if not self.return_sequences:
            outputs = _last_valid_step(outputs, mask)
        return outputs

    def compute_output_shape(self, input_shape):
        if self.return_sequences:
            return tuple(input_shape)
        return (input_shape[0], input_shape[-1])

    def get_config(self):
        config = {"projection_initializer": _serialize(self.projection_initializer)}
        return {**super().get_config(), **config}
