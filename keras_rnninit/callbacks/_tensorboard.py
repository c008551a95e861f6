"""GradientFlowMonitor's figure as a TensorBoard image, one per measurement.

The per-step norms are numpy arrays by the time the monitor has them, so they are drawn with
matplotlib and written with `tf.summary.image` eagerly, outside any compiled step. That works
the same on every Keras backend: TensorFlow is needed as the writer of the event format (as for
Keras' own `keras.callbacks.TensorBoard`), not as the backend. An image keeps the time axis,
which a scalar series cannot: TensorBoard plots scalars against the training step, and the
per-step norms are a curve over time steps for each measurement.
"""

import numpy as np

from keras_rnninit._optional import import_summary
from keras_rnninit.callbacks.figures import plot_gradient_flow

IMAGE_TAG = "gradient_flow"


class GradientFlowImageWriter:
    """Writes the gradient-flow figure of the records so far as an image at a given step."""

    def __init__(self, log_dir):
        self.log_dir = log_dir
        self._summary = import_summary()
        self._writer = self._summary.create_file_writer(log_dir)

    def write(self, records, step, title=None):
        figure = plot_gradient_flow({"": records}, title=title)
        pixels = render(figure)
        with self._writer.as_default():
            self._summary.image(IMAGE_TAG, pixels[None], step=int(step))
        self._writer.flush()

    def close(self):
        self._writer.close()


def render(figure):
    """The figure's pixels as a `(height, width, 4)` uint8 array (RGBA)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba()).copy()
