"""Shared pieces of the task pipelines: the `TaskData` record, argument checks, throughput."""

import socket
import time
import urllib.parse
from typing import Any, NamedTuple

import tensorflow as tf

from keras_rnninit._validation import check_int

AUTOTUNE = tf.data.AUTOTUNE
SPLITS = ("train", "validation", "test")


class DatasetUnavailableError(RuntimeError):
    """A data set is not on this machine and cannot be downloaded; the message says what to
    download and where to point the pipeline (`data_dir`, an example's `--data-dir`)."""


def check_reachable(url, what, instructions, timeout=5.0):
    """Raises `DatasetUnavailableError` at once when `url`'s host cannot be reached.

    Downloaders retry for minutes offline (tensorflow-datasets for 200 s and more) and may leave
    partial folders behind; one short connection attempt first fails fast instead.

    Args:
        url: The address a download would fetch.
        what: What the download is, for the message (`"UCF101"`).
        instructions: What the user can do instead (download by hand, which folder to pass).
        timeout: Seconds for the connection attempt. Defaults to `5.0`.
    """
    parts = urllib.parse.urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        socket.create_connection((parts.hostname, port), timeout=timeout).close()
    except OSError as error:
        raise DatasetUnavailableError(
            f"{what} is not on this machine and {parts.hostname} cannot be reached ({error}). "
            f"{instructions}"
        ) from error


class TaskData(NamedTuple):
    """The three splits of a benchmark task and a description of it.

    A named tuple, so both `data.train` and `train, validation, test, info = data` work.

    Attributes:
        train: `tf.data.Dataset` of batched `(inputs, targets)`, shuffled (unless the task keeps
            order on purpose, as the character language model does), prefetched.
        validation: `tf.data.Dataset` of batched `(inputs, targets)` in a fixed order.
        test: `tf.data.Dataset` of batched `(inputs, targets)` in a fixed order.
        info: A `keras_rnninit.tasks.TaskInfo`, a `dict` of plain Python values
            (JSON-serialisable, so it can be stored in a run's config). Keys present for every
            task, also readable as attributes:
            `name`, `input_shape` (one example, no batch axis), `input_dtype`, `target_shape`,
            `target_dtype`, `output_kind` (`"regression"`, `"classification"`,
            `"binary_per_step"`, `"binary"` or `"classification_per_step"`), `num_classes`
            (`None` for regression), `loss` and `metrics` (suggested Keras names, for a model whose
            last layer applies the matching activation: none for regression, sigmoid for
            binary, softmax for classification), `baseline` (what a trivial predictor scores,
            e.g. `{"mse": 1/6}` or `{"accuracy": 0.5}`), `batch_size`, `sizes` (examples per
            split), `steps` (batches per split), `seed`, `reference` (paper).
    """

    train: Any
    validation: Any
    test: Any
    info: dict


def num_batches(size, batch_size, drop_remainder):
    """Number of batches `tf.data.Dataset.batch` makes from `size` examples."""
    return size // batch_size if drop_remainder else -(-size // batch_size)


def steps_per_split(sizes, batch_size):
    """Batches per split for `info["steps"]`: the training split drops its last partial batch
    (one static shape for every compiled step), the evaluation splits keep every example."""
    return {
        split: num_batches(size, batch_size, drop_remainder=split == "train")
        for split, size in sizes.items()
    }


def finish(dataset, *, batch_size, shuffle, seed, shuffle_buffer, drop_remainder, batch_map=None):
    """Shuffles (optionally), batches, maps `batch_map` over whole batches, prefetches.

    Mapping after batching runs one vectorised op per batch instead of one per example.
    """
    if shuffle:
        dataset = dataset.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
    dataset = dataset.batch(batch_size, drop_remainder=drop_remainder)
    if batch_map is not None:
        dataset = dataset.map(batch_map, num_parallel_calls=AUTOTUNE, deterministic=True)
    return dataset.prefetch(AUTOTUNE)


def _count_examples(element):
    leaf = tf.nest.flatten(element)[0]
    shape = getattr(leaf, "shape", None)
    if shape is None or len(shape) == 0:
        return 1
    return int(shape[0])


def measure_throughput(dataset, *, batches=100, warmup_batches=5):
    """Measures how fast a dataset delivers examples (the input pipeline alone, no model).

    Iterates `warmup_batches` batches (filling prefetch buffers and tracing the map functions),
    then times the next `batches` batches. Examples are counted from the leading axis of the first
    tensor of each element, so a batched `(inputs, targets)` dataset counts its batch sizes.
    The dataset is repeated if it is shorter than `warmup_batches + batches`.

    Args:
        dataset: A `tf.data.Dataset` of batched elements (e.g. `TaskData.train`).
        batches: Number of timed batches, `>= 1`. Defaults to `100`.
        warmup_batches: Untimed batches before the timing starts, `>= 0`. Defaults to `5`.

    Returns:
        A `dict` with `examples_per_second`, `batches_per_second`, `seconds` (timed wall-clock
        time), `batches` and `examples` (timed counts).

    Example:

    ```python
    data = keras_rnninit.tasks.adding_problem(timesteps=1000)
    print(keras_rnninit.tasks.measure_throughput(data.train, batches=50))
    ```
    """
    owner = "measure_throughput"
    batches = check_int("batches", batches, minimum=1, owner=owner)
    warmup_batches = check_int("warmup_batches", warmup_batches, minimum=0, owner=owner)
    if not isinstance(dataset, tf.data.Dataset):
        raise ValueError(
            f"{owner} expects `dataset` to be a tf.data.Dataset. Received: dataset={dataset!r}"
        )
    iterator = iter(dataset.repeat())
    for _ in range(warmup_batches):
        next(iterator)
    examples = 0
    start = time.perf_counter()
    for _ in range(batches):
        examples += _count_examples(next(iterator))
    seconds = time.perf_counter() - start
    return {
        "examples_per_second": examples / seconds,
        "batches_per_second": batches / seconds,
        "seconds": seconds,
        "batches": batches,
        "examples": examples,
    }
