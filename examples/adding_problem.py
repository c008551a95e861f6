r"""
Title: The adding problem with IndRNN
Description: Remember two marked numbers over a long sequence and add them; IndRNN against IRNN,
np-RNN, LSTM and a tanh RNN.

Each input is a (T, 2) sequence: a value from U[0, 1) and a 0/1 marker with exactly two ones
(one in each half of the sequence). The target is the sum of the two marked values. Predicting
the constant 1.0 gives MSE 1/6 ~ 0.167, the baseline: a model has learned the task only when its
MSE falls well below that.

Reproduces: IndRNN paper (Li et al., CVPR 2018, arXiv 1803.04831), Section 4.1, Figure 2: a
2 x 128 IndRNN trained with Adam at 2e-4, batch 50, converges to MSE near 0 at T = 100, 500,
1000 and 5000, where IRNN and LSTM fail from T = 1000. The paper gives the result as a figure
only, with no table. The same task is in Le et al. 2015 (IRNN, Figure 2) and Talathi and Vartak
2015 (np-RNN, results unverified here).

Default run (IndRNN, T = 100; measured: test MSE 0.0004-0.0018 over four seeds, about 30 s on a
shared 2-core CPU):

    python examples/adding_problem.py

Long sequences need the IndRNN authors' recipe: Adam at 2e-4 and input weights N(0, 0.001^2)
(their adding code's), here with a cosine decay. The T = 100 default rate, 2e-3, leaves the
network at the baseline at T = 1000: Adam moves every weight by about the rate per step, and
units that sum their inputs over T steps amplify that by T. Measured at T = 1000 (test MSE
0.0065 after 10 000 steps, 35 minutes on one core of a 2-core CPU; docs/results.md):

    python examples/adding_problem.py --timesteps 1000 --input-stddev 0.001 --learning-rate 2e-4 \
        --lr-decay cosine --epochs 50 --steps-per-epoch 200

Compare with another family: `--model irnn` (try `--learning-rate 1e-5`), `--model np_rnn`,
`--model lstm`, `--model tanh_rnn`. `--quick` shrinks everything (T = 20, 16 units, 2 epochs of
5 steps) for a smoke test of a few seconds; it does not learn.
"""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

from keras_rnninit import experiment, tasks

DEFAULTS = {
    "model": "indrnn",
    "timesteps": 100,
    "epochs": 10,
    "steps_per_epoch": 100,
    "validation_steps": 10,
    "test_steps": 50,
    "batch_size": 50,
    "learning_rate": 2e-3,
    "clip_value": 10.0,
}
QUICK = {
    "timesteps": 20,
    "units": 16,
    "epochs": 2,
    "steps_per_epoch": 5,
    "validation_steps": 2,
    "test_steps": 2,
    "batch_size": 16,
}


def main(argv=None, callbacks=()):
    parser = experiment.make_parser(__doc__, DEFAULTS, QUICK, name="adding_problem")
    parser.add_argument(
        "--marker",
        choices=tasks.MARKER_RULES,
        default="one_per_half",
        help="where the two marked steps lie (default: one in each half)",
    )
    parser.add_argument(
        "--input-stddev",
        type=experiment.positive_float,
        help="IndRNN and IRNN families: standard deviation of the normal input "
        "weights (IndRNN default 0.01, IRNN 0.001; the IndRNN authors' adding "
        "code used 0.001)",
    )
    args = experiment.parse_args(parser, argv)
    if args.steps_per_epoch is None:
        parser.error("the synthetic task needs --steps-per-epoch > 0")

    # Fresh examples for every training step, as in the papers' online generation.
    data = tasks.adding_problem(
        timesteps=args.timesteps,
        batch_size=args.batch_size,
        train_size=args.batch_size * args.steps_per_epoch * args.epochs,
        validation_size=args.batch_size * args.validation_steps,
        test_size=args.batch_size * args.test_steps,
        marker=args.marker,
        seed=args.seed,
    )

    extra = {}
    if args.input_stddev is not None:
        if args.model in ("np_rnn", "lstm", "tanh_rnn"):
            parser.error(f"argument --input-stddev: not an option of --model {args.model}")
        extra["input_stddev"] = args.input_stddev
    baseline = data.info["baseline"]["mse"]
    results = experiment.train_and_evaluate(
        args,
        experiment.model_builder(args, data.info, **extra),
        data.train,
        loss="mse",
        validation_data=data.validation,
        test_data=data.test,
        config={"task": data.info},
        summary={"baseline_mse": baseline},
        callbacks=callbacks,
    )
    mse = results["test"]["loss"]
    print(f"test MSE {experiment.format_metric(mse)} (baseline {baseline:.4f}: predicting 1.0)")
    return results


if __name__ == "__main__":
    main()
