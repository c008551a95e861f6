"""Tests for keras_rnninit.experiment: the CLI, the output files and resumption."""

import csv
import json
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
from helpers import NO_XLA_ON_TF

from keras_rnninit import experiment

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _parser():
    return experiment.make_parser(
        "test",
        defaults={"epochs": 7, "timesteps": 30},
        quick={"epochs": 1, "units": 4},
        name="demo",
    )


def test_parse_args_precedence_explicit_then_quick_then_defaults():
    args = experiment.parse_args(_parser(), [])
    assert (args.epochs, args.timesteps, args.units, args.batch_size) == (7, 30, None, 32)
    assert args.jit is True and args.distribute == "none" and args.quick is False
    assert experiment.parse_args(_parser(), ["--distribute", "mirrored"]).jit is False
    assert args.output_dir == os.path.join("runs", "demo", "indrnn")
    args = experiment.parse_args(_parser(), ["--quick"])
    assert (args.epochs, args.timesteps, args.units) == (1, 30, 4)
    args = experiment.parse_args(
        _parser(),
        ["--quick", "--epochs", "3", "--no-jit", "--model", "lstm", "--steps-per-epoch", "0"],
    )
    assert (args.epochs, args.jit, args.steps_per_epoch) == (3, False, None)
    assert args.output_dir.endswith(os.path.join("demo", "lstm"))


def test_parse_args_rejects_unknown_distribution():
    with pytest.raises(SystemExit):
        experiment.parse_args(_parser(), ["--distribute", "tpu"])


def test_distribution_strategy_none_and_errors():
    assert experiment.distribution_strategy("none") is None
    with pytest.raises(ValueError, match="distribute='tpu'"):
        experiment.distribution_strategy("tpu")
    if keras.backend.backend() != "tensorflow":
        with pytest.raises(ValueError, match="KERAS_BACKEND=tensorflow"):
            experiment.distribution_strategy("mirrored")


def test_make_optimizer_passes_the_clipping_it_is_given():
    parser = experiment.make_parser("t", defaults={"clip_value": 10.0})
    args = experiment.parse_args(parser, ["--learning-rate", "0.01"])
    optimizer = experiment.make_optimizer(args)
    assert np.isclose(float(keras.ops.convert_to_numpy(optimizer.learning_rate)), 0.01)
    assert optimizer.clipvalue == 10.0 and optimizer.global_clipnorm is None
    # A clip norm on the command line replaces the example's default clip value.
    args = experiment.parse_args(parser, ["--clip-norm", "2"])
    optimizer = experiment.make_optimizer(args)
    assert optimizer.clipvalue is None and optimizer.global_clipnorm == 2.0
    with pytest.raises(SystemExit):
        experiment.parse_args(parser, ["--clip-norm", "2", "--clip-value", "1"])
    plain = experiment.make_optimizer(experiment.parse_args(_parser(), []))
    assert plain.clipvalue is None and plain.global_clipnorm is None and plain.clipnorm is None


def _dataset(count=64, timesteps=5, seed=0):
    import tensorflow as tf

    rng = np.random.default_rng(seed)
    x = rng.uniform(size=(count, timesteps, 2)).astype("float32")
    y = x[:, :, 0].sum(axis=1, keepdims=True)
    return tf.data.Dataset.from_tensor_slices((x, y)).batch(16)


def _tiny_model():
    return keras.Sequential([keras.Input((5, 2)), keras.layers.SimpleRNN(4), keras.layers.Dense(1)])


class _StopAfterEpoch(keras.callbacks.Callback):
    """Simulates an interruption (a killed job) at the end of epoch `epoch` (0-based)."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.epoch:
            raise KeyboardInterrupt("simulated interruption")


def _run(tmp_path, argv, callbacks=(), xla=False):
    """Runs the harness on the tiny model: the resumption tests without XLA on TensorFlow
    (`NO_XLA_ON_TF`), test_train_and_evaluate_writes_well_formed_files with its XLA default."""
    argv = [*argv, *([] if xla else NO_XLA_ON_TF)]
    args = experiment.parse_args(_parser(), ["--output-dir", str(tmp_path), *argv])
    return experiment.train_and_evaluate(
        args,
        _tiny_model,
        _dataset(),
        loss="mse",
        metrics=["mae"],
        validation_data=_dataset(32, seed=1),
        test_data=_dataset(32, seed=2),
        config={"permutation": np.arange(4)},
        summary={"baseline_mse": 1.0},
        callbacks=callbacks,
    )


def _history_rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_train_and_evaluate_writes_well_formed_files(tmp_path):
    results = _run(
        tmp_path,
        [
            "--epochs",
            "3",
            "--steps-per-epoch",
            "4",
            "--validation-steps",
            "2",
            "--test-steps",
            "2",
            "--seed",
            "5",
        ],
        xla=True,
    )
    rows = _history_rows(tmp_path / "history.csv")
    assert [int(r["epoch"]) for r in rows] == [0, 1, 2]
    assert {"loss", "mae", "val_loss", "val_mae"} <= set(rows[0])
    assert all(np.isfinite(float(r["loss"])) for r in rows)
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics == json.loads(json.dumps(results))
    assert metrics["epochs_completed"] == 3 and metrics["epochs_run_this_session"] == 3
    assert set(metrics["test"]) == {"loss", "mae"} and metrics["baseline_mse"] == 1.0
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["arguments"]["seed"] == 5 and config["permutation"] == [0, 1, 2, 3]
    assert config["backend"] == keras.backend.backend()
    assert (tmp_path / "learning_curve.png").read_bytes()[:8] == PNG_MAGIC
    assert keras.saving.load_model(tmp_path / "model.keras").count_params() > 0
    assert not (tmp_path / "backup").exists()  # a finished run leaves no backup behind


def test_interrupted_run_resumes_from_the_next_epoch(tmp_path):
    argv = [
        "--epochs",
        "4",
        "--steps-per-epoch",
        "3",
        "--validation-steps",
        "1",
        "--test-steps",
        "1",
    ]
    with pytest.raises(KeyboardInterrupt):
        _run(tmp_path, argv, callbacks=[_StopAfterEpoch(1)])
    assert [int(r["epoch"]) for r in _history_rows(tmp_path / "history.csv")] == [0, 1]
    assert (tmp_path / "backup").exists()
    saved = keras.saving.load_model(tmp_path / "model.keras").get_weights()

    seen = []

    class Record(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            if not seen:
                # The restored weights are those saved at the end of epoch 1.
                for a, b in zip(self.model.get_weights(), saved):
                    np.testing.assert_array_equal(a, b)
            seen.append(epoch)

    results = _run(tmp_path, argv, callbacks=[Record()])
    assert seen == [2, 3]
    rows = _history_rows(tmp_path / "history.csv")
    assert [int(r["epoch"]) for r in rows] == [0, 1, 2, 3]
    assert list(rows[0]) == list(rows[-1])  # one header, same columns
    assert results["epochs_completed"] == 4 and results["epochs_run_this_session"] == 2


def test_a_fresh_run_replaces_an_old_history(tmp_path):
    argv = [
        "--epochs",
        "2",
        "--steps-per-epoch",
        "2",
        "--validation-steps",
        "1",
        "--test-steps",
        "1",
    ]
    _run(tmp_path, argv)
    _run(tmp_path, argv)
    assert [int(r["epoch"]) for r in _history_rows(tmp_path / "history.csv")] == [0, 1]


def test_plot_history_draws_every_metric(tmp_path):
    path = tmp_path / "history.csv"
    path.write_text("epoch,loss,mae,val_loss,val_mae\n0,2.0,1.0,2.5,1.2\n1,1.0,0.5,1.5,0.7\n")
    assert experiment.read_history(path)["val_mae"] == [1.2, 0.7]
    png = experiment.plot_history(path, tmp_path / "curve.png", title="t")
    assert open(png, "rb").read(8) == PNG_MAGIC


# The same path runs end to end in test_examples.py; this harness-level twin is slow-only.
@pytest.mark.slow
@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="tf.distribute needs TF")
def test_mirrored_strategy_on_two_logical_cpus(tmp_path):
    # Logical devices must be configured before TensorFlow initializes, hence a fresh process.
    source = textwrap.dedent(
        f"""
        import json, sys
        import tensorflow as tf
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
        sys.path.insert(0, {os.path.dirname(__file__)!r})
        import keras
        from keras_rnninit import experiment
        from test_experiment import _dataset, _tiny_model, _parser
        args = experiment.parse_args(_parser(), [
            "--output-dir", {str(tmp_path)!r}, "--distribute", "mirrored", "--epochs", "2",
            "--steps-per-epoch", "2", "--validation-steps", "1", "--test-steps", "1"])
        strategy = experiment.distribution_strategy("mirrored")
        print("REPLICAS", strategy.num_replicas_in_sync, "JIT", args.jit)
        results = experiment.train_and_evaluate(
            args, _tiny_model, _dataset(), loss="mse", validation_data=_dataset(32, seed=1),
            test_data=_dataset(32, seed=2))
        print("RESULT", json.dumps(results))
        """
    )
    env = dict(os.environ, KERAS_BACKEND="tensorflow", TF_CPP_MIN_LOG_LEVEL="3")
    done = subprocess.run(
        [sys.executable, "-c", source],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        cwd=os.path.dirname(os.path.dirname(__file__)),
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "REPLICAS 2 JIT False" in done.stdout
    result = json.loads(done.stdout.split("RESULT ", 1)[1].splitlines()[0])
    assert result["epochs_completed"] == 2 and np.isfinite(result["test"]["loss"])


@pytest.mark.parametrize("killed_in", ["CSVLogger", "BackupAndRestore"])
def test_no_interruption_point_loses_or_duplicates_a_history_row(tmp_path, monkeypatch, killed_in):
    """Issue 9, item 3: killed after BackupAndRestore saved epoch 1 but before CSVLogger wrote
    its row, the rerun's history.csv had epochs 0 2 3 (the row of epoch 1 lost)."""
    argv = [
        "--epochs",
        "4",
        "--steps-per-epoch",
        "2",
        "--validation-steps",
        "1",
        "--test-steps",
        "1",
    ]
    target = getattr(keras.callbacks, killed_in)
    original = target.on_epoch_end
    state = {"armed": True}

    def killed(self, epoch, logs=None):
        if epoch == 1 and state["armed"]:
            state["armed"] = False
            raise KeyboardInterrupt("killed before this callback wrote epoch 1")
        return original(self, epoch, logs)

    monkeypatch.setattr(target, "on_epoch_end", killed)
    with pytest.raises(KeyboardInterrupt):
        _run(tmp_path, argv)
    results = _run(tmp_path, argv)
    assert [int(r["epoch"]) for r in _history_rows(tmp_path / "history.csv")] == [0, 1, 2, 3]
    assert results["epochs_completed"] == 4


@pytest.mark.parametrize(
    "argv,flag",
    [
        (["--clip-value", "0"], "--clip-value"),
        (["--clip-norm", "-1"], "--clip-norm"),
        (["--learning-rate", "-1"], "--learning-rate"),
        (["--learning-rate", "nan"], "--learning-rate"),
        (["--epochs", "-1"], "--epochs"),
        (["--timesteps", "-5"], "--timesteps"),
        (["--batch-size", "0"], "--batch-size"),
        (["--units", "0"], "--units"),
        (["--steps-per-epoch", "-2"], "--steps-per-epoch"),
        (["--model", "nonexistent"], "--model"),
    ],
)
def test_bad_values_are_usage_errors_naming_the_flag(argv, flag, capsys):
    """Issue 9, item 9: these were accepted (clipping silently off, exit 0) or gave tracebacks."""
    with pytest.raises(SystemExit) as error:
        experiment.parse_args(_parser(), argv)
    assert error.value.code == 2
    assert f"argument {flag}" in capsys.readouterr().err


def test_output_dir_that_is_a_file_is_a_usage_error(tmp_path, capsys):
    path = tmp_path / "file"
    path.write_text("x")
    with pytest.raises(SystemExit):
        experiment.parse_args(_parser(), ["--output-dir", str(path)])
    assert "argument --output-dir" in capsys.readouterr().err


def test_ignored_options_are_rejected():
    parser = experiment.make_parser("t", name="demo", ignored=("timesteps",))
    with pytest.raises(SystemExit):
        experiment.parse_args(parser, ["--timesteps", "5"])
    assert experiment.parse_args(parser, []).timesteps is None


def test_rerun_of_an_interrupted_folder_with_another_model_is_refused_before_writing(
    tmp_path, capsys
):
    argv = [
        "--epochs",
        "3",
        "--steps-per-epoch",
        "2",
        "--validation-steps",
        "1",
        "--test-steps",
        "1",
    ]
    with pytest.raises(KeyboardInterrupt):
        _run(tmp_path, argv + ["--units", "4"], callbacks=[_StopAfterEpoch(0)])
    config = (tmp_path / "config.json").read_text()
    with pytest.raises(SystemExit):
        experiment.parse_args(_parser(), ["--output-dir", str(tmp_path), *argv, "--units", "5"])
    assert "argument --units" in capsys.readouterr().err
    assert (tmp_path / "config.json").read_text() == config


def test_cosine_learning_rate_decays_to_one_percent_over_the_run():
    args = experiment.parse_args(_parser(), ["--learning-rate", "2e-3", "--lr-decay", "cosine"])
    optimizer = experiment.make_optimizer(args, total_steps=1000)
    schedule = keras.optimizers.schedules.deserialize(optimizer.get_config()["learning_rate"])
    assert isinstance(schedule, keras.optimizers.schedules.CosineDecay)
    assert float(schedule(0)) == pytest.approx(2e-3)
    assert float(schedule(500)) == pytest.approx(2e-3 * (0.01 + 0.99 * 0.5), rel=1e-5)
    assert float(schedule(1000)) == pytest.approx(2e-5, rel=1e-5)
    with pytest.raises(ValueError, match="total_steps=None"):
        experiment.make_optimizer(args)
    constant = experiment.make_optimizer(experiment.parse_args(_parser(), []), total_steps=10)
    assert isinstance(constant.get_config()["learning_rate"], float)


def test_tensorboard_flag_is_off_by_default_and_refused_without_tensorboard(monkeypatch, capsys):
    assert experiment.parse_args(_parser(), []).tensorboard is False
    assert experiment.parse_args(_parser(), ["--tensorboard"]).tensorboard is True
    # Without the tensorboard package, tf.summary fails at the first write, after training
    # started; the flag is a usage error that says what to install instead.
    monkeypatch.setitem(sys.modules, "tensorboard", None)
    with pytest.raises(SystemExit) as error:
        experiment.parse_args(_parser(), ["--tensorboard"])
    assert error.value.code == 2
    assert "argument --tensorboard" in capsys.readouterr().err
    with pytest.raises(ImportError, match="pip install tensorboard"):
        experiment.tensorboard_callbacks("logs")


def test_tensorboard_callbacks_point_monitors_without_a_folder_at_the_run(tmp_path):
    from keras_rnninit.callbacks import GradientFlowMonitor

    unset = GradientFlowMonitor()
    own = GradientFlowMonitor(tensorboard_dir=str(tmp_path / "elsewhere"))
    added = experiment.tensorboard_callbacks(str(tmp_path / "tb"), [unset, own])
    assert [type(c) for c in added] == [keras.callbacks.TensorBoard]
    assert added[0].log_dir == str(tmp_path / "tb")
    assert unset.tensorboard_dir == str(tmp_path / "tb" / "gradient_flow")
    assert own.tensorboard_dir == str(tmp_path / "elsewhere")


def test_run_config_is_what_the_command_line_gives():
    args = experiment.parse_args(_parser(), ["--quick", "--units", "6"])
    config = experiment.RunConfig.from_namespace(args)
    assert (config.epochs, config.units, config.timesteps, config.quick) == (1, 6, 30, True)
    assert config.program == "demo" and config.options == {}
    # config.json records the same arguments as the namespace held, every one of them.
    assert config.arguments() == dict(sorted(vars(args).items()))
    extended = experiment.make_parser("t", name="demo")
    extended.add_argument("--embedding-dim", type=int, default=None)
    args = experiment.parse_args(extended, ["--embedding-dim", "3"])
    config = experiment.RunConfig.from_namespace(args)
    assert config.options == {"embedding_dim": 3}
    assert config.arguments()["embedding_dim"] == 3


def test_harness_functions_take_a_run_config():
    config = experiment.RunConfig(learning_rate=0.01, clip_norm=2.0, lr_decay="cosine")
    optimizer = experiment.make_optimizer(config, total_steps=10)
    assert optimizer.global_clipnorm == 2.0
    build = experiment.model_builder(
        experiment.RunConfig(model="lstm", units=3, layers=1),
        {"input_shape": (5, 2), "output_kind": "regression"},
    )
    model = build()
    assert model.output_shape == (None, 1)
