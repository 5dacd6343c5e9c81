"""Tokenizer, config and model for a training run, with the links between their sizes checked explicitly.

New model (preset or config file): `vocab_size = len(tokenizer)` and `max_seq_len = --max_seq_len` (else the
preset's). Pretrained model: the tokenizer must fit its vocabulary and `--max_seq_len` its positions. Every
mismatch is reported before any data is processed or weights are loaded. The model family (`ModelFamily`: Perceiver
IO for the masked-LM and classifier tasks, Perceiver AR for `--task causal-lm`) says which config class, presets and
checks apply.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Optional, Sequence

from transformers import AutoConfig, AutoTokenizer, PreTrainedConfig, PreTrainedModel, PreTrainedTokenizerBase

from ..config_fields import field_names, fine_tuning_fields
from ..configuration_perceiver import PerceiverConfig
from ..configuration_perceiver_ar import PerceiverARConfig
from ..modeling_perceiver import PerceiverForMaskedLM
from ..tokenization_perceiver import PerceiverByteTokenizer, special_token_ids
from .arguments import DataArguments, ModelArguments, config_flag_overrides, parse_config_overrides
from .presets import CAUSAL_LM_PRESETS, PRESETS, build_preset


def _perceiver_io_position_floats(config: PerceiverConfig, max_seq_len: int) -> int:
    return 2 * max_seq_len * config.num_input_channels  # input position encoding + decoder queries


def _perceiver_ar_position_floats(config: PerceiverARConfig, max_seq_len: int) -> int:
    return max_seq_len * config.num_channels if config.abs_pos_emb else 0


def _check_perceiver_ar_lengths(config: PerceiverARConfig, max_seq_len: int) -> None:
    if max_seq_len < config.max_latents:
        raise ValueError(
            f"--max_seq_len {max_seq_len} is shorter than the model's max_latents={config.max_latents}: each "
            f"example's last max_latents tokens are the latents. Use --max_seq_len {config.max_latents} or more "
            "(or, for a new model, a smaller --max_latents)."
        )


@dataclass(frozen=True)
class ModelFamily:
    """What a task trains: its config class, its presets, its learned position tables (for the memory check)
    and any check of the example length against the config."""

    config_class: type[PreTrainedConfig]
    presets: Mapping[str, Callable[..., PreTrainedConfig]]
    position_floats: Callable[[Any, int], int]  # (config, max_seq_len) -> float32 values of learned positions
    check_lengths: Callable[[Any, int], None] = lambda config, max_seq_len: None
    description: str = ""  # what a model of this family is, for errors naming a folder of another one
    task_hint: str = ""  # how to train such a model

    @property
    def model_type(self) -> str:
        return self.config_class.model_type

    @property
    def fine_tuning_fields(self) -> tuple[str, ...]:
        """Fields a fine-tuning run may change (declared with `fine_tuning=True`)."""
        return fine_tuning_fields(self.config_class)


PERCEIVER_IO = ModelFamily(
    PerceiverConfig, PRESETS, _perceiver_io_position_floats,
    description="a Perceiver IO masked LM or classifier", task_hint="train it with --task fill-mask (or a classifier --task)",
)  # fmt: skip
PERCEIVER_AR = ModelFamily(
    PerceiverARConfig, CAUSAL_LM_PRESETS, _perceiver_ar_position_floats, _check_perceiver_ar_lengths,
    description="a Perceiver AR causal LM", task_hint="train it with --task causal-lm",
)  # fmt: skip
FAMILIES = (PERCEIVER_IO, PERCEIVER_AR)

BYTE_TOKENIZER_NAMES = ("byte", "bytes", "perceiver-byte")


@dataclass
class ModelSetup:
    """The resolved model side of a run."""

    config: Any  # the family's config class
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


def _config_overrides(model_args: ModelArguments, config_groups: Sequence[Any], family: ModelFamily) -> dict[str, Any]:
    """--config_overrides, then the individual flags of every group (they win); a flag of a field the family's
    config lacks is refused."""
    overrides = parse_config_overrides(model_args.config_overrides, family.config_class)
    flags = {name: value for group in config_groups for name, value in config_flag_overrides(group).items()}
    foreign = sorted(set(flags) - set(field_names(family.config_class)))
    if foreign:
        owner = next(other for other in FAMILIES if foreign[0] in field_names(other.config_class))
        raise ValueError(
            f"--{foreign[0]} is a {owner.config_class.__name__} field; this run trains a {family.model_type} model "
            f"({family.config_class.__name__}): drop it, or {owner.task_hint}."
        )
    overrides.update(flags)  # individual flags win over --config_overrides
    return overrides


def _physical_memory() -> Optional[int]:
    """Bytes of RAM of this machine (None where the OS does not say)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None


def _check_positions_fit_in_memory(max_seq_len: int, position_floats: int) -> None:
    """Refuse a --max_seq_len whose learned positions (`position_floats` float32 values) exceed the RAM."""
    needed = position_floats * 4
    memory = _physical_memory()
    if memory is not None and needed > memory:
        raise ValueError(
            f"--max_seq_len {max_seq_len} needs {needed / 2**30:.1f} GiB for its learned positions alone (this machine "
            f"has {memory / 2**30:.1f} GiB of RAM). Use a length near your texts' (e.g. 2048)."
        )


def _check_sizes(
    config: Any, tokenizer: PreTrainedTokenizerBase, max_seq_len: int, what: str, family: ModelFamily
) -> None:
    if len(tokenizer) > config.vocab_size:
        raise ValueError(
            f"The tokenizer has {len(tokenizer)} tokens but {what} has vocab_size={config.vocab_size}: token ids "
            f">= {config.vocab_size} would have no embedding. Use the model's own tokenizer (or one with at most "
            f"{config.vocab_size} tokens), or train a new model."
        )
    _check_positions_fit_in_memory(max_seq_len, family.position_floats(config, max_seq_len))
    if max_seq_len > config.max_seq_len:
        raise ValueError(
            f"--max_seq_len {max_seq_len} exceeds {what}'s max_seq_len={config.max_seq_len} (its number of learned "
            f"positions). Use --max_seq_len {config.max_seq_len} or less."
        )
    family.check_lengths(config, max_seq_len)


def resolve_model_setup(
    model_args: ModelArguments,
    config_args: Any | Sequence[Any],
    data_args: DataArguments,
    tokenizer: PreTrainedTokenizerBase,
    family: ModelFamily = PERCEIVER_IO,
) -> ModelSetup:
    """Build (new model) or load and check (pretrained) the `family`'s config; link vocab_size and max_seq_len.
    `config_args`: one group of config flags or several (`TrainArguments.config_groups`)."""
    groups = tuple(config_args) if isinstance(config_args, (list, tuple)) else (config_args,)
    overrides = _config_overrides(model_args, groups, family)
    if model_args.model_name_or_path is not None:
        return _pretrained_setup(model_args, data_args, tokenizer, overrides, family)

    vocab_size = overrides.pop("vocab_size", len(tokenizer))
    model_max = overrides.pop("max_seq_len", None) or data_args.max_seq_len
    linked = {"vocab_size": vocab_size, **special_token_ids(tokenizer)}
    if model_args.preset is not None:
        what = f"the {model_args.preset} preset"
        if model_args.preset not in family.presets:
            raise ValueError(
                f"--preset {model_args.preset}: no such {family.model_type} preset; this task's presets are "
                f"{', '.join(family.presets)}."
            )
        base = build_preset(model_args.preset, family.presets, **overrides)
    else:
        what = f"the config {model_args.config_name}"
        base = _config_from_file(model_args.config_name, model_args.cache_dir, overrides, family)
    kwargs = {**_init_kwargs(base), **linked, "max_seq_len": model_max or base.max_seq_len}
    family.check_lengths(base, kwargs["max_seq_len"])  # before the config refuses it, naming the flags
    config = family.config_class(**kwargs)
    max_seq_len = data_args.max_seq_len or config.max_seq_len
    _check_sizes(config, tokenizer, max_seq_len, what, family)
    return ModelSetup(config=config, max_seq_len=max_seq_len, pretrained=False)


def _init_kwargs(config: PreTrainedConfig) -> dict[str, Any]:
    """The declared fields that reproduce `config` (a config of a family), with its special-token ids."""
    kwargs = {name: getattr(config, name) for name in field_names(type(config))}
    for name in ("bos_token_id", "eos_token_id"):  # PreTrainedConfig kwargs, set only where a config has them
        if getattr(config, name, None) is not None:
            kwargs[name] = getattr(config, name)
    return kwargs


def _load_config(name: str, cache_dir: Optional[str], revision: str = "main") -> Any:
    try:
        return AutoConfig.from_pretrained(name, cache_dir=cache_dir, revision=revision)
    except Exception as error:
        raise ValueError(f"Could not load a model config from {name!r} ({type(error).__name__}: {error}).") from error


def _require_model_type(config: Any, name: str, family: ModelFamily) -> None:
    found = getattr(config, "model_type", None)
    if found == family.model_type:
        return
    other = next((other for other in FAMILIES if other.model_type == found), None)
    if other is not None:
        hint = f" It is {other.description}: {other.task_hint}."
    elif found == "perceiver":
        hint = " It is transformers' own Perceiver: convert it first with `perceiver-hf convert`."
    else:
        hint = ""
    raise ValueError(f"{name} holds a {found or 'unknown'!r} model, not a {family.model_type!r} (perceiver-hf) model.{hint}")


def _config_from_file(name: str, cache_dir: Optional[str], overrides: dict[str, Any], family: ModelFamily) -> Any:
    config = _load_config(name, cache_dir)
    _require_model_type(config, name, family)
    return family.config_class(**{**_init_kwargs(config), **overrides})


def _pretrained_setup(
    model_args: ModelArguments,
    data_args: DataArguments,
    tokenizer: PreTrainedTokenizerBase,
    overrides: dict[str, Any],
    family: ModelFamily,
) -> ModelSetup:
    name = model_args.model_name_or_path
    config = _load_config(name, model_args.cache_dir, model_args.model_revision)
    _require_model_type(config, name, family)
    allowed = family.fine_tuning_fields
    not_allowed = sorted(set(overrides) - set(allowed))
    if not_allowed:
        raise ValueError(
            f"Cannot change {', '.join(not_allowed)} of the pretrained model {name}: that changes its architecture. "
            f"When fine-tuning only {', '.join(allowed)} may be overridden."
        )
    config = family.config_class(**{**_init_kwargs(config), **overrides})
    max_seq_len = data_args.max_seq_len or config.max_seq_len
    _check_sizes(config, tokenizer, max_seq_len, f"the pretrained model {name}", family)
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


__all__ = [
    "BYTE_TOKENIZER_NAMES",
    "FAMILIES",
    "PERCEIVER_AR",
    "PERCEIVER_IO",
    "ModelFamily",
    "ModelSetup",
    "build_model",
    "load_tokenizer",
    "resolve_model_setup",
]
