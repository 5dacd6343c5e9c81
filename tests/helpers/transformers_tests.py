"""Import transformers' own common test modules (from the installed version's sdist) into this suite.

`scripts/fetch_transformers_tests.py` (run by `make test`) extracts the sdist's `tests/` folder into
`.transformers-tests/transformers-<version>/`. `load_common_test_module("test_modeling_common")` imports a file of
that folder as a submodule of the package `transformers_common_tests` (not `tests`, which would collide with this
repository's own tests folder), so the files' relative imports between each other work.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from helpers.transformers_test_standins import STANDINS

REPO_ROOT = Path(__file__).resolve().parents[2]
FETCH_SCRIPT = REPO_ROOT / "scripts" / "fetch_transformers_tests.py"
PACKAGE = "transformers_common_tests"


@cache
def _fetch_script() -> types.ModuleType:
    """scripts/fetch_transformers_tests.py as a module: the one place that names the fetched folder."""
    spec = importlib.util.spec_from_file_location("fetch_transformers_tests", FETCH_SCRIPT)
    assert spec is not None and spec.loader is not None, FETCH_SCRIPT
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def transformers_tests_dir() -> Path:
    """`.transformers-tests/transformers-<installed version>/`, whether or not it was fetched yet."""
    return _fetch_script().tests_dir()


def _register_package(folder: Path) -> None:
    """Make `folder` importable as the package `PACKAGE`, with stand-ins for the modules the sdist lacks."""
    if PACKAGE in sys.modules:
        return
    spec = importlib.util.spec_from_file_location(PACKAGE, folder / "__init__.py", submodule_search_locations=[str(folder)])
    assert spec is not None and spec.loader is not None, folder
    package = importlib.util.module_from_spec(spec)
    sys.modules[PACKAGE] = package
    spec.loader.exec_module(package)
    for relative_name, attributes in STANDINS.items():
        if (folder / (relative_name.replace(".", "/") + ".py")).is_file():
            continue  # the real module is there: use it
        parent_name = PACKAGE
        for part in relative_name.split(".")[:-1]:  # the stand-in's parent packages, e.g. `<PACKAGE>.utils`
            parent_name = f"{parent_name}.{part}"
            sys.modules.setdefault(parent_name, types.ModuleType(parent_name))
        standin = types.ModuleType(f"{PACKAGE}.{relative_name}", "stand-in: helpers/transformers_test_standins.py")
        standin.__dict__.update(attributes)
        sys.modules[standin.__name__] = standin


def unavailable_reason(name: str) -> str | None:
    """Why transformers' common test module `name` cannot be imported (one line), or None when it can: the reason
    the last `scripts/fetch_transformers_tests.py` run wrote, or that the files were never fetched."""
    folder = transformers_tests_dir()
    if (folder / f"{name}.py").is_file():
        return None
    reason_file = _fetch_script().unavailable_file()
    if reason_file.is_file():
        return reason_file.read_text().strip()
    return (
        f"transformers' common test file {name}.py is not in {folder.relative_to(REPO_ROOT)}: run "
        f"`python scripts/fetch_transformers_tests.py` (`make test` does) to fetch the installed transformers' test files"
    )


class _UnavailableMixin:
    """Stands in for a test mixin that could not be imported: every test of a class built on it fails (never
    skips) in `setUpClass`, with the one-line reason."""

    reason = ""

    @classmethod
    def setUpClass(cls) -> None:
        pytest.fail(cls.reason, pytrace=False)


def _unavailable_module(name: str, reason: str) -> types.ModuleType:
    """A stand-in for the module `name`: its `...Mixin` classes are `_UnavailableMixin`s, anything else (e.g.
    `ConfigTester`, `ids_tensor`) a function that fails with `reason` when called."""
    module = types.ModuleType(f"{PACKAGE}.{name}", f"not fetched: {reason}")

    def fail(*args: Any, **kwargs: Any) -> None:
        pytest.fail(reason, pytrace=False)

    def unavailable_attribute(attribute: str) -> Any:
        return type(attribute, (_UnavailableMixin,), {"reason": reason}) if attribute.endswith("Mixin") else fail

    module.__getattr__ = unavailable_attribute  # type: ignore[method-assign]
    return module


def load_common_test_module(name: str) -> types.ModuleType:
    """Import transformers' common test module `name` (e.g. "test_modeling_common") of the installed version.

    When the sdist's test files are not there (offline, or never fetched), returns a stand-in whose every test
    fails with `unavailable_reason(name)`, one line: the common tests then fail loudly instead of skipping or
    stopping the collection of the whole suite.
    """
    reason = unavailable_reason(name)
    if reason is not None:
        return _unavailable_module(name, reason)
    _register_package(transformers_tests_dir())
    return importlib.import_module(f"{PACKAGE}.{name}")
