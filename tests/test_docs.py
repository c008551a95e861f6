"""The Python code blocks of README.md and docs/*.md run, so the documentation cannot drift from
the API.

The convention (docs/contributing.md says the same): every fenced block that opens with
```` ```python ```` has, on the line just above its opening fence, one of

- `<!-- runnable -->`: this test runs it;
- `<!-- not runnable: REASON -->`: it is shown, not run (say why: a fragment of a larger program,
  a command that needs real data or hours).

HTML comments render as nothing on GitHub and on the MkDocs site. A ```` ```python ```` block with
neither marker, or a marker not followed by one, fails `test_every_python_block_is_marked`: a new
block is a decision, not an accident.

The runnable blocks of one file run in order in one namespace, like the cells of a notebook (a
later block may use what an earlier one defined), in a temporary working folder (files a block
writes land there). Before the first block, the file's preamble from `PREAMBLES` runs: the tiny
data and model that the prose takes as given (`x`, `y`, `model`, ...), small enough that a
file's blocks run in seconds. Training commands in the blocks run as written, on that data.
"""

import os
import re
import textwrap

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUNNABLE = "<!-- runnable -->"
NOT_RUNNABLE = re.compile(r"^<!-- not runnable: \S.* -->$")
# An opening fence: indentation, three or more backticks or tildes, the info string.
FENCE = re.compile(r"^(\s*)(`{3,}|~{3,})\s*([^`\s]*)")

# What each file's prose assumes before its first block.
PREAMBLES = {
    # The Usage block fits `x`, `y` into a (784, 1) -> 10-class model: four sequences.
    "README.md": """
        import numpy as np

        rng = np.random.default_rng(0)
        x = rng.uniform(size=(4, 784, 1)).astype("float32")
        y = rng.integers(0, 10, size=(4,))
    """,
    # The callbacks guide compiles and fits a `model` it does not build, on `x`, `y` (and a
    # held-out `x_val`, `y_val`): a one-layer ReLU SimpleRNN on ten steps.
    "docs/callbacks.md": """
        import keras
        import numpy as np

        rng = np.random.default_rng(0)
        x = rng.normal(size=(16, 10, 2)).astype("float32")
        y = rng.normal(size=(16, 1)).astype("float32")
        x_val, y_val = x[:8], y[:8]
        model = keras.Sequential([
            keras.Input((10, 2)),
            keras.layers.SimpleRNN(4, activation="relu", name="rnn"),
            keras.layers.Dense(1),
        ])
    """,
}


def documentation_files():
    docs = os.path.join(ROOT, "docs")
    names = sorted(name for name in os.listdir(docs) if name.endswith(".md"))
    return ["README.md"] + [f"docs/{name}" for name in names]


def fenced_blocks(path):
    """`[(line number, info string, line above, code)]` for every top-level fenced block.

    A fence inside another (a Markdown example of a fence, in a ````` ```` ````` block) is
    part of the outer block's code, not a block of its own.
    """
    with open(os.path.join(ROOT, path), encoding="utf-8") as handle:
        lines = handle.read().split("\n")
    blocks, index = [], 0
    while index < len(lines):
        match = FENCE.match(lines[index])
        if not match:
            index += 1
            continue
        indent, fence, info = match.groups()
        start = index
        index += 1
        code = []
        while index < len(lines) and not (
            lines[index].strip().startswith(fence) and set(lines[index].strip()) == {fence[0]}
        ):
            line = lines[index]
            code.append(line[len(indent) :] if line.startswith(indent) else line)
            index += 1
        above = lines[start - 1].strip() if start > 0 else ""
        blocks.append((start + 1, info, above, "\n".join(code) + "\n"))
        index += 1
    return blocks


def python_blocks(path):
    """`[(line number, marker line, code)]` for every ```python block of the file."""
    return [
        (line, above, code) for line, info, above, code in fenced_blocks(path) if info == "python"
    ]


def dangling_markers(path):
    """Line numbers of markers (outside code blocks) not directly above a ```python fence."""
    with open(os.path.join(ROOT, path), encoding="utf-8") as handle:
        lines = handle.read().split("\n")
    inside = set()
    for line, _, _, code in fenced_blocks(path):
        inside.update(range(line, line + code.count("\n") + 2))
    marked = {line - 1 for line, _, _ in python_blocks(path)}
    return [
        number + 1
        for number, text in enumerate(lines)
        if (text.strip() == RUNNABLE or NOT_RUNNABLE.match(text.strip()))
        and number + 1 not in inside
        and number + 1 not in marked
    ]


def test_every_python_block_is_marked():
    problems = []
    for path in documentation_files():
        for line, marker, _ in python_blocks(path):
            if marker != RUNNABLE and not NOT_RUNNABLE.match(marker):
                problems.append(f"{path}:{line}: ```python block without a marker line above it")
        problems += [
            f"{path}:{line}: marker not followed by a ```python fence"
            for line in dangling_markers(path)
        ]
    assert not problems, "\n".join(problems)


def test_the_readme_usage_block_is_run():
    # The README's snippet is the first code a user copies: it must stay runnable.
    assert any(marker == RUNNABLE for _, marker, _ in python_blocks("README.md"))


def test_fences_inside_a_block_and_dangling_markers(tmp_path):
    page = tmp_path / "page.md"
    page.write_text(
        "<!-- runnable -->\n```python\nx = 1\n```\n"
        "````markdown\n<!-- runnable -->\n```python\nnot run\n```\n````\n"
        "<!-- runnable -->\n\n```bash\nls\n```\n"
    )
    assert python_blocks(str(page)) == [(2, RUNNABLE, "x = 1\n")]
    assert [info for _, info, _, _ in fenced_blocks(str(page))] == ["python", "markdown", "bash"]
    assert dangling_markers(str(page)) == [11]


def test_a_block_that_fails_is_reported_with_its_file_and_line(tmp_path, monkeypatch):
    """The runner itself: a broken block fails the test, naming where it is."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(AssertionError, match=r"docs/x\.md:3"):
        run_blocks("docs/x.md", [(3, RUNNABLE, "1 / 0\n")])


def run_blocks(path, blocks):
    namespace = {"__name__": f"docs_{os.path.basename(path)}"}
    preamble = textwrap.dedent(PREAMBLES.get(path, ""))
    exec(compile(preamble, f"{path} (preamble)", "exec"), namespace)
    ran = 0
    for line, marker, code in blocks:
        if marker != RUNNABLE:
            continue
        try:
            exec(compile(code, f"{path}:{line}", "exec"), namespace)
        except Exception as error:
            raise AssertionError(f"{path}:{line}: the block failed: {error!r}") from error
        ran += 1
    return ran


def files_with_runnable_blocks():
    return [
        path
        for path in documentation_files()
        if any(marker == RUNNABLE for _, marker, _ in python_blocks(path))
    ]


@pytest.mark.parametrize("path", files_with_runnable_blocks())
def test_runnable_blocks_run(path, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert run_blocks(path, python_blocks(path)) >= 1


def _build_site(tmp_path, index_text):
    """`mkdocs build --strict` of a one-page site that uses docs/hooks/folders.py."""
    pytest.importorskip("mkdocs")
    import subprocess
    import sys

    docs = tmp_path / "docs"
    (docs / "runs" / "a").mkdir(parents=True, exist_ok=True)
    (docs / "runs" / "a" / "metrics.json").write_text('{"loss": 0.5}\n')
    (docs / "runs" / "a" / "curve.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    (docs / "index.md").write_text(index_text)
    hook = os.path.join(ROOT, "docs", "hooks", "folders.py")
    (tmp_path / "mkdocs.yml").write_text(
        f"site_name: t\nuse_directory_urls: false\nhooks: [{hook!r}]\n"
        "validation: {unrecognized_links: warn}\n"
    )
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(tmp_path / "mkdocs.yml")],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_folder_links_get_a_page_and_a_missing_folder_fails_the_build(tmp_path):
    """docs/hooks/folders.py: a link to a folder of docs/ works on the site (a generated page
    lists its files and shows its PNGs); a link to a folder that is not there fails --strict."""
    done = _build_site(
        tmp_path,
        "# t\n\n[run a](runs/a/) and `[not a link](runs/none/)`\n\n"
        "```\n[in code](runs/none/)\n```\n",
    )
    assert done.returncode == 0, done.stderr[-3000:]
    site = tmp_path / "site"
    assert 'href="runs/a/index.html"' in (site / "index.html").read_text()
    page = (site / "runs" / "a" / "index.html").read_text()
    assert 'src="curve.png"' in page and "&quot;loss&quot;: 0.5" in page
    assert (site / "runs" / "index.html").exists()

    broken = _build_site(tmp_path, "# t\n\n[missing](runs/none/)\n")
    assert broken.returncode != 0
    assert "runs/none/index.md" in broken.stderr
