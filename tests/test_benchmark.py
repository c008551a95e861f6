"""The speed benchmark's harness: rows, ratios, skipping, JSON. No timing is asserted."""

import json
import math

import keras
import numpy as np
import pytest
from helpers import JIT_COMPILE_UNLESS_TF

from keras_rnninit import benchmark


def _check_row(row, backend):
    for key in benchmark.ROW_KEYS:
        assert key in row, key
    assert row["backend"] == backend
    assert row["model"] in benchmark.MODELS
    assert (row["method"] in benchmark.METHODS) == (row["model"] == "indrnn")
    if row["ms_per_step"] is None:
        # A row without a time always says why.
        assert row["note"]
        assert row["vs_twin"] is None and row["vs_indrnn_auto"] is None
    else:
        assert row["ms_per_step"] > 0 and math.isfinite(row["ms_per_step"])
        assert row["repeats"] >= 1
        assert row["ms_min"] <= row["ms_per_step"] <= row["ms_max"]
        assert math.isfinite(row["loss"])


def test_tiny_run_gives_well_formed_rows():
    rows = benchmark.run_benchmark(
        models=("twin", "simple_rnn"), timesteps=(8,), repeats=1, warmup=0, units=8
    )
    backend = keras.backend.backend()
    assert [(r["model"], r["timesteps"]) for r in rows] == [("twin", 8), ("simple_rnn", 8)]
    for row in rows:
        _check_row(row, backend)
        assert row["note"] is None
        assert row["repeats"] == 1
        assert (row["batch_size"], row["input_dim"], row["units"], row["layers"]) == (32, 2, 8, 2)
        assert row["jit_compile"] is True
    twin, simple = rows
    assert twin["vs_twin"] == 1.0
    assert simple["vs_twin"] == pytest.approx(simple["ms_per_step"] / twin["ms_per_step"])
    table = benchmark.format_table(rows)
    assert table.count("\n") == 3  # header, rule, two rows
    assert "| simple_rnn |" in table


def test_main_writes_json(tmp_path, capsys):
    path = tmp_path / "rows.json"
    status = benchmark.main(
        [
            "--models",
            "twin,indrnn",
            "--methods",
            "auto",
            "--timesteps",
            "8",
            "--repeats",
            "1",
            "--warmup",
            "0",
            "--units",
            "8",
            "--output",
            str(path),
            "--quiet",
        ]
    )
    assert status == 0
    rows = json.loads(path.read_text())
    assert isinstance(rows, list) and len(rows) == 3
    for row in rows[:2]:
        _check_row(row, keras.backend.backend())
    assert [r["model"] for r in rows] == ["twin", "indrnn", "input_pipeline"]
    assert rows[1]["method"] == "auto"
    # The input pipeline's row: its rate against the IndRNN row's training rate (batch 32).
    pipeline = rows[2]
    assert pipeline["timesteps"] == 8 and pipeline["samples_per_second"] > 0
    model_rate = 32 / (rows[1]["ms_per_step"] / 1000.0)
    assert pipeline["model_samples_per_second"] == pytest.approx(model_rate)
    assert pipeline["headroom"] == pytest.approx(pipeline["samples_per_second"] / model_rate)
    out = capsys.readouterr().out
    assert "| backend | T | model |" in out
    assert "| T | pipeline samples/s |" in out
    assert "keras" in out  # the machine line names the versions


def test_twin_has_no_recurrence():
    network = benchmark.build_model("twin", timesteps=6, batch_size=4, units=8)
    inputs, _ = benchmark.make_adding_batch(4, 6)
    changed = inputs.copy()
    changed[:, :-1] = np.random.default_rng(1).uniform(size=changed[:, :-1].shape)
    # Only the last step reaches the output: the floor of the ladder carries nothing over time.
    before = network.predict(inputs, verbose=0)
    np.testing.assert_allclose(before, network.predict(changed, verbose=0))
    changed[:, -1] += 1.0
    assert not np.allclose(before, network.predict(changed, verbose=0))


def test_adding_batch_targets_are_the_marked_sums():
    inputs, targets = benchmark.make_adding_batch(5, 20, seed=3)
    assert inputs.shape == (5, 20, 2) and targets.shape == (5, 1)
    np.testing.assert_array_equal(inputs[:, :, 1].sum(axis=1), 2.0)
    np.testing.assert_allclose(
        targets[:, 0], (inputs[:, :, 0] * inputs[:, :, 1]).sum(axis=1), rtol=1e-6
    )


def _row(model, ms, timesteps=100, method=None):
    return {
        "backend": "b",
        "model": model,
        "method": method,
        "timesteps": timesteps,
        "batch_size": 32,
        "input_dim": 2,
        "units": 128,
        "layers": 2,
        "jit_compile": True,
        "ms_per_step": ms,
        "repeats": 1,
        "note": None,
    }


def test_ratios_match_rows_of_the_same_setting():
    rows = [
        _row("twin", 10.0),
        _row("indrnn", 20.0, method="auto"),
        _row("indrnn", 40.0, method="sequential"),
        _row("lstm", 200.0),
        _row("lstm", 999.0, timesteps=200),  # no twin or IndRNN at T=200
        _row("simple_rnn", None),
    ]
    benchmark.add_ratios(rows)
    assert [r["vs_twin"] for r in rows] == [1.0, 2.0, 4.0, 20.0, None, None]
    assert [r["vs_indrnn_auto"] for r in rows] == [0.5, 1.0, 2.0, 10.0, None, None]


def test_prediction_follows_the_measured_growth():
    # Quadratic growth measured from two lengths is extrapolated quadratically.
    history = {100: (10.0, 1.0), 200: (40.0, 1.0)}
    predicted = benchmark.timing._predict_seconds(history, 400, warmup=0, repeats=1)
    step = 0.160  # 40 ms * (400 / 200)^2
    compile_extra = 1.0 - 0.040
    assert predicted == pytest.approx(compile_extra + 2 * step)
    # Growth below linear is assumed linear; nothing measured predicts nothing.
    flat = {100: (10.0, 0.0), 200: (10.0, 0.0)}
    assert benchmark.timing._predict_seconds(flat, 400, 0, 1) == pytest.approx(2 * 0.020)
    assert benchmark.timing._predict_seconds({}, 400, 0, 1) is None


def test_rows_past_the_budget_are_skipped_with_a_note(monkeypatch):
    calls = []

    def fake_time(network, inputs, targets, repeats, warmup, max_seconds):
        length = inputs.shape[1]
        calls.append(length)
        # A rung whose step costs T^2 / 100 ms, with a free compile.
        ms = length**2 / 100.0
        return {
            "ms_per_step": ms,
            "ms_min": ms,
            "ms_max": ms,
            "repeats": repeats,
            "first_step_s": ms / 1000.0,
            "loss": 0.0,
        }

    monkeypatch.setattr(benchmark.timing, "time_training_step", fake_time)
    rows = benchmark.run_benchmark(
        models=("twin",),
        timesteps=(10, 20, 400),
        repeats=1,
        warmup=0,
        units=4,
        max_seconds_per_row=2.0,
    )
    # Predicted at T=400: 4 ms * 20^2 = 1.6 s per step, twice (compile step and one timed): > 2 s.
    assert calls == [10, 20]
    assert rows[2]["ms_per_step"] is None
    assert rows[2]["note"].startswith("skipped: predicted")


def test_a_failing_rung_becomes_a_row(monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("no fast path here")

    monkeypatch.setattr(benchmark.timing, "build_model", broken)
    rows = benchmark.run_benchmark(models=("lstm",), timesteps=(4, 8), repeats=1, warmup=0)
    assert rows[0]["note"] == "failed: RuntimeError: no fast path here"
    assert rows[1]["note"] == "skipped: failed at a shorter length"
    assert all(r["ms_per_step"] is None for r in rows)


@pytest.mark.parametrize(
    "argv", [["--models", "gru"], ["--methods", "fast"], ["--repeats", "0"], ["--timesteps", "0"]]
)
def test_bad_options_are_rejected(argv, capsys):
    with pytest.raises(SystemExit) as error:
        benchmark.main(argv)
    assert error.value.code == 2
    assert argv[0] in capsys.readouterr().err


def test_bad_model_names_raise():
    with pytest.raises(ValueError, match="Received: model='gru'"):
        benchmark.build_model("gru", timesteps=4)


def test_strip_options_drops_the_options_and_their_values():
    argv = ["--backends", "jax,tensorflow", "--timesteps", "8", "--output=x.json", "--quiet"]
    assert benchmark.subprocesses.strip_options(argv, ("--backends", "--output")) == [
        "--timesteps",
        "8",
        "--quiet",
    ]


def test_backends_run_in_subprocesses_and_merge(tmp_path, capsys):
    path = tmp_path / "rows.json"
    backend = keras.backend.backend()
    status = benchmark.main(
        [
            "--backends",
            backend,
            "--models",
            "twin",
            "--timesteps",
            "4",
            "--repeats",
            "1",
            "--warmup",
            "0",
            "--units",
            "4",
            "--output",
            str(path),
            "--quiet",
            "--no-pipeline",
        ]
    )
    assert status == 0
    rows = json.loads(path.read_text())
    assert len(rows) == 1
    _check_row(rows[0], backend)
    assert rows[0]["vs_twin"] == 1.0
    assert f"| {backend} | 4 | twin |" in capsys.readouterr().out


def _count_layers(layer, kind):
    found = 1 if isinstance(layer, kind) else 0
    for sublayer in getattr(layer, "_layers", []) or []:
        found += _count_layers(sublayer, kind)
    return found


@pytest.mark.parametrize("recipe", benchmark.DEEP_MODELS)
def test_deep_twin_is_the_recipe_without_recurrence(recipe):
    import keras_rnninit

    twin_name = benchmark.TWIN_OF[recipe]
    deep = benchmark.build_model(recipe, timesteps=6, batch_size=4, units=4, layers=4, dropout=0.1)
    twin = benchmark.build_model(
        twin_name, timesteps=6, batch_size=4, units=4, layers=4, dropout=0.1
    )
    # Every IndRNN layer became a Dense of the same width: the twin lacks exactly the 4
    # recurrent vectors of 4 units, and keeps every batch normalization and dropout.
    assert deep.count_params() - twin.count_params() == 4 * 4
    assert _count_layers(deep, keras_rnninit.IndRNN) == 4
    assert _count_layers(twin, keras_rnninit.IndRNN) == 0
    for kind in (keras.layers.BatchNormalization, keras.layers.Dropout):
        assert _count_layers(deep, kind) == _count_layers(twin, kind) > 0
    # Nothing but the last step reaches the twin's output (no recurrence, no mixing over time
    # outside batch normalization's statistics, which inference does not use).
    inputs, _ = benchmark.make_adding_batch(4, 6)
    changed = inputs.copy()
    changed[:, :-1] += 1.0
    np.testing.assert_allclose(
        twin.predict(inputs, verbose=0), twin.predict(changed, verbose=0), rtol=1e-5
    )


def test_deep_rungs_run_with_their_own_twins():
    models = ("bn_indrnn_twin", "bn_indrnn", "res_indrnn_twin", "res_indrnn")
    # The rows and their ratios are the subject, not XLA: test_tiny_run_gives_well_formed_rows
    # runs the ladder's XLA default.
    rows = benchmark.run_benchmark(
        models=models,
        methods=("auto",),
        timesteps=(6,),
        repeats=1,
        warmup=0,
        units=4,
        dropout=0.1,
        jit_compile=JIT_COMPILE_UNLESS_TF,
    )
    backend = keras.backend.backend()
    by_model = {row["model"]: row for row in rows}
    for row in rows:
        _check_row(row, backend)
        assert row["note"] is None, row["note"]
    for recipe in benchmark.DEEP_MODELS:
        row = by_model[recipe]
        twin = by_model[benchmark.TWIN_OF[recipe]]
        assert row["dropout"] == twin["dropout"] == 0.1
        assert row["vs_twin"] == pytest.approx(row["ms_per_step"] / twin["ms_per_step"])


def test_residual_rungs_need_an_even_depth():
    rows = benchmark.run_benchmark(
        models=("res_indrnn",), timesteps=(4,), repeats=1, warmup=0, units=4, layers=3
    )
    assert rows[0]["ms_per_step"] is None
    assert "Received: layers=3" in rows[0]["note"]


def test_ratios_of_deep_and_torch_rows():
    rows = [
        _row("twin", 10.0),
        _row("indrnn", 20.0, method="auto"),
        {**_row("bn_indrnn_twin", 15.0), "dropout": 0.0},
        {**_row("bn_indrnn", 30.0), "dropout": 0.0},
        {**_row("indrnn", 16.0, method="auto"), "backend": "other"},
        {**_row("torch_twin", 8.0), "backend": "torch", "jit_compile": False},
        {**_row("torch_lstm", 80.0), "backend": "torch", "jit_compile": False},
    ]
    benchmark.add_ratios(rows)
    # A deep recipe against its own twin, and against IndRNN(auto) of its backend.
    assert rows[3]["vs_twin"] == 2.0 and rows[3]["vs_indrnn_auto"] == 1.5
    # PyTorch rows: against PyTorch's twin, and against the fastest Keras backend's IndRNN.
    assert rows[6]["vs_twin"] == 10.0 and rows[6]["vs_indrnn_auto"] == 5.0


def test_torch_rungs_are_skipped_without_torch(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(benchmark.subprocesses, "_torch_installed", lambda: False)
    rows = benchmark.run_torch_rungs(timesteps=(4, 8), units=4, repeats=1, warmup=0)
    assert [(r["model"], r["timesteps"]) for r in rows] == [
        (m, t) for t in (4, 8) for m in benchmark.TORCH_MODELS
    ]
    for row in rows:
        _check_row(row, "torch")
        assert row["note"].startswith("skipped: torch is not installed")
    # The command line carries on with the Keras rows.
    path = tmp_path / "rows.json"
    status = benchmark.main(
        [
            "--models",
            "twin,torch_lstm",
            "--timesteps",
            "4",
            "--repeats",
            "1",
            "--warmup",
            "0",
            "--units",
            "4",
            "--no-pipeline",
            "--quiet",
            "--output",
            str(path),
        ]
    )
    assert status == 0
    assert [r["model"] for r in json.loads(path.read_text())] == ["twin", "torch_lstm"]


def test_torch_rungs_run_in_their_own_process():
    pytest.importorskip("torch")
    rows = benchmark.run_torch_rungs(timesteps=(4,), units=4, repeats=1, warmup=0)
    assert [r["model"] for r in rows] == list(benchmark.TORCH_MODELS)
    for row in rows:
        _check_row(row, "torch")
        assert row["jit_compile"] is False and row["input_dim"] == 2
    assert rows[0]["vs_twin"] == 1.0


def test_torch_indrnn_loop_is_the_indrnn_recurrence():
    torch = pytest.importorskip("torch")
    from keras_rnninit.benchmark import torch_rungs

    network = torch_rungs.build_network("torch_indrnn_loop", timesteps=5, units=3, layers=1)
    layer = network.body[0]
    inputs, _ = benchmark.make_adding_batch(2, 5)
    with torch.no_grad():
        states = layer(torch.from_numpy(inputs)).numpy()
        kernel = layer.projection.weight.numpy().T
        bias = layer.projection.bias.numpy()
        u = layer.recurrent.numpy()
    expected = np.zeros((2, 3), "float32")
    for step in range(5):
        expected = np.maximum(inputs[:, step] @ kernel + bias + u * expected, 0.0)
        np.testing.assert_allclose(states[:, step], expected, rtol=1e-5, atol=1e-6)
    # The bound is enforced after an update, as the Keras rungs' constraint does.
    with torch.no_grad():
        layer.recurrent.fill_(3.0)
    network.constrain()
    assert float(layer.recurrent.detach().max()) == pytest.approx(2.0 ** (1 / 5))


def test_the_torch_rungs_script_imports_neither_keras_nor_the_package(run_in_fresh_process):
    # The parent runs the file as a script (not `-m`, which would import the package and Keras),
    # so that no backend's thread pool shares the process that times PyTorch.
    from keras_rnninit.benchmark import torch_rungs

    out = run_in_fresh_process(
        f"""
        import json, runpy, sys
        sys.argv = [{torch_rungs.__file__!r}, "--help"]
        try:
            runpy.run_path({torch_rungs.__file__!r}, run_name="__main__")
        except SystemExit:
            pass
        loaded = sorted({{m.split(".")[0] for m in sys.modules}}
                        & {{"keras", "keras_rnninit", "tensorflow", "jax", "torch"}})
        print(json.dumps(loaded))
        """
    )
    assert json.loads(out.strip().splitlines()[-1]) == []
