"""The training harness the example scripts share.

One command-line vocabulary (`make_parser` / `parse_args`), one way to build, compile, train and
report (`train_and_evaluate`): distribution strategy, Keras' progress bar, a checkpoint every
epoch with resumption after an interruption (`keras.callbacks.BackupAndRestore`), the history as
CSV, `TerminateOnNaN`, a learning-curve PNG, the final metrics and the run's configuration as
JSON. Every file lands in `--output-dir`:

```
config.json     arguments, backend, versions, seed and anything the example adds (a permutation)
history.csv     one row per epoch; a resumed run appends to it
model.keras     the model after the latest epoch
backup/         BackupAndRestore's state while a run is unfinished (deleted when it completes)
metrics.json    test metrics, epochs, training time, the last history row
learning_curve.png
tensorboard/    with --tensorboard: Keras' TensorBoard logs (train/, validation/) and, for a
                GradientFlowMonitor among the callbacks, its figure (gradient_flow/)
```
"""

import argparse
import contextlib
import csv
import json
import math
import os
import sys
import time

import keras

DISTRIBUTE_CHOICES = ("none", "mirrored", "multi-worker")
LR_DECAY_CHOICES = ("none", "cosine")

# The options every example has; an example adds its own with `parser.add_argument`.
_COMMON_DEFAULTS = {
    "model": "indrnn",
    "units": None,
    "layers": None,
    "timesteps": 100,
    "epochs": 10,
    "steps_per_epoch": 100,
    "validation_steps": 10,
    "test_steps": 20,
    "batch_size": 32,
    "learning_rate": 1e-3,
    "lr_decay": "none",
    "clip_value": None,
    "clip_norm": None,
    "seed": 1337,
    "output_dir": None,
}


def make_parser(description, defaults=None, quick=None, name=None, ignored=()):
    """An `argparse.ArgumentParser` with the options every example takes.

    Every option defaults to None in the parser; `parse_args` fills what the user left out from
    `quick` when `--quick` is given, then from `defaults`, then from the harness' own defaults.
    An example may add options of its own (with `default=None`) and name their defaults in the
    same dictionaries.

    Args:
        description: The example's one-paragraph description (its docstring's first lines).
        defaults: Dict of option name (dest form, e.g. `"steps_per_epoch"`) to full-run value.
            Defaults to `None`.
        quick: Dict of the values `--quick` uses, for a run of seconds. Defaults to `None`.
        name: The example's name, used in the default `--output-dir` (`runs/<name>/<model>`).
            Defaults to `None` (the program's file name).
        ignored: Option names (dest form, e.g. `("timesteps",)`) the script does not use: they
            are not offered, so giving one is a usage error, and `args.<name>` is None.
            Defaults to `()`.

    Every value is checked by argparse (`--model` from the builders' names, counts `> 0` or
    `>= 0`, rates and clipping thresholds finite and `> 0`): a bad one is a usage error that
    names the flag, as is an `--output-dir` that is a file, or a rerun in the folder of an
    interrupted run with another `--model`, `--units`, `--layers` or `--timesteps`.

    Returns:
        The parser.

    Example:

    ```python
    parser = keras_rnninit.experiment.make_parser(
        "Adding problem.", defaults={"timesteps": 100}, quick={"epochs": 1}
    )
    args = keras_rnninit.experiment.parse_args(parser, ["--model", "lstm"])
    ```
    """
    parser = argparse.ArgumentParser(
        prog=f"{name}.py" if name else None,
        description=description,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.set_defaults(_defaults={**_COMMON_DEFAULTS, **(defaults or {})}, _quick=dict(quick or {}))
    # Imported here: models imports the layers, which the other CLI helpers do not need.
    from keras_rnninit.models import MODEL_NAMES

    ignored = set(ignored)

    def add(flag, *args, **kwargs):
        # An option the script does not use is not offered at all: argparse then rejects it
        # ("unrecognized arguments") instead of accepting and ignoring it.
        if flag[2:].replace("-", "_") not in ignored:
            parser.add_argument(flag, *args, **kwargs)

    add("--model", choices=MODEL_NAMES, help="network family (default: indrnn)")
    add("--units", type=positive_int, help="hidden units per layer (family default if omitted)")
    add("--layers", type=positive_int, help="recurrent layers (family default if omitted)")
    add("--timesteps", type=positive_int, help="sequence length T")
    add("--epochs", type=positive_int, help="training epochs")
    add("--steps-per-epoch", type=nonnegative_int,
        help="batches per epoch (0: the whole training set)")
    add("--validation-steps", type=nonnegative_int,
        help="validation batches after each epoch (0: all)")
    add("--test-steps", type=nonnegative_int, help="test batches for the final evaluation (0: all)")
    add("--batch-size", type=positive_int, help="global batch size")
    add("--learning-rate", type=positive_float, help="Adam learning rate")
    add("--lr-decay", choices=LR_DECAY_CHOICES,
        help="learning-rate schedule: none (constant) or cosine (from --learning-rate down to "
        "1%% of it over the whole run)")
    add("--clip-value", type=positive_float, help="clip every gradient element to [-v, v]")
    add("--clip-norm", type=positive_float, help="clip the global gradient norm")
    add("--jit", action=argparse.BooleanOptionalAction,
        help="compile the train step with XLA (default: on, off with --distribute)")
    add("--quick", action="store_true", help="tiny sizes: a smoke run of seconds")
    add("--tensorboard", action="store_true",
        help="also log to OUTPUT_DIR/tensorboard/ for TensorBoard (needs the tensorboard "
        "package: pip install keras-rnninit[examples])")
    add("--output-dir", help="where every output file goes")
    add("--distribute", choices=DISTRIBUTE_CHOICES, default="none",
        help="tf.distribute strategy (TensorFlow backend only)")
    add("--seed", type=nonnegative_int,
        help="seed of every random draw (weights, data, permutation)")
    # Keep the attribute for the harness (config.json), None: parse_args leaves it unfilled.
    parser.set_defaults(_ignored=tuple(sorted(ignored)), **{name: None for name in ignored})
    return parser


def positive_int(text):
    """argparse type: an int > 0 (argparse names the flag in its usage error)."""
    return _number(text, int, "an int > 0", lambda v: v > 0)


def nonnegative_int(text):
    """argparse type: an int >= 0."""
    return _number(text, int, "an int >= 0", lambda v: v >= 0)


def positive_float(text):
    """argparse type: a finite number > 0."""
    return _number(text, float, "a finite number > 0", lambda v: math.isfinite(v) and v > 0)


def nonnegative_float(text):
    """argparse type: a finite number >= 0 (a weight decay)."""
    return _number(text, float, "a finite number >= 0", lambda v: math.isfinite(v) and v >= 0)


def growth_factor(text):
    """argparse type: a finite number >= 1 (IndRNN's gamma, the paper's MAG)."""
    return _number(text, float, "a finite number >= 1", lambda v: math.isfinite(v) and v >= 1)


def fraction(text):
    """argparse type: a number in [0, 1) (a dropout rate)."""
    return _number(text, float, "a number in [0, 1)", lambda v: 0 <= v < 1)


def _number(text, kind, what, valid):
    try:
        value = kind(text)
    except ValueError:
        value = None
    if value is None or not valid(value):
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
    return value


def parse_args(parser, argv=None):
    """Parses `argv` and fills the options left out (see `make_parser`).

    Args:
        parser: A parser from `make_parser`.
        argv: List of strings, or None for `sys.argv[1:]`. Defaults to `None`.

    Returns:
        An `argparse.Namespace` with every option set; `output_dir` defaults to
        `runs/<prog>/<model>`.
    """
    args = parser.parse_args(argv)
    defaults, quick, ignored = args._defaults, args._quick, args._ignored
    del args._defaults, args._quick, args._ignored
    # Keras optimizers take one kind of clipping: one given on the command line replaces the
    # example's default kind, and two at once are an error.
    if args.clip_value is not None and args.clip_norm is not None:
        parser.error("give at most one of --clip-value and --clip-norm")
    if args.clip_value is not None or args.clip_norm is not None:
        defaults = {k: v for k, v in defaults.items() if k not in ("clip_value", "clip_norm")}
    for name, value in vars(args).items():
        if value is None and name not in ignored:
            if args.quick and name in quick:
                setattr(args, name, quick[name])
            elif name in defaults:
                setattr(args, name, defaults[name])
    if args.jit is None:
        # Under tf.distribute, XLA-compiled steps failed here with "Trying to access resource
        # ... located in device CPU:1 from device CPU:0" (TF 2.21, two logical CPUs), so a
        # distributed run compiles without XLA unless --jit is given explicitly.
        args.jit = args.distribute == "none"
    if args.steps_per_epoch == 0:
        args.steps_per_epoch = None
    for name in ("validation_steps", "test_steps"):
        if getattr(args, name) == 0:
            setattr(args, name, None)
    args.program = os.path.splitext(os.path.basename(parser.prog))[0]
    if args.output_dir is None:
        args.output_dir = os.path.join("runs", args.program, args.model)
    if os.path.exists(args.output_dir) and not os.path.isdir(args.output_dir):
        parser.error(f"argument --output-dir: {args.output_dir!r} exists and is not a folder")
    _check_resume(parser, args)
    if getattr(args, "tensorboard", False):
        # Before anything is trained: the event-file writer needs tensorboard installed.
        from keras_rnninit.callbacks import _tensorboard

        try:
            _tensorboard.import_summary("--tensorboard")
        except ImportError as error:
            parser.error(f"argument --tensorboard: {error}")
    return args


# The options that shape the model's weights: an interrupted run resumes only with the same.
_RESUME_OPTIONS = ("model", "units", "layers", "timesteps")


def _check_resume(parser, args):
    """A rerun in a folder with an interrupted run's backup must build the same model; say so
    before anything (config.json) is written, rather than fail restoring the backup."""
    backup = os.path.join(args.output_dir, "backup", "training_metadata.json")
    config_path = os.path.join(args.output_dir, "config.json")
    if not (os.path.exists(backup) and os.path.exists(config_path)):
        return
    try:
        with open(config_path) as f:
            earlier = json.load(f).get("arguments", {})
    except (OSError, ValueError):
        return
    for name in _RESUME_OPTIONS:
        if name in earlier and earlier[name] != getattr(args, name, None):
            flag = "--" + name.replace("_", "-")
            parser.error(
                f"argument {flag}: {args.output_dir} holds an interrupted run with "
                f"{flag} {earlier[name]}, which this run would resume; give {flag} "
                f"{earlier[name]}, another --output-dir, or delete "
                f"{os.path.join(args.output_dir, 'backup')} to start afresh"
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
        raise ValueError(f"`distribute` must be one of {DISTRIBUTE_CHOICES}. Received: distribute={name!r}")
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


def make_optimizer(args, total_steps=None):
    """Adam with `args.learning_rate`, its schedule and the requested gradient clipping.

    With `args.lr_decay == "cosine"` the rate follows `keras.optimizers.schedules.CosineDecay`
    from `args.learning_rate` down to 1 % of it at `total_steps`, the run's last step; the
    schedule reads the optimizer's step counter, so a resumed run continues on it.
    """
    kwargs = {}
    if args.clip_value is not None:
        kwargs["clipvalue"] = args.clip_value
    if args.clip_norm is not None:
        kwargs["global_clipnorm"] = args.clip_norm
    learning_rate = args.learning_rate
    if getattr(args, "lr_decay", "none") == "cosine":
        if not total_steps:
            raise ValueError(
                "lr_decay='cosine' needs the run's number of steps (give --steps-per-epoch). "
                f"Received: total_steps={total_steps!r}"
            )
        learning_rate = keras.optimizers.schedules.CosineDecay(
            args.learning_rate, decay_steps=int(total_steps), alpha=0.01
        )
    return keras.optimizers.Adam(learning_rate, **kwargs)


def make_callbacks(output_dir):
    """Checkpoint every epoch, resume after an interruption, log history, stop on NaN.

    A fresh run (no backup in `output_dir/backup`) starts a new `history.csv`; a resumed run
    appends to it, so the CSV covers every epoch once.
    """
    backup_dir = os.path.join(output_dir, "backup")
    history_path = os.path.join(output_dir, "history.csv")
    completed = _backed_up_epochs(backup_dir)
    if completed is None:
        if os.path.exists(history_path):
            os.remove(history_path)
    else:
        _trim_history(history_path, completed)
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
    # Imported here: the callbacks package is not needed by the CLI helpers.
    from keras_rnninit.callbacks import GradientFlowMonitor
    from keras_rnninit.callbacks import _tensorboard

    _tensorboard.import_summary("--tensorboard")
    for callback in callbacks:
        if isinstance(callback, GradientFlowMonitor) and callback.tensorboard_dir is None:
            callback.tensorboard_dir = os.path.join(log_dir, "gradient_flow")
    return [keras.callbacks.TensorBoard(log_dir)]


def _backed_up_epochs(backup_dir):
    """The number of epochs `BackupAndRestore` saved in `backup_dir`, or None without a backup."""
    path = os.path.join(backup_dir, "training_metadata.json")
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return int(json.load(f)["epoch"])


def _trim_history(history_path, completed):
    """Keeps the rows of `history.csv` for epochs `0 .. completed - 1` (each once)."""
    if not os.path.exists(history_path):
        return
    with open(history_path, newline="") as f:
        rows = list(csv.reader(f))
    if not rows:
        return
    header, kept, seen = rows[0], [], set()
    column = header.index("epoch") if "epoch" in header else None
    for row in rows[1:]:
        if column is None or not row:
            continue
        epoch = int(float(row[column]))
        if epoch < completed and epoch not in seen:
            seen.add(epoch)
            kept.append(row)
    with open(history_path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(kept)


def read_history(path):
    """Reads `history.csv` into a dict of column name to list of floats."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    return {key: [float(row[key]) for row in rows] for key in (rows[0] if rows else {})}


def plot_history(history_path, png_path, title=None):
    """Draws every metric in `history.csv` against the epoch, training and validation together.

    Returns the PNG path, or None when matplotlib is not installed (it is an optional
    dependency: `pip install keras-rnninit[examples]`).
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        from matplotlib import pyplot
    except ImportError:
        print("matplotlib is not installed; no learning-curve PNG.", file=sys.stderr)
        return None
    history = read_history(history_path)
    epochs = [int(e) + 1 for e in history.get("epoch", [])]
    names = [k for k in history if k != "epoch" and not k.startswith("val_") and k != "learning_rate"]
    figure, axes = pyplot.subplots(1, max(len(names), 1), figsize=(5 * max(len(names), 1), 3.5),
                                   squeeze=False)
    for axis, name in zip(axes[0], names):
        axis.plot(epochs, history[name], marker=".", label="train")
        if f"val_{name}" in history:
            axis.plot(epochs, history[f"val_{name}"], marker=".", label="validation")
        axis.set_xlabel("epoch")
        axis.set_ylabel(name)
        axis.grid(alpha=0.3)
        axis.legend()
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    figure.savefig(png_path, dpi=100)
    pyplot.close(figure)
    return png_path


def write_json(path, data):
    with open(path, "w") as f:
        json.dump(data, f, indent=2, sort_keys=True, default=_jsonable)
        f.write("\n")


def _jsonable(value):
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)


def _finite_or_none(value):
    value = float(value)
    return value if math.isfinite(value) else None


def model_builder(args, info, **kwargs):
    """A zero-argument callable that builds `args.model` for a task described by `info`.

    Reads the input shape, output kind, number of classes and, for token inputs, the vocabulary
    size from a `keras_rnninit.tasks` `info` dict; `--units`, `--layers` and `--seed` from
    `args`. Arguments left None keep the family's defaults.

    Args:
        args: The namespace from `parse_args`.
        info: A task's `info` dict.
        **kwargs: More arguments for the family's builder (`dropout=...`).

    Returns:
        A callable for `train_and_evaluate`'s `build_model`.

    Example:

    ```python
    data = keras_rnninit.tasks.adding_problem(timesteps=args.timesteps)
    build = keras_rnninit.experiment.model_builder(args, data.info)
    ```
    """
    # Imported here: models imports the layers, which the CLI helpers do not need.
    from keras_rnninit import models

    options = {
        "units": args.units,
        "num_layers": args.layers,
        "seed": args.seed,
        "vocabulary_size": info.get("vocabulary_size") if info.get("input_dtype") == "int32" else None,
        **kwargs,
    }

    def build():
        return models.build_model(
            args.model, tuple(info["input_shape"]), info["output_kind"], info.get("num_classes"),
            **options,
        )

    return build


def train_and_evaluate(
    args, build_model, train_data, *, loss, metrics=(), validation_data=None, test_data=None,
    config=None, summary=None, callbacks=(), derive=None,
):
    """Builds, compiles, trains and evaluates one model and writes every output file.

    The model is built and compiled inside the distribution strategy's scope. Training resumes
    from `args.output_dir/backup` when an earlier run was interrupted.

    Args:
        args: The namespace from `parse_args`.
        build_model: Zero-argument callable returning an uncompiled `keras.Model`.
        train_data: A `tf.data.Dataset` (or anything `fit` takes) of `(inputs, targets)`.
        loss: The loss, as for `compile`.
        metrics: Metrics, as for `compile`. Defaults to `()`.
        validation_data: Evaluated after every epoch for `args.validation_steps` batches.
            Defaults to `None`.
        test_data: Evaluated once at the end for `args.test_steps` batches. Defaults to `None`.
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
    keras.utils.set_random_seed(args.seed)
    os.makedirs(args.output_dir, exist_ok=True)
    run_config = {
        "arguments": {k: v for k, v in sorted(vars(args).items())},
        "backend": keras.backend.backend(),
        "keras_version": keras.__version__,
        "command": [os.path.basename(sys.argv[0])] + sys.argv[1:],
        **(config or {}),
    }
    write_json(os.path.join(args.output_dir, "config.json"), run_config)

    strategy = distribution_strategy(args.distribute)
    scope = strategy.scope() if strategy is not None else contextlib.nullcontext()
    steps_per_epoch = args.steps_per_epoch
    if steps_per_epoch is None and hasattr(train_data, "cardinality"):
        steps_per_epoch = int(train_data.cardinality())
    total_steps = args.epochs * steps_per_epoch if steps_per_epoch and steps_per_epoch > 0 else None
    with scope:
        model = build_model()
        model.compile(
            optimizer=make_optimizer(args, total_steps), loss=loss, metrics=list(metrics),
            jit_compile=args.jit,
        )
    model.summary()

    callbacks = list(callbacks)
    tensorboard_dir = None
    if getattr(args, "tensorboard", False):
        tensorboard_dir = os.path.join(args.output_dir, "tensorboard")
        callbacks += tensorboard_callbacks(tensorboard_dir, callbacks)
    if args.steps_per_epoch is not None and hasattr(train_data, "repeat"):
        # A fixed number of steps per epoch may outrun a finite split; cycle it instead.
        train_data = train_data.repeat()
    start = time.perf_counter()
    history = model.fit(
        train_data,
        epochs=args.epochs,
        steps_per_epoch=args.steps_per_epoch,
        validation_data=validation_data,
        validation_steps=args.validation_steps if validation_data is not None else None,
        callbacks=make_callbacks(args.output_dir) + callbacks,
        # The pipelines shuffle themselves; Keras would only warn that it cannot.
        shuffle=False,
    )
    train_seconds = time.perf_counter() - start

    results = {
        "model": args.model,
        "backend": keras.backend.backend(),
        "epochs_requested": args.epochs,
        "epochs_run_this_session": len(history.epoch),
        "train_seconds_this_session": round(train_seconds, 2),
        **(summary or {}),
    }
    history_path = os.path.join(args.output_dir, "history.csv")
    if os.path.exists(history_path):
        rows = read_history(history_path)
        results["epochs_completed"] = len(rows.get("epoch", []))
        results["last_epoch"] = {k: _finite_or_none(v[-1]) for k, v in rows.items() if v}
    if test_data is not None:
        test = model.evaluate(test_data, steps=args.test_steps, return_dict=True)
        results["test"] = {k: _finite_or_none(v) for k, v in test.items()}
        if derive is not None and None not in results["test"].values():
            results["test"].update(derive(results["test"]))
    write_json(os.path.join(args.output_dir, "metrics.json"), results)
    if os.path.exists(history_path):
        plot_history(
            history_path, os.path.join(args.output_dir, "learning_curve.png"),
            title=f"{getattr(args, 'program', 'run')}: {args.model}",
        )
    print(json.dumps(results.get("test", results), indent=2, sort_keys=True))
    diverged = [k for k, v in results.get("test", {}).items() if v is None]
    if diverged:
        # metrics.json holds null for them; the run's files are all written.
        print(
            f"The run diverged: test {', '.join(diverged)} not finite (NaN or inf). Try a "
            f"smaller --learning-rate or --clip-norm. Files written to {args.output_dir}.",
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
