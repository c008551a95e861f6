"""keras_rnninit.arrays: the adding problem as NumPy arrays (the benchmark's and demos' data)."""

import numpy as np
import pytest

from keras_rnninit.arrays import adding_problem_arrays


@pytest.mark.parametrize("marker", ["uniform", "one_per_half"])
def test_targets_are_the_sums_of_the_two_marked_values(marker):
    inputs, targets = adding_problem_arrays(64, 30, marker=marker, seed=3)
    assert inputs.shape == (64, 30, 2) and targets.shape == (64, 1)
    assert inputs.dtype == np.float32 and targets.dtype == np.float32
    np.testing.assert_array_equal(inputs[:, :, 1].sum(axis=1), 2.0)
    np.testing.assert_allclose(
        targets[:, 0], (inputs[:, :, 0] * inputs[:, :, 1]).sum(axis=1), rtol=1e-6
    )
    assert inputs[:, :, 0].min() >= 0.0 and inputs[:, :, 0].max() < 1.0
    if marker == "one_per_half":
        # One marker in each half, as the IRNN paper places them.
        np.testing.assert_array_equal(inputs[:, :15, 1].sum(axis=1), 1.0)
        np.testing.assert_array_equal(inputs[:, 15:, 1].sum(axis=1), 1.0)


def test_seeded_and_shaped_by_input_dim():
    first, _ = adding_problem_arrays(4, 10, seed=1)
    again, _ = adding_problem_arrays(4, 10, seed=1)
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, adding_problem_arrays(4, 10, seed=2)[0])
    # One channel holds values only: the target is the sum of the last two.
    values, targets = adding_problem_arrays(4, 10, input_dim=1)
    np.testing.assert_allclose(targets[:, 0], values[:, -2:, 0].sum(axis=1), rtol=1e-6)
    noisy, _ = adding_problem_arrays(4, 10, input_dim=5)
    assert noisy.shape == (4, 10, 5)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"samples": 0, "timesteps": 5}, "samples=0"),
        ({"samples": 2, "timesteps": 1, "marker": "one_per_half"}, "timesteps=1"),
        ({"samples": 2, "timesteps": 5, "input_dim": 0}, "input_dim=0"),
        ({"samples": 2, "timesteps": 5, "marker": "last"}, "marker='last'"),
    ],
)
def test_bad_arguments_raise(kwargs, message):
    with pytest.raises(ValueError, match=message):
        adding_problem_arrays(**kwargs)
