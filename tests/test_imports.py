"""The package's own imports, read from its source: no import circle between its modules, and
only Keras' and TensorFlow's public API (never `keras.src` or `tensorflow.python`)."""

import ast
import os
import pathlib
import subprocess
import sys

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parent.parent / "keras_rnninit"
PRIVATE_APIS = ("keras.src", "tensorflow.python")


def _modules():
    """`{dotted name: path}` for every module of the package (`pkg` for `pkg/__init__.py`)."""
    modules = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def _imported_names(tree, name, is_package):
    """`(module, names)` for every `import` and `from ... import` in `tree`: the module imported
    (relative ones made absolute) and, for `from a import b`, the dotted `a.b` of each name (b
    may be a submodule)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, []
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = name.split(".") if is_package else name.split(".")[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            yield base, [f"{base}.{alias.name}" for alias in node.names]


def _graph():
    """`{module: set of package modules it imports}`, and the private-API imports found."""
    modules = _modules()
    graph, private = {}, []
    for name, path in modules.items():
        tree = ast.parse(path.read_text(), filename=str(path))
        edges = set()
        for base, names in _imported_names(tree, name, path.name == "__init__.py"):
            if base.startswith(PRIVATE_APIS):
                private.append(f"{name}: {base}")
            targets = [n for n in names if n in modules]
            # `from pkg import submodule` depends on the submodule; `from pkg import name`
            # (a name the package defines or re-exports) on the package's __init__.
            if not targets and base in modules:
                targets = [base]
            edges.update(t for t in targets if t != name)
        graph[name] = edges
    return graph, private


def _cycles(graph):
    """The import circles, each as the list of modules around it (Tarjan's strongly connected
    components of more than one module)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in sorted(graph[node]):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def _parents(name):
    parts = name.split(".")
    return {".".join(parts[:i]) for i in range(1, len(parts))}


@pytest.mark.backend_independent
def test_no_import_circle_between_the_package_modules():
    graph, _ = _graph()
    assert "keras_rnninit.callbacks.gradient_flow" in graph  # the reader found the modules
    # A package's __init__ imports its submodules and a submodule's import of its own package
    # runs that __init__ first; only imports between modules that are not each other's
    # packages count.
    graph = {m: {t for t in edges if t not in _parents(m)} for m, edges in graph.items()}
    assert _cycles(graph) == []


def test_the_circle_finder_finds_a_circle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(graph) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


@pytest.mark.backend_independent
def test_no_import_of_keras_or_tensorflow_internals():
    _, private = _graph()
    assert private == []


def test_the_private_api_check_sees_an_import():
    tree = ast.parse("from keras.src.layers import RNN\nimport tensorflow.python.ops as o\n")
    names = [base for base, _ in _imported_names(tree, "m", False)]
    assert names == ["keras.src.layers", "tensorflow.python.ops"]
    assert all(n.startswith(PRIVATE_APIS) for n in names)


def test_the_package_imports_without_docstrings():
    """`python -OO` strips docstrings; nothing the package runs at import may need them."""
    done = subprocess.run(
        [sys.executable, "-OO", "-c", "import keras_rnninit, keras_rnninit.models"],
        capture_output=True,
        text=True,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"),
        cwd=str(PACKAGE.parent),
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
