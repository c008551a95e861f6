"""The IndRNN recurrence in one place: the math once (`indrnn`), loops per backend (`_loops`).

Named `recurrence`, not `kernels`, so that it does not read like the layers' `kernel` weight.

Internal: the public entry points are `keras_rnninit.IndRNN` and `keras_rnninit.IndRNNCell`.
"""

from keras_rnninit.recurrence.indrnn import (
    METHODS,
    ActivationSpec,
    activation_spec,
    compute_states,
    default_chunk_size,
    select_method,
    supported_methods,
)

__all__ = [
    "METHODS",
    "ActivationSpec",
    "activation_spec",
    "default_chunk_size",
    "compute_states",
    "select_method",
    "supported_methods",
]
