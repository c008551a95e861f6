"""GradientFlowMonitor's figure as a TensorBoard image, one per measurement.

The per-step norms are numpy arrays by the time the monitor has them, so they are drawn with
matplotlib and written with `tf.summary.image` eagerly, outside any compiled step. That works
the same on every Keras backend: TensorFlow is needed as the writer of the event format (as for
Keras' own `keras.callbacks.TensorBoard`), not as the backend. An image keeps the time axis,
which a scalar series cannot: TensorBoard plots scalars against the training step, and the
per-step norms are a curve over time steps for each measurement.
"""

import numpy as np

IMAGE_TAG = "gradient_flow"


def import_summary(user="GradientFlowMonitor(tensorboard_dir=...)"):
    """`tf.summary`, or an ImportError that names what to install.

    `tf.summary` is TensorFlow's API, but its writers are in the tensorboard package, which
    TensorFlow 2.21 no longer installs: without it, `tf.summary.scalar` raises
    `TBNotInstalledError` at the first write, after training has started.
    """
    missing = []
    for module, package in (("tensorflow", "tensorflow"), ("tensorboard", "tensorboard")):
        try:
            __import__(module)
        except ImportError:
            missing.append(package)
    if missing:
        raise ImportError(
            f"{user} writes TensorBoard event files with tf.summary, which needs TensorFlow "
            f"and TensorBoard installed (on any Keras backend); missing: {', '.join(missing)}. "
            f"`pip install {' '.join(missing)}` "
            "(or `pip install keras-rnninit[tensorflow,examples]`)."
        )
    import tensorflow as tf

    return tf.summary


class GradientFlowImageWriter:
    """Writes the gradient-flow figure of the records so far as an image at a given step."""

    def __init__(self, log_dir):
        self.log_dir = log_dir
        self._summary = import_summary()
        self._writer = self._summary.create_file_writer(log_dir)

    def write(self, records, step, title=None):
        # Imported here: gradient_flow imports this module.
        from keras_rnninit.callbacks.gradient_flow import plot_gradient_flow

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
