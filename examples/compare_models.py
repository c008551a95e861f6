"""
Title: Every model family on one real task, under one protocol
Description: Trains each builder of `keras_rnninit.models` at its defaults on MNIST read row by
row (28 steps of 28 pixels) with the same data, optimizer and budget, and reports test accuracy
and the gap between inference and training mode on training images.

A recipe that only learns under hand-tuned settings is not a recipe. This script is the check
that every family learns real data out of the box, and that the batch-normalized ones give the
same answers at inference as in training. `tests/test_real_data.py` runs it (marked slow) and
asserts the result; docs/results.md holds the measured table.

The protocol: 57 000 training / 3 000 validation / 10 000 test images (the last 3 000 training
images validate), batch 32, Adam 1e-3 without clipping, 5 epochs of 300 steps (48 000 images
seen), seed 1337, `jit_compile=True`. Every builder keeps its own defaults (units, layers,
initializers); only the input shape and the 10-class softmax head are given.

    python examples/compare_models.py --data-dir DIR

`--data-dir` is a folder with the four MNIST IDX files (or keras' `mnist.npz`), read offline, or
a tensorflow-datasets data directory. `--models` picks a subset; `--steps-per-epoch` and
`--epochs` change the budget; `--quick` runs 2 epochs of 3 steps per model (a smoke test).
Writes `compare_models.json` (one row per model) to `--output-dir`; `--tensorboard` also logs
every model's training to `<output-dir>/tensorboard/<model>/`.
"""

import argparse
import json
import os
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras
import numpy as np

from keras_rnninit import experiment, models, tasks

PROTOCOL = {
    "batch_size": 32,
    "learning_rate": 1e-3,
    "epochs": 5,
    "steps_per_epoch": 300,
    "validation_size": 3000,
    "seed": 1337,
    "check_batches": 63,  # training batches on which inference and training mode are compared
}
QUICK = {"epochs": 2, "steps_per_epoch": 3, "check_batches": 2}


def _accuracy(model, inputs, labels, training):
    """Accuracy over `inputs` in batches of the training batch size, in the given mode."""
    batch = PROTOCOL["batch_size"]
    correct = 0
    for start in range(0, len(inputs), batch):
        probabilities = model(inputs[start : start + batch], training=training)
        predicted = np.argmax(keras.ops.convert_to_numpy(probabilities), axis=-1)
        correct += int(np.sum(predicted == labels[start : start + batch]))
    return correct / len(inputs)


def run_model(name, data, protocol, test_steps=None, callbacks=(), **builder_kwargs):
    """Trains one family under `protocol` and returns its row of results.

    `builder_kwargs` go to the family's builder (e.g. `input_stddev=0.01`, to measure a
    setting against the default under the same protocol); `callbacks` to `fit`.
    """
    keras.utils.set_random_seed(protocol["seed"])
    info = data.info
    model = models.build_model(
        name,
        info["input_shape"],
        info["output_kind"],
        info["num_classes"],
        seed=protocol["seed"],
        **builder_kwargs,
    )
    model.compile(
        optimizer=keras.optimizers.Adam(protocol["learning_rate"]),
        loss=info["loss"],
        metrics=info["metrics"],
        jit_compile=True,
    )
    start = time.perf_counter()
    history = model.fit(
        data.train.repeat(),
        epochs=protocol["epochs"],
        steps_per_epoch=protocol["steps_per_epoch"],
        validation_data=data.validation,
        validation_steps=test_steps,
        verbose=2,
        shuffle=False,
        callbacks=list(callbacks),
    )
    seconds = time.perf_counter() - start
    test = model.evaluate(data.test, steps=test_steps, return_dict=True, verbose=0)
    batches = list(data.train.take(protocol["check_batches"]).as_numpy_iterator())
    inputs = np.concatenate([x for x, _ in batches])
    labels = np.concatenate([y for _, y in batches])
    return {
        "model": name,
        **({"builder_kwargs": builder_kwargs} if builder_kwargs else {}),
        "parameters": int(model.count_params()),
        "test_accuracy": float(test["sparse_categorical_accuracy"]),
        "validation_accuracy": [
            round(float(v), 4) for v in history.history["val_sparse_categorical_accuracy"]
        ],
        "train_accuracy_inference_mode": _accuracy(model, inputs, labels, training=False),
        "train_accuracy_training_mode": _accuracy(model, inputs, labels, training=True),
        "train_seconds": round(seconds, 1),
        "backend": keras.backend.backend(),
    }


def compare(
    data_dir, names=models.MODEL_NAMES, quick=False, output_dir=None, tensorboard=False, **overrides
):
    """Runs the protocol for every name in `names`; returns the rows (and writes them).

    With `tensorboard`, each model logs to `output_dir/tensorboard/<name>/`.
    """
    if tensorboard and not output_dir:
        raise ValueError(
            "compare(tensorboard=True) writes into output_dir. Received: output_dir=None"
        )
    protocol = {**PROTOCOL, **(QUICK if quick else {}), **overrides}
    data = tasks.pixel_mnist(
        row_by_row=True,
        batch_size=protocol["batch_size"],
        data_dir=data_dir,
        validation_size=protocol["validation_size"],
        seed=protocol["seed"],
    )
    rows = []
    for name in names:
        callbacks = []
        if tensorboard:
            callbacks = experiment.tensorboard_callbacks(
                os.path.join(output_dir, "tensorboard", name)
            )
        rows.append(
            run_model(name, data, protocol, test_steps=2 if quick else None, callbacks=callbacks)
        )
        print(json.dumps(rows[-1]))
    if output_dir:
        os.makedirs(output_dir, exist_ok=True)
        with open(os.path.join(output_dir, "compare_models.json"), "w") as f:
            json.dump({"protocol": protocol, "rows": rows}, f, indent=2)
            f.write("\n")
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="compare_models.py",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--data-dir", help="MNIST files (IDX or mnist.npz) or a TFDS directory")
    parser.add_argument(
        "--models",
        nargs="+",
        choices=models.MODEL_NAMES,
        default=list(models.MODEL_NAMES),
        help="families to compare",
    )
    parser.add_argument("--epochs", type=experiment.positive_int, help="epochs (default 5)")
    parser.add_argument(
        "--steps-per-epoch", type=experiment.positive_int, help="steps (default 300)"
    )
    parser.add_argument(
        "--output-dir",
        default=os.path.join("runs", "compare_models"),
        help="where compare_models.json goes",
    )
    parser.add_argument("--quick", action="store_true", help="2 epochs of 3 steps per model")
    parser.add_argument(
        "--tensorboard",
        action="store_true",
        help="log every model to OUTPUT_DIR/tensorboard/<model>/",
    )
    args = parser.parse_args(argv)
    overrides = {
        key: value
        for key, value in (("epochs", args.epochs), ("steps_per_epoch", args.steps_per_epoch))
        if value
    }
    rows = compare(
        args.data_dir,
        args.models,
        quick=args.quick,
        output_dir=args.output_dir,
        tensorboard=args.tensorboard,
        **overrides,
    )
    print("| model | test accuracy | train acc. inference / training mode | seconds |")
    print("|---|---|---|---|")
    for row in rows:
        print(
            f"| `{row['model']}` | {row['test_accuracy']:.3f} | "
            f"{row['train_accuracy_inference_mode']:.3f} / "
            f"{row['train_accuracy_training_mode']:.3f} | {row['train_seconds']:.0f} |"
        )
    return rows


if __name__ == "__main__":
    main()
