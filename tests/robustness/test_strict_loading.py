"""Issue 14 item 3: a model with missing, unexpected or mis-shaped weights never loads with random ones.

`from_pretrained` of the package's classes, transformers' pipelines and `perceiver-hf fill` fail loudly (naming
the keys); `pipeline(...)` never falls back to transformers' own `PerceiverForMaskedLM` (which loads none of the
weights); `perceiver-hf fill` refuses a folder that is not a Perceiver IO model.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Callable

import pytest
import torch
from safetensors.torch import load_file, save_file
from transformers import AutoModelForMaskedLM, pipeline

from helpers.log_records import recorded
from helpers.sources import saved_model  # noqa: F401 (fixture)

from perceiver_hf import PerceiverForMaskedLM, PerceiverForSequenceClassification, PerceiverModel
from perceiver_hf.cli import main
from perceiver_hf.strict_loading import PipelineWeightsMismatchError, WeightsMismatchError

POSITIONS = "perceiver.encoder.input_adapter.pos_encoding"


def _rewrite_weights(folder: Path, edit: Callable[[dict[str, torch.Tensor]], None]) -> Path:
    """Apply `edit` to the state dict in folder/model.safetensors and write it back."""
    weights = load_file(folder / "model.safetensors")
    edit(weights)
    save_file(weights, folder / "model.safetensors", metadata={"format": "pt"})
    return folder


def _mis_shaped(weights: dict[str, torch.Tensor]) -> None:
    weights[POSITIONS] = weights[POSITIONS][:, :10].contiguous()


def _missing_and_unexpected(weights: dict[str, torch.Tensor]) -> None:
    del weights[POSITIONS]
    weights["extra.weight"] = torch.zeros(3)


@pytest.fixture
def mis_shaped(saved_model: Path) -> Path:
    return _rewrite_weights(saved_model, _mis_shaped)


@pytest.mark.parametrize(
    ("edit", "expected"),
    [(_mis_shaped, ["1 mis-shaped", POSITIONS, "[128, 10]", "[128, 64]"]),
     (_missing_and_unexpected, ["1 missing", POSITIONS, "1 unexpected", "extra.weight"])],
)
@pytest.mark.parametrize("loader", [PerceiverForMaskedLM, AutoModelForMaskedLM])
def test_from_pretrained_refuses_weights_that_do_not_fit(saved_model: Path, edit, expected, loader) -> None:
    _rewrite_weights(saved_model, edit)
    with pytest.raises(WeightsMismatchError) as raised:
        loader.from_pretrained(saved_model)
    message = str(raised.value)
    assert "\n" not in message
    for part in [str(saved_model), *expected]:
        assert part in message


def test_an_intact_folder_loads_the_saved_weights(saved_model: Path, tiny_model) -> None:
    model, info = PerceiverForMaskedLM.from_pretrained(saved_model, output_loading_info=True)
    assert not (info["missing_keys"] or info["unexpected_keys"] or info["mismatched_keys"])
    expected = tiny_model().state_dict()  # the saved model is tiny_model() (seed 0)
    for name, value in model.state_dict().items():
        assert torch.equal(value, expected[name]), name


def test_mis_shaped_weights_load_only_when_the_caller_asks(mis_shaped: Path) -> None:
    model = PerceiverForMaskedLM.from_pretrained(mis_shaped, ignore_mismatched_sizes=True)
    assert model.perceiver.encoder.input_adapter.pos_encoding.shape == (128, 64)


def test_a_base_model_drops_the_masked_lm_head(saved_model: Path) -> None:
    """Loading `PerceiverModel` from a masked-LM folder leaves nothing random: the head is simply not used."""
    PerceiverModel.from_pretrained(saved_model)


def test_a_head_the_checkpoint_lacks_is_initialised_and_reported(
    saved_model: Path, tmp_path: Path
) -> None:
    """A `PerceiverModel` checkpoint has no masked-LM head: as transformers does, the head's own weight (the bias;
    the tied weight comes with the embedding) is initialised and named in the "newly initialized" warning."""
    base = tmp_path / "base"
    PerceiverModel.from_pretrained(saved_model).save_pretrained(base)
    with recorded("transformers.modeling_utils") as log:
        model, info = PerceiverForMaskedLM.from_pretrained(base, output_loading_info=True)
    assert info["missing_keys"] == {"lm_head.bias"}
    assert any("newly initialized: ['lm_head.bias']" in message for message in log.messages)
    assert torch.count_nonzero(model.lm_head.bias) == 0  # freshly initialised (zeros)
    embedding = model.perceiver.get_input_embeddings().weight
    assert model.lm_head.weight is embedding and torch.equal(embedding, load_file(base / "model.safetensors")[
        "encoder.input_adapter.text_embedding.weight"])


def test_a_base_model_from_a_classifier_gets_a_new_decoder(
    tiny_config, tmp_path: Path
) -> None:
    """A sequence classifier's backbone is the encoder alone: `PerceiverModel` (encoder and decoder) from its
    checkpoint keeps the encoder, drops the classifier and initialises and reports the decoder, as transformers'
    `AutoModel` does with a classifier checkpoint (transformers' `test_load_with_mismatched_shapes`)."""
    torch.manual_seed(0)
    classifier = PerceiverForSequenceClassification(tiny_config(num_labels=3))
    classifier.save_pretrained(tmp_path)
    with recorded("transformers.modeling_utils") as log:
        model, info = PerceiverModel.from_pretrained(tmp_path, output_loading_info=True)
    decoder_keys = {f"decoder.{name}" for name in model.decoder.state_dict()}
    assert decoder_keys and set(info["missing_keys"]) == decoder_keys
    assert any("newly initialized" in message and "decoder." in message for message in log.messages)
    saved = load_file(tmp_path / "model.safetensors")
    for name, value in model.encoder.state_dict().items():
        assert torch.equal(value, saved[f"perceiver.encoder.{name}"]), name


def test_a_base_model_refuses_a_checkpoint_with_part_of_its_decoder(saved_model: Path) -> None:
    """Only a checkpoint without any decoder weight gets a new decoder; a partial decoder is refused."""
    def drop_one_decoder_weight(weights: dict[str, torch.Tensor]) -> None:
        del weights[min(key for key in weights if key.startswith("perceiver.decoder."))]

    _rewrite_weights(saved_model, drop_one_decoder_weight)
    with pytest.raises(WeightsMismatchError, match=r"1 missing \(decoder\."):
        PerceiverModel.from_pretrained(saved_model)


@pytest.mark.parametrize("tied", [True, False])
def test_a_missing_embedding_is_refused_tied_or_not(saved_model: Path, tiny_model, tmp_path: Path, tied: bool) -> None:
    """The tied input embedding is a weight like any other: a checkpoint without it is refused (it used to load,
    leaving the embedding on the meta device until the first forward failed)."""
    folder = tmp_path / "model"
    tiny_model(tie_word_embeddings=tied).save_pretrained(folder)
    _rewrite_weights(folder, lambda weights: weights.pop("perceiver.encoder.input_adapter.text_embedding.weight"))
    with pytest.raises(WeightsMismatchError, match=r"missing \(.*perceiver\.encoder\.input_adapter\.text_embedding\.weight"):
        PerceiverForMaskedLM.from_pretrained(folder)


def test_mis_shaped_weights_are_a_runtime_error_as_in_transformers(mis_shaped: Path) -> None:
    with pytest.raises(RuntimeError, match="ignore_mismatched_sizes=True"):
        PerceiverForMaskedLM.from_pretrained(mis_shaped)


@pytest.mark.parametrize("task", ["fill-mask", "fill-mask-spans"])
def test_pipelines_do_not_fall_back_to_transformers_perceiver(mis_shaped: Path, task: str) -> None:
    """config.json names `PerceiverForMaskedLM`, also a transformers class; the pipeline must not try it."""
    with pytest.raises(PipelineWeightsMismatchError, match=POSITIONS):
        pipeline(task, model=str(mis_shaped))


def _fill_refused(argv: list[str], capsys: pytest.CaptureFixture) -> str:
    """Run `perceiver-hf fill`; assert exit 2 and one error line without traceback; return that line."""
    assert main(["fill", *argv]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    errors = [line for line in err.splitlines() if line.startswith("perceiver-hf fill: error:")]
    assert len(errors) == 1, err
    return errors[0]


def test_fill_refuses_mis_shaped_weights(mis_shaped: Path, capsys: pytest.CaptureFixture) -> None:
    message = _fill_refused([str(mis_shaped), "a [MASK]"], capsys)
    assert POSITIONS in message and "mis-shaped" in message


@pytest.mark.parametrize("model_type", ["bert", "perceiver"])
def test_fill_refuses_a_folder_of_another_model_type(
    saved_model: Path, capsys: pytest.CaptureFixture, model_type: str
) -> None:
    config = json.loads((saved_model / "config.json").read_text())
    (saved_model / "config.json").write_text(json.dumps({**config, "model_type": model_type}))
    message = _fill_refused([str(saved_model), "a [MASK]"], capsys)
    assert f"model_type {model_type!r}" in message and "perceiver_io" in message


def test_fill_still_fills_with_an_intact_folder(saved_model: Path, tmp_path: Path, capsys) -> None:
    copy = Path(shutil.copytree(saved_model, tmp_path / "copy"))
    assert main(["fill", str(copy), "a [MASK]"]) == 0
    assert capsys.readouterr().out.startswith("a ")
