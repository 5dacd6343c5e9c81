"""Card fields shared by the converter and the trainer: Hub metadata, the architecture line, a source's card.

Templates whose metadata depends on the run (a `base_model` only when there is one, `datasets` only when they are
known, a `model-index` only when the model was evaluated) start with

    ---
    $metadata
    ---

and get that block from `hub_metadata(...)`, which builds it with huggingface_hub's `ModelCardData`, so it is
valid Hub metadata by construction.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Optional, Sequence

from huggingface_hub import EvalResult, ModelCard, ModelCardData

UNKNOWN_LICENSE = "unknown"
"""The Hub's license identifier for "license information unavailable" (`other` would claim a known license)."""
BASE_TAGS = ("perceiver-io", "perceiver_hf", "fill-mask", "masked-language-modeling")
HUB_REPO_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+")
HUB_NAME = re.compile(r"[A-Za-z0-9][\w.-]*(/[\w.-]+)?")


def architecture_summary(config: Any, decoder: Optional[str] = None) -> str:
    """One line naming the main dimensions of a `PerceiverConfig`; `decoder` describes a task decoder instead
    of the masked-LM one (e.g. `classifier_summary(config)`)."""
    decoder = decoder or (
        f"decoder cross-attention ({config.decoder_num_cross_attention_heads} heads) with {config.max_seq_len} "
        "learned queries -> logits tied to the embedding"
    )
    blocks = "" if config.num_self_attention_blocks == 1 else f" applied {config.num_self_attention_blocks} times"
    if config.num_self_attention_blocks > 1 and not config.first_self_attention_block_shared:
        blocks += " (the first with its own weights)"
    if config.num_cross_attention_layers > 1:
        shared = "shared" if config.first_cross_attention_layer_shared else "the first with its own weights"
        blocks += f", {config.num_cross_attention_layers} of them after a cross-attention to the input ({shared})"
    return (
        f"{config.num_input_channels}-channel embeddings of a {config.vocab_size:,}-token vocabulary -> "
        f"cross-attention ({config.num_cross_attention_heads} heads) to {config.num_latents} latents x "
        f"{config.num_latent_channels} channels -> {config.num_self_attention_layers_per_block} self-attention "
        f"layers ({config.num_self_attention_heads} heads){blocks} -> {decoder}"
    )


def causal_lm_summary(config: Any) -> str:
    """One line naming the main dimensions of a `PerceiverARConfig`."""
    positions = "learned absolute and rotary positions" if config.abs_pos_emb else "rotary positions"
    return (
        f"{config.num_channels}-channel embeddings of a {config.vocab_size:,}-token vocabulary ({positions}) -> "
        f"the last {config.max_latents} of up to {config.max_seq_len} positions cross-attend causally to the whole "
        f"sequence ({config.num_heads} heads, prefix dropout {config.cross_attention_dropout:g} in training) -> "
        f"{config.num_self_attention_layers} causal self-attention layers over them -> logits tied to the embedding"
    )


def classifier_summary(config: Any) -> str:
    """The sequence classification decoder of a `PerceiverConfig`, for `architecture_summary`."""
    queries = config.classifier_num_queries
    return (
        f"decoder cross-attention ({config.classifier_num_cross_attention_heads} heads) from {queries} learned "
        f"quer{'y' if queries == 1 else 'ies'} -> linear classifier over {config.num_labels} labels"
    )


def hub_repo_id(name: Optional[str], namespace_required: bool = True) -> Optional[str]:
    """`name` if it is a Hub repository id rather than a local path, else None (for `base_model`, `datasets`).

    Model ids need a namespace ("org/name"); with `namespace_required=False` a bare name (a canonical dataset such
    as "wikitext") is accepted too.
    """
    if not name or Path(name).exists() or ".." in name:
        return None
    pattern = HUB_REPO_ID if namespace_required else HUB_NAME
    return name if pattern.fullmatch(name) else None


def hub_metadata(
    *,
    license: str,
    tags: Sequence[str] = (),
    datasets: Optional[Sequence[str]] = None,
    base_model: Optional[str] = None,
    language: Optional[Any] = None,
    model_name: Optional[str] = None,
    eval_results: Optional[Sequence[EvalResult]] = None,
    pipeline_tag: str = "fill-mask",
) -> str:
    """The YAML of a card's metadata (without the `---` lines) for a perceiver-hf model (fill-mask by default;
    "text-classification" / "token-classification" for the task heads).

    Always sets `library_name: transformers`, `pipeline_tag` and the package's tags (`BASE_TAGS`, then
    `tags`); leaves out `datasets`, `base_model`, `language` and the `model-index` (`eval_results`, named
    `model_name`) when they are empty or None.
    """
    # a task head is not a masked-LM model: its pipeline tag replaces the masked-LM tags
    base_tags = BASE_TAGS if pipeline_tag == "fill-mask" else (*BASE_TAGS[:2], pipeline_tag)
    data = ModelCardData(
        license=license,
        library_name="transformers",
        pipeline_tag=pipeline_tag,
        tags=[*base_tags, *(tag for tag in tags if tag not in base_tags)],
        datasets=list(datasets) if datasets else None,
        base_model=base_model,
        language=language or None,
        model_name=model_name if eval_results else None,
        eval_results=list(eval_results) if eval_results else None,
    )
    return data.to_yaml().rstrip("\n")


def source_card_data(
    source: str, revision: Optional[str] = None, cache_dir: Optional[str] = None
) -> dict[str, Any]:
    """The metadata of the model card (README.md) of a local folder or Hub model; {} if there is none to read.

    Hub cards are read through the Hugging Face cache (`hf_hub_download`), so this works offline for cached models.
    """
    from huggingface_hub import hf_hub_download

    try:
        if Path(source).is_dir():
            readme = Path(source) / "README.md"
        else:
            readme = Path(hf_hub_download(source, "README.md", revision=revision, cache_dir=cache_dir))
        return ModelCard.load(readme).data.to_dict() if readme.is_file() else {}
    except Exception:  # no card, offline without it in the cache, not on the Hub, unreadable YAML
        return {}


__all__ = [
    "BASE_TAGS",
    "UNKNOWN_LICENSE",
    "architecture_summary",
    "causal_lm_summary",
    "classifier_summary",
    "hub_metadata",
    "hub_repo_id",
    "source_card_data",
]
