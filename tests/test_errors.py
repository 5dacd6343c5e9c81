"""Bad input gets a ValueError that names the problem and the fix, never a crash from deep inside torch."""

from __future__ import annotations

import pytest
import torch

from perceiver_hf import PerceiverConfig, PerceiverForMaskedLM
from perceiver_hf.configuration_perceiver import HIDDEN_ACTIVATIONS
from perceiver_hf.core import MultiHeadAttention
from perceiver_hf.core.layers import ACTIVATIONS
from perceiver_hf.text.language import MaskedLanguageModel, TextDecoderConfig, TextEncoderConfig


@pytest.fixture(scope="module")
def model(tiny_model) -> PerceiverForMaskedLM:
    return tiny_model()  # vocab 262, max_seq_len 128


@pytest.fixture
def input_ids() -> torch.Tensor:
    return torch.randint(6, 262, (2, 20), generator=torch.Generator().manual_seed(0))


# --- input_ids ---------------------------------------------------------------------------------------------------


def test_sequence_longer_than_max_seq_len(model) -> None:
    with pytest.raises(ValueError, match=r"129 tokens.*max_seq_len=128.*truncat.*max_length=128"):
        model(torch.full((1, 129), 10))


def test_sequence_longer_than_max_seq_len_in_the_generic_parts() -> None:
    encoder = TextEncoderConfig(max_seq_len=16, num_input_channels=16, num_self_attention_layers_per_block=1)
    language_model = MaskedLanguageModel(encoder, TextDecoderConfig(max_seq_len=16), 4, 16)
    with pytest.raises(ValueError, match=r"17 tokens.*max_seq_len=16.*truncat"):
        language_model(torch.zeros(1, 17, dtype=torch.long))


@pytest.mark.parametrize(("bad_id", "shown"), [(262, "max 262"), (-1, "min -1"), (100_000, "max 100000")])
def test_token_ids_outside_the_vocabulary(model, input_ids, bad_id: int, shown: str) -> None:
    input_ids = input_ids.clone()
    input_ids[1, 7] = bad_id
    with pytest.raises(ValueError, match=rf"outside the vocabulary \[0, 262\).*{shown}.*tokenizer"):
        model(input_ids)


@pytest.mark.parametrize(
    ("bad_input", "message"),
    [
        (torch.arange(6, 26), r"2-D tensor \[batch, sequence\], got \[20\].*input_ids\[None\]"),
        ([[10, 11, 12]], r"2-D tensor.*got list.*return_tensors='pt'"),
        (torch.full((2, 5), 10.0), r"integer token ids, got dtype torch.float32"),
        (torch.zeros(2, 0, dtype=torch.long), r"no tokens.*at least one token"),
    ],
    ids=["1-D", "list", "float", "empty"],
)
def test_malformed_input_ids(model, bad_input, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        model(bad_input)


def test_attention_mask_shape_mismatch(model, input_ids) -> None:
    with pytest.raises(ValueError, match=r"attention_mask has shape \[2, 19\] but the input is \[2, 20\].*must match"):
        model(input_ids, attention_mask=torch.ones(2, 19))


# --- output_positions --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("positions", "message"),
    [
        ([[0, 20], [1, 2]], r"output_positions go up to 20 but the input has only 20 positions.*-1 for unused"),
        ([[0, -2], [1, 2]], r"only use -1 to mark an unused slot"),
        ([[0, 1]], r"output_positions must be \[batch, K\] with batch=2, got \[1, 2\]"),
        ([[0.0, 1.0], [1.0, 2.0]], r"output_positions must be integer positions"),
    ],
    ids=["too-large", "below-minus-1", "batch", "float"],
)
def test_output_positions_out_of_range(model, input_ids, positions, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        model(input_ids, output_positions=torch.tensor(positions))


# --- labels ------------------------------------------------------------------------------------------------------


def test_labels_of_the_wrong_shape(model, input_ids) -> None:
    with pytest.raises(ValueError, match=r"labels have shape \[2, 10\] but input_ids have \[2, 20\].*one label per"):
        model(input_ids, labels=input_ids[:, :10])


def test_labels_of_the_wrong_shape_with_output_positions(model, input_ids) -> None:
    positions = torch.tensor([[1, 2, 3], [4, 5, -1]])
    with pytest.raises(ValueError, match=r"labels have shape \[2, 4\].*per input token \[2, 20\].*\[2, 3\]"):
        model(input_ids, output_positions=positions, labels=input_ids[:, :4])


def test_labels_outside_the_vocabulary(model, input_ids) -> None:
    labels = torch.full_like(input_ids, -100)
    labels[0, 3] = 300
    with pytest.raises(ValueError, match=r"labels contain ids outside the vocabulary \[0, 262\).*max 300.*-100"):
        model(input_ids, labels=labels)


def test_float_labels(model, input_ids) -> None:
    with pytest.raises(ValueError, match=r"labels must be an integer tensor.*float32"):
        model(input_ids, labels=input_ids.float())


# --- configuration -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"num_self_attention_qk_channels": 30}, r"num_self_attention_qk_channels \(30\) is not divisible by "
         r"num_self_attention_heads \(8\); use a multiple of 8"),
        ({"num_cross_attention_v_channels": 1000, "num_cross_attention_heads": 16},
         r"num_cross_attention_v_channels \(1000\) is not divisible by num_cross_attention_heads \(16\)"),
        ({"decoder_num_cross_attention_v_channels": 770}, r"decoder_num_cross_attention_v_channels \(770\)"),
        # a channel count left at None defaults to the input width, which must divide too
        ({"num_input_channels": 100, "num_cross_attention_qk_channels": None, "num_cross_attention_v_channels": None},
         r"num_cross_attention_qk_channels \(100\) is not divisible by num_cross_attention_heads \(8\)"),
    ],
    ids=["self-qk", "cross-v", "decoder-v", "default-width"],
)
def test_channels_not_divisible_by_heads_at_config_time(overrides: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        PerceiverConfig(**overrides)


def test_channels_not_divisible_by_heads_in_the_generic_parts() -> None:
    with pytest.raises(ValueError, match=r"qk channels \(8\) must be divisible by the number of heads \(3\)"):
        MultiHeadAttention(num_heads=3, num_q_input_channels=8, num_kv_input_channels=8)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"num_latents": 0}, r"num_latents must be a positive integer, got 0"),
        ({"hidden_act": "swish2"}, r"hidden_act must be one of .*gelu_pytorch_tanh.*got 'swish2'"),
        ({"num_self_attention_blocks": 0}, r"num_self_attention_blocks must be a positive integer, got 0"),
        ({"num_self_attention_layers_per_block": 0}, r"num_self_attention_layers_per_block must be a positive"),
        ({"decoder_num_cross_attention_heads": True}, r"decoder_num_cross_attention_heads must be a positive"),
        ({"dropout": 1.5}, r"dropout must be a number in \[0, 1\), got 1.5"),
        ({"layer_norm_eps": 0.0}, r"layer_norm_eps must be a positive number"),
    ],
)
def test_other_invalid_config_values(overrides: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        PerceiverConfig(**overrides)


def test_the_config_accepts_exactly_the_activations_the_core_implements() -> None:
    # the config imports nothing of the package, so it keeps its own list; it must name what the core builds
    assert sorted(HIDDEN_ACTIVATIONS) == sorted(ACTIVATIONS)


@pytest.mark.parametrize(("model_type", "hint"), [("bert", "AutoConfig"), ("perceiver", "perceiver-hf convert transformers")])
def test_config_of_another_model_type_is_refused(tmp_path, model_type: str, hint: str) -> None:
    (tmp_path / "config.json").write_text(f'{{"model_type": "{model_type}"}}')
    with pytest.raises(ValueError, match=rf"model type '{model_type}', not 'perceiver_io'.*{hint}"):
        PerceiverConfig.from_pretrained(tmp_path)
