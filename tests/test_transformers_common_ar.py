"""transformers' own common tests (`ModelTesterMixin`, `ConfigTester`) on the Perceiver AR classes.

As tests/test_transformers_common.py does for the Perceiver IO classes: the test files come from the installed
transformers version's sdist (`scripts/fetch_transformers_tests.py`); `PerceiverARModelTester` plays the role of
transformers' `LlamaModelTester`, a tiny config and random inputs.

Perceiver AR predicts at its latent positions only, the last N = min(seq_len, max_latents) of the input: the
tester's `seq_length` (7) is at most `max_latents` (8), so every position is a latent and the shapes the mixin
expects of a causal LM hold as they are: logits [B, L, V], hidden states [B, L, C], attentions [B, H, L, L].
`num_hidden_layers` is the config's: the prefix cross-attention plus the self-attention layers (one cache layer
each); `hidden_states` are the latents' embeddings, then the output of each of those layers (the last one after
`output_norm`, transformers' convention). Tests that do not apply are in
tests/helpers/transformers_common_skips.py, the one list, with reasons.
"""

from __future__ import annotations

import unittest
from typing import Any
from unittest import mock

import torch
from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES, MODEL_MAPPING_NAMES

from helpers import transformers_test_standins
from helpers.transformers_common_skips import apply_skips
from helpers.transformers_tests import load_common_test_module
from perceiver_hf import PerceiverARConfig, PerceiverARModel, PerceiverForCausalLM

modeling_common = load_common_test_module("test_modeling_common")
configuration_common = load_common_test_module("test_configuration_common")
ModelTesterMixin = modeling_common.ModelTesterMixin
ConfigTester = configuration_common.ConfigTester
# the class `test_generation_tester_mixin_inheritance` checks for: transformers' own where the fetched tests have
# it, else the stand-in (the sdist lacks tests/generation/; see `test_generation_tests_ran`)
GenerationTesterMixin = modeling_common.GenerationTesterMixin
STANDIN_MODULE = transformers_test_standins.__name__
ids_tensor = modeling_common.ids_tensor
random_attention_mask = modeling_common.random_attention_mask


class PerceiverARModelTester:
    """Tiny `PerceiverARConfig`s and random inputs for the common tests (transformers' model-tester pattern)."""

    def __init__(
        self,
        parent: unittest.TestCase,
        batch_size: int = 13,
        seq_length: int = 7,
        is_training: bool = True,
        use_input_mask: bool = True,
        use_labels: bool = True,
        vocab_size: int = 99,
        max_seq_len: int = 16,
        max_latents: int = 8,
        hidden_size: int = 32,
        num_attention_heads: int = 4,
        num_self_attention_layers: int = 1,
    ) -> None:
        self.parent = parent
        self.batch_size = batch_size
        self.seq_length = seq_length  # <= max_latents: every position is a latent, so logits cover every position
        self.is_training = is_training
        self.use_input_mask = use_input_mask
        self.use_labels = use_labels
        self.vocab_size = vocab_size
        self.max_seq_len = max_seq_len
        self.max_latents = max_latents
        self.hidden_size = hidden_size
        self.num_attention_heads = num_attention_heads
        self.num_self_attention_layers = num_self_attention_layers
        self.num_hidden_layers = 1 + num_self_attention_layers  # the cross-attention and the self-attention layers
        self.pad_token_id, self.bos_token_id, self.eos_token_id = 0, 1, 2

    def get_config(self) -> PerceiverARConfig:
        """The tiny config: C=32 channels, 4 heads, a cross-attention and a self-attention layer (the mixin wants at
        most 2 layers)."""
        return PerceiverARConfig(
            vocab_size=self.vocab_size,
            max_seq_len=self.max_seq_len,
            max_latents=self.max_latents,
            num_channels=self.hidden_size,
            num_heads=self.num_attention_heads,
            num_self_attention_layers=self.num_self_attention_layers,
            self_attention_widening_factor=2,
            cross_attention_widening_factor=2,
            output_norm=True,
            pad_token_id=self.pad_token_id,
            bos_token_id=self.bos_token_id,
            eos_token_id=self.eos_token_id,
        )

    def prepare_config_and_inputs(self) -> tuple[PerceiverARConfig, torch.Tensor, Any, Any]:
        """(config, input_ids [B, L], attention_mask [B, L] or None, labels [B, L] or None)."""
        input_ids = ids_tensor([self.batch_size, self.seq_length], self.vocab_size)
        input_mask = random_attention_mask([self.batch_size, self.seq_length]) if self.use_input_mask else None
        labels = ids_tensor([self.batch_size, self.seq_length], self.vocab_size) if self.use_labels else None
        return self.get_config(), input_ids, input_mask, labels

    def prepare_config_and_inputs_for_common(self) -> tuple[PerceiverARConfig, dict[str, torch.Tensor]]:
        """(config, {"input_ids", "attention_mask"}): what the mixin's tests feed every class."""
        config, input_ids, input_mask, _ = self.prepare_config_and_inputs()
        return config, {"input_ids": input_ids, "attention_mask": input_mask}

    def create_and_check_model(self, config: PerceiverARConfig, input_ids: torch.Tensor, input_mask: Any, _: Any) -> None:
        model = PerceiverARModel(config).eval()
        result = model(input_ids, attention_mask=input_mask)
        expected = (self.batch_size, self.seq_length, self.hidden_size)  # every position a latent
        self.parent.assertEqual(result.last_hidden_state.shape, expected)

    def create_and_check_for_causal_lm(
        self, config: PerceiverARConfig, input_ids: torch.Tensor, input_mask: Any, labels: Any
    ) -> None:
        model = PerceiverForCausalLM(config).eval()
        result = model(input_ids, attention_mask=input_mask, labels=labels)
        self.parent.assertEqual(result.logits.shape, (self.batch_size, self.seq_length, self.vocab_size))
        self.parent.assertEqual(result.loss.shape, ())


class PerceiverARCommonTests(ModelTesterMixin):
    """`ModelTesterMixin` on one Perceiver AR class; subclasses name it."""

    all_model_classes: tuple[type, ...] = ()
    # opted in (transformers runs it only for models added after 2022) so that it is listed with its real reason
    test_can_init_all_missing_weights_before_2023 = True

    def setUp(self) -> None:
        self.model_tester = PerceiverARModelTester(self)
        # the mixin finds a class's role (base model, causal LM: which labels it takes, whether it trains, whether
        # its loss shifts the labels) by name in transformers' own mapping tables, where a model registered with
        # `AutoModel.register` is not: listed there for the duration of each test, as a model inside transformers is
        for table, names in ((MODEL_MAPPING_NAMES, "PerceiverARModel"), (MODEL_FOR_CAUSAL_LM_MAPPING_NAMES, "PerceiverForCausalLM")):
            patcher = mock.patch.dict(table, {PerceiverARConfig.model_type: names})
            patcher.start()
            self.addCleanup(patcher.stop)


@apply_skips
class PerceiverARModelCommonTest(PerceiverARCommonTests, unittest.TestCase):
    all_model_classes = (PerceiverARModel,)

    def test_model(self) -> None:
        self.model_tester.create_and_check_model(*self.model_tester.prepare_config_and_inputs())


@apply_skips
class PerceiverForCausalLMCommonTest(PerceiverARCommonTests, GenerationTesterMixin, unittest.TestCase):
    all_model_classes = (PerceiverForCausalLM,)

    def test_for_causal_lm(self) -> None:
        self.model_tester.create_and_check_for_causal_lm(*self.model_tester.prepare_config_and_inputs())

    def test_generation_tests_ran(self) -> None:
        """`GenerationTesterMixin`'s own generate tests run only where the fetched transformers tests hold its
        module: the sdist ships no tests/generation/, and the stand-in (helpers/transformers_test_standins.py)
        has no tests. Reported as a skip, never as a pass."""
        if GenerationTesterMixin.__module__ == STANDIN_MODULE:
            self.skipTest(
                "GenerationTesterMixin is the stand-in: transformers' sdist ships no tests/generation/test_utils.py, "
                "so its generate tests did not run (generation is tested in tests/test_perceiver_ar*.py)"
            )

    def test_for_causal_lm(self) -> None:
        self.model_tester.create_and_check_for_causal_lm(*self.model_tester.prepare_config_and_inputs())


class PerceiverARConfigCommonTest(unittest.TestCase):
    """transformers' `ConfigTester` on `PerceiverARConfig` (the standard names resolve through `attribute_map`)."""

    def test_config(self) -> None:
        ConfigTester(self, config_class=PerceiverARConfig, num_channels=40, max_latents=12).run_common_tests()
