"""Pre-split words (``is_split_into_words=True``): joined with single spaces, every byte mapped to its word.

References: the UTF-8 bytes of ``" ".join(words)`` computed by hand, and transformers' own label-alignment
recipe (``tokenize_and_align_labels`` of examples/pytorch/token-classification/run_ner.py, copied below) and
token-classification pipeline (which rescales word-relative offsets to the joined sentence).
"""

from __future__ import annotations

import pytest
from helpers.recipes import tokenize_and_align_labels

from perceiver_hf.tokenization_perceiver import PerceiverByteTokenizer

WORDS = ["You", "may", "convey", "café", "中文", "😀"]


def joined_ids(words: list[str]) -> list[int]:
    """The ids of the words joined with single spaces, by hand: UTF-8 byte + 6."""
    return [byte + 6 for byte in " ".join(words).encode("utf-8")]


def expected_word_ids(words: list[str]) -> list[int]:
    """Each byte's word, the space after a word counted with that word."""
    last = len(words) - 1
    return [i for i, word in enumerate(words) for _ in (word + (" " if i < last else "")).encode("utf-8")]


@pytest.fixture(scope="module")
def tokenizer() -> PerceiverByteTokenizer:
    return PerceiverByteTokenizer()


def test_words_are_joined_with_single_spaces(tokenizer):
    encoding = tokenizer(WORDS, is_split_into_words=True)
    assert encoding["input_ids"] == joined_ids(WORDS)
    assert tokenizer.decode(encoding["input_ids"]) == "You may convey café 中文 😀"
    assert encoding.word_ids() == expected_word_ids(WORDS)
    assert tokenizer.tokenize(["a", "b"], is_split_into_words=True) == ["a", "Ġ", "b"]


def test_batches_pairs_padding_and_truncation_of_words(tokenizer):
    batch = [["a", "bc"], ["中"], []]
    encoding = tokenizer(batch, is_split_into_words=True, padding=True, return_tensors="pt")
    assert encoding["input_ids"][0].tolist() == joined_ids(["a", "bc"])
    assert encoding["input_ids"][1].tolist() == joined_ids(["中"]) + [0]
    assert encoding["attention_mask"][2].tolist() == [0, 0, 0, 0]
    assert encoding.word_ids(0) == [0, 0, 1, 1] and encoding.word_ids(1) == [0, 0, 0, None]
    pair = tokenizer(["a", "b"], ["c", "d"], is_split_into_words=True)
    assert pair["input_ids"] == joined_ids(["a", "b"]) + joined_ids(["c", "d"])  # no separator between the two
    assert pair.sequence_ids() == [0, 0, 0, 1, 1, 1] and pair.word_ids() == [0, 0, 1, 0, 0, 1]
    truncated = tokenizer(["abc", "de"], is_split_into_words=True, truncation=True, max_length=5)
    assert truncated["input_ids"] == joined_ids(["abc", "d"]) and truncated.word_ids() == [0, 0, 0, 0, 1]


def test_with_special_tokens_words_sit_between_bos_and_eos():
    tokenizer = PerceiverByteTokenizer(add_bos_eos=True)
    encoding = tokenizer(["ab", "c"], is_split_into_words=True)
    assert encoding["input_ids"] == [1, *joined_ids(["ab", "c"]), 2]
    assert encoding.word_ids() == [None, 0, 0, 0, 1, None]


def test_run_ner_label_alignment_puts_each_label_on_its_words_first_character(tokenizer):
    """Every word's label lands on the byte of its own first character; all other bytes are ignored (-100)."""
    examples = {"tokens": [WORDS, ["New", "York"]], "ner_tags": [[1, 2, 3, 4, 5, 6], [7, 8]]}
    aligned = tokenize_and_align_labels(tokenizer, examples)
    for row, (words, tags) in enumerate(zip(examples["tokens"], examples["ner_tags"])):
        labels, ids = aligned["labels"][row], aligned["input_ids"][row]
        labelled = [index for index, label in enumerate(labels) if label != -100]
        assert [labels[index] for index in labelled] == tags
        first_bytes = [word.encode("utf-8")[0] + 6 for word in words]
        assert [ids[index] for index in labelled] == first_bytes
        assert len(labels) == len(ids)
    all_tokens = tokenize_and_align_labels(tokenizer, {"tokens": [["ab", "c"]], "ner_tags": [[1, 2]]}, True)
    assert all_tokens["labels"] == [[1, 1, 1, 2]]  # "ab " then "c"


@pytest.mark.parametrize("trim_offsets", [True, False])
def test_offsets_rescaled_like_the_token_classification_pipeline_point_at_each_byte(trim_offsets):
    """The pipeline adds each word's start in " ".join(words) to the word-relative offsets.

    Untrimmed, every byte points at its own character; trimmed, the joining spaces cover nothing.
    """
    tokenizer = PerceiverByteTokenizer(trim_offsets=trim_offsets)
    words = ["ab", "", "cd", "e"]
    encoding = tokenizer(words, is_split_into_words=True, return_offsets_mapping=True)
    sentence = " ".join(words)
    starts = [sum(len(word) + 1 for word in words[:i]) for i in range(len(words))]
    chars = [
        sentence[starts[word] + start : starts[word] + end]
        for word, (start, end) in zip(encoding.word_ids(), encoding["offset_mapping"])
    ]
    expected = sentence if not trim_offsets else sentence.replace(" ", "")
    assert "".join(chars) == expected and all(len(char) == 1 for char in chars if char)
    assert len(chars) == len(sentence)


def test_add_prefix_space_is_refused_in_one_line(tokenizer):
    with pytest.raises(ValueError, match="add_prefix_space=True"):
        PerceiverByteTokenizer(add_prefix_space=True)
    with pytest.raises(ValueError, match="joins pre-split words with single spaces"):
        tokenizer(["a", "b"], is_split_into_words=True, add_prefix_space=True)
    assert PerceiverByteTokenizer(add_prefix_space=False)("a b")["input_ids"] == joined_ids(["a", "b"])
