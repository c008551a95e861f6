"""
Title: Streaming parity with plain ReLU recurrent networks
Description: After every bit, output the parity (XOR) of all bits so far; a test of keeping one
bit of state exactly over the whole sequence.

Each input is a stream of T random bits; the target at every step is the parity of the prefix,
so a single flipped bit flips every later target. Chance level is 50 % per-step accuracy.

Reproduces: no paper table; streaming parity is the project's seed notes' memory test, used to
compare the families on one footing (`--model indrnn | np_rnn | irnn | lstm | tanh_rnn`). Judge a
run by its per-step test accuracy against the 50 % chance level.

Default run (IndRNN, T = 50):

    python examples/parity.py

Larger run:

    python examples/parity.py --timesteps 200 --epochs 50 --steps-per-epoch 500

`--final-only` asks for the parity at the last step only (harder: one error signal per
sequence). `--quick` shrinks everything (T = 10, 16 units, 2 epochs of 5 steps) for a smoke test
of a few seconds; it does not learn.
"""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

from keras_rnninit import experiment, tasks

DEFAULTS = {
    "model": "indrnn",
    "timesteps": 50,
    "epochs": 20,
    "steps_per_epoch": 100,
    "validation_steps": 10,
    "test_steps": 50,
    "batch_size": 50,
    "learning_rate": 1e-3,
    "clip_value": 10.0,
}
QUICK = {
    "timesteps": 10,
    "units": 16,
    "epochs": 2,
    "steps_per_epoch": 5,
    "validation_steps": 2,
    "test_steps": 2,
    "batch_size": 16,
}


def main(argv=None, callbacks=()):
    parser = experiment.make_parser(__doc__, DEFAULTS, QUICK, name="parity")
    parser.add_argument(
        "--final-only",
        action="store_true",
        help="target only the parity of the whole sequence, at the last step",
    )
    args = experiment.parse_args(parser, argv)
    if args.steps_per_epoch is None:
        parser.error("the synthetic task needs --steps-per-epoch > 0")

    data = tasks.parity(
        timesteps=args.timesteps,
        batch_size=args.batch_size,
        train_size=args.batch_size * args.steps_per_epoch * args.epochs,
        validation_size=args.batch_size * args.validation_steps,
        test_size=args.batch_size * args.test_steps,
        per_step=not args.final_only,
        seed=args.seed,
    )
    chance = data.info["baseline"]["accuracy"]
    results = experiment.train_and_evaluate(
        args,
        experiment.model_builder(args, data.info),
        data.train,
        loss=data.info["loss"],
        metrics=data.info["metrics"],
        validation_data=data.validation,
        test_data=data.test,
        config={"task": data.info},
        summary={"chance_accuracy": chance},
        callbacks=callbacks,
    )
    accuracy = results["test"]["binary_accuracy"]
    print(f"test accuracy {experiment.format_metric(accuracy, '.3f')} (chance {chance:.3f})")
    return results


if __name__ == "__main__":
    main()
