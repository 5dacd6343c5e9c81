"""PerceiverByteTokenizer: DeepMind's UTF-8 byte vocabulary as a fast (Rust `tokenizers`) tokenizer.

Ids follow DeepMind's language Perceiver IO: special tokens 0-5 (``[PAD]``, ``[BOS]``, ``[EOS]``,
``[MASK]``, ``[CLS]``, ``[SEP]``) and UTF-8 byte ``b`` -> id ``b + 6``; vocabulary size 262.

The backend is a plain `tokenizers.Tokenizer`, so encoding runs in Rust:

- a ``Split`` pre-tokenizer cuts the text into words (non-space characters and the whitespace after them),
  which only number the bytes' ``word_ids``: every byte is kept, in order;
- the ``ByteLevel`` pre-tokenizer (no regex split, no prefix space) turns every UTF-8 byte of the text
  into one stand-in character (the usual GPT-2 byte alphabet);
- a ``BPE`` model without merges maps each stand-in character to ``byte + 6`` (one token per byte);
- the six special tokens are registered as added tokens, so ``"[MASK]"`` written in a text becomes the
  single id 3 (likewise for the other five);
- the ``ByteLevel`` decoder turns tokens back into bytes and decodes them as UTF-8, replacing invalid or
  truncated byte sequences with U+FFFD (like ``bytes.decode("utf-8", errors="replace")``).

The saved ``tokenizer.json`` describes all of this, so even plain ``transformers.PreTrainedTokenizerFast``
(without this package installed) reproduces the ids.

The Rust pipeline builds a token string, offsets and word ids for every byte, which makes it barely faster
than transformers' pure-Python ``PerceiverTokenizer``. Plain-text calls therefore take a vectorised path by
default (``fast_batch_encoding``): ``str.encode("utf-8")`` and ``bytes.translate`` map a text to its ids in
C, and numpy pads the batch. It gives the same ids and masks as the Rust pipeline (tests compare the two over
random texts and options) and is one to two orders of magnitude faster (benchmarks/tokenizer_speed.py). Its
`BatchEncoding` still holds the Rust pipeline's `tokenizers.Encoding` objects (``word_ids()``, ``tokens()``,
``char_to_token()``, offsets, ...): they are computed for the whole batch, with the call's options, the first
time one is read (`perceiver_hf.lazy_encodings.LazyEncodings`), so a call that only needs ids never pays for them.
"""

from __future__ import annotations

import functools
import logging
import os
import re
from typing import Any, Optional

from tokenizers import AddedToken, Encoding, Regex, Tokenizer, decoders, pre_tokenizers
from tokenizers.models import BPE
from tokenizers.pre_tokenizers import ByteLevel, Split
from transformers.tokenization_utils_base import (
    BatchEncoding,
    PaddingStrategy,
    PreTrainedTokenizerBase,
    TruncationStrategy,
)
from transformers.tokenization_utils_tokenizers import TOKENIZER_FILE, TokenizersBackend

from .byte_rows import (
    FAST_PATH_KEYWORDS,
    FAST_PATH_MUST_BE_OFF,
    NUM_BYTES,
    NUM_SPECIAL_TOKENS,
    not_utf8,
    padded_length,
    rows_to_batch,
    special_token_pattern,
    text_to_id_bytes,
    truncate,
    truncates,
)
from .byte_offsets import TrimmedEncoding
from .lazy_encodings import LazyEncodings
from .tokenizer_max_length import capped_model_max_length, folder_max_seq_len, saved_model_max_length

logger = logging.getLogger(__name__)

BYTE_VOCAB_SIZE = NUM_SPECIAL_TOKENS + NUM_BYTES  # 262
DEFAULT_MODEL_MAX_LENGTH = 2048
WORD_PATTERN = r"\S+\s*"
"""A word of ``word_ids()``: non-space characters and the whitespace after them (leading whitespace is a word)."""

# Bytes the GPT-2 byte alphabet keeps as their own Latin-1 character: '!'..'~', '¡'..'¬', '®'..'ÿ'.
_PRINTABLE_BYTES = frozenset([*range(0x21, 0x7F), *range(0xA1, 0xAD), *range(0xAE, 0x100)])


def byte_alphabet() -> list[str]:
    """Return the stand-in character of each byte 0..255 used by `tokenizers`' ``ByteLevel`` pre-tokenizer.

    Printable Latin-1 bytes stand for themselves; the other 68 bytes take the characters U+0100, U+0101, ...
    in increasing byte order (the GPT-2 convention that ``ByteLevel`` implements).
    """
    alphabet = []
    num_shifted = 0
    for byte in range(NUM_BYTES):
        if byte in _PRINTABLE_BYTES:
            alphabet.append(chr(byte))
        else:
            alphabet.append(chr(NUM_BYTES + num_shifted))
            num_shifted += 1
    return alphabet


def build_byte_vocab(special_tokens: list[str]) -> dict[str, int]:
    """Return the token -> id map: ``special_tokens`` get ids 0..5, byte ``b``'s character gets ``b + 6``."""
    vocab = {token: index for index, token in enumerate(special_tokens)}
    vocab.update({char: byte + NUM_SPECIAL_TOKENS for byte, char in enumerate(byte_alphabet())})
    return vocab


def build_byte_backend(special_tokens: list[str]) -> Tokenizer:
    """Build the Rust tokenizer: ByteLevel bytes -> BPE (no merges) -> ids, special tokens matched in text."""
    backend = Tokenizer(BPE(vocab=build_byte_vocab(special_tokens), merges=[], dropout=None, fuse_unk=False))
    words = Split(Regex(WORD_PATTERN), behavior="isolated")  # word_ids only: every byte is kept, in order
    byte_level = ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False)
    backend.pre_tokenizer = pre_tokenizers.Sequence([words, byte_level])
    backend.decoder = decoders.ByteLevel()
    backend.add_special_tokens([AddedToken(token, special=True, normalized=False) for token in special_tokens])
    return backend


def special_token_ids(tokenizer: PreTrainedTokenizerBase) -> dict[str, Optional[int]]:
    """The config fields `pad_token_id`, `bos_token_id`, `eos_token_id` that agree with `tokenizer`.

    A model config that records the same ids as its tokenizer is what `Trainer` expects; otherwise it warns
    about "new PAD/BOS/EOS tokens" and rewrites the config at the start of training.
    """
    return {
        "pad_token_id": tokenizer.pad_token_id,
        "bos_token_id": tokenizer.bos_token_id,
        "eos_token_id": tokenizer.eos_token_id,
    }


DEFAULT_SPECIAL_TOKENS = ("[PAD]", "[BOS]", "[EOS]", "[MASK]", "[CLS]", "[SEP]")
"""The names of ids 0-5; a special token passed as None keeps its id under this name in the vocabulary."""


def _token_content(token: str | AddedToken | None, default: str) -> str:
    if token is None:
        return default
    return token.content if isinstance(token, AddedToken) else str(token)


class PerceiverByteTokenizer(TokenizersBackend):
    """UTF-8 byte tokenizer with DeepMind's Perceiver IO ids, backed by the Rust `tokenizers` library.

    ``"héllo [MASK]"`` -> ``[110, 201, 175, 114, 114, 117, 38, 3]``: each UTF-8 byte ``b`` becomes ``b + 6``
    (so "é" gives two ids) and each special token written in the text gives its single id. Decoding
    inverts this exactly for any Unicode text; invalid or partial UTF-8 byte sequences decode to U+FFFD.

    By default no special tokens are added around a text (DeepMind's notebook adds none). Padding is on the
    right with ``[PAD]`` (id 0) and ``attention_mask`` marks valid positions with 1.

    Pre-split words (``is_split_into_words=True``, as in transformers' run_ner recipe) are joined with single
    spaces, the text the model saw in pre-training: ``["You", "may"]`` is encoded as ``"You may"``. Each space
    belongs to the word before it, so ``word_ids()`` maps every byte to a word, each word's first byte is its own
    first character (where ``tokenize_and_align_labels`` puts the word's label), and the offsets, relative to
    each word as in transformers, put the space just after its word (as an empty span, see ``trim_offsets``).
    ``add_prefix_space`` is refused: the model never saw a text that starts with a space.

    Args:
        pad_token: Padding token, id 0.
        bos_token: Beginning-of-sequence token, id 1. Only added when ``add_bos_eos=True``.
        eos_token: End-of-sequence token, id 2. Only added when ``add_bos_eos=True``.
        mask_token: Mask token for masked language modelling, id 3.
        cls_token: Classification token, id 4 (reserved, never added automatically).
        sep_token: Separator token, id 5 (reserved, never added automatically).
        add_bos_eos: If True, encoding with ``add_special_tokens=True`` (the default of ``__call__``) wraps
            each sequence as ``[BOS] text [EOS]``. If False (default) nothing is added. ``None`` keeps the
            behaviour stored in a loaded ``tokenizer.json`` (or the standard ``add_bos_token`` /
            ``add_eos_token`` arguments, if given).
        model_max_length: Longest sequence the model accepts; used by ``truncation=True`` and
            ``padding="max_length"`` without an explicit ``max_length``. A fresh tokenizer defaults to DeepMind's
            2048; ``from_pretrained`` on a model folder caps it at the folder's config.json ``max_seq_len``
            (or takes that value where tokenizer_config.json has none), unless ``model_max_length`` is passed.
        padding_side: ``"right"`` (default, as DeepMind's inputs) or ``"left"``.
        fast_batch_encoding: If True (default), calls on plain text (``str`` or a list of ``str``, no text pairs,
            no offsets/overflow/special-tokens-mask/length/token-type outputs) skip the Rust pipeline and encode
            with ``str.encode("utf-8")`` and numpy: the same ids and attention masks (the test suite checks this
            against the Rust pipeline), >100x faster than transformers' ``PerceiverTokenizer`` when returning
            tensors or arrays and ~15x when returning Python lists (building the lists dominates). The
            returned `BatchEncoding` still has the Rust pipeline's encodings (``.tokens()``, ``.word_ids()``,
            ``.char_to_token()``, ...): the Rust pipeline runs on the batch when one of them is first read.
            Set False to always run the Rust pipeline at once.
        trim_offsets: If True (default, like RoBERTa's ``trim_offsets``), character offsets (``offset_mapping``,
            ``token_to_chars``, ``char_to_token``, ...) give each token the characters it adds to the text: the bytes
            of a whitespace character and the continuation bytes of a multi-byte character get the empty span at
            their character's end, the first byte of a character its whole span (`perceiver_hf.byte_offsets`).
            Words are then separated by gaps between offsets, which is how transformers'
            ``DataCollatorForLanguageModeling(whole_word_mask=True)`` finds them. If False, every byte gets the
            span of its character (the Rust pipeline's raw offsets; no gaps, so the whole text is one "word").
            Trimming is a Python pass over the tokens (~0.2 us each), paid only by calls that read offsets.
        **kwargs: Passed on to `transformers.TokenizersBackend` (e.g. ``truncation_side``).

    Example:
        >>> tokenizer = PerceiverByteTokenizer()
        >>> tokenizer(["a [MASK] b", "é"], padding=True)["input_ids"]
        [[103, 38, 3, 38, 104], [201, 175, 0, 0, 0]]
    """

    model = BPE
    model_input_names = ["input_ids", "attention_mask"]
    padding_side = "right"

    def __init__(
        self,
        pad_token: str | AddedToken = "[PAD]",
        bos_token: str | AddedToken = "[BOS]",
        eos_token: str | AddedToken = "[EOS]",
        mask_token: str | AddedToken = "[MASK]",
        cls_token: str | AddedToken = "[CLS]",
        sep_token: str | AddedToken = "[SEP]",
        add_bos_eos: bool | None = False,
        model_max_length: int = DEFAULT_MODEL_MAX_LENGTH,
        padding_side: str = "right",
        fast_batch_encoding: bool = True,
        trim_offsets: bool = True,
        **kwargs: Any,
    ) -> None:
        _refuse_prefix_space(kwargs)
        named = (pad_token, bos_token, eos_token, mask_token, cls_token, sep_token)
        special_tokens = [_token_content(token, name) for token, name in zip(named, DEFAULT_SPECIAL_TOKENS)]  # ids 0-5
        _check_special_tokens(special_tokens)
        # `from_pretrained` extracts the saved vocabulary from tokenizer.json; the byte vocabulary is fixed, so
        # only check that the file describes this tokenizer and rebuild the backend from scratch.
        _check_loaded_vocab(kwargs.pop("vocab", None), kwargs.pop("merges", None), special_tokens)
        if kwargs.get("added_tokens_decoder"):  # ids 0-5 are (re)named by the arguments above, not by the saved file
            saved = kwargs["added_tokens_decoder"]
            kwargs["added_tokens_decoder"] = {i: token for i, token in saved.items() if int(i) >= NUM_SPECIAL_TOKENS}
        for key in ("tokenizer_object", "tokenizer_file"):
            if kwargs.get(key) is not None:
                raise ValueError(
                    f"PerceiverByteTokenizer builds its own byte-level backend and does not take `{key}`. "
                    "Use PerceiverByteTokenizer.from_pretrained(folder) for a saved byte tokenizer, or "
                    f"PreTrainedTokenizerFast({key}=...) for any other tokenizer."
                )
        if add_bos_eos is not None:
            kwargs["add_bos_token"] = bool(add_bos_eos)
            kwargs["add_eos_token"] = bool(add_bos_eos)
            kwargs.pop("post_processor", None)  # rebuilt from the flags above
        self.add_bos_eos = add_bos_eos
        self.fast_batch_encoding = fast_batch_encoding
        self.trim_offsets = trim_offsets
        self._tokenizer = build_byte_backend(special_tokens)
        super().__init__(
            pad_token=pad_token,
            bos_token=bos_token,
            eos_token=eos_token,
            mask_token=mask_token,
            cls_token=cls_token,
            sep_token=sep_token,
            add_bos_eos=add_bos_eos,
            fast_batch_encoding=fast_batch_encoding,
            trim_offsets=trim_offsets,
            model_max_length=model_max_length,
            padding_side=padding_side,
            clean_up_tokenization_spaces=kwargs.pop("clean_up_tokenization_spaces", False),
            **kwargs,
        )

    @classmethod
    def _from_pretrained(
        cls,
        resolved_vocab_files: dict[str, Any],
        pretrained_model_name_or_path: str | os.PathLike,
        init_configuration: dict[str, Any],
        *init_inputs: Any,
        **kwargs: Any,
    ) -> "PerceiverByteTokenizer":
        """transformers' loading, with ``model_max_length`` at most the model's ``max_seq_len`` (see its Arg)."""
        if kwargs.get("model_max_length") is None:
            config_file = resolved_vocab_files.get("tokenizer_config_file")
            max_seq_len = folder_max_seq_len(config_file or resolved_vocab_files.get("tokenizer_file"))
            if max_seq_len is not None:
                saved = saved_model_max_length(config_file)
                kwargs["model_max_length"] = capped_model_max_length(saved, max_seq_len)
        return super()._from_pretrained(
            resolved_vocab_files, pretrained_model_name_or_path, init_configuration, *init_inputs, **kwargs
        )

    def tokenize(
        self, text: str, pair: str | None = None, add_special_tokens: bool = False, **kwargs: Any
    ) -> list[str]:
        """Split ``text`` into byte tokens (ByteLevel characters) and special tokens, via the Rust pipeline."""
        if kwargs.get("is_split_into_words"):
            text, pair = _join_words(text), _join_words(pair)
        return super()._encode_plus(text, text_pair=pair, add_special_tokens=add_special_tokens, **kwargs).tokens()

    def _get_padding_truncation_strategies(
        self, padding: Any = False, truncation: Any = None, max_length: int | None = None, **kwargs: Any
    ) -> tuple[PaddingStrategy, TruncationStrategy, int | None, dict[str, Any]]:
        """transformers' rules, noting for `_encode_plus` whether this call truncates to the model's limit.

        A call with truncation on and no ``max_length`` cuts texts to ``model_max_length``, the model's limit
        (pipelines call the tokenizer so); `_encode_plus` then logs how much it dropped. An explicit ``max_length``
        is the caller's choice and truncates silently, as does ``verbose=False``.
        """
        strategies = super()._get_padding_truncation_strategies(padding, truncation, max_length, **kwargs)
        to_model_limit = max_length is None and strategies[1] != TruncationStrategy.DO_NOT_TRUNCATE
        self._report_truncation = to_model_limit and kwargs.get("verbose", True)
        return strategies

    def _encode_plus(self, text: Any, text_pair: Any = None, **kwargs: Any) -> BatchEncoding:
        """Encode (see `_encode_fast_or_rust`); log what truncation to ``model_max_length`` dropped, if asked."""
        report, self._report_truncation = getattr(self, "_report_truncation", False), False
        _refuse_prefix_space(kwargs)
        if kwargs.get("is_split_into_words"):
            text, text_pair = _join_words(text), _join_words(text_pair)
        if not report or kwargs.get("return_overflowing_tokens"):
            return self._encode_fast_or_rust(text, text_pair, kwargs)
        full_lengths: list[int] = []
        batch = self._encode_fast_or_rust(text, text_pair, kwargs, full_lengths)
        if not full_lengths and any(encoding.overflowing for encoding in batch.encodings):  # the Rust path cut
            untruncated = {
                "truncation_strategy": TruncationStrategy.DO_NOT_TRUNCATE,
                "padding_strategy": PaddingStrategy.DO_NOT_PAD,
                "return_tensors": None,
            }
            full = super()._encode_plus(text, text_pair=text_pair, **{**kwargs, **untruncated, "verbose": False})
            full_lengths = [len(encoding.ids) for encoding in full.encodings]
        _log_truncation(full_lengths, kwargs.get("max_length"))
        return batch

    def _encode_fast_or_rust(
        self, text: Any, text_pair: Any, kwargs: dict[str, Any], full_lengths: list[int] | None = None
    ) -> BatchEncoding:
        """Encode with the vectorised UTF-8 path when it applies (see ``fast_batch_encoding``), else in Rust.

        The vectorised path appends each sequence's length before truncation to ``full_lengths`` (if given).
        """
        texts = [text] if isinstance(text, str) else text
        _check_texts(texts, "text")
        if text_pair is not None:
            _check_texts([text_pair] if isinstance(text_pair, str) else text_pair, "text_pair")
        self._check_truncation_length(kwargs)
        setup = self._fast_path_setup(texts, text_pair, kwargs)
        if setup is None:
            _check_encodable(texts)
            return super()._encode_plus(text, text_pair=text_pair, **kwargs)
        pattern, special_ids, prefix, suffix = setup
        rows = [text_to_id_bytes(t, pattern, special_ids, index) for index, t in enumerate(texts)]

        max_length = kwargs.get("max_length")
        if truncates(kwargs):
            if full_lengths is not None:
                full_lengths.extend(len(row) + len(prefix) + len(suffix) for row in rows)
            keep = max_length - len(prefix) - len(suffix)
            rows = [truncate(row, keep, self.truncation_side) for row in rows]
        if prefix or suffix:
            rows = [prefix + row + suffix for row in rows]

        padding_strategy = kwargs.get("padding_strategy", PaddingStrategy.DO_NOT_PAD)
        lengths = [len(row) for row in rows]
        target = padded_length(lengths, padding_strategy, max_length, kwargs.get("pad_to_multiple_of"))
        return_tensors = kwargs.get("return_tensors")
        if return_tensors is not None and len({max(n, target) for n in lengths}) > 1:
            return super()._encode_plus(text, text_pair=text_pair, **kwargs)  # ragged: transformers' own error
        if rows:
            self._eventual_warn_about_too_long_sequence(max(rows, key=len), max_length, kwargs.get("verbose", True))

        return_mask = kwargs.get("return_attention_mask")
        padding_side = kwargs.get("padding_side") or self.padding_side
        data = rows_to_batch(
            rows,
            lengths,
            target,
            pad_byte=bytes([self.pad_token_id]) if target else b"",
            left=padding_side == "left",
            return_tensors=return_tensors,
            return_attention_mask="attention_mask" in self.model_input_names if return_mask is None else return_mask,
        )
        if isinstance(text, str) and return_tensors is None:
            data = {key: value[0] for key, value in data.items()}
        rust_kwargs = {**kwargs, "padding_side": padding_side, "return_tensors": None}
        compute = functools.partial(self._rust_encodings, text, rust_kwargs, self.truncation_side)
        return BatchEncoding(data, LazyEncodings(len(texts), compute), n_sequences=1)

    def _rust_encodings(self, text: Any, kwargs: dict[str, Any], truncation_side: str) -> list[Encoding]:
        """The `tokenizers.Encoding` objects of the Rust pipeline for one call (``truncation_side`` as at the call)."""
        current_side, self.truncation_side = self.truncation_side, truncation_side
        try:
            return super()._encode_plus(text, **kwargs).encodings
        finally:
            self.truncation_side = current_side

    def _convert_encoding(self, encoding: Encoding, **kwargs: Any) -> tuple[dict[str, Any], list[Any]]:
        """transformers' conversion of one Rust encoding, with trimmed offsets if ``trim_offsets`` (see its Arg)."""
        return super()._convert_encoding(TrimmedEncoding(encoding) if self.trim_offsets else encoding, **kwargs)

    def _check_truncation_length(self, kwargs: dict[str, Any]) -> None:
        """Refuse a `max_length` that cannot even hold the special tokens this tokenizer adds."""
        max_length = kwargs.get("max_length")
        if not truncates(kwargs) or max_length is None or not kwargs.get("add_special_tokens", True):
            return
        num_special = self.num_special_tokens_to_add()
        if max_length < num_special:
            raise ValueError(
                f"max_length={max_length} cannot hold the {num_special} special tokens this tokenizer adds to "
                f"every sequence (add_bos_eos={self.add_bos_eos}); use max_length >= {num_special + 1}, or "
                "add_special_tokens=False."
            )

    def _fast_path_setup(
        self, texts: Any, text_pair: Any, kwargs: dict[str, Any]
    ) -> tuple[re.Pattern[str] | None, dict[str, bytes], bytes, bytes] | None:
        """(special-token pattern, token -> id byte, prefix ids, suffix ids) if the fast path applies, else None."""
        if not self.fast_batch_encoding or text_pair is not None:
            return None
        if not isinstance(texts, (list, tuple)) or not all(isinstance(t, str) for t in texts):
            return None
        if any(kwargs.get(key) for key in FAST_PATH_MUST_BE_OFF):
            return None
        if any(value and key not in FAST_PATH_KEYWORDS for key, value in kwargs.items()):
            return None  # an option this path does not know: let transformers handle it
        if kwargs.get("truncation_strategy", TruncationStrategy.DO_NOT_TRUNCATE) == TruncationStrategy.ONLY_SECOND:
            return None
        added = self.added_tokens_decoder
        if len(self) != BYTE_VOCAB_SIZE or any(t.lstrip or t.rstrip or t.single_word for t in added.values()):
            return None  # extra or non-plain added tokens: only the Rust pipeline matches them exactly
        prefix, suffix = self._special_token_affixes() if kwargs.get("add_special_tokens", True) else (b"", b"")
        if prefix is None:
            return None
        if kwargs.get("split_special_tokens"):
            return None, {}, prefix, suffix
        special_ids = {token.content: bytes([index]) for index, token in added.items()}
        return special_token_pattern(tuple(special_ids)), special_ids, prefix, suffix

    def _special_token_affixes(self) -> tuple[bytes, bytes] | tuple[None, None]:
        """Ids the post-processor puts before and after a single sequence (e.g. [BOS] ... [EOS]), as bytes."""
        self._tokenizer.no_padding()  # transformers resets both before each call anyway
        self._tokenizer.no_truncation()
        probe_id = ord("a") + NUM_SPECIAL_TOKENS
        ids = self._tokenizer.encode("a", add_special_tokens=True).ids
        if ids.count(probe_id) != 1 or any(i >= NUM_SPECIAL_TOKENS for i in ids if i != probe_id):
            return None, None
        split = ids.index(probe_id)
        return bytes(ids[:split]), bytes(ids[split + 1 :])

    def _decode(
        self,
        token_ids: int | list[int],
        skip_special_tokens: bool = False,
        clean_up_tokenization_spaces: bool | None = None,
        **kwargs: Any,
    ) -> str:
        """Decode ids to text; raises ValueError for ids outside the vocabulary instead of dropping them."""
        ids = [token_ids] if isinstance(token_ids, int) else token_ids
        if not isinstance(ids, dict):
            size = len(self)
            bad = [int(i) for i in ids if not 0 <= int(i) < size]
            if bad:
                raise ValueError(
                    f"Cannot decode token ids {bad[:5]}: {type(self).__name__} ids must lie in [0, {size}). "
                    "Pass ids produced by this tokenizer (or a model with the same vocabulary)."
                )
        return super()._decode(token_ids, skip_special_tokens, clean_up_tokenization_spaces, **kwargs)

    def _save_pretrained(
        self,
        save_directory: str | os.PathLike,
        file_names: tuple[str, ...],
        legacy_format: bool | None = None,
        filename_prefix: str | None = None,
    ) -> tuple[str, ...]:
        """Write tokenizer.json without the padding/truncation state left on the backend by the last call.

        transformers sets those per call; saving them would make a reloaded tokenizer start with the last
        call's ``max_length`` in its init kwargs. The live backend is not modified.
        """
        backend = Tokenizer.from_str(self._tokenizer.to_str())
        backend.no_padding()
        backend.no_truncation()
        path = os.path.join(str(save_directory), (filename_prefix + "-" if filename_prefix else "") + TOKENIZER_FILE)
        backend.save(path)
        return file_names + (path,)


def _join_words(words: Any) -> Any:
    """Pre-split words (one example or a batch) with a space after every word but the last of each example.

    The Rust pipeline then encodes each example as the words joined by single spaces, with every byte (the
    space after a word included) in that word's ``word_ids``.
    """
    if words is None or not isinstance(words, (list, tuple)) or not words:
        return words
    if isinstance(words[0], (list, tuple)):  # a batch
        return [_join_words(example) for example in words]
    return [word + " " if isinstance(word, str) else word for word in words[:-1]] + list(words[-1:])


def _refuse_prefix_space(kwargs: dict[str, Any]) -> None:
    if kwargs.get("add_prefix_space"):
        raise ValueError(
            "PerceiverByteTokenizer does not take add_prefix_space=True: it encodes text byte for byte and joins "
            "pre-split words with single spaces (is_split_into_words=True); put a space in the text if you want one."
        )


def _check_texts(texts: Any, what: str) -> None:
    """Refuse None and other non-text items of a batch by position (the Rust pipeline's TypeError names none)."""
    if not isinstance(texts, (list, tuple)):
        raise TypeError(f"{what} must be a string or a list of strings, got {type(texts).__name__}.")
    for index, item in enumerate(texts):
        if not isinstance(item, (str, list, tuple)):  # lists: pre-split words (is_split_into_words)
            raise TypeError(f"{what}[{index}] is {item!r} ({type(item).__name__}), not a string; remove or fix it.")


def _check_encodable(texts: Any) -> None:
    """The UTF-8 check of the Rust path (which raises an unrelated TypeError for lone surrogates)."""
    for index, item in enumerate(texts):
        for text in [item] if isinstance(item, str) else item:
            if isinstance(text, str) and not text.isascii():
                try:
                    text.encode("utf-8")
                except UnicodeEncodeError as error:
                    raise not_utf8(index, error) from None


def _log_truncation(full_lengths: list[int], max_length: int | None) -> None:
    """Warn how many sequences truncation to the model's limit cut, and by how much (nothing if none was)."""
    if max_length is None:
        return
    cut = [length for length in full_lengths if length > max_length]
    if cut:
        logger.warning(
            "Truncated %d of %d sequences to model_max_length=%d tokens, the model's limit: the longest had %d "
            "tokens, %d tokens were dropped in all. Pass stride= with return_overflowing_tokens=True to keep the "
            "rest as extra rows, or an explicit max_length to truncate silently.",
            len(cut), len(full_lengths), max_length, max(cut), sum(length - max_length for length in cut),
        )


def _check_special_tokens(special_tokens: list[str]) -> None:
    if any(not token for token in special_tokens):
        raise ValueError(f"Special tokens must be non-empty strings, got {special_tokens}.")
    if len(set(special_tokens)) != len(special_tokens):
        raise ValueError(
            f"The six special tokens (pad, bos, eos, mask, cls, sep) must be distinct, got {special_tokens}."
        )
    clashes = sorted(set(special_tokens) & set(byte_alphabet()))
    if clashes:
        raise ValueError(
            f"Special tokens {clashes} are single characters that already stand for a byte in the vocabulary; "
            "use longer strings such as '[MASK]'."
        )


def _check_loaded_vocab(vocab: Any, merges: Any, special_tokens: list[str]) -> None:
    """Raise if a vocabulary read from a saved tokenizer.json is not this tokenizer's byte vocabulary.

    The special tokens may have other names than ``special_tokens`` (renamed at load, e.g.
    ``from_pretrained(folder, bos_token="<BOS>")``): only the bytes' entries and six entries at ids 0-5 count.
    """
    if vocab is None:
        return
    expected = build_byte_vocab(special_tokens)
    bytes_of = {token: index for token, index in expected.items() if index >= NUM_SPECIAL_TOKENS}
    loaded_bytes = {token: index for token, index in vocab.items() if index >= NUM_SPECIAL_TOKENS}
    loaded_special_ids = sorted(index for index in vocab.values() if index < NUM_SPECIAL_TOKENS)
    if loaded_bytes != bytes_of or loaded_special_ids != list(range(NUM_SPECIAL_TOKENS)) or merges:
        raise ValueError(
            f"The vocabulary passed to PerceiverByteTokenizer ({len(vocab)} entries"
            f"{', with merges' if merges else ''}) is not the fixed byte vocabulary of {BYTE_VOCAB_SIZE} entries "
            f"(special tokens {special_tokens} at ids 0-5, then one entry per byte). The saved tokenizer.json "
            "belongs to another tokenizer: load it with AutoTokenizer / PreTrainedTokenizerFast instead, or "
            "create PerceiverByteTokenizer() without a vocabulary."
        )


__all__ = ["PerceiverByteTokenizer", "BYTE_VOCAB_SIZE", "NUM_SPECIAL_TOKENS"]
