"""Tests for keras_rnninit.tasks: every pipeline on generated or mocked data (no network)."""

import json

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

import keras_rnninit  # noqa: E402
from keras_rnninit import tasks  # noqa: E402

SMALL = dict(train_size=200, validation_size=64, test_size=64, batch_size=32)


def _arrays(dataset):
    """Concatenates a batched (inputs, targets) dataset into two NumPy arrays."""
    inputs, targets = zip(*dataset.as_numpy_iterator())
    return np.concatenate(inputs), np.concatenate(targets)


# --------------------------------------------------------------------------------------------
# Synthetic tasks
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("task", [tasks.adding_problem, tasks.multiplication_problem])
@pytest.mark.parametrize("marker", ["one_per_half", "uniform"])
def test_marked_pair_shapes_markers_and_targets(task, marker):
    timesteps = 37  # odd, so the "half" boundary is T // 2 = 18
    data = task(timesteps=timesteps, marker=marker, seed=3, **SMALL)
    x, y = next(iter(data.train))
    assert x.shape == (32, timesteps, 2) and x.dtype == tf.float32
    assert y.shape == (32, 1) and y.dtype == tf.float32
    assert data.info["input_shape"] == (timesteps, 2)
    assert data.info["steps"] == {"train": 6, "validation": 2, "test": 2}

    for split in (data.train, data.validation, data.test):
        inputs, targets = _arrays(split)
        values, markers = inputs[..., 0], inputs[..., 1]
        assert np.all((values >= 0) & (values < 1))
        assert set(np.unique(markers)) == {0.0, 1.0}
        assert np.all(markers.sum(axis=1) == 2)
        positions = np.sort(np.argwhere(markers == 1)[:, 1].reshape(-1, 2), axis=1)
        if marker == "one_per_half":
            assert np.all(positions[:, 0] < timesteps // 2)
            assert np.all(positions[:, 1] >= timesteps // 2)
        marked = np.take_along_axis(values, positions, axis=1)
        expected = marked.sum(1) if task is tasks.adding_problem else marked.prod(1)
        np.testing.assert_allclose(targets[:, 0], expected, rtol=1e-6)


def test_uniform_marker_places_pairs_anywhere():
    # Under the uniform rule both markers fall in the same half about half of the time
    # (P = 2 * C(T/2, 2) / C(T, 2) ~ 0.49 for T = 40); the IRNN rule never does that.
    inputs, _ = _arrays(
        tasks.adding_problem(timesteps=40, marker="uniform", seed=0, **SMALL).validation
    )
    positions = np.argwhere(inputs[..., 1] == 1)[:, 1].reshape(-1, 2)
    same_half = np.mean((positions[:, 0] < 20) == (positions[:, 1] < 20))
    assert 0.25 < same_half < 0.75
    assert np.any(positions.max(axis=1) < 20) and np.any(positions.min(axis=1) >= 20)


@pytest.mark.parametrize(
    "task, constant, baseline",
    [
        (tasks.adding_problem, 1.0, tasks.ADDING_BASELINE_MSE),
        (tasks.multiplication_problem, 0.25, tasks.MULTIPLICATION_BASELINE_MSE),
    ],
)
def test_constant_prediction_scores_the_documented_baseline(task, constant, baseline):
    assert data_baseline(task) == baseline
    n = 20_000
    data = task(timesteps=10, batch_size=5_000, train_size=5_000, validation_size=n,
                test_size=10, seed=11)
    _, targets = _arrays(data.validation)
    squared_errors = (targets[:, 0].astype(np.float64) - constant) ** 2
    standard_error = squared_errors.std() / np.sqrt(n)
    # 5 standard errors: a wrong constant (e.g. 1/12 or 1/16 instead of 1/6 or 7/144) is off by
    # dozens of standard errors.
    assert abs(squared_errors.mean() - baseline) < 5 * standard_error
    assert abs(targets.mean() - constant) < 0.02


def data_baseline(task):
    return task(timesteps=2, **SMALL).info["baseline"]["mse"]


def test_baseline_constants_match_their_derivation():
    assert tasks.ADDING_BASELINE_MSE == pytest.approx(2 * (1 / 12))
    assert tasks.MULTIPLICATION_BASELINE_MSE == pytest.approx(1 / 9 - 1 / 16)


@pytest.mark.parametrize("task", [tasks.adding_problem, tasks.multiplication_problem, tasks.parity])
def test_synthetic_determinism_seeds_and_distinct_splits(task):
    first = task(timesteps=20, seed=5, **SMALL)
    second = task(timesteps=20, seed=5, **SMALL)
    other = task(timesteps=20, seed=6, **SMALL)
    for split in ("train", "validation", "test"):
        a, b, c = (_arrays(getattr(d, split)) for d in (first, second, other))
        np.testing.assert_array_equal(a[0], b[0])
        np.testing.assert_array_equal(a[1], b[1])
        assert not np.array_equal(a[0], c[0])
    # Splits are distinct samples: no example of one split reappears in another.
    rows = {
        split: {x.tobytes() for x in _arrays(getattr(first, split))[0]}
        for split in ("train", "validation", "test")
    }
    assert not rows["train"] & rows["validation"]
    assert not rows["train"] & rows["test"]
    assert not rows["validation"] & rows["test"]


def test_contents_do_not_depend_on_batch_size_or_order():
    # Each example comes from its own key, so the same seed gives the same validation examples
    # whatever the batch size, and the training split holds the same set of examples every epoch.
    a = _arrays(tasks.adding_problem(timesteps=15, seed=2, **SMALL).validation)[0]
    small = dict(SMALL, batch_size=7)
    b = _arrays(tasks.adding_problem(timesteps=15, seed=2, **small).validation)[0]
    np.testing.assert_array_equal(a, b)
    data = tasks.adding_problem(timesteps=15, seed=2, **dict(SMALL, train_size=64))
    epoch_1, epoch_2 = _arrays(data.train)[0], _arrays(data.train)[0]
    assert not np.array_equal(epoch_1, epoch_2)  # reshuffled ...
    assert sorted(x.tobytes() for x in epoch_1) == sorted(x.tobytes() for x in epoch_2)  # same set


@pytest.mark.parametrize("per_step", [True, False])
def test_parity_targets_are_prefix_xor(per_step):
    data = tasks.parity(timesteps=25, per_step=per_step, seed=4, **SMALL)
    inputs, targets = _arrays(data.test)
    assert inputs.shape == (64, 25, 1) and inputs.dtype == np.float32
    assert set(np.unique(inputs)) == {0.0, 1.0}
    prefix_parity = np.cumsum(inputs[..., 0], axis=1) % 2
    if per_step:
        assert targets.shape == (64, 25, 1)
        np.testing.assert_array_equal(targets[..., 0], prefix_parity)
    else:
        assert targets.shape == (64, 1)
        np.testing.assert_array_equal(targets[:, 0], prefix_parity[:, -1])
    # Bits are fair coins, so the all-zeros prediction is right about half the time.
    assert abs(np.mean(inputs) - 0.5) < 0.05
    assert data.info["baseline"] == {"accuracy": 0.5}


@pytest.mark.parametrize(
    "kwargs, name",
    [
        (dict(timesteps=1), "timesteps"),
        (dict(timesteps=10.0), "timesteps"),
        (dict(marker="first"), "marker"),
        (dict(batch_size=0), "batch_size"),
        (dict(seed=-1), "seed"),
        (dict(train_size=10, batch_size=20), "train_size"),
        (dict(validation_size=0), "validation_size"),
    ],
)
def test_synthetic_bad_arguments_name_the_argument(kwargs, name):
    with pytest.raises(ValueError, match=f"Received: .*{name}="):
        tasks.adding_problem(**kwargs)


def test_parity_bad_arguments():
    with pytest.raises(ValueError, match="Received: timesteps=0"):
        tasks.parity(timesteps=0)
    with pytest.raises(ValueError, match="Received: per_step=1"):
        tasks.parity(per_step=1)


def test_info_is_json_serialisable_and_task_data_unpacks():
    data = tasks.parity(timesteps=8, **SMALL)
    train, validation, test, info = data
    assert train is data.train and info is data.info
    restored = json.loads(json.dumps(info))
    assert restored["sizes"] == {"train": 200, "validation": 64, "test": 64}


def test_measure_throughput_counts_examples():
    data = tasks.adding_problem(timesteps=10, **SMALL)
    # 6 training batches, repeated to cover warm-up plus 10 timed batches.
    result = tasks.measure_throughput(data.train, batches=10, warmup_batches=2)
    assert result["batches"] == 10 and result["examples"] == 320
    assert result["examples_per_second"] == pytest.approx(320 / result["seconds"])
    with pytest.raises(ValueError, match="Received: batches=0"):
        tasks.measure_throughput(data.train, batches=0)
    with pytest.raises(ValueError, match="Received: dataset="):
        tasks.measure_throughput([1, 2, 3])


def test_package_exposes_tasks_lazily():
    assert keras_rnninit.tasks is tasks
    assert "tasks" in keras_rnninit.__all__
