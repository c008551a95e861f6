"""The training harness the example scripts share (an application of the library, which
`import keras_rnninit` does not load).

One command-line vocabulary (`make_parser` / `parse_args`, in `cli`), one typed run
configuration (`RunConfig`, in `config`, made from the parsed command line), one way to build,
compile, train and report (`train_and_evaluate`, in `training`): distribution strategy, Keras'
progress bar, a checkpoint every epoch with resumption after an interruption
(`keras.callbacks.BackupAndRestore`), the history as CSV (`history`), `TerminateOnNaN`, a
learning-curve PNG, the final metrics and the run's configuration as JSON. Every file lands in
`--output-dir`:

```
config.json     arguments, backend, versions, seed and anything the example adds (a permutation)
history.csv     one row per epoch; a resumed run appends to it
model.keras     the model after the latest epoch
backup/         BackupAndRestore's state while a run is unfinished (deleted when it completes)
metrics.json    test metrics, epochs, training time, the last history row
learning_curve.png
tensorboard/    with --tensorboard: Keras' TensorBoard logs (train/, validation/) and, for a
                GradientFlowMonitor among the callbacks, its figure (gradient_flow/)
```
"""

from keras_rnninit.experiment.cli import (
    DISTRIBUTE_CHOICES,
    LR_DECAY_CHOICES,
    fraction,
    growth_factor,
    make_parser,
    nonnegative_float,
    nonnegative_int,
    parse_args,
    positive_float,
    positive_int,
)
from keras_rnninit.experiment.config import RunConfig
from keras_rnninit.experiment.history import plot_history, read_history, write_json
from keras_rnninit.experiment.training import (
    distribution_strategy,
    format_metric,
    make_callbacks,
    make_optimizer,
    model_builder,
    tensorboard_callbacks,
    train_and_evaluate,
)

__all__ = [
    "DISTRIBUTE_CHOICES",
    "LR_DECAY_CHOICES",
    "RunConfig",
    "distribution_strategy",
    "format_metric",
    "fraction",
    "growth_factor",
    "make_callbacks",
    "make_optimizer",
    "make_parser",
    "model_builder",
    "nonnegative_float",
    "nonnegative_int",
    "parse_args",
    "plot_history",
    "positive_float",
    "positive_int",
    "read_history",
    "tensorboard_callbacks",
    "train_and_evaluate",
    "write_json",
]
