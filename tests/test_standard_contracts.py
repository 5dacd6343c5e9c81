"""The names and limits generic tools read (issue 17 item 5): the config's standard attribute names, and the
tokenizer saved with a model carrying the model's length so truncation=True fits the model."""

from __future__ import annotations

import pytest
import torch
from transformers import AutoConfig, AutoTokenizer, pipeline

from perceiver_hf import PerceiverConfig, PerceiverModel, pretrained_model_path

# distinct values, so a mapping to the wrong field shows
FIELDS = {"num_latent_channels": 48, "num_self_attention_heads": 3, "num_self_attention_layers_per_block": 5,
          "max_seq_len": 77, "num_input_channels": 24}
STANDARD = {"hidden_size": "num_input_channels", "num_attention_heads": "num_self_attention_heads",
            "num_hidden_layers": "num_self_attention_layers_per_block", "max_position_embeddings": "max_seq_len"}


def small_config(**overrides: int) -> PerceiverConfig:
    return PerceiverConfig(
        **{**FIELDS, **overrides}, num_latents=4, num_cross_attention_heads=2, num_cross_attention_qk_channels=24,
        num_cross_attention_v_channels=48, num_self_attention_qk_channels=48, num_self_attention_v_channels=48,
        decoder_num_cross_attention_heads=2, decoder_num_cross_attention_qk_channels=24,
        decoder_num_cross_attention_v_channels=24,
    )


@pytest.mark.parametrize(("standard", "field"), sorted(STANDARD.items()))
def test_standard_names_read_and_set_the_perceiver_fields(tmp_path, standard: str, field: str) -> None:
    config = small_config()
    assert getattr(config, standard) == FIELDS[field]
    setattr(config, standard, 2 * FIELDS[field])
    assert getattr(config, field) == 2 * FIELDS[field]
    config.save_pretrained(tmp_path)
    assert getattr(AutoConfig.from_pretrained(tmp_path), standard) == 2 * FIELDS[field]


def test_hidden_size_is_the_width_of_last_hidden_state() -> None:
    """What feature-extraction tools (sentence-transformers, a `Dense` layer after pooling) size their layers from:
    `PerceiverModel`'s per-position output, here C = 24 wide while the latents are D = 48 wide."""
    config = small_config()
    assert config.num_input_channels != config.num_latent_channels
    model = PerceiverModel(config).eval()
    with torch.no_grad():
        out = model(torch.randint(0, 262, (2, 9)), output_hidden_states=True)
    assert out.last_hidden_state.shape == (2, 9, config.hidden_size)
    # `hidden_states` are the latents [B, N, D]: one after the cross-attention and one per self-attention layer
    assert len(out.hidden_states) == 1 + config.num_hidden_layers
    assert {tuple(h.shape) for h in out.hidden_states} == {(2, config.num_latents, config.num_latent_channels)}


def test_the_shipped_tokenizer_truncates_to_the_model_length() -> None:
    folder = pretrained_model_path()
    max_seq_len = AutoConfig.from_pretrained(folder).max_seq_len
    tokenizer = AutoTokenizer.from_pretrained(folder)
    assert tokenizer.model_max_length == max_seq_len == 64
    long_text = "a sentence that goes on and on " * 10  # 310 bytes
    assert len(tokenizer(long_text, truncation=True).input_ids) == max_seq_len
    assert len(tokenizer(long_text).input_ids) == len(long_text.encode())


def test_fill_mask_pipeline_on_an_over_long_text_truncates_or_names_the_length() -> None:
    fill = pipeline("fill-mask", model=str(pretrained_model_path()))
    long_text = "The [MASK]at sat on the mat. " + "And then it went on and on. " * 10
    try:
        predictions = fill(long_text, top_k=2)
    except ValueError as error:
        assert "64" in str(error) and "truncat" in str(error)
    else:
        assert len(predictions) == 2 and all("token_str" in p for p in predictions)
