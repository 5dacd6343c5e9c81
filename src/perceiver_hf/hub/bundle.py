"""Generate self-contained remote code (for `trust_remote_code=True`) from the package's own modules.

There is one source of truth: the files shipped next to an exported model are the package modules themselves,
copied with their intra-package imports rewritten. Starting from the entry modules (configuration, modeling,
tokenization), every module they import from the package, directly or indirectly, is copied into one flat
folder, and each import of a package module is rewritten to a one-dot relative import of its flat copy:

    perceiver_hf/core/attention.py    -> core_attention.py
    perceiver_hf/modeling_perceiver.py -> modeling_perceiver.py
    from ..core.adapters import InputAdapter   (in text/adapters.py)
        -> from .core_adapters import InputAdapter

A flat folder with one-dot imports is what transformers' dynamic module loader understands
(`transformers.dynamic_module_utils.get_relative_import_files` resolves `from .name import` to `name.py` next
to the importing file, and fetches exactly those files from a Hub repository). Imports of anything outside the
package are left alone; the loader requires those packages (torch, transformers, tokenizers) to be installed.
"""

from __future__ import annotations

import ast
import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Optional

from ..version import package_version

PACKAGE = "perceiver_hf"
PACKAGE_DIR = Path(__file__).resolve().parents[1]

HEADER = (
    "# Generated from {package}/{source} by perceiver_hf.hub.bundle (perceiver-hf {version}).\n"
    "# Self-contained remote code for transformers' trust_remote_code=True: do not edit here; edit the\n"
    "# perceiver-hf package and export again (`perceiver-hf export-hub`).\n"
)


class BundleError(ValueError):
    """A package module cannot be turned into remote code (an import form the loader cannot resolve)."""


@dataclass(frozen=True)
class _Import:
    """One `from X import ...` statement of a package module: where it is and which module it targets."""

    node: ast.ImportFrom
    target: str  # absolute module name, e.g. "perceiver_hf.core.adapters"


def module_file(module: str, package_dir: Path = PACKAGE_DIR) -> Path:
    """The source file of package module `module` ("perceiver_hf.core.attention" -> .../core/attention.py)."""
    parts = module.split(".")[1:]
    candidates = [package_dir.joinpath(*parts).with_suffix(".py"), package_dir.joinpath(*parts, "__init__.py")]
    if not parts:
        candidates = [package_dir / "__init__.py"]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise BundleError(f"Cannot find the source of module {module!r} under {package_dir}.")


def flat_name(module: str) -> str:
    """The flat file stem of a package module: "perceiver_hf.core.attention" -> "core_attention"."""
    parts = module.split(".")[1:]
    if not parts:
        raise BundleError(
            f"Remote code cannot import the package root {PACKAGE!r} (it registers the Auto classes); "
            "import from the module that defines the name instead."
        )
    return "_".join(parts)


def _is_package(path: Path) -> bool:
    return path.name == "__init__.py"


def _package_imports(module: str, path: Path, tree: ast.Module) -> list[_Import]:
    """Every import in `tree` that targets a module of the package, with the target's absolute name."""
    context = module if _is_package(path) else module.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names if alias.name.split(".")[0] == PACKAGE]
            if names:
                raise BundleError(
                    f"{path}:{node.lineno}: `import {names[0]}` cannot be bundled as remote code; "
                    f"use `from .module import name` instead."
                )
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0 and (node.module or "").split(".")[0] != PACKAGE:
                continue  # a third-party or standard-library import
            if node.module is None:
                raise BundleError(
                    f"{path}:{node.lineno}: `from {'.' * node.level} import ...` cannot be bundled as remote code; "
                    "name the module (`from .module import name`)."
                )
            relative = "." * node.level + node.module
            target = importlib.util.resolve_name(relative, context) if node.level else node.module
            found.append(_Import(node=node, target=target))
    return found


def _rewrite(source: str, imports: Iterable[_Import]) -> str:
    """Replace each package import in `source` by `from .<flat name> import ...` (same names, same aliases)."""
    data = source.encode("utf-8")  # ast offsets are UTF-8 byte offsets
    line_starts = [0]
    for line in data.splitlines(keepends=True):
        line_starts.append(line_starts[-1] + len(line))
    edits = []
    for item in imports:
        node = item.node
        start = line_starts[node.lineno - 1] + node.col_offset
        end = line_starts[node.end_lineno - 1] + node.end_col_offset
        replacement = ast.unparse(ast.ImportFrom(module=flat_name(item.target), names=node.names, level=1))
        edits.append((start, end, replacement.encode("utf-8")))
    for start, end, replacement in sorted(edits, reverse=True):
        data = data[:start] + replacement + data[end:]
    return data.decode("utf-8")


def bundle_modules(
    entry_modules: Iterable[str], version: Optional[str] = None, package_dir: Path = PACKAGE_DIR
) -> dict[str, str]:
    """Return {file name: source} for `entry_modules` and every package module they import (recursively).

    Args:
        entry_modules: absolute module names, e.g. ["perceiver_hf.modeling_perceiver"].
        version: package version written into each file's header (default: the installed package's).
        package_dir: folder of the package sources (default: this installation's).

    Raises:
        BundleError: an import form the dynamic module loader cannot resolve, or two modules that would
            share a flat file name.
    """
    version = version or package_version()
    files: dict[str, str] = {}
    origin: dict[str, str] = {}  # flat file name -> module
    pending = list(entry_modules)
    done: set[str] = set()
    while pending:
        module = pending.pop()
        if module in done:
            continue
        done.add(module)
        path = module_file(module, package_dir)
        source = path.read_text(encoding="utf-8")
        imports = _package_imports(module, path, ast.parse(source, filename=str(path)))
        name = flat_name(module) + ".py"
        if name in origin:
            raise BundleError(f"Modules {origin[name]!r} and {module!r} would both be bundled as {name}.")
        origin[name] = module
        header = HEADER.format(package=PACKAGE, source=path.relative_to(package_dir).as_posix(), version=version)
        files[name] = header + _rewrite(source, imports)
        pending.extend(item.target for item in imports)
    return dict(sorted(files.items()))


def write_bundle(files: dict[str, str], folder: str | Path) -> list[Path]:
    """Write the `bundle_modules` output into `folder`; returns the written paths."""
    written = []
    for name, text in files.items():
        path = Path(folder) / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


__all__ = ["BundleError", "bundle_modules", "flat_name", "module_file", "write_bundle"]
