"""The installed perceiver-hf version, read from the package metadata (the `version` in setup.py)."""

from __future__ import annotations

from importlib import metadata

DISTRIBUTION = "perceiver-hf"


def package_version() -> str:
    """The version pip installed (`0+unknown` for a source tree on sys.path that was never installed)."""
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return "0+unknown"


__all__ = ["DISTRIBUTION", "package_version"]
