"""One run: build and compile in the distribution strategy's scope, train, evaluate, report."""

import contextlib
import json
import math
import os
import sys
import time

import keras

from keras_rnninit import _optional, models
from keras_rnninit.callbacks import GradientFlowMonitor
from keras_rnninit.experiment.cli import DISTRIBUTE_CHOICES
from keras_rnninit.experiment.config import as_run_config
from keras_rnninit.experiment.history import (
    backed_up_epochs,
    finite_or_none,
    plot_history,
    read_history,
    trim_history,
    write_json,
)


def distribution_strategy(name):
    """Returns the `tf.distribute` strategy for `--distribute`, or None for `"none"`.

    `"mirrored"` copies the model onto every local device; `"multi-worker"` reads the cluster
    from the `TF_CONFIG` environment variable. Both need the TensorFlow backend.

    Args:
        name: One of `"none"`, `"mirrored"`, `"multi-worker"`.

    Returns:
        A `tf.distribute.Strategy`, or None.

    Example:

    ```python
    strategy = keras_rnninit.experiment.distribution_strategy("mirrored")
    ```
    """
    if name not in DISTRIBUTE_CHOICES:
        raise ValueError(
            f"`distribute` must be one of {DISTRIBUTE_CHOICES}. Received: distribute={name!r}"
        )
    if name == "none":
        return None
    backend = keras.backend.backend()
    if backend != "tensorflow":
        raise ValueError(
            f"--distribute {name} uses tf.distribute and needs KERAS_BACKEND=tensorflow. "
            f"Received: distribute={name!r} on backend {backend!r}. On JAX, use "
            "keras.distribution.DataParallel instead."
        )
    # The only place the harness touches TensorFlow directly: tf.distribute has no
    # backend-neutral equivalent in Keras 3.
    import tensorflow as tf

    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    return tf.distribute.MultiWorkerMirroredStrategy()


def make_optimizer(run, total_steps=None):
    """Adam with `run.learning_rate`, its schedule and the requested gradient clipping.

    With `run.lr_decay == "cosine"` the rate follows `keras.optimizers.schedules.CosineDecay`
    from `run.learning_rate` down to 1 % of it at `total_steps`, the run's last step; the
    schedule reads the optimizer's step counter, so a resumed run continues on it.

    Args:
        run: A `RunConfig` (or the namespace from `parse_args`, converted).
        total_steps: The run's number of training steps, for the cosine schedule. Defaults to
            `None`.

    Returns:
        A `keras.optimizers.Adam`.
    """
    run = as_run_config(run)
    kwargs = {}
    if run.clip_value is not None:
        kwargs["clipvalue"] = run.clip_value
    if run.clip_norm is not None:
        kwargs["global_clipnorm"] = run.clip_norm
    learning_rate = run.learning_rate
    if run.lr_decay == "cosine":
        if not total_steps:
            raise ValueError(
                "lr_decay='cosine' needs the run's number of steps (give --steps-per-epoch). "
                f"Received: total_steps={total_steps!r}"
            )
        learning_rate = keras.optimizers.schedules.CosineDecay(
            run.learning_rate, decay_steps=int(total_steps), alpha=0.01
        )
    return keras.optimizers.Adam(learning_rate, **kwargs)


def make_callbacks(output_dir):
    """Checkpoint every epoch, resume after an interruption, log history, stop on NaN.

    A fresh run (no backup in `output_dir/backup`) starts a new `history.csv`; a resumed run
    appends to it, so the CSV covers every epoch once.
    """
    backup_dir = os.path.join(output_dir, "backup")
    history_path = os.path.join(output_dir, "history.csv")
    completed = backed_up_epochs(backup_dir)
    if completed is None:
        if os.path.exists(history_path):
            os.remove(history_path)
    else:
        trim_history(history_path, completed)
    # The CSV row of an epoch is written (and flushed) BEFORE the backup of that epoch: a run
    # killed between the two has a row the backup does not cover, which the trim above drops
    # on resume, and the epoch is run and logged again. The other order lost the row: the
    # backup said the epoch was done, and the rerun never logged it.
    return [
        keras.callbacks.CSVLogger(history_path, append=True),
        keras.callbacks.BackupAndRestore(backup_dir, save_freq="epoch"),
        keras.callbacks.ModelCheckpoint(os.path.join(output_dir, "model.keras")),
        keras.callbacks.TerminateOnNaN(),
    ]


def tensorboard_callbacks(log_dir, callbacks=()):
    """Keras' `TensorBoard` callback for `log_dir`, to go after every other callback.

    Keras' callback writes the epoch metrics of `logs` (`log_dir/train`, `log_dir/validation`),
    so it must come after any callback that adds to them (`GradientFlowMonitor`'s `grad_*`
    scalars). A `GradientFlowMonitor` in `callbacks` without a `tensorboard_dir` of its own is
    given `log_dir/gradient_flow`, where it writes its per-step gradient figure as an image.

    Args:
        log_dir: The TensorBoard log folder (`tensorboard --logdir log_dir`).
        callbacks: The run's other callbacks. Defaults to `()`.

    Returns:
        A list to append to the run's callbacks.

    Raises:
        ImportError: When TensorFlow or the tensorboard package (the event-file writer, on any
            backend) is not installed; the message names what to install.

    Example:

    ```python
    monitor = keras_rnninit.GradientFlowMonitor(data=(x[:8], y[:8]))
    callbacks = [monitor]
    callbacks += keras_rnninit.experiment.tensorboard_callbacks("runs/demo/tensorboard", callbacks)
    ```
    """
    _optional.import_summary("--tensorboard")
    for callback in callbacks:
        if isinstance(callback, GradientFlowMonitor) and callback.tensorboard_dir is None:
            callback.tensorboard_dir = os.path.join(log_dir, "gradient_flow")
    return [keras.callbacks.TensorBoard(log_dir)]


def model_builder(run, info, **kwargs):
    """A zero-argument callable that builds `run.model` for a task described by `info`.

    Reads the input shape, output kind, number of classes and, for token inputs, the vocabulary
    size from a task's `keras_rnninit.tasks.TaskInfo` (or a dict with those keys); `--units`,
    `--layers` and `--seed` from `run`. Arguments left None keep the family's defaults.

    Args:
        run: A `RunConfig` (or the namespace from `parse_args`, converted).
        info: A task's `TaskInfo` (`data.info`).
        **kwargs: More arguments for the family's builder (`dropout=...`).

    Returns:
        A callable for `train_and_evaluate`'s `build_model`.

    Example:

    ```python
    data = keras_rnninit.tasks.adding_problem(timesteps=args.timesteps)
    build = keras_rnninit.experiment.model_builder(args, data.info)
    ```
    """
    run = as_run_config(run)
    options = {
        "units": run.units,
        "num_layers": run.layers,
        "seed": run.seed,
        "vocabulary_size": info.get("vocabulary_size")
        if info.get("input_dtype") == "int32"
        else None,
        **kwargs,
    }

    def build():
        return models.build_model(
            run.model,
            tuple(info["input_shape"]),
            info["output_kind"],
            info.get("num_classes"),
            **options,
        )

    return build


def train_and_evaluate(
    run,
    build_model,
    train_data,
    *,
    loss,
    metrics=(),
    validation_data=None,
    test_data=None,
    config=None,
    summary=None,
    callbacks=(),
    derive=None,
):
    """Builds, compiles, trains and evaluates one model and writes every output file.

    The model is built and compiled inside the distribution strategy's scope. Training resumes
    from `run.output_dir/backup` when an earlier run was interrupted.

    Args:
        run: A `RunConfig` (or the namespace from `parse_args`, converted).
        build_model: Zero-argument callable returning an uncompiled `keras.Model`.
        train_data: A `tf.data.Dataset` (or anything `fit` takes) of `(inputs, targets)`.
        loss: The loss, as for `compile`.
        metrics: Metrics, as for `compile`. Defaults to `()`.
        validation_data: Evaluated after every epoch for `run.validation_steps` batches.
            Defaults to `None`.
        test_data: Evaluated once at the end for `run.test_steps` batches. Defaults to `None`.
        config: Dict of extra facts for `config.json` (data sizes, a permutation).
            Defaults to `None`.
        summary: Dict of extra entries for `metrics.json` (a baseline to compare with).
            Defaults to `None`.
        callbacks: Extra Keras callbacks. Defaults to `()`.
        derive: Callable mapping the test metrics dict to extra entries for it (bits per
            character from the loss). Defaults to `None`.

    Returns:
        The dict written to `metrics.json`.

    Example:

    ```python
    metrics = keras_rnninit.experiment.train_and_evaluate(
        args, lambda: keras_rnninit.models.build_model(args.model, (100, 2)),
        train, loss="mse", validation_data=val, test_data=test,
    )
    ```
    """
    run = as_run_config(run)
    keras.utils.set_random_seed(run.seed)
    os.makedirs(run.output_dir, exist_ok=True)
    run_config = {
        "arguments": run.arguments(),
        "backend": keras.backend.backend(),
        "keras_version": keras.__version__,
        "command": [os.path.basename(sys.argv[0])] + sys.argv[1:],
        **(config or {}),
    }
    write_json(os.path.join(run.output_dir, "config.json"), run_config)

    strategy = distribution_strategy(run.distribute)
    scope = strategy.scope() if strategy is not None else contextlib.nullcontext()
    steps_per_epoch = run.steps_per_epoch
    if steps_per_epoch is None and hasattr(train_data, "cardinality"):
        steps_per_epoch = int(train_data.cardinality())
    total_steps = run.epochs * steps_per_epoch if steps_per_epoch and steps_per_epoch > 0 else None
    with scope:
        model = build_model()
        model.compile(
            optimizer=make_optimizer(run, total_steps),
            loss=loss,
            metrics=list(metrics),
            jit_compile=run.jit,
        )
    model.summary()

    callbacks = list(callbacks)
    tensorboard_dir = None
    if run.tensorboard:
        tensorboard_dir = os.path.join(run.output_dir, "tensorboard")
        callbacks += tensorboard_callbacks(tensorboard_dir, callbacks)
    if run.steps_per_epoch is not None and hasattr(train_data, "repeat"):
        # A fixed number of steps per epoch may outrun a finite split; cycle it instead.
        train_data = train_data.repeat()
    start = time.perf_counter()
    history = model.fit(
        train_data,
        epochs=run.epochs,
        steps_per_epoch=run.steps_per_epoch,
        validation_data=validation_data,
        validation_steps=run.validation_steps if validation_data is not None else None,
        callbacks=make_callbacks(run.output_dir) + callbacks,
        # The pipelines shuffle themselves; Keras would only warn that it cannot.
        shuffle=False,
    )
    train_seconds = time.perf_counter() - start

    results = {
        "model": run.model,
        "backend": keras.backend.backend(),
        "epochs_requested": run.epochs,
        "epochs_run_this_session": len(history.epoch),
        "train_seconds_this_session": round(train_seconds, 2),
        **(summary or {}),
    }
    history_path = os.path.join(run.output_dir, "history.csv")
    if os.path.exists(history_path):
        rows = read_history(history_path)
        results["epochs_completed"] = len(rows.get("epoch", []))
        results["last_epoch"] = {k: finite_or_none(v[-1]) for k, v in rows.items() if v}
    if test_data is not None:
        test = model.evaluate(test_data, steps=run.test_steps, return_dict=True)
        results["test"] = {k: finite_or_none(v) for k, v in test.items()}
        if derive is not None and None not in results["test"].values():
            results["test"].update(derive(results["test"]))
    write_json(os.path.join(run.output_dir, "metrics.json"), results)
    if os.path.exists(history_path):
        plot_history(
            history_path,
            os.path.join(run.output_dir, "learning_curve.png"),
            title=f"{run.program}: {run.model}",
        )
    print(json.dumps(results.get("test", results), indent=2, sort_keys=True))
    diverged = [k for k, v in results.get("test", {}).items() if v is None]
    if diverged:
        # metrics.json holds null for them; the run's files are all written.
        print(
            f"The run diverged: test {', '.join(diverged)} not finite (NaN or inf). Try a "
            f"smaller --learning-rate or --clip-norm. Files written to {run.output_dir}.",
            file=sys.stderr,
        )
    if tensorboard_dir is not None:
        print(f"TensorBoard logs: tensorboard --logdir {tensorboard_dir}")
    return results


def format_metric(value, spec=".4f"):
    """`value` formatted with `spec`, or "nan (diverged)" for the None that `metrics.json`
    holds for a non-finite result."""
    if value is None or not math.isfinite(value):
        return "nan (diverged)"
    return format(value, spec)
