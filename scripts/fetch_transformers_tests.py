"""Fetch the common test files of the installed transformers version from its source distribution.

transformers' `ModelTesterMixin`, `ConfigTester` and the tokenizer test mixins live in its `tests/` folder, which
the wheel does not ship; the sdist on PyPI does. This script downloads the sdist of exactly the installed version
and extracts its `tests/` folder into `.transformers-tests/transformers-<version>/` (gitignored), as a package
(`__init__.py` added) that `tests/helpers/transformers_tests.py` imports. `make test` runs it before pytest.

Idempotent (an existing folder is kept) and atomic (the sdist is extracted into a temporary folder beside the
target, then renamed into place), so an interrupted run never leaves a half-written folder behind.

When the files cannot be had (no network, no such sdist), the script prints one line naming the reason, writes it
to `.transformers-tests/transformers-<version>.unavailable` and exits with status 1; `make test` goes on to run
the suite, where tests/test_transformers_common.py fails with that line instead of skipping.

    python scripts/fetch_transformers_tests.py            # fetch if missing, print the folder
    python scripts/fetch_transformers_tests.py --print-path  # only print where the folder is (or would be)
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tarfile
import tempfile
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
FETCH_ROOT = REPO_ROOT / ".transformers-tests"
# The file whose presence marks a complete extraction.
MARKER_FILE = "test_modeling_common.py"


class FetchError(Exception):
    """The sdist's test files could not be fetched; the message is one line naming the reason."""


def installed_transformers_version() -> str:
    """The version string of the transformers installed in this interpreter's environment."""
    try:
        return version("transformers")
    except PackageNotFoundError as error:
        raise SystemExit("transformers is not installed in this environment: run `pip install -e .[test]` first") from error


def tests_dir(transformers_version: str | None = None) -> Path:
    """`.transformers-tests/transformers-<version>/`: where the sdist's `tests/` files of that version go."""
    return FETCH_ROOT / f"transformers-{transformers_version or installed_transformers_version()}"


def unavailable_file(transformers_version: str | None = None) -> Path:
    """`.transformers-tests/transformers-<version>.unavailable`: the one-line reason of the last failed fetch."""
    folder = tests_dir(transformers_version)
    return folder.with_name(folder.name + ".unavailable")


def _download_sdist(transformers_version: str, into: Path) -> Path:
    """Download `transformers==<version>`'s source distribution (no dependencies) into `into`; return its path."""
    command = [
        sys.executable, "-m", "pip", "download", f"transformers=={transformers_version}",
        "--no-deps", "--no-binary", ":all:", "--progress-bar", "off", "-q", "--retries", "2", "--timeout", "20",
        "-d", str(into),
    ]
    completed = subprocess.run(command, capture_output=True, text=True)
    if completed.returncode != 0:
        pip_said = [line.strip() for line in completed.stderr.splitlines() if line.strip()]
        raise FetchError(
            f"`pip download transformers=={transformers_version} --no-binary :all:` failed "
            f"({pip_said[-1] if pip_said else f'exit status {completed.returncode}'}); it needs PyPI access"
        )
    archives = sorted(into.glob("transformers-*.tar.gz"))
    if not archives:
        raise FetchError(f"pip download left no transformers-*.tar.gz in {into}: found {sorted(p.name for p in into.iterdir())}")
    return archives[0]


def _extract_tests(archive: Path, into: Path) -> None:
    """Extract the archive's top `tests/` folder into `into` (which must not exist yet), as an importable package."""
    with tarfile.open(archive) as sdist:
        members = []
        for member in sdist.getmembers():
            parts = Path(member.name).parts  # ("transformers-5.25.0", "tests", ...)
            if len(parts) > 2 and parts[1] == "tests" and (member.isfile() or member.isdir()):
                member.name = str(Path(*parts[2:]))
                members.append(member)
        if not any(member.name == MARKER_FILE for member in members):
            raise FetchError(f"{archive.name} has no tests/{MARKER_FILE}: this transformers sdist does not ship its common tests")
        into.mkdir()
        sdist.extractall(into, members=members, filter="data")
    (into / "__init__.py").touch(exist_ok=True)  # the test files import each other relatively


def fetch(transformers_version: str | None = None) -> Path:
    """Make sure `tests_dir(version)` holds the sdist's test files; return that folder. Raises `FetchError`."""
    transformers_version = transformers_version or installed_transformers_version()
    target = tests_dir(transformers_version)
    if (target / MARKER_FILE).is_file():
        return target
    FETCH_ROOT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=FETCH_ROOT, prefix=".partial-") as scratch:
        scratch_dir = Path(scratch)
        archive = _download_sdist(transformers_version, scratch_dir / "sdist")
        extracted = scratch_dir / "tests"
        _extract_tests(archive, extracted)
        if target.exists():  # a stale folder without the marker (left by hand): replace it
            shutil.rmtree(target)
        try:
            extracted.rename(target)
        except OSError:
            if not (target / MARKER_FILE).is_file():  # not a concurrent fetch that won the race
                raise
    return target


def main(argv: list[str] | None = None) -> int:
    """Command line: fetch (unless --print-path) and print the folder."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--print-path", action="store_true", help="print the folder without fetching")
    parser.add_argument("--version", help="the transformers version to fetch (default: the installed one)")
    args = parser.parse_args(argv)
    if args.print_path:
        print(tests_dir(args.version))
        return 0
    reason_file = unavailable_file(args.version)
    try:
        folder = fetch(args.version)
    except FetchError as error:
        reason = f"transformers' common tests could not be fetched: {error}"
        reason_file.parent.mkdir(parents=True, exist_ok=True)
        reason_file.write_text(reason + "\n")
        print(reason, file=sys.stderr)
        return 1
    reason_file.unlink(missing_ok=True)
    print(folder)
    return 0


if __name__ == "__main__":
    sys.exit(main())
