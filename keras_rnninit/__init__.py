"""keras_rnninit: train plain ReLU recurrent networks on long sequences with Keras 3.

np-RNN and IRNN initializers for any Keras recurrent layer, an IndRNN cell and a fast IndRNN
layer, recurrent-weight constraints, clipping callbacks and gradient diagnostics, model builders,
and the papers' benchmark tasks as tf.data pipelines.
"""

from keras_rnninit import callbacks
from keras_rnninit import constraints
from keras_rnninit import experiment
from keras_rnninit import initializers
from keras_rnninit import layers
from keras_rnninit import models
from keras_rnninit.callbacks import GradientClipping
from keras_rnninit.callbacks import GradientFlowMonitor
from keras_rnninit.callbacks import RecurrentWeightClipping
from keras_rnninit.constraints import MagnitudeBound
from keras_rnninit.constraints import SpectralNormBound
from keras_rnninit.constraints import indrnn_bounds
from keras_rnninit.initializers import IdentityInitializer
from keras_rnninit.initializers import IndRNNRecurrentInitializer
from keras_rnninit.initializers import NPInitializer
from keras_rnninit.layers import IndRNN
from keras_rnninit.layers import IndRNNCell
from keras_rnninit.layers import IndRNNStack
from keras_rnninit.layers import ResidualIndRNNBlock
from keras_rnninit.version import __version__

__all__ = [
    # Modules.
    "callbacks",
    "constraints",
    "experiment",
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


def __getattr__(name):
    # `keras_rnninit.tasks` needs TensorFlow (tf.data), an optional dependency: import it on first
    # use so that `import keras_rnninit` works on a JAX-only install.
    if name == "tasks":
        import importlib

        return importlib.import_module("keras_rnninit.tasks")
    raise AttributeError(f"module 'keras_rnninit' has no attribute {name!r}")
