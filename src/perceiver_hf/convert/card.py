"""The README.md of a converted folder: fields for the `deepmind-language-perceiver` model card template."""

from __future__ import annotations

from pathlib import Path

from .. import __version__
from ..configuration_perceiver import PerceiverConfig
from ..model_cards import render_model_card

TEMPLATE = "deepmind-language-perceiver"


def architecture_summary(config: PerceiverConfig) -> str:
    """One line naming the model's main dimensions."""
    blocks = "" if config.num_self_attention_blocks == 1 else f" applied {config.num_self_attention_blocks} times"
    return (
        f"{config.num_input_channels}-channel byte embeddings -> cross-attention "
        f"({config.num_cross_attention_heads} heads) to {config.num_latents} latents x "
        f"{config.num_latent_channels} channels -> {config.num_self_attention_layers_per_block} self-attention "
        f"layers ({config.num_self_attention_heads} heads){blocks} -> decoder cross-attention "
        f"({config.decoder_num_cross_attention_heads} heads) with {config.max_seq_len} learned queries -> "
        "logits tied to the embedding"
    )


def render_card(
    config: PerceiverConfig,
    num_parameters: int,
    output_dir: Path,
    *,
    title: str,
    description: str,
    license: str,
    provenance: str,
    command: str,
) -> str:
    """The model card of a converted folder holding `num_parameters` parameters, to be written to `output_dir`."""
    return render_model_card(
        TEMPLATE,
        title=title,
        description=description,
        license=license,
        provenance=provenance,
        command=command,
        num_parameters=f"{num_parameters:,}",
        architecture=architecture_summary(config),
        max_seq_len=config.max_seq_len,
        model_path=output_dir.name,
        perceiver_hf_version=__version__,
    )
