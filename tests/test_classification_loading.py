"""Classification heads from pretrained masked-LM folders, through the Auto classes and transformers' pipelines.

From an MLM folder (the shipped model, a converted DeepMind fixture, a transformers import) the heads reuse every
encoder weight and initialise exactly the `classifier.*` weights, which transformers' "newly initialized" warning
names; anything else missing stays an error. The Auto classes resolve `perceiver_io` to the package's classes
(never transformers' Perceiver); heads the package lacks give one clear error.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest
import torch
from conftest import TINY_CONFIG, make_random_ids
from helpers.conversion import TINY_HEADS
from helpers.sources import transformers_source, transformers_source_template  # noqa: F401 (fixtures)
from safetensors.torch import load_file, save_file
from test_classification_heads import sequence_model, token_model
from transformers import (
    AutoConfig,
    AutoModelForQuestionAnswering,
    AutoModelForSequenceClassification,
    AutoModelForTokenClassification,
    pipeline,
)
from transformers import PerceiverForSequenceClassification as TransformersSequenceClassifier
from transformers.testing_utils import CaptureLogger

from perceiver_hf import (
    PerceiverByteTokenizer,
    PerceiverForMaskedLM,
    PerceiverForSequenceClassification,
    PerceiverForTokenClassification,
    pretrained_model_path,
)
from perceiver_hf.auto_registration import UnsupportedTaskError
from perceiver_hf.convert import convert_haiku_checkpoint, convert_transformers_checkpoint
from perceiver_hf.strict_loading import WeightsMismatchError

HEADS = (PerceiverForSequenceClassification, PerceiverForTokenClassification)
LABELS = {0: "O", 1: "B-CODE", 2: "I-CODE"}


def _classifier_keys(model: torch.nn.Module) -> set[str]:
    return {name for name in model.state_dict() if name.startswith("classifier.")}


def _check_from_masked_lm(folder: Path, head: type) -> None:
    """`head.from_pretrained(folder, num_labels=4)` loads every MLM weight it shares and reports only the new ones."""
    masked_lm = PerceiverForMaskedLM.from_pretrained(folder)
    logger = logging.getLogger("transformers.modeling_utils")
    with CaptureLogger(logger) as captured:
        model, info = head.from_pretrained(folder, num_labels=4, output_loading_info=True)
    new = _classifier_keys(model)
    assert new and set(info["missing_keys"]) == new
    assert "newly initialized" in captured.out and all(key in captured.out for key in new)
    assert "perceiver.encoder" not in captured.out
    assert model.config.num_labels == 4 and model(make_random_ids(1, 9)).logits.shape[-1] == 4
    shared = {key: value for key, value in masked_lm.state_dict().items() if key in model.state_dict()}
    expected_shared = {k for k in masked_lm.state_dict() if k.startswith("perceiver.encoder.")}
    if head is PerceiverForTokenClassification:
        expected_shared |= {k for k in masked_lm.state_dict() if k.startswith("perceiver.decoder.")}
    assert set(shared) == expected_shared
    for key, value in shared.items():
        assert torch.equal(model.state_dict()[key], value), key


@pytest.mark.parametrize("head", HEADS)
def test_from_the_shipped_model(head: type) -> None:
    _check_from_masked_lm(pretrained_model_path(), head)


@pytest.mark.parametrize("head", HEADS)
def test_from_a_converted_deepmind_checkpoint(head: type, haiku_tiny_dir: Path, tmp_path: Path) -> None:
    folder = convert_haiku_checkpoint(
        haiku_tiny_dir / "params.pickle", tmp_path / "mlm", config_overrides=TINY_HEADS, progress=False
    )
    _check_from_masked_lm(folder, head)


@pytest.mark.parametrize("head", HEADS)
def test_from_a_transformers_import(head: type, transformers_source: Path, tmp_path: Path) -> None:
    folder = convert_transformers_checkpoint(transformers_source, tmp_path / "mlm", progress=False)
    _check_from_masked_lm(folder, head)


def _rewrite(folder: Path, drop: str) -> Path:
    weights = load_file(folder / "model.safetensors")
    del weights[drop]
    save_file(weights, folder / "model.safetensors", metadata={"format": "pt"})
    return folder


def test_missing_encoder_weights_stay_an_error(tmp_path: Path) -> None:
    folder = Path(shutil.copytree(pretrained_model_path(), tmp_path / "mlm"))
    _rewrite(folder, "perceiver.encoder.latent_provider.query")
    for head in HEADS:
        with pytest.raises(WeightsMismatchError, match=r"1 missing \(perceiver\.encoder\.latent_provider\.query\)"):
            head.from_pretrained(folder, num_labels=2)


@pytest.mark.parametrize("make", [sequence_model, token_model])
def test_a_classifier_folder_missing_part_of_its_head_is_an_error(make, tmp_path: Path) -> None:
    model = make()
    model.save_pretrained(tmp_path / "model")
    _rewrite(tmp_path / "model", sorted(_classifier_keys(model))[0])
    with pytest.raises(WeightsMismatchError, match="1 missing"):
        type(model).from_pretrained(tmp_path / "model")


def test_auto_classes_resolve_to_the_package_classes(tmp_path: Path) -> None:
    config = AutoConfig.for_model("perceiver_io", **{**TINY_CONFIG, "num_labels": 3})
    assert type(AutoModelForSequenceClassification.from_config(config)) is PerceiverForSequenceClassification
    assert type(AutoModelForTokenClassification.from_config(config)) is PerceiverForTokenClassification
    for make, auto in ((sequence_model, AutoModelForSequenceClassification), (token_model, AutoModelForTokenClassification)):
        folder = tmp_path / auto.__name__
        make().save_pretrained(folder)
        loaded = auto.from_pretrained(folder)
        assert type(loaded) is type(make()) and not isinstance(loaded, TransformersSequenceClassifier)
    # from a masked-LM folder too (its config.json names PerceiverForMaskedLM)
    assert type(AutoModelForSequenceClassification.from_pretrained(pretrained_model_path())) is (
        PerceiverForSequenceClassification
    )


def test_a_head_perceiver_io_lacks_is_one_clear_error(tmp_path: Path) -> None:
    message = "perceiver_io supports masked-LM, sequence and token classification"
    with pytest.raises(UnsupportedTaskError, match=message):
        AutoModelForQuestionAnswering.from_pretrained(pretrained_model_path())
    with pytest.raises(UnsupportedTaskError, match=message):
        AutoModelForQuestionAnswering.from_config(sequence_model().config)


def _saved(model: torch.nn.Module, folder: Path) -> str:
    model.save_pretrained(folder)
    PerceiverByteTokenizer(model_max_length=model.config.max_seq_len).save_pretrained(folder)
    return str(folder)


def test_text_classification_pipeline_batched_with_top_k(tmp_path: Path) -> None:
    labels = {0: "neg", 1: "neu", 2: "pos"}
    model = sequence_model(id2label=labels, label2id={v: k for k, v in labels.items()})
    classifier = pipeline("text-classification", model=_saved(model, tmp_path / "model"))
    assert type(classifier.model) is PerceiverForSequenceClassification
    texts = ["a short one", "a rather longer text, to make the batch padded", "mid length text"]
    batched = classifier(texts, top_k=None, batch_size=3)
    tokenizer = PerceiverByteTokenizer()
    for text, result in zip(texts, batched):
        with torch.no_grad():
            probabilities = model(**tokenizer(text, return_tensors="pt")).logits.softmax(-1)[0]
        expected = sorted(((labels[i], float(p)) for i, p in enumerate(probabilities)), key=lambda x: -x[1])
        assert [r["label"] for r in result] == [label for label, _ in expected]
        assert [r["score"] for r in result] == pytest.approx([score for _, score in expected], abs=1e-5)
    one_by_one = [classifier(text, top_k=2) for text in texts]
    for result, single, full in zip(classifier(texts, top_k=2, batch_size=2), one_by_one, batched):
        assert [r["label"] for r in result] == [r["label"] for r in single] == [r["label"] for r in full[:2]]
        assert [r["score"] for r in result] == pytest.approx([r["score"] for r in single], abs=1e-5)
    top1 = classifier(texts[0])
    assert top1[0]["label"] == batched[0][0]["label"] and top1[0]["score"] == pytest.approx(batched[0][0]["score"])


def test_token_classification_pipeline_with_aggregation(tmp_path: Path) -> None:
    # a random decoder without query residual gives nearly the same output at every position; with it (and a
    # scaled classifier) the predictions vary along the text: O, B-CODE and I-CODE all occur for seed 3
    model = token_model(
        seed=3, decoder_cross_attention_residual=True, id2label=LABELS, label2id={v: k for k, v in LABELS.items()}
    )
    with torch.no_grad():
        model.classifier.linear.weight.mul_(10)
    tagger = pipeline("token-classification", model=_saved(model, tmp_path / "model"))
    texts = ["call len(x) on it", "no code"]
    tokenizer = PerceiverByteTokenizer()
    for text, tokens in zip(texts, tagger(texts, aggregation_strategy="none", ignore_labels=[], batch_size=2)):
        with torch.no_grad():
            predicted = model(**tokenizer(text, return_tensors="pt")).logits[0].argmax(-1)
        assert [t["entity"] for t in tokens] == [LABELS[int(i)] for i in predicted]
        # trimmed offsets (the tokenizer's default, as RoBERTa's): a whitespace byte's span is empty
        assert [text[t["start"]: t["end"]] for t in tokens] == ["" if ch.isspace() else ch for ch in text]
    groups = tagger(texts[0], aggregation_strategy="simple")
    by_byte = tagger(texts[0], aggregation_strategy="none", ignore_labels=[])
    assert groups, "the decisive model predicts some entities"
    for group in groups:
        assert group["word"] == texts[0][group["start"]: group["end"]]
        # the bytes whose characters the group covers (a whitespace byte's empty span covers none)
        inside = [t["entity"] for t in by_byte if group["start"] <= t["start"] < t["end"] <= group["end"]]
        assert {entity.split("-")[-1] for entity in inside} == {group["entity_group"]}
