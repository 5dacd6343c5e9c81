"""Masked-language-model masking of one sequence: which tokens to mask, and what to put in their place.

Three selection strategies, all sharing the same 80/10/10 replacement (`replace_selected`):

- ``token``: every maskable token independently with probability p (BERT);
- ``whole_word``: every word independently with probability p, then all of its tokens;
- ``span``: runs of whole words (SpanBERT): span lengths in words ~ Geometric, clipped, until about p of the
  maskable tokens are selected.

A *word* starts at a token whose text begins with a space marker (``▁`` SentencePiece, ``Ġ``/``Ċ`` byte-level
for space/newline, or whitespace itself), or, for WordPiece vocabularies, at a token without ``##``. For the
byte tokenizer this makes a word the maximal run of non-space bytes *with the space before it*, i.e. the
``" word"`` spans of DeepMind's notebook. Special tokens (padding included) are never masked and end words.

Everything here works on one sequence [n] with an explicit `torch.Generator`, so the masks of an example do
not depend on which other examples share its batch (see `collators.PerceiverMLMCollator`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from transformers import PreTrainedTokenizerBase

MASKING_STRATEGIES = ("token", "whole_word", "span")

# First characters that mark a token as the start of a new word: SentencePiece's "▁", the GPT-2 byte-level
# stand-ins of space, newline, tab and carriage return (also used by the Perceiver byte tokenizer).
_WORD_START_MARKERS = frozenset("▁ĠĊĉč")


@dataclass(frozen=True)
class TokenTables:
    """Per-vocabulary lookup tables of a tokenizer (computed once, used for every batch).

    Attributes:
        maskable: bool [V], False for special tokens (never masked, never used as random replacement).
        word_start: bool [V], True for tokens that begin a new word.
        replacement_ids: long [R], the ids random replacement draws from (all non-special ids).
        mask_token_id: id of the mask token.
        pad_token_id: id used to pad sequences (0 if the tokenizer has none).
    """

    maskable: torch.Tensor
    word_start: torch.Tensor
    replacement_ids: torch.Tensor
    mask_token_id: int
    pad_token_id: int

    @classmethod
    def from_tokenizer(cls, tokenizer: PreTrainedTokenizerBase) -> "TokenTables":
        """Build the tables from `tokenizer` (must have a mask token)."""
        if tokenizer.mask_token_id is None:
            raise ValueError(
                f"The tokenizer {type(tokenizer).__name__} has no mask token, which masked language modelling "
                "needs; use a tokenizer with a mask token (e.g. PerceiverByteTokenizer, id 3) or add one with "
                "tokenizer.add_special_tokens({'mask_token': '[MASK]'}) and resize the model's embeddings."
            )
        vocab_size = len(tokenizer)
        maskable = torch.ones(vocab_size, dtype=torch.bool)
        special_ids = [i for i in tokenizer.all_special_ids if 0 <= i < vocab_size]
        maskable[special_ids] = False
        tokens = tokenizer.convert_ids_to_tokens(list(range(vocab_size)))
        return cls(
            maskable=maskable,
            word_start=torch.tensor(word_start_flags(tokens), dtype=torch.bool),
            replacement_ids=maskable.nonzero().squeeze(1),
            mask_token_id=int(tokenizer.mask_token_id),
            pad_token_id=int(tokenizer.pad_token_id) if tokenizer.pad_token_id is not None else 0,
        )


def word_start_flags(tokens: list[str | None]) -> list[bool]:
    """For each token string of a vocabulary, whether it begins a new word (see the module docstring)."""
    wordpiece = any(token and token.startswith("##") for token in tokens)
    flags = []
    for token in tokens:
        if not token:
            flags.append(False)
        elif wordpiece:
            flags.append(not token.startswith("##"))
        else:
            flags.append(token[0] in _WORD_START_MARKERS or token[0].isspace())
    return flags


@dataclass(frozen=True)
class MaskingSpec:
    """What to mask and how to replace it.

    Attributes:
        strategy: "token", "whole_word" or "span".
        probability: fraction of maskable tokens (token), of words (whole_word), or target fraction of
            maskable tokens covered by spans (span).
        mask_replace_prob: share of selected tokens replaced by the mask token (0.8).
        random_replace_prob: share replaced by a random non-special token (0.1); the rest stay unchanged.
        mean_span_length: mean of the geometric span-length distribution in words, before clipping (span).
        max_span_length: longest span in words (span).
    """

    strategy: str = "token"
    probability: float = 0.15
    mask_replace_prob: float = 0.8
    random_replace_prob: float = 0.1
    mean_span_length: float = 3.0
    max_span_length: int = 10

    def __post_init__(self) -> None:
        if self.strategy not in MASKING_STRATEGIES:
            raise ValueError(f"masking strategy {self.strategy!r} is not one of {', '.join(MASKING_STRATEGIES)}.")
        if not 0.0 <= self.probability <= 1.0:
            raise ValueError(f"mlm_probability must be in [0, 1], got {self.probability}.")
        if self.mask_replace_prob < 0 or self.random_replace_prob < 0:
            raise ValueError("mask_replace_prob and random_replace_prob must not be negative.")
        if self.mask_replace_prob + self.random_replace_prob > 1.0 + 1e-9:
            raise ValueError(
                f"mask_replace_prob + random_replace_prob = {self.mask_replace_prob + self.random_replace_prob} "
                "exceeds 1; the remainder is the share of selected tokens left unchanged."
            )
        if self.mean_span_length < 1.0:
            raise ValueError(f"mean_span_length must be >= 1 word, got {self.mean_span_length}.")
        if self.max_span_length < 1:
            raise ValueError(f"max_span_length must be >= 1 word, got {self.max_span_length}.")


def word_ids(maskable: torch.Tensor, word_start: torch.Tensor) -> torch.Tensor:
    """Word index of every token [n] -> [n]; special tokens are single-token words and end the word before."""
    starts = word_start | ~maskable  # [n]
    starts[1:] |= ~maskable[:-1]
    if starts.numel():
        starts[0] = True
    return starts.long().cumsum(0) - 1  # [n]


def select_tokens(maskable: torch.Tensor, probability: float, generator: torch.Generator) -> torch.Tensor:
    """Select each maskable token with `probability` [n] -> bool [n]."""
    draws = torch.rand(maskable.shape, generator=generator)  # [n]
    return (draws < probability) & maskable


def select_whole_words(
    words: torch.Tensor, maskable: torch.Tensor, probability: float, generator: torch.Generator
) -> torch.Tensor:
    """Select each word with `probability`, then all of its maskable tokens -> bool [n]."""
    num_words = int(words[-1]) + 1 if words.numel() else 0
    chosen = torch.rand(num_words, generator=generator) < probability  # [W]
    return chosen[words] & maskable


def select_spans(
    words: torch.Tensor, maskable: torch.Tensor, spec: MaskingSpec, generator: torch.Generator
) -> torch.Tensor:
    """Select runs of whole words until about `spec.probability` of the maskable tokens are covered -> bool [n].

    Span lengths (in words) are drawn from Geometric(1 / mean_span_length) and clipped to max_span_length;
    span starts are uniform. Spans may overlap; the last span may overshoot the budget (as in SpanBERT).
    """
    num_words = int(words[-1]) + 1 if words.numel() else 0
    tokens_per_word = torch.bincount(words[maskable], minlength=num_words).tolist()  # maskable tokens per word
    budget = round(spec.probability * sum(tokens_per_word))
    chosen = [False] * num_words
    covered = 0
    success = 1.0 / spec.mean_span_length
    for _ in range(10 * budget):  # bounded: each span covers >= 1 token unless it only hits special words
        if covered >= budget:
            break
        length = min(int(torch.empty(()).geometric_(success, generator=generator)), spec.max_span_length, num_words)
        start = int(torch.randint(num_words - length + 1, (), generator=generator))
        for word in range(start, start + length):
            if not chosen[word]:
                chosen[word] = True
                covered += tokens_per_word[word]
    return torch.tensor(chosen, dtype=torch.bool)[words] & maskable


def replace_selected(
    input_ids: torch.Tensor,
    selected: torch.Tensor,
    spec: MaskingSpec,
    tables: TokenTables,
    generator: torch.Generator,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Apply 80/10/10 replacement to the selected tokens of `input_ids` [n].

    Returns (masked input ids [n], labels [n] = original id at selected positions, -100 elsewhere).
    """
    draws = torch.rand(input_ids.shape, generator=generator)  # [n]
    to_mask = selected & (draws < spec.mask_replace_prob)
    to_random = selected & ~to_mask & (draws < spec.mask_replace_prob + spec.random_replace_prob)
    random_index = torch.randint(len(tables.replacement_ids), input_ids.shape, generator=generator)  # [n]
    masked = torch.where(to_mask, tables.mask_token_id, input_ids)
    masked = torch.where(to_random, tables.replacement_ids[random_index], masked)
    labels = torch.where(selected, input_ids, -100)
    return masked, labels


def mask_sequence(
    input_ids: torch.Tensor, spec: MaskingSpec, tables: TokenTables, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Select and replace tokens of one unpadded sequence `input_ids` [n] -> (masked ids [n], labels [n])."""
    maskable = tables.maskable[input_ids]  # [n]
    if spec.strategy == "token":
        selected = select_tokens(maskable, spec.probability, generator)
    else:
        words = word_ids(maskable, tables.word_start[input_ids])  # [n]
        if spec.strategy == "whole_word":
            selected = select_whole_words(words, maskable, spec.probability, generator)
        else:
            selected = select_spans(words, maskable, spec, generator)
    return replace_selected(input_ids, selected, spec, tables, generator)


__all__ = [
    "MASKING_STRATEGIES",
    "MaskingSpec",
    "TokenTables",
    "mask_sequence",
    "replace_selected",
    "select_spans",
    "select_tokens",
    "select_whole_words",
    "word_ids",
    "word_start_flags",
]
