"""An exported folder loads with trust_remote_code=True in a Python where `perceiver_hf` cannot be imported.

The folder is written by the `perceiver-hf export-hub` command; a child Python blocks the package
(`sys.modules["perceiver_hf"] = None`, the repository's src/ off sys.path, PYTHONPATH cleared) and loads it with
plain transformers: AutoModelForMaskedLM, AutoTokenizer and pipeline("fill-mask"). Its logits must equal the
package's, its token ids the UTF-8 bytes + 6 computed here by hand.
"""

from __future__ import annotations

import json
import textwrap

import pytest
import torch
from transformers import AutoModelForMaskedLM, AutoTokenizer, pipeline

from helpers.hub import add_snapshot, run_child
from perceiver_hf import PerceiverForMaskedLM
from perceiver_hf.cli import main as cli_main
from perceiver_hf.tokenization_perceiver import PerceiverByteTokenizer

TEXTS = ["héllo [MASK] wörld", "short"]
FILL_TEXT = "a [MASK] c"
HUB_REPO_ID = "org/remote"

CHILD = textwrap.dedent(
    """
    import sys
    sys.modules["perceiver_hf"] = None  # `import perceiver_hf` raises ImportError from here on
    sys.path[:] = [p for p in sys.path if not p.rstrip("/").endswith("/src")]
    import json
    import torch
    torch.set_num_threads(1)
    from transformers import AutoModel, AutoModelForMaskedLM, AutoTokenizer, pipeline

    folder, repo_id, texts, fill_text, out = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), sys.argv[4], sys.argv[5]
    result = {}
    try:
        import perceiver_hf  # noqa: F401
        result["perceiver_hf_importable"] = True
    except ImportError:
        result["perceiver_hf_importable"] = False
    try:
        AutoModelForMaskedLM.from_pretrained(folder)
        result["error_without_trust"] = None
    except ValueError as error:
        result["error_without_trust"] = str(error)
    model = AutoModelForMaskedLM.from_pretrained(folder, trust_remote_code=True).eval()
    tokenizer = AutoTokenizer.from_pretrained(folder, trust_remote_code=True)
    encoding = tokenizer(texts, padding=True, return_tensors="pt")
    with torch.no_grad():
        logits = model(**encoding).logits
    fill = pipeline("fill-mask", model=folder, trust_remote_code=True)
    base = AutoModel.from_pretrained(folder, trust_remote_code=True)
    # the same files as a Hub repository in the cache (HF_HUB_CACHE, offline): the loader fetches each module
    hub_model = AutoModelForMaskedLM.from_pretrained(repo_id, trust_remote_code=True).eval()
    hub_tokenizer = AutoTokenizer.from_pretrained(repo_id, trust_remote_code=True)
    with torch.no_grad():
        hub_logits = hub_model(**hub_tokenizer(texts, padding=True, return_tensors="pt")).logits
    result.update(
        model_module=type(model).__module__,
        tokenizer_module=type(tokenizer).__module__,
        base_class=type(base).__name__,
        hub_model_module=type(hub_model).__module__,
        input_ids=encoding["input_ids"].tolist(),
        attention_mask=encoding["attention_mask"].tolist(),
        fill=fill(fill_text, top_k=3),
        package_modules=[name for name, module in sys.modules.items() if "perceiver_hf" in name and module],
    )
    torch.save({"folder": logits, "hub": hub_logits}, out + ".pt")
    with open(out, "w") as handle:
        json.dump(result, handle)
    """
)


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A tiny model saved with its tokenizer and card, exported with the CLI (also put in a Hub cache as
    "org/remote"); the package's outputs for it."""
    from conftest import make_tiny_model

    root = tmp_path_factory.mktemp("remote")
    model = make_tiny_model(seed=3)
    tokenizer = PerceiverByteTokenizer(model_max_length=model.config.max_seq_len)
    model.save_pretrained(root / "saved")
    tokenizer.save_pretrained(root / "saved")
    (root / "saved" / "README.md").write_text("---\nlicense: apache-2.0\n---\n# tiny\n", encoding="utf-8")
    assert cli_main(["export-hub", str(root / "saved"), str(root / "hub")]) == 0
    add_snapshot(root / "cache", HUB_REPO_ID, "main", root / "hub")
    encoding = tokenizer(TEXTS, padding=True, return_tensors="pt")
    with torch.no_grad():
        logits = model(**encoding).logits
    return {"root": root, "folder": root / "hub", "logits": logits}


@pytest.fixture(scope="module")
def child_result(exported: dict) -> dict:
    """What the child Python (perceiver_hf blocked, PYTHONPATH cleared) loaded from the exported files."""
    root = exported["root"]
    args = [str(exported["folder"]), HUB_REPO_ID, json.dumps(TEXTS), FILL_TEXT]
    result = run_child(root, CHILD, args, {"HF_HUB_CACHE": str(root / "cache")}, drop_env=("PYTHON",))
    result["logits"] = result.pop("tensors")
    return result


def test_folder_has_auto_map_and_code(exported: dict) -> None:
    folder = exported["folder"]
    config = json.loads((folder / "config.json").read_text())
    assert config["model_type"] == "perceiver_io"
    assert config["auto_map"] == {
        "AutoConfig": "configuration_perceiver.PerceiverConfig",
        "AutoModel": "modeling_perceiver.PerceiverModel",
        "AutoModelForMaskedLM": "modeling_perceiver.PerceiverForMaskedLM",
        "AutoTokenizer": ["tokenization_perceiver.PerceiverByteTokenizer", None],
    }
    tokenizer_config = json.loads((folder / "tokenizer_config.json").read_text())
    assert tokenizer_config["auto_map"] == {"AutoTokenizer": ["tokenization_perceiver.PerceiverByteTokenizer", None]}
    for name in ("configuration_perceiver.py", "modeling_perceiver.py", "tokenization_perceiver.py", "README.md"):
        assert (folder / name).is_file(), name


def test_child_cannot_import_the_package(child_result: dict) -> None:
    assert child_result["perceiver_hf_importable"] is False
    assert child_result["package_modules"] == []
    assert child_result["model_module"].startswith("transformers_modules.")
    assert child_result["tokenizer_module"].startswith("transformers_modules.")


def test_remote_code_needs_trust(child_result: dict) -> None:
    assert "trust_remote_code=True" in child_result["error_without_trust"]


def test_remote_tokenizer_gives_byte_ids(child_result: dict) -> None:
    # UTF-8 byte + 6, [MASK] = 3, right padding with 0: computed here, not by the package
    first = [b + 6 for b in "héllo ".encode()] + [3] + [b + 6 for b in " wörld".encode()]
    second = [b + 6 for b in b"short"]
    second += [0] * (len(first) - len(second))
    assert child_result["input_ids"] == [first, second]
    assert child_result["attention_mask"][1] == [1] * 5 + [0] * (len(first) - 5)


@pytest.mark.parametrize("source", ["folder", "hub"])
def test_remote_logits_equal_package_logits(exported: dict, child_result: dict, source: str) -> None:
    remote, local = child_result["logits"][source], exported["logits"]
    assert remote.shape == local.shape == (2, 15, 262)
    assert (remote - local).abs().max().item() <= 1e-6


def test_remote_base_model_and_hub_repo_use_remote_classes(child_result: dict) -> None:
    assert child_result["base_class"] == "PerceiverModel"
    assert child_result["hub_model_module"].startswith("transformers_modules.org.remote.")


def test_remote_pipeline_matches_package_pipeline(exported: dict, child_result: dict) -> None:
    local = pipeline("fill-mask", model=str(exported["folder"]))
    expected = local(FILL_TEXT, top_k=3)
    assert [p["token"] for p in child_result["fill"]] == [p["token"] for p in expected]
    for got, want in zip(child_result["fill"], expected):
        assert got["score"] == pytest.approx(want["score"], abs=1e-6)


def test_package_loads_exported_folder_without_remote_code(exported: dict) -> None:
    folder = exported["folder"]
    model = AutoModelForMaskedLM.from_pretrained(folder)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    assert type(model) is PerceiverForMaskedLM
    assert type(tokenizer) is PerceiverByteTokenizer
