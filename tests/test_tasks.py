"""Tests for keras_rnninit.tasks: every pipeline on generated or mocked data (no network)."""

import json

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

import keras_rnninit
from keras_rnninit import tasks

SMALL = dict(train_size=200, validation_size=64, test_size=64, batch_size=32)
# The tests of a pipeline's contents are marked `backend_independent`: pure tf.data and NumPy,
# which read no Keras backend, so the TensorFlow run checks them and the JAX run skips them
# (tests/conftest.py). The tests that feed the pipelines to a Keras model, or run a Keras model
# inside one (UCF101's feature extractor), run on every backend.


def _arrays(dataset):
    """Concatenates a batched (inputs, targets) dataset into two NumPy arrays."""
    inputs, targets = zip(*dataset.as_numpy_iterator())
    return np.concatenate(inputs), np.concatenate(targets)


# --------------------------------------------------------------------------------------------
# Synthetic tasks
# --------------------------------------------------------------------------------------------


@pytest.mark.backend_independent
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


@pytest.mark.backend_independent
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


@pytest.mark.backend_independent
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
    data = task(
        timesteps=10, batch_size=5_000, train_size=5_000, validation_size=n, test_size=10, seed=11
    )
    _, targets = _arrays(data.validation)
    squared_errors = (targets[:, 0].astype(np.float64) - constant) ** 2
    standard_error = squared_errors.std() / np.sqrt(n)
    # 5 standard errors: a wrong constant (e.g. 1/12 or 1/16 instead of 1/6 or 7/144) is off by
    # dozens of standard errors.
    assert abs(squared_errors.mean() - baseline) < 5 * standard_error
    assert abs(targets.mean() - constant) < 0.02


def data_baseline(task):
    return task(timesteps=2, **SMALL).info["baseline"]["mse"]


@pytest.mark.backend_independent
def test_baseline_constants_match_their_derivation():
    assert tasks.ADDING_BASELINE_MSE == pytest.approx(2 * (1 / 12))
    assert tasks.MULTIPLICATION_BASELINE_MSE == pytest.approx(1 / 9 - 1 / 16)


@pytest.mark.backend_independent
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


@pytest.mark.backend_independent
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


@pytest.mark.backend_independent
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


@pytest.mark.backend_independent
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


@pytest.mark.backend_independent
def test_parity_bad_arguments():
    with pytest.raises(ValueError, match="Received: timesteps=0"):
        tasks.parity(timesteps=0)
    with pytest.raises(ValueError, match="Received: per_step=1"):
        tasks.parity(per_step=1)


@pytest.mark.backend_independent
def test_info_is_json_serialisable_and_task_data_unpacks():
    data = tasks.parity(timesteps=8, **SMALL)
    train, validation, test, info = data
    assert train is data.train and info is data.info
    restored = json.loads(json.dumps(info))
    assert restored["sizes"] == {"train": 200, "validation": 64, "test": 64}


@pytest.mark.backend_independent
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


# --------------------------------------------------------------------------------------------
# Pixel MNIST (tfds.testing.mock_data: random images, offline, identical train and test splits)
# --------------------------------------------------------------------------------------------


@pytest.fixture
def mock_mnist(tmp_path):
    tfds = pytest.importorskip("tensorflow_datasets")
    with tfds.testing.mock_data(num_examples=40):
        raw = list(
            tfds.load(
                "mnist", split="train", as_supervised=True, data_dir=str(tmp_path)
            ).as_numpy_iterator()
        )
        images = np.stack([image for image, _ in raw]).reshape(40, 784)
        labels = np.array([label for _, label in raw])
        yield str(tmp_path), images, labels


@pytest.mark.backend_independent
def test_pixel_mnist_sequences_splits_and_scaling(mock_mnist):
    data_dir, images, labels = mock_mnist
    data = tasks.pixel_mnist(batch_size=8, validation_size=10, data_dir=data_dir, seed=1)
    assert data.info["sizes"] == {"train": 30, "validation": 10, "test": 40}
    assert data.info["permutation"] is None and data.info["input_shape"] == (784, 1)
    x, y = next(iter(data.train))
    assert x.shape == (8, 784, 1) and x.dtype == tf.float32
    assert y.shape == (8,) and y.dtype == tf.int32
    # Validation = the last 10 training images in file order, scaled to [0, 1].
    val_x, val_y = _arrays(data.validation)
    np.testing.assert_allclose(val_x[..., 0], images[30:] / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(val_y, labels[30:])
    # Training = the other 30 (3 full batches of 8, remainder dropped), shuffled.
    train_x, train_y = _arrays(data.train)
    assert train_x.shape == (24, 784, 1)
    first_30 = {row.tobytes() for row in (images[:30] / 255.0).astype(np.float32)}
    assert {row.tobytes() for row in train_x[..., 0]} <= first_30
    assert not np.array_equal(train_y, labels[:24])  # shuffled (fails with prob. ~1e-20)


@pytest.mark.backend_independent
def test_permuted_pixel_mnist_permutation_is_fixed_and_reusable(mock_mnist):
    data_dir, images, _ = mock_mnist
    data = tasks.permuted_pixel_mnist(batch_size=8, validation_size=10, data_dir=data_dir, seed=7)
    permutation = np.array(data.info["permutation"])
    assert data.info["name"] == "permuted_pixel_mnist"
    np.testing.assert_array_equal(np.sort(permutation), np.arange(784))
    assert not np.array_equal(permutation, np.arange(784))
    np.testing.assert_array_equal(permutation, tasks.mnist_permutation(7))
    assert not np.array_equal(permutation, tasks.mnist_permutation(8))
    val_x, _ = _arrays(data.validation)
    np.testing.assert_allclose(val_x[..., 0], images[30:, permutation] / 255.0, rtol=1e-6)
    # A stored permutation (e.g. from a run's JSON config) reproduces the same sequences.
    stored = json.loads(json.dumps(data.info))["permutation"]
    again = tasks.pixel_mnist(
        permutation=stored, batch_size=8, validation_size=10, data_dir=data_dir, seed=0
    )
    np.testing.assert_array_equal(_arrays(again.validation)[0], val_x)
    # Two builds with the same seed give the same training batches.
    twin = tasks.permuted_pixel_mnist(batch_size=8, validation_size=10, data_dir=data_dir, seed=7)
    np.testing.assert_array_equal(_arrays(twin.train)[1], _arrays(data.train)[1])


@pytest.mark.backend_independent
def test_pixel_mnist_row_by_row_and_bad_arguments(mock_mnist):
    data_dir, images, _ = mock_mnist
    data = tasks.pixel_mnist(row_by_row=True, batch_size=8, validation_size=10, data_dir=data_dir)
    test_x, _ = _arrays(data.test)
    assert test_x.shape == (40, 28, 28) and data.info["timesteps"] == 28
    np.testing.assert_allclose(test_x.reshape(40, 784), images / 255.0, rtol=1e-6)
    with pytest.raises(ValueError, match="Received: permutation"):
        tasks.pixel_mnist(permutation=[0, 1, 2], data_dir=data_dir)
    with pytest.raises(ValueError, match="Received: validation_size=40"):
        tasks.pixel_mnist(validation_size=40, data_dir=data_dir)
    with pytest.raises(ValueError, match="Received: permute=True"):
        tasks.permuted_pixel_mnist(permute=True)


# --------------------------------------------------------------------------------------------
# MNIST from files (IDX, gzip or not; keras.datasets' mnist.npz), written by the tests
# --------------------------------------------------------------------------------------------


@pytest.mark.backend_independent
@pytest.mark.parametrize("form", ["idx_gz", "idx", "npz"])
def test_read_mnist_reads_every_file_form_exactly(tmp_path, write_mnist_files, form):
    arrays = write_mnist_files(tmp_path, form=form)
    (x_train, y_train), (x_test, y_test) = tasks.read_mnist(str(tmp_path))
    for got, want in zip((x_train, y_train, x_test, y_test), arrays):
        assert got.dtype == np.uint8
        np.testing.assert_array_equal(got, want)


@pytest.mark.backend_independent
def test_pixel_mnist_from_idx_files_offline(tmp_path, write_mnist_files):
    arrays = write_mnist_files(tmp_path)
    data = tasks.pixel_mnist(
        batch_size=8, validation_size=10, data_dir=str(tmp_path), permute=True, seed=3
    )
    assert data.info["source"] == "files"
    assert data.info["sizes"] == {"train": 30, "validation": 10, "test": 12}
    permutation = np.array(data.info["permutation"])
    val_x, val_y = _arrays(data.validation)
    np.testing.assert_allclose(
        val_x[..., 0], arrays[0][30:].reshape(10, 784)[:, permutation] / 255.0, rtol=1e-6
    )
    np.testing.assert_array_equal(val_y, arrays[1][30:])
    test_x, test_y = _arrays(data.test)
    assert test_x.shape == (12, 784, 1) and test_y.dtype == np.int32
    np.testing.assert_array_equal(test_y, arrays[3])
    train_x, _ = _arrays(data.train)
    assert train_x.shape == (24, 784, 1)


@pytest.mark.backend_independent
def test_read_mnist_errors_name_what_is_wrong(tmp_path, write_mnist_files):
    with pytest.raises(ValueError, match="Received: directory="):
        tasks.read_mnist(str(tmp_path / "absent"))
    write_mnist_files(tmp_path, form="idx")
    (tmp_path / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(ValueError, match="missing: t10k-labels-idx1-ubyte"):
        tasks.read_mnist(str(tmp_path))
    # A truncated file and a file that is not IDX at all.
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(bytes([0, 0, 8, 1, 0, 0, 0, 12, 1, 2]))
    with pytest.raises(ValueError, match="truncated or corrupt"):
        tasks.read_mnist(str(tmp_path))
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(b"PK\x03\x04 not idx")
    with pytest.raises(ValueError, match="expects an IDX file"):
        tasks.read_idx(str(tmp_path / "t10k-labels-idx1-ubyte"))


# --------------------------------------------------------------------------------------------
# Character-level Penn Treebank (small generated files in the PTB character format)
# --------------------------------------------------------------------------------------------


def _write_ptb_char_files(folder, seed=0, lines=(60, 20, 20)):
    """Writes ptb.char.*.txt files: space-separated characters, '_' between words."""
    rng = np.random.default_rng(seed)
    letters = list("abcdefghij")
    folder.mkdir(parents=True, exist_ok=True)
    for name, count in zip(("train", "valid", "test"), lines):
        text_lines = []
        for _ in range(count):
            words = [" ".join(rng.choice(letters, size=rng.integers(1, 6))) for _ in range(4)]
            text_lines.append(" _ ".join(words))
        (folder / f"ptb.char.{name}.txt").write_text("\n".join(text_lines) + "\n")


@pytest.mark.backend_independent
def test_read_characters_ptb_format(tmp_path):
    path = tmp_path / "tiny.txt"
    path.write_text("a b _ c\nd\n")
    assert tasks.read_characters(path) == ["a", "b", "_", "c", "\n", "d", "\n"]
    assert tasks.read_characters(path, tokenization="characters") == list("a b _ c\nd\n")
    with pytest.raises(ValueError, match="Received: tokenization='words'"):
        tasks.read_characters(path, tokenization="words")


@pytest.mark.backend_independent
def test_language_model_windows_continue_row_by_row():
    ids = np.arange(1000) % 97
    batch_size, timesteps = 4, 9
    batches = list(
        tasks.language_model_windows(
            ids, batch_size=batch_size, timesteps=timesteps
        ).as_numpy_iterator()
    )
    stream_length = 1000 // batch_size
    assert len(batches) == (stream_length - 1) // timesteps
    for k, (inputs, targets) in enumerate(batches):
        assert inputs.shape == targets.shape == (batch_size, timesteps)
        assert inputs.dtype == np.int32
        np.testing.assert_array_equal(inputs[:, 1:], targets[:, :-1])  # next-token targets
        if k + 1 < len(batches):
            # Row b of batch k+1 starts exactly where row b of batch k stopped.
            np.testing.assert_array_equal(batches[k + 1][0][:, 0], targets[:, -1])
    rows = np.concatenate([inputs for inputs, _ in batches], axis=1)
    for b in range(batch_size):
        start = b * stream_length
        np.testing.assert_array_equal(rows[b], ids[start : start + rows.shape[1]])
    with pytest.raises(ValueError, match="Received: 10 ids"):
        tasks.language_model_windows(np.arange(10), batch_size=2, timesteps=5)


@pytest.mark.backend_independent
def test_penn_treebank_characters_from_files(tmp_path):
    _write_ptb_char_files(tmp_path / "simple-examples" / "data")
    data = tasks.penn_treebank_characters(
        data_dir=tmp_path, timesteps=7, batch_size=4, eval_batch_size=2
    )
    info = data.info
    vocabulary = info["vocabulary"]
    assert vocabulary == sorted(set("abcdefghij_\n"))
    assert info["num_classes"] == 12
    assert info["baseline"]["bits_per_character_uniform"] == pytest.approx(np.log2(12))
    # Unigram baseline sits below uniform (the '_' and newline frequencies differ from letters).
    assert info["baseline"]["bits_per_character_unigram"] < np.log2(12)
    train_tokens = tasks.read_characters(tmp_path / "simple-examples/data/ptb.char.train.txt")
    assert info["sizes"]["train"] == len(train_tokens)
    # Decoding the first training row gives the first characters of the training file.
    inputs, targets = next(iter(data.train))
    assert inputs.shape == (4, 7) and inputs.dtype == tf.int32
    decoded = [vocabulary[i] for i in inputs.numpy()[0]]
    assert decoded == train_tokens[:7]
    test_batches = list(data.test.as_numpy_iterator())
    assert test_batches[0][0].shape == (2, 7) and len(test_batches) == info["steps"]["test"]
    # Same files and vocabulary give the same batches.
    again = tasks.penn_treebank_characters(
        data_dir=tmp_path, timesteps=7, batch_size=4, vocabulary=vocabulary
    )
    np.testing.assert_array_equal(next(iter(again.train))[0], inputs)
    assert tasks.bits_per_character(np.log(2.0) * 1.5) == pytest.approx(1.5)


@pytest.mark.backend_independent
def test_penn_treebank_characters_errors(tmp_path):
    _write_ptb_char_files(tmp_path)
    with pytest.raises(ValueError, match="tokens outside the vocabulary"):
        tasks.penn_treebank_characters(data_dir=tmp_path, vocabulary=list("abc"), batch_size=2)
    with pytest.raises(ValueError, match="too short"):
        tasks.penn_treebank_characters(data_dir=tmp_path, batch_size=4096)
    with pytest.raises(ValueError, match="Received: data_dir="):
        tasks.penn_treebank_characters(data_dir=tmp_path / "missing")
    (tmp_path / "ptb.char.test.txt").unlink()
    with pytest.raises(ValueError, match="ptb.char.test.txt"):
        tasks.penn_treebank_characters(data_dir=tmp_path)
    with pytest.raises(ValueError, match="Received: timesteps=0"):
        tasks.penn_treebank_characters(data_dir=tmp_path, timesteps=0)


# --------------------------------------------------------------------------------------------
# NTU RGB+D skeletons (small generated .skeleton files) and UCF101 features (mocked TFDS)
# --------------------------------------------------------------------------------------------


def _skeleton_text(frames):
    """NTU .skeleton text; `frames` is a list of frames, each a list of (body_id, (25, 3) array)."""
    lines = [str(len(frames))]
    for bodies in frames:
        lines.append(str(len(bodies)))
        for body_id, joints in bodies:
            lines.append(f"{body_id} 0 1 2 1 2 0 0.1 0.2 2")
            lines.append("25")
            for x, y, z in joints:
                lines.append(f"{x:.6f} {y:.6f} {z:.6f} 250.1 200.2 900.3 500.4 0.1 0.2 0.3 0.4 2")
    return "\n".join(lines) + "\n"


def _joints(value):
    return np.full((25, 3), value, dtype=np.float32) + np.arange(25, dtype=np.float32)[:, None]


@pytest.mark.backend_independent
def test_parse_ntu_name():
    assert tasks.parse_ntu_name("/data/S017C003P020R002A060.skeleton") == {
        "setup": 17,
        "camera": 3,
        "performer": 20,
        "replication": 2,
        "action": 60,
    }
    with pytest.raises(ValueError, match="Received: name='clip.skeleton'"):
        tasks.parse_ntu_name("clip.skeleton")


@pytest.mark.backend_independent
def test_read_ntu_skeleton_tracks_bodies_and_drops_static_noise(tmp_path):
    # Body "11" moves, body "22" appears from frame 1 and moves, body "33" is a static false
    # detection listed first in frame 2; with max_bodies=2 the static one is dropped, and bodies
    # keep their slots although their order in the file changes.
    frames = [
        [("11", _joints(0.0))],
        [("11", _joints(1.0)), ("22", _joints(10.0))],
        [("33", _joints(5.0)), ("22", _joints(12.0)), ("11", _joints(2.0))],
    ]
    path = tmp_path / "S001C001P001R001A001.skeleton"
    path.write_text(_skeleton_text(frames))
    clip = tasks.read_ntu_skeleton(path, max_bodies=2)
    assert clip.shape == (3, 2, 25, 3) and clip.dtype == np.float32
    np.testing.assert_allclose(clip[:, 0], [_joints(0.0), _joints(1.0), _joints(2.0)])
    np.testing.assert_allclose(clip[0, 1], 0.0)  # body 22 absent from frame 0
    np.testing.assert_allclose(clip[1:, 1], [_joints(10.0), _joints(12.0)])
    bad = tmp_path / "S001C001P001R001A002.skeleton"
    bad.write_text("2\n1\n")
    with pytest.raises(ValueError, match="could not parse"):
        tasks.read_ntu_skeleton(bad)


def _write_ntu_folder(folder, suffix=".skeleton"):
    """24 clips: performers 1-4, cameras 1-3, actions 1-2; body 0's x = frame index + 100."""
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    for performer in (1, 2, 3, 4):
        for camera in (1, 2, 3):
            for action in (1, 2):
                length = int(rng.integers(8, 41))
                joints = rng.normal(size=(length, 2, 25, 3)).astype(np.float32)
                joints[:, 0, :, 0] = np.arange(length)[:, None] + 100.0
                name = f"S001C{camera:03d}P{performer:03d}R001A{action:03d}"
                if suffix == ".npy":
                    np.save(folder / f"{name}.npy", joints)
                else:
                    text = _skeleton_text(
                        [[("7", joints[t, 0]), ("8", joints[t, 1])] for t in range(length)]
                    )
                    (folder / f"{name}.skeleton").write_text(text)
    (folder / "S001C001P001R001A003.skeleton").write_text("0\n")  # a clip with no skeleton


@pytest.mark.backend_independent
@pytest.mark.parametrize("benchmark", ["cross_subject", "cross_view"])
def test_ntu_skeletons_splits_shapes_and_frame_sampling(tmp_path, benchmark):
    _write_ntu_folder(tmp_path / "ntu")
    kwargs = dict(
        data_dir=tmp_path / "ntu",
        benchmark=benchmark,
        batch_size=4,
        validation_fraction=0.2,
        center=False,
        seed=3,
    )
    data = tasks.ntu_skeletons(**kwargs)
    names, info = data.info["names"], data.info
    assert info["skipped"] == ["S001C001P001R001A003.skeleton"]
    codes = {split: [tasks.parse_ntu_name(n) for n in names[split]] for split in names}
    if benchmark == "cross_subject":
        # Performers 1, 2 and 4 are training subjects in the standard protocol; 3 is not.
        assert {c["performer"] for c in codes["train"] + codes["validation"]} == {1, 2, 4}
        assert {c["performer"] for c in codes["test"]} == {3}
    else:
        assert {c["camera"] for c in codes["train"] + codes["validation"]} == {2, 3}
        assert {c["camera"] for c in codes["test"]} == {1}
    assert not set(names["train"]) & set(names["validation"])
    assert len(names["validation"]) == round(0.2 * (18 if benchmark == "cross_subject" else 16))

    # Evaluation takes the middle frame of each of 20 equal segments (body 0's x = frame + 100).
    test_x, test_y = _arrays(data.test)
    np.testing.assert_array_equal(test_y, [c["action"] - 1 for c in codes["test"]])
    for clip, name in zip(test_x, names["test"]):
        length = len(tasks.read_ntu_skeleton(tmp_path / "ntu" / name))
        edges = np.floor(np.linspace(0, length, 21)).astype(int)
        middle = np.minimum(edges[:-1] + np.maximum(edges[1:] - edges[:-1], 1) // 2, length - 1)
        np.testing.assert_array_equal(clip[:, 0] - 100, middle)
    # Training draws one frame inside each segment, fresh every epoch, reproducible by seed.
    epoch_1, epoch_2 = _arrays(data.train)[0], _arrays(data.train)[0]
    assert not np.array_equal(epoch_1, epoch_2)
    for clip in epoch_1:
        frame = clip[:, 0] - 100
        assert np.all(np.diff(frame) >= 0)
    twin = tasks.ntu_skeletons(**kwargs)
    x, y = next(iter(twin.train))
    assert x.shape == (4, 20, 150) and x.dtype == tf.float32 and y.dtype == tf.int32
    np.testing.assert_array_equal(x, epoch_1[:4])  # the first epochs of two builds agree


@pytest.mark.backend_independent
def test_ntu_skeletons_npy_layout_cache_and_centering(tmp_path):
    _write_ntu_folder(tmp_path / "npy", suffix=".npy")
    kwargs = dict(
        data_dir=tmp_path / "npy", batch_size=4, cache_dir=tmp_path / "cache", random_frames=False
    )
    data = tasks.ntu_skeletons(**kwargs)
    assert len(list((tmp_path / "cache").glob("*.npz"))) == 1
    cached = tasks.ntu_skeletons(**kwargs)
    np.testing.assert_array_equal(_arrays(cached.test)[0], _arrays(data.test)[0])
    # Centred: every joint minus the mean position of body 0's spine-middle joint (index 1).
    raw = tasks.ntu_skeletons(**dict(kwargs, center=False, cache_dir=None))
    name = data.info["names"]["test"][0]
    origin = np.load(tmp_path / "npy" / name)[:, 0, 1].mean(axis=0)
    centred_x = _arrays(data.test)[0][0].reshape(20, 2, 25, 3)
    raw_x = _arrays(raw.test)[0][0].reshape(20, 2, 25, 3)
    np.testing.assert_allclose(centred_x, raw_x - origin, rtol=1e-5, atol=1e-5)


@pytest.mark.backend_independent
def test_ntu_skeletons_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="Received: data_dir="):
        tasks.ntu_skeletons(data_dir=tmp_path / "missing")
    with pytest.raises(ValueError, match="found no NTU"):
        tasks.ntu_skeletons(data_dir=tmp_path)
    with pytest.raises(ValueError, match="Received: benchmark='cross_setup'"):
        tasks.ntu_skeletons(data_dir=tmp_path, benchmark="cross_setup")
    with pytest.raises(ValueError, match="Received: validation_fraction=0"):
        tasks.ntu_skeletons(data_dir=tmp_path, validation_fraction=0)


def _tiny_cnn(keras):
    return keras.Sequential(
        [
            keras.Input((32, 32, 3)),
            keras.layers.Conv2D(4, 3, strides=4, activation="relu"),
            keras.layers.GlobalAveragePooling2D(),
        ],
        name="tiny_cnn",
    )


def test_ucf101_features_with_mock_data(tmp_path):
    tfds = pytest.importorskip("tensorflow_datasets")
    import keras

    cnn = _tiny_cnn(keras)
    with tfds.testing.mock_data(num_examples=3):
        raw = next(iter(tfds.load("ucf101/ucf101_1_256", split="test", data_dir=str(tmp_path))))
        data = tasks.ucf101_features(
            feature_extractor=cnn,
            frames=4,
            image_size=32,
            batch_size=2,
            data_dir=str(tmp_path),
            cache_dir=tmp_path / "cache",
        )
    info = data.info
    assert info["sizes"] == {"train": 2, "validation": 1, "test": 3}
    assert info["input_shape"] == (4, 4) and info["num_classes"] == 101
    test_x, test_y = _arrays(data.test)
    assert test_x.shape == (3, 4, 4) and test_x.dtype == np.float32
    # The first test clip's features are the CNN applied to the middle frames of 4 segments.
    video = raw["video"]
    length = video.shape[0]
    edges = np.floor(np.linspace(0, length, 5)).astype(int)
    index = np.minimum(edges[:-1] + np.maximum(np.diff(edges), 1) // 2, length - 1)
    frames = tf.image.resize(tf.cast(tf.gather(video, index), tf.float32), [32, 32])
    expected = np.asarray(cnn.predict_on_batch(frames.numpy()))
    np.testing.assert_allclose(test_x[0], expected, rtol=1e-4, atol=1e-5)
    assert test_y[0] == raw["label"].numpy()
    # The cache is reused: no TFDS call is needed the second time (mock_data is off here).
    again = tasks.ucf101_features(
        feature_extractor=cnn,
        frames=4,
        image_size=32,
        batch_size=2,
        data_dir=str(tmp_path / "no_data"),
        cache_dir=tmp_path / "cache",
        download=False,
    )
    np.testing.assert_array_equal(_arrays(again.test)[0], test_x)


@pytest.mark.slow  # Builds and compiles MobileNetV2: ~25 s on JAX.
def test_ucf101_features_named_extractor(tmp_path):
    tfds = pytest.importorskip("tensorflow_datasets")
    with tfds.testing.mock_data(num_examples=2):
        data = tasks.ucf101_features(
            feature_extractor="MobileNetV2",
            weights=None,
            frames=2,
            image_size=32,
            batch_size=1,
            data_dir=str(tmp_path),
        )
    assert data.info["input_shape"] == (2, 1280)
    assert data.info["feature_extractor"] == "MobileNetV2"


@pytest.mark.backend_independent
def test_ucf101_features_errors():
    with pytest.raises(ValueError, match="Received: feature_extractor='AlexNet'"):
        tasks.ucf101_features(feature_extractor="AlexNet")
    with pytest.raises(ValueError, match="Received: image_size=16"):
        tasks.ucf101_features(image_size=16)


# --------------------------------------------------------------------------------------------
# The datasets feed Keras models on the current backend, compiled
# --------------------------------------------------------------------------------------------


def test_training_batches_have_static_shapes_and_fit_a_compiled_model():
    import keras

    data = tasks.adding_problem(timesteps=20, **SMALL)
    inputs_spec, targets_spec = data.train.element_spec
    # Full training batches only: one static shape, so XLA compiles the train step once.
    assert inputs_spec.shape == (32, 20, 2) and targets_spec.shape == (32, 1)
    model = keras.Sequential(
        [keras.Input(data.info["input_shape"]), keras.layers.SimpleRNN(4), keras.layers.Dense(1)]
    )
    model.compile(optimizer="adam", loss=data.info["loss"], jit_compile=True)
    history = model.fit(data.train, epochs=1, verbose=0, shuffle=False)
    assert np.isfinite(history.history["loss"][0])
    assert np.isfinite(model.evaluate(data.validation, verbose=0))


def test_task_info_is_a_typed_json_dict():
    data = tasks.adding_problem(timesteps=10, **SMALL)
    info = data.info
    assert isinstance(info, tasks.TaskInfo) and isinstance(info, dict)
    # The common keys read as attributes too; the models read the same output kinds.
    assert info.output_kind == info["output_kind"] == "regression"
    assert info.input_shape == (10, 2) and info.num_classes is None and not info.per_step
    assert info.vocabulary_size is None  # an optional key this task does not have
    assert info.timesteps == 10  # a task's own key
    assert json.loads(json.dumps(info))["input_shape"] == [10, 2]
    with pytest.raises(AttributeError):
        _ = info.no_such_key
    common = dict(
        name="t",
        input_shape=(3, 1),
        input_dtype="float32",
        target_shape=(1,),
        target_dtype="float32",
        loss="mse",
        metrics=["mse"],
        batch_size=1,
        sizes={},
        steps={},
        seed=0,
    )
    with pytest.raises(ValueError, match="output_kind='ranking'"):
        tasks.TaskInfo(output_kind="ranking", num_classes=None, **common)
    with pytest.raises(ValueError, match="num_classes=None"):
        tasks.TaskInfo(output_kind="classification", num_classes=None, **common)
