"""Every example script end to end with --quick, on data the tests make (no network)."""

import csv
import importlib.util
import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
from helpers import NO_XLA_ON_TF

import keras_rnninit

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = os.path.join(ROOT, "examples")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def load_example(name):
    spec = importlib.util.spec_from_file_location(
        f"example_{name}", os.path.join(EXAMPLES, f"{name}.py")
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def check_outputs(output_dir, epochs, test_metrics):
    """The files every example writes exist and hold what they should."""
    with open(os.path.join(output_dir, "history.csv"), newline="") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["epoch"]) for r in rows] == list(range(epochs))
    assert all(np.isfinite(float(r["loss"])) and np.isfinite(float(r["val_loss"])) for r in rows)
    with open(os.path.join(output_dir, "metrics.json")) as f:
        metrics = json.load(f)
    assert metrics["epochs_completed"] == epochs
    for name in test_metrics:
        assert np.isfinite(metrics["test"][name]), (name, metrics["test"])
    with open(os.path.join(output_dir, "config.json")) as f:
        config = json.load(f)
    assert config["arguments"]["quick"] is True and "task" in config
    with open(os.path.join(output_dir, "learning_curve.png"), "rb") as f:
        assert f.read(8) == PNG_MAGIC
    assert os.path.exists(os.path.join(output_dir, "model.keras"))
    return metrics, config


@pytest.mark.parametrize(
    "name, model, test_metrics",
    [
        ("multiplication_problem", "np_rnn", ["loss"]),
        pytest.param("parity", "indrnn", ["binary_accuracy"], marks=pytest.mark.slow),
        ("parity", "lstm", ["binary_accuracy"]),
    ],
)
def test_synthetic_examples_quick(name, model, test_metrics, tmp_path):
    check_synthetic_quick_run(name, model, test_metrics, tmp_path)


def check_synthetic_quick_run(name, model, test_metrics, output_dir, extra=(), main=None):
    """Runs a synthetic-task example with --quick and checks its files and its returned metrics.

    `main`: the example's `main` to call (e.g. with callbacks bound); defaults to the script's.
    """
    main = main or load_example(name).main
    results = main(["--quick", "--model", model, *extra, "--output-dir", str(output_dir)])
    metrics, config = check_outputs(str(output_dir), 2, test_metrics)
    assert metrics == json.loads(json.dumps(results))
    assert config["arguments"]["model"] == model and config["task"]["timesteps"] > 0


def test_adding_problem_resumes_after_an_interruption(tmp_path):
    example = load_example("adding_problem")
    argv = ["--quick", "--epochs", "3", "--output-dir", str(tmp_path), *NO_XLA_ON_TF]

    class Interrupt(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 0:
                raise KeyboardInterrupt("simulated interruption")

    with pytest.raises(KeyboardInterrupt):
        example.main(argv, callbacks=[Interrupt()])
    started = []

    class Record(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            started.append(epoch)

    results = example.main(argv, callbacks=[Record()])
    assert started == [1, 2]
    assert results["epochs_run_this_session"] == 2
    check_outputs(str(tmp_path), 3, ["loss"])


@pytest.mark.parametrize("flags", [["--permuted"], pytest.param([], marks=pytest.mark.slow)])
def test_sequential_mnist_quick_on_mock_data(flags, tmp_path):
    tfds = pytest.importorskip("tensorflow_datasets")
    with tfds.testing.mock_data(num_examples=40):
        load_example("sequential_mnist").main(
            [
                "--quick",
                "--model",
                "irnn",
                "--output-dir",
                str(tmp_path / "run"),
                "--data-dir",
                str(tmp_path / "tfds"),
                *flags,
            ]
        )
    metrics, config = check_outputs(str(tmp_path / "run"), 2, ["sparse_categorical_accuracy"])
    assert config["task"]["input_shape"] == [28, 28]  # --quick reads rows
    permutation = config["task"]["permutation"]
    if flags:
        assert sorted(permutation) == list(range(784))
    else:
        assert permutation is None


def _write_ptb_files(folder):
    rng = np.random.default_rng(0)
    letters = list("abcdefghij")
    folder.mkdir(parents=True)
    for split, lines in (("train", 80), ("valid", 20), ("test", 20)):
        text = []
        for _ in range(lines):
            words = ["".join(rng.choice(letters, size=rng.integers(1, 6))) for _ in range(5)]
            text.append(" _ ".join(" ".join(word) for word in words))
        (folder / f"ptb.char.{split}.txt").write_text("\n".join(text) + "\n")


@pytest.mark.parametrize("model", ["indrnn", pytest.param("tanh_rnn", marks=pytest.mark.slow)])
def test_char_language_model_quick_on_generated_files(model, tmp_path):
    _write_ptb_files(tmp_path / "ptb")
    results = load_example("char_language_model").main(
        [
            "--quick",
            "--model",
            model,
            "--data-dir",
            str(tmp_path / "ptb"),
            "--output-dir",
            str(tmp_path / "run"),
        ]
    )
    metrics, config = check_outputs(str(tmp_path / "run"), 2, ["bits_per_character"])
    # Bits per character is the cross-entropy in nats over ln 2.
    np.testing.assert_allclose(
        metrics["test"]["bits_per_character"],
        metrics["test"]["sparse_categorical_crossentropy"] / np.log(2),
        rtol=1e-6,
    )
    assert set(config["vocabulary"]) <= set("abcdefghij_\n")
    assert config["task"]["vocabulary_size"] == len(config["vocabulary"])
    assert results["test"]["bits_per_character"] > 0


def _write_ntu_files(folder):
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True)
    for performer in (1, 2, 3):  # 1 and 2 are cross-subject training subjects, 3 is not
        for camera in (1, 2):
            for action in (1, 2, 3):
                joints = rng.normal(size=(int(rng.integers(6, 15)), 2, 25, 3)).astype("float32")
                np.save(folder / f"S001C{camera:03d}P{performer:03d}R001A{action:03d}.npy", joints)


@pytest.mark.parametrize("model", ["indrnn", pytest.param("np_rnn", marks=pytest.mark.slow)])
def test_action_recognition_ntu_quick_on_generated_files(model, tmp_path):
    _write_ntu_files(tmp_path / "ntu")
    load_example("action_recognition").main(
        [
            "--quick",
            "--dataset",
            "ntu",
            "--model",
            model,
            "--data-dir",
            str(tmp_path / "ntu"),
            "--output-dir",
            str(tmp_path / "run"),
        ]
    )
    metrics, config = check_outputs(str(tmp_path / "run"), 2, ["sparse_categorical_accuracy"])
    assert config["task"]["input_shape"] == [4, 150]
    assert metrics["chance_accuracy"] == pytest.approx(1 / 60)


def test_action_recognition_ucf101_quick_on_mock_data(tmp_path):
    tfds = pytest.importorskip("tensorflow_datasets")
    cnn = keras.Sequential(
        [
            keras.Input((32, 32, 3)),
            keras.layers.Conv2D(4, 3, strides=4),
            keras.layers.GlobalAveragePooling2D(),
        ],
        name="tiny_cnn",
    )
    with tfds.testing.mock_data(num_examples=4):
        load_example("action_recognition").main(
            [
                "--quick",
                "--dataset",
                "ucf101",
                "--model",
                "np_rnn",
                "--image-size",
                "32",
                "--batch-size",
                "1",
                "--data-dir",
                str(tmp_path / "tfds"),
                "--output-dir",
                str(tmp_path / "run"),
            ],
            feature_extractor=cnn,
        )
    metrics, config = check_outputs(str(tmp_path / "run"), 2, ["sparse_categorical_accuracy"])
    assert config["task"]["input_shape"] == [4, 4] and config["task"]["num_classes"] == 101


def test_examples_are_keras_io_sized_and_documented():
    for name in (
        "adding_problem",
        "multiplication_problem",
        "parity",
        "sequential_mnist",
        "char_language_model",
        "action_recognition",
    ):
        with open(os.path.join(EXAMPLES, f"{name}.py")) as f:
            source = f.read()
        assert len(source.splitlines()) < 300, name
        header = source.split('"""')[1]
        assert "Title:" in header and "Reproduces:" in header and "--quick" in header, name
        assert f"python examples/{name}.py" in header, name
        assert source.index('os.environ.setdefault("KERAS_BACKEND"') < source.index(
            "from keras_rnninit"
        )


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="tf.distribute needs TF")
def test_multiplication_problem_mirrored_on_two_logical_cpus(tmp_path):
    source = f"""
import sys, runpy
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
sys.argv = ["multiplication_problem.py", "--quick", "--distribute", "mirrored",
            "--output-dir", {str(tmp_path)!r}]
runpy.run_path({os.path.join(EXAMPLES, "multiplication_problem.py")!r}, run_name="__main__")
"""
    env = dict(os.environ, KERAS_BACKEND="tensorflow", TF_CPP_MIN_LOG_LEVEL="3")
    env["PYTHONPATH"] = os.pathsep.join([ROOT, env.get("PYTHONPATH", "")])
    done = subprocess.run(
        [sys.executable, "-c", source],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        cwd=str(tmp_path),
    )
    assert done.returncode == 0, done.stderr[-3000:]
    metrics, config = check_outputs(str(tmp_path), 2, ["loss"])
    assert config["arguments"]["distribute"] == "mirrored" and config["arguments"]["jit"] is False


def test_mirrored_is_a_clear_error_off_tensorflow(tmp_path):
    if keras.backend.backend() == "tensorflow":
        pytest.skip("only other backends refuse tf.distribute")
    with pytest.raises(ValueError, match="KERAS_BACKEND=tensorflow"):
        load_example("parity").main(
            [
                "--quick",
                "--model",
                "lstm",
                "--distribute",
                "mirrored",
                "--output-dir",
                str(tmp_path),
            ]
        )


@pytest.mark.parametrize("name", ["adding_problem", "multiplication_problem"])
def test_a_diverged_run_ends_with_a_message_and_its_files(name, tmp_path, capsys):
    """Issue 9, item 8: --learning-rate 1e9 ended in `TypeError: unsupported format string
    passed to NoneType.__format__`."""
    results = load_example(name).main(
        ["--quick", "--learning-rate", "1e9", "--output-dir", str(tmp_path), *NO_XLA_ON_TF]
    )
    assert results["test"]["loss"] is None
    out, err = capsys.readouterr()
    assert "test MSE nan (diverged)" in out and "The run diverged" in err
    for file in ("config.json", "metrics.json", "history.csv"):
        assert os.path.exists(tmp_path / file)


def _offline(monkeypatch):
    """No network: every connection attempt fails at once (as on a machine without one)."""
    import socket

    def refuse(*args, **kwargs):
        raise OSError("Network is unreachable")

    monkeypatch.setattr(socket, "create_connection", refuse)


def test_sequential_mnist_offline_says_what_to_download(tmp_path, monkeypatch, capsys):
    """Issue 9, item 10: offline, --quick retried downloads for 215 s and left partial folders."""
    _offline(monkeypatch)
    data_dir = tmp_path / "tfds"
    with pytest.raises(SystemExit) as error:
        load_example("sequential_mnist").main(
            ["--quick", "--data-dir", str(data_dir), "--output-dir", str(tmp_path / "run")]
        )
    assert error.value.code == 2
    message = capsys.readouterr().err
    assert "train-images-idx3-ubyte.gz" in message and "--data-dir DIR" in message
    assert not (data_dir / "mnist").exists()


def test_sequential_mnist_quick_from_idx_files(tmp_path, write_mnist_files):
    data_dir = tmp_path / "mnist"
    data_dir.mkdir()
    write_mnist_files(data_dir)
    results = load_example("sequential_mnist").main(
        ["--quick", "--data-dir", str(data_dir), "--output-dir", str(tmp_path / "run")]
    )
    metrics, config = check_outputs(str(tmp_path / "run"), 2, ["sparse_categorical_accuracy"])
    assert config["task"]["source"] == "files" and config["task"]["input_shape"] == [28, 28]
    assert metrics == json.loads(json.dumps(results))


def test_char_language_model_offline_says_what_to_download(tmp_path, monkeypatch, capsys):
    """Issue 9, item 10: without --data-dir and offline it ended in a raw download traceback."""
    _offline(monkeypatch)
    with pytest.raises(SystemExit) as error:
        load_example("char_language_model").main(["--quick", "--output-dir", str(tmp_path)])
    assert error.value.code == 2
    message = capsys.readouterr().err
    assert "simple-examples.tgz" in message and "--data-dir simple-examples/data" in message


def test_action_recognition_ucf101_offline_says_what_to_download(tmp_path, monkeypatch, capsys):
    _offline(monkeypatch)
    pytest.importorskip("tensorflow")

    tiny = keras.Sequential([keras.Input((32, 32, 3)), keras.layers.GlobalAveragePooling2D()])
    with pytest.raises(SystemExit) as error:
        load_example("action_recognition").main(
            [
                "--quick",
                "--dataset",
                "ucf101",
                "--image-size",
                "32",
                "--data-dir",
                str(tmp_path / "tfds"),
                "--output-dir",
                str(tmp_path / "run"),
            ],
            feature_extractor=tiny,
        )
    assert error.value.code == 2
    message = capsys.readouterr().err
    assert "UCF101" in message and "--dataset ucf101 --data-dir DIR" in message
    assert not (tmp_path / "tfds" / "ucf101").exists()  # no partial folder left behind


@pytest.mark.parametrize(
    "name,argv,flag",
    [
        ("char_language_model", ["--embedding-dim", "0"], "--embedding-dim"),
        ("action_recognition", ["--dropout", "1.5"], "--dropout"),
        ("action_recognition", ["--image-size", "-3"], "--image-size"),
        ("gradient_flow_plot", ["--timesteps", "-5"], "--timesteps"),
        ("sequential_mnist", ["--gamma", "0.5"], "--gamma"),
        ("sequential_mnist", ["--dropout", "1"], "--dropout"),
        ("sequential_mnist", ["--weight-decay", "-1"], "--weight-decay"),
        ("sequential_mnist", ["--validation-size", "0"], "--validation-size"),
        ("compare_models", ["--epochs", "0"], "--epochs"),
        ("compare_models", ["--models", "nonexistent"], "--models"),
    ],
)
def test_example_specific_flags_are_validated(name, argv, flag, capsys):
    with pytest.raises(SystemExit) as error:
        load_example(name).main(argv)
    assert error.value.code == 2 and f"argument {flag}" in capsys.readouterr().err


def test_sequential_mnist_refuses_timesteps(capsys):
    # The length is the image's (784 pixels or 28 rows): the flag is refused, not ignored.
    with pytest.raises(SystemExit) as error:
        load_example("sequential_mnist").main(["--timesteps", "5"])
    assert error.value.code == 2 and "--timesteps" in capsys.readouterr().err


def test_adding_problem_quick_input_stddev_and_tensorboard(tmp_path, read_tensorboard, capsys):
    """One adding-problem run (--quick --input-stddev 0.05 --tensorboard, with a
    GradientFlowMonitor) for what were three separate runs, each building and tracing a model:

    - the adding problem's row of test_synthetic_examples_quick (the files and the returned
      metrics);
    - --input-stddev reaches the IndRNN input weights (formerly
      test_adding_problem_quick_and_its_input_stddev_reaches_the_input_weights), and a family
      without input weights refuses it;
    - --tensorboard: Keras' TensorBoard logs in OUTPUT_DIR/tensorboard/, with a monitor's
      grad_* scalars (it sits before TensorBoard) and its per-step figure as an image (formerly
      test_adding_problem_quick_with_tensorboard_writes_what_tensorboard_reads).

    The flags do not touch what the others check: --input-stddev only sets the IndRNN kernel
    initializer (saved in model.keras); --tensorboard and the monitor only add callbacks that
    read the model (the monitor restores weights only after a non-finite gradient, which would
    stop the run and fail the epoch checks) and write under OUTPUT_DIR/tensorboard/.
    """
    rng = np.random.default_rng(0)
    x = np.stack([rng.uniform(size=(8, 20)), np.zeros((8, 20))], axis=-1).astype("float32")
    monitor = keras_rnninit.GradientFlowMonitor(data=(x, np.ones((8, 1), "float32")))
    example = load_example("adding_problem")
    # check_synthetic_quick_run also runs check_outputs(tmp_path, 2, ["loss"]).
    check_synthetic_quick_run(
        "adding_problem",
        "indrnn",
        ["loss"],
        tmp_path,
        extra=["--input-stddev", "0.05", "--tensorboard"],
        main=lambda argv: example.main(argv, callbacks=[monitor]),
    )

    # --input-stddev reaches the input weights.
    model = keras.saving.load_model(str(tmp_path / "model.keras"))
    stddevs = [
        layer.cell.kernel_initializer.stddev
        for layer in model.layers
        if isinstance(layer, keras_rnninit.IndRNN)
    ]
    assert stddevs == [0.05, 0.05]

    # --tensorboard writes what TensorBoard reads.
    log_dir = tmp_path / "tensorboard"
    assert f"tensorboard --logdir {log_dir}" in capsys.readouterr().out
    train = read_tensorboard(log_dir / "train")
    first_layer = next(iter(monitor.records[-1]["timestep_norms"]))
    for tag in (
        "epoch_loss",
        "epoch_learning_rate",
        "epoch_grad_norm",
        f"epoch_grad_reach/{first_layer}",
    ):
        assert train[tag]["plugin"] == "scalars" and train[tag]["steps"] == [0, 1], tag
    with open(tmp_path / "history.csv", newline="") as f:
        losses = [float(row["loss"]) for row in csv.DictReader(f)]
    np.testing.assert_allclose(train["epoch_loss"]["values"], losses, rtol=1e-5)
    validation = read_tensorboard(log_dir / "validation")
    assert validation["epoch_loss"]["steps"] == [0, 1]
    images = read_tensorboard(log_dir / "gradient_flow")["gradient_flow"]
    assert images["plugin"] == "images" and images["steps"] == [0, 1]
    assert all(png.startswith(PNG_MAGIC) for _, _, png in images["values"])

    # A family without input weights refuses --input-stddev (a usage error before any build).
    with pytest.raises(SystemExit):
        example.main(
            ["--quick", "--model", "lstm", "--input-stddev", "0.05", "--output-dir", str(tmp_path)]
        )
    assert "argument --input-stddev: not an option of --model lstm" in capsys.readouterr().err


@pytest.mark.parametrize(
    "name, argv, runs",
    [
        (
            "gradient_flow_plot",
            ["--quick", "--timesteps", "12", "--units", "4"],
            {"tanh_rnn": True, "irnn": True},
        ),
        pytest.param(
            "quickstart", ["--quick"], {"np_rnn": False, "irnn": False}, marks=pytest.mark.slow
        ),
    ],
)
def test_scripts_outside_the_harness_take_tensorboard(name, argv, runs, tmp_path, read_tensorboard):
    """One TensorBoard run per model; gradient_flow_plot's monitor adds its figure."""
    extra = ["--output", str(tmp_path / "flow.png")] if name == "gradient_flow_plot" else []
    load_example(name).main([*argv, *extra, "--tensorboard", "--output-dir", str(tmp_path)])
    assert sorted(os.listdir(tmp_path / "tensorboard")) == sorted(runs)
    for run, monitored in runs.items():
        train = read_tensorboard(tmp_path / "tensorboard" / run / "train")
        assert train["epoch_loss"]["plugin"] == "scalars"
        assert ("epoch_grad_norm" in train) == monitored
        if monitored:
            images = read_tensorboard(tmp_path / "tensorboard" / run / "gradient_flow")
            assert images["gradient_flow"]["steps"] == [0, 1]


@pytest.mark.parametrize("name", sorted(f[:-3] for f in os.listdir(EXAMPLES) if f.endswith(".py")))
def test_example_docstring_keeps_shell_line_continuations(name):
    """A command split with a trailing backslash in the docstring prints as the user must type it.

    In a plain (non-raw) docstring Python reads backslash-newline as a line continuation and
    joins the two lines, so `--help` would show a broken command.
    """
    import ast

    with open(os.path.join(EXAMPLES, f"{name}.py")) as f:
        source = f.read()
    tree = ast.parse(source)
    node = tree.body[0]
    assert isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant), name
    segment = ast.get_source_segment(source, node)
    continued = sum(line.endswith("\\") for line in segment.splitlines())
    assert node.value.value.count("\\\n") == continued, name


@pytest.mark.parametrize(
    "model, layers", [("bn_indrnn", 6), ("indrnn", 6), ("lstm", None), ("irnn", None)]
)
def test_sequential_mnist_depth_is_the_recipe_for_indrnn_and_the_family_default_for_baselines(
    model, layers, tmp_path, monkeypatch
):
    """A baseline (`--model lstm`) once inherited the IndRNN recipe's six layers silently."""
    tfds = pytest.importorskip("tensorflow_datasets")
    module = load_example("sequential_mnist")
    seen = []

    class Built(Exception):
        pass

    def record(args, info, **extra):
        seen.append(args.layers)
        raise Built

    monkeypatch.setattr(module.experiment, "model_builder", record)
    with tfds.testing.mock_data(num_examples=40), pytest.raises(Built):
        module.main(
            [
                "--model",
                model,
                "--validation-size",
                "8",
                "--row-by-row",
                "--output-dir",
                str(tmp_path / "run"),
                "--data-dir",
                str(tmp_path / "tfds"),
            ]
        )
    assert seen == [layers]
