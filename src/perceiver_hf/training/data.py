"""Training data through `datasets`: load local files or Hub datasets, tokenize, cut into `max_seq_len` chunks.

Every `map` step is cached by `datasets` (cache files next to the loaded data, keyed by a fingerprint of the
function and its arguments), so a second run with the same data and tokenizer skips the work.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any, Callable, ContextManager, Optional

from datasets import Dataset, DatasetDict, load_dataset
from transformers import PreTrainedTokenizerBase

from .arguments import DataArguments, data_file_type
from .collators import PerceiverMLMCollator, premask_example
from .file_checks import diagnose_data_file


def load_raw_datasets(data_args: DataArguments, cache_dir: Optional[str] = None) -> DatasetDict:
    """Load the "train" and (if available) "validation" splits from files or the Hub.

    Without a validation split or file, `validation_split_percentage` percent of the training records are held
    out (the first ones, as in run_mlm.py). Raises ValueError for empty or unreadable data, data without the
    text column, and datasets that cannot be loaded.
    """
    if data_args.dataset_name is not None:
        builder, builder_args, kwargs = data_args.dataset_name, (data_args.dataset_config_name,), {}
        data_files = None
        source = f"the Hub dataset {data_args.dataset_name!r}"
    else:
        # DataArguments already expanded the paths and checked that the files exist
        data_files = {
            split: paths
            for split, paths in (("train", data_args.train_file), ("validation", data_args.validation_file))
            if paths
        }
        empty = [path for paths in data_files.values() for path in paths if Path(path).stat().st_size == 0]
        if empty:
            raise ValueError(f"The data file {empty[0]} is empty (0 bytes).")
        builder = data_file_type(next(iter(data_files.values()))[0])
        builder_args = ()
        kwargs = {"keep_linebreaks": data_args.keep_linebreaks} if builder == "text" else {}
        source = ", ".join(path for paths in data_files.values() for path in paths)

    try:
        raw = load_dataset(builder, *builder_args, data_files=data_files, cache_dir=cache_dir, **kwargs)
    except Exception as error:  # network, parsing, unknown dataset: all surface with their own message
        if "corresponds to no data" in str(error):
            raise ValueError(f"{source} holds no records.") from error
        for path in (path for paths in (data_files or {}).values() for path in paths):
            problem = diagnose_data_file(path)
            if problem:
                raise ValueError(problem) from error
        raise ValueError(f"Could not load {source}: {type(error).__name__}: {error}") from error
    if not isinstance(raw, DatasetDict):
        raise ValueError(f"{source} did not load as named splits (got {type(raw).__name__}); pass --train_file.")
    raw = DatasetDict({split: raw[split] for split in ("train", "validation") if split in raw})
    for split, dataset in raw.items():
        check_raw_split(dataset, split, data_args.text_column_name)
    if "train" in raw and "validation" not in raw and data_args.validation_split_percentage > 0:
        raw = hold_out(raw["train"], data_args.validation_split_percentage)
    return raw


def hold_out(train: Dataset, percent: int) -> DatasetDict:
    """Split off the first `percent` percent of the records (rounded) as "validation"."""
    num_records = len(train)
    num_held_out = round(num_records * percent / 100)
    if not 0 < num_held_out < num_records:
        raise ValueError(
            f"Holding out {percent}% of {num_records} training records leaves "
            f"{'no validation' if num_held_out == 0 else 'no training'} data. Pass --validation_file, another "
            "--validation_split_percentage, or --validation_split_percentage 0 to skip evaluation."
        )
    return DatasetDict(
        {"train": train.select(range(num_held_out, num_records)), "validation": train.select(range(num_held_out))}
    )


def check_raw_split(dataset: Dataset, split: str, text_column: str) -> None:
    """Raise ValueError if `dataset` is empty or has no `text_column` (before any expensive work)."""
    if text_column not in dataset.column_names:
        raise ValueError(
            f"The {split} data has no column {text_column!r}; its columns are {dataset.column_names}. "
            "Pass --text_column_name with the column that holds the text."
        )
    if len(dataset) == 0:
        hint = " (or pass --validation_file / a larger --validation_split_percentage)" if split == "validation" else ""
        raise ValueError(f"The {split} data is empty (0 records); check the file or dataset split{hint}.")


def tokenize_batch(
    examples: dict[str, list[Any]],
    tokenizer: PreTrainedTokenizerBase,
    text_column: str,
    max_length: Optional[int],
) -> dict[str, list[list[int]]]:
    """`datasets.map` function: tokenize the text column (None -> ""); truncate to `max_length` if given.

    With `max_length` (line-by-line mode) blank records are dropped.
    """
    texts = [text if isinstance(text, str) else "" for text in examples[text_column]]
    if max_length is not None:
        texts = [text for text in texts if text.strip()]
    encoded = tokenizer(
        texts,
        truncation=max_length is not None,
        max_length=max_length,
        return_attention_mask=False,
        verbose=False,
    )
    return {"input_ids": encoded["input_ids"]}


def group_batch(examples: dict[str, list[list[int]]], max_seq_len: int) -> dict[str, list[list[int]]]:
    """`datasets.map` function: concatenate token ids and cut them into chunks of `max_seq_len`.

    The last, shorter chunk is kept (the collator pads it), so no text is dropped.
    """
    concatenated = [token for ids in examples["input_ids"] for token in ids]
    return {"input_ids": [concatenated[i : i + max_seq_len] for i in range(0, len(concatenated), max_seq_len)]}


def tokenize_and_group(
    raw: DatasetDict,
    tokenizer: PreTrainedTokenizerBase,
    data_args: DataArguments,
    max_seq_len: int,
    main_process_first: Callable[[str], ContextManager[Any]] = lambda desc: contextlib.nullcontext(),
) -> DatasetDict:
    """Tokenize every split and cut it into chunks of `max_seq_len` tokens (one example per record, truncated,
    with `--line_by_line`); apply --max_train_samples / --max_eval_samples.

    Returns splits with `input_ids` only. Raises ValueError if a split ends up without any tokens.
    `main_process_first(desc)` lets rank 0 fill the cache before the other processes read it.
    """
    common = {"num_proc": data_args.preprocessing_num_workers, "load_from_cache_file": not data_args.overwrite_cache}
    prepared = {}
    for split, dataset in raw.items():
        check_raw_split(dataset, split, data_args.text_column_name)
        with main_process_first(f"{split}: tokenization"):
            dataset = dataset.map(
                tokenize_batch,
                batched=True,
                remove_columns=dataset.column_names,
                fn_kwargs={
                    "tokenizer": tokenizer,
                    "text_column": data_args.text_column_name,
                    "max_length": max_seq_len if data_args.line_by_line else None,
                },
                desc=f"Tokenizing {split}",
                **common,
            )
            if not data_args.line_by_line:
                dataset = dataset.map(
                    group_batch,
                    batched=True,
                    batch_size=1000,
                    fn_kwargs={"max_seq_len": max_seq_len},
                    desc=f"Grouping {split} into chunks of {max_seq_len}",
                    **common,
                )
        limit = data_args.max_train_samples if split == "train" else data_args.max_eval_samples
        if limit is not None:
            dataset = dataset.select(range(min(limit, len(dataset))))
        if len(dataset) == 0 or sum(len(ids) for ids in dataset[:1]["input_ids"]) == 0:
            raise ValueError(f"The {split} data holds no tokens after tokenization (only blank text?).")
        prepared[split] = dataset
    return DatasetDict(prepared)


def prepare_datasets(
    raw: DatasetDict,
    tokenizer: PreTrainedTokenizerBase,
    data_args: DataArguments,
    max_seq_len: int,
    collator: PerceiverMLMCollator,
    seed: int,
    main_process_first: Callable[[str], ContextManager[Any]] = lambda desc: contextlib.nullcontext(),
) -> DatasetDict:
    """The masked-LM splits: `tokenize_and_group`, then "validation" pre-masked with fixed masks (the same every
    evaluation).

    Returns splits with `input_ids` (and `labels` for "validation"). Raises ValueError if a split ends up
    without any tokens. `main_process_first(desc)` lets rank 0 fill the cache before the other processes read it.
    """
    prepared = tokenize_and_group(raw, tokenizer, data_args, max_seq_len, main_process_first)
    if "validation" in prepared:
        common = {"num_proc": data_args.preprocessing_num_workers, "load_from_cache_file": not data_args.overwrite_cache}
        with main_process_first("validation: masking"):
            prepared["validation"] = prepared["validation"].map(
                premask_example, fn_kwargs={"collator": collator, "seed": seed}, desc="Masking validation", **common
            )
    return prepared


__all__ = [
    "check_raw_split",
    "group_batch",
    "hold_out",
    "load_raw_datasets",
    "prepare_datasets",
    "tokenize_and_group",
    "tokenize_batch",
]
