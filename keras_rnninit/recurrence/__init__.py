"""The IndRNN recurrence in one place: the math once (`indrnn`), loops per backend (`_loops`).

Named `recurrence`, not `kernels`, so that it does not read like the layers' `kernel` weight.

Internal: the public entry points are `keras_rnninit.IndRNN` and `keras_rnninit.IndRNNCell`.
"""

from keras_rnninit.recurrence.indrnn import METHODS
from keras_rnninit.recurrence.indrnn import ActivationSpec
from keras_rnninit.recurrence.indrnn import activation_spec
from keras_rnninit.recurrence.indrnn import default_chunk_size
from keras_rnninit.recurrence.indrnn import compute_states
from keras_rnninit.recurrence.indrnn import select_method
from keras_rnninit.recurrence.indrnn import supported_methods

__all__ = [
    "METHODS",
    "ActivationSpec",
    "activation_spec",
    "default_chunk_size",
    "compute_states",
    "select_method",
    "supported_methods",
]
