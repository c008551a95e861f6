"""The IndRNN recurrence in one place: the math once (`recurrence`), loops per backend (`_loops`).

Internal: the public entry points are `keras_rnninit.IndRNN` and `keras_rnninit.IndRNNCell`.
"""

from keras_rnninit.kernels.indrnn import METHODS
from keras_rnninit.kernels.indrnn import ActivationSpec
from keras_rnninit.kernels.indrnn import activation_spec
from keras_rnninit.kernels.indrnn import default_chunk_size
from keras_rnninit.kernels.indrnn import recurrence
from keras_rnninit.kernels.indrnn import select_method
from keras_rnninit.kernels.indrnn import supported_methods

__all__ = [
    "METHODS",
    "ActivationSpec",
    "activation_spec",
    "default_chunk_size",
    "recurrence",
    "select_method",
    "supported_methods",
]
