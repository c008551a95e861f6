"""keras_rnninit: train plain ReLU recurrent networks on long sequences with Keras 3.

np-RNN and IRNN initializers for any Keras recurrent layer, an IndRNN cell and a fast IndRNN
layer, recurrent-weight constraints, clipping callbacks and gradient diagnostics, model builders,
and the papers' benchmark tasks as tf.data pipelines.
"""

from keras_rnninit import callbacks, constraints, initializers, layers, models
from keras_rnninit.callbacks import GradientClipping, GradientFlowMonitor, RecurrentWeightClipping
from keras_rnninit.constraints import MagnitudeBound, SpectralNormBound, indrnn_bounds
from keras_rnninit.initializers import (
    IdentityInitializer,
    IndRNNRecurrentInitializer,
    NPInitializer,
)
from keras_rnninit.layers import IndRNN, IndRNNCell, IndRNNStack, ResidualIndRNNBlock
from keras_rnninit.version import __version__

__all__ = [
    # Modules.
    "callbacks",
    "constraints",
    "initializers",
    "layers",
    "models",
    "tasks",
    # Initializers.
    "IdentityInitializer",
    "IndRNNRecurrentInitializer",
    "NPInitializer",
    # Layers.
    "IndRNN",
    "IndRNNCell",
    "IndRNNStack",
    "ResidualIndRNNBlock",
    # Constraints.
    "MagnitudeBound",
    "SpectralNormBound",
    "indrnn_bounds",
    # Callbacks.
    "GradientClipping",
    "GradientFlowMonitor",
    "RecurrentWeightClipping",
    "__version__",
]


# Imported on first use, not by `import keras_rnninit`: `tasks` needs TensorFlow (tf.data), an
# optional dependency, so the library imports on a JAX-only install; `experiment` (the examples'
# harness) and `benchmark` (the speed ladder) are applications built on the library, which the
# library never needs.
_LAZY_MODULES = ("benchmark", "experiment", "tasks")


def __getattr__(name):
    if name in _LAZY_MODULES:
        import importlib

        return importlib.import_module(f"keras_rnninit.{name}")
    raise AttributeError(f"module 'keras_rnninit' has no attribute {name!r}")
