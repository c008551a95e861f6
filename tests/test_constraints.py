"""keras_rnninit.constraints: MagnitudeBound, indrnn_bounds and SpectralNormBound, and the gate
blocks that SpectralNormBound shares with the initializers."""

import keras
import numpy as np
import pytest
from helpers import block_singular_values

from keras_rnninit import _gates
from keras_rnninit.constraints import MagnitudeBound, SpectralNormBound, indrnn_bounds
from keras_rnninit.initializers import IdentityInitializer, NPInitializer


def project(constraint, values, dtype="float32"):
    return np.asarray(keras.ops.convert_to_numpy(constraint(np.asarray(values, dtype=dtype))))


def test_projection_by_hand():
    out = project(MagnitudeBound(0.5, 1.1), [-2.0, -0.7, -0.1, 0.0, 0.3, 0.9, 5.0])
    np.testing.assert_allclose(out, [-1.1, -0.7, -0.5, 0.5, 0.5, 0.9, 1.1], rtol=1e-6)


@pytest.mark.parametrize("min_abs, max_abs", [(0.0, None), (0.0, 1.0), (0.3, 0.3), (0.9, 1.01)])
def test_projection_properties(min_abs, max_abs):
    values = np.random.default_rng(0).normal(scale=2.0, size=1000)
    out = project(MagnitudeBound(min_abs, max_abs), values)
    assert np.all(np.abs(out) >= np.float32(min_abs))
    if max_abs is not None:
        assert np.all(np.abs(out) <= np.float32(max_abs))
    # The sign is kept, and weights already inside the band do not move.
    nonzero = values != 0
    assert np.all(np.sign(out[nonzero]) == np.sign(values[nonzero]))
    inside = (np.abs(values) >= min_abs) & ((max_abs is None) | (np.abs(values) <= (max_abs or 0)))
    np.testing.assert_allclose(out[inside], values[inside].astype("float32"))
    # A projection: applying it twice changes nothing.
    np.testing.assert_array_equal(project(MagnitudeBound(min_abs, max_abs), out), out)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float32"])
def test_projection_keeps_dtype(dtype):
    out = MagnitudeBound(0.1, 1.0)(keras.ops.convert_to_tensor(np.array([3.0, -3.0]), dtype=dtype))
    assert keras.backend.standardize_dtype(out.dtype) == dtype


def test_holds_inside_a_compiled_training_step():
    """The optimizer applies the constraint after each update, inside the jit-compiled step."""
    inputs = keras.Input((4,))
    layer = keras.layers.Dense(
        3, kernel_constraint=MagnitudeBound(0.2, 0.5), kernel_initializer="ones"
    )
    model = keras.Model(inputs, layer(inputs))
    model.compile(optimizer=keras.optimizers.SGD(10.0), loss="mse", jit_compile=True)
    x = np.random.default_rng(1).normal(size=(32, 4)).astype("float32")
    y = 100 * np.random.default_rng(2).normal(size=(32, 3)).astype("float32")
    model.fit(x, y, epochs=3, batch_size=8, verbose=0)
    kernel = np.abs(keras.ops.convert_to_numpy(layer.kernel))
    assert np.all(kernel <= np.float32(0.5)) and np.all(kernel >= np.float32(0.2))


def test_indrnn_bounds_values():
    assert indrnn_bounds(100) == (0.0, 2.0 ** (1 / 100))
    assert indrnn_bounds(1000, last_layer=True) == (0.5 ** (1 / 1000), 2.0 ** (1 / 1000))
    assert indrnn_bounds(784, gamma=5.0, epsilon=0.2, last_layer=True) == (
        0.2 ** (1 / 784),
        5.0 ** (1 / 784),
    )
    # The bound's meaning: over T steps |u|^T stays within [epsilon, gamma].
    low, high = indrnn_bounds(500, gamma=3.0, last_layer=True)
    assert high**500 == pytest.approx(3.0) and low**500 == pytest.approx(1 / 3.0)


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"min_abs": -0.1}, "min_abs"),
        ({"min_abs": float("nan")}, "min_abs"),
        ({"max_abs": -1.0}, "max_abs"),
        ({"max_abs": "1"}, "max_abs"),
        ({"min_abs": 2.0, "max_abs": 1.0}, "min_abs"),
    ],
)
def test_magnitude_bound_errors(kwargs, name):
    with pytest.raises(ValueError, match=f"Received: {name}="):
        MagnitudeBound(**kwargs)


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"timesteps": 0}, "timesteps"),
        ({"timesteps": 10.5}, "timesteps"),
        ({"timesteps": True}, "timesteps"),
        ({"timesteps": 10, "gamma": 0.5}, "gamma"),
        ({"timesteps": 10, "epsilon": 0.0}, "epsilon"),
        ({"timesteps": 10, "epsilon": 1.5}, "epsilon"),
    ],
)
def test_indrnn_bounds_errors(kwargs, name):
    with pytest.raises(ValueError, match=f"Received: {name}="):
        indrnn_bounds(**kwargs)


def test_config_round_trip():
    constraint = MagnitudeBound(0.25, 1.5)
    restored = keras.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(constraint)
    )
    assert isinstance(restored, MagnitudeBound)
    assert restored.get_config() == {"min_abs": 0.25, "max_abs": 1.5}
    by_config = keras.constraints.get(
        {"class_name": "keras_rnninit>MagnitudeBound", "config": {"min_abs": 0.1, "max_abs": 1.0}}
    )
    assert isinstance(by_config, MagnitudeBound) and by_config.max_abs == 1.0


def test_spectral_norm_bound_never_underestimates():
    rng = np.random.RandomState(3)
    for shape in [(16, 16), (8, 32), (12, 36), (5, 7)]:
        w = rng.normal(size=shape).astype("float32")
        constraint = SpectralNormBound(1.0)
        estimate = np.array(constraint.largest_singular_values(w))
        if shape == (5, 7):
            exact = np.linalg.svd(w, compute_uv=False)[:1]
        else:
            exact = block_singular_values(w)
        n = shape[0]
        assert np.all(estimate >= exact * (1 - 1e-5))
        assert np.all(estimate <= exact * n ** (1 / 2 ** (12 + 2)) * (1 + 1e-5))
        projected = np.array(constraint(w))
        if shape != (5, 7):
            assert np.all(block_singular_values(projected) <= 1.0 + 1e-5)
    # A kernel already inside the bound is left as it is.
    small = 0.3 * np.linalg.qr(rng.normal(size=(10, 10)))[0].astype("float32")
    np.testing.assert_allclose(np.array(SpectralNormBound(1.0)(small)), small, atol=1e-6)


def test_spectral_norm_bound_validates_arguments():
    with pytest.raises(ValueError, match="max_value"):
        SpectralNormBound(0.0)
    with pytest.raises(ValueError, match="squarings"):
        SpectralNormBound(1.0, squarings=0)
    with pytest.raises(ValueError, match="blocks"):
        SpectralNormBound(1.0, blocks=3)(np.ones((4, 8), "float32"))


@pytest.mark.parametrize(
    "shape, blocks, expected",
    [
        ((4, 4), None, 1),
        ((4, 12), None, 3),
        ((4, 16), None, 4),
        ((5, 7), None, None),
        ((4, 8), 4, 4),
        ((4, 8), 3, None),
        ((4,), None, None),
        ((0, 4), None, None),
    ],
)
def test_one_gate_block_rule(shape, blocks, expected):
    assert _gates.count_gate_blocks(shape, blocks) == expected


def test_gate_blocks_split_and_stack_back():
    w = np.arange(24, dtype="float32").reshape(2, 12)
    split = keras.ops.convert_to_numpy(_gates.split_gate_blocks(w, 3))
    np.testing.assert_array_equal(split[1], w[:, 4:8])
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(_gates.stack_gate_blocks(split)), w)


def test_initializers_and_spectral_norm_bound_see_the_same_gate_blocks():
    # An LSTM-shaped (N, 4N) kernel: the initializers draw 4 blocks, the bound caps each of them.
    identity = keras.ops.convert_to_numpy(IdentityInitializer(gain=3.0)((5, 20)))
    np.testing.assert_allclose(block_singular_values(identity), [3.0] * 4, rtol=1e-6)
    projected = keras.ops.convert_to_numpy(SpectralNormBound(1.0)(identity))
    np.testing.assert_allclose(block_singular_values(projected), [1.0] * 4, rtol=1e-3)
    np_kernel = keras.ops.convert_to_numpy(NPInitializer(seed=1)((5, 20)))
    assert block_singular_values(np_kernel).shape == (4,)
    # A shape with no square blocks: the initializers refuse it, the bound takes it whole.
    with pytest.raises(ValueError, match=r"Received: shape=\(5, 7\)"):
        NPInitializer()((5, 7))
    assert np.asarray(
        SpectralNormBound(1.0).largest_singular_values(np.ones((5, 7), "float32"))
    ).shape == (1,)
