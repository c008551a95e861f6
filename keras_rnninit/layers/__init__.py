"""Keras layers: the IndRNN cell, the fast IndRNN layer and deep IndRNN blocks."""

from keras_rnninit.layers.indrnn import IndRNN
from keras_rnninit.layers.indrnn import IndRNNCell
from keras_rnninit.layers.blocks import IndRNNStack
from keras_rnninit.layers.blocks import ResidualIndRNNBlock

__all__ = ["IndRNN", "IndRNNCell", "IndRNNStack", "ResidualIndRNNBlock"]
