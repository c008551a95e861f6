"""Shared test helpers. The backend is chosen by KERAS_BACKEND, as Keras reads it."""

import os
import shutil
import subprocess
import sys
import tempfile
import textwrap

# Under pytest-xdist each worker already has a core of its own: one compute thread per worker
# (set before the backend is imported; a value set by hand wins) instead of every worker's
# thread pool spanning every core.
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ.setdefault("TF_NUM_INTRAOP_THREADS", "1")
    os.environ.setdefault(
        "XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
    )

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402


def _iterate_datasets_without_autotuning():
    """Every tf.data iterator the tests make (the package's pipelines, Keras' adapters for NumPy
    inputs, on both backends) runs with `autotune.enabled = False`.

    Why: a `fit` that ends in an exception (NaN stops, interruptions, GradientFlowError: many
    tests do it on purpose) leaves its iterator in a reference cycle with the traceback, so the
    garbage collector frees it later, in whatever test is running then. Freeing an autotuned
    iterator then waited, with the process idle, for seconds to tens of seconds (a gen-2
    collection measured at 13.9, 17.9 and 20.5 s of wall time with 0.45-0.5 s of CPU, over 50 s a
    worker in tests/test_callbacks.py, test_indrnn.py and test_experiment.py on TensorFlow); with
    autotuning off the longest gen-2 collection in the same files was 0.63 s and the three files
    ran in 117 s instead of 157 s. Autotuning only picks buffer sizes and
    parallelism; what a pipeline yields does not depend on it, and the tests check values.
    """
    try:
        import tensorflow as tf
    except ImportError:  # a JAX-only environment: no tf.data iterators
        return
    options = tf.data.Options()
    options.autotune.enabled = False
    iterate = tf.data.Dataset.__iter__

    def iterate_without_autotuning(dataset):
        if dataset.options().autotune.enabled is not False:
            dataset = dataset.with_options(options)
        return iterate(dataset)

    tf.data.Dataset.__iter__ = iterate_without_autotuning


_iterate_datasets_without_autotuning()


def pytest_configure(config):
    """On JAX, one persistent compilation cache for the run, shared by its workers and by the
    fresh interpreters that tests start.

    Many tests build the same small model at the same shapes (a helper such as
    `_monitored_model()` in several tests); each is a new Python function for `jax.jit`, so it
    traced and XLA-compiled the same program again. The cache keys programs by their HLO, so a
    repeat is read back instead of compiled (the compiled program is the same one; nothing is
    skipped but the compiler). Measured on tests/test_callbacks.py, test_models.py and
    test_blocks.py, 2 workers: 130 s without, 105 s with. A fresh folder
    for every run: the run folder pytest-xdist gives its workers, or a temporary folder with
    `-n 0`, removed at the end.
    """
    if keras.backend.backend() != "jax":
        return
    import jax

    if os.environ.get("PYTEST_XDIST_WORKER") and config.option.basetemp:
        # pytest-xdist sets each worker's basetemp to <run folder>/popen-<worker>.
        folder = os.path.join(
            os.path.dirname(os.path.abspath(config.option.basetemp)), "jax_compilation_cache"
        )
    else:
        folder = tempfile.mkdtemp(prefix="keras_rnninit-jax-cache-")
        config.add_cleanup(lambda: shutil.rmtree(folder, ignore_errors=True))
    settings = {
        "jax_compilation_cache_dir": folder,
        "jax_persistent_cache_min_compile_time_secs": 0.0,
        "jax_persistent_cache_min_entry_size_bytes": 0,
    }
    for name, value in settings.items():
        jax.config.update(name, value)
        # The same cache for the fresh interpreters that tests start (JAX reads its settings
        # from upper-case environment variables): the every-object model loaded in a new
        # process compiles the programs its parent has just compiled.
        os.environ[name.upper()] = str(value)


@pytest.fixture(autouse=True)
def _seed_everything():
    keras.utils.set_random_seed(1234)
    yield
    # Keras' global state (layer-name counters, the TF graph) is reset after every test so that
    # none leaks into the next; the full `gc.collect()` that `clear_session()` runs by default
    # took 0.4-0.8 s a test and frees nothing a later test reads: Python's own collector runs
    # as usual.
    keras.backend.clear_session(free_memory=False)


@pytest.fixture
def run_in_fresh_process():
    """Runs Python source in a new interpreter (same backend) and returns its stdout."""

    def run(source, **environment):
        env = dict(os.environ, KERAS_BACKEND=keras.backend.backend(), **environment)
        env["TF_CPP_MIN_LOG_LEVEL"] = "3"
        result = subprocess.run(
            [sys.executable, "-c", textwrap.dedent(source)],
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
        )
        if result.returncode != 0:
            raise AssertionError(
                f"fresh process failed ({result.returncode}):\n{result.stderr[-4000:]}"
            )
        return result.stdout

    return run


def _write_idx(path, array, compress):
    """Writes a uint8 array in the IDX format, as the MNIST distribution stores it."""
    import gzip
    import struct

    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    opener = gzip.open if compress else open
    with opener(str(path) + (".gz" if compress else ""), "wb") as f:
        f.write(header + array.tobytes())


@pytest.fixture
def write_mnist_files():
    """Writes a small random MNIST (40 training, 12 test images) into a directory.

    `form` is `"idx_gz"` (the four gzip-compressed IDX files), `"idx"` (uncompressed) or
    `"npz"` (keras.datasets' mnist.npz). Returns the arrays `(x_train, y_train, x_test,
    y_test)`.
    """

    def write(directory, form="idx_gz", train=40, test=12, seed=0):
        rng = np.random.default_rng(seed)
        arrays = (
            rng.integers(0, 256, (train, 28, 28), dtype=np.uint8),
            rng.integers(0, 10, train, dtype=np.uint8),
            rng.integers(0, 256, (test, 28, 28), dtype=np.uint8),
            rng.integers(0, 10, test, dtype=np.uint8),
        )
        if form == "npz":
            np.savez(
                os.path.join(directory, "mnist.npz"),
                x_train=arrays[0],
                y_train=arrays[1],
                x_test=arrays[2],
                y_test=arrays[3],
            )
            return arrays
        names = (
            "train-images-idx3-ubyte",
            "train-labels-idx1-ubyte",
            "t10k-images-idx3-ubyte",
            "t10k-labels-idx1-ubyte",
        )
        for name, array in zip(names, arrays):
            _write_idx(os.path.join(directory, name), array, compress=form == "idx_gz")
        return arrays

    return write


@pytest.fixture
def read_tensorboard():
    """Reads a TensorBoard run folder with tensorboard's own reader.

    Returns `{tag: {"plugin": name, "steps": [...], "values": [...]}}`: scalars' values as
    floats, images' as `(width, height, png bytes)`. Fails when the folder holds no event file.
    """
    accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")
    from tensorboard.util import tensor_util

    def read(folder):
        folder = str(folder)
        assert any(name.startswith("events.out.tfevents") for name in os.listdir(folder)), folder
        events = accumulator.EventAccumulator(folder, size_guidance={accumulator.TENSORS: 0})
        events.Reload()
        found = {}
        for tag in events.Tags()["tensors"]:
            plugin = events.SummaryMetadata(tag).plugin_data.plugin_name
            values = []
            for event in events.Tensors(tag):
                proto = event.tensor_proto
                if plugin == "images":
                    width, height, png = proto.string_val[:3]
                    values.append((int(width), int(height), png))
                elif plugin == "scalars":
                    values.append(float(tensor_util.make_ndarray(proto)))
            found[tag] = {
                "plugin": plugin,
                "steps": [e.step for e in events.Tensors(tag)],
                "values": values,
            }
        return found

    return read


def pytest_runtest_setup(item):
    """Skips the tests marked `backend_independent` outside the TensorFlow run, and under
    `--dist loadgroup` fails every test marked `xdist_group` that pytest-xdist has not grouped
    (a worker marks grouped tests by appending `@group` to their node id).

    `backend_independent` tests check code that reads no Keras backend (the task pipelines'
    contents: pure tf.data and NumPy): another backend's run would repeat the same computation,
    and the README's test command runs the TensorFlow run too.

    pytest 9.2 with pytest-xdist 3.8 lost the groups without a word (pytest-dev/pytest-xdist#1386):
    the wheel tests built in the checkout on two workers at once, the scan tests compiled twice.
    """
    if (
        item.get_closest_marker("backend_independent") is not None
        and keras.backend.backend() != "tensorflow"
    ):
        pytest.skip("backend-independent (pure tf.data or NumPy): checked in the TensorFlow run")
    if (
        getattr(item.config.option, "loadgroup", False)
        and item.get_closest_marker("xdist_group") is not None
        and "@" not in item.nodeid
    ):
        pytest.fail(
            "pytest-xdist did not group this test, which is marked xdist_group: this pytest / "
            "pytest-xdist pair loses --dist loadgroup (pytest-dev/pytest-xdist#1386); see the "
            "pytest pin in pyproject.toml"
        )
