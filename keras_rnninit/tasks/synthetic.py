"""Synthetic long-sequence tasks: the adding problem, the multiplication problem and parity.

Every example is generated in the TensorFlow graph from its own stateless random key,
`fold_in([seed, split], index)`, so

- a split's contents are a function of `seed` alone (rebuilding gives the same examples, on any
  machine, whatever the batch size or the order in which examples are read);
- the three splits never share a key, so they are distinct samples;
- no Python generator runs in the input pipeline.

The training split draws its indices through `Dataset.shuffle(seed=seed)`, so the order (not the
contents) of training batches also depends on TensorFlow's global seed, which
`keras.utils.set_random_seed` sets.
"""

import tensorflow as tf

from keras_rnninit._task_info import TaskInfo
from keras_rnninit._validation import check_choice, check_int
from keras_rnninit.arrays import MARKER_RULES
from keras_rnninit.tasks.common import AUTOTUNE, SPLITS, TaskData, steps_per_split

# Predicting the constant 1.0 (the mean of the sum of two U[0, 1] values) scores the variance of
# that sum: Var(X + Y) = 1/12 + 1/12 = 1/6 ~ 0.167, the line a model must get below to have learnt
# anything (IRNN and IndRNN papers).
ADDING_BASELINE_MSE = 1.0 / 6.0

# Predicting the constant 0.25 = E[X] * E[Y] scores Var(X * Y) = E[X^2] E[Y^2] - (E[X] E[Y])^2
# = 1/9 - 1/16 = 7/144 ~ 0.0486 for independent X, Y ~ U[0, 1] (np-RNN paper's multiplication task).
MULTIPLICATION_BASELINE_MSE = 7.0 / 144.0

# Guessing the parity bit scores 50 % per step.
PARITY_CHANCE_ACCURACY = 0.5


_IRNN = "Le, Jaitly, Hinton 2015, arXiv 1504.00941"
_NPRNN = "Talathi, Vartak 2015, arXiv 1511.03771"
_INDRNN = "Li et al. 2018, arXiv 1803.04831"


def _element_key(base_key, index):
    return tf.random.experimental.stateless_fold_in(base_key, index)


def _marker_positions(key, timesteps, marker):
    first_key, second_key = tf.unstack(tf.random.experimental.stateless_split(key, num=2))
    if marker == "one_per_half":
        half = timesteps // 2
        first = tf.random.stateless_uniform([], first_key, minval=0, maxval=half, dtype=tf.int32)
        second = tf.random.stateless_uniform(
            [], second_key, minval=half, maxval=timesteps, dtype=tf.int32
        )
    else:
        # Two distinct positions, uniform over all unordered pairs: draw the second from the
        # T - 1 positions that are left and skip over the first.
        first = tf.random.stateless_uniform(
            [], first_key, minval=0, maxval=timesteps, dtype=tf.int32
        )
        second = tf.random.stateless_uniform(
            [], second_key, minval=0, maxval=timesteps - 1, dtype=tf.int32
        )
        second = second + tf.cast(second >= first, tf.int32)
    return first, second


def _marked_pair_example(key, timesteps, marker, combine):
    values_key, marker_key = tf.unstack(tf.random.experimental.stateless_split(key, num=2))
    values = tf.random.stateless_uniform([timesteps], values_key, dtype=tf.float32)
    first, second = _marker_positions(marker_key, timesteps, marker)
    markers = tf.one_hot(first, timesteps) + tf.one_hot(second, timesteps)
    inputs = tf.stack([values, markers], axis=-1)
    target = combine(tf.gather(values, first), tf.gather(values, second))
    return inputs, tf.reshape(target, [1])


def _parity_example(key, timesteps, per_step):
    bits = tf.random.stateless_uniform([timesteps], key, minval=0, maxval=2, dtype=tf.int32)
    parity = tf.math.floormod(tf.cumsum(bits), 2)
    inputs = tf.cast(bits, tf.float32)[:, None]
    targets = tf.cast(parity, tf.float32)
    targets = targets[:, None] if per_step else targets[-1:]
    return inputs, targets


def _check_sizes(owner, batch_size, train_size, validation_size, test_size):
    batch_size = check_int("batch_size", batch_size, minimum=1, owner=owner)
    train_size = check_int("train_size", train_size, minimum=1, owner=owner)
    validation_size = check_int("validation_size", validation_size, minimum=1, owner=owner)
    test_size = check_int("test_size", test_size, minimum=1, owner=owner)
    if train_size < batch_size:
        # The training split drops its last partial batch (static shapes for XLA), so it needs
        # at least one full batch.
        raise ValueError(
            f"{owner} expects `train_size >= batch_size`. "
            f"Received: train_size={train_size}, batch_size={batch_size}"
        )
    return batch_size, {"train": train_size, "validation": validation_size, "test": test_size}


def _build(example_fn, *, sizes, batch_size, seed):
    """One dataset per split from `example_fn(key)`; see the module docstring for the keys."""
    datasets = {}
    for split_number, split in enumerate(SPLITS):
        base_key = tf.constant([seed, split_number], dtype=tf.int64)
        dataset = tf.data.Dataset.range(sizes[split])
        training = split == "train"
        if training:
            # Shuffling indices, not examples: the buffer holds the whole split for 8 bytes each.
            dataset = dataset.shuffle(sizes[split], seed=seed, reshuffle_each_iteration=True)
        dataset = dataset.map(
            lambda index, base_key=base_key: example_fn(_element_key(base_key, index)),
            num_parallel_calls=AUTOTUNE,
            deterministic=True,
        )
        # The training split keeps full batches only, so every compiled step sees one shape.
        dataset = dataset.batch(batch_size, drop_remainder=training)
        datasets[split] = dataset.prefetch(AUTOTUNE)
    return datasets, steps_per_split({split: sizes[split] for split in SPLITS}, batch_size)


def _marked_pair_task(
    owner, combine, *, timesteps, batch_size, train_size, validation_size, test_size, marker, seed
):
    timesteps = check_int("timesteps", timesteps, minimum=2, owner=owner)
    marker = check_choice("marker", marker, MARKER_RULES, owner=owner)
    seed = check_int("seed", seed, minimum=0, owner=owner)
    batch_size, sizes = _check_sizes(owner, batch_size, train_size, validation_size, test_size)
    datasets, steps = _build(
        lambda key: _marked_pair_example(key, timesteps, marker, combine),
        sizes=sizes,
        batch_size=batch_size,
        seed=seed,
    )
    info = {
        "input_shape": (timesteps, 2),
        "input_dtype": "float32",
        "target_shape": (1,),
        "target_dtype": "float32",
        "output_kind": "regression",
        "num_classes": None,
        "loss": "mse",
        "metrics": ["mse"],
        "timesteps": timesteps,
        "marker": marker,
        "batch_size": batch_size,
        "sizes": sizes,
        "steps": steps,
        "seed": seed,
    }
    return datasets, info


def adding_problem(
    *,
    timesteps=100,
    batch_size=50,
    train_size=100_000,
    validation_size=10_000,
    test_size=10_000,
    marker="one_per_half",
    seed=0,
):
    """The adding problem: remember two marked numbers over `timesteps` steps and add them.

    Each example is a `(timesteps, 2)` float32 sequence. Column 0 holds values drawn from
    U[0, 1); column 1 is a 0/1 marker with exactly two ones. The target, shape `(1,)`, is the sum
    of the two marked values. With `marker="one_per_half"` (the IRNN paper's rule) the first one
    lies in steps `[0, timesteps // 2)` and the second in `[timesteps // 2, timesteps)`, so the
    network must carry a value over at least half the sequence; with `marker="uniform"` the two
    positions are any two distinct steps.

    Baseline: always predicting 1.0 gives MSE 1/6 ~ 0.167 (`ADDING_BASELINE_MSE`, see
    `info["baseline"]`); a model is only learning once it is well below that.

    Args:
        timesteps: Sequence length T, `>= 2`. Defaults to `100` (the papers use 100 to 5000).
        batch_size: Examples per batch, `>= 1`. Defaults to `50` (IndRNN's setting).
        train_size: Training examples, `>= batch_size`; the last partial batch is dropped.
            Defaults to `100_000`.
        validation_size: Validation examples, `>= 1`. Defaults to `10_000`.
        test_size: Test examples, `>= 1`. Defaults to `10_000`.
        marker: `"one_per_half"` (IRNN rule) or `"uniform"`. Defaults to `"one_per_half"`.
        seed: Non-negative integer that fixes every example of every split. Defaults to `0`.

    Returns:
        A `keras_rnninit.tasks.TaskData` `(train, validation, test, info)`; batches are
        `(inputs (B, T, 2) float32, targets (B, 1) float32)`.

    Example:

    ```python
    data = keras_rnninit.tasks.adding_problem(timesteps=1000, seed=1)
    model.compile(optimizer="adam", loss=data.info["loss"])
    model.fit(data.train, validation_data=data.validation, epochs=10)
    print(model.evaluate(data.test), "vs baseline", data.info["baseline"]["mse"])
    ```

    Reference:
        - [Le et al., 2015 (IRNN)](https://arxiv.org/abs/1504.00941)
        - [Li et al., 2018 (IndRNN)](https://arxiv.org/abs/1803.04831)
    """
    datasets, info = _marked_pair_task(
        "adding_problem",
        lambda a, b: a + b,
        timesteps=timesteps,
        batch_size=batch_size,
        train_size=train_size,
        validation_size=validation_size,
        test_size=test_size,
        marker=marker,
        seed=seed,
    )
    info.update(
        name="adding_problem",
        baseline={"mse": ADDING_BASELINE_MSE, "prediction": 1.0},
        reference=f"{_IRNN}; {_NPRNN}; {_INDRNN}",
    )
    return TaskData(datasets["train"], datasets["validation"], datasets["test"], TaskInfo(**info))


def multiplication_problem(
    *,
    timesteps=100,
    batch_size=50,
    train_size=100_000,
    validation_size=10_000,
    test_size=10_000,
    marker="one_per_half",
    seed=0,
):
    """The multiplication problem: as the adding problem, but the target is the product.

    Inputs are `(timesteps, 2)` float32 (values in U[0, 1), and a marker with exactly two ones,
    placed by `marker` as in `adding_problem`); the target, shape `(1,)`, is the product of the
    two marked values.

    Baseline: always predicting the mean 0.25 gives MSE 7/144 ~ 0.0486
    (`MULTIPLICATION_BASELINE_MSE`, see `info["baseline"]`).

    Args:
        timesteps: Sequence length T, `>= 2`. Defaults to `100`.
        batch_size: Examples per batch, `>= 1`. Defaults to `50`.
        train_size: Training examples, `>= batch_size`; the last partial batch is dropped.
            Defaults to `100_000`.
        validation_size: Validation examples, `>= 1`. Defaults to `10_000`.
        test_size: Test examples, `>= 1`. Defaults to `10_000`.
        marker: `"one_per_half"` or `"uniform"`. Defaults to `"one_per_half"`.
        seed: Non-negative integer that fixes every example of every split. Defaults to `0`.

    Returns:
        A `keras_rnninit.tasks.TaskData`; batches are
        `(inputs (B, T, 2) float32, targets (B, 1) float32)`.

    Example:

    ```python
    data = keras_rnninit.tasks.multiplication_problem(timesteps=200)
    ```

    Reference:
        - [Talathi & Vartak, 2015 (np-RNN)](https://arxiv.org/abs/1511.03771)
    """
    datasets, info = _marked_pair_task(
        "multiplication_problem",
        lambda a, b: a * b,
        timesteps=timesteps,
        batch_size=batch_size,
        train_size=train_size,
        validation_size=validation_size,
        test_size=test_size,
        marker=marker,
        seed=seed,
    )
    info.update(
        name="multiplication_problem",
        baseline={"mse": MULTIPLICATION_BASELINE_MSE, "prediction": 0.25},
        reference=_NPRNN,
    )
    return TaskData(datasets["train"], datasets["validation"], datasets["test"], TaskInfo(**info))


def parity(
    *,
    timesteps=50,
    batch_size=50,
    train_size=100_000,
    validation_size=10_000,
    test_size=10_000,
    per_step=True,
    seed=0,
):
    """Streaming parity: after every bit, output the XOR of all bits seen so far.

    Inputs are `(timesteps, 1)` float32 bits, each 0 or 1 with probability 1/2. With
    `per_step=True` the targets are `(timesteps, 1)` float32 with
    `targets[t] = (bits[0] + ... + bits[t]) mod 2` (train with a sigmoid output per step and
    binary cross-entropy); with `per_step=False` only the final parity, shape `(1,)`.
    A single flipped bit flips every later target, so the network must keep one bit of state
    exactly over the whole sequence.

    Chance level: 50 % accuracy (`PARITY_CHANCE_ACCURACY`): every target is a fair coin given
    nothing but the step number.

    Args:
        timesteps: Sequence length T, `>= 1`. Defaults to `50`.
        batch_size: Examples per batch, `>= 1`. Defaults to `50`.
        train_size: Training examples, `>= batch_size`; the last partial batch is dropped.
            Defaults to `100_000`.
        validation_size: Validation examples, `>= 1`. Defaults to `10_000`.
        test_size: Test examples, `>= 1`. Defaults to `10_000`.
        per_step: Targets at every step (`True`) or only at the last one. Defaults to `True`.
        seed: Non-negative integer that fixes every example of every split. Defaults to `0`.

    Returns:
        A `keras_rnninit.tasks.TaskData`; batches are `(inputs (B, T, 1) float32,
        targets (B, T, 1) float32)`, or targets `(B, 1)` when `per_step=False`.

    Example:

    ```python
    data = keras_rnninit.tasks.parity(timesteps=100)
    model.compile(optimizer="adam", loss=data.info["loss"], metrics=data.info["metrics"])
    ```
    """
    owner = "parity"
    timesteps = check_int("timesteps", timesteps, minimum=1, owner=owner)
    seed = check_int("seed", seed, minimum=0, owner=owner)
    if not isinstance(per_step, bool):
        raise ValueError(
            f"{owner} expects `per_step` to be a bool. Received: per_step={per_step!r}"
        )
    batch_size, sizes = _check_sizes(owner, batch_size, train_size, validation_size, test_size)
    datasets, steps = _build(
        lambda key: _parity_example(key, timesteps, per_step),
        sizes=sizes,
        batch_size=batch_size,
        seed=seed,
    )
    info = {
        "name": "parity",
        "input_shape": (timesteps, 1),
        "input_dtype": "float32",
        "target_shape": (timesteps, 1) if per_step else (1,),
        "target_dtype": "float32",
        "output_kind": "binary_per_step" if per_step else "binary",
        "num_classes": 2,
        "loss": "binary_crossentropy",
        "metrics": ["binary_accuracy"],
        "baseline": {"accuracy": PARITY_CHANCE_ACCURACY},
        "timesteps": timesteps,
        "per_step": per_step,
        "batch_size": batch_size,
        "sizes": sizes,
        "steps": steps,
        "seed": seed,
        "reference": "streaming parity (XOR of the prefix), a standard memory test",
    }
    return TaskData(datasets["train"], datasets["validation"], datasets["test"], TaskInfo(**info))
