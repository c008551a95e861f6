"""Deep IndRNN blocks: shapes, the residual identity, batch-norm statistics, bounds, saving."""

import math

import keras
import numpy as np
import pytest

import keras_rnninit
from keras_rnninit.constraints import indrnn_bounds
from keras_rnninit.layers.blocks import IndRNNStack, ResidualIndRNNBlock


def _inputs(batch=4, timesteps=10, features=3, seed=0):
    return np.random.default_rng(seed).normal(size=(batch, timesteps, features)).astype("float32")


def _numpy(x):
    return keras.ops.convert_to_numpy(x)


@pytest.mark.parametrize("batch_norm", [True, False])
@pytest.mark.parametrize("return_sequences", [False, True])
def test_stack_shapes(return_sequences, batch_norm):
    stack = IndRNNStack(
        8, num_layers=3, timesteps=10, return_sequences=return_sequences, batch_norm=batch_norm
    )
    x = _inputs()
    outputs = stack(x)
    expected = (4, 10, 8) if return_sequences else (4, 8)
    assert tuple(outputs.shape) == expected
    assert stack.compute_output_shape((4, 10, 3)) == expected
    assert len(stack.recurrent_layers) == 3
    assert len(stack.norm_layers) == (3 if batch_norm else 0)
    if not batch_norm:
        # Without normalization the stack is exactly its IndRNN layers in sequence.
        expected_outputs = x
        for layer in stack.recurrent_layers:
            expected_outputs = layer(expected_outputs)
        np.testing.assert_allclose(_numpy(outputs), _numpy(expected_outputs), rtol=1e-6)
    # Equal-shaped kernels of different layers are drawn independently.
    kernels = [_numpy(layer.cell.kernel) for layer in stack.recurrent_layers[1:]]
    assert not np.allclose(kernels[0], kernels[1])


def test_seeded_initializers_are_reproducible_and_differ_between_layers():
    def kernels(seed):
        stack = IndRNNStack(
            8,
            num_layers=3,
            kernel_initializer=keras.initializers.GlorotUniform(seed=seed),
            recurrent_initializer=keras.initializers.RandomUniform(0.0, 1.0, seed=seed),
        )
        stack.build((2, 5, 8))
        return [
            (_numpy(layer.cell.kernel), _numpy(layer.cell.recurrent_kernel))
            for layer in stack.recurrent_layers
        ]

    first, again = kernels(7), kernels(7)
    for (w, u), (w_again, u_again) in zip(first, again):
        np.testing.assert_array_equal(w, w_again)
        np.testing.assert_array_equal(u, u_again)
    # Same shapes everywhere (input size 8 = units), yet every layer's draws differ.
    assert not np.allclose(first[0][0], first[1][0])
    assert not np.allclose(first[1][1], first[2][1])


@pytest.mark.parametrize("return_sequences", [True, False])
def test_residual_shapes(return_sequences):
    block = ResidualIndRNNBlock(16, timesteps=10, return_sequences=return_sequences)
    outputs = block(_inputs(features=6))
    expected = (4, 10, 6) if return_sequences else (4, 6)
    assert tuple(outputs.shape) == expected
    assert block.compute_output_shape((4, 10, 6)) == expected


@pytest.mark.parametrize("training", [False, True])
def test_residual_block_with_zero_branch_is_the_identity(training):
    x = _inputs(features=5)
    block = ResidualIndRNNBlock(7, timesteps=10, projection_initializer="zeros")
    np.testing.assert_array_equal(_numpy(block(x, training=training)), x)
    last = ResidualIndRNNBlock(
        7, timesteps=10, projection_initializer="zeros", return_sequences=False
    )
    np.testing.assert_array_equal(_numpy(last(x, training=training)), x[:, -1])


def test_residual_block_adds_its_branch_to_the_input():
    x = _inputs(features=5)
    block = ResidualIndRNNBlock(7, timesteps=10)
    outputs = _numpy(block(x))
    # F = 2 x (BN -> IndRNN -> Dense), recomputed from the block's own sub-layers.
    branch = x
    for index in range(2):
        branch = block.norm_layers[index](branch)
        branch = block.recurrent_layers[index](branch)
        branch = block.projection_layers[index](branch)
    branch = _numpy(branch)
    assert np.abs(branch).max() > 1e-3  # a branch that is not trivially zero
    np.testing.assert_allclose(outputs, x + branch, rtol=1e-5, atol=1e-5)


def test_stack_batch_norm_statistics_are_over_batch_and_time():
    x = _inputs(batch=6, timesteps=12, features=3)
    # Momentum 0: the moving statistics after one training call are that batch's statistics.
    stack = IndRNNStack(
        5, num_layers=1, timesteps=12, batch_norm_momentum=0.0, return_sequences=False
    )
    outputs = _numpy(stack(x, training=True))
    hidden = _numpy(stack.recurrent_layers[0](x))
    assert hidden.shape == (6, 12, 5)
    norm = stack.norm_layers[0]
    mean, variance = hidden.mean(axis=(0, 1)), hidden.var(axis=(0, 1))
    np.testing.assert_allclose(_numpy(norm.moving_mean), mean, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(_numpy(norm.moving_variance), variance, rtol=1e-3, atol=1e-6)
    # Statistics over the batch at the last step alone would be different numbers.
    assert not np.allclose(mean, hidden[:, -1].mean(axis=0), rtol=1e-2)
    # The returned last step is the last step of the sequence normalized with those statistics.
    normalized = (hidden - mean) / np.sqrt(variance + norm.epsilon)
    np.testing.assert_allclose(outputs, normalized[:, -1], rtol=1e-3, atol=1e-4)


def test_stack_dropout_mask_is_shared_over_time():
    stack = IndRNNStack(16, num_layers=2, timesteps=10, dropout=0.5, seed=3)
    stack.build((4, 10, 3))
    dropout = stack.dropout_layers[0]
    assert len(stack.dropout_layers) == 1  # none after the top layer
    dropped = _numpy(dropout(np.ones((4, 10, 16), "float32"), training=True))
    kept = dropped != 0
    assert 0 < kept.mean() < 1
    np.testing.assert_array_equal(kept, np.broadcast_to(kept[:, :1], kept.shape))


def _bounds_of(layer):
    constraint = layer.cell.recurrent_constraint
    return constraint.min_abs, constraint.max_abs


def test_last_layer_lower_bound_reaches_only_the_top_layer():
    timesteps = 50
    stack = IndRNNStack(8, num_layers=3, timesteps=timesteps, last_layer=True)
    stack.build((2, timesteps, 3))
    low, high = indrnn_bounds(timesteps, last_layer=True)
    for layer in stack.recurrent_layers[:-1]:
        assert _bounds_of(layer) == pytest.approx((0.0, high))
    assert _bounds_of(stack.recurrent_layers[-1]) == pytest.approx((low, high))
    u = np.abs(_numpy(stack.recurrent_layers[-1].cell.recurrent_kernel))
    assert u.min() >= low - 1e-6 and u.max() <= high + 1e-6

    block = ResidualIndRNNBlock(8, timesteps=timesteps, last_layer=True, gamma=5.0, epsilon=0.1)
    block.build((2, timesteps, 4))
    low, high = indrnn_bounds(timesteps, gamma=5.0, epsilon=0.1, last_layer=True)
    assert _bounds_of(block.recurrent_layers[0]) == pytest.approx((0.0, high))
    assert _bounds_of(block.recurrent_layers[1]) == pytest.approx((low, high))


def _deep_model(timesteps=16, features=3):
    inputs = keras.Input((timesteps, features))
    x = IndRNNStack(
        8,
        num_layers=2,
        timesteps=timesteps,
        dropout=0.1,
        return_sequences=True,
        kernel_regularizer=keras.regularizers.L2(1e-4),
        seed=1,
    )(inputs)
    x = ResidualIndRNNBlock(6, timesteps=timesteps, last_layer=True, return_sequences=False)(x)
    outputs = keras.layers.Dense(1)(x)
    return keras.Model(inputs, outputs)


def test_training_under_jit_is_finite_and_keeps_the_bound():
    # 40 steps: long enough for IndRNN's "auto" to leave the plain sequential loop on a CPU.
    timesteps = 40
    model = _deep_model(timesteps)
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="mse", jit_compile=True)
    x = _inputs(batch=8, timesteps=timesteps)
    y = x[:, :, 0].sum(axis=1, keepdims=True)
    history = model.fit(x, y, batch_size=4, epochs=2, verbose=0)
    losses = history.history["loss"]
    assert all(math.isfinite(v) for v in losses)
    predictions = model.predict(x, verbose=0)
    assert np.isfinite(predictions).all()
    # The projection held through training: every |u| within its layer's bound.
    for layer in model.layers:
        for sub in getattr(layer, "recurrent_layers", []):
            low, high = _bounds_of(sub)
            u = np.abs(_numpy(sub.cell.recurrent_kernel))
            assert u.max() <= high + 1e-6 and u.min() >= low - 1e-6
    # Weight decay reaches W only: 2 layers' kernels, never u.
    assert len(model.layers[1].losses) == 2


@pytest.mark.parametrize("cls", [IndRNNStack, ResidualIndRNNBlock])
def test_config_round_trip(cls):
    layer = cls(
        8,
        timesteps=20,
        dropout=0.2,
        last_layer=True,
        gamma=3.0,
        kernel_regularizer="l2",
        recurrent_initializer=keras.initializers.RandomUniform(0.0, 0.5, seed=2),
        seed=5,
    )
    config = layer.get_config()
    clone = cls.from_config(config)
    assert clone.get_config() == config
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert type(restored) is cls and restored.get_config() == config


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"units": 0}, "Received: units=0"),
        ({"units": 4, "num_layers": 0}, "Received: num_layers=0"),
        ({"units": 4, "dropout": 1.0}, "Received: dropout=1.0"),
        ({"units": 4, "batch_norm_momentum": 1.5}, "Received: batch_norm_momentum=1.5"),
        ({"units": 4, "seed": "a"}, "Received: seed='a'"),
    ],
)
def test_stack_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        IndRNNStack(**kwargs)


def test_bad_input_shapes():
    with pytest.raises(ValueError, match=r"Received: input_shape=\(4, 3\)"):
        IndRNNStack(4).build((4, 3))
    with pytest.raises(ValueError, match=r"Received: units=-1"):
        ResidualIndRNNBlock(-1)
    with pytest.raises(ValueError, match=r"Received: input_shape=\(4, 3\)"):
        ResidualIndRNNBlock(4).build((4, 3))


def test_exported():
    assert keras_rnninit.layers.IndRNNStack is IndRNNStack
    assert keras_rnninit.layers.ResidualIndRNNBlock is ResidualIndRNNBlock
    assert keras_rnninit.IndRNNStack is IndRNNStack
    assert keras_rnninit.ResidualIndRNNBlock is ResidualIndRNNBlock


@pytest.mark.parametrize("block", ["ResidualIndRNNBlock", "IndRNNStack"])
@pytest.mark.parametrize("return_sequences", [False, True])
def test_masked_padded_input_gives_the_unpadded_result(block, return_sequences):
    """Issue 9, item 6: with Masking, padded and unpadded sequences differed by 0.87 to 2.37
    (the residual add and the last-step pick used the padded steps)."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 5, 4)).astype("float32")
    padded = np.concatenate([x, np.zeros((3, 3, 4), "float32")], axis=1)
    layer = getattr(keras_rnninit, block)(6, return_sequences=return_sequences, seed=1)

    def run(data):
        inputs = keras.Input((None, 4))
        outputs = layer(keras.layers.Masking(0.0)(inputs))
        return keras.ops.convert_to_numpy(keras.Model(inputs, outputs)(data, training=False))

    unpadded, with_padding = run(x), run(padded)
    if return_sequences:
        with_padding = with_padding[:, :5]
    np.testing.assert_allclose(with_padding, unpadded, rtol=1e-5, atol=1e-5)
