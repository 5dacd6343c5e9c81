"""Hugging Face task heads on the Perceiver IO encoder: sequence and token classification.

    PerceiverForSequenceClassification: input ids [B, L] -> `PerceiverModel(add_decoder=False)` -> latents [B, N, D]
        -> `classifier`: a few learned queries cross-attend to the latents -> linear -> logits [B, num_labels]
    PerceiverForTokenClassification: input ids [B, L] -> `PerceiverModel` (encoder + the masked-LM decoder's
        per-position queries) -> [B, K, C] -> `classifier`: linear -> logits [B, K, num_labels]

Both reuse the masked-LM model's parts (the same `perceiver.encoder` keys, the token head also `perceiver.decoder`),
so `from_pretrained(<masked-LM folder>, num_labels=k)` loads everything but the `classifier.*` weights, which are
initialised and reported (see `PerceiverPreTrainedModel.from_pretrained`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import torch
from torch import nn
from transformers.loss.loss_utils import ForSequenceClassificationLoss
from transformers.modeling_outputs import SequenceClassifierOutput, TokenClassifierOutput

from .classification_labels import check_sequence_labels, check_token_labels
from .configuration_perceiver import PerceiverConfig
from .core.classification import ClassificationOutputAdapter
from .core.modules import PerceiverDecoder
from .input_validation import check_labels, sequence_shaped
from .model_parts import build_classifier
from .modeling_perceiver import PerceiverModel, PerceiverPreTrainedModel, masked_lm_loss

CLASSIFIER_PREFIX = "classifier."
"""The key prefix of both task heads: the only weights a masked-LM checkpoint does not provide."""


@dataclass
class PerceiverSequenceClassifierOutput(SequenceClassifierOutput):
    """`SequenceClassifierOutput` plus the encoder and decoder cross-attention probabilities (when requested)."""

    cross_attentions: Optional[tuple[torch.Tensor, ...]] = None


@dataclass
class PerceiverTokenClassifierOutput(TokenClassifierOutput):
    """`TokenClassifierOutput` plus the encoder and decoder cross-attention probabilities (when requested)."""

    cross_attentions: Optional[tuple[torch.Tensor, ...]] = None


class PerceiverForSequenceClassification(PerceiverPreTrainedModel):
    """Perceiver IO sequence classifier: `config.classifier_num_queries` learned queries decode the latents."""

    _task_head_prefixes = (CLASSIFIER_PREFIX,)
    # a masked-LM checkpoint's decoder and head are not used
    _keys_to_ignore_on_load_unexpected = [r"^perceiver\.decoder\.", r"^lm_head\."]
    # The loss is the batch mean (forward takes no `num_items_in_batch`): without this, `Trainer` (which looks
    # for **kwargs in forward) would multiply it by the number of processes in every distributed run.
    accepts_loss_kwargs = False

    def __init__(self, config: PerceiverConfig) -> None:
        super().__init__(config)
        self.num_labels = config.num_labels
        self.perceiver = PerceiverModel(config, add_decoder=False)  # the encoder: its output is the latents
        self.classifier: PerceiverDecoder = build_classifier(config)
        self.post_init()

    def get_input_embeddings(self) -> nn.Embedding:
        return self.perceiver.get_input_embeddings()

    def set_input_embeddings(self, value: nn.Embedding) -> None:
        self.perceiver.set_input_embeddings(value)

    def forward(
        self,
        input_ids: Optional[torch.Tensor] = None,
        attention_mask: Optional[torch.Tensor] = None,
        labels: Optional[torch.Tensor] = None,
        inputs_embeds: Optional[torch.Tensor] = None,
        output_attentions: Optional[bool] = None,
        output_hidden_states: Optional[bool] = None,
        return_dict: Optional[bool] = None,
        **kwargs: Any,
    ) -> PerceiverSequenceClassifierOutput | tuple:
        """Logits [B, num_labels] of `input_ids` [B, L] (padding, `attention_mask` 0, is never attended to).

        Args:
            input_ids, attention_mask, inputs_embeds, output_attentions, output_hidden_states, return_dict: as in
                `PerceiverModel.forward`.
            labels: class ids [B] (single-label), floats [B] (regression, `num_labels` 1) or multi-hot floats
                [B, num_labels] (multi-label); the loss is transformers' for `config.problem_type` (inferred from
                `num_labels` and the labels' dtype when unset, as transformers does).
        """
        output_attentions = self.config.output_attentions if output_attentions is None else output_attentions
        return_dict = self.config.return_dict if return_dict is None else return_dict
        encoded = self.perceiver(
            input_ids,
            attention_mask=attention_mask,
            inputs_embeds=inputs_embeds,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
            return_dict=True,
        )  # last_hidden_state: latents [B, N, D]
        attention = self.attention_function()
        logits, decoder_weights = self.classifier(
            encoded.last_hidden_state, return_weights=output_attentions, attention=attention
        )  # [B, num_labels]
        loss = None
        if labels is not None:
            check_sequence_labels(labels, logits.shape[0], self.num_labels)
            loss = ForSequenceClassificationLoss(labels, logits, self.config)
        output = PerceiverSequenceClassifierOutput(
            loss=loss,
            logits=logits,
            hidden_states=encoded.hidden_states,
            attentions=encoded.attentions,
            cross_attentions=encoded.cross_attentions + (decoder_weights,) if output_attentions else None,
        )
        return output if return_dict else output.to_tuple()


class PerceiverForTokenClassification(PerceiverPreTrainedModel):
    """Perceiver IO token classifier: the masked-LM decoder's query per position, then a linear classifier."""

    _task_head_prefixes = (CLASSIFIER_PREFIX,)

    def __init__(self, config: PerceiverConfig) -> None:
        super().__init__(config)
        self.num_labels = config.num_labels
        self.perceiver = PerceiverModel(config)
        self.classifier = ClassificationOutputAdapter(config.num_labels, config.num_input_channels, pool_queries=False)
        self.post_init()

    def get_input_embeddings(self) -> nn.Embedding:
        return self.perceiver.get_input_embeddings()

    def set_input_embeddings(self, value: nn.Embedding) -> None:
        self.perceiver.set_input_embeddings(value)

    def forward(
        self,
        input_ids: Optional[torch.Tensor] = None,
        attention_mask: Optional[torch.Tensor] = None,
        output_positions: Optional[torch.Tensor] = None,
        labels: Optional[torch.Tensor] = None,
        inputs_embeds: Optional[torch.Tensor] = None,
        output_attentions: Optional[bool] = None,
        output_hidden_states: Optional[bool] = None,
        return_dict: Optional[bool] = None,
        num_items_in_batch: Optional[int | torch.Tensor] = None,
        **kwargs: Any,
    ) -> PerceiverTokenClassifierOutput | tuple:
        """Logits [B, K, num_labels] at every position (K = L) or only at `output_positions` [B, K].

        Args:
            input_ids, attention_mask, output_positions, inputs_embeds, output_attentions, output_hidden_states,
                return_dict: as in `PerceiverModel.forward` (-1 in `output_positions` marks an unused slot).
            labels: class ids per token [B, L] (gathered at `output_positions` if given) or per decoded position
                [B, K]; -100 and padded positions (attention_mask 0) are not scored.
            num_items_in_batch: labelled tokens of the whole accumulated batch (what `Trainer` passes).
        """
        return_dict = self.config.return_dict if return_dict is None else return_dict
        outputs = self.perceiver(
            input_ids,
            attention_mask=attention_mask,
            output_positions=output_positions,
            inputs_embeds=inputs_embeds,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
            return_dict=True,
        )
        logits = self.classifier(outputs.last_hidden_state)  # [B, K, num_labels]
        loss = None
        if labels is not None:
            labels = check_labels(labels, sequence_shaped(input_ids, inputs_embeds), output_positions)  # [B, K]
            query_mask = attention_mask
            if output_positions is not None and attention_mask is not None:
                query_mask = attention_mask.gather(1, output_positions.clamp(min=0))  # [B, K]
            labels = check_token_labels(labels, self.num_labels, query_mask)
            loss = masked_lm_loss(logits, labels, num_items_in_batch)
        output = PerceiverTokenClassifierOutput(
            loss=loss,
            logits=logits,
            hidden_states=outputs.hidden_states,
            attentions=outputs.attentions,
            cross_attentions=outputs.cross_attentions,
        )
        return output if return_dict else output.to_tuple()


__all__ = [
    "PerceiverForSequenceClassification",
    "PerceiverForTokenClassification",
    "PerceiverSequenceClassifierOutput",
    "PerceiverTokenClassifierOutput",
]
