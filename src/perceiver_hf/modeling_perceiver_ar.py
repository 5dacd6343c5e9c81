"""Hugging Face wrappers of Perceiver AR: a `PerceiverARConfig` in, transformers' causal-LM contracts out.

    PerceiverARModel:      input ids [B, n] -> core `PerceiverAR` -> latent hidden states [B, n - p, C]
    PerceiverForCausalLM:  PerceiverARModel -> lm_head (an nn.Linear tied to the token embedding, bias when
                           `config.output_bias`) -> logits [B, n - p, V] at the latent positions

p, the prefix length, is an argument of `forward` (default: every position but the last `max_latents` is prefix).
`generate()` grows the latents from `num_latents` (default 1, the library's) up to `max_latents`, then the
prefix, and beyond `max_seq_len` slides the window; see `perceiver_hf.generation_window`.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Optional

import torch
from torch import nn
from transformers import DynamicCache, GenerationMixin
from transformers import initialization as init
from transformers.generation.stopping_criteria import MaxLengthCriteria
from transformers.modeling_outputs import BaseModelOutputWithPast, CausalLMOutputWithPast
from transformers.utils import can_return_tuple
from transformers.utils.deprecation import deprecate_kwarg
from transformers.utils.output_capturing import OutputRecorder, capture_outputs

from .configuration_perceiver_ar import PerceiverARConfig
from .core.perceiver_ar import CausalSelfAttentionLayer, PerceiverAR, PerceiverARSpec, PrefixCrossAttentionLayer
from .core.rotary import RotaryEmbedding
from .generation_window import GenerationWindow, check_prompt
from .modeling_perceiver import OutputEmbeddingsAccessors, PerceiverPreTrainedModel


def perceiver_ar_spec(config: PerceiverARConfig) -> PerceiverARSpec:
    """The core spec a config describes: every spec field is the config field of the same name (the activation,
    the library's exact GELU, is the spec's own)."""
    fields = [f.name for f in dataclasses.fields(PerceiverARSpec) if f.name != "activation"]
    return PerceiverARSpec(**{name: getattr(config, name) for name in fields})


def token_positions(attention_mask: Optional[torch.Tensor], batch_size: int, length: int, device: torch.device) -> torch.Tensor:
    """Position of each token [B, n]: the number of real tokens before it (left padding shifts the positions,
    a padded position gets 0), as the library computes them."""
    if attention_mask is None:
        return torch.arange(length, device=device).expand(batch_size, -1)
    return (attention_mask.long().cumsum(dim=-1) - 1).clamp(min=0)


ATTENTION_LAYERS = (PrefixCrossAttentionLayer, CausalSelfAttentionLayer)  # output capture's targets


class PerceiverARPreTrainedModel(PerceiverPreTrainedModel):
    """Initialisation and class attributes of the Perceiver AR models (loading as the Perceiver IO models: strict)."""

    config_class = PerceiverARConfig
    base_model_prefix = "model"
    _no_split_modules = ["PrefixCrossAttentionLayer", "CausalSelfAttentionLayer"]
    _supports_sdpa = True
    # `output_hidden_states` / `output_attentions` (transformers' output capture, hooks on the layers): the latents
    # entering the cross-attention (their embeddings), then each layer's output [B, N, C] (the last replaced by
    # `last_hidden_state`, after `output_norm`); each layer's attention probabilities [B, H, N, L] (eager only)
    # (one recorder per output, its target the tuple of both layer classes: `output_hidden_states` may then also
    # be a list of indices, which transformers resolves for a single recorder only)
    _can_record_outputs = {
        "hidden_states": OutputRecorder(ATTENTION_LAYERS),  # type: ignore[arg-type]  # isinstance takes a tuple
        "attentions": OutputRecorder(ATTENTION_LAYERS, index=1),  # type: ignore[arg-type]
    }

    @torch.no_grad()
    def _init_weights(self, module: nn.Module) -> None:
        """The library's initialisation: linears and embeddings normal(0, init_scale), zero biases, unit norms."""
        std = self.config.init_scale
        if isinstance(module, (nn.Linear, nn.Embedding)):
            init.normal_(module.weight, mean=0.0, std=std)
            if isinstance(module, nn.Linear) and module.bias is not None:
                init.zeros_(module.bias)
        elif isinstance(module, nn.LayerNorm):
            init.ones_(module.weight)
            init.zeros_(module.bias)
        elif isinstance(module, RotaryEmbedding):
            init.copy_(module.inv_freq, module.frequencies())


class PerceiverARModel(PerceiverARPreTrainedModel):
    """Perceiver AR without its output projection: `last_hidden_state` [B, n - p, C] of the latent positions."""

    _keys_to_ignore_on_load_unexpected = [r"^lm_head\."]  # loaded from a causal-LM checkpoint: its head is unused

    def __init__(self, config: PerceiverARConfig) -> None:
        super().__init__(config)
        self.perceiver = PerceiverAR(perceiver_ar_spec(config))
        self.post_init()

    def get_input_embeddings(self) -> nn.Embedding:
        return self.perceiver.token_embedding

    def set_input_embeddings(self, value: nn.Embedding) -> None:
        self.perceiver.token_embedding = value

    @deprecate_kwarg("past_key_values", "5.40.0", new_name="cache")  # transformers' older name, as Llama's
    @capture_outputs
    def forward(
        self,
        input_ids: Optional[torch.Tensor] = None,
        attention_mask: Optional[torch.Tensor] = None,
        cache: Optional[Any] = None,
        use_cache: Optional[bool] = None,
        prefix_len: Optional[int] = None,
        inputs_embeds: Optional[torch.Tensor] = None,
        output_attentions: Optional[bool] = None,
        output_hidden_states: Optional[bool] = None,
        **kwargs: Any,
    ) -> BaseModelOutputWithPast:
        """Hidden states of the latent positions (and, with `output_hidden_states` / `output_attentions`, each
        layer's latents and attention probabilities; `return_dict=False`: a tuple).

        Args:
            input_ids: [B, X]: the sequence (at most `max_seq_len` tokens), or the tokens after a `cache`.
            attention_mask: [B, n], 1 for real tokens, 0 for (left) padding; n = cached + X tokens.
            cache: a transformers `Cache` from an earlier call (its tokens precede `input_ids`, which are then
                all latents); with `use_cache` and none given, a `DynamicCache` is made.
            use_cache: return the cache (default: `config.use_cache` in eval mode, none in training).
            prefix_len: p, how many leading positions of `input_ids` are prefix; default: all but the last
                `max_latents` (0 after a cache).
            inputs_embeds: [B, X, C], token embeddings (what `get_input_embeddings()` gives for the ids) instead
                of `input_ids`; the position embeddings are added to them as to looked-up ones.
            output_attentions: also return each layer's attention probabilities [B, H, N, L] (the cross-attention's
                L = cached + X, the self-attentions' L = cached latents + N); needs the "eager" attention.
            output_hidden_states: also return the latents [B, N, C] entering the cross-attention, then after it and
                after each self-attention layer (the last after `output_norm`). Both are read by transformers'
                output capture (`capture_outputs`) from the call's keywords, or from the config.
        """
        if (input_ids is None) == (inputs_embeds is None):
            raise ValueError(
                "Pass exactly one of input_ids [batch, length] and inputs_embeds [batch, length, channels]."
            )
        if use_cache is None:  # a cache is for inference: training (prefix dropout) runs without one
            use_cache = self.config.use_cache and not self.training
        if use_cache and cache is None:
            cache = DynamicCache(config=self.config)
        cached = cache.get_seq_length(0) if cache is not None else 0
        inputs = input_ids if inputs_embeds is None else inputs_embeds
        prefix_len = self._check_inputs(inputs, attention_mask, cached, prefix_len)
        b, x_len = inputs.shape[:2]
        positions = token_positions(attention_mask, b, cached + x_len, inputs.device)
        key_valid = attention_mask.bool() if attention_mask is not None else None
        hidden = self.perceiver(
            input_ids, prefix_len, positions, key_valid, cache if use_cache else None, self.attention_function(),
            inputs_embeds,
        )  # [B, X - p, C]
        return BaseModelOutputWithPast(last_hidden_state=hidden, cache=cache if use_cache else None)

    def _check_inputs(
        self, inputs: torch.Tensor, attention_mask: Optional[torch.Tensor], cached: int, prefix_len: Optional[int]
    ) -> int:
        """The prefix length to use for `inputs` (input_ids [B, X] or inputs_embeds [B, X, C]); a one-line error
        for inputs the model cannot take."""
        config = self.config
        if inputs.is_floating_point() and (inputs.dim() != 3 or inputs.shape[-1] != config.num_channels):
            raise ValueError(
                f"inputs_embeds must be [batch, length, num_channels={config.num_channels}], got shape {tuple(inputs.shape)}."
            )
        if not inputs.is_floating_point() and inputs.dim() != 2:
            raise ValueError(f"input_ids must be [batch, length], got shape {tuple(inputs.shape)}.")
        x_len = inputs.shape[1]
        n = cached + x_len
        if n > config.max_seq_len:
            raise ValueError(
                f"Input has {n} tokens (cached and new) but this model handles at most max_seq_len="
                f"{config.max_seq_len}; truncate it (generate() slides its window by itself)."
            )
        if attention_mask is not None and tuple(attention_mask.shape) != (inputs.shape[0], n):
            raise ValueError(
                f"attention_mask must be [batch, cached + new tokens] = {(inputs.shape[0], n)}, got "
                f"{tuple(attention_mask.shape)}."
            )
        if prefix_len is None:
            prefix_len = 0 if cached else max(0, x_len - config.max_latents)
        if cached and prefix_len:
            raise ValueError("After a cache, every new token is a latent: pass prefix_len=0 (or leave it out).")
        if not 0 <= prefix_len < x_len:
            raise ValueError(f"prefix_len ({prefix_len}) must be in [0, {x_len}) for an input of {x_len} tokens.")
        if prefix_len > config.max_prefix_len:
            raise ValueError(
                f"prefix_len ({prefix_len}) exceeds max_prefix_len = max_seq_len - max_latents = {config.max_prefix_len}."
            )
        if n - prefix_len > config.max_latents and not cached:
            raise ValueError(
                f"{x_len - prefix_len} latent positions, more than max_latents={config.max_latents}: "
                f"use prefix_len >= {x_len - config.max_latents}."
            )
        return prefix_len


class PerceiverForCausalLM(OutputEmbeddingsAccessors, PerceiverARPreTrainedModel, GenerationMixin):
    """Perceiver AR causal language model: logits at the latent positions, `generate()` with a key/value cache."""

    _tied_weights_keys = {"lm_head.weight": "model.perceiver.token_embedding.weight"}
    # The loss covers only the tokens after the latents; `Trainer`'s `num_items_in_batch` counts every label (run_clm's
    # collator labels every position), which would scale the loss down by (N - 1) / (L - 1). Without loss kwargs,
    # `Trainer` takes each batch's mean and averages over accumulation steps itself.
    accepts_loss_kwargs = False
    # loaded from a `PerceiverARModel` checkpoint, the head's own weight (the bias; the weight is tied) is new:
    # initialised and reported, as the masked-LM head of `PerceiverForMaskedLM`
    _task_head_prefixes = ("lm_head.",)

    def __init__(self, config: PerceiverARConfig) -> None:
        super().__init__(config)
        self.model = PerceiverARModel(config)
        self.lm_head = nn.Linear(config.num_channels, config.vocab_size, bias=config.output_bias)
        self.post_init()

    @deprecate_kwarg("past_key_values", "5.40.0", new_name="cache")
    @can_return_tuple
    def forward(
        self,
        input_ids: Optional[torch.Tensor] = None,
        attention_mask: Optional[torch.Tensor] = None,
        cache: Optional[Any] = None,
        labels: Optional[torch.Tensor] = None,
        use_cache: Optional[bool] = None,
        prefix_len: Optional[int] = None,
        logits_to_keep: int = 0,
        inputs_embeds: Optional[torch.Tensor] = None,
        output_attentions: Optional[bool] = None,
        output_hidden_states: Optional[bool] = None,
        **kwargs: Any,
    ) -> CausalLMOutputWithPast:
        """Next-token logits [B, N, V] at the N latent positions (the last `logits_to_keep` of them if > 0).

        Args:
            input_ids, attention_mask, cache, use_cache, prefix_len, inputs_embeds, output_attentions,
                output_hidden_states: as in `PerceiverARModel.forward`.
            labels: [B, X], the ids of `input_ids` (-100: no loss); the loss is the next-token cross-entropy at
                the latent positions (the label of position i + 1 for latent i), transformers' causal-LM loss.
            kwargs: the loss's (`num_items_in_batch`; `shift_labels` [B, X], already shifted targets, which win
                over `labels`), `return_dict=False` for a tuple.
        """
        # None is "the config's": resolved here, as transformers' output capture reads a keyword given as None as off
        output_attentions = self.config.output_attentions if output_attentions is None else output_attentions
        output_hidden_states = self.config.output_hidden_states if output_hidden_states is None else output_hidden_states
        outputs = self.model(
            input_ids, attention_mask, cache=cache, use_cache=use_cache, prefix_len=prefix_len,
            inputs_embeds=inputs_embeds, output_attentions=output_attentions,
            output_hidden_states=output_hidden_states, **kwargs,
        )  # fmt: skip
        hidden = outputs.last_hidden_state
        if logits_to_keep:
            hidden = hidden[:, -logits_to_keep:]
        logits = self.lm_head(hidden)  # [B, N, V]
        loss = None
        if labels is not None:
            sequence = tuple((input_ids if inputs_embeds is None else inputs_embeds).shape[:2])  # (B, X)
            if tuple(labels.shape) != sequence:
                raise ValueError(f"labels must be [batch, length] = {sequence} as the inputs, got {tuple(labels.shape)}.")
            if logits_to_keep:
                raise ValueError("labels need the logits of every latent position: leave logits_to_keep at 0.")
            prefix = sequence[1] - logits.shape[1]
            latent_labels = labels[:, prefix:]  # [B, N], aligned with the logits
            if kwargs.get("shift_labels") is not None:
                kwargs["shift_labels"] = kwargs["shift_labels"][:, prefix:]
            loss = self.loss_function(logits=logits, labels=latent_labels, vocab_size=self.config.vocab_size, **kwargs)
        return CausalLMOutputWithPast(
            loss=loss,
            logits=logits,
            cache=outputs.cache,
            hidden_states=outputs.hidden_states,
            attentions=outputs.attentions,
        )

    def generate(self, inputs: Optional[torch.Tensor] = None, num_latents: int = 1, **kwargs: Any) -> Any:
        """transformers' `generate`, with the library's `num_latents`: how many of the prompt's last positions start
        as latents (default 1). New tokens are latents until there are `max_latents`, then the prefix grows; past
        `max_seq_len` the window slides (the oldest token is dropped). Prompts longer than `max_seq_len` are
        refused."""
        prompt = inputs if inputs is not None else kwargs.get("input_ids")
        prefix_len = check_prompt(self.config, prompt, num_latents)
        return super().generate(inputs, prefix_len=prefix_len, **kwargs)

    def _get_stopping_criteria(self, *args: Any, **kwargs: Any) -> Any:
        """transformers' criteria, without the "exceeded the model's predefined maximum length" warning of
        `MaxLengthCriteria`: past `max_seq_len` this model slides its window, by design."""
        criteria = super()._get_stopping_criteria(*args, **kwargs)
        for criterion in criteria:
            if isinstance(criterion, MaxLengthCriteria):
                criterion.max_position_embeddings = None
        return criteria

    def prepare_inputs_for_generation(
        self,
        input_ids: torch.Tensor,
        next_sequence_length: Optional[int] = None,
        cache: Optional[Any] = None,
        attention_mask: Optional[torch.Tensor] = None,
        prefix_len: int = 0,
        use_cache: Optional[bool] = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """The next step's inputs: the window of the last `max_seq_len` tokens, split as `GenerationWindow` says;
        only the new tokens when the cache still holds the rest, else the whole window on a fresh cache."""
        window = GenerationWindow(self.config, input_ids.shape[1], prompt_prefix_len=prefix_len)
        ids = input_ids[:, window.start :]
        mask = attention_mask[:, window.start :] if attention_mask is not None else None
        inputs: dict[str, Any] = {"attention_mask": mask, "use_cache": use_cache}
        for passed_on in ("logits_to_keep", "output_attentions", "output_hidden_states"):
            if passed_on in kwargs:
                inputs[passed_on] = kwargs[passed_on]
        if cache is not None and window.continues(cache):
            inputs.update(input_ids=ids[:, cache.get_seq_length(0) :], cache=cache, prefix_len=0)
        else:
            fresh = DynamicCache(config=self.config) if cache is not None else None
            inputs.update(input_ids=ids, cache=fresh, prefix_len=window.prefix_len)
        return inputs


__all__ = ["PerceiverARModel", "PerceiverARPreTrainedModel", "PerceiverForCausalLM"]
