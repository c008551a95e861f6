"""
Title: Pixel-by-pixel MNIST with IndRNN
Description: Classify an MNIST digit read one pixel at a time (784 steps), optionally in a fixed
random pixel order; IndRNN against IRNN, np-RNN and LSTM.

Reproduces: IndRNN paper (Li et al. 2018, arXiv 1803.04831), Table 1 (error %, pixel /
permuted): 6-layer IndRNN 1.0 / 4.0; baselines there: IRNN 5.0 / 18, LSTM 1.8 / 12 (IRNN's
numbers are Le et al. 2015's). The defaults are the authors' recipe as their published training
log records it: 6 layers of 128 units, batch normalization after every layer (statistics over
batch and time, momentum 0.9), dropout 0.1 between layers, weight decay 1e-4 on the
non-recurrent weights, input weights uniform with bound 0.30 / sqrt(fan_in), the recurrent
weights initialized and bounded with MAG = 5 (`--gamma 5`: `|u| <= 5^(1/784)`, the last layer
also `|u| >= (1/5)^(1/784)`), batch 32, Adam 2e-4, gradient elements clipped at 10, 57 000
training / 3 000 validation images. Their validation accuracy after epoch 1 / 2 / 3 / 5 / 10
/ 20 was 77.7 / 85.1 / 89.7 / 94.0 / 96.2 / 97.4 % (pixel); the paper's 99.0 % took hundreds of
GPU epochs (and a learning rate decayed on plateaus, not done here). The measured runs are in
docs/results.md.

Default run (the recipe above, pixel MNIST, 5 epochs; about 15 minutes per epoch on a 2-core
CPU):

    python examples/sequential_mnist.py --data-dir DIR

`--permuted` applies one fixed permutation, drawn from `--seed` and stored in config.json.
`--row-by-row` reads 28 rows of 28 pixels instead (28 steps; minutes, for a quick check).
Baselines: `--model lstm --learning-rate 1e-3` (or irnn, np_rnn): one layer, the family's own
default, unless `--layers` says otherwise; the IndRNN-only options --dropout, --weight-decay
and --gamma are then ignored.
Data: `--data-dir DIR` pointing at a folder with the four MNIST IDX files
(`train-images-idx3-ubyte.gz`, ...; gzip-compressed or not) or keras' `mnist.npz` is read
offline; otherwise tensorflow-datasets loads (and, with network access, downloads) MNIST into
DIR. `--quick` shrinks everything (row by row, 16 units, 2 epochs of 3 steps) for a smoke
test.
"""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

from keras_rnninit import experiment, tasks

DEFAULTS = {
    "model": "bn_indrnn",
    "epochs": 5,
    "steps_per_epoch": 0,
    "validation_steps": 0,
    "test_steps": 0,
    "batch_size": 32,
    "learning_rate": 2e-4,
    "clip_value": 10.0,
    "validation_size": 3000,
    "dropout": 0.1,
    "weight_decay": 1e-4,
    "gamma": 5.0,
}
INDRNN_LAYERS = 6

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
    # The sequence length is the image's: 784 pixels, or 28 rows with --row-by-row.
    parser = experiment.make_parser(
        __doc__, DEFAULTS, QUICK, name="sequential_mnist", ignored=("timesteps",)
    )
    parser.add_argument("--permuted", action="store_true", help="permuted pixel MNIST")
    parser.add_argument("--row-by-row", action="store_true", help="28 steps of 28 pixels")
    parser.add_argument(
        "--data-dir",
        help="folder with the MNIST IDX files (read offline), or "
        "a tensorflow-datasets data directory",
    )
    parser.add_argument(
        "--validation-size",
        type=experiment.positive_int,
        help="images carved from the end of the train split (default 3000)",
    )
    parser.add_argument(
        "--dropout",
        type=experiment.fraction,
        help="IndRNN families: dropout between layers (default 0.1)",
    )
    parser.add_argument(
        "--weight-decay",
        type=experiment.nonnegative_float,
        help="IndRNN families: weight decay of input and output weights, not of u (default 1e-4)",
    )
    parser.add_argument(
        "--gamma",
        type=experiment.growth_factor,
        help="IndRNN families: |u| <= gamma^(1/T), the paper's MAG (default 5)",
    )
    args = experiment.parse_args(parser, argv)
    if args.quick:
        args.row_by_row = True
    if args.layers is None and "indrnn" in args.model:
        # The authors' six layers for the IndRNN families; a baseline keeps its family's own
        # depth (one layer, as in the papers' IRNN and LSTM rows) unless --layers is given.
        args.layers = INDRNN_LAYERS

    try:
        data = tasks.pixel_mnist(
            permute=args.permuted,
            row_by_row=args.row_by_row,
            batch_size=args.batch_size,
            seed=args.seed,
            data_dir=args.data_dir,
            validation_size=args.validation_size,
        )
    except tasks.DatasetUnavailableError as error:
        parser.error(f"argument --data-dir: {error}")
    extra = {}
    if "indrnn" in args.model:
        extra = {"dropout": args.dropout, "weight_decay": args.weight_decay, "gamma": args.gamma}
    results = experiment.train_and_evaluate(
        args,
        experiment.model_builder(args, data.info, **extra),
        data.train,
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
    error = None if accuracy is None else 100 * (1 - accuracy)
    print(
        f"test accuracy {experiment.format_metric(accuracy)} "
        f"(error {experiment.format_metric(error, '.2f')} %)"
    )
    return results


if __name__ == "__main__":
    main()
