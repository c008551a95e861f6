"""The optional dependencies, imported where they are needed with an error that says what to
install: matplotlib for figures, TensorFlow and TensorBoard for event files. Any module of the
package may import this one (it imports nothing of the package)."""


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


def import_figure():
    """`matplotlib.figure.Figure`, or an ImportError that says what to install."""
    try:
        from matplotlib.figure import Figure
    except ImportError as error:
        raise ImportError(
            "Plotting gradient flow needs matplotlib: `pip install matplotlib` "
            "(or `pip install keras-rnninit[examples]`)."
        ) from error
    return Figure
