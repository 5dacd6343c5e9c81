"""Convert the perceiver-io library's Perceiver AR causal language model (0.9-0.11) into a perceiver-hf folder.

    Hugging Face folder (config.json model_type perceiver-ar-causal-language-model, flat model_config) or a
    `LitCausalLanguageModel` Lightning checkpoint (flat hyper_parameters, weights under "model.")
    --fields checked--> PerceiverARConfig --rules below, coverage + shape check--> OUTPUT_DIR (PerceiverForCausalLM)

The library's `CausalLanguageModel` state dict (after "backend_model." / "model."):

    input_adapter.txt_embedding.weight [V, C]      input_adapter.pos_embedding.weight [S, C] (abs_pos_emb)
    input_adapter.frq_pos_encoding.inv_freq [r/2]  a buffer: checked against the rotary frequencies, not stored
    cross_attention.0.module.{q_norm, kv_norm}.*, .attention.{q,k,v}_proj.weight, .attention.o_proj.{weight, bias}
    cross_attention.1.module.{0 (norm), 1, 3}      the MLP (bias-free linears)
    self_attention.{i}.0.module.norm.*, .attention.{q,k,v,o}_proj.weight, self_attention.{i}.1.module.{0, 1, 3}
    out_norm.* (output_norm)                       output_adapter.bias [V] (output_bias; the weight is tied)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, MutableMapping, Optional

import torch

from ..configuration_perceiver_ar import PerceiverARConfig
from ..core.rotary import RotaryEmbedding
from ..modeling_perceiver_ar import PerceiverForCausalLM
from ..output_folder import OutputPlan
from ..tokenization_perceiver import PerceiverByteTokenizer, special_token_ids
from .errors import ConversionError
from .mapping import SAME, ModuleTable, Param, Rule, check_rules, convert, expand
from .perceiver_io_card import LibrarySource
from .progress import track
from .target_model import expected_parameter_shapes, mark_architecture
from .writer import write_model_folder

CAUSAL_LM = "perceiver-ar-causal-language-model"
REQUIRED_FIELDS = (
    "vocab_size", "max_seq_len", "max_latents", "num_channels", "num_heads", "num_self_attention_layers",
    "self_attention_widening_factor", "cross_attention_widening_factor", "cross_attention_dropout",
    "post_attention_dropout", "output_norm", "output_bias", "abs_pos_emb", "init_scale",
)  # fmt: skip
"""`CausalLanguageModelConfig` fields every library version (0.9-0.11) writes; they become config fields as named."""
LATER_FIELDS = {"num_self_attention_rotary_layers": 1, "residual_dropout": 0.0, "max_heads_parallel": None}
"""Fields added after 0.9, with the value that gives 0.9's computation (rotary in the first self-attention layer
only, no residual dropout)."""
TRAINING_ONLY = ("activation_checkpointing", "activation_offloading", "validation_sample_prompt",
                 "validation_sample_record", "params")  # fmt: skip
"""Fields (and Lightning hyper-parameters) that do not change what the model computes: read, not kept."""
INV_FREQ = "input_adapter.frq_pos_encoding.inv_freq"

_WEIGHT: tuple[Param, ...] = (Param("weight", "weight"),)
_MLP: ModuleTable = {"mlp_norm": ("1.module.0", SAME), "mlp.fc1": ("1.module.1", _WEIGHT), "mlp.fc2": ("1.module.3", _WEIGHT)}
CROSS_ATTENTION: ModuleTable = {
    "q_norm": ("0.module.q_norm", SAME), "kv_norm": ("0.module.kv_norm", SAME),
    **{f"attention.{name}": (f"0.module.attention.{name}", _WEIGHT) for name in ("q_proj", "k_proj", "v_proj")},
    "attention.o_proj": ("0.module.attention.o_proj", SAME), **_MLP,
}  # fmt: skip
SELF_ATTENTION: ModuleTable = {
    "norm": ("0.module.norm", SAME),
    **{f"attention.{name}": (f"0.module.attention.{name}", _WEIGHT) for name in ("q_proj", "k_proj", "v_proj", "o_proj")},
    **_MLP,
}  # fmt: skip


def is_causal_lm_settings(settings: Any) -> bool:
    """Whether checkpoint settings (a Lightning checkpoint's hyper_parameters) are a Perceiver AR model's."""
    return isinstance(settings, Mapping) and "max_latents" in settings and "encoder" not in settings


def perceiver_ar_config(settings: Any, what: str) -> PerceiverARConfig:
    """The `PerceiverARConfig` of the library's flat `CausalLanguageModelConfig` values (one-line errors for a
    missing or unknown field, or a value the config refuses)."""
    if not isinstance(settings, Mapping):
        raise ConversionError(f"{what}: the model settings are a {type(settings).__name__}, not a mapping of fields.")
    missing = [name for name in REQUIRED_FIELDS if name not in settings]
    unknown = sorted(set(settings) - set(REQUIRED_FIELDS) - set(LATER_FIELDS) - set(TRAINING_ONLY), key=str)
    if missing or unknown:
        problem = f"lacks {missing}" if missing else f"has fields no library version writes: {unknown[:5]}"
        raise ConversionError(f"{what}: the causal LM settings {problem}; supported: perceiver-io 0.9-0.11's "
                              "CausalLanguageModelConfig.")
    values = {name: settings[name] for name in REQUIRED_FIELDS}
    values.update({name: settings.get(name, default) for name, default in LATER_FIELDS.items()})
    try:
        return PerceiverARConfig(**values)
    except (ValueError, TypeError) as error:
        raise ConversionError(f"{what}: {error}") from None


def perceiver_ar_rules(config: PerceiverARConfig) -> list[Rule]:
    """(our key <- the library's key) for every parameter of `PerceiverForCausalLM(config)`."""
    ours = "model.perceiver"
    rules = [Rule(f"{ours}.token_embedding.weight", "input_adapter.txt_embedding.weight")]
    if config.abs_pos_emb:
        rules.append(Rule(f"{ours}.position_embedding.weight", "input_adapter.pos_embedding.weight"))
    rules += expand(f"{ours}.cross_attention", "cross_attention", CROSS_ATTENTION, ".")
    for index in range(config.num_self_attention_layers):
        rules += expand(f"{ours}.self_attention.{index}", f"self_attention.{index}", SELF_ATTENTION, ".")
    if config.output_norm:
        rules += expand(f"{ours}.output_norm", "out_norm", {"": ("", SAME)}, ".")
    if config.output_bias:
        rules.append(Rule("lm_head.bias", "output_adapter.bias"))
    return rules


def _check_rotary_buffer(tensors: MutableMapping[str, torch.Tensor], config: PerceiverARConfig, what: str) -> None:
    """Drop the library's stored rotary frequencies after checking they are the ones the model computes."""
    stored = tensors.pop(INV_FREQ, None)
    if stored is None:
        return
    expected = RotaryEmbedding(config.rotated_channels).frequencies()
    if stored.shape != expected.shape or not torch.allclose(stored.float(), expected, rtol=1e-6, atol=0):
        raise ConversionError(f"{what}: {INV_FREQ} {list(stored.shape)} is not the rotary frequencies of "
                              f"{config.rotated_channels} channels per head that this configuration implies.")


def write_perceiver_ar_folder(
    output_plan: OutputPlan,
    *,
    tensors: MutableMapping[str, torch.Tensor],
    config: PerceiverARConfig,
    source: LibrarySource,
    tokenizer: Optional[Any],
    command: str,
    force: bool,
    progress: bool,
) -> Path:
    """Check that `tensors` (the library's keys) fill `PerceiverForCausalLM(config)` exactly, then write the folder:
    config.json, model.safetensors (the source in its header), the tokenizer (see `source_tokenizer`; None: none)
    and README.md."""
    what = f"{source.version} causal LM {source.name!r}"
    _check_rotary_buffer(tensors, config, what)
    config = mark_architecture(config, PerceiverForCausalLM)
    if tokenizer is not None:
        config.update({name: value for name, value in special_token_ids(tokenizer).items() if value is not None})
    rules = perceiver_ar_rules(config)
    check_rules(rules, {name: tuple(t.shape) for name, t in tensors.items()},
                expected_parameter_shapes(config, PerceiverForCausalLM), what)  # fmt: skip
    num_parameters = sum(t.numel() for t in tensors.values())
    return write_model_folder(
        output_plan,
        config=config,
        tensors=track(convert(rules, tensors, lambda t, transpose: t.contiguous()), len(rules), "converting", progress),
        model_card=_card(config, num_parameters, source, tokenizer, command),
        tokenizer=tokenizer,
        force=force,
        metadata={"source": source.name, "source_sha256": source.sha256, "source_library": source.version},
    )


def _card(config: PerceiverARConfig, num_parameters: int, source: LibrarySource, tokenizer: Any, command: str) -> str:
    if isinstance(tokenizer, PerceiverByteTokenizer):
        tokenizer = "The byte-level tokenizer (UTF-8 bytes + 6 special ids, left padding for batched generation) is included."
    elif tokenizer is not None:
        tokenizer = f"The source's tokenizer ({type(tokenizer).__name__}, left padding) is included."
    else:
        tokenizer = "No tokenizer is included: the source has another vocabulary and no tokenizer files; save its tokenizer into this folder."
    return f"""---
library_name: transformers
pipeline_tag: text-generation
tags: [perceiver-ar, perceiver-hf]
---

# Perceiver AR causal language model (converted)

Converted from {source.library}: `{source.name}` ({source.size:,} bytes, sha256 `{source.sha256}`), read as
{source.read_as}; the converter {source.read_note} and never runs the library's code.

- {num_parameters:,} parameters; {config.num_channels} channels, {config.num_heads} heads,
  {config.num_self_attention_layers} self-attention layers; up to {config.max_seq_len} tokens, of which the last
  {config.max_latents} are latents.
- {tokenizer}

```python
import perceiver_hf  # registers model_type "perceiver_ar" with the Auto classes
from transformers import pipeline

generator = pipeline("text-generation", model="PATH_TO_THIS_FOLDER")
print(generator("The", max_new_tokens=20)[0]["generated_text"])
```

Converted with `{command}`. See perceiver-hf's docs/causal-lm.md for what generation does once the text outgrows
the latents and max_seq_len.
"""


def source_tokenizer(library_config: Mapping[str, Any], config: PerceiverARConfig, folder: Optional[Path]) -> Any:
    """The tokenizer the converted folder gets, with left padding (batched generation) and `max_seq_len`:

    - the byte tokenizer when the source names transformers' `PerceiverTokenizer` (or no tokenizer) and has its
      262 ids;
    - else the tokenizer the source folder holds (the library's `convert_checkpoint` saves it beside the model),
      loaded with `AutoTokenizer` (no remote code);
    - else None (the model card says so).
    """
    if library_config.get("tokenizer_class") in (None, "PerceiverTokenizer") and config.vocab_size == 262:
        return PerceiverByteTokenizer(model_max_length=config.max_seq_len, padding_side="left")
    if folder is None or not (folder / "tokenizer_config.json").is_file():
        return None
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(
            str(folder), trust_remote_code=False, padding_side="left", model_max_length=config.max_seq_len
        )
    except Exception as error:  # noqa: BLE001 - any failure of a foreign tokenizer is the source's problem
        raise ConversionError(f"{folder} holds tokenizer files that do not load ({type(error).__name__}: "
                              f"{str(error).splitlines()[0] if str(error) else ''}); fix or remove them.") from None
    if len(tokenizer) > config.vocab_size:
        raise ConversionError(f"{folder}'s tokenizer has {len(tokenizer)} ids but the model only {config.vocab_size}; "
                              "it is not this model's tokenizer.")
    return tokenizer


__all__ = [
    "CAUSAL_LM",
    "source_tokenizer",
    "is_causal_lm_settings",
    "perceiver_ar_config",
    "perceiver_ar_rules",
    "write_perceiver_ar_folder",
]
