"""Loading by Hub repo id through the Hugging Face cache, offline, plus sharded weights and clear load errors.

A cache is built by hand in the Hub's own snapshot layout (models--org--name/{blobs,refs,snapshots/<commit>},
blob files named by content hash, snapshot entries as relative symlinks, refs/<branch> holding the commit
hash). A child Python with HF_HUB_OFFLINE=1 and HF_HUB_CACHE pointing at it loads "org/name" at several
revisions; the environment variables are read when huggingface_hub is imported, hence the child process.
"""

from __future__ import annotations

import json
import os
import shutil
import textwrap
from pathlib import Path

import pytest
import torch
from transformers import BertConfig, BertForMaskedLM

from helpers.hub import add_snapshot, run_child
from perceiver_hf import PerceiverForMaskedLM
from perceiver_hf.tokenization_perceiver import PerceiverByteTokenizer

REPO_ID = "org/name"
TEXT = "a [MASK] c"


CHILD = textwrap.dedent(
    """
    import json, sys
    import torch
    torch.set_num_threads(1)
    import perceiver_hf  # noqa: F401  (registers perceiver_io)
    from transformers import AutoModelForMaskedLM, AutoTokenizer
    from perceiver_hf import PerceiverForMaskedLM

    repo_id, text, commit, out = sys.argv[1:5]
    results, logits = {}, {}

    def run(name, model_class, **kwargs):
        try:
            model = model_class.from_pretrained(repo_id, **kwargs).eval()
            tokenizer = AutoTokenizer.from_pretrained(repo_id, **kwargs)
            encoding = tokenizer(text, return_tensors="pt")
            with torch.no_grad():
                logits[name] = model(**encoding).logits
            results[name] = {"ok": True, "class": type(model).__name__, "ids": encoding["input_ids"].tolist()}
        except Exception as error:
            results[name] = {"ok": False, "type": type(error).__name__, "message": str(error)}

    run("main", AutoModelForMaskedLM)
    run("main_direct", PerceiverForMaskedLM)
    run("commit", PerceiverForMaskedLM, revision=commit)
    run("v2", AutoModelForMaskedLM, revision="v2")
    run("missing_weights", PerceiverForMaskedLM, revision="missing-weights")
    run("missing_shard", PerceiverForMaskedLM, revision="missing-shard")
    run("corrupt", PerceiverForMaskedLM, revision="corrupt")
    run("bert", PerceiverForMaskedLM, revision="bert")
    run("no_such_revision", PerceiverForMaskedLM, revision="no-such-branch")
    torch.save(logits, out + ".pt")
    with open(out, "w") as handle:
        json.dump(results, handle)
    """
)


@pytest.fixture(scope="module")
def hub_cache(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Cache with branches main (model A), v2 (model B, sharded) and broken ones; the package's logits for A, B."""
    from conftest import make_tiny_model

    root = tmp_path_factory.mktemp("hub")
    tokenizer = PerceiverByteTokenizer(model_max_length=128)
    model_a = make_tiny_model(seed=1)
    model_b = make_tiny_model(seed=2, num_self_attention_layers_per_block=3)
    folders = {}
    for name, model, shard in (("a", model_a, None), ("b", model_b, "100KB")):
        folder = folders[name] = root / name
        model.save_pretrained(folder, **({} if shard is None else {"max_shard_size": shard}))
        tokenizer.save_pretrained(folder)
    assert len(list(folders["b"].glob("*.safetensors"))) > 2  # really sharded

    broken = {}
    broken["missing-weights"] = shutil.copytree(folders["a"], root / "missing-weights")
    (broken["missing-weights"] / "model.safetensors").unlink()
    broken["missing-shard"] = shutil.copytree(folders["b"], root / "missing-shard")
    sorted(broken["missing-shard"].glob("*-of-*.safetensors"))[1].unlink()
    broken["corrupt"] = shutil.copytree(folders["a"], root / "corrupt")
    weights = broken["corrupt"] / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])  # an interrupted download
    broken["bert"] = root / "bert"
    BertForMaskedLM(
        BertConfig(hidden_size=8, num_hidden_layers=1, num_attention_heads=2, intermediate_size=8)
    ).save_pretrained(broken["bert"])
    tokenizer.save_pretrained(broken["bert"])

    cache = root / "cache"
    commit_main = add_snapshot(cache, REPO_ID, "main", folders["a"])
    add_snapshot(cache, REPO_ID, "v2", folders["b"])
    for branch, folder in broken.items():
        add_snapshot(cache, REPO_ID, branch, folder)

    encoding = tokenizer(TEXT, return_tensors="pt")
    with torch.no_grad():
        expected = {"a": model_a(**encoding).logits, "b": model_b(**encoding).logits}
    return {"root": root, "cache": cache, "commit_main": commit_main, "expected": expected}


@pytest.fixture(scope="module")
def loaded(hub_cache: dict) -> dict:
    result = run_child(
        hub_cache["root"], CHILD, [REPO_ID, TEXT, hub_cache["commit_main"]], {"HF_HUB_CACHE": str(hub_cache["cache"])}
    )
    return {"logits": result.pop("tensors"), "results": result}


def test_cache_layout_is_the_hubs(hub_cache: dict) -> None:
    repo = hub_cache["cache"] / "models--org--name"
    assert (repo / "refs" / "main").read_text() == hub_cache["commit_main"]
    entry = repo / "snapshots" / hub_cache["commit_main"] / "config.json"
    assert entry.is_symlink() and not os.path.isabs(os.readlink(entry))
    assert entry.resolve().parent == (repo / "blobs").resolve()


@pytest.mark.parametrize("name, model", [("main", "a"), ("main_direct", "a"), ("commit", "a"), ("v2", "b")])
def test_revisions_load_their_own_weights(hub_cache: dict, loaded: dict, name: str, model: str) -> None:
    result = loaded["results"][name]
    assert result["ok"], result
    assert result["class"] == PerceiverForMaskedLM.__name__
    assert result["ids"] == [[b + 6 for b in b"a "] + [3] + [b + 6 for b in b" c"]]
    assert torch.allclose(loaded["logits"][name], hub_cache["expected"][model], atol=1e-6, rtol=0)
    other = hub_cache["expected"]["b" if model == "a" else "a"]
    assert not torch.allclose(loaded["logits"][name], other, atol=1e-2)


@pytest.mark.parametrize(
    "name, error, fragments",
    [
        ("missing_weights", "OSError", ["does not appear to have a file named", "model.safetensors"]),
        ("missing_shard", "OSError", ["model-00002-of-"]),
        ("corrupt", "OSError", ["model.safetensors is not a valid safetensors file", "force_download=True"]),
        ("bert", "ValueError", ["type 'bert'", "model_type 'perceiver_io'"]),
        ("no_such_revision", "OSError", ["no-such-branch"]),
    ],
)
def test_broken_checkpoints_give_clear_errors(loaded: dict, name: str, error: str, fragments: list[str]) -> None:
    result = loaded["results"][name]
    assert not result["ok"] and result["type"] == error, result
    for fragment in fragments:
        assert fragment in result["message"], result["message"]


def test_sharded_export_round_trips(tmp_path: Path, tiny_model) -> None:
    from perceiver_hf.hub import export_for_hub

    model = tiny_model(seed=4)
    export_for_hub(model, tmp_path / "out", PerceiverByteTokenizer(), max_shard_size="100KB")
    index = json.loads((tmp_path / "out" / "model.safetensors.index.json").read_text())
    shards = set(index["weight_map"].values())
    assert len(shards) > 2 and all((tmp_path / "out" / shard).is_file() for shard in shards)
    assert "lm_head.weight" not in index["weight_map"]  # tied to the embedding, not saved
    reloaded = PerceiverForMaskedLM.from_pretrained(tmp_path / "out").eval()
    for key, value in model.state_dict().items():
        assert torch.equal(reloaded.state_dict()[key], value), key
    assert reloaded.lm_head.weight is reloaded.perceiver.get_input_embeddings().weight


def test_missing_config_is_a_clear_error(tmp_path: Path, tiny_model) -> None:
    tiny_model().save_pretrained(tmp_path / "saved")
    (tmp_path / "saved" / "config.json").unlink()
    with pytest.raises(OSError, match="has no config.json"):
        PerceiverForMaskedLM.from_pretrained(tmp_path / "saved")


def test_transformers_perceiver_checkpoint_points_to_the_converter(tmp_path: Path, tiny_model) -> None:
    tiny_model().save_pretrained(tmp_path / "saved")
    config = json.loads((tmp_path / "saved" / "config.json").read_text())
    (tmp_path / "saved" / "config.json").write_text(json.dumps({**config, "model_type": "perceiver"}))
    with pytest.raises(ValueError, match="perceiver-hf convert"):
        PerceiverForMaskedLM.from_pretrained(tmp_path / "saved")


def test_corrupted_shard_is_named(tmp_path: Path, tiny_model) -> None:
    tiny_model().save_pretrained(tmp_path / "saved", max_shard_size="100KB")
    shard = sorted((tmp_path / "saved").glob("*-of-*.safetensors"))[1]
    shard.write_bytes(b"<html>502 Bad Gateway</html>")
    with pytest.raises(OSError, match=f"{shard.name} is not a valid safetensors file"):
        PerceiverForMaskedLM.from_pretrained(tmp_path / "saved")
