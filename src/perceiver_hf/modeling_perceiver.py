"""Hugging Face wrappers: read a `PerceiverConfig`, build the core modules, speak transformers' contracts.

    PerceiverModel:        input ids [B, L] (or inputs_embeds [B, L, C]) -> encoder -> latents [B, N, D]
                           -> decoder -> [B, K, C] (`add_decoder=False`: the latents are the output)
    PerceiverForMaskedLM:  PerceiverModel -> lm_head, an nn.Linear tied to the input embedding -> logits [B, K, V]

K = L by default (every input position is decoded); `output_positions` [B, K] decodes only chosen positions.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, Optional

import torch
import torch.nn.functional as F
from torch import nn
from transformers import PreTrainedModel
from transformers import initialization as init
from transformers.modeling_outputs import BaseModelOutputWithCrossAttentions, MaskedLMOutput

from .configuration_perceiver import PerceiverConfig
from .core.adapters import TrainableQueryProvider
from .core.attention import AttentionFunction, default_attention_forward, eager_attention_forward
from .core.modules import PerceiverDecoder, PerceiverEncoder
from .loading_checks import check_pretrained_arguments, readable_weights
from .model_parts import build_decoder, build_encoder
from .model_size import check_model_size, num_parameters_on_meta
from .strict_loading import load_strictly
from .input_validation import check_labels, check_model_inputs, sequence_shaped
from .text.adapters import TextInputAdapter


@dataclass
class PerceiverMaskedLMOutput(MaskedLMOutput):
    """`MaskedLMOutput` plus the encoder and decoder cross-attention probabilities (when requested)."""

    cross_attentions: Optional[tuple[torch.Tensor, ...]] = None


# The attention implementations a Perceiver IO model runs (`config._attn_implementation`), each a function of
# `core.attention`: "sdpa" (transformers' default) is `default_attention_forward`, torch's SDPA except on CPU for
# heads whose q/k and v widths differ, where torch has only its math fallback and the explicit computation is the
# same math, faster; "eager" is the explicit computation, which also returns the attention probabilities.
ATTENTION_FUNCTIONS: dict[str, AttentionFunction] = {"sdpa": default_attention_forward, "eager": eager_attention_forward}

class PerceiverPreTrainedModel(PreTrainedModel):
    """Weight initialisation and the transformers class attributes shared by all Perceiver IO models."""

    config_class = PerceiverConfig
    base_model_prefix = "perceiver"
    main_input_name = "input_ids"
    supports_gradient_checkpointing = True
    _no_split_modules = ["CrossAttentionLayer", "SelfAttentionLayer"]
    _supports_sdpa = True
    _task_head_prefixes: tuple[str, ...] = ()  # a head a checkpoint may lack (see `from_pretrained`)

    def __init__(self, config: PerceiverConfig, *inputs: Any, **kwargs: Any) -> None:
        # before any parameter is allocated: refuse a model larger than this machine (see `model_size`)
        check_model_size(lambda: type(self).estimated_num_parameters(config))
        super().__init__(config, *inputs, **kwargs)

    @classmethod
    def estimated_num_parameters(cls, config: PerceiverConfig) -> int:
        """The parameter count of `cls(config)`, counted on that model built on the meta device (nothing is
        allocated; tied weights count once). It is built from a copy of `config`: building a model may change its
        config (transformers' `post_init` consumes `config.gradient_checkpointing`)."""
        return num_parameters_on_meta(lambda: cls(copy.deepcopy(config)))

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path: Any, *model_args: Any, **kwargs: Any) -> Any:
        """`PreTrainedModel.from_pretrained`, with clear errors for a missing config.json, a config of another
        model type, a device map that splits tied weights and an unreadable safetensors file (see
        `perceiver_hf.loading_checks`). Missing, unexpected or mis-shaped weights raise `WeightsMismatchError`
        (see `perceiver_hf.strict_loading`); a task class lists the key prefixes of its head in
        `_task_head_prefixes`: a checkpoint without that head (a masked-LM one) may lack exactly those weights,
        which are then initialised and reported."""
        check_pretrained_arguments(cls, pretrained_model_name_or_path, kwargs)
        with readable_weights(pretrained_model_name_or_path, kwargs):
            return load_strictly(
                super().from_pretrained, cls.__name__, pretrained_model_name_or_path, *model_args,
                new_head=cls._task_head_prefixes, **kwargs,
            )

    def get_correct_attn_implementation(self, requested_attention: Optional[str], is_init_check: bool = False) -> str:
        """transformers' choice and checks (default "sdpa"; an unknown name, flash or flex attention refused with
        transformers' message), limited to the implementations in `ATTENTION_FUNCTIONS`. The forward pass reads
        `config._attn_implementation`, so `from_pretrained(..., attn_implementation=...)` and
        `set_attn_implementation` switch it."""
        implementation = super().get_correct_attn_implementation(requested_attention, is_init_check)
        if implementation not in ATTENTION_FUNCTIONS:
            raise ValueError(
                f"Specified `attn_implementation={implementation!r}` is not supported by Perceiver IO models; "
                f"use one of {sorted(ATTENTION_FUNCTIONS)}."
            )
        return implementation

    def attention_function(self) -> AttentionFunction:
        """The attention function `config._attn_implementation` names (passed to the core modules' forward)."""
        return ATTENTION_FUNCTIONS[self.config._attn_implementation]

    def gather_sharded_state_dict_for_save(
        self, model_to_save: Any, state_dict: dict, *args: Any, **kwargs: Any
    ) -> dict:
        """transformers' gather of FSDP/TP-sharded weights (`save_pretrained` of a sharded model), with each tied
        weight made one tensor again: the gather copies them apart, and `save_pretrained` would then write
        `lm_head.weight` too, unlike the file of an unsharded model."""
        gathered = super().gather_sharded_state_dict_for_save(model_to_save, state_dict, *args, **kwargs)
        for tied, source in (getattr(model_to_save, "all_tied_weights_keys", None) or {}).items():
            if tied in gathered and source in gathered:
                gathered[tied] = gathered[source]
        return gathered

    @classmethod
    def register_for_auto_class(cls, auto_class: Any = "AutoModel") -> None:
        """Refused for the package's own classes (their saved copy could not follow this package's sub-package
        imports); the self-contained copies that `perceiver_hf.hub.export_for_hub` writes register normally."""
        if cls.__module__.split(".")[0] == "perceiver_hf":
            raise NotImplementedError(
                "register_for_auto_class + save_pretrained would copy modeling_perceiver.py without the core/ and "
                "text/ modules it imports, so the saved folder could not load. Write a folder with self-contained "
                "code and an auto_map instead: perceiver_hf.hub.export_for_hub(model, folder, tokenizer) or "
                "`perceiver-hf export-hub MODEL FOLDER` (then `hf upload ORG/NAME FOLDER`)."
            )
        super().register_for_auto_class(auto_class)

    @torch.no_grad()
    def _init_weights(self, module: nn.Module) -> None:
        """DeepMind's initialisation: Linear weights fan-in variance scaling (Haiku's `VarianceScaling(1.0)`),
        learned arrays and embeddings a (truncated) normal of std `initializer_range`, zero biases, unit norms.

        A plain std-0.02 normal for every Linear leaves small models' attention logits near 0: every query then
        sees the same average and training sits on the unigram plateau for a long time.
        """
        std = self.config.initializer_range
        if isinstance(module, nn.Linear):
            _variance_scaling_(module.weight)
            if module.bias is not None:
                init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            init.normal_(module.weight, mean=0.0, std=std)
        elif isinstance(module, nn.LayerNorm):
            init.ones_(module.weight)
            init.zeros_(module.bias)
        elif isinstance(module, TrainableQueryProvider):
            init.trunc_normal_(module.query, std=std, a=-2 * std, b=2 * std)
        elif isinstance(module, TextInputAdapter):
            init.trunc_normal_(module.pos_encoding, std=std, a=-2 * std, b=2 * std)


def _variance_scaling_(weight: torch.Tensor, scale: float = 1.0) -> None:
    """Haiku's `VarianceScaling(scale, "fan_in", "truncated_normal")` for a torch Linear weight [out, in]."""
    # 0.8796 = std of a unit normal truncated to [-2, 2]; Haiku divides by it so the result has the target std.
    std = (scale / weight.shape[1]) ** 0.5 / 0.87962566103423978
    init.trunc_normal_(weight, std=std, a=-2 * std, b=2 * std)


class PerceiverModel(PerceiverPreTrainedModel):
    """Perceiver IO encoder and decoder: the backbone (`base_model`) of every Perceiver IO head.

    `last_hidden_state` is the decoder output [B, K, C], C = `config.hidden_size` (= `num_input_channels`): one
    feature vector per decoded position. Built with `add_decoder=False` (the sequence classifier's backbone, which
    decodes with its own queries) it is the encoder alone and `last_hidden_state` is the latents [B, N, D].
    """

    # loading from a masked-LM or classifier checkpoint drops its head (the head is simply not used)
    _keys_to_ignore_on_load_unexpected = [r"^lm_head\.", r"^classifier\."]
    # a sequence classifier's backbone is the encoder alone (`add_decoder=False`): loaded from its checkpoint, a
    # `PerceiverModel` gets a new decoder, initialised and reported as transformers reports a new head
    _task_head_prefixes = ("decoder.",)

    def __init__(self, config: PerceiverConfig, add_decoder: bool = True) -> None:
        super().__init__(config)
        self.encoder: PerceiverEncoder = build_encoder(config)
        self.decoder: Optional[PerceiverDecoder] = build_decoder(config) if add_decoder else None
        self.post_init()

    def get_input_embeddings(self) -> nn.Embedding:
        return self.encoder.input_adapter.text_embedding

    def set_input_embeddings(self, value: nn.Embedding) -> None:
        self.encoder.input_adapter.text_embedding = value

    def forward(
        self,
        input_ids: Optional[torch.Tensor] = None,
        attention_mask: Optional[torch.Tensor] = None,
        output_positions: Optional[torch.Tensor] = None,
        inputs_embeds: Optional[torch.Tensor] = None,
        output_attentions: Optional[bool] = None,
        output_hidden_states: Optional[bool] = None,
        return_dict: Optional[bool] = None,
        **kwargs: Any,
    ) -> BaseModelOutputWithCrossAttentions | tuple:
        """Encode `input_ids` [B, L] (or `inputs_embeds` [B, L, C]) and decode every position, or only
        `output_positions` [B, K].

        Args:
            input_ids: token ids [B, L], L <= `config.max_seq_len`.
            attention_mask: [B, L], 1 for real tokens, 0 for padding (masks encoder keys, and decoder queries
                unless `config.mask_padded_queries` is False).
            output_positions: long [B, K], positions to decode; -1 marks an unused slot (its output is ignored).
            inputs_embeds: token embeddings [B, L, C] instead of `input_ids` (what `get_input_embeddings()` gives
                for the ids); the position encoding (and `scale_input_embeddings`) are applied to them as to
                looked-up ones.
            output_attentions: return attention probabilities (runs the eager attention path).
            output_hidden_states: return the latents [B, N, D] after the cross-attention and after every
                self-attention layer (latents, not per-token states: per-position features are
                `last_hidden_state` [B, K, C]; see docs/deployment.md).
            return_dict: return a `BaseModelOutputWithCrossAttentions` (default) instead of a tuple.
        """
        output_attentions = self.config.output_attentions if output_attentions is None else output_attentions
        output_hidden_states = (
            self.config.output_hidden_states if output_hidden_states is None else output_hidden_states
        )
        return_dict = self.config.return_dict if return_dict is None else return_dict
        inputs = check_model_inputs(self.config, input_ids, attention_mask, output_positions, inputs_embeds)

        attention = self.attention_function()
        encoded = self.encoder(
            inputs,
            attention_mask,
            return_hidden_states=output_hidden_states,
            return_weights=output_attentions,
            attention=attention,
        )
        output = BaseModelOutputWithCrossAttentions(
            last_hidden_state=encoded.last_hidden_state,  # [B, N, D]
            hidden_states=encoded.hidden_states,
            attentions=encoded.self_attentions,
            cross_attentions=encoded.cross_attentions,
        )
        if self.decoder is not None:
            # DeepMind: a padded position's decoder query gets attention output 0; the perceiver-io library decodes it
            query_mask = attention_mask if self.config.mask_padded_queries else None
            if output_positions is not None and query_mask is not None:
                query_mask = attention_mask.gather(1, output_positions.clamp(min=0))  # [B, K]
            output.last_hidden_state, decoder_weights = self.decoder(
                encoded.last_hidden_state,
                query_positions=output_positions,
                num_queries=inputs.shape[1],
                query_mask=query_mask,
                return_weights=output_attentions,
                attention=attention,
            )  # [B, K, C]
            if output_attentions:
                output.cross_attentions = encoded.cross_attentions + (decoder_weights,)
        return output if return_dict else output.to_tuple()


class OutputEmbeddingsAccessors:
    """`get_output_embeddings` / `set_output_embeddings` of a model whose output projection is `self.lm_head`."""

    lm_head: nn.Linear

    def get_output_embeddings(self) -> nn.Linear:
        return self.lm_head

    def set_output_embeddings(self, new_embeddings: nn.Linear) -> None:
        self.lm_head = new_embeddings


class PerceiverForMaskedLM(OutputEmbeddingsAccessors, PerceiverPreTrainedModel):
    """Perceiver IO masked language model: logits = decoder output @ embedding^T + bias (DeepMind's semantics).

    `lm_head` is an `nn.Linear` (C -> V, with bias) whose weight transformers ties to the input embedding when
    `config.tie_word_embeddings` (DeepMind's model); untied, it has its own weight.
    """

    _tied_weights_keys = {"lm_head.weight": "perceiver.encoder.input_adapter.text_embedding.weight"}
    _task_head_prefixes = ("lm_head.",)

    def __init__(self, config: PerceiverConfig) -> None:
        super().__init__(config)
        self.perceiver = PerceiverModel(config)
        self.lm_head = nn.Linear(config.num_input_channels, config.vocab_size)
        self.post_init()

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
    ) -> PerceiverMaskedLMOutput | tuple:
        """Logits [B, K, V] at every input position (K = L) or at `output_positions` [B, K].

        Args:
            input_ids, attention_mask, output_positions, inputs_embeds, output_attentions, output_hidden_states,
                return_dict: as in `PerceiverModel.forward`.
            labels: target ids, -100 where no loss is wanted: [B, L] (gathered at `output_positions` if those
                are given), or [B, K] aligned with `output_positions` (this reading wins when K == L). Any
                L <= max_seq_len: no padding to 2048.
            num_items_in_batch: number of labelled tokens in the whole (accumulated) batch; if given the loss is
                summed and divided by it (what `Trainer` passes for exact gradient accumulation).
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
        logits = self.lm_head(outputs.last_hidden_state)  # [B, K, V]

        loss = None
        if labels is not None:
            positions = sequence_shaped(input_ids, inputs_embeds)  # [B, L]
            labels = check_labels(labels, positions, output_positions, self.config.vocab_size)  # [B, K]
            loss = masked_lm_loss(logits, labels, num_items_in_batch)
        output = PerceiverMaskedLMOutput(
            loss=loss,
            logits=logits,
            hidden_states=outputs.hidden_states,
            attentions=outputs.attentions,
            cross_attentions=outputs.cross_attentions,
        )
        return output if return_dict else output.to_tuple()


def masked_lm_loss(
    logits: torch.Tensor, labels: torch.Tensor, num_items_in_batch: Optional[int | torch.Tensor] = None
) -> torch.Tensor:
    """Cross-entropy of logits [B, K, V] against labels [B, K] (-100 ignored), computed in float32.

    The mean is over labelled tokens, or the sum divided by `num_items_in_batch` if given. A batch without any
    labelled token (possible with short texts and 15% masking) gives loss 0 with zero gradients, not NaN.
    """
    flat_logits = logits.reshape(-1, logits.shape[-1]).float()  # [B*K, V]
    flat_labels = labels.reshape(-1).to(flat_logits.device)  # [B*K]
    loss = F.cross_entropy(flat_logits, flat_labels, ignore_index=-100, reduction="sum")
    if num_items_in_batch is None:
        num_items_in_batch = (flat_labels != -100).sum()
    return loss / torch.as_tensor(num_items_in_batch, device=loss.device).clamp(min=1)


__all__ = ["PerceiverForMaskedLM", "PerceiverMaskedLMOutput", "PerceiverModel", "PerceiverPreTrainedModel"]
