"""Keras layers: the IndRNN cell, the fast IndRNN layer and deep IndRNN blocks."""

from keras_rnninit.layers.blocks import IndRNNStack, ResidualIndRNNBlock
from keras_rnninit.layers.indrnn import IndRNN, IndRNNCell

__all__ = ["IndRNN", "IndRNNCell", "IndRNNStack", "ResidualIndRNNBlock"]
