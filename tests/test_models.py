"""Tests for keras_rnninit.models: every builder builds what its paper describes, and trains."""

import keras
import numpy as np
import pytest

import keras_rnninit
from keras_rnninit import constraints, models

SIMPLE_FAMILIES = ("np_rnn", "irnn", "scaled_irnn", "lstm", "tanh_rnn")
INDRNN_FAMILIES = ("indrnn", "bn_indrnn", "res_indrnn")


ALL_FAMILIES = SIMPLE_FAMILIES + INDRNN_FAMILIES


def _recurrent_layers(model):
    return [layer for layer in model.layers if isinstance(layer, keras.layers.RNN)]


def _weight(layer, name):
    for weight in layer.cell.weights:
        if weight.path.endswith(name):
            return keras.ops.convert_to_numpy(weight)
    raise KeyError(name)


OUTPUT_CASES = [
    ("regression", None, (None, 1)),
    ("binary", None, (None, 1)),
    ("binary_per_step", None, (None, 12, 1)),
    ("classification", 5, (None, 5)),
    ("classification_per_step", 5, (None, 12, 5)),
]
# Each family with two output kinds, rotating, so every kind meets several families without
# building all 40 pairs.
FAMILY_OUTPUT_CASES = [
    (name, *OUTPUT_CASES[(i + shift) % 5])
    for i, name in enumerate(ALL_FAMILIES)
    for shift in (0, 2)
]


@pytest.mark.parametrize("name, output, num_classes, expected", FAMILY_OUTPUT_CASES)
def test_every_family_builds_every_output(name, output, num_classes, expected):
    model = models.build_model(name, (12, 3), output, num_classes, units=8, num_layers=2, seed=1)
    assert model.output_shape == expected
    x = np.random.default_rng(0).uniform(size=(4, 12, 3)).astype("float32")
    y = keras.ops.convert_to_numpy(model(x))
    assert np.all(np.isfinite(y))
    if output.startswith("binary"):
        assert np.all((y > 0) & (y < 1))
    if output.startswith("classification"):
        np.testing.assert_allclose(y.sum(axis=-1), 1.0, rtol=1e-5)


@pytest.mark.parametrize("name", ALL_FAMILIES)
def test_token_inputs_are_embedded(name):
    model = models.build_model(
        name,
        (10,),
        "classification_per_step",
        7,
        vocabulary_size=7,
        embedding_dim=4,
        units=8,
        num_layers=2,
    )
    assert model.input.dtype == "int32"
    assert model.get_layer("embedding").output_dim == 4
    y = keras.ops.convert_to_numpy(model(np.arange(20, dtype="int32").reshape(2, 10) % 7))
    assert y.shape == (2, 10, 7)


def test_np_rnn_recurrent_kernel_is_normalized_positive_definite():
    model = models.build_np_rnn((5, 40), units=64, seed=3)
    (layer,) = _recurrent_layers(model)
    assert isinstance(layer, keras.layers.SimpleRNN)
    assert layer.cell.activation is keras.activations.relu
    w = _weight(layer, "recurrent_kernel").astype("float64")
    np.testing.assert_allclose(w, w.T, atol=1e-6)
    eigenvalues = np.linalg.eigvalsh((w + w.T) / 2)
    assert abs(eigenvalues[-1] - 1.0) < 1e-4
    # Every other eigenvalue lies strictly inside (0, 1): the identity shift keeps it positive.
    assert eigenvalues[0] > 0 and eigenvalues[-2] < 1.0
    # Input weights N(0, 1/N_in): 40 x 64 draws give the std to within a few percent.
    kernel = _weight(layer, "/kernel")
    assert abs(kernel.std() - 1 / np.sqrt(40)) < 0.1 / np.sqrt(40)
    assert abs(kernel.mean()) < 0.05 / np.sqrt(40) * 5
    np.testing.assert_array_equal(_weight(layer, "bias"), 0.0)


def test_np_rnn_input_scale_and_deeper_layers_use_their_own_fan_in():
    model = models.build_np_rnn((5, 16), units=200, num_layers=2, input_scale=0.5, seed=4)
    first, second = _recurrent_layers(model)
    assert abs(_weight(first, "/kernel").std() - 0.5 / 4) < 0.05 * 0.5 / 4 * 4
    assert abs(_weight(second, "/kernel").std() - 0.5 / np.sqrt(200)) < 0.03 / np.sqrt(200)


def test_np_rnn_without_identity_shift_still_has_top_eigenvalue_one():
    model = models.build_np_rnn((5, 2), units=32, identity_shift=False, seed=2)
    w = _weight(_recurrent_layers(model)[0], "recurrent_kernel").astype("float64")
    eigenvalues = np.linalg.eigvalsh((w + w.T) / 2)
    assert abs(eigenvalues[-1] - 1.0) < 1e-4
    assert eigenvalues[0] < 0.05  # A alone is nearly singular for a square R


@pytest.mark.parametrize("name, gain", [("irnn", 1.0), ("scaled_irnn", 0.01)])
def test_irnn_starts_from_scaled_identity_with_tiny_input_weights(name, gain):
    model = models.build_model(name, (5, 30), units=50, num_layers=2, seed=5)
    for layer in _recurrent_layers(model):
        assert layer.cell.activation is keras.activations.relu
        np.testing.assert_array_equal(
            _weight(layer, "recurrent_kernel"), np.float32(gain) * np.eye(50, dtype="float32")
        )
        np.testing.assert_array_equal(_weight(layer, "bias"), 0.0)
        kernel = _weight(layer, "/kernel")
        assert abs(kernel.std() - 0.001) < 0.0002


def test_irnn_with_zero_input_keeps_its_state():
    # With W = I, zero bias and zero input after the first step, a ReLU state is copied forward.
    model = models.build_irnn((6, 3), "binary_per_step", units=8, input_stddev=0.5, seed=6)
    layer = _recurrent_layers(model)[0]
    x = np.zeros((1, 6, 3), "float32")
    x[0, 0] = [1.0, -2.0, 0.5]
    probe = keras.Model(model.input, layer.output)
    states = keras.ops.convert_to_numpy(probe(x))[0]
    np.testing.assert_allclose(states, np.broadcast_to(states[0], states.shape), atol=1e-6)
    assert np.any(states[0] > 0)


def test_tanh_rnn_and_lstm_are_keras_defaults():
    tanh = models.build_tanh_rnn((5, 3), units=16, seed=7)
    layer = _recurrent_layers(tanh)[0]
    assert layer.cell.activation is keras.activations.tanh
    w = _weight(layer, "recurrent_kernel")
    np.testing.assert_allclose(w @ w.T, np.eye(16), atol=1e-5)
    lstm = models.build_lstm((5, 3), units=16, seed=7)
    layer = _recurrent_layers(lstm)[0]
    assert isinstance(layer, keras.layers.LSTM)
    bias = _weight(layer, "bias")
    np.testing.assert_array_equal(bias[16:32], 1.0)  # unit forget bias


@pytest.mark.parametrize(
    "output, gamma",
    [("regression", 2.0), ("classification_per_step", 5.0), ("classification", 5.0)],
)
def test_indrnn_recurrent_weights_start_inside_the_papers_bounds(output, gamma):
    # The authors' MAG by task: 2 on the adding problem (regression), 5 for classifiers.
    timesteps = 50
    model = models.build_indrnn(
        (timesteps, 2), output, num_classes=3, units=256, num_layers=2, seed=8
    )
    layers = _recurrent_layers(model)
    assert len(layers) == 2
    _, max_abs = constraints.indrnn_bounds(timesteps, gamma=gamma)
    assert all(layer.cell.gamma == gamma for layer in layers)
    for index, layer in enumerate(layers):
        u = _weight(layer, "recurrent_kernel")
        assert u.shape == (256,)
        assert np.all(np.abs(u) <= max_abs + 1e-7)
        last_step_model = output in ("regression", "classification")
        if index == 1 and last_step_model:
            min_abs, _ = constraints.indrnn_bounds(timesteps, gamma=gamma, last_layer=True)
            assert np.all(np.abs(u) >= min_abs - 1e-7)
        else:
            # U[0, max]: some units start well below the last layer's lower bound.
            assert np.min(np.abs(u)) < 0.9


def test_indrnn_bound_holds_after_training_steps():
    timesteps = 20
    model = models.build_indrnn((timesteps, 2), units=16, seed=9)
    # Adam moves every weight by about the learning rate per step whatever the gradient's
    # size: 0.5 would carry u far past its bounds if the projection did not hold it.
    model.compile(optimizer=keras.optimizers.Adam(0.5), loss="mse", jit_compile=True)
    rng = np.random.default_rng(0)
    x = rng.uniform(size=(32, timesteps, 2)).astype("float32")
    model.fit(x, 100 * np.ones((32, 1), "float32"), epochs=3, batch_size=16, verbose=0)
    min_abs, max_abs = constraints.indrnn_bounds(timesteps, last_layer=True)
    u_last = _weight(_recurrent_layers(model)[-1], "recurrent_kernel")
    assert np.all(np.abs(u_last) <= max_abs + 1e-6)
    assert np.all(np.abs(u_last) >= min_abs - 1e-6)
    at_a_bound = np.isclose(np.abs(u_last), max_abs) | np.isclose(np.abs(u_last), min_abs)
    assert at_a_bound.any()


def _recurrent_vectors(model):
    return [
        keras.ops.convert_to_numpy(w)
        for w in model.weights
        if w.path.endswith("recurrent_kernel") and len(w.shape) == 1
    ]


def _input_kernels(model):
    """Every IndRNN input kernel in `model`, nested blocks included, with its fan-in."""
    kernels = []
    for weight in model.weights:
        if "indrnn" in weight.path and weight.path.endswith("kernel") and len(weight.shape) == 2:
            kernels.append(keras.ops.convert_to_numpy(weight))
    return kernels


@pytest.mark.parametrize("name", INDRNN_FAMILIES)
def test_indrnn_classifiers_get_the_fan_in_uniform_input_weights(name):
    # The IndRNN authors' bound, sqrt(6 / (65 * fan_in)): a classifier reading pixels in [0, 1]
    # with N(0, 0.01^2) input weights left every first-layer unit dead (issue 8).
    model = models.build_model(name, (30, 28), "classification", 10, units=64, num_layers=2, seed=3)
    kernels = _input_kernels(model)
    assert kernels
    for kernel in kernels:
        bound = np.sqrt(6.0 / (65.0 * kernel.shape[0]))
        assert np.max(np.abs(kernel)) <= bound + 1e-7
        # Uniform on [-b, b]: standard deviation b / sqrt(3), not 0.01.
        np.testing.assert_allclose(np.std(kernel), bound / np.sqrt(3.0), rtol=0.1)


def test_indrnn_regression_keeps_small_normal_input_weights():
    model = models.build_indrnn((30, 2), "regression", units=128, seed=3)
    for kernel in _input_kernels(model):
        np.testing.assert_allclose(np.std(kernel), 0.01, rtol=0.15)
    explicit = models.build_indrnn(
        (30, 28), "classification", 10, units=128, seed=3, input_stddev=0.05
    )
    for kernel in _input_kernels(explicit):
        np.testing.assert_allclose(np.std(kernel), 0.05, rtol=0.15)


@pytest.mark.parametrize("name", ["bn_indrnn", "res_indrnn"])
def test_batch_normalization_follows_fast_moving_statistics(name):
    # Keras' default momentum 0.99 lagged the integrating units: 0.11 accuracy at inference
    # against 0.91 in training mode on real MNIST (issue 8). Every BN of the recipes uses 0.9.
    model = models.build_model(name, (16, 3), "classification", 4, units=8, num_layers=2)
    norms = []

    def collect(layer):
        if isinstance(layer, keras.layers.BatchNormalization):
            norms.append(layer)
        for child in getattr(layer, "_layers", []) or []:
            collect(child)

    for layer in model.layers:
        collect(layer)
    assert norms
    assert all(norm.momentum == pytest.approx(0.9) for norm in norms)


def test_residual_and_batch_norm_variants_use_the_package_blocks():
    from keras_rnninit.layers import IndRNNStack, ResidualIndRNNBlock

    timesteps = 16
    res = models.build_model("res_indrnn", (timesteps, 3), units=8, num_layers=4, seed=1)
    blocks = [layer for layer in res.layers if isinstance(layer, ResidualIndRNNBlock)]
    assert len(blocks) == 2 and [b.last_layer for b in blocks] == [False, True]
    assert len(_recurrent_vectors(res)) == 4
    with pytest.raises(ValueError, match="num_layers=3"):
        models.build_model("res_indrnn", (8, 3), num_layers=3)
    # Both switches at once used to build the residual model and drop batch_norm silently.
    with pytest.raises(ValueError, match="residual=True, batch_norm=True"):
        models.build_indrnn((8, 3), residual=True, batch_norm=True)
    bn = models.build_model("bn_indrnn", (timesteps, 3), units=8, num_layers=3, seed=1)
    (stack,) = [layer for layer in bn.layers if isinstance(layer, IndRNNStack)]
    assert stack.num_layers == 3 and stack.batch_norm and stack.last_layer
    vectors = _recurrent_vectors(bn)
    assert len(vectors) == 3
    _, max_abs = constraints.indrnn_bounds(timesteps)
    assert all(np.all(np.abs(u) <= max_abs + 1e-7) for u in vectors)
    # A per-step model has no lower bound anywhere: its units may forget.
    per_step = models.build_model("bn_indrnn", (timesteps, 3), "binary_per_step", units=8)
    assert not [layer for layer in per_step.layers if isinstance(layer, IndRNNStack)][0].last_layer


@pytest.mark.parametrize("name", ALL_FAMILIES)
def test_every_family_trains_finite_under_jit(name):
    model = models.build_model(name, (10, 2), units=8, num_layers=2, seed=10)
    # SGD: Adam's slots and update (about ten ops a weight) made most of the train step that
    # TensorFlow traces, and the optimizer is not what this test is about.
    model.compile(optimizer=keras.optimizers.SGD(0.05), loss="mse", jit_compile=True)
    rng = np.random.default_rng(1)
    x = rng.uniform(size=(16, 10, 2)).astype("float32")
    y = x[:, :, 0].sum(axis=1, keepdims=True) / 5
    before = model.evaluate(x, y, verbose=0)
    history = model.fit(x, y, epochs=8, batch_size=8, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))
    assert model.evaluate(x, y, verbose=0) < before
    for weight in model.weights:
        assert np.all(np.isfinite(keras.ops.convert_to_numpy(weight)))


@pytest.mark.parametrize("name", ALL_FAMILIES)
def test_saved_model_predicts_the_same(name, tmp_path):
    model = models.build_model(name, (6, 2), "classification", 3, units=4, num_layers=2, seed=11)
    x = np.random.default_rng(2).uniform(size=(2, 6, 2)).astype("float32")
    path = str(tmp_path / "model.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(loaded(x)), keras.ops.convert_to_numpy(model(x)), rtol=1e-6
    )


def test_same_seed_same_weights_other_seed_other_weights():
    first = models.build_np_rnn((5, 3), units=8, seed=12).get_weights()
    again = models.build_np_rnn((5, 3), units=8, seed=12).get_weights()
    other = models.build_np_rnn((5, 3), units=8, seed=13).get_weights()
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    assert not np.allclose(first[0], other[0])


def test_build_model_names_and_defaults():
    assert set(models.MODEL_NAMES) == set(SIMPLE_FAMILIES + INDRNN_FAMILIES)
    model = models.build_model("np-RNN", (5, 2), units=None, num_layers=None)
    assert model.name == "np_rnn"
    assert _recurrent_layers(model)[0].cell.units == 100  # the family's default survives None
    assert models.build_model("LSTM", (5, 2)).name == "lstm"
    with pytest.raises(ValueError, match="name='gru'"):
        models.build_model("gru", (5, 2))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"output": "ranking"}, "output='ranking'"),
        ({"output": "classification"}, "num_classes=None"),
        ({"output": "classification", "num_classes": 1}, "num_classes=1"),
        ({"input_shape": (5,)}, r"input_shape=\(5,\)"),
        ({"input_shape": (5, None)}, r"input_shape=\(5, None\)"),
        ({"input_shape": (5, 2), "vocabulary_size": 10}, r"input_shape=\(5, 2\)"),
        ({"units": 0}, "units=0"),
        ({"num_layers": 1.5}, "num_layers=1.5"),
        ({"input_shape": (5,), "vocabulary_size": 10, "embedding_dim": 0}, "embedding_dim=0"),
    ],
)
def test_bad_arguments_raise_value_error_naming_them(kwargs, message):
    arguments = {"input_shape": (5, 2), **kwargs}
    input_shape = arguments.pop("input_shape")
    with pytest.raises(ValueError, match=message):
        models.build_np_rnn(input_shape, **arguments)


@pytest.mark.parametrize("name", ["bn_indrnn", "res_indrnn", "indrnn"])
def test_seed_makes_every_weight_reproducible(name):
    """Issue 9, item 5: inner layers of the blocks and the residual projection were unseeded,
    so two builds with seed=1 differed (in one process as in two)."""
    first = models.build_model(name, (12, 2), units=4, num_layers=2, seed=1)
    second = models.build_model(name, (12, 2), units=4, num_layers=2, seed=1)
    for a, b in zip(first.get_weights(), second.get_weights()):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("block", ["IndRNNStack", "ResidualIndRNNBlock"])
def test_seeded_blocks_are_reproducible(block):
    def build():
        layer = getattr(keras_rnninit, block)(4, seed=3)
        layer.build((None, 6, 2))
        return [keras.ops.convert_to_numpy(w) for w in layer.weights]

    for a, b in zip(build(), build()):
        np.testing.assert_array_equal(a, b)


def test_weight_decay_is_the_papers_coefficient_and_spares_u():
    # The paper's weight decay d adds d * w to the gradient: an L2 penalty of (d / 2) * w^2.
    model = models.build_indrnn((20, 2), units=8, weight_decay=1e-4, seed=1)
    layers = _recurrent_layers(model)
    for layer in layers:
        assert layer.cell.kernel_regularizer.l2 == pytest.approx(5e-5)
        assert layer.cell.recurrent_regularizer is None
    assert model.get_layer("prediction").kernel_regularizer.l2 == pytest.approx(5e-5)
    kernel = layers[0].cell.kernel
    penalty = keras.ops.convert_to_numpy(layers[0].cell.kernel_regularizer(kernel))
    np.testing.assert_allclose(
        penalty, 0.5e-4 * np.sum(keras.ops.convert_to_numpy(kernel) ** 2), rtol=1e-5
    )
