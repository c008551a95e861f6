"""
Title: Pixel-by-pixel MNIST with IndRNN
Description: Classify an MNIST digit read one pixel at a time (784 steps), optionally in a fixed
random pixel order; IndRNN against IRNN, np-RNN and LSTM.

Reproduces: IndRNN paper (Li et al. 2018, arXiv 1803.04831), Table 1 (error %, pixel /
permuted): 6-layer IndRNN 1.0 / 4.0; baselines there: IRNN 5.0 / 18, LSTM 1.8 / 12 (IRNN's
numbers are Le et al. 2015's). The IndRNN paper trains with Adam at 2e-4, batch normalization,
dropout and weight decay 1e-4 on the non-recurrent weights; its other details (units per layer,
learning-rate schedule) are not repeated here, so a full run with this script is an
approximation. The np-RNN paper also reports pixel MNIST (tables unverified here).

Default run (6-layer BN-IndRNN, 784 steps; a full epoch takes long on a CPU):

    python examples/sequential_mnist.py

Full-size run (close to the IndRNN paper's setting, which reached 1.0 % / 4.0 % test error;
many hours of training, a GPU recommended):

    python examples/sequential_mnist.py --model bn_indrnn --layers 6 --learning-rate 2e-4 \
        --dropout 0.1 --weight-decay 1e-4 --epochs 100 [--permuted]

`--row-by-row` reads 28 rows of 28 pixels instead (28 steps; minutes, for a quick check).
`--permuted` applies one fixed permutation, drawn from `--seed` and stored in config.json.
MNIST comes from tensorflow-datasets (`--data-dir`); without network access, prepare it first.
`--quick` shrinks everything (row by row, 16 units, 2 epochs of 3 steps) for a smoke test.
"""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

from keras_rnninit import experiment  # noqa: E402
from keras_rnninit import tasks  # noqa: E402

DEFAULTS = {
    "model": "bn_indrnn",
    "layers": 6,
    "epochs": 10,
    "steps_per_epoch": 0,
    "validation_steps": 0,
    "test_steps": 0,
    "batch_size": 32,
    "learning_rate": 2e-4,
    "clip_value": 10.0,
    "validation_size": 5000,
}
QUICK = {
    "validation_size": 8,
    "units": 16,
    "layers": 2,
    "epochs": 2,
    "steps_per_epoch": 3,
    "validation_steps": 2,
    "test_steps": 2,
    "batch_size": 4,
}


def main(argv=None, callbacks=()):
    parser = experiment.make_parser(__doc__, DEFAULTS, QUICK, name="sequential_mnist")
    parser.add_argument("--permuted", action="store_true", help="permuted pixel MNIST")
    parser.add_argument("--row-by-row", action="store_true", help="28 steps of 28 pixels")
    parser.add_argument("--data-dir", help="tensorflow-datasets data directory")
    parser.add_argument("--validation-size", type=int,
                        help="images carved from the end of the train split (default 5000)")
    parser.add_argument("--dropout", type=float, default=0.0, help="IndRNN input dropout")
    parser.add_argument("--weight-decay", type=float, default=0.0,
                        help="IndRNN L2 on input and output weights (not on u)")
    args = experiment.parse_args(parser, argv)
    if args.quick:
        args.row_by_row = True

    data = tasks.pixel_mnist(
        permute=args.permuted,
        row_by_row=args.row_by_row,
        batch_size=args.batch_size,
        seed=args.seed,
        data_dir=args.data_dir,
        validation_size=args.validation_size,
    )
    extra = {}
    if "indrnn" in args.model:
        extra = {"dropout": args.dropout, "weight_decay": args.weight_decay}
    results = experiment.train_and_evaluate(
        args, experiment.model_builder(args, data.info, **extra), data.train,
        loss=data.info["loss"],
        metrics=data.info["metrics"],
        validation_data=data.validation,
        test_data=data.test,
        # The permutation is part of the task: a later run can reuse it from here.
        config={"task": data.info},
        summary={"chance_accuracy": data.info["baseline"]["accuracy"]},
        callbacks=callbacks,
    )
    accuracy = results["test"]["sparse_categorical_accuracy"]
    print(f"test accuracy {accuracy:.4f} (error {100 * (1 - accuracy):.2f} %)")
    return results


if __name__ == "__main__":
    main()
