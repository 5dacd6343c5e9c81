"""Tests of PerceiverByteTokenizer against independent references.

References: UTF-8 bytes + 6 computed by hand, transformers' own (slow, pure-Python) PerceiverTokenizer,
Python's ``bytes.decode("utf-8", errors="replace")``, and the input ids DeepMind's Haiku code was run on
(tests/fixtures/haiku-tiny).
"""

from __future__ import annotations

import copy
import json
import pickle
import random

import numpy as np
import pytest
import torch
from transformers import AutoTokenizer, PreTrainedTokenizerFast
from transformers.models.perceiver import PerceiverTokenizer

from helpers.tokenizers import MASK_TOKEN, train_unigram_tokenizer
from perceiver_hf.configuration_perceiver import PerceiverConfig
from perceiver_hf.tokenization_perceiver import PerceiverByteTokenizer

SPECIAL_IDS = {"[PAD]": 0, "[BOS]": 1, "[EOS]": 2, "[MASK]": 3, "[CLS]": 4, "[SEP]": 5}

TEXTS = [
    "",
    "Hello, world!",
    "  leading and trailing spaces  ",
    "tabs\tnew\nlines\r\n and NUL \x00 and DEL \x7f",
    "café naïve résumé Ærøskøbing",  # precomposed accents (2-byte UTF-8)
    "e\u0301 a\u0308 n\u0303 \u0915\u094d\u0937",  # combining marks, Devanagari conjunct
    "中文字符 日本語のテキスト 한국어",  # CJK (3-byte UTF-8)
    "emoji 😀 🇩🇪 👩‍👩‍👧 🏳️‍🌈",  # 4-byte UTF-8, flags, ZWJ sequences
    "math ∑∫√∞ and symbols € £ ¥ ©",
    "\ufeffBOM, \u200b zero width, \U0010ffff last code point",
]


def reference_ids(text: str) -> list[int]:
    """DeepMind's ids computed by hand: every UTF-8 byte + 6."""
    return [byte + 6 for byte in text.encode("utf-8")]


@pytest.fixture(scope="module")
def tokenizer() -> PerceiverByteTokenizer:
    return PerceiverByteTokenizer()


@pytest.fixture(scope="module")
def hf_perceiver_tokenizer() -> PerceiverTokenizer:
    return PerceiverTokenizer()


# --- ids ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", TEXTS)
def test_ids_are_utf8_bytes_plus_6(tokenizer, text):
    assert tokenizer(text)["input_ids"] == reference_ids(text)
    assert tokenizer.encode(text) == reference_ids(text)


def test_ids_match_transformers_perceiver_tokenizer(tokenizer, hf_perceiver_tokenizer):
    texts = [*TEXTS, "a [MASK][MASK] b", "[CLS] x [SEP] [PAD]"]
    for text in texts:
        theirs = hf_perceiver_tokenizer(text)["input_ids"]
        assert theirs[0] == 4 and theirs[-1] == 5, "transformers' PerceiverTokenizer wraps text in [CLS] ... [SEP]"
        assert tokenizer(text)["input_ids"] == theirs[1:-1], text


def test_special_token_ids_and_vocabulary(tokenizer):
    assert tokenizer.vocab_size == 262 and len(tokenizer) == 262
    for token, index in SPECIAL_IDS.items():
        assert tokenizer.convert_tokens_to_ids(token) == index
        assert tokenizer.convert_ids_to_tokens(index) == token
    assert (tokenizer.pad_token_id, tokenizer.bos_token_id, tokenizer.eos_token_id) == (0, 1, 2)
    assert (tokenizer.mask_token_id, tokenizer.cls_token_id, tokenizer.sep_token_id) == (3, 4, 5)
    assert tokenizer.mask_token == "[MASK]"
    assert sorted(tokenizer.get_vocab().values()) == list(range(262))
    assert tokenizer.model_max_length == 2048
    assert tokenizer.model_input_names == ["input_ids", "attention_mask"]
    assert tokenizer.is_fast


def test_mask_tokens_in_text_become_single_ids(tokenizer):
    ids = tokenizer("a [MASK][MASK] b")["input_ids"]
    assert ids == [ord("a") + 6, ord(" ") + 6, 3, 3, ord(" ") + 6, ord("b") + 6]
    assert tokenizer("[MASK]é[MASK]")["input_ids"] == [3, *reference_ids("é"), 3]
    for token, index in SPECIAL_IDS.items():
        assert tokenizer(f"x{token}y")["input_ids"] == [*reference_ids("x"), index, *reference_ids("y")]
    # Only the exact token strings are special; near misses stay bytes.
    for text in ["[MASK", "MASK]", "[mask]", "[ MASK]"]:
        assert tokenizer(text)["input_ids"] == reference_ids(text)


def test_no_special_tokens_added_by_default(tokenizer):
    assert tokenizer("ab")["input_ids"] == reference_ids("ab")
    assert tokenizer("ab", add_special_tokens=True)["input_ids"] == reference_ids("ab")
    assert tokenizer.num_special_tokens_to_add() == 0


def test_add_bos_eos_option_wraps_sequences():
    tokenizer = PerceiverByteTokenizer(add_bos_eos=True)
    assert tokenizer("ab")["input_ids"] == [1, *reference_ids("ab"), 2]
    assert tokenizer("ab", add_special_tokens=False)["input_ids"] == reference_ids("ab")
    assert tokenizer.decode(tokenizer("ab")["input_ids"], skip_special_tokens=True) == "ab"


# --- decoding ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", TEXTS)
def test_unicode_round_trip(tokenizer, text):
    assert tokenizer.decode(tokenizer(text)["input_ids"]) == text


def test_decode_keeps_special_tokens_or_skips_them(tokenizer):
    ids = tokenizer("a [MASK][MASK] b")["input_ids"] + [0, 0]
    assert tokenizer.decode(ids) == "a [MASK][MASK] b[PAD][PAD]"
    assert tokenizer.decode(ids, skip_special_tokens=True) == "a  b"


def test_invalid_byte_sequences_decode_with_replacement_characters(tokenizer, hf_perceiver_tokenizer):
    euro = "€".encode("utf-8")  # 3 bytes
    cases = [euro[:1], euro[:2], euro[1:], b"a" + euro[:2] + b"b", b"\xff\xfe", b"\xc0\xaf", b"\xed\xa0\x80"]
    rng = random.Random(0)
    cases += [bytes(rng.randrange(256) for _ in range(rng.randrange(1, 12))) for _ in range(200)]
    for raw in cases:
        ids = [byte + 6 for byte in raw]
        expected = raw.decode("utf-8", errors="replace")
        assert tokenizer.decode(ids) == expected, raw
        assert hf_perceiver_tokenizer.decode(ids) == expected, raw


def test_decode_accepts_tensors_and_rejects_ids_outside_vocabulary(tokenizer):
    ids = reference_ids("héllo")
    assert tokenizer.decode(torch.tensor(ids)) == "héllo"
    assert tokenizer.decode(np.array(ids)) == "héllo"
    assert tokenizer.batch_decode(torch.tensor([ids, ids])) == ["héllo", "héllo"]
    with pytest.raises(ValueError, match=r"\[0, 262\)"):
        tokenizer.decode([103, 262])
    with pytest.raises(ValueError, match="ids must lie"):
        tokenizer.decode([-1])


# --- batches: padding and truncation ------------------------------------------------------------------------


def test_batch_padding_right_with_attention_mask(tokenizer):
    texts = ["a [MASK] b", "é", "😀 longer text"]
    batch = tokenizer(texts, padding=True, return_tensors="pt")
    lengths = [len(tokenizer(text)["input_ids"]) for text in texts]
    assert batch["input_ids"].shape == (3, max(lengths)) and batch["input_ids"].dtype == torch.long
    for row, (text, length) in enumerate(zip(texts, lengths)):
        assert batch["input_ids"][row, :length].tolist() == tokenizer(text)["input_ids"]
        assert batch["input_ids"][row, length:].eq(0).all()
        assert batch["attention_mask"][row].tolist() == [1] * length + [0] * (max(lengths) - length)
    assert set(batch.keys()) == {"input_ids", "attention_mask"}


def test_padding_to_max_length_and_multiple(tokenizer):
    batch = tokenizer(["abc", "a"], padding="max_length", max_length=6)
    assert batch["input_ids"] == [reference_ids("abc") + [0] * 3, reference_ids("a") + [0] * 5]
    assert tokenizer(["abcde"], padding=True, pad_to_multiple_of=4)["input_ids"][0][-3:] == [0, 0, 0]


def test_truncation(tokenizer):
    assert tokenizer("abcdef", truncation=True, max_length=3)["input_ids"] == reference_ids("abc")
    batch = tokenizer(["abcdef", "x"], truncation=True, max_length=4, padding="max_length")
    assert batch["input_ids"] == [reference_ids("abcd"), reference_ids("x") + [0, 0, 0]]
    assert batch["attention_mask"] == [[1, 1, 1, 1], [1, 0, 0, 0]]
    # Without max_length, truncation falls back to model_max_length (2048 bytes, DeepMind's limit).
    assert len(tokenizer("é" * 1500, truncation=True)["input_ids"]) == 2048


def test_haiku_fixture_inputs(tokenizer, haiku_tiny_dir):
    """The ids DeepMind's Haiku code ran on: byte + 6, masked byte spans = 3, right-padded with 0 to 128."""
    manifest = json.loads((haiku_tiny_dir / "manifest.json").read_text(encoding="utf-8"))
    arrays = np.load(haiku_tiny_dir / "inputs.npz")
    texts = []
    for example in manifest["examples"]:
        raw = example["text"].encode("utf-8")
        for start, end, _ in sorted(example["masked_spans"], reverse=True):  # byte offsets
            raw = raw[:start] + b"[MASK]" * (end - start) + raw[end:]
        texts.append(raw.decode("utf-8"))
    batch = tokenizer(texts, padding="max_length", max_length=arrays["input_ids"].shape[1], return_tensors="np")
    rows = [example["row"] for example in manifest["examples"]]
    np.testing.assert_array_equal(batch["input_ids"], arrays["input_ids"][rows])
    np.testing.assert_array_equal(batch["attention_mask"], arrays["input_mask"][rows])


# --- the vectorised path (fast_batch_encoding) against the Rust pipeline -------------------------------------

PIECES = ["a", "Z", "é", "中", "😀", "e\u0301", " ", "\n", "[MASK]", "[PAD]", "[BOS]", "[SEP]", "[MASK", "]"]


def _random_texts(rng: random.Random, count: int) -> list[str]:
    return ["".join(rng.choices(PIECES, k=rng.randrange(0, 25))) for _ in range(count)]


def _encode_or_error(tokenizer, texts, kwargs):
    try:
        return tokenizer(texts, **kwargs)
    except Exception as error:  # both paths must fail alike
        return type(error)


def _nested_lists(array) -> list:
    if isinstance(array, np.ndarray) and array.dtype == object:  # a ragged batch
        return [np.asarray(row).tolist() for row in array]
    return array.tolist()


ENCODING_FIELDS = ("ids", "tokens", "offsets", "word_ids", "sequence_ids", "attention_mask", "special_tokens_mask")


def _assert_same_encoding(fast, rust) -> None:
    if isinstance(rust, type):
        assert fast is rust
        return
    assert set(fast.keys()) == set(rust.keys())
    for key in rust:
        assert type(fast[key]) is type(rust[key]), key
        if isinstance(rust[key], (np.ndarray, torch.Tensor)):
            assert fast[key].dtype == rust[key].dtype and fast[key].shape == rust[key].shape, key
            assert _nested_lists(fast[key]) == _nested_lists(rust[key]), key
        else:
            assert fast[key] == rust[key], key
    assert fast.n_sequences == rust.n_sequences
    for name in ENCODING_FIELDS:
        assert [getattr(e, name) for e in fast.encodings] == [getattr(e, name) for e in rust.encodings], name


@pytest.mark.filterwarnings("ignore:`max_length` is ignored")
def test_fast_batch_encoding_matches_rust_pipeline():
    """Random texts x 300 random option combinations: identical ids, masks, types, shapes and errors."""
    rng = random.Random(0)
    options = {
        "padding": [False, True, "max_length"],
        "truncation": [False, True],
        "max_length": [None, 1, 2, 7, 40],
        "pad_to_multiple_of": [None, 8],
        "padding_side": ["right", "left"],
        "return_tensors": [None, "np", "pt"],
        "split_special_tokens": [False, True],
        "add_special_tokens": [True, False],
    }
    pairs = {
        add_bos_eos: (
            PerceiverByteTokenizer(add_bos_eos=add_bos_eos, model_max_length=16),
            PerceiverByteTokenizer(add_bos_eos=add_bos_eos, model_max_length=16, fast_batch_encoding=False),
        )
        for add_bos_eos in (False, True)
    }
    for _ in range(300):
        kwargs = {name: rng.choice(values) for name, values in options.items()}
        fast, rust = pairs[rng.choice([False, True])]
        fast.truncation_side = rust.truncation_side = rng.choice(["right", "left"])
        texts = _random_texts(rng, rng.randrange(1, 6))
        if rng.random() < 0.3:
            texts = texts[0]  # a single text, not a batch
        expected = _encode_or_error(rust, texts, kwargs)
        _assert_same_encoding(_encode_or_error(fast, texts, kwargs), expected)


def test_encodings_of_the_default_path(tokenizer):
    """word_ids, tokens, sequence_ids and char/token maps from a plain call, checked against the text by hand."""
    batch = tokenizer(["é [MASK]b", "xy"], padding=True, return_tensors="pt")
    assert batch.is_fast and len(batch.encodings) == 2 and batch.n_sequences == 1
    assert batch.tokens(0) == ["Ã", "©", "Ġ", "[MASK]", "b"]  # the GPT-2 byte characters of 0xC3 0xA9 0x20
    assert batch.tokens(1) == ["x", "y", "[PAD]", "[PAD]", "[PAD]"]
    assert batch.sequence_ids(1) == [0, 0, None, None, None]
    assert batch.char_to_token(0, 0) == 0  # "é" starts at its first byte
    assert batch.char_to_token(0, 2) == 3  # "[MASK]" is one token
    assert batch.char_to_token(1, 1) == 1
    assert batch.token_to_chars(0, 0) == (0, 1)  # "é"'s first byte covers it
    assert batch.token_to_chars(0, 1) == (1, 1)  # trim_offsets: its second byte adds no character
    assert batch.token_to_chars(0, 2) == (2, 2) and batch.char_to_token(0, 1) is None  # nor does the space
    assert batch[0].offsets[3] == (2, 8)
    assert batch.word_ids(1)[2:] == [None, None, None]
    single = tokenizer("ab")
    assert single.tokens() == ["a", "b"] and single.word_ids() == [0, 0] and single["input_ids"] == reference_ids("ab")
    assert single.char_to_token(1) == 1 and single.token_to_chars(0) == (0, 1)
    pair = tokenizer(["ab", "é"], ["c", "[MASK]d"], padding=True)
    assert pair["input_ids"][1] == reference_ids("é") + [3, *reference_ids("d")]  # no separator by default
    assert pair.sequence_ids(0) == [0, 0, 1, None] and pair.sequence_ids(1) == [0, 0, 1, 1]
    assert pair.char_to_token(1, 1, sequence_index=1) == 2 and pair.char_to_token(1, 6, sequence_index=1) == 3
    assert pair.token_to_chars(1, 2) == (0, 6)  # "[MASK]" spans characters 0-6 of the second text


def test_word_ids_of_plain_text_are_words_with_the_whitespace_after_them(tokenizer):
    """Words by hand: "  " | "ab " | "cd\n\t" | "é " | "[MASK]" (a special token is a word) | "f"."""
    batch = tokenizer(["  ab cd\n\té [MASK]f", "x"], padding=True)
    assert batch.word_ids(0) == [0, 0, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 4, 5]
    assert batch.word_ids(1) == [0] + [None] * 13
    assert batch.word_to_tokens(0, 3) == (9, 12) and batch.token_to_word(0, 12) == 4
    assert batch["input_ids"][0] == [*reference_ids("  ab cd\n\té "), 3, *reference_ids("f")]


def test_encodings_survive_pickling_and_copying(tokenizer):
    batch = tokenizer(["ab", "c"], padding=True)
    for copied in (pickle.loads(pickle.dumps(batch)), copy.deepcopy(batch)):
        assert copied.tokens(1) == ["c", "[PAD]"] and copied["input_ids"] == batch["input_ids"]


def test_custom_special_tokens_that_overlap_match_longest_first():
    kwargs = {"mask_token": "<m>", "cls_token": "<m>>", "sep_token": "<s"}
    fast, rust = PerceiverByteTokenizer(**kwargs), PerceiverByteTokenizer(**kwargs, fast_batch_encoding=False)
    text = "a<m>><m><s<m"
    assert fast(text)["input_ids"] == [*reference_ids("a"), 4, 3, 5, *reference_ids("<m")]
    assert rust(text)["input_ids"] == fast(text)["input_ids"]


def test_fast_batch_encoding_leaves_other_requests_to_rust(tokenizer):
    texts = ["a [MASK] é", "b"]
    with_offsets = tokenizer(texts, return_offsets_mapping=True, padding=True)
    assert with_offsets["offset_mapping"][0][:3] == [(0, 1), (2, 2), (2, 8)]  # "a", " " (trimmed), "[MASK]"
    assert with_offsets.tokens(0)[:3] == ["a", "Ġ", "[MASK]"]
    pair = tokenizer("ab", "cd")
    assert pair["input_ids"] == reference_ids("abcd")
    assert tokenizer(texts, return_length=True)["length"] == [len(reference_ids("a ")) + 1 + 3, 1]
    assert tokenizer.tokenize("a [MASK]") == ["a", "Ġ", "[MASK]"]
    assert PerceiverByteTokenizer(fast_batch_encoding=False)(texts).tokens(0)[2] == "[MASK]"


def test_empty_batch(tokenizer):
    assert tokenizer([], padding=True)["input_ids"] == []
    assert tokenizer([], padding=True, return_tensors="pt")["input_ids"].shape == (0, 0)


# --- saving and loading -------------------------------------------------------------------------------------


def _assert_same_behaviour(loaded, original) -> None:
    texts = ["a [MASK][MASK] b", "café 😀 中文", "x"]
    assert loaded(texts, padding=True)["input_ids"] == original(texts, padding=True)["input_ids"]
    assert loaded.decode(original("café 😀")["input_ids"]) == "café 😀"
    assert (loaded.mask_token_id, loaded.pad_token_id, loaded.model_max_length) == (3, 0, 2048)


def test_save_and_load_round_trip(tokenizer, tmp_path):
    tokenizer(["abc", "a"], padding="max_length", max_length=8, truncation=True)  # leaves state on the backend
    tokenizer.save_pretrained(tmp_path)
    loaded = PerceiverByteTokenizer.from_pretrained(tmp_path)
    assert type(loaded) is PerceiverByteTokenizer
    _assert_same_behaviour(loaded, tokenizer)
    saved = json.loads((tmp_path / "tokenizer.json").read_text(encoding="utf-8"))
    assert saved["padding"] is None and saved["truncation"] is None  # per-call settings are not saved
    assert loaded("abc")["input_ids"] == reference_ids("abc")


def test_add_bos_eos_survives_save_and_load(tmp_path):
    PerceiverByteTokenizer(add_bos_eos=True).save_pretrained(tmp_path)
    loaded = PerceiverByteTokenizer.from_pretrained(tmp_path)
    assert loaded("ab")["input_ids"] == [1, *reference_ids("ab"), 2]


def test_saved_tokenizer_json_is_self_contained(tokenizer, tmp_path):
    """Without this package, plain transformers reproduces the ids from tokenizer.json alone."""
    tokenizer.save_pretrained(tmp_path)
    plain = PreTrainedTokenizerFast(tokenizer_file=str(tmp_path / "tokenizer.json"))
    for text in [*TEXTS, "a [MASK][MASK] b"]:
        assert plain(text)["input_ids"] == tokenizer(text)["input_ids"]
        assert plain.decode(plain(text)["input_ids"]) == text


def test_auto_tokenizer_round_trip(tokenizer, tmp_path):
    """`import perceiver_hf` alone registers the tokenizer with AutoTokenizer."""
    tokenizer.save_pretrained(tmp_path)
    loaded = AutoTokenizer.from_pretrained(tmp_path)
    assert type(loaded) is PerceiverByteTokenizer
    _assert_same_behaviour(loaded, tokenizer)

    # Found through the model config alone (tokenizer_class removed from tokenizer_config.json).
    PerceiverConfig().save_pretrained(tmp_path)
    config_file = tmp_path / "tokenizer_config.json"
    tokenizer_config = json.loads(config_file.read_text(encoding="utf-8"))
    del tokenizer_config["tokenizer_class"]
    config_file.write_text(json.dumps(tokenizer_config), encoding="utf-8")
    loaded = AutoTokenizer.from_pretrained(tmp_path)
    assert type(loaded) is PerceiverByteTokenizer
    _assert_same_behaviour(loaded, tokenizer)


def test_special_tokens_renamed_or_removed_at_load(tokenizer, tmp_path):
    """Ids 0-5 keep their meaning under the new names; the old names become plain bytes; nothing is added."""
    tokenizer.save_pretrained(tmp_path / "saved")
    renamed = PerceiverByteTokenizer.from_pretrained(tmp_path / "saved", bos_token="<BOS>")
    assert len(renamed) == 262 and renamed.bos_token == "<BOS>" and renamed.bos_token_id == 1
    assert renamed("<BOS>[BOS]")["input_ids"] == [1, *reference_ids("[BOS]")]
    renamed.save_pretrained(tmp_path / "renamed")
    assert PerceiverByteTokenizer.from_pretrained(tmp_path / "renamed")("<BOS>[MASK]")["input_ids"] == [1, 3]
    without_bos = PerceiverByteTokenizer.from_pretrained(tmp_path / "saved", bos_token=None)
    assert without_bos.bos_token is None and without_bos.bos_token_id is None and len(without_bos) == 262
    assert without_bos("[BOS]a")["input_ids"] == [1, *reference_ids("a")]  # id 1 stays reserved for DeepMind's BOS


# --- bad input ----------------------------------------------------------------------------------------------


def test_loading_another_tokenizer_folder_fails_clearly(tmp_path):
    train_unigram_tokenizer().save_pretrained(tmp_path)
    with pytest.raises(ValueError, match="not the fixed byte vocabulary"):
        PerceiverByteTokenizer.from_pretrained(tmp_path)


def test_bad_special_tokens_are_rejected():
    with pytest.raises(ValueError, match="must be distinct"):
        PerceiverByteTokenizer(cls_token="[SEP]")
    with pytest.raises(ValueError, match="already stand for a byte"):
        PerceiverByteTokenizer(sep_token="<")
    with pytest.raises(ValueError, match="does not take `tokenizer_object`"):
        PerceiverByteTokenizer(tokenizer_object=train_unigram_tokenizer().backend_tokenizer)


# --- the Unigram test helper --------------------------------------------------------------------------------


def test_unigram_helper_tokenizer_has_mask_and_round_trips_through_auto_tokenizer(tmp_path):
    unigram = train_unigram_tokenizer()
    assert unigram.mask_token == MASK_TOKEN and unigram.mask_token_id is not None
    assert unigram.pad_token_id is not None and unigram.pad_token_id != unigram.mask_token_id
    text = f"The quick brown {MASK_TOKEN} jumps over the lazy dog."
    ids = unigram(text)["input_ids"]
    assert ids.count(unigram.mask_token_id) == 1
    assert unigram.decode(ids) == text
    assert 1 < len(ids) < len(text)  # subwords, not characters or bytes

    unigram.save_pretrained(tmp_path)
    loaded = AutoTokenizer.from_pretrained(tmp_path)
    texts = [text, "Café owners count coins."]
    assert loaded(texts, padding=True)["input_ids"] == unigram(texts, padding=True)["input_ids"]
    assert (loaded.mask_token_id, loaded.pad_token_id) == (unigram.mask_token_id, unigram.pad_token_id)
    assert loaded.model_max_length == 512
