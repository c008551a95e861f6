"""`python -m keras_rnninit.benchmark`: the command line, its checks and its output."""

import argparse
import json
import sys

from keras_rnninit.benchmark.ladder import (
    BACKENDS,
    DEFAULT_TIMESTEPS,
    KERAS_MODELS,
    METHODS,
    MODELS,
    TORCH_MODELS,
)
from keras_rnninit.benchmark.pipeline import format_pipeline_table, measure_input_pipeline
from keras_rnninit.benchmark.subprocesses import run_backends, run_torch_rungs
from keras_rnninit.benchmark.tables import add_ratios, describe_machine, format_table
from keras_rnninit.benchmark.timing import run_benchmark


def _parse_list(text, kind=str, choices=None, name="value"):
    values = [kind(part.strip()) for part in text.split(",") if part.strip()]
    if choices is not None:
        bad = [v for v in values if v not in choices]
        if bad:
            raise argparse.ArgumentTypeError(
                f"{name} must be taken from {', '.join(choices)}. Received: {name}={text}"
            )
    if not values:
        raise argparse.ArgumentTypeError(f"{name} is empty. Received: {name}={text!r}")
    return values


def _parser():
    parser = argparse.ArgumentParser(
        prog="python -m keras_rnninit.benchmark",
        description="Milliseconds per training step of IndRNN and its peers (the speed ladder).",
    )
    parser.add_argument(
        "--backends",
        type=lambda s: _parse_list(s, choices=BACKENDS, name="--backends"),
        default=None,
        help="Comma-separated Keras backends, each run in its own subprocess, rows merged. "
        "Default: the current backend (KERAS_BACKEND) in this process.",
    )
    parser.add_argument(
        "--models",
        type=lambda s: _parse_list(s, choices=MODELS, name="--models"),
        default=list(MODELS),
        help=f"Comma-separated rungs. Default: {','.join(MODELS)}.",
    )
    parser.add_argument(
        "--methods",
        type=lambda s: _parse_list(s, choices=METHODS, name="--methods"),
        default=list(METHODS),
        help=f"Comma-separated IndRNN methods. Default: {','.join(METHODS)}.",
    )
    parser.add_argument(
        "--timesteps",
        type=lambda s: _parse_list(s, kind=int, name="--timesteps"),
        default=list(DEFAULT_TIMESTEPS),
        help="Comma-separated sequence lengths. Default: 100,250,500,1000,5000.",
    )
    parser.add_argument("--batch-size", type=int, default=32, help="Default: 32.")
    parser.add_argument("--input-dim", type=int, default=2, help="Default: 2.")
    parser.add_argument("--units", type=int, default=128, help="Default: 128.")
    parser.add_argument(
        "--layers",
        type=int,
        default=2,
        help="Recurrent layers (res_indrnn: even, two per residual block). Default: 2.",
    )
    parser.add_argument(
        "--dropout",
        type=float,
        default=0.0,
        help="Dropout between the deep recipes' layers (and their twins'), one mask per "
        "sequence. Default: 0.",
    )
    parser.add_argument("--repeats", type=int, default=5, help="Timed steps per row. Default: 5.")
    parser.add_argument(
        "--warmup",
        type=int,
        default=1,
        help="Untimed steps per row after the compiling one. Default: 1.",
    )
    parser.add_argument("--no-jit", action="store_true", help="Compile with jit_compile=False.")
    parser.add_argument(
        "--max-seconds-per-row",
        type=float,
        default=120.0,
        help="Skip a row whose predicted cost passes this (0 for no limit). Default: 120.",
    )
    parser.add_argument(
        "--no-pipeline",
        action="store_true",
        help="Skip timing the adding problem's tf.data input pipeline against the model.",
    )
    parser.add_argument("--output", default=None, help="Write the rows to this JSON file.")
    parser.add_argument("--quiet", action="store_true", help="No per-row progress lines.")
    return parser


def _check_positive(parser, args):
    for name in ("batch_size", "input_dim", "units", "layers", "repeats"):
        if getattr(args, name) < 1:
            option = "--" + name.replace("_", "-")
            parser.error(f"{option} must be >= 1. Received: {getattr(args, name)}")
    if args.warmup < 0:
        parser.error(f"--warmup must be >= 0. Received: {args.warmup}")
    if not 0 <= args.dropout < 1:
        parser.error(f"--dropout must be in [0, 1). Received: {args.dropout}")
    if any(t < 1 for t in args.timesteps):
        parser.error(f"--timesteps must be positive. Received: {args.timesteps}")


def main(argv=None):
    """Command-line entry point; returns the process exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = _parser()
    args = parser.parse_args(argv)
    _check_positive(parser, args)

    def progress_to_stderr(line):
        print(line, file=sys.stderr, flush=True)

    progress = None if args.quiet else progress_to_stderr
    keras_models = [m for m in args.models if m in KERAS_MODELS]
    torch_models = [m for m in args.models if m in TORCH_MODELS]
    # What the Keras and the PyTorch rungs share: the batch, the network and the timing.
    shared = dict(
        timesteps=args.timesteps,
        batch_size=args.batch_size,
        input_dim=args.input_dim,
        units=args.units,
        layers=args.layers,
        repeats=args.repeats,
        warmup=args.warmup,
        max_seconds_per_row=args.max_seconds_per_row or None,
        log=progress,
    )
    rows = []
    if keras_models and args.backends:
        # Each backend's subprocess gets `argv`, --quiet included, and prints its own rows.
        rows = run_backends(argv, args.backends, keras_models, progress)
    elif keras_models:
        rows = run_benchmark(
            models=keras_models,
            methods=args.methods,
            jit_compile=not args.no_jit,
            dropout=args.dropout,
            **shared,
        )
    if torch_models:
        rows += run_torch_rungs(models=torch_models, **shared)
    add_ratios(rows)
    print(describe_machine())
    print(
        f"B={args.batch_size}, D={args.input_dim}, H={args.units}, layers={args.layers}, "
        f"jit_compile={not args.no_jit}, median of {args.repeats} steps after "
        f"{args.warmup} warm-up; ms per training step (forward + backward + Adam update)."
    )
    print(format_table(rows))
    pipeline = []
    if not args.no_pipeline:
        pipeline = measure_input_pipeline(
            args.timesteps, batch_size=args.batch_size, rows=rows, log=progress
        )
    if pipeline:
        print("\nInput pipeline (adding problem, tf.data, generated in-graph) against training:")
        print(format_pipeline_table(pipeline))
    if args.output:
        with open(args.output, "w") as handle:
            json.dump(rows + pipeline, handle, indent=1)
        print(f"wrote {len(rows) + len(pipeline)} rows to {args.output}")
    return 0
