"""MagnitudeBound and indrnn_bounds."""

import keras
import numpy as np
import pytest

from keras_rnninit.constraints import MagnitudeBound
from keras_rnninit.constraints import indrnn_bounds


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
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(constraint))
    assert isinstance(restored, MagnitudeBound)
    assert restored.get_config() == {"min_abs": 0.25, "max_abs": 1.5}
    by_config = keras.constraints.get(
        {"class_name": "keras_rnninit>MagnitudeBound", "config": {"min_abs": 0.1, "max_abs": 1.0}}
    )
    assert isinstance(by_config, MagnitudeBound) and by_config.max_abs == 1.0
