"""Filling masks: transformers' "fill-mask" pipeline and our "fill-mask-spans" pipeline on saved folders.

References are computed independently of the pipelines: byte ids written by hand (UTF-8 byte + 6, MASK 3),
a direct model call decoding every position, and a model trained to memorise known sentences.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from conftest import make_tiny_model
from helpers.memorised_mlm import (
    MASKED_WORD,
    OTHER_MASKED_WORD,
    OTHER_SENTENCE,
    SENTENCE,
    save_memorised_model_folder,
    save_model_folder,
)
from helpers.tokenizers import train_unigram_tokenizer
from transformers import BertConfig, BertForMaskedLM, pipeline
from transformers.pipelines import PipelineException

import perceiver_hf  # noqa: F401  (registers the Auto classes and "fill-mask-spans")
from perceiver_hf import PerceiverForMaskedLM
from perceiver_hf.pipelines import FillMaskSpansPipeline, mask_span, masked_positions

MASK_ID = 3


def byte_ids(text: str) -> list[int]:
    """DeepMind's byte ids written out by hand: "[MASK]" -> 3, every other UTF-8 byte b -> b + 6."""
    ids: list[int] = []
    for index, piece in enumerate(text.split("[MASK]")):
        if index:
            ids.append(MASK_ID)
        ids.extend(byte + 6 for byte in piece.encode("utf-8"))
    return ids


def full_logits(model: PerceiverForMaskedLM, ids: list[int]) -> torch.Tensor:
    """Logits [L, V] of one sequence, decoding every position (no output_positions)."""
    with torch.no_grad():
        return model(torch.tensor([ids])).logits[0]


@pytest.fixture(scope="module")
def random_model() -> PerceiverForMaskedLM:
    return make_tiny_model(seed=0)


@pytest.fixture(scope="module")
def random_folder(random_model: PerceiverForMaskedLM, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_model_folder(random_model, tmp_path_factory.mktemp("random-mlm"))


@pytest.fixture(scope="module")
def memorised_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_memorised_model_folder(tmp_path_factory.mktemp("memorised-mlm"))


@pytest.fixture(scope="module")
def spans(random_folder: Path) -> FillMaskSpansPipeline:
    return pipeline("fill-mask-spans", model=str(random_folder))


# --- transformers' fill-mask pipeline ---------------------------------------------------------------------------


def test_fill_mask_one_mask_returns_the_models_top_k(random_folder: Path, random_model: PerceiverForMaskedLM):
    fill = pipeline("fill-mask", model=str(random_folder))
    assert isinstance(fill.model, PerceiverForMaskedLM)
    text = "hello w[MASK]rld"
    result = fill(text, top_k=3)

    probs = full_logits(random_model, byte_ids(text))[7].softmax(-1)  # the mask is byte 7
    expected_scores, expected_ids = probs.topk(3)
    assert [r["token"] for r in result] == expected_ids.tolist()
    assert [r["score"] for r in result] == pytest.approx(expected_scores.tolist(), abs=1e-5)
    best = expected_ids[0].item()
    if best >= 6:  # a byte (not a special token)
        assert result[0]["sequence"] == (b"hello w" + bytes([best - 6]) + b"rld").decode("utf-8", errors="replace")


def test_fill_mask_several_masks_returns_top_k_per_mask(random_folder: Path, random_model: PerceiverForMaskedLM):
    fill = pipeline("fill-mask", model=str(random_folder))
    text = "a[MASK]bc[MASK]d"
    result = fill(text, top_k=2)

    logits = full_logits(random_model, byte_ids(text))
    assert len(result) == 2  # one candidate list per mask
    for candidates, position in zip(result, (1, 4)):
        expected_scores, expected_ids = logits[position].softmax(-1).topk(2)
        assert [c["token"] for c in candidates] == expected_ids.tolist()
        assert [c["score"] for c in candidates] == pytest.approx(expected_scores.tolist(), abs=1e-5)


def test_fill_mask_without_mask_names_the_missing_token(random_folder: Path):
    fill = pipeline("fill-mask", model=str(random_folder))
    with pytest.raises(PipelineException, match=r"No mask_token \(\[MASK\]\) found on the input"):
        fill("nothing masked here")


def test_fill_mask_recovers_a_memorised_byte(memorised_folder: Path):
    fill = pipeline("fill-mask", model=str(memorised_folder))
    result = fill(SENTENCE.replace("missing", "m[MASK]ssing"), top_k=1)
    assert result[0]["token_str"] == "i"
    assert result[0]["sequence"] == SENTENCE


# --- fill-mask-spans ------------------------------------------------------------------------------------------


def test_spans_pipeline_is_registered(spans: FillMaskSpansPipeline):
    assert isinstance(spans, FillMaskSpansPipeline)
    assert isinstance(spans.model, PerceiverForMaskedLM)


def test_spans_predictions_equal_the_argmax_of_a_full_forward(
    spans: FillMaskSpansPipeline, random_model: PerceiverForMaskedLM
):
    text = "ab[MASK][MASK]cd[MASK]é[MASK][MASK][MASK]"
    ids = byte_ids(text)
    decoded_positions = []
    hook = spans.model.register_forward_pre_hook(
        lambda module, args, kwargs: decoded_positions.append(kwargs.get("output_positions")), with_kwargs=True
    )
    try:
        result = spans(text)
    finally:
        hook.remove()

    mask_positions = [2, 3, 6, 9, 10, 11]
    assert [i for i, t in enumerate(ids) if t == MASK_ID] == mask_positions
    # only the masked positions were decoded
    assert decoded_positions[0].tolist() == [mask_positions]

    probs = full_logits(random_model, ids).softmax(-1)  # [L, V]
    expected = list(ids)
    for position in mask_positions:
        expected[position] = int(probs[position].argmax())
    assert result["token_ids"] == expected
    assert [(s["start"], s["end"]) for s in result["spans"]] == [(2, 4), (6, 7), (9, 12)]
    for span in result["spans"]:
        assert span["token_ids"] == expected[span["start"] : span["end"]]
        expected_score = torch.prod(probs[span["start"] : span["end"]].max(-1).values).item()
        assert span["score"] == pytest.approx(expected_score, rel=1e-4)
    if all(t >= 6 for t in expected):
        assert result["sequence"] == bytes(t - 6 for t in expected).decode("utf-8", errors="replace")


def test_spans_batch_with_padding_equals_one_at_a_time(spans: FillMaskSpansPipeline):
    texts = [
        "short[MASK]",
        "a much longer text with [MASK][MASK] two runs [MASK] of masks",
        "[MASK]middle[MASK]",
    ]
    batch_shapes = []
    hook = spans.model.register_forward_pre_hook(
        lambda module, args, kwargs: batch_shapes.append(tuple(kwargs["input_ids"].shape)), with_kwargs=True
    )
    try:
        batched = spans(texts, batch_size=3)
    finally:
        hook.remove()
    assert batch_shapes == [(3, len(byte_ids(texts[1])))]  # one padded batch

    for text, result in zip(texts, batched):
        alone = spans(text)
        assert result["token_ids"] == alone["token_ids"]
        assert result["sequence"] == alone["sequence"]
        assert [(s["start"], s["end"], s["text"]) for s in result["spans"]] == [
            (s["start"], s["end"], s["text"]) for s in alone["spans"]
        ]
        assert [s["score"] for s in result["spans"]] == pytest.approx([s["score"] for s in alone["spans"]], rel=1e-4)


def test_spans_without_mask_raise_a_clear_error(spans: FillMaskSpansPipeline):
    with pytest.raises(ValueError, match=r"No \[MASK\] in the input 'plain text'.*mask_span"):
        spans("plain text")
    with pytest.raises(ValueError, match=r"Input 1 of 2: No \[MASK\]"):
        spans(["fine [MASK]", "not fine"])
    with pytest.raises(ValueError, match=r"cut off by tokenizer_kwargs"):
        spans("abcdefgh [MASK]", tokenizer_kwargs={"truncation": True, "max_length": 4})


def test_spans_fill_memorised_words_from_context(memorised_folder: Path):
    fill = pipeline("fill-mask-spans", model=str(memorised_folder))
    results = fill([mask_span(SENTENCE, MASKED_WORD), mask_span(OTHER_SENTENCE, OTHER_MASKED_WORD)])
    start = SENTENCE.index(MASKED_WORD)
    assert results[0]["sequence"] == SENTENCE
    assert [(s["start"], s["end"], s["text"]) for s in results[0]["spans"]] == [(start, start + 9, MASKED_WORD)]
    assert results[1]["sequence"] == OTHER_SENTENCE
    assert results[1]["spans"][0]["text"] == OTHER_MASKED_WORD


def test_spans_with_a_model_without_output_positions():
    """Other masked LMs (here BERT with a Unigram tokenizer) decode everything; the masks are picked out."""
    tokenizer = train_unigram_tokenizer()
    config = BertConfig(
        vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64
    )
    torch.manual_seed(0)
    model = BertForMaskedLM(config).eval()
    fill = pipeline("fill-mask-spans", model=model, tokenizer=tokenizer)
    text = "The quick [MASK] fox [MASK][MASK] over the lazy dog."
    result = fill(text)

    ids = tokenizer(text)["input_ids"]
    with torch.no_grad():
        logits = model(torch.tensor([ids])).logits[0]  # [L, V]
    expected = [int(logits[i].argmax()) if t == tokenizer.mask_token_id else t for i, t in enumerate(ids)]
    assert result["token_ids"] == expected
    assert len(result["spans"]) == 2


# --- helpers ----------------------------------------------------------------------------------------------------


def test_mask_span_writes_one_mask_per_utf8_byte():
    assert mask_span("héllo wörld", "wörld") == "héllo " + "[MASK]" * 6
    assert mask_span("a b a", "a") == "[MASK] b a"  # the first occurrence only
    with pytest.raises(ValueError, match="does not occur"):
        mask_span("abc", "x")
    with pytest.raises(ValueError, match="non-empty"):
        mask_span("abc", "")


def test_masked_positions_pads_rows_with_minus_one():
    input_ids = torch.tensor([[3, 7, 3, 3], [9, 3, 9, 9], [9, 9, 9, 9]])
    assert masked_positions(input_ids, 3).tolist() == [[0, 2, 3], [1, -1, -1], [-1, -1, -1]]
