"""Pixel-by-pixel MNIST and permuted pixel MNIST, read through TensorFlow Datasets.

The image is fed one pixel per step (784 steps of 1 value) and the class is read at the last
step, the long-range classification benchmark of the IRNN and IndRNN papers. The permuted variant
applies one fixed random permutation to the 784 positions, which destroys the local structure
that makes the plain order easy and spreads the informative pixels across the whole sequence.
"""

import gzip
import os
import struct

import numpy as np
import tensorflow as tf

from keras_rnninit._task_info import TaskInfo
from keras_rnninit._validation import check_int
from keras_rnninit.tasks.common import (
    DatasetUnavailableError,
    TaskData,
    check_reachable,
    finish,
    steps_per_split,
)

NUM_PIXELS = 784
NUM_CLASSES = 10
MNIST_CHANCE_ACCURACY = 0.1
# Where tensorflow-datasets downloads MNIST from (reached only when the files are missing).
_MNIST_URL = "https://storage.googleapis.com/cvdf-datasets/mnist/"

# The four files of the MNIST distribution, as Yann LeCun's site, tensorflow-datasets and
# most mirrors name them; each may be gzip-compressed (".gz") or not.
MNIST_IDX_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
# The single file `keras.datasets.mnist.load_data()` downloads (to ~/.keras/datasets/).
MNIST_NPZ_FILE = "mnist.npz"
# IDX element type codes (the third byte of the magic number) and their NumPy types.
_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path):
    """Reads one IDX file (the MNIST format), gzip-compressed or not, into a NumPy array.

    Args:
        path: Path of the file; a name ending in `.gz` is decompressed.

    Returns:
        A NumPy array with the file's shape and element type (uint8 for MNIST).

    Example:

    ```python
    labels = keras_rnninit.tasks.read_idx("mnist/t10k-labels-idx1-ubyte.gz")
    ```
    """
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _IDX_DTYPES:
        raise ValueError(
            f"read_idx expects an IDX file (magic 0x0000TTNN). Received: path={str(path)!r}, "
            f"first bytes {data[:4].hex() or 'none'}"
        )
    dtype = np.dtype(_IDX_DTYPES[data[2]])
    rank = data[3]
    header = 4 + 4 * rank
    shape = struct.unpack(f">{rank}I", data[4:header])
    expected = header + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(data) != expected:
        raise ValueError(
            f"read_idx: {str(path)!r} declares shape {shape} ({expected} bytes with the header) "
            f"but holds {len(data)} bytes; the file is truncated or corrupt."
        )
    return np.frombuffer(data, dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


def _find_idx(directory, stem):
    for name in (stem, stem + ".gz"):
        path = os.path.join(directory, name)
        if os.path.isfile(path):
            return path
    return None


def has_mnist_files(directory):
    """Whether `directory` holds MNIST as the four IDX files or as Keras' `mnist.npz`."""
    if directory is None or not os.path.isdir(directory):
        return False
    if os.path.isfile(os.path.join(directory, MNIST_NPZ_FILE)):
        return True
    return all(_find_idx(directory, stem) for stem in MNIST_IDX_FILES.values())


def read_mnist(directory):
    """Reads MNIST from files: the four IDX files, or the `mnist.npz` of `keras.datasets`.

    Looks in `directory` for `train-images-idx3-ubyte`, `train-labels-idx1-ubyte`,
    `t10k-images-idx3-ubyte` and `t10k-labels-idx1-ubyte`, each plain or gzip-compressed
    (`.gz`), the names of the original distribution and of tensorflow-datasets' downloads;
    failing that, for `mnist.npz` (what `keras.datasets.mnist.load_data()` keeps in
    `~/.keras/datasets/`). Nothing is downloaded.

    Args:
        directory: The folder holding the files.

    Returns:
        `((x_train, y_train), (x_test, y_test))` as `keras.datasets.mnist.load_data()` returns
        them: uint8 images `(n, 28, 28)` and uint8 labels `(n,)`.

    Example:

    ```python
    (x_train, y_train), (x_test, y_test) = keras_rnninit.tasks.read_mnist("data/mnist")
    ```
    """
    if directory is None or not os.path.isdir(directory):
        raise ValueError(
            f"read_mnist expects an existing directory. Received: directory={directory!r}"
        )
    paths = {key: _find_idx(directory, stem) for key, stem in MNIST_IDX_FILES.items()}
    if all(paths.values()):
        arrays = {key: read_idx(path) for key, path in paths.items()}
    elif os.path.isfile(os.path.join(directory, MNIST_NPZ_FILE)):
        with np.load(os.path.join(directory, MNIST_NPZ_FILE)) as npz:
            arrays = {
                "train_images": npz["x_train"],
                "train_labels": npz["y_train"],
                "test_images": npz["x_test"],
                "test_labels": npz["y_test"],
            }
    else:
        missing = [stem + "[.gz]" for key, stem in MNIST_IDX_FILES.items() if paths[key] is None]
        raise ValueError(
            f"read_mnist found neither the four MNIST IDX files nor {MNIST_NPZ_FILE} in "
            f"{directory!r} (missing: {', '.join(missing)}). Received: directory={directory!r}"
        )
    for split in ("train", "test"):
        images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        if images.ndim != 3 or images.shape[1:] != (28, 28) or labels.shape != images.shape[:1]:
            raise ValueError(
                f"read_mnist expects {split} images (n, 28, 28) and labels (n,). Received: "
                f"images {images.shape}, labels {labels.shape} in {directory!r}"
            )
    return (
        (arrays["train_images"], arrays["train_labels"]),
        (arrays["test_images"], arrays["test_labels"]),
    )


def mnist_permutation(seed):
    """The fixed pixel permutation that `pixel_mnist(permute=True, seed=seed)` uses.

    Args:
        seed: Non-negative integer.

    Returns:
        A NumPy int array with a permutation of `range(784)`: step `t` of a permuted sequence
        shows pixel `permutation[t]` of the row-major flattened image.
    """
    seed = check_int("seed", seed, minimum=0, owner="mnist_permutation")
    return np.random.default_rng(seed).permutation(NUM_PIXELS)


def _check_permutation(permutation):
    array = np.asarray(permutation)
    if array.shape != (NUM_PIXELS,) or not np.array_equal(np.sort(array), np.arange(NUM_PIXELS)):
        raise ValueError(
            "pixel_mnist expects `permutation` to be a permutation of range(784). "
            f"Received: permutation with shape {array.shape}"
        )
    return array.astype(np.int64)


def _split_train(dataset, validation_size):
    """Carves the LAST `validation_size` examples of the (file-ordered) train split off."""
    total = int(dataset.cardinality())
    if total < 0:
        total = int(dataset.reduce(0, lambda count, _: count + 1))
    if not 0 < validation_size < total:
        raise ValueError(
            f"pixel_mnist expects 0 < validation_size < {total} (the size of the train split). "
            f"Received: validation_size={validation_size}"
        )
    train_size = total - validation_size
    return dataset.take(train_size), dataset.skip(train_size), train_size


def _load_tfds_mnist(data_dir, download):
    """`tfds.load("mnist")`, first without downloading; offline, a clear error at once instead
    of minutes of retries and a partial folder in the TFDS data directory."""
    import tensorflow_datasets as tfds  # Imported here: slow, only needed for TFDS data.

    def load(fetch):
        return tfds.load(
            "mnist",
            split=["train", "test"],
            as_supervised=True,
            shuffle_files=False,
            data_dir=data_dir,
            download=fetch,
        )

    try:
        return load(False)
    except Exception as error:  # tfds raises its own (not exported) not-found errors.
        if not download:
            raise
        missing = error
    instructions = (
        "Copy the four MNIST files (train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, "
        "t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz, about 11 MB; or keras' "
        "mnist.npz) into a folder and pass it as data_dir (examples/sequential_mnist.py "
        f"--data-dir DIR). ({type(missing).__name__}: not prepared in data_dir={data_dir!r}.)"
    )
    check_reachable(_MNIST_URL, "MNIST", instructions)
    try:
        return load(True)
    except Exception as error:
        raise DatasetUnavailableError(
            f"Downloading MNIST failed ({error}). {instructions}"
        ) from error


def pixel_mnist(
    *,
    permute=False,
    permutation=None,
    row_by_row=False,
    batch_size=32,
    validation_size=5000,
    shuffle_buffer=10_000,
    seed=0,
    data_dir=None,
    download=True,
):
    """Sequential MNIST: each image as 784 one-pixel steps; classify at the last step.

    Images come from files when `data_dir` holds them (the four IDX files of the MNIST
    distribution, gzip-compressed or not, or the `mnist.npz` of `keras.datasets`; see
    `read_mnist`), else from the TFDS `mnist` dataset (`tfds.load("mnist", data_dir=data_dir)`).
    Pixel values are scaled to [0, 1]. The validation split is the last `validation_size`
    images of the 60 000 training images (in file order, not shuffled), the training split the
    rest, the test split the 10 000 test images. With `permute=True` (permuted pixel MNIST) the
    784 positions are reordered by one fixed permutation, drawn from `seed` unless
    `permutation` is given; it is returned as `info["permutation"]` so a run can store it and a
    later run reuse it.
    With `row_by_row=True` the image is fed as 28 steps of 28 pixels instead (a shorter, easier
    variant for quick checks).

    Chance level: 10 % accuracy (10 balanced classes). Published errors (IndRNN Table 1): IRNN
    5.0 % / 18 % (pixel / permuted), LSTM 1.8 % / 12 %, 6-layer IndRNN 1.0 % / 4.0 %.

    Note: without the files, `tfds.load` downloads MNIST into `data_dir` (default
    `~/tensorflow_datasets`) on first use; without network access point `data_dir` at a folder
    with the four IDX files.

    Args:
        permute: Apply a fixed random permutation to the pixel order. Defaults to `False`.
        permutation: Explicit permutation of `range(784)` (e.g. `info["permutation"]` of an
            earlier run); implies `permute=True`. Defaults to `None` (drawn from `seed`).
        row_by_row: Feed 28 rows of 28 pixels instead of 784 pixels. Defaults to `False`.
        batch_size: Examples per batch, `>= 1`. Defaults to `32`.
        validation_size: Images carved from the end of the TFDS train split. Defaults to `5000`.
        shuffle_buffer: Shuffle buffer of the training split, `>= 1`. Defaults to `10_000`.
        seed: Non-negative integer for the permutation and the shuffle. Defaults to `0`.
        data_dir: A directory with the MNIST files (read offline), or a TFDS data directory.
            Defaults to `None` (TFDS's default).
        download: Let TFDS download and prepare the data if missing (unused when `data_dir`
            holds the files). Defaults to `True`.

    Returns:
        A `keras_rnninit.tasks.TaskData`; batches are `(inputs (B, 784, 1) float32,
        labels (B,) int32)`, or inputs `(B, 28, 28)` with `row_by_row=True`. The training split
        drops its last partial batch.

    Example:

    ```python
    data = keras_rnninit.tasks.pixel_mnist(permute=True, seed=1)
    config = {"permutation": data.info["permutation"]}  # store with the run
    ```

    Reference:
        - [Le et al., 2015 (IRNN)](https://arxiv.org/abs/1504.00941)
        - [Li et al., 2018 (IndRNN)](https://arxiv.org/abs/1803.04831)
    """
    owner = "pixel_mnist"
    batch_size = check_int("batch_size", batch_size, minimum=1, owner=owner)
    validation_size = check_int("validation_size", validation_size, minimum=1, owner=owner)
    shuffle_buffer = check_int("shuffle_buffer", shuffle_buffer, minimum=1, owner=owner)
    seed = check_int("seed", seed, minimum=0, owner=owner)
    for name, value in (("permute", permute), ("row_by_row", row_by_row), ("download", download)):
        if not isinstance(value, bool):
            raise ValueError(f"{owner} expects `{name}` to be a bool. Received: {name}={value!r}")
    if permutation is not None:
        permutation = _check_permutation(permutation)
        permute = True
    elif permute:
        permutation = mnist_permutation(seed)

    if has_mnist_files(data_dir):
        (train_images, train_labels), (test_images, test_labels) = read_mnist(data_dir)
        full_train = tf.data.Dataset.from_tensor_slices((train_images, train_labels))
        test = tf.data.Dataset.from_tensor_slices((test_images, test_labels))
        source = "files"
    else:
        full_train, test = _load_tfds_mnist(data_dir, download)
        source = "tensorflow_datasets"
    train, validation, train_size = _split_train(full_train, validation_size)
    test_size = int(test.cardinality())

    gather_index = None if permutation is None else tf.constant(permutation, dtype=tf.int64)
    sequence_shape = (28, 28) if row_by_row else (NUM_PIXELS, 1)

    def to_sequences(images, labels):
        # One vectorised op per batch: flatten, scale, permute, reshape.
        pixels = tf.reshape(tf.cast(images, tf.float32) / 255.0, [-1, NUM_PIXELS])
        if gather_index is not None:
            pixels = tf.gather(pixels, gather_index, axis=1)
        return tf.reshape(pixels, (-1, *sequence_shape)), tf.cast(labels, tf.int32)

    def build(dataset, training):
        # Cache the decoded uint8 images (47 MB for the whole train split) so later epochs skip
        # decoding; the float conversion happens per batch after shuffling.
        return finish(
            dataset.cache(),
            batch_size=batch_size,
            shuffle=training,
            seed=seed,
            shuffle_buffer=shuffle_buffer,
            drop_remainder=training,
            batch_map=to_sequences,
        )

    sizes = {"train": train_size, "validation": validation_size, "test": test_size}
    info = {
        "name": "permuted_pixel_mnist" if permute else "pixel_mnist",
        "input_shape": sequence_shape,
        "input_dtype": "float32",
        "target_shape": (),
        "target_dtype": "int32",
        "output_kind": "classification",
        "num_classes": NUM_CLASSES,
        "loss": "sparse_categorical_crossentropy",
        "metrics": ["sparse_categorical_accuracy"],
        "baseline": {"accuracy": MNIST_CHANCE_ACCURACY},
        "timesteps": sequence_shape[0],
        "row_by_row": row_by_row,
        "permutation": None if permutation is None else permutation.tolist(),
        "batch_size": batch_size,
        "sizes": sizes,
        "steps": steps_per_split(sizes, batch_size),
        "seed": seed,
        "source": source,
        "reference": "Le et al. 2015 (IRNN), Li et al. 2018 (IndRNN): pixel MNIST",
    }
    return TaskData(
        build(train, True), build(validation, False), build(test, False), TaskInfo(**info)
    )


def permuted_pixel_mnist(**kwargs):
    """Permuted pixel MNIST: `pixel_mnist(permute=True, **kwargs)`.

    One fixed random permutation of the 784 pixel positions (drawn from `seed`, or given as
    `permutation`) is applied to every image; it is returned as `info["permutation"]`.
    Chance level: 10 % accuracy.

    Args:
        **kwargs: Keyword arguments of `pixel_mnist` (all but `permute`).

    Returns:
        A `keras_rnninit.tasks.TaskData`, as `pixel_mnist`.

    Example:

    ```python
    data = keras_rnninit.tasks.permuted_pixel_mnist(seed=1)
    ```

    Reference:
        - [Le et al., 2015 (IRNN)](https://arxiv.org/abs/1504.00941)
    """
    if "permute" in kwargs:
        raise ValueError(
            "permuted_pixel_mnist always permutes; call pixel_mnist to choose. "
            f"Received: permute={kwargs['permute']!r}"
        )
    return pixel_mnist(permute=True, **kwargs)
