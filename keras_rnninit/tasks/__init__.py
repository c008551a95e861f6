"""tf.data pipelines for the benchmark tasks of the IRNN, np-RNN and IndRNN papers.

Every task function returns a `TaskData(train, validation, test, info)`: three batched, prefetched
`tf.data.Dataset`s of `(inputs, targets)` (training shuffled) and a JSON-friendly `info` dict that
describes shapes, the suggested loss and metrics, the trivial baseline, sizes and seeds
(a `TaskInfo`, a dict whose common keys are also attributes).
The pipelines need TensorFlow (`pip install keras-rnninit[tensorflow]`); they feed models on any
Keras backend.
"""

from keras_rnninit._task_info import OUTPUT_KINDS, TaskInfo
from keras_rnninit.tasks.common import DatasetUnavailableError, TaskData, measure_throughput
from keras_rnninit.tasks.mnist import (
    MNIST_CHANCE_ACCURACY,
    mnist_permutation,
    permuted_pixel_mnist,
    pixel_mnist,
    read_idx,
    read_mnist,
)
from keras_rnninit.tasks.ntu import (
    NTU_CROSS_SUBJECT_TRAINING_SUBJECTS,
    NTU_CROSS_VIEW_TRAINING_CAMERAS,
    ntu_skeletons,
    parse_ntu_name,
    read_ntu_skeleton,
)
from keras_rnninit.tasks.synthetic import (
    ADDING_BASELINE_MSE,
    MARKER_RULES,
    MULTIPLICATION_BASELINE_MSE,
    PARITY_CHANCE_ACCURACY,
    adding_problem,
    multiplication_problem,
    parity,
)
from keras_rnninit.tasks.text import (
    bits_per_character,
    language_model_windows,
    penn_treebank_characters,
    read_characters,
)
from keras_rnninit.tasks.ucf101 import ucf101_features

__all__ = [
    "ADDING_BASELINE_MSE",
    "MARKER_RULES",
    "MNIST_CHANCE_ACCURACY",
    "MULTIPLICATION_BASELINE_MSE",
    "NTU_CROSS_SUBJECT_TRAINING_SUBJECTS",
    "NTU_CROSS_VIEW_TRAINING_CAMERAS",
    "OUTPUT_KINDS",
    "PARITY_CHANCE_ACCURACY",
    "DatasetUnavailableError",
    "TaskData",
    "TaskInfo",
    "adding_problem",
    "bits_per_character",
    "language_model_windows",
    "measure_throughput",
    "mnist_permutation",
    "multiplication_problem",
    "ntu_skeletons",
    "parity",
    "parse_ntu_name",
    "penn_treebank_characters",
    "permuted_pixel_mnist",
    "pixel_mnist",
    "read_characters",
    "read_idx",
    "read_mnist",
    "read_ntu_skeleton",
    "ucf101_features",
]
