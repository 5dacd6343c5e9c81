"""Checks of model inputs that turn would-be torch crashes into messages saying what to do.

Two kinds of checks, so that the forward stays traceable (`torch.compile(fullgraph=True)`, `torch.export`,
ONNX):

- structure (tensor or not, dims, dtypes, matching shapes): read only shapes and dtypes, which a graph capture
  knows, so they run always and cost nothing in a compiled or exported graph;
- values (ids inside the vocabulary, output positions in range, label ids): need the tensors' values, so they
  run in eager mode only (`perceiver_hf.tracing.capturing_graph()` is False). In a graph, ids come from the
  tokenizer, which only produces ids of its vocabulary; call `check_input_values` at your own boundary if they
  do not.

The length limit (`max_seq_len`) is checked in one place, `TextInputAdapter.forward`, where the position
encoding is read.
"""

from __future__ import annotations

from typing import Any, Optional

import torch

from .tracing import capturing_graph


def _shape(t: torch.Tensor) -> str:
    return "[" + ", ".join(str(s) for s in t.shape) + "]"


def sequence_shaped(input_ids: Optional[torch.Tensor], inputs_embeds: Optional[torch.Tensor]) -> torch.Tensor:
    """A [B, L] tensor of the input's batch and sequence shape: `input_ids`, or a view of `inputs_embeds` [B, L, C]."""
    return input_ids if input_ids is not None else inputs_embeds[..., 0]


def _check_inputs_embeds(config: Any, inputs_embeds: Any) -> None:
    width = config.num_input_channels
    if not torch.is_tensor(inputs_embeds) or inputs_embeds.dim() != 3 or inputs_embeds.shape[-1] != width:
        got = _shape(inputs_embeds) if torch.is_tensor(inputs_embeds) else type(inputs_embeds).__name__
        raise ValueError(
            f"inputs_embeds must be a 3-D tensor [batch, sequence, {width}] (num_input_channels), got {got}; "
            "compute it with model.get_input_embeddings()(input_ids)."
        )
    if not inputs_embeds.dtype.is_floating_point:
        raise ValueError(f"inputs_embeds must be floating point embeddings, got dtype {inputs_embeds.dtype}.")


def check_model_inputs(
    config: Any,
    input_ids: Optional[torch.Tensor],
    attention_mask: Optional[torch.Tensor],
    output_positions: Optional[torch.Tensor],
    inputs_embeds: Optional[torch.Tensor] = None,
) -> torch.Tensor:
    """Validate `input_ids` [B, L] (or `inputs_embeds` [B, L, C]), `attention_mask` [B, L] and
    `output_positions` [B, K] against `config`; return what the encoder reads (the ids or the embeddings)."""
    if (input_ids is None) == (inputs_embeds is None):
        raise ValueError(
            "Pass exactly one of input_ids [batch, sequence] and inputs_embeds [batch, sequence, channels]; "
            f"got {'both' if input_ids is not None else 'neither'}."
        )
    if inputs_embeds is not None:
        _check_inputs_embeds(config, inputs_embeds)
    elif not torch.is_tensor(input_ids) or input_ids.dim() != 2:
        got = _shape(input_ids) if torch.is_tensor(input_ids) else type(input_ids).__name__
        raise ValueError(
            f"input_ids must be a 2-D tensor [batch, sequence], got {got}; "
            "tokenize with return_tensors='pt' (add a batch dimension with input_ids[None] for one sequence)."
        )
    for name, value in (("attention_mask", attention_mask), ("output_positions", output_positions)):
        if value is not None and not torch.is_tensor(value):
            raise ValueError(
                f"{name} must be a tensor, got a {type(value).__name__}; pass torch.tensor({name}) "
                "(shape [batch, sequence] for attention_mask, [batch, K] for output_positions)."
            )
    if input_ids is not None and (input_ids.dtype.is_floating_point or input_ids.dtype == torch.bool):
        raise ValueError(f"input_ids must hold integer token ids, got dtype {input_ids.dtype}.")
    shaped = sequence_shaped(input_ids, inputs_embeds)  # [B, L]
    batch_size, seq_len = shaped.shape
    if seq_len == 0:
        raise ValueError("input_ids has no tokens (sequence length 0); pass at least one token per sequence.")
    if attention_mask is not None and attention_mask.shape != shaped.shape:
        raise ValueError(
            f"attention_mask has shape {_shape(attention_mask)} but the input is {_shape(shaped)}; "
            "they must match (1 for real tokens, 0 for padding)."
        )
    if output_positions is not None:
        if output_positions.dim() != 2 or output_positions.shape[0] != batch_size:
            raise ValueError(
                f"output_positions must be [batch, K] with batch={batch_size}, got {_shape(output_positions)}."
            )
        if output_positions.dtype.is_floating_point or output_positions.dtype == torch.bool:
            raise ValueError(f"output_positions must be integer positions, got dtype {output_positions.dtype}.")
    if not capturing_graph():
        check_input_values(config.vocab_size, input_ids, output_positions, seq_len)
    return input_ids if input_ids is not None else inputs_embeds


def _has_values(tensor: Optional[torch.Tensor]) -> bool:
    return tensor is not None and tensor.numel() > 0 and not tensor.is_meta


def check_input_values(
    vocab_size: int, input_ids: Optional[torch.Tensor], output_positions: Optional[torch.Tensor], seq_len: int
) -> None:
    """Eager value checks: `input_ids` [B, L] (if given) in [0, vocab_size), `output_positions` [B, K] in [-1, L)."""
    if _has_values(input_ids):
        low, high = int(input_ids.min()), int(input_ids.max())
        if low < 0 or high >= vocab_size:
            raise ValueError(
                f"input_ids contain ids outside the vocabulary [0, {vocab_size}): min {low}, max {high}. "
                "Use the tokenizer that belongs to this model, or a config whose vocab_size covers your tokenizer."
            )
    if not _has_values(output_positions):
        return
    if int(output_positions.max()) >= seq_len:
        raise ValueError(
            f"output_positions go up to {int(output_positions.max())} but the input has only {seq_len} "
            "positions; use positions in [0, sequence length) and -1 for unused slots."
        )
    if int(output_positions.min()) < -1:
        raise ValueError("output_positions may only use -1 to mark an unused slot; other negatives are invalid.")


def check_labels(
    labels: torch.Tensor,
    input_ids: torch.Tensor,
    output_positions: Optional[torch.Tensor],
    vocab_size: Optional[int] = None,
) -> torch.Tensor:
    """Return labels aligned with the decoded positions [B, K]; -100 at unused (-1) output slots."""
    if not torch.is_tensor(labels) or labels.dtype.is_floating_point or labels.dtype == torch.bool:
        got = labels.dtype if torch.is_tensor(labels) else type(labels).__name__
        raise ValueError(f"labels must be an integer tensor of token ids (-100 = no loss), got {got}.")
    if vocab_size is not None and _has_values(labels) and not capturing_graph():
        check_label_values(labels, vocab_size)
    if output_positions is None:
        if labels.shape != input_ids.shape:
            raise ValueError(
                f"labels have shape {_shape(labels)} but input_ids have {_shape(input_ids)}; pass one label per "
                "input token (-100 where no loss is wanted)."
            )
        return labels
    # [B, K] first: when K == L the labels are per output position (the collators' form), not per token.
    if labels.shape != output_positions.shape and labels.shape == input_ids.shape:
        labels = labels.gather(1, output_positions.clamp(min=0))  # [B, K]
    elif labels.shape != output_positions.shape:
        raise ValueError(
            f"labels have shape {_shape(labels)}; with output_positions {_shape(output_positions)} they must be "
            f"either per input token {_shape(input_ids)} or per output position {_shape(output_positions)}."
        )
    return labels.masked_fill(output_positions < 0, -100)


def check_label_values(labels: torch.Tensor, vocab_size: int) -> None:
    """Eager value check: every label [B, K] is -100 (no loss) or an id in [0, vocab_size)."""
    scored = labels[labels != -100]
    if scored.numel() > 0 and (int(scored.min()) < 0 or int(scored.max()) >= vocab_size):
        raise ValueError(
            f"labels contain ids outside the vocabulary [0, {vocab_size}): min {int(scored.min())}, "
            f"max {int(scored.max())}; use token ids of this model's tokenizer and -100 where no loss is wanted."
        )
