"""The perceiver-io library (0.4.0) itself, as the independent reference of the `convert perceiver-io` tests.

`make test` installs it (`pip install --no-deps perceiver-io==0.4.0 einops==0.4.1 fairscale==0.4.13`); its
top-level imports of Lightning and torchmetrics are served by the stand-ins in `perceiver_io_standins/`, put on
`sys.path` here and only here. A missing library is an error, never a skip: these tests are the only check that
converted models compute what the library computes.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import ModuleType

STANDINS = Path(__file__).parent / "perceiver_io_standins"
LIBRARY_VERSION = "0.4.0"
INSTALL = "pip install --no-deps perceiver-io==0.4.0 einops==0.4.1 fairscale==0.4.13"


def _with_standins() -> None:
    for name in ("pytorch_lightning", "torchmetrics"):
        module = sys.modules.get(name)
        if module is not None and not str(getattr(module, "__file__", "")).startswith(str(STANDINS)):
            raise RuntimeError(f"a real {name} is imported; these tests run perceiver-io with the stand-ins only")
    if str(STANDINS) not in sys.path:
        sys.path.insert(0, str(STANDINS))


def library_module(name: str) -> ModuleType:
    """Import `perceiver.model...` module `name` of perceiver-io 0.4.0 (raises, with the install command, if absent)."""
    _with_standins()
    try:
        from importlib.metadata import version

        found = version("perceiver-io")
        module = importlib.import_module(name)
    except Exception as error:  # noqa: BLE001  (any import failure means the reference is unusable)
        raise RuntimeError(f"perceiver-io {LIBRARY_VERSION} is needed by these tests: {INSTALL} ({error})") from error
    if found != LIBRARY_VERSION:
        raise RuntimeError(f"perceiver-io {found} is installed; these tests compare with {LIBRARY_VERSION}: {INSTALL}")
    return module
