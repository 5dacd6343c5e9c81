"""Argument dataclasses of `perceiver-hf train` (parsed with transformers' `HfArgumentParser`).

Following transformers' run_mlm.py: `ModelArguments` (what to train), `DataArguments` (on what),
`MaskingArguments` (how to mask), plus transformers' own `TrainingArguments`. `PerceiverConfigArguments` has one
optional flag per `PerceiverConfig` field (generated from the fields' declarations, type and help text, so it
never falls out of date), e.g. `--num_latents 128`; `PerceiverARConfigArguments` one per `PerceiverARConfig` field
that `PerceiverConfig` does not have (`--max_latents`, `--num_channels`, `--cross_attention_dropout`, ...; the
shared names, such as `--self_attention_widening_factor`, are one flag for both). `vocab_size` and `max_seq_len`
are not flags: they come from the tokenizer and from `DataArguments.max_seq_len`.
"""

from __future__ import annotations

import dataclasses
import glob
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from ..config_fields import declared_fields, field_names, fine_tuning_fields, type_name, value_type
from ..config_overrides import parse_config_overrides
from ..configuration_perceiver import PerceiverConfig
from ..configuration_perceiver_ar import PerceiverARConfig
from .masking import MASKING_STRATEGIES
from .presets import CAUSAL_LM_PRESETS, PRESETS

DATA_FILE_TYPES = {".txt": "text", ".text": "text", ".json": "json", ".jsonl": "json", ".csv": "csv"}
LINKED_CONFIG_FIELDS = ("vocab_size", "max_seq_len", "pad_token_id", "bos_token_id", "eos_token_id")
"""Config fields set by the training setup (tokenizer, data arguments), not by flags."""
FINE_TUNING_CONFIG_FIELDS = fine_tuning_fields(PerceiverConfig)
"""Fields that may be changed when fine-tuning a pretrained model (declared with `fine_tuning=True`; the others
change its architecture; the `classifier_*` fields shape the new head that `--task text-classification` adds to a
masked-LM model)."""


@dataclass
class ModelArguments:
    """Which model to train: a preset, a config file, or a pretrained model to fine-tune."""

    preset: Optional[str] = field(
        default=None,
        metadata={
            "help": "Train a new model from a preset: language_perceiver (DeepMind's byte model, 201M parameters), "
            "perceiver_io_base (paper Table 11, 223M with a 32,000 vocabulary) or tiny (tests, smoke runs); with "
            "--task causal-lm: perceiver_ar (the perceiver-io library's CausalLanguageModelConfig defaults) or tiny.",
            "choices": list(dict.fromkeys([*PRESETS, *CAUSAL_LM_PRESETS])),
        },
    )
    model_name_or_path: Optional[str] = field(
        default=None,
        metadata={
            "help": "Fine-tune a pretrained perceiver_io model (local folder or Hub id), e.g. a DeepMind checkpoint "
            "converted with `perceiver-hf convert`; with --task causal-lm a perceiver_ar model."
        },
    )
    config_name: Optional[str] = field(
        default=None, metadata={"help": "Train a new model from a config.json (folder or file) instead of a preset."}
    )
    config_overrides: Optional[str] = field(
        default=None,
        metadata={
            "help": "Comma-separated PerceiverConfig overrides, e.g. 'num_latents=128,num_latent_channels=512,"
            "dropout=0.1' (None for an empty value); PerceiverARConfig ones with --task causal-lm, e.g. "
            "'max_latents=64'. Individual flags such as --num_latents do the same."
        },
    )
    tokenizer_name: Optional[str] = field(
        default=None,
        metadata={
            "help": "'byte' for PerceiverByteTokenizer, or any AutoTokenizer name or folder (e.g. xlnet-base-cased, "
            "a SentencePiece tokenizer). Default: the model's own tokenizer with --model_name_or_path, else 'byte'."
        },
    )
    cache_dir: Optional[str] = field(
        default=None, metadata={"help": "Where to cache Hub downloads and processed datasets."}
    )
    model_revision: str = field(default="main", metadata={"help": "Hub revision (branch, tag or commit) of the model."})
    card_license: Optional[str] = field(
        default=None,
        metadata={
            "help": "Hub license id for the model card written to output_dir (README.md), e.g. apache-2.0. "
            "Default: the license in the base model's card when fine-tuning, else 'unknown'."
        },
    )
    freeze_encoder: bool = field(
        default=False,
        metadata={
            "help": "Train only the decoder (the task head): the encoder's weights, embedding included, stay as "
            "loaded (the perceiver-io library's decoder-only fine-tuning)."
        },
    )
    force: bool = field(
        default=False,
        metadata={
            "help": "Replace a non-empty --output_dir that perceiver-hf wrote (a folder of anyone else is never "
            "replaced; remove it yourself)."
        },
    )

    def __post_init__(self) -> None:
        if self.card_license is not None and not self.card_license.strip():
            raise ValueError("--card_license is empty; give a Hub license id such as apache-2.0, or leave it out.")
        sources = [name for name in ("preset", "model_name_or_path", "config_name") if getattr(self, name)]
        if len(sources) > 1:
            raise ValueError(
                f"Pass only one of --preset, --model_name_or_path and --config_name (got {', '.join(sources)}): "
                "a preset or config file creates a new model, --model_name_or_path fine-tunes an existing one."
            )
        if not sources:
            raise ValueError(
                "Say which model to train: --preset language_perceiver|perceiver_io_base|tiny (new model), "
                "--config_name path/to/config.json (new model) or --model_name_or_path FOLDER_OR_HUB_ID (fine-tune)."
            )


@dataclass
class DataArguments:
    """What to train and evaluate on, and how to cut it into model inputs."""

    dataset_name: Optional[str] = field(
        default=None, metadata={"help": "A dataset on the Hugging Face Hub (e.g. wikimedia/wikipedia)."}
    )
    dataset_config_name: Optional[str] = field(
        default=None, metadata={"help": "Configuration of --dataset_name (e.g. 20231101.en)."}
    )
    train_file: Optional[list[str]] = field(
        default=None,
        metadata={"help": "Local training data: one or more .txt, .json/.jsonl or .csv files (glob patterns allowed)."},
    )
    validation_file: Optional[list[str]] = field(
        default=None, metadata={"help": "Local evaluation data (same formats as --train_file)."}
    )
    validation_split_percentage: int = field(
        default=5,
        metadata={"help": "Without a validation split or file, hold out this percentage of the training data."},
    )
    text_column_name: str = field(
        default="text", metadata={"help": "Column holding the text (json, csv, Hub).", "aliases": ["--text_column"]}
    )
    max_seq_len: Optional[int] = field(
        default=None,
        metadata={
            "help": "Tokens per training example (the model's max_seq_len for a new model). Default: the preset's "
            "or pretrained model's max_seq_len."
        },
    )
    line_by_line: bool = field(
        default=False,
        metadata={"help": "One example per line/record (truncated), instead of concatenating and cutting into chunks."},
    )
    keep_linebreaks: bool = field(
        default=True, metadata={"help": "Keep the newline at the end of every line of .txt files."}
    )
    preprocessing_num_workers: Optional[int] = field(
        default=None, metadata={"help": "Processes for tokenization and grouping."}
    )
    overwrite_cache: bool = field(default=False, metadata={"help": "Recompute tokenized datasets instead of reusing the cache."})
    max_train_samples: Optional[int] = field(
        default=None, metadata={"help": "Use at most this many training examples (after grouping)."}
    )
    max_eval_samples: Optional[int] = field(
        default=None, metadata={"help": "Use at most this many evaluation examples (after grouping)."}
    )

    def __post_init__(self) -> None:
        if self.dataset_name is None and self.train_file is None and self.validation_file is None:
            raise ValueError("Give the data: --dataset_name NAME (Hub) or --train_file FILE (.txt, .json, .jsonl, .csv).")
        if self.dataset_name is not None and (self.train_file or self.validation_file):
            raise ValueError("Use either --dataset_name or --train_file/--validation_file, not both.")
        self.train_file = expand_data_files(self.train_file, "--train_file")
        self.validation_file = expand_data_files(self.validation_file, "--validation_file")
        files = (self.train_file or []) + (self.validation_file or [])
        types = {data_file_type(path) for path in files}
        if len(types) > 1:
            raise ValueError(f"All data files must have the same format (text, json or csv), got {', '.join(files)}.")
        if self.max_seq_len is not None and self.max_seq_len < 1:
            raise ValueError(f"--max_seq_len must be a positive number of tokens, got {self.max_seq_len}.")
        if not 0 <= self.validation_split_percentage < 100:
            raise ValueError(f"--validation_split_percentage must be in [0, 100), got {self.validation_split_percentage}.")


def expand_data_files(paths: Optional[str | list[str]], flag: str) -> Optional[list[str]]:
    """Expand glob patterns; raise ValueError for files or patterns that match nothing."""
    if paths is None:
        return None
    expanded: list[str] = []
    for path in [paths] if isinstance(paths, str) else paths:
        data_file_type(path)  # a wrong extension is the clearer message
        matches = sorted(glob.glob(path)) if glob.has_magic(path) else [path]
        missing = [match for match in matches if not Path(match).is_file()]
        if not matches or missing:
            raise ValueError(f"{flag} {path}: {'no such file' if missing else 'the pattern matches no file'}.")
        expanded.extend(matches)
    return expanded


def data_file_type(path: str) -> str:
    """The `datasets` builder ("text", "json", "csv") for a data file, from its extension."""
    suffix = Path(path).suffix.lower()
    if suffix not in DATA_FILE_TYPES:
        raise ValueError(
            f"Cannot read {path}: the extension {suffix or '(none)'} is not one of {', '.join(DATA_FILE_TYPES)}."
        )
    return DATA_FILE_TYPES[suffix]


@dataclass
class MaskingArguments:
    """How training examples are masked (see `perceiver_hf.training.collators.PerceiverMLMCollator`)."""

    masking: str = field(
        default="token",
        metadata={
            "help": "token: each token with mlm_probability; whole_word: each word (for bytes: the bytes of a word "
            "with the space before it); span: SpanBERT runs of whole words.",
            "choices": list(MASKING_STRATEGIES),
        },
    )
    mlm_probability: float = field(default=0.15, metadata={"help": "Share of tokens (words for whole_word) to mask."})
    mask_replace_prob: float = field(default=0.8, metadata={"help": "Share of masked tokens replaced by [MASK]."})
    random_replace_prob: float = field(
        default=0.1, metadata={"help": "Share of masked tokens replaced by a random token (the rest stay unchanged)."}
    )
    mean_span_length: float = field(default=3.0, metadata={"help": "Span masking: mean span length in words."})
    max_span_length: int = field(default=10, metadata={"help": "Span masking: longest span in words."})
    decode_only: bool = field(
        default=True,
        metadata={
            "help": "Decode only the masked positions (output_positions), so the decoder and the loss cover only "
            "them. --decode_only false decodes every position (same loss, slower)."
        },
    )


def _make_config_arguments(config_class: type, skip: tuple[str, ...], shared: tuple[str, ...] = ()) -> type:
    """A dataclass of one optional flag per field of `config_class` (those in `skip` left out); the help of a
    field in `shared` says that it sets PerceiverARConfig's field of that name too."""
    fields = []
    for config_field in declared_fields(config_class):
        if config_field.name in skip:
            continue
        owner = f"{config_class.__name__} field" + (", also PerceiverARConfig's" if config_field.name in shared else "")
        task = ", --task causal-lm" if config_class is PerceiverARConfig else ""
        note = f"{owner}{task}; default: the preset's value"
        help_text = f"{config_field.metadata['help']} [{type_name(config_field)[0]}] ({note})"
        flag_type = Optional[value_type(config_field)]  # type: ignore[misc]  # every flag may be left out
        fields.append((config_field.name, flag_type, field(default=None, metadata={"help": help_text})))
    name = f"{config_class.__name__}Arguments"
    doc = f"One optional flag per {config_class.__name__} field (None = keep the preset's value)."
    return dataclasses.make_dataclass(name, fields, namespace={"__doc__": doc})


SHARED_CONFIG_FIELDS = tuple(name for name in field_names(PerceiverARConfig) if name in field_names(PerceiverConfig))
"""Fields both configs have: one flag, in `PerceiverConfigArguments`, applies to whichever model the task trains."""
PerceiverConfigArguments = _make_config_arguments(PerceiverConfig, LINKED_CONFIG_FIELDS, SHARED_CONFIG_FIELDS)
INFERENCE_ONLY_FIELDS = ("is_decoder", "use_cache")
"""PerceiverARConfig fields without a flag: a causal decoder always; the cache is for inference (and `--use_cache`
is `TrainingArguments`' own flag)."""
PerceiverARConfigArguments = _make_config_arguments(
    PerceiverARConfig, LINKED_CONFIG_FIELDS + SHARED_CONFIG_FIELDS + INFERENCE_ONLY_FIELDS
)


def config_flag_overrides(config_args: Any) -> dict[str, Any]:
    """The config fields given as individual flags (those not None) in one group of config flags."""
    return {f.name: getattr(config_args, f.name) for f in dataclasses.fields(config_args) if getattr(config_args, f.name) is not None}


__all__ = [
    "DataArguments",
    "FINE_TUNING_CONFIG_FIELDS",
    "LINKED_CONFIG_FIELDS",
    "MaskingArguments",
    "ModelArguments",
    "PerceiverARConfigArguments",
    "PerceiverConfigArguments",
    "SHARED_CONFIG_FIELDS",
    "config_flag_overrides",
    "data_file_type",
    "expand_data_files",
    "parse_config_overrides",
]
