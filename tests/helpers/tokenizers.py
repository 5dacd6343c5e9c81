"""Tiny non-byte tokenizers for tests: a SentencePiece-style Unigram tokenizer trained with `tokenizers`.

Used to check that the model classes and pipelines work with any Hugging Face tokenizer (for example with
the Perceiver IO Base preset), not only with the byte tokenizer.
"""

from __future__ import annotations

from collections.abc import Sequence

from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

PAD_TOKEN = "<pad>"
UNK_TOKEN = "<unk>"
MASK_TOKEN = "[MASK]"

DEFAULT_LINES = (
    "The quick brown fox jumps over the lazy dog.",
    "Perceiver IO reads bytes or subwords and decodes any set of output positions.",
    "Café owners count the coins on the wooden counter by the window.",
    "Pack my box with five dozen liquor jugs, then zip it: 0123456789!",
    "Masked language models predict the missing words of a sentence.",
)


def train_unigram_tokenizer(
    lines: Sequence[str] = DEFAULT_LINES,
    vocab_size: int = 200,
    model_max_length: int = 512,
) -> PreTrainedTokenizerFast:
    """Train a SentencePiece-style Unigram tokenizer on ``lines`` and wrap it as a transformers fast tokenizer.

    Special tokens get the first ids: ``<pad>`` 0, ``<unk>`` 1, ``[MASK]`` 2. Text is NFKC-normalised and split
    on whitespace with SentencePiece's "▁" marker (Metaspace), so decoding restores the spaces. The trainer
    stops below ``vocab_size`` when ``lines`` hold fewer distinct pieces; use ``len(tokenizer)`` as the model's
    vocabulary size. Characters never seen in ``lines`` encode as ``<unk>``. Training is deterministic and
    takes a few milliseconds.
    """
    if not lines:
        raise ValueError("train_unigram_tokenizer needs at least one line of training text.")
    backend = Tokenizer(models.Unigram())
    backend.normalizer = normalizers.NFKC()
    backend.pre_tokenizer = pre_tokenizers.Metaspace()
    backend.decoder = decoders.Metaspace()
    trainer = trainers.UnigramTrainer(
        vocab_size=vocab_size,
        special_tokens=[PAD_TOKEN, UNK_TOKEN, MASK_TOKEN],
        unk_token=UNK_TOKEN,
        show_progress=False,
    )
    backend.train_from_iterator(list(lines), trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        pad_token=PAD_TOKEN,
        unk_token=UNK_TOKEN,
        mask_token=MASK_TOKEN,
        model_max_length=model_max_length,
    )
