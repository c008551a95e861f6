"""The adding problem as NumPy arrays, for code that runs without TensorFlow.

`keras_rnninit.tasks.adding_problem` is the training pipeline (tf.data, generated in-graph,
needs TensorFlow); this is one fixed batch in memory, which the speed benchmark trains on
(`python -m keras_rnninit.benchmark`, on any backend) and small demos fit on
(`examples/gradient_flow_plot.py`).
"""

import numpy as np

from keras_rnninit import _validation

# Where the two marked steps lie: "one_per_half" (one in each half, the papers' rule) or
# "uniform" (any two distinct steps). Also the tf.data pipeline's (`keras_rnninit.tasks`).
MARKER_RULES = ("one_per_half", "uniform")


def adding_problem_arrays(samples, timesteps, input_dim=2, marker="uniform", seed=0):
    """A fixed adding-problem batch: values in [0, 1) and a marker channel with two ones.

    Args:
        samples: Number of sequences, `>= 1`.
        timesteps: Sequence length T, `>= 1` (`>= 2` for `marker="one_per_half"`).
        input_dim: Features per step, `>= 1`. Defaults to `2` (value and marker, as in the
            adding problem); extra channels are uniform noise, and a single channel holds
            values only, the target then being the sum of the last two.
        marker: `"uniform"` (two distinct positions anywhere) or `"one_per_half"` (one in each
            half of the sequence, as in the IRNN paper). Defaults to `"uniform"`.
        seed: Seed of the NumPy generator. Defaults to `0`.

    Returns:
        `(inputs, targets)`: float32 arrays of shapes `(samples, timesteps, input_dim)` and
        `(samples, 1)`, the target being the sum of the two marked values.

    Example:

    ```python
    x, y = keras_rnninit.arrays.adding_problem_arrays(8, 100)
    ```
    """
    owner = "adding_problem_arrays"
    _validation.check_int("samples", samples, minimum=1, owner=owner)
    _validation.check_int(
        "timesteps", timesteps, minimum=2 if marker == "one_per_half" else 1, owner=owner
    )
    _validation.check_int("input_dim", input_dim, minimum=1, owner=owner)
    _validation.check_choice("marker", marker, MARKER_RULES, owner=owner)
    rng = np.random.default_rng(seed)
    inputs = rng.uniform(size=(samples, timesteps, input_dim)).astype("float32")
    targets = np.zeros((samples, 1), "float32")
    if input_dim == 1:
        targets[:, 0] = inputs[:, -2:, 0].sum(axis=1)
        return inputs, targets
    inputs[:, :, 1] = 0.0
    half = timesteps // 2
    for row in range(samples):
        if marker == "uniform":
            marked = rng.choice(timesteps, size=min(2, timesteps), replace=False)
        else:
            marked = np.array([rng.integers(0, half), rng.integers(half, timesteps)])
        inputs[row, marked, 1] = 1.0
        targets[row, 0] = inputs[row, marked, 0].sum()
    return inputs, targets
