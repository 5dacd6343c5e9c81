"""PerceiverByteTokenizer: DeepMind's UTF-8 byte vocabulary as a fast (Rust `tokenizers`) tokenizer.

Ids follow DeepMind's language Perceiver IO: special tokens 0-5 (``[PAD]``, ``[BOS]``, ``[EOS]``,
``[MASK]``, ``[CLS]``, ``[SEP]``) and UTF-8 byte ``b`` -> id ``b + 6``; vocabulary size 262.

The backend is a plain `tokenizers.Tokenizer`, so encoding runs in Rust:

- the ``ByteLevel`` pre-tokenizer (no regex split, no prefix space) turns every UTF-8 byte of the text
  into one stand-in character (the usual GPT-2 byte alphabet);
- a ``BPE`` model without merges maps each stand-in character to ``byte + 6`` (one token per byte);
- the six special tokens are registered as added tokens, so ``"[MASK]"`` written in a text becomes the
  single id 3 (likewise for the other five);
- the ``ByteLevel`` decoder turns tokens back into bytes and decodes them as UTF-8, replacing invalid or
  truncated byte sequences with U+FFFD (like ``bytes.decode("utf-8", errors="replace")``).

The saved ``tokenizer.json`` describes all of this, so even plain ``transformers.PreTrainedTokenizerFast``
(without this package installed) reproduces the ids.
"""

from __future__ import annotations

import os
from typing import Any

from tokenizers import AddedToken, Tokenizer, decoders
from tokenizers.models import BPE
from tokenizers.pre_tokenizers import ByteLevel
from transformers import AutoTokenizer
from transformers.tokenization_utils_tokenizers import TOKENIZER_FILE, TokenizersBackend

NUM_SPECIAL_TOKENS = 6
"""Ids 0-5 are special tokens; byte ``b`` has id ``b + NUM_SPECIAL_TOKENS``."""
NUM_BYTES = 256
BYTE_VOCAB_SIZE = NUM_SPECIAL_TOKENS + NUM_BYTES  # 262
DEFAULT_MODEL_MAX_LENGTH = 2048

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
    backend.pre_tokenizer = ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False)
    backend.decoder = decoders.ByteLevel()
    backend.add_special_tokens([AddedToken(token, special=True, normalized=False) for token in special_tokens])
    return backend


def _token_content(token: str | AddedToken) -> str:
    return token.content if isinstance(token, AddedToken) else str(token)


class PerceiverByteTokenizer(TokenizersBackend):
    """UTF-8 byte tokenizer with DeepMind's Perceiver IO ids, backed by the Rust `tokenizers` library.

    ``"héllo [MASK]"`` -> ``[110, 201, 175, 114, 114, 117, 38, 3]``: each UTF-8 byte ``b`` becomes ``b + 6``
    (so "é" gives two ids) and each special token written in the text gives its single id. Decoding
    inverts this exactly for any Unicode text; invalid or partial UTF-8 byte sequences decode to U+FFFD.

    By default no special tokens are added around a text (DeepMind's notebook adds none). Padding is on the
    right with ``[PAD]`` (id 0) and ``attention_mask`` marks valid positions with 1.

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
        model_max_length: Longest sequence the model accepts (DeepMind's model: 2048); used by
            ``truncation=True`` and ``padding="max_length"`` without an explicit ``max_length``.
        padding_side: ``"right"`` (default, as DeepMind's inputs) or ``"left"``.
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
        **kwargs: Any,
    ) -> None:
        special_tokens = [_token_content(t) for t in (pad_token, bos_token, eos_token, mask_token, cls_token, sep_token)]
        _check_special_tokens(special_tokens)
        # `from_pretrained` extracts the saved vocabulary from tokenizer.json; the byte vocabulary is fixed, so
        # only check that the file describes this tokenizer and rebuild the backend from scratch.
        _check_loaded_vocab(kwargs.pop("vocab", None), kwargs.pop("merges", None), special_tokens)
        kwargs.pop("tokenizer_object", None)
        kwargs.pop("tokenizer_file", None)
        if add_bos_eos is not None:
            kwargs["add_bos_token"] = bool(add_bos_eos)
            kwargs["add_eos_token"] = bool(add_bos_eos)
            kwargs.pop("post_processor", None)  # rebuilt from the flags above
        self.add_bos_eos = add_bos_eos
        self._tokenizer = build_byte_backend(special_tokens)
        super().__init__(
            pad_token=pad_token,
            bos_token=bos_token,
            eos_token=eos_token,
            mask_token=mask_token,
            cls_token=cls_token,
            sep_token=sep_token,
            add_bos_eos=add_bos_eos,
            model_max_length=model_max_length,
            padding_side=padding_side,
            clean_up_tokenization_spaces=kwargs.pop("clean_up_tokenization_spaces", False),
            **kwargs,
        )

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


def _check_special_tokens(special_tokens: list[str]) -> None:
    if any(not token for token in special_tokens):
        raise ValueError(f"Special tokens must be non-empty strings, got {special_tokens}.")
    if len(set(special_tokens)) != len(special_tokens):
        raise ValueError(
            f"The six special tokens (pad, bos, eos, mask, cls, sep) must be distinct, got {special_tokens}."
        )


def _check_loaded_vocab(vocab: Any, merges: Any, special_tokens: list[str]) -> None:
    """Raise if a vocabulary read from a saved tokenizer.json is not this tokenizer's byte vocabulary."""
    if vocab is None:
        return
    expected = build_byte_vocab(special_tokens)
    if vocab != expected or merges:
        raise ValueError(
            f"The vocabulary passed to PerceiverByteTokenizer ({len(vocab)} entries"
            f"{', with merges' if merges else ''}) is not the fixed byte vocabulary of {BYTE_VOCAB_SIZE} entries "
            f"(special tokens {special_tokens} at ids 0-5, then one entry per byte). The saved tokenizer.json "
            "belongs to another tokenizer: load it with AutoTokenizer / PreTrainedTokenizerFast instead, or "
            "create PerceiverByteTokenizer() without a vocabulary."
        )


def register_tokenizer(config_class: type, exist_ok: bool = True) -> None:
    """Register `PerceiverByteTokenizer` with `AutoTokenizer` for ``config_class`` (e.g. ``PerceiverConfig``).

    After this, ``AutoTokenizer.from_pretrained(folder)`` loads a saved byte tokenizer whether the folder holds
    only the tokenizer files (``tokenizer_class`` in tokenizer_config.json) or also a model config.
    """
    AutoTokenizer.register(config_class, tokenizer_class=PerceiverByteTokenizer, exist_ok=exist_ok)


__all__ = ["PerceiverByteTokenizer", "register_tokenizer", "BYTE_VOCAB_SIZE", "NUM_SPECIAL_TOKENS"]
