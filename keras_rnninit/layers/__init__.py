"""Keras layers: the IndRNN cell and the fast IndRNN layer."""

from keras_rnninit.layers.indrnn import IndRNN
from keras_rnninit.layers.indrnn import IndRNNCell

__all__ = ["IndRNN", "IndRNNCell"]
