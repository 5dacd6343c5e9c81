"""The masked-LM forward as a graph: the logits-only module, its dynamic shapes and sample inputs, `torch.export`.

`MaskedLMLogits(model)(input_ids [B, L], attention_mask [B, L], output_positions [B, K] or None)` returns the
logits [B, K, V] (K = L without positions) of a `PerceiverForMaskedLM`: the tensor-in, tensor-out form that
`torch.export`, the ONNX exporter and graph runtimes want. Batch, length and number of positions are dynamic;
length and positions are at most `config.max_seq_len` (the shape check in `TextInputAdapter.forward` becomes a
constraint of the graph).
"""

from __future__ import annotations

from typing import Any, Optional

import torch
from torch import nn
from torch.export import Dim, ExportedProgram

INPUT_NAMES = ("input_ids", "attention_mask", "output_positions")
OUTPUT_NAMES = ("logits",)


class MaskedLMLogits(nn.Module):
    """A `PerceiverForMaskedLM` returning only its logits (see the module docstring)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, output_positions: Optional[torch.Tensor] = None
    ) -> torch.Tensor:
        """ids [B, L], mask [B, L], positions [B, K] (-1 = unused slot) -> logits [B, K or L, V]."""
        return self.model(
            input_ids=input_ids, attention_mask=attention_mask, output_positions=output_positions, return_dict=True
        ).logits


def dynamic_shapes(max_seq_len: int, with_positions: bool) -> dict[str, dict[int, Dim]]:
    """`torch.export` dynamic shapes: batch, sequence (<= max_seq_len) and positions (<= max_seq_len)."""
    batch = Dim("batch", max=4096)
    sequence = Dim("sequence", max=max_seq_len)
    shapes = {"input_ids": {0: batch, 1: sequence}, "attention_mask": {0: batch, 1: sequence}}
    if with_positions:
        shapes["output_positions"] = {0: batch, 1: Dim("positions", max=max_seq_len)}
    return shapes


def sample_inputs(
    config: Any, batch_size: int, seq_len: int, with_positions: bool, seed: int = 0
) -> dict[str, torch.Tensor]:
    """Random in-vocabulary ids [B, L], a mask with padding on the last row and, if asked, positions [B, K]
    (K = max(1, L // 4), -1 slots on the last row)."""
    generator = torch.Generator().manual_seed(seed)
    seq_len = min(seq_len, config.max_seq_len)
    input_ids = torch.randint(0, config.vocab_size, (batch_size, seq_len), generator=generator)  # [B, L]
    attention_mask = torch.ones_like(input_ids)  # [B, L]
    if batch_size > 1 and seq_len > 2:
        attention_mask[-1, seq_len // 2 :] = 0
    inputs = {"input_ids": input_ids, "attention_mask": attention_mask}
    if with_positions:
        num_positions = max(1, seq_len // 4)
        positions = torch.stack(
            [torch.randperm(seq_len, generator=generator)[:num_positions] for _ in range(batch_size)]
        )  # [B, K]
        if batch_size > 1 and num_positions > 1:
            positions[-1, num_positions // 2 :] = -1
        inputs["output_positions"] = positions
    return inputs


def export_masked_lm(model: nn.Module, with_positions: bool = False, strict: bool = False) -> ExportedProgram:
    """`torch.export.export` of `MaskedLMLogits(model)` (in eval mode) with dynamic batch, sequence and positions."""
    config = model.config
    inputs = sample_inputs(config, 2, min(16, config.max_seq_len), with_positions)
    with torch.no_grad():
        return torch.export.export(
            MaskedLMLogits(model.eval()), (), inputs, dynamic_shapes=dynamic_shapes(config.max_seq_len, with_positions),
            strict=strict,
        )


__all__ = ["INPUT_NAMES", "MaskedLMLogits", "OUTPUT_NAMES", "dynamic_shapes", "export_masked_lm", "sample_inputs"]
