"""Clipping callbacks and gradient diagnostics.

`GradientClipping` and `RecurrentWeightClipping` configure work that runs inside the compiled
train step (optimizer clipping, variable constraints); `GradientFlowMonitor` measures gradients on
a held-out batch between steps.
"""

from keras_rnninit.callbacks.clipping import GradientClipping, RecurrentWeightClipping
from keras_rnninit.callbacks.figures import plot_gradient_flow
from keras_rnninit.callbacks.gradient_flow import GradientFlowError, GradientFlowMonitor

__all__ = [
    "GradientClipping",
    "GradientFlowError",
    "GradientFlowMonitor",
    "RecurrentWeightClipping",
    "plot_gradient_flow",
]
