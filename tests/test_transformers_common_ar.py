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

The mixin finds a class's role by name in transformers' mapping tables; the two classes are listed there for the
duration of each test (`PerceiverARCommonTests.setUp`). `GenerationTesterMixin` is transformers' own only where
the fetched tests hold tests/generation/test_utils.py, which the sdist does not ship: `test_generation_tests_ran`
then reports a skip. Below the mixins: what their shape checks leave open (a prefix, causality, values).
"""

from __future__ import annotations

import unittest
from typing import Any
from unittest import mock

import torch
from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES, MODEL_MAPPING_NAMES

from helpers import transformers_test_standins
from helpers.transformers_common_skips import apply_skips
from helpers.transformers_common_parts import (
    ConfigTester,
    GenerationTesterMixin,
    ModelTesterMixin,
    ids_tensor,
    random_attention_mask,
)
from perceiver_hf import PerceiverARConfig, PerceiverARModel, PerceiverForCausalLM

STANDIN_MODULE = transformers_test_standins.__name__  # `GenerationTesterMixin` is the stand-in when from there


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
        roles = ((MODEL_MAPPING_NAMES, PerceiverARModel), (MODEL_FOR_CAUSAL_LM_MAPPING_NAMES, PerceiverForCausalLM))
        for table, model_class in roles:
            patcher = mock.patch.dict(table, {PerceiverARConfig.model_type: model_class.__name__})
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


def tiny_causal_lm() -> PerceiverForCausalLM:
    """The tester's model with max_latents=4, so that a 7-token input has a 3-token prefix; eager attention."""
    torch.manual_seed(0)
    config = PerceiverARModelTester(unittest.TestCase()).get_config()
    config.max_latents = 4
    return PerceiverForCausalLM._from_config(config, attn_implementation="eager").eval()


def test_hidden_states_and_attentions_with_a_prefix() -> None:
    # 7 tokens, 4 latents: hidden states are the 4 latents' [B, 4, C]; the cross-attention's keys are all 7
    # positions, the self-attention's the 4 latents; each query row is a distribution over the keys at or before
    # its own position (causal: latent i is position 3 + i)
    model = tiny_causal_lm()
    input_ids = torch.randint(3, 99, (2, 7), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        out = model(input_ids, output_hidden_states=True, output_attentions=True)
        plain = model(input_ids)
    torch.testing.assert_close(out.logits, plain.logits, rtol=0, atol=0)  # asking for outputs changes nothing
    assert [tuple(h.shape) for h in out.hidden_states] == [(2, 4, 32)] * 3  # embeddings, cross-, self-attention
    torch.testing.assert_close(model.lm_head(out.hidden_states[-1]), out.logits)  # the last is after output_norm
    cross, self_attention = out.attentions
    assert tuple(cross.shape) == (2, 4, 4, 7) and tuple(self_attention.shape) == (2, 4, 4, 4)
    for weights, first_key in ((cross, 3), (self_attention, 0)):
        torch.testing.assert_close(weights.sum(-1), torch.ones(weights.shape[:-1]))
        future = torch.ones(4, weights.shape[-1], dtype=torch.bool).triu(first_key + 1)  # keys after the query
        assert weights[..., future].abs().max() == 0


def test_inputs_embeds_equal_input_ids_with_a_prefix() -> None:
    # the mixin compares inputs_embeds with input_ids when every position is a latent; here 3 are prefix, and a
    # left-padded row shifts the positions the position embeddings are added at
    model = tiny_causal_lm()
    input_ids = torch.randint(3, 99, (2, 7), generator=torch.Generator().manual_seed(2))
    mask = torch.ones_like(input_ids)
    mask[1, :2] = 0
    with torch.no_grad():
        from_ids = model(input_ids, attention_mask=mask).logits
        from_embeds = model(inputs_embeds=model.get_input_embeddings()(input_ids), attention_mask=mask).logits
    assert from_ids.shape == (2, 4, 99)
    torch.testing.assert_close(from_embeds, from_ids, rtol=0, atol=0)


class PerceiverARConfigCommonTest(unittest.TestCase):
    """transformers' `ConfigTester` on `PerceiverARConfig` (the standard names resolve through `attribute_map`)."""

    def test_config(self) -> None:
        ConfigTester(self, config_class=PerceiverARConfig, num_channels=40, max_latents=12).run_common_tests()
