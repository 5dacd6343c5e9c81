"""Each `PerceiverConfig` field is declared once (`config_field`): docstring, `train --help`, the value checks and
the fine-tuning list are read from that declaration."""

from __future__ import annotations

import dataclasses

import pytest
from transformers import PreTrainedConfig

from perceiver_hf.config_fields import declared_fields, document_fields, field_help, fine_tuning_fields
from perceiver_hf.configuration_perceiver import PerceiverConfig
from perceiver_hf.training.arguments import (
    FINE_TUNING_CONFIG_FIELDS,
    LINKED_CONFIG_FIELDS,
    PerceiverConfigArguments,
)


def test_every_field_the_config_adds_is_declared_with_help_and_a_check() -> None:
    base = {f.name for f in dataclasses.fields(PreTrainedConfig)}
    own = {f.name for f in dataclasses.fields(PerceiverConfig)} - base
    declared = {f.name for f in declared_fields(PerceiverConfig)}
    assert own <= declared  # a plain `name: int = 3` would carry no help, check or fine-tuning flag
    assert "num_latents" in declared and "pad_token_id" in declared and "tie_word_embeddings" in declared
    for field in declared_fields(PerceiverConfig):
        assert field.metadata["help"].strip() and callable(field.metadata["check"]), field.name


def test_the_docstring_lists_every_field_with_its_type_and_default() -> None:
    doc = PerceiverConfig.__doc__
    assert "{fields}" not in doc
    assert "        num_latents (`int`, defaults to 256): N, number of latent vectors." in doc
    assert "        num_cross_attention_qk_channels (`int`, *optional*, defaults to 256): " in doc
    assert '        hidden_act (`str`, defaults to `"gelu_pytorch_tanh"`): MLP activation' in doc
    assert "        cross_attention_residual (`bool`, defaults to `True`): " in doc
    assert "        dropout (`float`, defaults to 0.0): " in doc
    for name in field_help(PerceiverConfig):
        assert f"\n        {name} (`" in doc, name
    assert all(len(line) <= 120 for line in doc.splitlines())


def test_train_flags_show_the_same_help() -> None:
    help_texts = field_help(PerceiverConfig)
    flags = {f.name: f.metadata["help"] for f in dataclasses.fields(PerceiverConfigArguments)}
    assert set(flags) == set(help_texts) - set(LINKED_CONFIG_FIELDS)
    for name, text in flags.items():
        assert text.startswith(help_texts[name]), name
    assert "[float]" in flags["layer_norm_eps"] and "[int]" in flags["num_cross_attention_qk_channels"]


def test_the_fine_tuning_fields_are_those_that_leave_the_pretrained_part_as_it_is() -> None:
    """The list `perceiver-hf train` enforced before the declarations carried it (an independent record)."""
    assert set(FINE_TUNING_CONFIG_FIELDS) == set(fine_tuning_fields(PerceiverConfig)) == {
        "dropout", "initializer_range", "hidden_act", "layer_norm_eps", "classifier_num_queries",
        "classifier_num_query_channels", "classifier_num_cross_attention_heads",
        "classifier_num_cross_attention_qk_channels", "classifier_num_cross_attention_v_channels",
        "classifier_cross_attention_widening_factor", "classifier_cross_attention_residual",
    }  # fmt: skip


def test_a_class_without_the_marker_is_an_error() -> None:
    class Undocumented:
        """No field table here."""

    with pytest.raises(ValueError, match="no '{fields}' line"):
        document_fields(Undocumented)
