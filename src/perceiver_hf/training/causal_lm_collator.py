"""The batch collator of `perceiver-hf train --task causal-lm`.

transformers' `DataCollatorForLanguageModeling(mlm=False)` pads (on the tokenizer's side: left for a causal LM)
and sets labels = input ids, -100 on padding. `PerceiverForCausalLM` scores only the tokens after its latents
(the last `max_latents` positions): latent i predicts position i + 1. `CausalLMCollator` also sets -100 on every
label before the first such target, so that the labels name exactly the tokens the loss covers:

    input_ids [B, X], attention_mask [B, X], labels [B, X] (-100 at positions 0 .. X - N, N = min(max_latents, X))

The loss is the same either way (the model scores the latents' targets only, and takes no `num_items_in_batch`
from `Trainer`, whose count of every label would otherwise shrink it); the labels then say which tokens a batch
is scored on, which is what the evaluation metrics count (`eval_predicted_tokens`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from transformers import DataCollatorForLanguageModeling


@dataclass
class CausalLMCollator(DataCollatorForLanguageModeling):
    """`DataCollatorForLanguageModeling(mlm=False)` whose labels are -100 except at the tokens the latents predict."""

    mlm: bool = False
    max_latents: int = 1

    def torch_call(self, examples: list[Any]) -> dict[str, Any]:
        batch = super().torch_call(examples)
        labels: torch.Tensor = batch["labels"]  # [B, X]
        first_target = max(1, labels.shape[1] - self.max_latents + 1)  # the token after the first latent
        labels[:, :first_target] = -100
        return batch


__all__ = ["CausalLMCollator"]
