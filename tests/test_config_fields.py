"""`config_fields.FIELD_HELP` documents every `PerceiverConfig` field once: docstring and `train --help` show it."""

from __future__ import annotations

import dataclasses
import inspect

import pytest

from perceiver_hf.config_fields import FIELD_HELP, document_fields
from perceiver_hf.configuration_perceiver import PerceiverConfig
from perceiver_hf.training.arguments import LINKED_CONFIG_FIELDS, PerceiverConfigArguments


def test_every_field_has_help_and_no_help_is_stale() -> None:
    fields = set(inspect.signature(PerceiverConfig.__init__).parameters) - {"self", "kwargs"}
    assert set(FIELD_HELP) == fields


def test_the_docstring_lists_every_field_with_its_type_and_default() -> None:
    doc = PerceiverConfig.__doc__
    assert "{fields}" not in doc
    assert "        num_latents (`int`, defaults to 256): N, number of latent vectors." in doc
    assert "        num_cross_attention_qk_channels (`int`, *optional*, defaults to 256): " in doc
    assert '        hidden_act (`str`, defaults to `"gelu_pytorch_tanh"`): MLP activation' in doc
    assert "        cross_attention_residual (`bool`, defaults to `True`): " in doc
    for name in FIELD_HELP:
        assert f"\n        {name} (`" in doc, name
    assert all(len(line) <= 120 for line in doc.splitlines())


def test_train_flags_show_the_same_help() -> None:
    flags = {f.name: f.metadata["help"] for f in dataclasses.fields(PerceiverConfigArguments)}
    assert set(flags) == set(FIELD_HELP) - set(LINKED_CONFIG_FIELDS)
    for name, text in flags.items():
        assert text.startswith(FIELD_HELP[name]), name
    assert "[float]" in flags["layer_norm_eps"] and "[int]" in flags["num_cross_attention_qk_channels"]


def test_a_class_without_the_marker_is_an_error() -> None:
    class Undocumented:
        """No field table here."""

    with pytest.raises(ValueError, match="no '{fields}' line"):
        document_fields(Undocumented)
