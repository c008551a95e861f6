"""Checks that a release's version agrees everywhere it is written.

    python .github/scripts/release_check.py [--tag vX.Y.Z] [DISTRIBUTION ...]

Compares `keras_rnninit/version.py`, the newest release heading of `CHANGELOG.md`
(`## [X.Y.Z] - YYYY-MM-DD`, below an `## [Unreleased]` section), the tag when given, and the
`Version:` in the metadata of each wheel or sdist named. Prints one line per disagreement and
exits 1 if there is any, else prints the version and exits 0. The release workflow runs it
before publishing; tests/test_release.py runs it on a freshly built wheel. It reads files only:
nothing is imported, so it runs before the package's dependencies are installed.
"""

import argparse
import os
import re
import sys
import tarfile
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RELEASE_HEADING = re.compile(
    r"^## \[(\d+\.\d+\.\d+(?:[.-]?(?:a|b|rc)\d+)?)\] - (\d{4}-\d{2}-\d{2})$"
)


def package_version(root=ROOT):
    """The `__version__` string of keras_rnninit/version.py."""
    with open(os.path.join(root, "keras_rnninit", "version.py"), encoding="utf-8") as handle:
        match = re.search(r'^__version__ = "([^"]+)"$', handle.read(), re.MULTILINE)
    if match is None:
        raise ValueError('keras_rnninit/version.py has no line `__version__ = "X.Y.Z"`')
    return match.group(1)


def changelog_releases(root=ROOT):
    """`[(version, date)]` of CHANGELOG.md's release headings, newest first.

    Raises `ValueError` when the `## [Unreleased]` section is missing or not first, or when a
    `## ` heading is neither it nor a release heading.
    """
    with open(os.path.join(root, "CHANGELOG.md"), encoding="utf-8") as handle:
        headings = [line.rstrip() for line in handle if line.startswith("## ")]
    if not headings or headings[0] != "## [Unreleased]":
        raise ValueError("CHANGELOG.md must start its sections with `## [Unreleased]`")
    releases = []
    for heading in headings[1:]:
        match = RELEASE_HEADING.match(heading)
        if match is None:
            raise ValueError(f"CHANGELOG.md heading {heading!r} is not `## [X.Y.Z] - YYYY-MM-DD`")
        releases.append(match.groups())
    return releases


def distribution_version(path):
    """The `Version:` of a wheel's METADATA or an sdist's PKG-INFO."""
    if path.endswith(".whl"):
        with zipfile.ZipFile(path) as wheel:
            names = [n for n in wheel.namelist() if re.fullmatch(r"[^/]+\.dist-info/METADATA", n)]
            text = wheel.read(names[0]).decode("utf-8") if names else ""
    elif path.endswith(".tar.gz"):
        with tarfile.open(path) as sdist:
            names = [n for n in sdist.getnames() if re.fullmatch(r"[^/]+/PKG-INFO", n)]
            text = sdist.extractfile(names[0]).read().decode("utf-8") if names else ""
    else:
        raise ValueError(f"not a wheel or an sdist: {path}")
    match = re.search(r"^Version: (\S+)$", text, re.MULTILINE)
    if match is None:
        raise ValueError(f"{path} has no metadata with a Version: line")
    return match.group(1)


def problems(root=ROOT, tag=None, distributions=()):
    """The disagreements, as a list of sentences (empty when all agree)."""
    version = package_version(root)
    found = []
    releases = changelog_releases(root)
    if not releases:
        found.append(f"CHANGELOG.md has no release section; expected `## [{version}] - YYYY-MM-DD`")
    elif releases[0][0] != version:
        found.append(
            f"CHANGELOG.md's newest release is {releases[0][0]}, keras_rnninit/version.py says "
            f"{version}"
        )
    if tag is not None and tag != f"v{version}":
        found.append(f"the tag is {tag}, keras_rnninit/version.py says {version} (tag v{version})")
    for path in distributions:
        built = distribution_version(path)
        if built != version:
            found.append(
                f"{os.path.basename(path)} has version {built}, "
                f"keras_rnninit/version.py says {version}"
            )
    return found


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tag", help="the release tag, e.g. v0.1.0")
    parser.add_argument("distributions", nargs="*", help="wheel and sdist files to check")
    args = parser.parse_args(argv)
    try:
        found = problems(tag=args.tag, distributions=args.distributions)
    except ValueError as error:
        found = [str(error)]
    for line in found:
        print(f"release check: {line}", file=sys.stderr)
    if found:
        return 1
    print(f"release check: version {package_version()} agrees everywhere")
    return 0


if __name__ == "__main__":
    sys.exit(main())
