r"""
Title: Character-level Penn Treebank language model with IndRNN
Description: Predict the next character of Penn Treebank text in windows of 50 characters;
reports bits per character (BPC).

Reproduces: IndRNN paper (Li et al. 2018, arXiv 1803.04831), character-level PTB: a 6-layer
IndRNN with T = 50 reached 1.26 BPC; the residual IndRNN (21 layers) 1.21 and the dense IndRNN
1.18 (Deep IndRNN, arXiv 1910.06251). Chance: log2(vocabulary size), about 5.6 BPC.

Differences from the paper, stated: each 50-character window starts from a zero state (the
paper carried the state across windows of one stream); batch normalization takes statistics
over batch and time (the paper used per-step statistics for language modelling).

Data: the `ptb.char.{train,valid,test}.txt` files of Mikolov's `simple-examples.tgz`
(`--data-dir`; without it the pipeline tries to download the archive).

Default run (6-layer BN-IndRNN; one epoch of the 5 M training characters is long on a CPU):

    python examples/char_language_model.py --data-dir simple-examples/data

Full-size run (expect BPC approaching the paper's 1.26 only after long training on a GPU):

    python examples/char_language_model.py --data-dir simple-examples/data --layers 6 \
        --learning-rate 2e-4 --epochs 100

`--quick` shrinks everything (T = 10, 16 units, 2 epochs of 3 steps) for a smoke test.
"""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

from keras_rnninit import experiment, tasks

DEFAULTS = {
    "model": "bn_indrnn",
    "layers": 6,
    "timesteps": 50,
    "epochs": 10,
    "steps_per_epoch": 0,
    "validation_steps": 0,
    "test_steps": 0,
    "batch_size": 128,
    "learning_rate": 2e-4,
    "clip_value": 10.0,
}
QUICK = {
    "timesteps": 10,
    "units": 16,
    "layers": 2,
    "epochs": 2,
    "steps_per_epoch": 3,
    "validation_steps": 2,
    "test_steps": 2,
    "batch_size": 4,
}


def main(argv=None, callbacks=()):
    parser = experiment.make_parser(__doc__, DEFAULTS, QUICK, name="char_language_model")
    parser.add_argument("--data-dir", help="folder with the ptb.char.*.txt files")
    parser.add_argument(
        "--embedding-dim", type=experiment.positive_int, default=64, help="character embedding size"
    )
    args = experiment.parse_args(parser, argv)

    try:
        data = tasks.penn_treebank_characters(
            data_dir=args.data_dir, timesteps=args.timesteps, batch_size=args.batch_size
        )
    except tasks.DatasetUnavailableError as error:
        parser.error(f"argument --data-dir: {error}")
    info = {k: v for k, v in data.info.items() if k != "vocabulary"}
    results = experiment.train_and_evaluate(
        args,
        experiment.model_builder(args, data.info, embedding_dim=args.embedding_dim),
        data.train,
        loss=data.info["loss"],
        # The cross-entropy as a metric excludes any regularization the loss may carry.
        metrics=[*data.info["metrics"], "sparse_categorical_crossentropy"],
        validation_data=data.validation,
        test_data=data.test,
        config={"task": info, "vocabulary": data.info["vocabulary"]},
        summary={"baseline": data.info["baseline"]},
        callbacks=callbacks,
        # Keras' cross-entropy is in nats; the papers report bits.
        derive=lambda test: {
            "bits_per_character": tasks.bits_per_character(test["sparse_categorical_crossentropy"])
        },
    )
    print(
        f"test BPC {experiment.format_metric(results['test'].get('bits_per_character'), '.3f')} "
        f"(uniform guess {data.info['baseline']['bits_per_character_uniform']:.2f})"
    )
    return results


if __name__ == "__main__":
    main()
