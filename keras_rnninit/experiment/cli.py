"""The examples' command line: one vocabulary of options, checked by argparse."""

import argparse
import json
import math
import os

from keras_rnninit import _optional
from keras_rnninit.models import MODEL_NAMES

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
    parser.set_defaults(
        _defaults={**_COMMON_DEFAULTS, **(defaults or {})}, _quick=dict(quick or {})
    )
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
    add(
        "--steps-per-epoch",
        type=nonnegative_int,
        help="batches per epoch (0: the whole training set)",
    )
    add(
        "--validation-steps",
        type=nonnegative_int,
        help="validation batches after each epoch (0: all)",
    )
    add("--test-steps", type=nonnegative_int, help="test batches for the final evaluation (0: all)")
    add("--batch-size", type=positive_int, help="global batch size")
    add("--learning-rate", type=positive_float, help="Adam learning rate")
    add(
        "--lr-decay",
        choices=LR_DECAY_CHOICES,
        help="learning-rate schedule: none (constant) or cosine (from --learning-rate down to "
        "1%% of it over the whole run)",
    )
    add("--clip-value", type=positive_float, help="clip every gradient element to [-v, v]")
    add("--clip-norm", type=positive_float, help="clip the global gradient norm")
    add(
        "--jit",
        action=argparse.BooleanOptionalAction,
        help="compile the train step with XLA (default: on, off with --distribute)",
    )
    add("--quick", action="store_true", help="tiny sizes: a smoke run of seconds")
    add(
        "--tensorboard",
        action="store_true",
        help="also log to OUTPUT_DIR/tensorboard/ for TensorBoard (needs the tensorboard "
        "package: pip install keras-rnninit[examples])",
    )
    add("--output-dir", help="where every output file goes")
    add(
        "--distribute",
        choices=DISTRIBUTE_CHOICES,
        default="none",
        help="tf.distribute strategy (TensorFlow backend only)",
    )
    add(
        "--seed",
        type=nonnegative_int,
        help="seed of every random draw (weights, data, permutation)",
    )
    # Keep the attribute for the harness (config.json), None: parse_args leaves it unfilled.
    parser.set_defaults(_ignored=tuple(sorted(ignored)), **dict.fromkeys(ignored))
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
        try:
            _optional.import_summary("--tensorboard")
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
