"""Tests of the masking collators against independent references.

References: word spans computed with a regular expression on the text (bytes) or from the "▁" marker of
SentencePiece pieces, hand-written position lists, binomial statistics of the 80/10/10 rule, and the model's
own full decoding (every position) for the decode-only loss.
"""

from __future__ import annotations

import re

import pytest
import torch

from helpers.tokenizers import train_unigram_tokenizer
from perceiver_hf.modeling_perceiver import PerceiverForMaskedLM
from perceiver_hf.tokenization_perceiver import PerceiverByteTokenizer
from perceiver_hf.training.collators import EVAL_EPOCH, PerceiverMLMCollator, premask_example, select_output_positions
from perceiver_hf.training.masking import TokenTables, word_ids
from perceiver_hf.training.presets import tiny

TEXT = (
    "We hold these truths to be self-evident, that all men are created equal, that they are endowed by their "
    "Creator with certain unalienable Rights,\nthat among these are Life, Liberty and  the pursuit of Happiness."
)
MASK_ID = 3


@pytest.fixture(scope="module")
def byte_tokenizer() -> PerceiverByteTokenizer:
    return PerceiverByteTokenizer()


def byte_word_spans(text: str) -> list[tuple[int, int]]:
    """Byte spans of words: a whitespace byte followed by non-space bytes, or a lone whitespace byte."""
    data = text.encode("utf-8").decode("latin-1")  # one character per byte
    return [match.span() for match in re.finditer(r"\s\S*|\S+", data)]


def labelled(batch: dict[str, torch.Tensor], row: int) -> set[int]:
    """Positions [0, L) that carry a label in `row` (works with and without output_positions)."""
    if "output_positions" in batch:
        positions = batch["output_positions"][row]
        return {int(p) for p in positions[positions >= 0]}
    return {i for i, label in enumerate(batch["labels"][row].tolist()) if label != -100}


# --- word boundaries ---------------------------------------------------------------------------------------


def test_byte_words_are_space_plus_non_space_run(byte_tokenizer):
    text = "We hold  these\ntruths, é!"
    ids = torch.tensor(byte_tokenizer(text)["input_ids"])
    tables = TokenTables.from_tokenizer(byte_tokenizer)
    words = word_ids(tables.maskable[ids], tables.word_start[ids]).tolist()
    expected = []
    for index, (start, end) in enumerate(byte_word_spans(text)):
        expected.extend([index] * (end - start))
    assert words == expected


def test_sentencepiece_words_start_at_metaspace_marker():
    tokenizer = train_unigram_tokenizer()
    ids = tokenizer("Masked language models predict the missing words")["input_ids"]
    tokens = tokenizer.convert_ids_to_tokens(ids)
    tables = TokenTables.from_tokenizer(tokenizer)
    words = word_ids(tables.maskable[torch.tensor(ids)], tables.word_start[torch.tensor(ids)]).tolist()
    expected, current = [], -1
    for token in tokens:
        current += token.startswith("▁")
        expected.append(max(current, 0))
    assert words == expected
    assert words[-1] == 6  # seven words


def test_special_tokens_are_single_words_and_never_masked():
    tokenizer = PerceiverByteTokenizer(add_bos_eos=True)
    collator = PerceiverMLMCollator(tokenizer, mlm_probability=1.0, masking="whole_word", seed=0, decode_only=False)
    examples = [tokenizer("ab cd")["input_ids"], tokenizer("a")["input_ids"]]  # [BOS] ... [EOS], then padding
    batch = collator(examples)
    assert batch["labels"][0].tolist() == [-100, 103, 104, 38, 105, 106, -100]
    assert batch["labels"][1].tolist() == [-100, 103, -100, -100, -100, -100, -100]
    assert batch["attention_mask"][1].tolist() == [1, 1, 1, 0, 0, 0, 0]


# --- selection strategies ----------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(5))
def test_whole_word_masking_masks_all_bytes_of_a_word_or_none(byte_tokenizer, seed):
    collator = PerceiverMLMCollator(byte_tokenizer, masking="whole_word", mlm_probability=0.3, seed=seed)
    batch = collator([byte_tokenizer(TEXT)["input_ids"]])
    masked = labelled(batch, 0)
    spans = byte_word_spans(TEXT)
    fully = [span for span in spans if set(range(*span)) <= masked]
    assert masked == {i for span in fully for i in range(*span)}
    assert 0 < len(fully) < len(spans)


@pytest.mark.parametrize("seed", range(3))
def test_span_masking_masks_whole_words_near_the_budget(byte_tokenizer, seed):
    text = " ".join([TEXT] * 8)
    collator = PerceiverMLMCollator(byte_tokenizer, masking="span", mlm_probability=0.15, seed=seed)
    batch = collator([byte_tokenizer(text)["input_ids"]])
    masked = labelled(batch, 0)
    spans = byte_word_spans(text)
    for start, end in spans:
        assert len(set(range(start, end)) & masked) in (0, end - start)
    num_bytes = len(text.encode())
    # the last span may overshoot the budget by at most max_span_length words
    longest_word = max(end - start for start, end in spans)
    assert 0.15 * num_bytes - 1 <= len(masked) <= 0.15 * num_bytes + 10 * longest_word


def test_span_masking_produces_multi_word_runs(byte_tokenizer):
    text = " ".join([TEXT] * 8)
    collator = PerceiverMLMCollator(byte_tokenizer, masking="span", mean_span_length=4.0, seed=1)
    masked = sorted(labelled(collator([byte_tokenizer(text)["input_ids"]]), 0))
    runs = [[masked[0]]]
    for position in masked[1:]:
        if position == runs[-1][-1] + 1:
            runs[-1].append(position)
        else:
            runs.append([position])
    data = text.encode()
    words_per_run = [sum(data[i] == 32 for i in run) for run in runs]  # a masked word brings its space
    assert max(words_per_run) >= 3


def test_token_masking_rate_and_80_10_10_replacement(byte_tokenizer):
    """Binomial statistics over ~60k tokens: 15% selected; of those 80% [MASK], 10% random, 10% unchanged."""
    text = " ".join([TEXT] * 2)
    ids = byte_tokenizer(text)["input_ids"]
    collator = PerceiverMLMCollator(byte_tokenizer, seed=123, decode_only=False)
    selected = masked = changed = 0
    total = 0
    for epoch in range(200):
        collator.set_epoch(epoch)
        batch = collator([ids])
        labels, inputs = batch["labels"][0], batch["input_ids"][0]
        original = torch.tensor(ids)
        chosen = labels != -100
        assert torch.equal(labels[chosen], original[chosen])
        assert torch.equal(inputs[~chosen], original[~chosen])  # unselected tokens are untouched
        total += len(ids)
        selected += int(chosen.sum())
        masked += int((inputs[chosen] == MASK_ID).sum())
        changed += int(((inputs[chosen] != MASK_ID) & (inputs[chosen] != original[chosen])).sum())
        assert (inputs[chosen & (inputs != MASK_ID)] >= 6).all()  # random ids are never special
    assert selected / total == pytest.approx(0.15, abs=0.01)
    assert masked / selected == pytest.approx(0.8, abs=0.02)
    # random replacement hits the original byte with probability 1/256
    assert changed / selected == pytest.approx(0.1 * 255 / 256, abs=0.015)


def test_probabilities_are_configurable(byte_tokenizer):
    collator = PerceiverMLMCollator(
        byte_tokenizer, mlm_probability=0.5, mask_replace_prob=1.0, random_replace_prob=0.0, seed=0
    )
    batch = collator([byte_tokenizer(TEXT * 4)["input_ids"]])
    scored = batch["output_positions"][0] >= 0
    assert int(scored.sum()) / len((TEXT * 4).encode()) == pytest.approx(0.5, abs=0.05)
    assert (batch["input_ids"][0, batch["output_positions"][0][scored]] == MASK_ID).all()


# --- determinism -------------------------------------------------------------------------------------------


def test_masks_depend_only_on_seed_epoch_and_tokens(byte_tokenizer):
    collator = PerceiverMLMCollator(byte_tokenizer, masking="whole_word", seed=7, decode_only=False)
    a, b, c = (byte_tokenizer(t)["input_ids"] for t in (TEXT, "a short one", TEXT[:60]))
    alone = collator([a])
    together = collator([c, a, b])
    assert torch.equal(together["input_ids"][1, : len(a)], alone["input_ids"][0])
    assert torch.equal(together["labels"][1, : len(a)], alone["labels"][0])
    collator.set_epoch(1)
    assert not torch.equal(collator([a])["labels"][0], alone["labels"][0])


def test_without_seed_masks_come_from_torch_global_rng(byte_tokenizer):
    collator = PerceiverMLMCollator(byte_tokenizer)
    ids = byte_tokenizer(TEXT)["input_ids"]
    torch.manual_seed(0)
    first = collator([ids])["labels"]
    torch.manual_seed(0)
    assert torch.equal(collator([ids])["labels"], first)
    assert not torch.equal(collator([ids])["labels"], first)


def test_premasked_examples_are_only_padded(byte_tokenizer):
    collator = PerceiverMLMCollator(byte_tokenizer, seed=3)
    examples = [premask_example({"input_ids": byte_tokenizer(t)["input_ids"]}, collator, 3) for t in (TEXT, "hi there")]
    assert examples[0] == premask_example({"input_ids": byte_tokenizer(TEXT)["input_ids"]}, collator, 3)
    batch = collator(examples)
    expected_ids, expected_labels = collator.mask_example(byte_tokenizer(TEXT)["input_ids"], 3, EVAL_EPOCH)
    assert batch["input_ids"][0].tolist() == expected_ids
    positions = batch["output_positions"][0]
    assert batch["labels"][0][positions >= 0].tolist() == [lab for lab in expected_labels if lab != -100]


# --- decode only -------------------------------------------------------------------------------------------


def test_select_output_positions_by_hand():
    labels = torch.tensor([[-100, 7, -100, 9, 4], [5, -100, -100, -100, -100], [-100] * 5])
    positions, compact = select_output_positions(labels)
    assert positions.tolist() == [[1, 3, 4], [0, -1, -1], [-1, -1, -1]]
    assert compact.tolist() == [[7, 9, 4], [5, -100, -100], [-100, -100, -100]]
    positions, compact = select_output_positions(labels[1:2, :3], pad_to_multiple_of=4)
    assert positions.tolist() == [[0, -1, -1, -1]] and compact.tolist() == [[5, -100, -100, -100]]


def test_decode_only_loss_and_gradients_equal_full_decoding(byte_tokenizer):
    torch.manual_seed(0)
    model = PerceiverForMaskedLM(tiny(vocab_size=262, max_seq_len=256))
    texts = [TEXT, "Four score and seven years ago", "Happiness."]
    examples = [byte_tokenizer(t)["input_ids"] for t in texts]
    sparse = PerceiverMLMCollator(byte_tokenizer, seed=5, masking="whole_word")(examples)
    dense = PerceiverMLMCollator(byte_tokenizer, seed=5, masking="whole_word", decode_only=False)(examples)
    assert sparse["output_positions"].shape[1] < dense["labels"].shape[1] // 3

    sparse_loss = model(**sparse).loss
    sparse_loss.backward()
    sparse_grads = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    dense_loss = model(**dense).loss
    dense_loss.backward()
    assert sparse_loss.item() == pytest.approx(dense_loss.item(), abs=1e-5)
    for sparse_grad, param in zip(sparse_grads, model.parameters()):
        torch.testing.assert_close(sparse_grad, param.grad, atol=1e-6, rtol=1e-4)


# --- errors ------------------------------------------------------------------------------------------------


def test_tokenizer_without_mask_token_is_rejected():
    tokenizer = train_unigram_tokenizer()
    tokenizer.mask_token = None
    with pytest.raises(ValueError, match="no mask token"):
        PerceiverMLMCollator(tokenizer)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"mlm": False}, "mlm=False"),
        ({"whole_word_mask": True}, "masking='whole_word'"),
        ({"masking": "sentence"}, "not one of"),
        ({"mask_replace_prob": 0.8, "random_replace_prob": 0.3}, "should not exceed 1"),
        ({"mlm_probability": 1.5}, "between 0 and 1"),
        ({"mean_span_length": 0.5}, "mean_span_length"),
    ],
)
def test_bad_collator_arguments(byte_tokenizer, kwargs, message):
    with pytest.raises(ValueError, match=message):
        PerceiverMLMCollator(byte_tokenizer, **kwargs)
