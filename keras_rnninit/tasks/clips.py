"""Shared by the action-recognition data sets: frames sampled from a clip, a held-out share."""

import numpy as np
import tensorflow as tf

from keras_rnninit._validation import check_fraction, check_int


def segment_indices(length, frames, uniform_draws=None):
    """Indices of `frames` frames, one from each of `frames` equal segments of `[0, length)`.

    Evaluation takes each segment's middle frame; training (`uniform_draws` in [0, 1)) a random
    frame of each segment, as IndRNN does for NTU. Clips shorter than `frames` repeat frames.
    """
    edges = tf.cast(tf.floor(tf.linspace(0.0, tf.cast(length, tf.float32), frames + 1)), tf.int32)
    start = edges[:-1]
    width = tf.maximum(edges[1:] - start, 1)
    if uniform_draws is None:
        offset = width // 2
    else:
        offset = tf.cast(tf.floor(uniform_draws * tf.cast(width, tf.float32)), tf.int32)
    return tf.minimum(start + offset, length - 1)


def validation_mask(count, fraction, seed):
    """A seeded random subset of `round(count * fraction)` (at least 1) positions."""
    size = min(max(1, int(round(count * fraction))), count - 1)
    mask = np.zeros(count, dtype=bool)
    mask[np.random.default_rng(seed).choice(count, size=size, replace=False)] = True
    return mask


def check_split_arguments(owner, batch_size, shuffle_buffer, seed, validation_fraction):
    """The batching and held-out-share arguments both clip data sets take, checked; returns them
    as ints and a fraction in (0, 1)."""
    return (
        check_int("batch_size", batch_size, minimum=1, owner=owner),
        check_int("shuffle_buffer", shuffle_buffer, minimum=1, owner=owner),
        check_int("seed", seed, minimum=0, owner=owner),
        check_fraction("validation_fraction", validation_fraction, owner=owner, open_minimum=True),
    )
