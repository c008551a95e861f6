"""The release path: the version agrees everywhere, and the built wheel works on its own.

`.github/workflows/release.yml` runs the same two scripts on a tag (`release_check.py` on the
built sdist and wheel, `smoke_test.py` in a fresh environment per backend). Here the wheel is
built without build isolation (no network) and its contents are put on `PYTHONPATH` ahead of
the editable install, so the smoke test imports the wheel's files, not the source tree's.
"""

import importlib.util
import os
import subprocess
import sys
import zipfile

import keras
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The wheel is built in the checkout (build/, *.egg-info): the tests that need it share one
# pytest-xdist worker, so it is built once and never by two workers at the same time.
pytestmark = pytest.mark.xdist_group("wheel")
SCRIPTS = os.path.join(ROOT, ".github", "scripts")


def _release_check():
    spec = importlib.util.spec_from_file_location(
        "release_check", os.path.join(SCRIPTS, "release_check.py")
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    """The wheel `python -m build` makes from this checkout."""
    pytest.importorskip("build")
    out = tmp_path_factory.mktemp("dist")
    done = subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(out), ROOT],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    (path,) = [os.path.join(out, name) for name in os.listdir(out) if name.endswith(".whl")]
    return path


def test_version_changelog_and_wheel_metadata_agree(wheel):
    check = _release_check()
    version = check.package_version()
    import keras_rnninit

    assert keras_rnninit.__version__ == version
    assert check.changelog_releases()[0][0] == version
    assert check.distribution_version(wheel) == version
    assert os.path.basename(wheel).startswith(f"keras_rnninit-{version}-")
    assert check.problems(tag=f"v{version}", distributions=[wheel]) == []
    assert check.main(["--tag", f"v{version}", wheel]) == 0


def test_release_check_names_each_disagreement(wheel, tmp_path, capsys):
    check = _release_check()
    (tmp_path / "keras_rnninit").mkdir()
    (tmp_path / "keras_rnninit" / "version.py").write_text('__version__ = "0.2.0"\n')
    (tmp_path / "CHANGELOG.md").write_text(
        "# Changelog\n\n## [Unreleased]\n\n## [0.1.0] - 2026-12-03\n"
    )
    found = check.problems(str(tmp_path), tag="v0.1.0", distributions=[wheel])
    assert len(found) == 3, found
    assert "newest release is 0.1.0" in found[0] and "the tag is v0.1.0" in found[1]
    assert os.path.basename(wheel) in found[2]
    assert check.main(["--tag", "v9.9.9"]) == 1
    assert "the tag is v9.9.9" in capsys.readouterr().err


@pytest.mark.parametrize(
    "changelog, message",
    [
        ("# Changelog\n\n## [0.1.0] - 2026-12-03\n", "Unreleased"),
        ("# Changelog\n\n## [Unreleased]\n\n## 0.1.0 (December)\n", "is not `## [X.Y.Z]"),
    ],
)
def test_changelog_form_is_checked(changelog, message, tmp_path):
    (tmp_path / "CHANGELOG.md").write_text(changelog)
    with pytest.raises(ValueError, match=message.replace("[", r"\[")):
        _release_check().changelog_releases(str(tmp_path))


def test_the_wheel_runs_the_smoke_test_on_its_own(wheel, tmp_path):
    unpacked = tmp_path / "site"
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(unpacked)
        names = archive.namelist()
    # Every subpackage is in the wheel (a missing one would import from nowhere after install).
    for package in ("benchmark", "callbacks", "experiment", "layers", "recurrence", "tasks"):
        assert f"keras_rnninit/{package}/__init__.py" in names, package
    assert not [name for name in names if name.startswith(("tests/", "examples/", "docs/"))]
    env = dict(
        os.environ,
        KERAS_BACKEND=keras.backend.backend(),
        TF_CPP_MIN_LOG_LEVEL="3",
        PYTHONPATH=str(unpacked),
    )
    version = _release_check().package_version()
    done = subprocess.run(
        [sys.executable, os.path.join(SCRIPTS, "smoke_test.py"), version],
        capture_output=True,
        text=True,
        env=env,
        cwd=str(tmp_path),
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    assert f"smoke test passed: keras-rnninit {version} from {unpacked}" in done.stdout


def test_the_smoke_test_refuses_a_source_tree(tmp_path):
    env = dict(
        os.environ, KERAS_BACKEND=keras.backend.backend(), TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=ROOT
    )
    done = subprocess.run(
        [sys.executable, os.path.join(SCRIPTS, "smoke_test.py")],
        capture_output=True,
        text=True,
        env=env,
        cwd=str(tmp_path),
        timeout=300,
    )
    assert done.returncode != 0 and "source tree" in done.stderr
