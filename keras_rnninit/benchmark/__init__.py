"""Speed benchmark: milliseconds per training step of IndRNN and its peers, on this machine.

Run it as a module:

```
python -m keras_rnninit.benchmark                          # the full ladder, current backend
python -m keras_rnninit.benchmark --timesteps 1000 --repeats 3             # about a minute
python -m keras_rnninit.benchmark --backends tensorflow,jax --output rows.json
```

Every row times one training step (forward, backward and optimizer update, one
`model.train_on_batch` on fixed tensors, `jit_compile=True` unless `--no-jit`) as the median of
`--repeats` steps after a compile step and `--warmup` warm-up steps. The model is the adding
problem's: `layers` stacked recurrent layers of `units` units (all but the last return sequences),
then `Dense(1)`, mean squared error, Adam. The rungs of the ladder:

- `twin`: the recurrence-free twin, the same `Dense` projection and ReLU per step with no
  recurrence. No recurrent layer can be faster, so it is the floor.
- `indrnn`: `keras_rnninit.IndRNN` with each `--methods` entry (`auto`, `sequential`, `chunked`,
  `parallel`).
- `rnn_indrnn_cell`: `keras.layers.RNN(keras_rnninit.IndRNNCell(...))`, Keras' own loop over the
  same cell.
- `simple_rnn`: `keras.layers.SimpleRNN(activation="relu")`.
- `lstm`: `keras.layers.LSTM`.
- `bn_indrnn`, `res_indrnn`: the deep recipes of `keras_rnninit.models.build_model` at
  `layers` depth, each with its twin (`bn_indrnn_twin`, `res_indrnn_twin`: every IndRNN
  replaced by `Dense(units, relu)`, batch normalization, residual Dense layers and dropout kept).
- `torch_twin`, `torch_indrnn_loop`, `torch_rnn_relu`, `torch_lstm`: PyTorch's networks on the
  same batches, in their own process, when torch is installed
  (`keras_rnninit.benchmark.torch_rungs`).

The table gives each row's time, its ratio to the twin at the same length, and each peer's ratio
to `IndRNN(method="auto")` (how many times slower the peer is). `--output FILE` writes the rows as
a JSON list. A row whose predicted cost passes `--max-seconds-per-row` is skipped with a note
rather than left running for minutes (e.g. LSTM or a TensorFlow `SimpleRNN` stack, whose
XLA-compiled training step grows as T^2, at T = 5000); ask for it alone to time it anyway.

The package, by concept: `ladder` (the rungs' models and the fixed batch), `timing` (one step's
time, a row's predicted cost, `run_benchmark`), `tables` (rows, ratios, the table),
`pipeline` (the tf.data input pipeline against the model), `subprocesses` (one process per
backend, and the PyTorch rungs), `torch_rungs` (the PyTorch side, run as a script that imports
neither Keras nor this package) and `cli` (the command line). `import keras_rnninit` loads none
of it.
"""

from keras_rnninit.benchmark.cli import main
from keras_rnninit.benchmark.ladder import (
    BACKENDS,
    DEEP_MODELS,
    DEEP_TWINS,
    DEFAULT_TIMESTEPS,
    KERAS_MODELS,
    METHODS,
    MODELS,
    TORCH_MODELS,
    TWIN_OF,
    build_model,
    make_adding_batch,
)
from keras_rnninit.benchmark.pipeline import format_pipeline_table, measure_input_pipeline
from keras_rnninit.benchmark.subprocesses import run_torch_rungs
from keras_rnninit.benchmark.tables import ROW_KEYS, add_ratios, describe_machine, format_table
from keras_rnninit.benchmark.timing import run_benchmark, time_training_step

__all__ = [
    "BACKENDS",
    "DEEP_MODELS",
    "DEEP_TWINS",
    "DEFAULT_TIMESTEPS",
    "KERAS_MODELS",
    "METHODS",
    "MODELS",
    "ROW_KEYS",
    "TORCH_MODELS",
    "TWIN_OF",
    "add_ratios",
    "build_model",
    "describe_machine",
    "format_pipeline_table",
    "format_table",
    "main",
    "make_adding_batch",
    "measure_input_pipeline",
    "run_benchmark",
    "run_torch_rungs",
    "time_training_step",
]
