"""`perceiver-hf convert perceiver-io` of the library's (0.4.0) text classifier (`LitTextClassifier`), run by the
library itself: tiny random `TextClassifier`s, padded inputs (the library's `pad_mask`), logits to 1e-5."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from helpers.perceiver_io_library import library_module
from helpers.perceiver_io_models import lit_text_classifier, save_lightning_checkpoint, save_state_dict_and_settings

from perceiver_hf import PerceiverByteTokenizer, PerceiverForSequenceClassification
from perceiver_hf.cli import main
from perceiver_hf.convert import ConversionError, convert_perceiver_io_checkpoint

TOLERANCE = 1e-5
ENCODER = dict(
    vocab_size=262, max_seq_len=20, num_input_channels=16, num_cross_attention_heads=2, num_self_attention_heads=2,
    num_self_attention_layers_per_block=2,
)  # fmt: skip
SIZES = dict(num_latents=6, num_latent_channels=24)
DECODERS = {
    "library-defaults": dict(num_classes=3),  # 8 heads, query width 256
    "unset-query-width": dict(num_classes=4, num_output_query_channels=None, num_cross_attention_heads=2),
    "widths-widening": dict(num_classes=3, num_output_query_channels=12, num_cross_attention_heads=3,
                            num_cross_attention_qk_channels=6, num_cross_attention_v_channels=9,
                            cross_attention_widening_factor=2),
}  # fmt: skip
"""The library's defaults, its unset query width (= num_classes), and unequal q/k and v widths with widening."""


def _inputs(batch: int = 3, length: int = 14, seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """Token ids [B, L] and the library's pad_mask [B, L] (True = padding; rows padded by 0, 5 and 9 tokens)."""
    generator = torch.Generator().manual_seed(seed)
    input_ids = torch.randint(0, ENCODER["vocab_size"], (batch, length), generator=generator)
    lengths = torch.tensor([length, length - 5, length - 9])[:batch]
    return input_ids, torch.arange(length)[None, :] >= lengths[:, None]


def _max_error(library_model: torch.nn.Module, folder: Path) -> float:
    """Max |logits - the library's TextClassifier logits| [B, num_classes] on padded inputs."""
    input_ids, pad_mask = _inputs()
    with torch.no_grad():
        expected = library_model(input_ids, pad_mask)  # [B, K]
        logits = PerceiverForSequenceClassification.from_pretrained(folder).eval()(
            input_ids=input_ids, attention_mask=(~pad_mask).long()
        ).logits
    assert logits.shape == expected.shape
    assert float(expected.std()) > 0.1  # logits of a size where a wrong mapping would show
    # padding matters: the padded rows' logits change if the padding is read
    with torch.no_grad():
        unmasked = library_model(input_ids, torch.zeros_like(pad_mask))
    assert float((unmasked - expected)[1:].abs().max()) > 10 * TOLERANCE
    return float((logits - expected).abs().max())


@pytest.mark.parametrize("decoder", list(DECODERS.values()), ids=list(DECODERS))
def test_lightning_checkpoint_converts_to_the_library_logits(tmp_path: Path, decoder: dict) -> None:
    lit = lit_text_classifier(ENCODER, decoder, **SIZES, seed=3)
    folder = convert_perceiver_io_checkpoint(save_lightning_checkpoint(lit, tmp_path / "clf.ckpt"), tmp_path / "out", progress=False)
    assert _max_error(lit.model, folder) <= TOLERANCE
    config = json.loads((folder / "config.json").read_text())
    assert config["architectures"] == ["PerceiverForSequenceClassification"]
    assert len(config["id2label"]) == decoder["num_classes"] and config["scale_input_embeddings"] is True
    card = (folder / "README.md").read_text()
    assert "text classifier converted from perceiver-io 0.4 (clf.ckpt)" in card and "LitTextClassifier" in card
    assert "pipeline_tag: text-classification" in card


def test_the_library_semantics_matter(tmp_path: Path) -> None:
    """Each field the converter sets is needed: with perceiver-hf's own default instead, the logits differ by more
    than ten times the tolerance (guards e.g. a classifier that ignores `scale_input_embeddings`)."""
    lit = lit_text_classifier(ENCODER, DECODERS["widths-widening"], **SIZES, seed=5)
    folder = convert_perceiver_io_checkpoint(save_lightning_checkpoint(lit, tmp_path / "s.ckpt"), tmp_path / "out", progress=False)
    input_ids, pad_mask = _inputs()
    with torch.no_grad():
        expected = lit.model(input_ids, pad_mask)
    for field, other_value in [("scale_input_embeddings", False), ("hidden_act", "gelu_pytorch_tanh"),
                               ("classifier_cross_attention_residual", False)]:
        model = PerceiverForSequenceClassification.from_pretrained(folder, **{field: other_value}).eval()
        with torch.no_grad():
            logits = model(input_ids=input_ids, attention_mask=(~pad_mask).long()).logits
        assert float((logits - expected).abs().max()) > 10 * TOLERANCE, field


def test_state_dict_with_settings_json_labels_and_pipeline(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    decoder = DECODERS["widths-widening"]
    lit = lit_text_classifier(ENCODER, decoder, **SIZES, seed=4)
    labels = {"0": "negative", "1": "neutral", "2": "positive"}
    settings = {"encoder": ENCODER, "decoder": dict(decoder, id2label=labels), **SIZES}
    weights, settings_path = save_state_dict_and_settings(lit.model, settings, tmp_path)
    out = tmp_path / "out"
    status = main(["convert", "perceiver-io", str(weights), str(out), "--config", str(settings_path), "--quiet"])
    assert status == 0, capsys.readouterr().err
    assert _max_error(lit.model, out) <= TOLERANCE
    config = json.loads((out / "config.json").read_text())
    assert config["id2label"] == labels
    # the folder plus a tokenizer (the card's "Adding the tokenizer") works in the text-classification pipeline
    from transformers import pipeline

    tokenizer = PerceiverByteTokenizer(model_max_length=ENCODER["max_seq_len"])
    tokenizer.save_pretrained(out)
    classifier = pipeline("text-classification", model=str(out), top_k=None)
    texts = ["good film", "a much longer text"]
    results = classifier(texts, batch_size=2)
    encoded = tokenizer(texts, padding=True, return_tensors="pt")
    with torch.no_grad():
        expected = torch.softmax(lit.model(encoded["input_ids"], encoded["attention_mask"] == 0), dim=-1)  # [2, 3]
    for row, result in zip(expected, results):
        scores = {item["label"]: item["score"] for item in result}
        assert set(scores) == set(labels.values())
        assert max(abs(scores[labels[str(index)]] - float(row[index])) for index in range(3)) <= TOLERANCE


def test_several_output_queries_are_refused(tmp_path: Path) -> None:
    """The library squeezes dim 1 only: with 2 queries it returns [B, 2, K] (perceiver-hf would average)."""
    lit = lit_text_classifier(ENCODER, dict(num_classes=3, num_output_queries=2, num_output_query_channels=12, num_cross_attention_heads=2), **SIZES)
    with torch.no_grad():
        assert lit.model(*_inputs()).shape == (3, 2, 3)
    with pytest.raises(ConversionError, match=r"num_output_queries=2.*only 1 is supported"):
        convert_perceiver_io_checkpoint(save_lightning_checkpoint(lit, tmp_path / "q.ckpt"), tmp_path / "out", progress=False)
    assert not (tmp_path / "out").exists()


def test_differing_dropout_and_labels_are_refused(tmp_path: Path) -> None:
    lit = lit_text_classifier(ENCODER, dict(num_classes=3, num_output_query_channels=12, num_cross_attention_heads=2, dropout=0.1), **SIZES)
    with pytest.raises(ConversionError, match="dropout"):
        convert_perceiver_io_checkpoint(save_lightning_checkpoint(lit, tmp_path / "d.ckpt"), tmp_path / "out", progress=False)
    settings = {"encoder": ENCODER, "decoder": dict(num_classes=3, id2label={"0": "a", "5": "b"}), **SIZES}
    weights, settings_path = save_state_dict_and_settings(lit.model, settings, tmp_path)
    with pytest.raises(ConversionError, match=r"id2label has indices \[0, 5\]"):
        convert_perceiver_io_checkpoint(weights, tmp_path / "out2", settings_json=settings_path, progress=False)
    # a masked-LM decoder field in a classifier's settings is named, with the fields there are
    settings_path.write_text(json.dumps({"encoder": ENCODER, "decoder": dict(num_classes=3, vocab_size=262), **SIZES}))
    with pytest.raises(ConversionError, match=r"field\(s\) \['vocab_size'\].*num_output_query_channels"):
        convert_perceiver_io_checkpoint(weights, tmp_path / "out3", settings_json=settings_path, progress=False)
    assert not (tmp_path / "out2").exists() and not (tmp_path / "out3").exists()


def test_the_library_is_the_reference() -> None:
    """The classifier under test is the library's own class (not a stand-in)."""
    assert library_module("perceiver.model.text.classifier").TextClassifier.__module__ == "perceiver.model.text.classifier"


def test_a_classifier_started_from_a_converted_masked_lm_keeps_its_encoder(tmp_path: Path) -> None:
    """`PerceiverForSequenceClassification.from_pretrained(<converted masked LM>, num_labels=k)` encodes as the
    masked LM does (the library's `scale_input_embeddings` reaches the classifier's encoder too)."""
    from helpers.perceiver_io_models import lit_language_model

    from perceiver_hf import PerceiverForMaskedLM

    lit = lit_language_model(ENCODER, dict(vocab_size=262, max_seq_len=20, num_cross_attention_heads=2), **SIZES, seed=6)
    folder = convert_perceiver_io_checkpoint(save_lightning_checkpoint(lit, tmp_path / "m.ckpt"), tmp_path / "mlm", progress=False)
    input_ids, pad_mask = _inputs()
    classifier = PerceiverForSequenceClassification.from_pretrained(folder, num_labels=3).eval()
    masked_lm = PerceiverForMaskedLM.from_pretrained(folder).eval()
    with torch.no_grad():
        expected = lit.model.encoder(input_ids, pad_mask)  # [B, N, D], the library's latents
        for model in (classifier, masked_lm):
            latents = model.perceiver.encoder(input_ids, (~pad_mask).long()).last_hidden_state
            assert float((latents - expected).abs().max()) <= TOLERANCE, type(model).__name__


def test_export_back_loads_into_the_library_text_classifier(tmp_path: Path) -> None:
    from perceiver_hf.convert import export_perceiver_io_state_dict

    lit = lit_text_classifier(ENCODER, DECODERS["widths-widening"], **SIZES, seed=7)
    folder = convert_perceiver_io_checkpoint(save_lightning_checkpoint(lit, tmp_path / "b.ckpt"), tmp_path / "out", progress=False)
    state_dict, settings = export_perceiver_io_state_dict(PerceiverForSequenceClassification.from_pretrained(folder))
    library = library_module("perceiver.model.text.classifier")
    rebuilt = library.TextClassifier(library.PerceiverConfig(
        encoder=library.TextEncoderConfig(**settings["encoder"]),
        decoder=library.ClassificationDecoderConfig(**settings["decoder"]),
        num_latents=settings["num_latents"], num_latent_channels=settings["num_latent_channels"],
    )).eval()  # fmt: skip
    rebuilt.load_state_dict(state_dict, strict=True)
    input_ids, pad_mask = _inputs()
    with torch.no_grad():
        error = (rebuilt(input_ids, pad_mask) - lit.model(input_ids, pad_mask)).abs()
    assert float(error.max()) <= TOLERANCE


def test_export_refuses_a_classifier_the_library_cannot_compute(tmp_path: Path) -> None:
    from perceiver_hf.convert import export_perceiver_io_state_dict

    lit = lit_text_classifier(ENCODER, DECODERS["widths-widening"], **SIZES, seed=8)
    folder = convert_perceiver_io_checkpoint(save_lightning_checkpoint(lit, tmp_path / "r.ckpt"), tmp_path / "out", progress=False)
    model = PerceiverForSequenceClassification.from_pretrained(folder, classifier_num_queries=2, ignore_mismatched_sizes=True)
    with pytest.raises(ConversionError, match="classifier_num_queries=2"):
        export_perceiver_io_state_dict(model)
