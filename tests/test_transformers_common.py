"""transformers' own common tests (`ModelTesterMixin`, `ConfigTester`) on the four Perceiver IO classes.

The test files come from the installed transformers version's sdist (`scripts/fetch_transformers_tests.py`, run
by `make test`); `PerceiverModelTester` plays the role of transformers' `BertModelTester`: a tiny config and
random inputs. Perceiver-specific overrides, as in transformers' own Perceiver tests: `hidden_states` are the
latents [B, N, D] (after the cross-attention and after each self-attention layer), not per-token states;
`attentions` are the latent self-attentions [B, H, N, N]; `cross_attentions` are the encoder's [B, H, N, L] and
the decoder's [B, H, K, N] (K decoded positions, or the classifier's queries). Tests that do not apply are in
tests/helpers/transformers_common_skips.py, the one list, with reasons.
"""

from __future__ import annotations

import copy
import unittest
from typing import Any

import pytest
import torch

from helpers.transformers_common_skips import apply_skips, unmatched_skips
from helpers.transformers_common_parts import ConfigTester, ModelTesterMixin, ids_tensor, random_attention_mask
from helpers.transformers_tests import unavailable_reason
from perceiver_hf import (
    PerceiverConfig,
    PerceiverForMaskedLM,
    PerceiverForSequenceClassification,
    PerceiverForTokenClassification,
    PerceiverModel,
)



class PerceiverModelTester:
    """Tiny `PerceiverConfig`s and random inputs for the common tests (transformers' model-tester pattern)."""

    def __init__(
        self,
        parent: unittest.TestCase,
        batch_size: int = 13,
        seq_length: int = 7,
        is_training: bool = True,
        use_input_mask: bool = True,
        use_labels: bool = True,
        vocab_size: int = 99,
        max_seq_len: int = 32,
        num_input_channels: int = 32,
        num_latents: int = 10,
        num_latent_channels: int = 48,
        num_cross_attention_heads: int = 2,
        num_self_attention_heads: int = 4,
        num_hidden_layers: int = 2,
        decoder_num_cross_attention_heads: int = 2,
        classifier_num_queries: int = 1,
        classifier_num_cross_attention_heads: int = 2,
        hidden_act: str = "gelu",
        dropout: float = 0.1,
        initializer_range: float = 0.02,
        num_labels: int = 3,
    ) -> None:
        self.parent = parent
        self.batch_size = batch_size
        self.seq_length = seq_length
        self.is_training = is_training
        self.use_input_mask = use_input_mask
        self.use_labels = use_labels
        self.vocab_size = vocab_size
        self.max_seq_len = max_seq_len
        self.num_input_channels = num_input_channels
        self.num_latents = num_latents
        self.num_latent_channels = num_latent_channels
        self.num_cross_attention_heads = num_cross_attention_heads
        self.num_self_attention_heads = num_self_attention_heads
        self.num_hidden_layers = num_hidden_layers  # self-attention layers (one block): what the mixin reads
        self.decoder_num_cross_attention_heads = decoder_num_cross_attention_heads
        self.classifier_num_queries = classifier_num_queries
        self.classifier_num_cross_attention_heads = classifier_num_cross_attention_heads
        self.hidden_act = hidden_act
        self.dropout = dropout
        self.initializer_range = initializer_range
        self.num_labels = num_labels

    def get_config(self) -> PerceiverConfig:
        """The tiny config: C=32 input channels, N=10 latents of D=48, 2 self-attention layers."""
        return PerceiverConfig(
            vocab_size=self.vocab_size,
            max_seq_len=self.max_seq_len,
            num_input_channels=self.num_input_channels,
            num_latents=self.num_latents,
            num_latent_channels=self.num_latent_channels,
            num_cross_attention_heads=self.num_cross_attention_heads,
            num_cross_attention_qk_channels=None,
            num_cross_attention_v_channels=None,
            num_self_attention_heads=self.num_self_attention_heads,
            num_self_attention_qk_channels=None,
            num_self_attention_v_channels=None,
            num_self_attention_layers_per_block=self.num_hidden_layers,
            decoder_num_cross_attention_heads=self.decoder_num_cross_attention_heads,
            decoder_num_cross_attention_qk_channels=None,
            decoder_num_cross_attention_v_channels=None,
            classifier_num_queries=self.classifier_num_queries,
            classifier_num_cross_attention_heads=self.classifier_num_cross_attention_heads,
            hidden_act=self.hidden_act,
            dropout=self.dropout,
            initializer_range=self.initializer_range,
            num_labels=self.num_labels,
        )

    def prepare_config_and_inputs(self) -> tuple[PerceiverConfig, torch.Tensor, Any, Any, Any]:
        """(config, input_ids [B, L], attention_mask [B, L] or None, sequence labels [B], token labels [B, L])."""
        input_ids = ids_tensor([self.batch_size, self.seq_length], self.vocab_size)
        input_mask = random_attention_mask([self.batch_size, self.seq_length]) if self.use_input_mask else None
        sequence_labels = token_labels = None
        if self.use_labels:
            sequence_labels = ids_tensor([self.batch_size], self.num_labels)
            token_labels = ids_tensor([self.batch_size, self.seq_length], self.num_labels)
        return self.get_config(), input_ids, input_mask, sequence_labels, token_labels

    def prepare_config_and_inputs_for_common(self) -> tuple[PerceiverConfig, dict[str, torch.Tensor]]:
        """(config, {"input_ids", "attention_mask"}): what the mixin's tests feed every class."""
        config, input_ids, input_mask, _, _ = self.prepare_config_and_inputs()
        return config, {"input_ids": input_ids, "attention_mask": input_mask}

    def prepare_config_and_inputs_for_model_class(
        self, model_class: type
    ) -> tuple[PerceiverConfig, dict[str, torch.Tensor]]:
        """What the mixin asks of a tester whose model file is modeling_perceiver.py (transformers' Perceiver takes
        other inputs per class); every class here takes the same token ids."""
        return self.prepare_config_and_inputs_for_common()

    def create_and_check_model(self, config: PerceiverConfig, input_ids: torch.Tensor, input_mask: Any, *_: Any) -> None:
        model = PerceiverModel(config).eval()
        result = model(input_ids, attention_mask=input_mask)
        # per-position features are C wide; L positions decoded
        expected = (self.batch_size, self.seq_length, self.num_input_channels)
        self.parent.assertEqual(result.last_hidden_state.shape, expected)

    def create_and_check_for_masked_lm(
        self, config: PerceiverConfig, input_ids: torch.Tensor, input_mask: Any, _: Any, token_labels: Any
    ) -> None:
        model = PerceiverForMaskedLM(config).eval()
        result = model(input_ids, attention_mask=input_mask, labels=token_labels)
        self.parent.assertEqual(result.logits.shape, (self.batch_size, self.seq_length, self.vocab_size))
        self.parent.assertEqual(result.loss.shape, ())

    def create_and_check_for_sequence_classification(
        self, config: PerceiverConfig, input_ids: torch.Tensor, input_mask: Any, sequence_labels: Any, _: Any
    ) -> None:
        model = PerceiverForSequenceClassification(config).eval()
        result = model(input_ids, attention_mask=input_mask, labels=sequence_labels)
        self.parent.assertEqual(result.logits.shape, (self.batch_size, self.num_labels))
        self.parent.assertEqual(result.loss.shape, ())

    def create_and_check_for_token_classification(
        self, config: PerceiverConfig, input_ids: torch.Tensor, input_mask: Any, _: Any, token_labels: Any
    ) -> None:
        model = PerceiverForTokenClassification(config).eval()
        result = model(input_ids, attention_mask=input_mask, labels=token_labels)
        self.parent.assertEqual(result.logits.shape, (self.batch_size, self.seq_length, self.num_labels))
        self.parent.assertEqual(result.loss.shape, ())


class PerceiverCommonTests(ModelTesterMixin):
    """`ModelTesterMixin` with the Perceiver's output shapes; subclasses name the one model class they test."""

    all_model_classes: tuple[type, ...] = ()
    # transformers runs `test_can_init_all_missing_weights` only for models it added after 2022 (read from a
    # copyright line) or opted in: opted in, so that it is listed in the skips with its real reason
    test_can_init_all_missing_weights_before_2023 = True

    def setUp(self) -> None:
        self.model_tester = PerceiverModelTester(self)

    def _prepare_for_class(
        self, inputs_dict: dict[str, Any], model_class: type, return_labels: bool = False
    ) -> dict[str, Any]:
        """Inputs for `model_class`, with labels of its task when `return_labels` (every head takes `labels`)."""
        inputs_dict = copy.deepcopy(inputs_dict)
        if return_labels:
            tester = self.model_tester
            if model_class is PerceiverForSequenceClassification:
                inputs_dict["labels"] = torch.zeros(tester.batch_size, dtype=torch.long)
            elif model_class in (PerceiverForMaskedLM, PerceiverForTokenClassification):
                inputs_dict["labels"] = torch.zeros((tester.batch_size, tester.seq_length), dtype=torch.long)
        return inputs_dict

    def _decoder_queries_and_heads(self, model_class: type) -> tuple[int, int]:
        """(K, heads) of the last cross-attention: the classifier's queries, or one query per input position."""
        tester = self.model_tester
        if model_class is PerceiverForSequenceClassification:
            return tester.classifier_num_queries, tester.classifier_num_cross_attention_heads
        return tester.seq_length, tester.decoder_num_cross_attention_heads

    def _check_attentions(self, outputs: Any, model_class: type) -> None:
        tester = self.model_tester
        self.assertEqual(len(outputs.attentions), tester.num_hidden_layers)
        for attention in outputs.attentions:  # latent self-attention [B, H, N, N]
            expected = [tester.batch_size, tester.num_self_attention_heads, tester.num_latents, tester.num_latents]
            self.assertListEqual(list(attention.shape), expected)
        encoder_cross, decoder_cross = outputs.cross_attentions  # one encoder cross-attention, then the decoder's
        expected = [tester.batch_size, tester.num_cross_attention_heads, tester.num_latents, tester.seq_length]
        self.assertListEqual(list(encoder_cross.shape), expected)  # latents attend to the inputs
        num_queries, heads = self._decoder_queries_and_heads(model_class)
        self.assertListEqual(list(decoder_cross.shape), [tester.batch_size, heads, num_queries, tester.num_latents])

    def test_attention_outputs(self) -> None:
        """The mixin's test with Perceiver shapes: per argument and per config, attentions last in the tuple."""
        config, inputs_dict = self.model_tester.prepare_config_and_inputs_for_common()
        for model_class in self.all_model_classes:
            model = model_class._from_config(copy.deepcopy(config), attn_implementation="eager").eval()
            with torch.no_grad():
                outputs = model(**self._prepare_for_class(inputs_dict, model_class), output_attentions=True)
            self._check_attentions(outputs, model_class)

            config_with_attentions = copy.deepcopy(config)
            config_with_attentions.output_attentions = True
            model = model_class._from_config(config_with_attentions, attn_implementation="eager").eval()
            with torch.no_grad():
                outputs = model(**self._prepare_for_class(inputs_dict, model_class))
            self._check_attentions(outputs, model_class)
            out_len = len(outputs)

            with torch.no_grad():
                outputs = model(**self._prepare_for_class(inputs_dict, model_class), output_hidden_states=True)
            self.assertEqual(len(outputs), out_len + 1)  # hidden_states come before the attentions
            self._check_attentions(outputs, model_class)

    def test_hidden_states_output(self) -> None:
        """The mixin's test with Perceiver shapes: latents [B, N, D] after the cross-attention and each layer."""
        tester = self.model_tester
        config, inputs_dict = tester.prepare_config_and_inputs_for_common()
        expected_shape = [tester.batch_size, tester.num_latents, tester.num_latent_channels]
        for model_class in self.all_model_classes:
            config_with_hidden_states = copy.deepcopy(config)
            config_with_hidden_states.output_hidden_states = True
            for model, kwargs in (
                (model_class(copy.deepcopy(config)), {"output_hidden_states": True}),
                (model_class(config_with_hidden_states), {}),
            ):
                with torch.no_grad():
                    outputs = model.eval()(**self._prepare_for_class(inputs_dict, model_class), **kwargs)
                self.assertEqual(len(outputs.hidden_states), tester.num_hidden_layers + 1)
                for hidden_state in outputs.hidden_states:
                    self.assertListEqual(list(hidden_state.shape), expected_shape)


@apply_skips
class PerceiverModelCommonTest(PerceiverCommonTests, unittest.TestCase):
    all_model_classes = (PerceiverModel,)

    def test_model(self) -> None:
        self.model_tester.create_and_check_model(*self.model_tester.prepare_config_and_inputs())


@apply_skips
class PerceiverForMaskedLMCommonTest(PerceiverCommonTests, unittest.TestCase):
    all_model_classes = (PerceiverForMaskedLM,)

    def test_for_masked_lm(self) -> None:
        self.model_tester.create_and_check_for_masked_lm(*self.model_tester.prepare_config_and_inputs())


@apply_skips
class PerceiverForSequenceClassificationCommonTest(PerceiverCommonTests, unittest.TestCase):
    all_model_classes = (PerceiverForSequenceClassification,)

    def test_for_sequence_classification(self) -> None:
        self.model_tester.create_and_check_for_sequence_classification(*self.model_tester.prepare_config_and_inputs())


@apply_skips
class PerceiverForTokenClassificationCommonTest(PerceiverCommonTests, unittest.TestCase):
    all_model_classes = (PerceiverForTokenClassification,)

    def test_for_token_classification(self) -> None:
        self.model_tester.create_and_check_for_token_classification(*self.model_tester.prepare_config_and_inputs())


class PerceiverConfigCommonTest(unittest.TestCase):
    """transformers' `ConfigTester` on `PerceiverConfig` (the standard names resolve through `attribute_map`)."""

    def test_config(self) -> None:
        # transformers' convention for configs whose standard names are aliases (GPT-2's `n_embd=37`): pass real
        # fields, with values no default has; `hidden_size` etc. are checked as properties through `attribute_map`
        ConfigTester(self, config_class=PerceiverConfig, num_input_channels=40, num_latents=12).run_common_tests()


def test_every_listed_skip_names_a_common_test() -> None:
    """A skip whose test no longer exists in the installed transformers is stale: remove it."""
    if (reason := unavailable_reason("test_modeling_common")) is not None:
        pytest.fail(reason, pytrace=False)
    test_names = [name for name in dir(PerceiverModelCommonTest) if name.startswith("test_")]
    assert unmatched_skips(test_names) == []
