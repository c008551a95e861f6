"""Character-level Penn Treebank language modelling with truncated backpropagation through time.

The corpus is one long stream of character ids. For a batch size B the stream is cut into B
contiguous parallel streams (row b holds characters `[b * L, (b + 1) * L)`, L = len // B), and
consecutive windows of `timesteps` characters are served in order:

```
batch k = (inputs  = streams[:, k*T     : (k+1)*T    ],
           targets = streams[:, k*T + 1 : (k+1)*T + 1])
```

so row b of batch k+1 continues row b of batch k exactly. A stateful model (`stateful=True`
recurrent layers, fixed batch size B) can therefore carry its hidden state from one batch to the
next (truncated BPTT), resetting it at the start of every epoch. This is why these datasets are
never shuffled. TensorFlow Datasets has no character-level PTB, so the data come from the
standard `ptb.char.{train,valid,test}.txt` files of Mikolov's `simple-examples` archive.
"""

import math
import os
from pathlib import Path

import numpy as np
import tensorflow as tf

from keras_rnninit._task_info import TaskInfo
from keras_rnninit._validation import check_choice, check_int
from keras_rnninit.tasks import common
from keras_rnninit.tasks.common import TaskData

PTB_URL = "http://www.fit.vutbr.cz/~imikolov/rnnlm/simple-examples.tgz"
PTB_CHAR_FILES = {
    "train": "ptb.char.train.txt",
    "validation": "ptb.char.valid.txt",
    "test": "ptb.char.test.txt",
}
END_OF_LINE = "\n"
TOKENIZATIONS = ("ptb_char", "characters")


def read_characters(path, tokenization="ptb_char"):
    """Reads a text file as a list of character tokens.

    Args:
        path: Path of a text file (UTF-8).
        tokenization: `"ptb_char"` for the PTB character files, where characters are separated
            by spaces and `_` marks a word boundary: each line gives its whitespace-separated
            tokens followed by an end-of-line token `"\\n"`. `"characters"` for plain text:
            every character, newlines included. Defaults to `"ptb_char"`.

    Returns:
        A list of one-character strings.
    """
    check_choice("tokenization", tokenization, TOKENIZATIONS, owner="read_characters")
    text = Path(path).read_text(encoding="utf-8")
    if tokenization == "characters":
        return list(text)
    tokens = []
    for line in text.splitlines():
        tokens.extend(line.split())
        tokens.append(END_OF_LINE)
    return tokens


def language_model_windows(ids, *, batch_size, timesteps):
    """Cuts a stream of token ids into truncated-BPTT batches whose rows continue each other.

    See the module docstring for the layout: `B = batch_size` parallel contiguous streams of
    length `L = len(ids) // B`, then `(L - 1) // T` windows of `T = timesteps` steps; the targets
    are the inputs shifted by one step. Up to `B * T + B - 1` trailing ids are dropped so that
    every batch has the same shape.

    Args:
        ids: 1-D sequence of integer token ids.
        batch_size: Number of parallel streams, `>= 1`.
        timesteps: Window length T, `>= 1`.

    Returns:
        A `tf.data.Dataset` of already-batched `(inputs (B, T) int32, targets (B, T) int32)`, in
        order.

    Example:

    ```python
    dataset = keras_rnninit.tasks.language_model_windows(ids, batch_size=32, timesteps=50)
    ```
    """
    owner = "language_model_windows"
    batch_size = check_int("batch_size", batch_size, minimum=1, owner=owner)
    timesteps = check_int("timesteps", timesteps, minimum=1, owner=owner)
    ids = np.asarray(ids, dtype=np.int32)
    if ids.ndim != 1:
        raise ValueError(f"{owner} expects 1-D `ids`. Received: ids with shape {ids.shape}")
    stream_length = len(ids) // batch_size
    windows = (stream_length - 1) // timesteps if stream_length > 0 else 0
    if windows < 1:
        raise ValueError(
            f"{owner} needs at least batch_size * (timesteps + 1) = "
            f"{batch_size * (timesteps + 1)} ids for one batch. "
            f"Received: {len(ids)} ids, batch_size={batch_size}, timesteps={timesteps}"
        )
    streams = ids[: batch_size * stream_length].reshape(batch_size, stream_length)
    used = windows * timesteps
    inputs = streams[:, :used].reshape(batch_size, windows, timesteps).transpose(1, 0, 2)
    targets = streams[:, 1 : used + 1].reshape(batch_size, windows, timesteps).transpose(1, 0, 2)
    return tf.data.Dataset.from_tensor_slices((inputs, targets)).prefetch(tf.data.AUTOTUNE)


def bits_per_character(loss):
    """Converts a mean cross-entropy in nats (Keras' losses use natural logs) to bits per character.

    Args:
        loss: Mean sparse categorical cross-entropy per character, in nats.

    Returns:
        `loss / ln(2)`.
    """
    return float(loss) / math.log(2.0)


def _find_files(data_dir):
    found = {}
    for split, name in PTB_CHAR_FILES.items():
        direct = Path(data_dir) / name
        matches = [direct] if direct.is_file() else sorted(Path(data_dir).rglob(name))
        if not matches:
            raise ValueError(
                f"penn_treebank_characters found no {name} under data_dir. "
                f"Received: data_dir={os.fspath(data_dir)!r}"
            )
        found[split] = matches[0]
    return found


_PTB_INSTRUCTIONS = (
    f"Download {PTB_URL} on a machine with network, extract it, and pass the folder holding "
    "ptb.char.train.txt, ptb.char.valid.txt and ptb.char.test.txt as data_dir "
    "(examples/char_language_model.py --data-dir simple-examples/data)."
)


def _download():
    import keras  # Only for get_file; the pipeline itself is pure tf.data.

    common.check_reachable(PTB_URL, "The Penn Treebank character data", _PTB_INSTRUCTIONS)
    try:
        path = keras.utils.get_file("simple-examples.tgz", origin=PTB_URL, extract=True)
    except Exception as error:  # get_file raises bare Exceptions for URL and HTTP failures.
        raise common.DatasetUnavailableError(
            f"Downloading {PTB_URL} failed ({error}). {_PTB_INSTRUCTIONS}"
        ) from error
    # Keras versions differ in what get_file returns with extract=True (the archive or the
    # extracted folder), so search next to it.
    return Path(path).parent


def penn_treebank_characters(
    *,
    data_dir=None,
    timesteps=50,
    batch_size=128,
    eval_batch_size=None,
    vocabulary=None,
    tokenization="ptb_char",
):
    """Character-level Penn Treebank: predict the next character, truncated BPTT windows of 50.

    Reads `ptb.char.train.txt`, `ptb.char.valid.txt` and `ptb.char.test.txt` from `data_dir`
    (searched recursively, so the extracted `simple-examples/` folder works), or, with
    `data_dir=None`, downloads Mikolov's `simple-examples.tgz` with `keras.utils.get_file`
    (needs network access). The vocabulary is the sorted set of training tokens unless given;
    a validation or test token outside it is a `ValueError`. Batches follow the layout of the
    module docstring: row b of batch k+1 continues row b of batch k, so state can be carried
    across batches by a stateful model; the datasets are not shuffled.

    Metric: bits per character = mean cross-entropy in nats / ln 2 (`bits_per_character`).
    Chance level: a uniform guess scores log2(vocabulary size) bits per character (about 5.6
    for PTB's 50 symbols); predicting training-set character frequencies scores the unigram
    cross-entropy, both in `info["baseline"]`. Published (IndRNN): 1.26 BPC for a 6-layer
    IndRNN, 1.21 for a 21-layer residual IndRNN.

    Args:
        data_dir: Folder containing the three files, or `None` to download. Defaults to `None`.
        timesteps: Truncated-BPTT window length, `>= 1`. Defaults to `50` (IndRNN's setting).
        batch_size: Parallel streams for training, `>= 1`. Defaults to `128`.
        eval_batch_size: Parallel streams for validation and test, `>= 1`, or `None` for
            `batch_size` (a stateful model is built for one batch size). Defaults to `None`.
        vocabulary: Sequence of distinct tokens (e.g. `info["vocabulary"]` of an earlier run),
            or `None` to build it from the training file. Defaults to `None`.
        tokenization: `"ptb_char"` or `"characters"`, see `read_characters`. Defaults to
            `"ptb_char"`.

    Returns:
        A `keras_rnninit.tasks.TaskData`; batches are `(inputs (B, T) int32 ids,
        targets (B, T) int32 ids)`. `info["vocabulary"]` lists the tokens by id;
        `info["sizes"]` counts tokens (characters) per split, `info["steps"]` batches.

    Example:

    ```python
    data = keras_rnninit.tasks.penn_treebank_characters(data_dir="simple-examples/data")
    # A stateful model for data.info["batch_size"] streams, state reset at each epoch's start.
    ```

    Reference:
        - [Li et al., 2018 (IndRNN)](https://arxiv.org/abs/1803.04831)
        - [Mikolov et al., 2012, Subword language modeling with neural networks](
          http://www.fit.vutbr.cz/~imikolov/rnnlm/char.pdf)
    """
    owner = "penn_treebank_characters"
    timesteps = check_int("timesteps", timesteps, minimum=1, owner=owner)
    batch_size = check_int("batch_size", batch_size, minimum=1, owner=owner)
    if eval_batch_size is None:
        eval_batch_size = batch_size
    eval_batch_size = check_int("eval_batch_size", eval_batch_size, minimum=1, owner=owner)
    check_choice("tokenization", tokenization, TOKENIZATIONS, owner=owner)
    if data_dir is not None and not Path(data_dir).is_dir():
        raise ValueError(
            f"{owner} expects `data_dir` to be a folder. Received: data_dir={data_dir!r}"
        )

    files = _find_files(_download() if data_dir is None else data_dir)
    tokens = {split: read_characters(path, tokenization) for split, path in files.items()}
    if vocabulary is None:
        vocabulary = sorted(set(tokens["train"]))
    vocabulary = list(vocabulary)
    if len(set(vocabulary)) != len(vocabulary) or not vocabulary:
        raise ValueError(
            f"{owner} expects `vocabulary` to be a non-empty sequence of distinct tokens. "
            f"Received: vocabulary of length {len(vocabulary)} with "
            f"{len(vocabulary) - len(set(vocabulary))} duplicates"
        )
    index = {token: i for i, token in enumerate(vocabulary)}
    ids = {}
    for split, split_tokens in tokens.items():
        unknown = sorted(set(split_tokens) - index.keys())
        if unknown:
            raise ValueError(
                f"{owner}: the {split} file has tokens outside the vocabulary. "
                f"Received: unknown tokens {unknown[:20]!r}"
            )
        ids[split] = np.fromiter((index[t] for t in split_tokens), np.int32, len(split_tokens))

    datasets, steps = {}, {}
    for split in ("train", "validation", "test"):
        streams = batch_size if split == "train" else eval_batch_size
        try:
            datasets[split] = language_model_windows(
                ids[split], batch_size=streams, timesteps=timesteps
            )
        except ValueError as error:
            raise ValueError(f"{owner}: the {split} file is too short. {error}") from None
        steps[split] = (len(ids[split]) // streams - 1) // timesteps

    # Trivial baselines in bits per character: uniform over the vocabulary, and the training
    # unigram distribution (add-one smoothed so unseen test tokens cost finite bits).
    counts = np.bincount(ids["train"], minlength=len(vocabulary)) + 1.0
    unigram = counts / counts.sum()
    unigram_bits = float(-np.mean(np.log2(unigram[ids["test"]])))
    info = {
        "name": "penn_treebank_characters",
        "input_shape": (timesteps,),
        "input_dtype": "int32",
        "target_shape": (timesteps,),
        "target_dtype": "int32",
        "output_kind": "classification_per_step",
        "num_classes": len(vocabulary),
        "loss": "sparse_categorical_crossentropy",
        "metrics": ["sparse_categorical_accuracy"],
        "baseline": {
            "bits_per_character_uniform": math.log2(len(vocabulary)),
            "bits_per_character_unigram": unigram_bits,
        },
        "vocabulary": vocabulary,
        "vocabulary_size": len(vocabulary),
        "stateful": True,
        "timesteps": timesteps,
        "batch_size": batch_size,
        "eval_batch_size": eval_batch_size,
        "tokenization": tokenization,
        "sizes": {split: int(len(split_ids)) for split, split_ids in ids.items()},
        "steps": steps,
        "seed": None,
        "reference": "Li et al. 2018 (IndRNN): character-level Penn Treebank, T = 50",
    }
    return TaskData(datasets["train"], datasets["validation"], datasets["test"], TaskInfo(**info))
