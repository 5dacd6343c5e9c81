"""The package's imports run one way: from the commands down to the core, never back up, never hidden.

The graph is read from the source files (`ast`), so the test sees every import statement, including those inside
functions, without importing anything.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE_DIR = Path(__file__).resolve().parents[1] / "src" / "perceiver_hf"

# Layers whose imports are restricted: module prefix -> package prefixes it may import.
ALLOWED = {
    "perceiver_hf.core": ("perceiver_hf.core",),
    "perceiver_hf.text": ("perceiver_hf.core", "perceiver_hf.text", "perceiver_hf.config_validation"),
    "perceiver_hf.configuration_perceiver": ("perceiver_hf.config_validation", "perceiver_hf.config_fields"),
    "perceiver_hf.configuration_perceiver_ar": ("perceiver_hf.config_validation", "perceiver_hf.config_fields"),
    # the generation schedule reads the config it is given, nothing of the package
    "perceiver_hf.generation_window": (),
    "perceiver_hf.config_validation": (),
    # a field's declaration carries its value check
    "perceiver_hf.config_fields": ("perceiver_hf.config_validation",),
    # where config fields become module options: the config and the core specs, nothing else
    "perceiver_hf.configuration_specs": ("perceiver_hf.configuration_perceiver", "perceiver_hf.core.specs"),
    "perceiver_hf.version": (),
}
# What the model (and everything it is built from) must never import: the layers that use the model.
USERS_OF_THE_MODEL = ("perceiver_hf.hub", "perceiver_hf.deploy", "perceiver_hf.convert", "perceiver_hf.training", "perceiver_hf.pipelines",
                      "perceiver_hf.cli")  # fmt: skip
# The model and what it is built from (its loading and input checks live beside it).
MODEL_SIDE = ("perceiver_hf.modeling_perceiver", "perceiver_hf.modeling_perceiver_ar", "perceiver_hf.generation_window",
              "perceiver_hf.configuration_perceiver_ar", "perceiver_hf.core", "perceiver_hf.text", "perceiver_hf.loading_checks",
              "perceiver_hf.strict_loading", "perceiver_hf.input_validation", "perceiver_hf.configuration_perceiver",
              "perceiver_hf.configuration_specs", "perceiver_hf.model_parts", "perceiver_hf.model_size")  # fmt: skip
# Imports inside functions are allowed only where they defer torch/transformers for the command's start-up.
DEFERRED_IMPORTS_ALLOWED = ("perceiver_hf.cli", "perceiver_hf")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def package_imports(path: Path) -> list[tuple[str, bool]]:
    """(imported package module, inside a function?) for every import of `perceiver_hf` in `path`."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nested = {id(n) for f in ast.walk(tree) if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
              for n in ast.walk(f) if n is not f}  # fmt: skip
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            targets = [target] + [f"{target}.{a.name}" for a in node.names if f"{target}.{a.name}" in MODULES]
        elif isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        else:
            continue
        found += [(t, id(node) in nested) for t in targets if t == "perceiver_hf" or t.startswith("perceiver_hf.")]
    return found


MODULES = {module_name(path): path for path in sorted(PACKAGE_DIR.rglob("*.py"))}


def within(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def test_the_graph_is_read() -> None:
    """Guards the reader itself: known edges must be found."""
    modeling = [t for t, _ in package_imports(MODULES["perceiver_hf.modeling_perceiver"])]
    assert "perceiver_hf.configuration_perceiver" in modeling and "perceiver_hf.core.modules" in modeling
    assert ("perceiver_hf.pipelines", True) in package_imports(MODULES["perceiver_hf"])


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_lower_layers_import_only_what_is_below_them(layer: str) -> None:
    wrong = {
        (module, target)
        for module, path in MODULES.items() if within(module, layer)
        for target, _ in package_imports(path)
        if not any(within(target, allowed) for allowed in (layer, *ALLOWED[layer]))
    }  # fmt: skip
    assert not wrong


def test_the_model_never_imports_its_users() -> None:
    model_side = [m for m in MODULES if any(within(m, p) for p in MODEL_SIDE)]
    wrong = {(m, t) for m in model_side for t, _ in package_imports(MODULES[m])
             if any(within(t, user) for user in USERS_OF_THE_MODEL)}  # fmt: skip
    assert model_side and not wrong


def test_no_import_hides_inside_a_function() -> None:
    hidden = {
        (module, target)
        for module, path in MODULES.items() if not any(within(module, p) if p != "perceiver_hf" else module == p
                                                        for p in DEFERRED_IMPORTS_ALLOWED)
        for target, inside in package_imports(path) if inside
    }  # fmt: skip
    assert not hidden


def test_no_module_level_cycle() -> None:
    edges = {m: {t for t, inside in package_imports(p) if not inside and t in MODULES and t != m} for m, p in MODULES.items()}
    state: dict[str, int] = {}

    def visit(module: str, trail: tuple[str, ...]) -> None:
        state[module] = 1
        for target in edges[module]:
            if state.get(target) == 1:
                # a package importing its own submodules (its __init__) is not a cycle of the design
                if not within(module, target):
                    raise AssertionError(" -> ".join(trail[trail.index(target):] + (module, target)))
            elif target not in state:
                visit(target, trail + (module,) if target not in trail else trail)
        state[module] = 2

    for module in edges:
        if module not in state:
            visit(module, ())


def test_the_version_comes_from_package_metadata() -> None:
    for module, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                assert "__version__" not in {alias.name for alias in node.names}, module
