"""The last, shared step of every converter: check the mapping, then write the model folder."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Callable, Mapping, MutableMapping

import torch

from ..configuration_perceiver import PerceiverConfig
from ..modeling_perceiver import PerceiverForMaskedLM
from ..output_folder import OutputPlan
from ..tokenization_perceiver import PerceiverByteTokenizer, special_token_ids
from .conversion_card import render_card
from .mapping import CheckpointLayout, check_rules, convert
from .progress import track
from .target_model import expected_parameter_shapes, mark_architecture
from .writer import write_model_folder


def write_converted_folder(
    output_plan: OutputPlan,
    *,
    layout: CheckpointLayout,
    arrays: MutableMapping[str, Any],
    to_tensor: Callable[[Any, bool], torch.Tensor],
    config: PerceiverConfig,
    what: str,
    card_template: str,
    card_fields: Mapping[str, Any],
    metadata: Mapping[str, str],
    force: bool,
    progress: bool,
    model_class: Any = None,
    byte_tokenizer: bool = True,
) -> Path:
    """Check that `arrays` fill `model_class(config)` (default `PerceiverForMaskedLM`) exactly, then write the
    folder atomically.

    Args:
        output_plan: the checked output folder (`perceiver_hf.output_folder.plan_output_folder`).
        layout: where the checkpoint keeps each part of the model.
        arrays: source name -> array; emptied while the weights are written, so memory stays flat.
        to_tensor: `(array, transpose) -> tensor`.
        config: the inferred configuration.
        what: names the checkpoint in error messages.
        card_template: the model card template (`conversion_card.DEEPMIND_TEMPLATE`, `conversion_card.TRANSFORMERS_TEMPLATE`).
        card_fields: the template's fields other than those `render_card` fills from the model.
        metadata: safetensors header metadata (e.g. the source and its sha256).
        force, progress: as in the converters.
        model_class: the model the folder holds (default `PerceiverForMaskedLM`).
        byte_tokenizer: write the byte tokenizer (and its special ids into the config); False writes none (a
            model with another vocabulary; its card says how to add the tokenizer).

    Raises:
        MappingError: missing, unexpected or mis-shaped arrays (all listed).
    """
    tokenizer = PerceiverByteTokenizer(model_max_length=config.max_seq_len) if byte_tokenizer else None
    model_class = model_class or PerceiverForMaskedLM
    config = mark_architecture(config, model_class)
    if tokenizer is not None:
        config.update(special_token_ids(tokenizer))  # so that Trainer finds config and tokenizer agree
    shapes = {name: tuple(array.shape) for name, array in arrays.items()}
    rules = layout.rules_for(config)
    check_rules(rules, shapes, expected_parameter_shapes(config, model_class), what)
    num_parameters = sum(math.prod(shape) for shape in shapes.values())
    card = render_card(card_template, config, num_parameters, output_plan.path, **card_fields)
    return write_model_folder(
        output_plan,
        config=config,
        tensors=track(convert(rules, arrays, to_tensor), len(rules), "converting", progress),
        model_card=card,
        tokenizer=tokenizer,
        force=force,
        metadata=dict(metadata),
    )
