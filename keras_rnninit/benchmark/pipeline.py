"""The adding problem's tf.data input pipeline, timed against the model's training throughput."""


def measure_input_pipeline(timesteps, batch_size=32, batches=50, rows=(), log=print):
    """Samples per second of the adding problem's tf.data pipeline against the model's need.

    For each length, times `keras_rnninit.tasks.adding_problem`'s training split (generated
    in-graph, batched, prefetched) with `keras_rnninit.tasks.measure_throughput`, and compares it
    with the training throughput of the fastest measured `IndRNN(method="auto")` row at that
    length in `rows` (over backends) (`batch_size / ms_per_step`). A headroom above 1 means the
    pipeline outruns the model, so training never waits on its input. Needs TensorFlow
    (tf.data); returns no rows without it. `log` gets one progress line per length, or is
    `None` for none.

    Returns:
        A list of dicts with `model="input_pipeline"`, `timesteps`, `batch_size`,
        `samples_per_second` (pipeline), `model_samples_per_second` and `headroom`.
    """
    try:
        from keras_rnninit import tasks
    except ImportError as error:  # No TensorFlow: no tf.data pipeline to measure.
        if log is not None:
            log(f"input pipeline: not measured ({error})")
        return []
    measured = []
    for length in timesteps:
        data = tasks.adding_problem(
            timesteps=length,
            batch_size=batch_size,
            train_size=batch_size * (batches + 10),
            validation_size=batch_size,
            test_size=batch_size,
        )
        result = tasks.measure_throughput(data.train, batches=batches)
        model_times = [
            row["ms_per_step"]
            for row in rows
            if row["model"] == "indrnn"
            and row["method"] == "auto"
            and row["timesteps"] == length
            and row.get("ms_per_step")
        ]
        model_rate = batch_size / (min(model_times) / 1000.0) if model_times else None
        measured.append(
            {
                "model": "input_pipeline",
                "method": None,
                "timesteps": length,
                "batch_size": batch_size,
                "samples_per_second": result["examples_per_second"],
                "model_samples_per_second": model_rate,
                "headroom": result["examples_per_second"] / model_rate if model_rate else None,
            }
        )
        if log is not None:
            log(f"input pipeline T={length}: {result['examples_per_second']:.0f} samples/s")
    return measured


def format_pipeline_table(measured):
    """The input-pipeline rows as a Markdown table."""
    lines = [
        "| T | pipeline samples/s | IndRNN(auto) training samples/s | headroom |",
        "|---|---|---|---|",
    ]
    for row in measured:
        model_rate = row["model_samples_per_second"]
        lines.append(
            f"| {row['timesteps']} | {row['samples_per_second']:.0f} | "
            + (f"{model_rate:.0f} | {row['headroom']:.1f}x |" if model_rate else "- | - |")
        )
    return "\n".join(lines)
