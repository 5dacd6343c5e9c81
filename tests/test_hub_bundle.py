"""The remote-code bundler and `export_for_hub` / `perceiver-hf export-hub` (folder contents, safety)."""

from __future__ import annotations

import ast
import json
import sys
from pathlib import Path

import pytest
from transformers import BertConfig, BertForMaskedLM

from perceiver_hf.cli import main as cli_main
from perceiver_hf.hub import BundleError, bundle_modules, export_for_hub
from perceiver_hf.hub.bundle import PACKAGE_DIR
from perceiver_hf.output_folder import MARKER_NAME, OutputFolderError, write_marker
from perceiver_hf.tokenization_perceiver import PerceiverByteTokenizer

ENTRIES = [
    "perceiver_hf.configuration_perceiver",
    "perceiver_hf.modeling_perceiver",
    "perceiver_hf.tokenization_perceiver",
]


class _DropImports(ast.NodeTransformer):
    """Replace every import by `pass`, so two modules that differ only in imports dump the same."""

    def visit_Import(self, node: ast.AST) -> ast.AST:
        return ast.copy_location(ast.Pass(), node)

    visit_ImportFrom = visit_Import


def _without_imports(source: str) -> str:
    return ast.dump(_DropImports().visit(ast.parse(source)))


def _relative_imports(source: str) -> list[str]:
    return [n.module for n in ast.walk(ast.parse(source)) if isinstance(n, ast.ImportFrom) and n.level]


def test_bundle_is_the_package_code_with_flat_imports() -> None:
    files = bundle_modules(ENTRIES)
    assert {"configuration_perceiver.py", "modeling_perceiver.py", "tokenization_perceiver.py"} <= set(files)
    assert "core_attention.py" in files and "text_adapters.py" in files
    for name, source in files.items():
        tree = ast.parse(source)
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                assert node.level in (0, 1), (name, ast.unparse(node))
                assert (node.module or "").split(".")[0] != "perceiver_hf", (name, ast.unparse(node))
                if node.level == 1:
                    assert f"{node.module}.py" in files, (name, node.module)
            elif isinstance(node, ast.Import):
                assert all(alias.name.split(".")[0] != "perceiver_hf" for alias in node.names), name
    # apart from the imports, each file is its package module, statement for statement
    for name, source in files.items():
        relative = source.splitlines()[0].split("perceiver_hf/", 1)[1].split(" ", 1)[0]  # the header names it
        original = (PACKAGE_DIR / relative).read_text(encoding="utf-8")
        assert _without_imports(source) == _without_imports(original), name


def test_bundle_needs_only_what_transformers_needs(tmp_path: Path) -> None:
    """The loader's own import check (`get_imports`) finds nothing beyond transformers' dependencies."""
    from transformers.dynamic_module_utils import get_imports

    allowed = {"torch", "transformers", "tokenizers", "huggingface_hub", "safetensors", "numpy"}
    for name, source in bundle_modules(ENTRIES).items():
        (tmp_path / name).write_text(source, encoding="utf-8")
        third_party = set(get_imports(tmp_path / name)) - set(sys.stdlib_module_names)
        assert third_party <= allowed, (name, third_party - allowed)


def test_bundle_starts_with_a_generated_header() -> None:
    for name, source in bundle_modules(["perceiver_hf.text.adapters"]).items():
        assert source.startswith("# Generated from perceiver_hf/"), name
        assert "do not edit here" in source.splitlines()[1]


def _fake_package(root: Path, files: dict[str, str]) -> Path:
    package = root / "perceiver_hf"
    for name, text in {"__init__.py": "", **files}.items():
        path = package / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return package


def test_rewrites_every_import_form(tmp_path: Path) -> None:
    package = _fake_package(
        tmp_path,
        {
            "sub/__init__.py": "",
            "sub/leaf.py": "VALUE = 'ü'  # non-ASCII before the imports\nfrom ..top import (\n    A,\n    B as C,\n)\n",
            "top.py": "A = 1\nB = 2\n\ndef lazy():\n    from perceiver_hf.sub.leaf import VALUE\n    return VALUE\n",
        },
    )
    files = bundle_modules(["perceiver_hf.sub.leaf"], version="9.9", package_dir=package)
    assert sorted(files) == ["sub_leaf.py", "top.py"]
    assert "perceiver-hf 9.9" in files["top.py"]
    assert _relative_imports(files["sub_leaf.py"]) == ["top"]
    assert "from .top import A, B as C\n" in files["sub_leaf.py"]
    assert "    from .sub_leaf import VALUE\n" in files["top.py"]
    assert "VALUE = 'ü'" in files["sub_leaf.py"]


@pytest.mark.parametrize(
    "source, message",
    [
        ("from . import top\n", "name the module"),
        ("import perceiver_hf.top\n", "cannot be bundled"),
        ("from perceiver_hf import top\n", "package root"),
        ("from .missing import x\n", "Cannot find the source"),
    ],
)
def test_unbundleable_imports_are_clear_errors(tmp_path: Path, source: str, message: str) -> None:
    package = _fake_package(tmp_path, {"top.py": "X = 1\n", "entry.py": source})
    with pytest.raises(BundleError, match=message):
        bundle_modules(["perceiver_hf.entry"], package_dir=package)


def test_flat_name_collisions_are_refused(tmp_path: Path) -> None:
    package = _fake_package(
        tmp_path, {"a_b.py": "X = 1\n", "a/__init__.py": "", "a/b.py": "Y = 2\n", "entry.py": "from .a_b import X\nfrom .a.b import Y\n"}
    )
    with pytest.raises(BundleError, match="would both be bundled as a_b.py"):
        bundle_modules(["perceiver_hf.entry"], package_dir=package)


def test_export_refuses_a_non_empty_folder_and_keeps_it(tmp_path: Path, tiny_model) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(OutputFolderError, match="not empty"):
        export_for_hub(tiny_model(), out)
    assert [p.name for p in out.iterdir()] == ["keep.txt"]


def test_failed_export_leaves_nothing_behind(tmp_path: Path, tiny_model) -> None:
    def disk_full(*args, **kwargs):
        raise OSError("disk full")

    tokenizer = PerceiverByteTokenizer()
    tokenizer.save_pretrained = disk_full  # fails after the weights were written
    out = tmp_path / "out"
    out.mkdir()
    write_marker(out)  # an earlier export
    (out / "keep.txt").write_text("mine")
    with pytest.raises(OSError, match="disk full"):
        export_for_hub(tiny_model(), out, tokenizer, force=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    assert sorted(p.name for p in out.iterdir()) == [MARKER_NAME, "keep.txt"]


def test_export_force_replaces_an_earlier_export(tmp_path: Path, tiny_model) -> None:
    out = tmp_path / "out"
    out.mkdir()
    write_marker(out)
    (out / "stale.txt").write_text("old")
    export_for_hub(tiny_model(), out, model_card="# card\n", force=True)
    names = {p.name for p in out.iterdir()}
    assert "stale.txt" not in names and {"model.safetensors", "README.md", "modeling_perceiver.py"} <= names
    assert "tokenization_perceiver.py" not in names  # no tokenizer, no tokenizer code
    assert "AutoTokenizer" not in json.loads((out / "config.json").read_text())["auto_map"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_export_rejects_foreign_models_and_tokenizers(tmp_path: Path, tiny_model) -> None:
    bert = BertForMaskedLM(BertConfig(hidden_size=8, num_hidden_layers=1, num_attention_heads=2, intermediate_size=8))
    with pytest.raises(TypeError, match="needs a perceiver-hf model"):
        export_for_hub(bert, tmp_path / "a")

    class ForeignTokenizer(PerceiverByteTokenizer):
        pass

    ForeignTokenizer.__module__ = "somewhere_else"
    with pytest.raises(TypeError, match="only carry perceiver-hf's own classes"):
        export_for_hub(tiny_model(), tmp_path / "b", ForeignTokenizer())
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_cli_needs_a_tokenizer_for_a_non_byte_vocabulary(tmp_path: Path, tiny_model, capsys) -> None:
    tiny_model(vocab_size=300).save_pretrained(tmp_path / "saved")
    assert cli_main(["export-hub", str(tmp_path / "saved"), str(tmp_path / "out")]) == 1
    assert "pass --tokenizer PATH" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
    assert cli_main(["export-hub", str(tmp_path / "saved"), str(tmp_path / "out"), "--no-tokenizer"]) == 0
    assert not (tmp_path / "out" / "tokenizer_config.json").exists()


def test_cli_gives_a_byte_model_without_tokenizer_files_the_byte_tokenizer(tmp_path: Path, tiny_model) -> None:
    model = tiny_model()
    model.save_pretrained(tmp_path / "saved")
    assert cli_main(["export-hub", str(tmp_path / "saved"), str(tmp_path / "out")]) == 0
    tokenizer_config = json.loads((tmp_path / "out" / "tokenizer_config.json").read_text())
    assert tokenizer_config["tokenizer_class"] == "PerceiverByteTokenizer"
    assert tokenizer_config["model_max_length"] == model.config.max_seq_len


def test_register_for_auto_class_points_to_export(tmp_path: Path) -> None:
    from perceiver_hf import PerceiverForMaskedLM

    with pytest.raises(NotImplementedError, match="perceiver-hf export-hub"):
        PerceiverForMaskedLM.register_for_auto_class("AutoModelForMaskedLM")
    assert PerceiverForMaskedLM._auto_class is None  # nothing registered, so save_pretrained stays plain
