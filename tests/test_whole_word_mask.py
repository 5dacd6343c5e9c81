"""transformers' whole-word-mask collator on the byte tokenizer, the trimmed offsets it relies on, and what the
same offsets give char_to_token / token_to_chars and the token-classification pipeline's entity spans.

`DataCollatorForLanguageModeling(whole_word_mask=True)` starts a new word where a token's start differs from the
previous token's end. References come from the text itself: words are its runs of non-whitespace characters
(``\\S+``), found with Python's `re`, and characters are located through their UTF-8 bytes.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest
import torch
from helpers.classifier_folders import save_classifier_folder
from transformers import (
    AutoModelForTokenClassification,
    AutoTokenizer,
    DataCollatorForLanguageModeling,
    pipeline,
)
from transformers.modeling_outputs import TokenClassifierOutput

from perceiver_hf import PerceiverForTokenClassification
from perceiver_hf.byte_offsets import WHITE_SPACE, trimmed_offsets
from perceiver_hf.tokenization_perceiver import PerceiverByteTokenizer

DATA = Path(__file__).parent / "data"
MULTILINGUAL = "Zürich\u00a0café  naïve\tрусский\n中文\u3000😀 €100 résumé end."
BLOCK = 96


def texts() -> dict[str, str]:
    english = (DATA / "english" / "gettysburg_address.txt").read_text(encoding="utf-8")
    python_docs = (DATA / "heldout_sample.txt").read_text(encoding="utf-8")  # ’ “ ” — ∞: 3-byte characters
    return {"ascii": english[:2000], "python_docs": python_docs[:4000], "multilingual": MULTILINGUAL * 6}


def byte_owners(text: str) -> tuple[list[int], list[bool]]:
    """For each UTF-8 byte of ``text``: the index of its character, and whether that character is whitespace."""
    owners, spaces = [], []
    for index, char in enumerate(text):
        owners += [index] * len(char.encode("utf-8"))
        spaces += [char in WHITE_SPACE] * len(char.encode("utf-8"))
    return owners, spaces


def test_white_space_is_unicode_white_space():
    """Python's str.isspace() is White_Space plus the four ASCII information separators U+001C-U+001F."""
    everything = (chr(c) for c in range(sys.maxunicode + 1) if not 0xD800 <= c < 0xE000)
    assert WHITE_SPACE == {c for c in everything if c.isspace()} - set("\x1c\x1d\x1e\x1f")


def test_trimmed_offsets_by_hand():
    tokenizer = PerceiverByteTokenizer(add_bos_eos=True)
    text = "aé b\u00a0c [MASK]"  # é = C3 A9, NBSP = C2 A0 (whitespace), [MASK] is one token
    encoding = tokenizer(text, return_offsets_mapping=True)
    assert encoding["offset_mapping"] == [
        (0, 0),  # [BOS]
        (0, 1), (1, 2), (2, 2),  # a, é's first byte, é's second byte: empty at é's end
        (3, 3),  # the space: empty at its end
        (3, 4),  # b
        (5, 5), (5, 5),  # both bytes of the NBSP: empty at its end
        (5, 6), (7, 7), (7, 13),  # c, space, [MASK]
        (0, 0),  # [EOS]
    ]  # fmt: skip
    raw = PerceiverByteTokenizer(add_bos_eos=True, trim_offsets=False)(text, return_offsets_mapping=True)
    assert raw["offset_mapping"][1:11] == [(0, 1), (1, 2), (1, 2), (2, 3), (3, 4), (4, 5), (4, 5), (5, 6), (6, 7),
                                           (7, 13)]  # fmt: skip
    assert trimmed_offsets(raw["input_ids"], raw["offset_mapping"]) == encoding["offset_mapping"]


def test_character_lookups_follow_the_trimmed_offsets():
    encoding = PerceiverByteTokenizer()(["aé b", "x"], padding=True)
    assert encoding.char_to_token(0, 1) == 1 and encoding.token_to_chars(0, 2) == (2, 2)
    assert encoding.char_to_token(0, 2) is None and encoding.char_to_word(0, 2) is None  # the space covers nothing
    assert encoding.word_to_chars(0, 0) == (0, 3)  # "aé " is word 0 of word_ids(); the space's span is (3, 3)
    assert encoding.char_to_token(0, 3) == 4 and encoding.char_to_word(0, 3) == 1
    pair = PerceiverByteTokenizer()("a b", "é")
    assert pair.char_to_token(0, sequence_index=1) == 3 and pair.token_to_chars(4) == (1, 1)


def test_truncated_and_overflowing_parts_are_trimmed():
    tokenizer = PerceiverByteTokenizer()
    parts = tokenizer("é é", max_length=2, truncation=True, stride=0, return_overflowing_tokens=True,
                      return_offsets_mapping=True)  # fmt: skip
    assert parts["offset_mapping"] == [[(0, 1), (1, 1)], [(2, 2), (2, 3)], [(3, 3)]]


def collate(tokenizer, text: str, seed: int) -> tuple[dict, dict]:
    """run_mlm-style blocks of ``text`` with offsets, masked by transformers' whole-word-mask collator."""
    encoding = tokenizer(text, return_offsets_mapping=True, return_special_tokens_mask=True)
    starts = range(0, len(encoding["input_ids"]) - BLOCK + 1, BLOCK)
    features = [{key: encoding[key][start : start + BLOCK] for key in encoding} for start in starts]
    collator = DataCollatorForLanguageModeling(tokenizer, whole_word_mask=True, mlm_probability=0.3, seed=seed)
    return encoding, collator(features)


@pytest.mark.parametrize("name", ["ascii", "python_docs", "multilingual"])
@pytest.mark.filterwarnings("ignore:Random token replacement is not supported")
def test_whole_words_are_masked_entirely_or_not_at_all(name):
    """Every \\S+ word is masked as a whole, with the whitespace character just before it; no character is split.

    Other whitespace (the earlier characters of a run, whitespace at the end of a block) forms words of its own.
    """
    text = texts()[name]
    tokenizer = PerceiverByteTokenizer(add_bos_eos=True)
    encoding, batch = collate(tokenizer, text, seed=0)
    masked = (batch["labels"] != -100).flatten().tolist()  # one flag per token of the text's first blocks
    assert all(token_id == 3 for token_id, flag in zip(batch["input_ids"].flatten().tolist(), masked) if flag)
    special = encoding["special_tokens_mask"][: len(masked)]  # [BOS] at position 0
    assert special[0] == 1 and not masked[0]
    owners, spaces = byte_owners(text)
    owners, spaces = [-1, *owners][: len(masked)], [False, *spaces][: len(masked)]
    block_of = [position // BLOCK for position in range(len(masked))]
    word_of_char = {}
    for number, word in enumerate(re.finditer(r"\S+", text)):
        word_of_char.update({index: number for index in range(word.start(), word.end())})
    words: dict[tuple[int, int], set[bool]] = {}
    for position, (flag, owner, is_space) in enumerate(zip(masked, owners, spaces)):
        if not is_space and not special[position]:
            words.setdefault((block_of[position], word_of_char[owner]), set()).add(flag)
    assert all(len(flags) == 1 for flags in words.values()), "a word is partly masked"
    per_block: dict[int, set[bool]] = {}
    for (block, _), flags in words.items():
        per_block.setdefault(block, set()).update(flags)
    assert any(len(flags) == 2 for flags in per_block.values())  # words are masked, not whole blocks
    for first, second in zip(range(len(masked)), range(1, len(masked))):
        if spaces[first] and not spaces[second] and block_of[first] == block_of[second] and not special[second]:
            assert masked[first] == masked[second], "the whitespace before a word is not masked with it"
    for first, second in zip(range(len(masked)), range(1, len(masked))):
        if owners[first] == owners[second] >= 0 and block_of[first] == block_of[second]:
            assert masked[first] == masked[second], "a multi-byte character is split"


@pytest.mark.filterwarnings("ignore:Random token replacement is not supported")
def test_untrimmed_offsets_split_characters():
    """Without trim_offsets each continuation byte starts a new "word": the reason the default trims."""
    tokenizer = PerceiverByteTokenizer(trim_offsets=False)
    text = "é" * 200
    split = 0
    for seed in range(3):
        _, batch = collate(tokenizer, text, seed)
        masked = (batch["labels"] != -100).reshape(-1, 2)  # [characters, 2 bytes]
        split += int((masked[:, 0] != masked[:, 1]).sum())
    assert split > 0


def test_a_saved_folder_loads_with_trimmed_offsets(tmp_path):
    """run_mlm passes the folder's tokenizer unchanged: the default applies to folders saved before the option."""
    PerceiverByteTokenizer().save_pretrained(tmp_path)
    config = tmp_path / "tokenizer_config.json"
    saved = json.loads(config.read_text())
    del saved["trim_offsets"]
    config.write_text(json.dumps(saved))
    loaded = AutoTokenizer.from_pretrained(tmp_path)
    assert "trim_offsets" not in config.read_text() and loaded.trim_offsets
    assert loaded("a b", return_offsets_mapping=True)["offset_mapping"] == [(0, 1), (2, 2), (2, 3)]
    kept = AutoTokenizer.from_pretrained(tmp_path, trim_offsets=False)
    assert kept("a b", return_offsets_mapping=True)["offset_mapping"] == [(0, 1), (1, 2), (2, 3)]


@pytest.mark.parametrize("trim_offsets", [True, False])
def test_token_classification_entity_spans(tmp_path, trim_offsets):
    """The pipeline's entities, with a stand-in model that labels a byte X when it belongs to a multi-byte character
    or is the space before one: every entity's span holds its characters whole."""
    folder = save_classifier_folder(PerceiverForTokenClassification, tmp_path / "tokens", num_labels=2)
    model = AutoModelForTokenClassification.from_pretrained(folder, id2label={0: "O", 1: "X"})
    tokenizer = AutoTokenizer.from_pretrained(folder, trim_offsets=trim_offsets)
    text = "Zürich am See, 中文 ok"

    def forward(input_ids, **kwargs):  # [B, L] -> logits [B, L, 2]
        wide = input_ids >= 0x80 + 6
        before_wide = (input_ids == ord(" ") + 6) & torch.roll(wide, -1, dims=1)
        return TokenClassifierOutput(logits=torch.stack([~(wide | before_wide), wide | before_wide], -1).float())

    model.forward = forward
    pipe = pipeline("token-classification", model=model, tokenizer=tokenizer, aggregation_strategy="simple")
    entities = [(entity["word"], entity["start"], entity["end"]) for entity in pipe(text)]
    space = 0 if trim_offsets else 1  # trimmed, the span leaves out the space before 中文 (the word keeps it)
    assert entities == [("ü", 1, 2), (" 中文", text.index("中") - space, text.index("文") + 1)]
