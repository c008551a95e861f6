"""keras_rnninit.initializers: NPInitializer and IdentityInitializer (the mathematics, the Keras
contract, use in layers) and IndRNNRecurrentInitializer (the IndRNN paper's uniform recurrent
weights)."""

import keras
import numpy as np
import pytest
from keras import ops

import keras_rnninit
from keras_rnninit import IdentityInitializer, IndRNNRecurrentInitializer, NPInitializer
from keras_rnninit.constraints import indrnn_bounds

FLOAT_DTYPES = ["float16", "bfloat16", "float32", "float64"]


def as_numpy(x):
    return np.asarray(keras.ops.convert_to_numpy(x)).astype(np.float64)


def blocks_of(w, units):
    return [w[:, j * units : (j + 1) * units] for j in range(w.shape[1] // units)]


# ----------------------------------------------------------------------------- NPInitializer


@pytest.mark.parametrize("units", [1, 2, 3, 10, 64, 257])
def test_np_spectrum(units):
    w = as_numpy(NPInitializer(seed=units)((units, units)))
    np.testing.assert_array_equal(w, w.T)
    eigenvalues = np.linalg.eigvalsh(w)
    assert abs(eigenvalues[-1] - 1.0) < 1e-5
    assert np.all(eigenvalues > 0)
    if units > 1:
        assert np.all(eigenvalues[:-1] < 1.0)
    # Adding I keeps the spectrum away from 0: the smallest eigenvalue is at least
    # 1 / lambda_max(A + I), and lambda_max(A) <= trace(A) bounds that from below.
    assert eigenvalues[0] >= 1.0 / (1.0 + units * np.max(np.diag(w))) - 1e-6


def test_np_spectrum_at_2048():
    # Builds in about 1.5 s on the 2-core CI machine.
    w = as_numpy(NPInitializer(seed=7)((2048, 2048)))
    np.testing.assert_array_equal(w, w.T)
    eigenvalues = np.linalg.eigvalsh(w)
    assert abs(eigenvalues[-1] - 1.0) < 1e-5
    assert 0.0 < eigenvalues[0] and eigenvalues[-2] < 1.0


def test_np_matches_the_formula():
    """W = (A + I) / lambda_max(A + I) with A = R^T R / N: undoing the scale recovers a Gram matrix
    with the statistics of a standard normal R."""
    units = 400
    w = as_numpy(NPInitializer(seed=3)((units, units)))
    eigenvalues = np.linalg.eigvalsh(w)
    # Recover lambda = lambda_max(A + I) from the smallest eigenvalue of W: lambda_min(A + I) is
    # 1 + lambda_min(A), and for a square Gaussian R, lambda_min(A) is O(1 / N^2).
    scale = 1.0 / eigenvalues[0]
    a = scale * w - np.eye(units)
    assert np.linalg.eigvalsh(a)[0] > -1e-3
    # The diagonal of R^T R / N averages 1 (each entry is a chi-squared(N) / N).
    assert abs(np.mean(np.diag(a)) - 1.0) < 0.05
    # Off-diagonal entries have variance 1 / N.
    off_diagonal = a[~np.eye(units, dtype=bool)]
    assert abs(np.var(off_diagonal) * units - 1.0) < 0.1
    # The largest eigenvalue of A follows Marchenko-Pastur's edge, (1 + 1)^2 = 4.
    assert 3.6 < scale - 1.0 < 4.2


def test_np_without_identity_shift():
    units = 64
    shifted = as_numpy(NPInitializer(seed=5)((units, units)))
    plain = as_numpy(NPInitializer(identity_shift=False, seed=5)((units, units)))
    eigenvalues = np.linalg.eigvalsh(plain)
    np.testing.assert_array_equal(plain, plain.T)
    assert abs(eigenvalues[-1] - 1.0) < 1e-5
    assert eigenvalues[0] > -1e-5
    # Without the shift the smallest eigenvalue sits near 0 (about 1 / N^2 of the largest); with
    # it, at least 1 / lambda_max(A + I), about 1/5.
    assert eigenvalues[0] < 0.01
    assert np.linalg.eigvalsh(shifted)[0] > 0.15
    # Same R underneath: with s = 1 / lambda_min(shifted) (= lambda_max(A) + 1 up to the O(1/N^2)
    # smallest eigenvalue of A), both recover the same A = R^T R / N.
    s = 1.0 / np.linalg.eigvalsh(shifted)[0]
    np.testing.assert_allclose(s * shifted - np.eye(units), (s - 1.0) * plain, atol=2e-2)


@pytest.mark.parametrize("blocks", [3, 4])
def test_np_gate_stacked_blocks(blocks):
    units = 16
    w = as_numpy(NPInitializer(seed=11)((units, blocks * units)))
    assert w.shape == (units, blocks * units)
    parts = blocks_of(w, units)
    for block in parts:
        np.testing.assert_array_equal(block, block.T)
        eigenvalues = np.linalg.eigvalsh(block)
        assert abs(eigenvalues[-1] - 1.0) < 1e-5
        assert eigenvalues[0] > 0 and eigenvalues[-2] < 1.0
    # Independent draws: no two gate blocks are the same matrix.
    for i in range(blocks):
        for j in range(i + 1, blocks):
            assert np.max(np.abs(parts[i] - parts[j])) > 1e-2


def test_np_seed_semantics():
    shape = (8, 8)
    fixed = NPInitializer(seed=42)
    np.testing.assert_array_equal(as_numpy(fixed(shape)), as_numpy(fixed(shape)))
    np.testing.assert_array_equal(as_numpy(fixed(shape)), as_numpy(NPInitializer(seed=42)(shape)))
    assert np.max(np.abs(as_numpy(fixed(shape)) - as_numpy(NPInitializer(seed=43)(shape)))) > 1e-3

    # None: one draw per instance, the same on every call, reproducible under set_random_seed.
    unseeded = NPInitializer()
    np.testing.assert_array_equal(as_numpy(unseeded(shape)), as_numpy(unseeded(shape)))
    keras.utils.set_random_seed(99)
    first = as_numpy(NPInitializer()(shape))
    keras.utils.set_random_seed(99)
    np.testing.assert_array_equal(first, as_numpy(NPInitializer()(shape)))

    # A SeedGenerator gives fresh values on every call.
    generator = NPInitializer(seed=keras.random.SeedGenerator(3))
    assert np.max(np.abs(as_numpy(generator(shape)) - as_numpy(generator(shape)))) > 1e-3


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_np_dtypes(dtype):
    if dtype == "float64" and keras.backend.backend() == "jax":
        import jax

        if not jax.config.jax_enable_x64:
            pytest.skip("JAX without x64 makes float32 for float64 requests")
    w = NPInitializer(seed=1)((12, 12), dtype=dtype)
    assert keras.backend.standardize_dtype(w.dtype) == dtype
    eigenvalues = np.linalg.eigvalsh(as_numpy(w))
    tolerance = {"float16": 2e-3, "bfloat16": 2e-2, "float32": 1e-5, "float64": 1e-12}[dtype]
    assert abs(eigenvalues[-1] - 1.0) < tolerance


@pytest.mark.skipif(keras.backend.backend() != "jax", reason="float64 needs x64 mode on JAX only")
def test_float64_on_jax_with_x64(run_in_fresh_process):
    output = run_in_fresh_process(
        """
        import keras, numpy as np
        from keras_rnninit import IdentityInitializer, NPInitializer
        w = NPInitializer(seed=1)((12, 12), dtype="float64")
        i = IdentityInitializer(0.5)((3, 6), dtype="float64")
        print(w.dtype, i.dtype, abs(np.linalg.eigvalsh(np.asarray(w))[-1] - 1.0) < 1e-12)
        """,
        JAX_ENABLE_X64="1",
    )
    assert output.split() == ["float64", "float64", "True"]


def test_np_uses_floatx_by_default():
    assert (
        keras.backend.standardize_dtype(NPInitializer(seed=1)((3, 3)).dtype)
        == keras.config.floatx()
    )


# ----------------------------------------------------------------------------- IdentityInitializer


@pytest.mark.parametrize("gain", [1.0, 0.5, 0.01, 2])
def test_identity_gain(gain):
    w = as_numpy(IdentityInitializer(gain=gain)((5, 5)))
    np.testing.assert_allclose(w, gain * np.eye(5), rtol=1e-7)


@pytest.mark.parametrize("blocks", [3, 4])
def test_identity_gate_stacked_blocks(blocks):
    w = as_numpy(IdentityInitializer(gain=0.9)((6, blocks * 6)))
    for block in blocks_of(w, 6):
        np.testing.assert_allclose(block, 0.9 * np.eye(6), rtol=1e-7)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_identity_dtypes(dtype):
    if dtype == "float64" and keras.backend.backend() == "jax":
        import jax

        if not jax.config.jax_enable_x64:
            pytest.skip("JAX without x64 makes float32 for float64 requests")
    w = IdentityInitializer(gain=0.5)((4, 4), dtype=dtype)
    assert keras.backend.standardize_dtype(w.dtype) == dtype
    np.testing.assert_array_equal(as_numpy(w), 0.5 * np.eye(4))


# ----------------------------------------------------------------------------- errors


@pytest.mark.parametrize("initializer", [NPInitializer(seed=1), IdentityInitializer()])
@pytest.mark.parametrize("shape", [(4,), (4, 6), (4, 2), (2, 3, 3), (0, 0), ()])
def test_bad_shapes_are_rejected(initializer, shape):
    with pytest.raises(ValueError, match=r"Received: shape=") as error:
        initializer(shape)
    assert "(units, k * units)" in str(error.value)
    assert str(tuple(shape)) in str(error.value)


@pytest.mark.parametrize("initializer", [NPInitializer(seed=1), IdentityInitializer()])
def test_integer_dtype_is_rejected(initializer):
    with pytest.raises(ValueError, match="Received: dtype=int32"):
        initializer((3, 3), dtype="int32")


@pytest.mark.parametrize("seed", [1.5, "1", True, [1]])
def test_bad_seed_is_rejected(seed):
    with pytest.raises(ValueError, match="Received: seed="):
        NPInitializer(seed=seed)


def test_bad_identity_shift_is_rejected():
    with pytest.raises(ValueError, match="Received: identity_shift=1"):
        NPInitializer(identity_shift=1)


@pytest.mark.parametrize("gain", [0, -1.0, float("nan"), float("inf"), "1", None, True])
def test_bad_gain_is_rejected(gain):
    with pytest.raises(ValueError, match="Received: gain="):
        IdentityInitializer(gain=gain)


# ----------------------------------------------------------------------------- serialization


@pytest.mark.parametrize(
    "initializer",
    [
        NPInitializer(seed=4),
        NPInitializer(identity_shift=False),
        NPInitializer(seed=keras.random.SeedGenerator(2)),
        IdentityInitializer(gain=0.25),
    ],
)
def test_config_round_trip(initializer):
    config = initializer.get_config()
    clone = type(initializer).from_config(config)
    assert clone.get_config() == config
    serialized = keras.saving.serialize_keras_object(initializer)
    restored = keras.saving.deserialize_keras_object(serialized)
    assert type(restored) is type(initializer)
    assert restored.get_config() == config
    if isinstance(config.get("seed"), int):
        np.testing.assert_array_equal(as_numpy(restored((6, 6))), as_numpy(initializer((6, 6))))


@pytest.mark.parametrize(
    "name, cls",
    [
        ("keras_rnninit>NPInitializer", NPInitializer),
        ("keras_rnninit>IdentityInitializer", IdentityInitializer),
    ],
)
def test_usable_by_registered_name(name, cls):
    assert isinstance(keras.initializers.get(name), cls)
    layer = keras.layers.SimpleRNN(4, recurrent_initializer=name)
    layer.build((None, 3, 2))
    w = as_numpy(layer.cell.recurrent_kernel)
    assert abs(np.linalg.eigvalsh(w)[-1] - 1.0) < 1e-5


# ----------------------------------------------------------------------------- in Keras layers


@pytest.mark.parametrize(
    "layer_class, blocks",
    [(keras.layers.SimpleRNN, 1), (keras.layers.GRU, 3), (keras.layers.LSTM, 4)],
)
def test_in_keras_layers(layer_class, blocks):
    units = 8
    layer = layer_class(units, recurrent_initializer=NPInitializer(seed=1))
    layer.build((None, 5, 3))
    w = as_numpy(layer.cell.recurrent_kernel)
    assert w.shape == (units, blocks * units)
    for block in blocks_of(w, units):
        assert abs(np.linalg.eigvalsh(block)[-1] - 1.0) < 1e-5

    layer = layer_class(units, recurrent_initializer=IdentityInitializer(gain=0.5))
    layer.build((None, 5, 3))
    for block in blocks_of(as_numpy(layer.cell.recurrent_kernel), units):
        np.testing.assert_array_equal(block, 0.5 * np.eye(units))


def test_irnn_keeps_its_state_with_zero_input():
    """With W = I, zero bias and zero input, a ReLU RNN copies its state forward unchanged."""
    layer = keras.layers.SimpleRNN(
        6, activation="relu", recurrent_initializer=IdentityInitializer(), return_sequences=True
    )
    initial = np.abs(np.random.default_rng(0).normal(size=(2, 6))).astype("float32")
    outputs = as_numpy(layer(np.zeros((2, 10, 3), "float32"), initial_state=[initial]))
    np.testing.assert_allclose(outputs, np.repeat(initial[:, None, :], 10, axis=1), rtol=1e-6)


def make_model(initializer):
    inputs = keras.Input((20, 2))
    x = keras.layers.SimpleRNN(16, activation="relu", recurrent_initializer=initializer)(inputs)
    outputs = keras.layers.Dense(1)(x)
    return keras.Model(inputs, outputs)


@pytest.mark.parametrize(
    "initializer", [NPInitializer(seed=2), IdentityInitializer(), IdentityInitializer(gain=0.5)]
)
def test_simple_rnn_trains_with_jit(initializer):
    rng = np.random.default_rng(0)
    x = rng.uniform(size=(64, 20, 2)).astype("float32")
    y = x[:, :, 0].mean(axis=1, keepdims=True).astype("float32")
    model = make_model(initializer)
    model.compile(optimizer=keras.optimizers.SGD(0.01), loss="mse", jit_compile=True)
    history = model.fit(x, y, batch_size=16, epochs=13, steps_per_epoch=4, verbose=0)
    losses = history.history["loss"]
    assert np.all(np.isfinite(losses))
    assert losses[-1] < losses[0]


def test_public_api():
    assert keras_rnninit.NPInitializer is NPInitializer
    assert isinstance(keras_rnninit.__version__, str)
    for name in keras_rnninit.__all__:
        assert hasattr(keras_rnninit, name)


@pytest.mark.parametrize("fan_in", [1, 28, 128])
def test_indrnn_input_initializer_is_the_authors_fan_in_uniform(fan_in):
    from keras_rnninit.initializers import indrnn_input_initializer

    initializer = indrnn_input_initializer(seed=4)
    values = keras.ops.convert_to_numpy(initializer((fan_in, 4096)))
    bound = np.sqrt(6.0 / ((1.0 + 8.0**2) * fan_in))  # Kaiming-uniform, negative slope 8
    assert np.max(np.abs(values)) <= bound + 1e-7
    assert np.max(np.abs(values)) > 0.99 * bound
    np.testing.assert_allclose(np.std(values), bound / np.sqrt(3.0), rtol=0.05)
    # A Keras built-in underneath: it serializes and comes back identical.
    again = keras.initializers.deserialize(keras.initializers.serialize(initializer))
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(again((fan_in, 8))),
        keras.ops.convert_to_numpy(initializer((fan_in, 8))),
    )


# ---------------------------------------------------------------------------------------------
# IndRNNRecurrentInitializer


def test_indrnn_recurrent_values_fill_the_range():
    values = ops.convert_to_numpy(IndRNNRecurrentInitializer(0.25, 0.75, seed=1)((20000,)))
    assert values.shape == (20000,)
    assert values.min() >= 0.25 and values.max() < 0.75
    # Uniform: mean and spread of U[0.25, 0.75] (std 0.5/sqrt(12) = 0.144).
    assert abs(values.mean() - 0.5) < 0.005
    assert abs(values.std() - 0.5 / np.sqrt(12)) < 0.005


@pytest.mark.parametrize("last_layer", [False, True])
def test_indrnn_recurrent_from_timesteps_uses_the_papers_bounds(last_layer):
    init = IndRNNRecurrentInitializer.from_timesteps(784, gamma=5.0, last_layer=last_layer, seed=2)
    low, high = indrnn_bounds(784, gamma=5.0, last_layer=last_layer)
    assert (init.min_value, init.max_value) == (low, high)
    values = ops.convert_to_numpy(init((4096,)))
    assert values.min() >= low and values.max() <= high
    assert (low > 0.99) == last_layer


def test_indrnn_recurrent_seed_semantics():
    fixed = IndRNNRecurrentInitializer(seed=3)
    np.testing.assert_array_equal(
        ops.convert_to_numpy(fixed((50,))), ops.convert_to_numpy(fixed((50,)))
    )
    fresh = IndRNNRecurrentInitializer(seed=keras.random.SeedGenerator(3))
    assert not np.array_equal(
        ops.convert_to_numpy(fresh((50,))), ops.convert_to_numpy(fresh((50,)))
    )
    keras.utils.set_random_seed(7)
    first = ops.convert_to_numpy(IndRNNRecurrentInitializer()((50,)))
    keras.utils.set_random_seed(7)
    np.testing.assert_array_equal(first, ops.convert_to_numpy(IndRNNRecurrentInitializer()((50,))))


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float32", "float64"])
def test_indrnn_recurrent_dtypes(dtype):
    if dtype == "float64" and keras.backend.backend() == "jax":
        pytest.skip("JAX runs without float64 unless jax_enable_x64 is set")
    values = IndRNNRecurrentInitializer(0.0, 1.0, seed=1)((8,), dtype=dtype)
    assert keras.backend.standardize_dtype(values.dtype) == dtype


def test_indrnn_recurrent_config_round_trip():
    init = IndRNNRecurrentInitializer(0.1, 0.9, seed=4)
    config = init.get_config()
    assert config == {"seed": 4, "min_value": 0.1, "max_value": 0.9}
    clone = IndRNNRecurrentInitializer.from_config(config)
    np.testing.assert_array_equal(
        ops.convert_to_numpy(clone((9,))), ops.convert_to_numpy(init((9,)))
    )
    restored = keras.initializers.deserialize(keras.initializers.serialize(init))
    assert isinstance(restored, IndRNNRecurrentInitializer) and restored.get_config() == config
    assert keras_rnninit.IndRNNRecurrentInitializer is IndRNNRecurrentInitializer


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(min_value=-0.1), "min_value=-0.1"),
        (dict(max_value=float("inf")), "max_value=inf"),
        (dict(min_value=0.8, max_value=0.5), "max_value >= min_value"),
        (dict(min_value=True), "min_value=True"),
        (dict(seed="x"), "seed='x'"),
    ],
)
def test_indrnn_recurrent_bad_arguments_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        IndRNNRecurrentInitializer(**kwargs)


def test_indrnn_recurrent_from_timesteps_rejects_bad_timesteps():
    with pytest.raises(ValueError, match="timesteps=0"):
        IndRNNRecurrentInitializer.from_timesteps(0)
