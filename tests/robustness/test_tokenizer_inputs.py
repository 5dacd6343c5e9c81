"""Tokenizer, model and pipeline inputs that used to give unrelated errors or wrong results (issue 14 item 14)."""

from __future__ import annotations

import pytest
import torch
from transformers import pipeline

from perceiver_hf import PerceiverByteTokenizer, PerceiverForMaskedLM
from perceiver_hf.training.presets import tiny


@pytest.mark.parametrize("fast", [True, False])
def test_truncation_honours_max_length_with_special_tokens(fast: bool) -> None:
    tokenizer = PerceiverByteTokenizer(add_bos_eos=True, fast_batch_encoding=fast)
    assert tokenizer("abc", truncation=True, max_length=3)["input_ids"] == [1, ord("a") + 6, 2]
    with pytest.raises(ValueError, match="max_length=1 cannot hold the 2 special tokens"):
        tokenizer("abc", truncation=True, max_length=1)
    assert PerceiverByteTokenizer()("abc", truncation=True, max_length=1)["input_ids"] == [ord("a") + 6]


@pytest.mark.parametrize("fast", [True, False])
def test_none_in_a_batch_is_named(fast: bool) -> None:
    with pytest.raises(TypeError, match=r"text\[1\] is None"):
        PerceiverByteTokenizer(fast_batch_encoding=fast)(["a", None])


@pytest.mark.parametrize("fast", [True, False])
def test_lone_surrogates_are_named(fast: bool) -> None:
    with pytest.raises(ValueError, match=r"Text 1 has the lone surrogate U\+D800 at character 1"):
        PerceiverByteTokenizer(fast_batch_encoding=fast)(["ok", "a\ud800b"])


def test_non_tensor_output_positions_get_a_clear_message() -> None:
    model = PerceiverForMaskedLM(tiny()).eval()
    with pytest.raises(ValueError, match=r"output_positions must be a tensor, got a list; pass torch.tensor"):
        model(torch.tensor([[7, 8, 9]]), output_positions=[[1]])


def test_fill_mask_spans_on_an_empty_list_says_so() -> None:
    fill = pipeline("fill-mask-spans", model=PerceiverForMaskedLM(tiny()).eval(), tokenizer=PerceiverByteTokenizer())
    with pytest.raises(ValueError, match="got an empty list"):
        fill([])
