"""The package's top level: what `import keras_rnninit` loads, and what it leaves to first use."""

import json


def test_import_loads_the_library_but_no_application(run_in_fresh_process):
    out = run_in_fresh_process(
        """
        import json, sys
        import keras_rnninit
        before = sorted(m for m in sys.modules if m.startswith("keras_rnninit"))
        experiment = keras_rnninit.experiment
        benchmark = keras_rnninit.benchmark
        print(json.dumps({"before": before, "experiment": experiment.__name__,
                          "benchmark": benchmark.__name__}))
        """
    )
    found = json.loads(out.strip().splitlines()[-1])
    loaded = set(found["before"])
    assert not {
        m
        for m in loaded
        if m.startswith(
            ("keras_rnninit.experiment", "keras_rnninit.benchmark", "keras_rnninit.tasks")
        )
    }
    assert {"keras_rnninit.layers", "keras_rnninit.models", "keras_rnninit.callbacks"} <= loaded
    # Reached on first use, as `keras_rnninit.tasks` is.
    assert found["experiment"] == "keras_rnninit.experiment"
    assert found["benchmark"] == "keras_rnninit.benchmark"
