"""IndRNNRecurrentInitializer: the IndRNN paper's uniform recurrent weights."""

import keras
import numpy as np
import pytest
from keras import ops

import keras_rnninit
from keras_rnninit import IndRNNRecurrentInitializer
from keras_rnninit.constraints import indrnn_bounds


def test_values_fill_the_range():
    values = ops.convert_to_numpy(IndRNNRecurrentInitializer(0.25, 0.75, seed=1)((20000,)))
    assert values.shape == (20000,)
    assert values.min() >= 0.25 and values.max() < 0.75
    # Uniform: mean and spread of U[0.25, 0.75] (std 0.5/sqrt(12) = 0.144).
    assert abs(values.mean() - 0.5) < 0.005
    assert abs(values.std() - 0.5 / np.sqrt(12)) < 0.005


@pytest.mark.parametrize("last_layer", [False, True])
def test_from_timesteps_uses_the_papers_bounds(last_layer):
    init = IndRNNRecurrentInitializer.from_timesteps(784, gamma=5.0, last_layer=last_layer, seed=2)
    low, high = indrnn_bounds(784, gamma=5.0, last_layer=last_layer)
    assert (init.min_value, init.max_value) == (low, high)
    values = ops.convert_to_numpy(init((4096,)))
    assert values.min() >= low and values.max() <= high
    assert (low > 0.99) == last_layer


def test_seed_semantics():
    fixed = IndRNNRecurrentInitializer(seed=3)
    np.testing.assert_array_equal(
        ops.convert_to_numpy(fixed((50,))), ops.convert_to_numpy(fixed((50,)))
    )
    fresh = IndRNNRecurrentInitializer(seed=keras.random.SeedGenerator(3))
    assert not np.array_equal(ops.convert_to_numpy(fresh((50,))), ops.convert_to_numpy(fresh((50,))))
    keras.utils.set_random_seed(7)
    first = ops.convert_to_numpy(IndRNNRecurrentInitializer()((50,)))
    keras.utils.set_random_seed(7)
    np.testing.assert_array_equal(first, ops.convert_to_numpy(IndRNNRecurrentInitializer()((50,))))


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float32", "float64"])
def test_dtypes(dtype):
    if dtype == "float64" and keras.backend.backend() == "jax":
        pytest.skip("JAX runs without float64 unless jax_enable_x64 is set")
    values = IndRNNRecurrentInitializer(0.0, 1.0, seed=1)((8,), dtype=dtype)
    assert keras.backend.standardize_dtype(values.dtype) == dtype


def test_config_round_trip():
    init = IndRNNRecurrentInitializer(0.1, 0.9, seed=4)
    config = init.get_config()
    assert config == {"seed": 4, "min_value": 0.1, "max_value": 0.9}
    clone = IndRNNRecurrentInitializer.from_config(config)
    np.testing.assert_array_equal(ops.convert_to_numpy(clone((9,))), ops.convert_to_numpy(init((9,))))
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
def test_bad_arguments_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        IndRNNRecurrentInitializer(**kwargs)


def test_from_timesteps_rejects_bad_timesteps():
    with pytest.raises(ValueError, match="timesteps=0"):
        IndRNNRecurrentInitializer.from_timesteps(0)
