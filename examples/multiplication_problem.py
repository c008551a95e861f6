"""
Title: The multiplication problem with np-RNN
Description: Remember two marked numbers over a long sequence and multiply them; np-RNN against
IRNN, iRNN, LSTM and IndRNN.

As the adding problem, but the target is the product of the two marked values. Predicting the
mean 0.25 gives MSE 7/144 ~ 0.049, the baseline to beat.

Reproduces: np-RNN paper (Talathi and Vartak 2015, arXiv 1511.03771), the multiplication task:
one layer of 100 ReLU units with the normalized positive-definite recurrent matrix, compared
with IRNN, iRNN, LSTM and np-tanhRNN. We could not verify the paper's result tables, so no
number is quoted: a run is judged against the 0.049 baseline. The paper trained with plain SGD;
this script uses Adam.

Default run (np-RNN, T = 100, minutes on a CPU):

    python examples/multiplication_problem.py

Larger run (longer sequences, more steps; compare families with --model):

    python examples/multiplication_problem.py --timesteps 400 --epochs 50 --steps-per-epoch 500

`--quick` shrinks everything (T = 20, 16 units, 2 epochs of 5 steps) for a smoke test of a few
seconds; it does not learn.
"""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

from keras_rnninit import experiment, tasks

DEFAULTS = {
    "model": "np_rnn",
    "timesteps": 100,
    "epochs": 20,
    "steps_per_epoch": 100,
    "validation_steps": 10,
    "test_steps": 50,
    "batch_size": 50,
    "learning_rate": 1e-3,
    "clip_norm": 1.0,
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
    parser = experiment.make_parser(__doc__, DEFAULTS, QUICK, name="multiplication_problem")
    parser.add_argument(
        "--marker",
        choices=tasks.MARKER_RULES,
        default="one_per_half",
        help="where the two marked steps lie (default: one in each half)",
    )
    args = experiment.parse_args(parser, argv)
    if args.steps_per_epoch is None:
        parser.error("the synthetic task needs --steps-per-epoch > 0")

    # Fresh examples for every training step.
    data = tasks.multiplication_problem(
        timesteps=args.timesteps,
        batch_size=args.batch_size,
        train_size=args.batch_size * args.steps_per_epoch * args.epochs,
        validation_size=args.batch_size * args.validation_steps,
        test_size=args.batch_size * args.test_steps,
        marker=args.marker,
        seed=args.seed,
    )
    baseline = data.info["baseline"]["mse"]
    results = experiment.train_and_evaluate(
        args,
        experiment.model_builder(args, data.info),
        data.train,
        loss="mse",
        validation_data=data.validation,
        test_data=data.test,
        config={"task": data.info},
        summary={"baseline_mse": baseline},
        callbacks=callbacks,
    )
    mse = experiment.format_metric(results["test"]["loss"])
    print(f"test MSE {mse} (baseline {baseline:.4f}: predicting 0.25)")
    return results


if __name__ == "__main__":
    main()
