"""Issue 26 item 1: a config's sizes are checked against the weights' shapes before anything is allocated.

A small folder whose config.json claims `num_latents=10**7` or `num_labels=10**9` (or a transformers source whose
config says `d_latents=10**9`) must fail in one line before `from_pretrained` builds the model. Each test makes
transformers' `PreTrainedModel.from_pretrained` (where the model is built and its weights allocated) raise
`Allocating`, so a refusal that comes too late fails the test at once instead of allocating gigabytes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

import pytest
import torch
from helpers.sources import saved_model, transformers_source, transformers_source_template  # noqa: F401 (fixtures)
from safetensors.torch import save_file
from transformers import AutoModelForMaskedLM, PreTrainedModel

from perceiver_hf import PerceiverForMaskedLM, PerceiverForSequenceClassification, PerceiverModel
from perceiver_hf.convert import ConversionError, convert_transformers_checkpoint
from perceiver_hf.strict_loading import WeightsMismatchError

LATENTS = "perceiver.encoder.latent_provider.query"


class Allocating(Exception):
    """transformers' from_pretrained was reached: the model would have been built with the config's sizes."""


@pytest.fixture
def no_allocation(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(cls: type, *args: Any, **kwargs: Any) -> None:
        raise Allocating(f"{cls.__name__}.from_pretrained was reached")

    monkeypatch.setattr(PreTrainedModel, "from_pretrained", classmethod(refuse))


def _edit_config(folder: Path, edit: Callable[[dict], None]) -> Path:
    config = json.loads((folder / "config.json").read_text())
    edit(config)
    (folder / "config.json").write_text(json.dumps(config))
    return folder


def _refused(load: Callable[[], Any], error: type, *fragments: str) -> str:
    with pytest.raises(error) as raised:
        load()
    message = str(raised.value)
    assert "\n" not in message, message
    for fragment in fragments:
        assert fragment in message, message
    return message


@pytest.mark.parametrize("loader", [PerceiverForMaskedLM, PerceiverModel, AutoModelForMaskedLM])
def test_num_latents_far_beyond_the_weights_is_refused_before_allocating(
    saved_model: Path, loader: Any, no_allocation: None
) -> None:
    """The Auto class builds the config itself and hands it over: then the shapes it implies are compared."""
    _edit_config(saved_model, lambda c: c.update(num_latents=10**7))
    message = _refused(lambda: loader.from_pretrained(saved_model), WeightsMismatchError, str(saved_model))
    mismatch = f"{LATENTS} (checkpoint [16, 96], model [10000000, 96])"
    assert "num_latents=10000000" in message.replace(",", "") or mismatch in message, message


def test_a_size_within_bounds_but_not_the_weights_is_refused_before_allocating(
    saved_model: Path, no_allocation: None
) -> None:
    saved = json.loads((saved_model / "config.json").read_text())
    _edit_config(saved_model, lambda c: c.update(num_latents=c["num_latents"] + 3))
    _refused(lambda: PerceiverForMaskedLM.from_pretrained(saved_model), WeightsMismatchError, "1 mis-shaped", LATENTS,
             f"checkpoint [{saved['num_latents']}, ", f"model [{saved['num_latents'] + 3}, ")  # fmt: skip


def test_num_labels_of_a_billion_is_refused_before_allocating(
    tmp_path: Path, tiny_config: Callable, no_allocation: None
) -> None:
    folder = tmp_path / "classifier"
    with torch.device("meta"):  # only the shapes matter: write zeros
        model = PerceiverForSequenceClassification(tiny_config(num_labels=3))
    folder.mkdir()
    weights = {name: torch.zeros(tensor.shape) for name, tensor in model.state_dict().items()}
    save_file(weights, folder / "model.safetensors", metadata={"format": "pt"})
    tiny_config(num_labels=3).save_pretrained(folder)

    def huge(config: dict) -> None:
        config.pop("id2label", None), config.pop("label2id", None)
        config["num_labels"] = 10**9

    _edit_config(folder, huge)
    _refused(lambda: PerceiverForSequenceClassification.from_pretrained(folder), WeightsMismatchError,
             "num_labels=1,000,000,000")  # fmt: skip


def test_intact_folders_still_load(saved_model: Path) -> None:
    model = PerceiverForMaskedLM.from_pretrained(saved_model)
    assert model.perceiver.encoder.latent_provider.query.shape[0] == model.config.num_latents


def test_convert_transformers_refuses_d_latents_beyond_the_weights(
    transformers_source: Path, tmp_path: Path, no_allocation: None
) -> None:
    _edit_config(transformers_source, lambda c: c.update(d_latents=10**9))
    _refused(lambda: convert_transformers_checkpoint(str(transformers_source), tmp_path / "out", progress=False),
             ConversionError, "d_latents=1,000,000,000")  # fmt: skip
    assert not (tmp_path / "out").exists()


def test_convert_transformers_refuses_mis_shaped_weights_before_loading(
    transformers_source: Path, tmp_path: Path, no_allocation: None
) -> None:
    _edit_config(transformers_source, lambda c: c.update(num_latents=c["num_latents"] * 2))
    _refused(lambda: convert_transformers_checkpoint(str(transformers_source), tmp_path / "out", progress=False),
             ConversionError, "does not describe the weights", "latents")  # fmt: skip


def test_a_config_json_with_a_billion_labels_is_refused_before_naming_them(tmp_path) -> None:
    """transformers names every class (LABEL_i) when a config is made, Auto classes included: 10**9 allocated
    gigabytes before any weight was read (issue 26 item 1)."""
    from transformers import AutoConfig

    from perceiver_hf import PerceiverConfig

    config = PerceiverConfig(num_labels=3).to_dict()
    config.pop("id2label"), config.pop("label2id")
    (tmp_path / "config.json").write_text(json.dumps({**config, "num_labels": 10**9}), encoding="utf-8")
    with pytest.raises(ValueError, match=r"num_labels must be an integer from 1 to 1,000,000 classes, got 1000000000"):
        AutoConfig.from_pretrained(tmp_path)  # the setter refuses before transformers names a single label
    assert PerceiverConfig(num_labels=7).num_labels == 7 and len(PerceiverConfig(num_labels=7).id2label) == 7
