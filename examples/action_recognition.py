r"""
Title: Action recognition from per-frame features (UCF101) or skeletons (NTU RGB+D)
Description: Classify a video's action from a short sequence of per-frame vectors: frozen-CNN
features of UCF101 frames (np-RNN's setup) or 3-D skeleton joints of NTU RGB+D (IndRNN's setup).

Reproduces:
- `--dataset ntu`: IndRNN paper (Li et al. 2018, arXiv 1803.04831), NTU RGB+D, 20 frames per
  clip: 4-layer IndRNN 78.58 % cross-subject / 83.75 % cross-view accuracy, 6-layer 81.80 /
  87.97. Chance 1/60.
- `--dataset ucf101`: np-RNN paper (Talathi and Vartak 2015, arXiv 1511.03771), UCF101 from
  clip-level CNN features, np-RNN against IRNN, iRNN and LSTM. The paper's feature extractor and
  numbers are unverified here; this script uses a frozen ImageNet CNN from keras.applications.
  Chance 1/101.

Data: NTU RGB+D `.skeleton` files (or converted `.npy`) in `--data-dir`, which you must obtain
from the dataset's authors. UCF101 comes from tensorflow-datasets (6.5 GB) and the CNN's
ImageNet weights from keras.applications; both download on first use, and the features are
cached in `--cache-dir`.

Default run (NTU, cross-subject, 4-layer IndRNN):

    python examples/action_recognition.py --dataset ntu --data-dir nturgb+d_skeletons \
        --cache-dir cache

Full-size runs (expect the paper's accuracies above only approximately, after long training;
the paper also used batch normalization and dropout):

    python examples/action_recognition.py --dataset ntu --data-dir nturgb+d_skeletons \
        --model bn_indrnn --layers 6 --benchmark cross_view --learning-rate 2e-4 --epochs 100
    python examples/action_recognition.py --dataset ucf101 --model np_rnn --cache-dir cache \
        --epochs 100

`--quick` shrinks everything (16 units, 2 epochs of 2 steps, 4 frames) for a smoke test.
"""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

from keras_rnninit import experiment, tasks

DEFAULTS = {
    "model": "indrnn",
    "layers": 4,
    "timesteps": 20,
    "epochs": 50,
    "steps_per_epoch": 0,
    "validation_steps": 0,
    "test_steps": 0,
    "batch_size": 128,
    "learning_rate": 2e-4,
    "clip_value": 10.0,
}
QUICK = {
    "units": 16,
    "layers": 2,
    "timesteps": 4,
    "epochs": 2,
    "steps_per_epoch": 2,
    "validation_steps": 1,
    "test_steps": 1,
    "batch_size": 2,
}


def load_data(args, feature_extractor=None):
    if args.dataset == "ntu":
        if args.data_dir is None:
            raise SystemExit("--dataset ntu needs --data-dir (the NTU RGB+D skeleton files)")
        return tasks.ntu_skeletons(
            data_dir=args.data_dir,
            benchmark=args.benchmark,
            frames=args.timesteps,
            batch_size=args.batch_size,
            seed=args.seed,
            cache_dir=args.cache_dir,
        )
    return tasks.ucf101_features(
        frames=args.timesteps,
        image_size=args.image_size,
        feature_extractor=feature_extractor or args.feature_extractor,
        batch_size=args.batch_size,
        seed=args.seed,
        data_dir=args.data_dir,
        cache_dir=args.cache_dir,
    )


def main(argv=None, callbacks=(), feature_extractor=None):
    """`feature_extractor`: a `keras.Model` in place of `--feature-extractor` (tests: tiny CNN)."""
    parser = experiment.make_parser(__doc__, DEFAULTS, QUICK, name="action_recognition")
    parser.add_argument("--dataset", choices=("ntu", "ucf101"), default="ntu")
    parser.add_argument("--data-dir", help="NTU files, or the tensorflow-datasets directory")
    parser.add_argument("--cache-dir", help="where parsed skeletons / CNN features are cached")
    parser.add_argument(
        "--benchmark",
        choices=("cross_subject", "cross_view"),
        default="cross_subject",
        help="NTU evaluation protocol",
    )
    parser.add_argument(
        "--feature-extractor",
        default="MobileNetV2",
        help="keras.applications CNN for UCF101 frames",
    )
    parser.add_argument(
        "--image-size", type=experiment.positive_int, default=224, help="UCF101 CNN input size"
    )
    parser.add_argument(
        "--dropout", type=experiment.fraction, default=0.0, help="IndRNN input dropout"
    )
    args = experiment.parse_args(parser, argv)

    try:
        data = load_data(args, feature_extractor)
    except tasks.DatasetUnavailableError as error:
        parser.error(f"argument --data-dir: {error}")
    extra = {"dropout": args.dropout} if "indrnn" in args.model else {}
    info = {k: v for k, v in data.info.items() if k != "names"}
    results = experiment.train_and_evaluate(
        args,
        experiment.model_builder(args, data.info, **extra),
        data.train,
        loss=data.info["loss"],
        metrics=data.info["metrics"],
        validation_data=data.validation,
        test_data=data.test,
        config={"task": info},
        summary={"chance_accuracy": 1 / data.info["num_classes"]},
        callbacks=callbacks,
    )
    accuracy = results["test"]["sparse_categorical_accuracy"]
    chance = 1 / data.info["num_classes"]
    print(f"test accuracy {experiment.format_metric(accuracy)} (chance {chance:.4f})")
    return results


if __name__ == "__main__":
    main()
