"""Tokenizer, config and model for a training run, with the links between their sizes checked explicitly.

New model (preset or config file): `vocab_size = len(tokenizer)` and `max_seq_len = --max_seq_len` (else the
preset's). Pretrained model: the tokenizer must fit its vocabulary and `--max_seq_len` its positions. Every
mismatch is reported before any data is processed or weights are loaded.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Optional

from transformers import AutoConfig, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase

from ..config_fields import field_names
from ..configuration_perceiver import PerceiverConfig
from ..modeling_perceiver import PerceiverForMaskedLM
from ..tokenization_perceiver import PerceiverByteTokenizer, special_token_ids
from .arguments import (
    FINE_TUNING_CONFIG_FIELDS,
    DataArguments,
    ModelArguments,
    config_flag_overrides,
    parse_config_overrides,
)
from .presets import build_preset

BYTE_TOKENIZER_NAMES = ("byte", "bytes", "perceiver-byte")


@dataclass
class ModelSetup:
    """The resolved model side of a run."""

    config: PerceiverConfig
    max_seq_len: int  # tokens per training example (<= config.max_seq_len)
    pretrained: bool  # fine-tuning `model_name_or_path` (True) or training a new model (False)


def load_tokenizer(model_args: ModelArguments) -> PreTrainedTokenizerBase:
    """The run's tokenizer: 'byte' -> PerceiverByteTokenizer, anything else through AutoTokenizer."""
    name = model_args.tokenizer_name or model_args.model_name_or_path or "byte"
    if name.lower() in BYTE_TOKENIZER_NAMES:
        return PerceiverByteTokenizer()
    try:
        return AutoTokenizer.from_pretrained(name, cache_dir=model_args.cache_dir)
    except Exception as error:  # OSError (not found / offline), ValueError (unknown class), ...
        raise ValueError(
            f"Could not load the tokenizer {name!r} ({type(error).__name__}: {error}). Pass --tokenizer_name byte "
            "for the UTF-8 byte tokenizer, or a tokenizer folder or Hub id (Hub ids need network access)."
        ) from error


def _config_overrides(model_args: ModelArguments, config_args: Any) -> dict[str, Any]:
    overrides = parse_config_overrides(model_args.config_overrides)
    overrides.update(config_flag_overrides(config_args))  # individual flags win over --config_overrides
    return overrides


def _physical_memory() -> Optional[int]:
    """Bytes of RAM of this machine (None where the OS does not say)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None


def _check_positions_fit_in_memory(max_seq_len: int, channels: int) -> None:
    """Refuse a --max_seq_len whose learned positions (input encoding + output queries, float32) exceed the RAM."""
    needed = 2 * max_seq_len * channels * 4
    memory = _physical_memory()
    if memory is not None and needed > memory:
        raise ValueError(
            f"--max_seq_len {max_seq_len} needs {needed / 2**30:.1f} GiB for its learned positions alone (this machine "
            f"has {memory / 2**30:.1f} GiB of RAM). Use a length near your texts' (e.g. 2048)."
        )


def _check_sizes(config: PerceiverConfig, tokenizer: PreTrainedTokenizerBase, max_seq_len: int, what: str) -> None:
    if len(tokenizer) > config.vocab_size:
        raise ValueError(
            f"The tokenizer has {len(tokenizer)} tokens but {what} has vocab_size={config.vocab_size}: token ids "
            f">= {config.vocab_size} would have no embedding. Use the model's own tokenizer (or one with at most "
            f"{config.vocab_size} tokens), or train a new model."
        )
    _check_positions_fit_in_memory(max_seq_len, config.num_input_channels)
    if max_seq_len > config.max_seq_len:
        raise ValueError(
            f"--max_seq_len {max_seq_len} exceeds {what}'s max_seq_len={config.max_seq_len} (its number of learned "
            f"positions). Use --max_seq_len {config.max_seq_len} or less."
        )


def resolve_model_setup(
    model_args: ModelArguments, config_args: Any, data_args: DataArguments, tokenizer: PreTrainedTokenizerBase
) -> ModelSetup:
    """Build (new model) or load and check (pretrained) the config; link vocab_size and max_seq_len."""
    overrides = _config_overrides(model_args, config_args)
    if model_args.model_name_or_path is not None:
        return _pretrained_setup(model_args, data_args, tokenizer, overrides)

    vocab_size = overrides.pop("vocab_size", len(tokenizer))
    model_max = overrides.pop("max_seq_len", None) or data_args.max_seq_len
    linked = {"vocab_size": vocab_size, **special_token_ids(tokenizer)}
    if model_args.preset is not None:
        what = f"the {model_args.preset} preset"
        base = build_preset(model_args.preset, **overrides)
    else:
        what = f"the config {model_args.config_name}"
        base = _config_from_file(model_args.config_name, model_args.cache_dir, overrides)
    config = PerceiverConfig(**{**_init_kwargs(base), **linked, "max_seq_len": model_max or base.max_seq_len})
    max_seq_len = data_args.max_seq_len or config.max_seq_len
    _check_sizes(config, tokenizer, max_seq_len, what)
    return ModelSetup(config=config, max_seq_len=max_seq_len, pretrained=False)


def _init_kwargs(config: PerceiverConfig) -> dict[str, Any]:
    """The `PerceiverConfig` fields that reproduce `config`, with its special-token ids."""
    kwargs = {name: getattr(config, name) for name in field_names(PerceiverConfig)}
    for name in ("bos_token_id", "eos_token_id"):  # PreTrainedConfig kwargs, set only where a config has them
        if getattr(config, name, None) is not None:
            kwargs[name] = getattr(config, name)
    return kwargs


def _load_config(name: str, cache_dir: Optional[str], revision: str = "main") -> Any:
    try:
        return AutoConfig.from_pretrained(name, cache_dir=cache_dir, revision=revision)
    except Exception as error:
        raise ValueError(f"Could not load a model config from {name!r} ({type(error).__name__}: {error}).") from error


def _require_perceiver_io(config: Any, name: str) -> None:
    if getattr(config, "model_type", None) != PerceiverConfig.model_type:
        hint = (
            " It is transformers' own Perceiver: convert it first with `perceiver-hf convert`."
            if getattr(config, "model_type", None) == "perceiver"
            else ""
        )
        raise ValueError(
            f"{name} holds a {getattr(config, 'model_type', 'unknown')!r} model, not a {PerceiverConfig.model_type!r} "
            f"(perceiver-hf) model.{hint}"
        )


def _config_from_file(name: str, cache_dir: Optional[str], overrides: dict[str, Any]) -> PerceiverConfig:
    config = _load_config(name, cache_dir)
    _require_perceiver_io(config, name)
    return PerceiverConfig(**{**_init_kwargs(config), **overrides})


def _pretrained_setup(
    model_args: ModelArguments,
    data_args: DataArguments,
    tokenizer: PreTrainedTokenizerBase,
    overrides: dict[str, Any],
) -> ModelSetup:
    name = model_args.model_name_or_path
    config = _load_config(name, model_args.cache_dir, model_args.model_revision)
    _require_perceiver_io(config, name)
    not_allowed = sorted(set(overrides) - set(FINE_TUNING_CONFIG_FIELDS))
    if not_allowed:
        raise ValueError(
            f"Cannot change {', '.join(not_allowed)} of the pretrained model {name}: that changes its architecture. "
            f"When fine-tuning only {', '.join(FINE_TUNING_CONFIG_FIELDS)} may be overridden."
        )
    config = PerceiverConfig(**{**_init_kwargs(config), **overrides})
    max_seq_len = data_args.max_seq_len or config.max_seq_len
    _check_sizes(config, tokenizer, max_seq_len, f"the pretrained model {name}")
    return ModelSetup(config=config, max_seq_len=max_seq_len, pretrained=True)


def build_model(
    model_args: ModelArguments, setup: ModelSetup, model_class: type[PreTrainedModel] = PerceiverForMaskedLM
) -> PreTrainedModel:
    """A freshly initialised `model_class` (call `set_seed` first) or the pretrained weights with `setup.config`
    (a head the checkpoint lacks, such as a new classifier, is initialised and reported)."""
    if not setup.pretrained:
        return model_class(setup.config)
    return model_class.from_pretrained(
        model_args.model_name_or_path,
        config=setup.config,
        cache_dir=model_args.cache_dir,
        revision=model_args.model_revision,
    )


__all__ = ["BYTE_TOKENIZER_NAMES", "ModelSetup", "build_model", "load_tokenizer", "resolve_model_setup"]
