"""keras_rnninit._validation, the one home of every argument check, and the arguments that were
silently misread or gave raw backend errors (issue 9, item 11)."""

import keras
import numpy as np
import pytest

import keras_rnninit
from keras_rnninit import _validation
from keras_rnninit.callbacks import GradientClipping, RecurrentWeightClipping
from keras_rnninit.constraints import SpectralNormBound


@pytest.mark.parametrize(
    "factory",
    [
        lambda: keras_rnninit.NPInitializer(seed=-1),
        lambda: keras_rnninit.IndRNNRecurrentInitializer(seed=-1),
        lambda: keras_rnninit.IndRNN(3, seed=-1),
        lambda: keras_rnninit.IndRNNStack(3, seed=-1),
        lambda: keras_rnninit.ResidualIndRNNBlock(3, seed=-1),
    ],
)
def test_negative_seed_is_a_value_error_on_every_backend(factory):
    """seed=-1 worked on TensorFlow and raised OverflowError on JAX."""
    with pytest.raises(ValueError, match="Received: seed=-"):
        factory()


@pytest.mark.parametrize(
    "factory,name",
    [
        (lambda: keras_rnninit.IndRNNStack(3, batch_norm="False"), "batch_norm"),
        (lambda: keras_rnninit.IndRNNStack(3, return_sequences="False"), "return_sequences"),
        (
            lambda: keras_rnninit.ResidualIndRNNBlock(3, return_sequences="False"),
            "return_sequences",
        ),
        (lambda: keras_rnninit.IndRNN(3, return_sequences="False"), "return_sequences"),
        (lambda: keras_rnninit.IndRNN(3, go_backwards=1), "go_backwards"),
        (lambda: GradientClipping(1.0, override="False"), "override"),
        (lambda: RecurrentWeightClipping(last_layer="False"), "last_layer"),
    ],
)
def test_string_booleans_are_refused(factory, name):
    """bool("False") is True: batch_norm="False" was taken as True."""
    with pytest.raises(ValueError, match=f"Received: {name}="):
        factory()


def test_indrnn_recurrent_initializer_needs_a_known_shape():
    with pytest.raises(ValueError, match=r"Received: shape=\(None, 4\)"):
        keras_rnninit.IndRNNRecurrentInitializer()((None, 4))


def test_spectral_norm_bound_on_a_vector_names_the_shape():
    with pytest.raises(ValueError, match=r"MagnitudeBound. Received: weight of shape=\(4,\)"):
        SpectralNormBound(1.0)(keras.ops.ones((4,)))
    # A matrix still works.
    w = np.eye(3, dtype="float32") * 2
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(SpectralNormBound(1.0)(w)), np.eye(3), atol=1e-3
    )


@pytest.mark.parametrize(
    "check, args, kwargs, message",
    [
        (
            _validation.check_int,
            ("units", 0),
            {"owner": "IndRNN"},
            "IndRNN: `units` must be a positive int. Received: units=0",
        ),
        (
            _validation.check_int,
            ("seed", -1),
            {"minimum": 0, "allow_none": True},
            "`seed` must be None or an int >= 0. Received: seed=-1",
        ),
        (_validation.check_int, ("layers", True), {}, "Received: layers=True"),
        (_validation.check_number, ("gamma", 0.5), {"minimum": 1}, "a finite number >= 1"),
        (_validation.check_number, ("x", float("nan")), {}, "Received: x=nan"),
        (_validation.check_positive, ("threshold", 0.0), {}, "a finite number > 0"),
        (_validation.check_fraction, ("dropout", 1.0), {}, r"a number in \[0, 1\)"),
        (
            _validation.check_fraction,
            ("momentum", 1.5),
            {"open_maximum": False},
            r"a number in \[0, 1\]",
        ),
        (
            _validation.check_fraction,
            ("share", 0.0),
            {"open_minimum": True},
            r"a number in \(0, 1\)",
        ),
        (
            _validation.check_bool,
            ("last_layer", "False"),
            {},
            "`last_layer` must be True or False. Received: last_layer='False'",
        ),
        (
            _validation.check_choice,
            ("mode", "l2"),
            {"choices": {"norm", "value"}},
            r"one of \['norm', 'value'\]. Received: mode='l2'",
        ),
    ],
)
def test_one_message_form(check, args, kwargs, message):
    with pytest.raises(ValueError, match=message):
        check(*args, **kwargs)


def test_checks_return_plain_values():
    assert _validation.check_int("units", np.int64(3)) == 3
    assert type(_validation.check_int("units", np.int64(3))) is int
    assert _validation.check_number("gamma", 2) == 2.0
    assert _validation.check_int("timesteps", None, allow_none=True) is None
    assert _validation.check_fraction("dropout", 0) == 0.0
