"""Strict weight loading: `from_pretrained` of a Perceiver IO class fails when weights are missing, unexpected or
mis-shaped, instead of answering with randomly initialised ones.

transformers (5.x) only logs a load report for missing and unexpected weights (the model then holds random
values for them) and raises "You set `ignore_mismatched_sizes` to `False`" for mis-shaped ones. Here every load
asks for the loading info and raises `WeightsMismatchError`, one line naming the checkpoint, the offending keys
and the fix. The allowance is transformers' own class attributes: keys matching `_keys_to_ignore_on_load_missing`
(a task head's newly initialised weights) or `_keys_to_ignore_on_load_unexpected` (e.g. the masked-LM head that
a base `PerceiverModel` drops) are removed from the loading info by transformers before the check. Mis-shaped
weights are accepted only when the caller passes `ignore_mismatched_sizes=True` itself. A task head (the
classification heads' `classifier.*`) that a checkpoint lacks entirely, as a masked-LM checkpoint does, is the one
allowed gap (`load_strictly(..., new_head=prefixes)`): those weights are initialised and named in transformers'
"newly initialized" warning; a checkpoint holding part of the head, or lacking anything else, is refused.

`WeightsMismatchError` is a `RuntimeError`, as transformers' own refusal of mis-shaped weights is, so code written
for transformers catches it. One caller must not see a `RuntimeError`: `transformers.pipeline(...)` retries a load
that raised OSError/ValueError/TypeError/RuntimeError with the class config.json's `architectures` names, which for
a perceiver-hf folder is transformers' own `PerceiverForMaskedLM`: it loads none of the weights and answers with
random fills. Under a pipeline (a load called from `transformers.pipelines.base.load_model`: the pipeline's own
`_from_pipeline` flag does not survive the Auto classes) the same message is raised as
`PipelineWeightsMismatchError`, which the pipeline lets through.

A config's sizes are checked against the weights before anything is allocated (`check_config_fits_weights`): the
shapes the config implies (the model built on the meta device) are compared with the shapes in the safetensors
headers, and no integer in config.json may exceed the number of values the weights hold, so a small folder whose
config.json says `num_latents=10**7` fails at once instead of allocating gigabytes first.
Only transformers, torch, safetensors and the standard library are used, so this also works in exported remote code.
"""

from __future__ import annotations

import json
import logging
import math
import sys
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping, Optional

import torch
from safetensors import SafetensorError, safe_open

_SHOWN_KEYS = 3


class WeightsMismatchError(RuntimeError):
    """The checkpoint's weights do not fit the model: some are missing, unexpected or of another shape."""


class PipelineWeightsMismatchError(Exception):
    """`WeightsMismatchError` raised under `transformers.pipeline(...)`: not a RuntimeError, so that the pipeline
    does not retry with transformers' own `PerceiverForMaskedLM` (which would answer with random weights)."""


_PIPELINE_LOADER = ("transformers.pipelines.base", "load_model")


def loading_for_a_pipeline(max_depth: int = 64) -> bool:
    """Whether this load runs inside `transformers.pipelines.base.load_model` (looked up the call stack)."""
    frame = sys._getframe(1)
    for _ in range(max_depth):
        if frame is None:
            return False
        if (frame.f_globals.get("__name__"), frame.f_code.co_name) == _PIPELINE_LOADER:
            return True
        frame = frame.f_back
    return False


def _keys(keys: Iterable[str]) -> str:
    names = sorted(keys)
    more = f" and {len(names) - _SHOWN_KEYS} more" if len(names) > _SHOWN_KEYS else ""
    return ", ".join(names[:_SHOWN_KEYS]) + more


def _mismatched(entries: Iterable[Any]) -> str:
    described = []
    for entry in sorted(entries, key=str):
        if isinstance(entry, (tuple, list)) and len(entry) == 3:
            key, checkpoint, model = entry
            described.append(f"{key} (checkpoint {list(checkpoint)}, model {list(model)})")
        else:
            described.append(str(entry))
    return _keys(described)


def weight_problems(info: dict[str, Any], allow_mismatched: bool = False) -> list[str]:
    """The problems in a transformers loading info (`output_loading_info=True`), e.g. ["2 missing (a, b)"]."""
    problems = []
    for field, label in (("missing_keys", "missing"), ("unexpected_keys", "unexpected")):
        keys = set(info.get(field) or ())
        if keys:
            problems.append(f"{len(keys)} {label} ({_keys(keys)})")
    mismatched = list(info.get("mismatched_keys") or ())
    if mismatched and not allow_mismatched:
        problems.append(f"{len(mismatched)} mis-shaped ({_mismatched(mismatched)})")
    errors = list(info.get("error_msgs") or ())
    if errors:
        problems.append("errors: " + "; ".join(str(error).replace("\n", " ") for error in errors))
    return problems


def check_loading_info(
    class_name: str, where: str, info: dict[str, Any], allow_mismatched: bool = False, error: type = WeightsMismatchError
) -> None:
    """Raise `WeightsMismatchError` unless `info` (transformers' loading info) reports a complete, exact load.

    Args:
        class_name: the loading class, for the message.
        where: the checkpoint (folder or Hub id), for the message.
        info: the dict `from_pretrained(..., output_loading_info=True)` returns.
        allow_mismatched: accept mis-shaped weights (the caller asked for `ignore_mismatched_sizes=True`).
        error: the exception class to raise.
    """
    problems = weight_problems(info, allow_mismatched)
    if problems:
        raise error(
            f"The weights of {where} do not fit {class_name}: {'; '.join(problems)}; loading it would leave those "
            "weights randomly initialised. Pass a folder whose config.json and model.safetensors come from the same "
            "save_pretrained (or `perceiver-hf convert`/`train`) run, or save/convert the model again (or pass "
            "ignore_mismatched_sizes=True to re-initialise mis-shaped weights on purpose)."
        )


@contextmanager
def quiet_load_report() -> Iterator[None]:
    """Silence transformers' load report table while loading: the strict check reports the same in one line.

    A filter, not a higher logger level: transformers 5 runs its tensor-parallel plan check (and logs every
    parameter as "not sharded") when the `transformers.modeling_utils` logger's level is WARNING or above.
    """
    report_logger = logging.getLogger("transformers.modeling_utils")
    keep_errors = _BelowErrorFilter()
    report_logger.addFilter(keep_errors)
    try:
        yield
    finally:
        report_logger.removeFilter(keep_errors)


class _BelowErrorFilter(logging.Filter):
    """Drops records below ERROR (transformers' load report is a WARNING)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.ERROR


def new_head_keys(model: Any, info: dict[str, Any], head_prefixes: Iterable[str]) -> set[str]:
    """The missing keys that are a new task head: every weight under `head_prefixes` (e.g. "classifier."), and
    only when the checkpoint holds none of them (a masked-LM checkpoint for a classifier, a `PerceiverModel` one
    for the masked-LM head). Weights tied to another one (the masked-LM head's tied `lm_head.weight`) are not the
    head's own: they come with their source. A checkpoint holding part of the head is not a head-less checkpoint:
    nothing is excused then and the strict check reports the missing part."""
    prefixes = tuple(head_prefixes)
    if not prefixes:
        return set()
    tied = set(getattr(model, "all_tied_weights_keys", None) or ())
    head = {name for name in model.state_dict() if name.startswith(prefixes) and name not in tied}
    missing = set(info.get("missing_keys") or ())
    return head if head and head <= missing else set()


def report_new_head(class_name: str, where: str, keys: set[str]) -> None:
    """transformers' familiar "newly initialized" warning, naming exactly the new head's weights."""
    logging.getLogger("transformers.modeling_utils").warning(
        "Some weights of %s were not initialized from the model checkpoint at %s and are newly initialized: %s\n"
        "You should probably TRAIN this model on a down-stream task to be able to use it for predictions and inference.",
        class_name, where, sorted(keys),
    )


SAFETENSORS_FILE = "model.safetensors"
SAFETENSORS_INDEX = "model.safetensors.index.json"


def header_shapes(folder: Path) -> Optional[dict[str, tuple[int, ...]]]:
    """Weight name -> shape of the safetensors checkpoint in `folder` (one file or the shards of its index), read
    from the headers only; None when the folder has no safetensors checkpoint or one that cannot be read (the load
    then reports it)."""
    index = folder / SAFETENSORS_INDEX
    try:
        if (folder / SAFETENSORS_FILE).is_file():
            files = [folder / SAFETENSORS_FILE]
        elif index.is_file():
            weight_map = json.loads(index.read_text(encoding="utf-8")).get("weight_map", {})
            files = [folder / name for name in sorted(set(weight_map.values()))]
        else:
            return None
        shapes: dict[str, tuple[int, ...]] = {}
        for path in files:
            with safe_open(str(path), framework="pt") as weights:
                for name in weights.keys():
                    shapes[name] = tuple(weights.get_slice(name).get_shape())
        return shapes
    except (OSError, ValueError, AttributeError, TypeError, SafetensorError):
        return None


def oversized_config_values(config_dict: Mapping[str, Any], num_values: int) -> list[tuple[str, int]]:
    """(field, value) of the integers in `config_dict` (and the number of labels in its id2label) larger than
    `num_values`, the number of values the weights hold: no size of a model can be larger."""
    found = [(field, value) for field, value in config_dict.items()
             if isinstance(value, int) and not isinstance(value, bool) and value > num_values]  # fmt: skip
    labels = config_dict.get("id2label")
    if isinstance(labels, (dict, list)) and len(labels) > num_values:
        found.append(("id2label", len(labels)))
    return found


def _checkpoint_key(key: str, header: Mapping[str, Any], prefix: str) -> Optional[str]:
    """The checkpoint's name for model key `key` (the same, or with the base model's `prefix` added or removed)."""
    if key in header:
        return key
    if prefix and f"{prefix}.{key}" in header:
        return f"{prefix}.{key}"
    if prefix and key.startswith(f"{prefix}.") and key[len(prefix) + 1:] in header:
        return key[len(prefix) + 1:]
    return None


def mismatched_header_shapes(
    model_class: Any, config: Any, header: Mapping[str, tuple[int, ...]]
) -> list[tuple[str, tuple[int, ...], tuple[int, ...]]]:
    """(key, checkpoint shape, model shape) of every weight whose shape in `header` differs from the one
    `model_class(config)` has; the model is built on the meta device, so nothing is allocated."""
    with torch.device("meta"):
        model = model_class(config)
    prefix = getattr(model_class, "base_model_prefix", "")
    mismatched = []
    for key, tensor in model.state_dict().items():
        found = _checkpoint_key(key, header, prefix)
        if found is not None and tuple(header[found]) != tuple(tensor.shape):
            mismatched.append((key, tuple(header[found]), tuple(tensor.shape)))
    return mismatched


def check_config_fits_weights(
    model_class: Any,
    folder: Optional[Path],
    config_dict: Optional[Mapping[str, Any]],
    config: Any = None,
    allow_mismatched: bool = False,
    where: str = "",
    error: type = WeightsMismatchError,
) -> None:
    """Before `from_pretrained` allocates anything: refuse a config.json whose sizes the weights in `folder` cannot
    hold (an integer larger than the number of values in all the weights), or whose model would have weights of
    other shapes than the safetensors headers say (unless `allow_mismatched`). Skipped without a local
    safetensors checkpoint or a config dict.

    Args:
        model_class: the loading class.
        folder: the local folder (or Hub cache snapshot) with the checkpoint files.
        config_dict: config.json's contents.
        config: the caller's own config object (used instead of building one from `config_dict`).
        allow_mismatched: the caller passed `ignore_mismatched_sizes=True`.
        where: names the checkpoint in the message.
        error: the exception class (`WeightsMismatchError`, or its pipeline variant).
    """
    header = header_shapes(folder) if folder is not None and folder.is_dir() else None
    if header is None or (config_dict is None and config is None):
        return
    num_values = sum(math.prod(shape) for shape in header.values())
    oversized = oversized_config_values(config_dict or {}, num_values) if config is None else []
    if oversized:
        field, value = oversized[0]
        raise error(
            f"The config.json of {where} says {field}={value:,}, but its weights hold {num_values:,} values in all, "
            "so no size of the model can be that large; the config.json does not belong to these weights. Pass a "
            "folder whose config.json and model.safetensors come from the same save_pretrained run."
        )
    if allow_mismatched:
        return
    if config is None:
        config = model_class.config_class.from_dict(dict(config_dict))
    mismatched = mismatched_header_shapes(model_class, config, header)
    check_loading_info(model_class.__name__, where, {"mismatched_keys": mismatched}, error=error)


def load_strictly(
    load: Callable[..., Any],
    class_name: str,
    name_or_path: Any,
    *args: Any,
    new_head: Iterable[str] = (),
    **kwargs: Any,
) -> Any:
    """Call `load` (a `PreTrainedModel.from_pretrained`) and check its loading info with `check_loading_info`.

    `new_head`: key prefixes of a task head that a checkpoint without it (a masked-LM one) may lack; those
    weights are then initialised, reported with transformers' "newly initialized" warning and left in the
    returned loading info's `missing_keys`. Returns what `from_pretrained` would: the model, or
    (model, loading info) if `output_loading_info=True`.
    """
    wants_info = kwargs.pop("output_loading_info", False)
    allow_mismatched = bool(kwargs.get("ignore_mismatched_sizes", False))
    error = PipelineWeightsMismatchError if loading_for_a_pipeline() else WeightsMismatchError
    kwargs["ignore_mismatched_sizes"] = True  # mis-shaped keys come back in the info instead of a vague error
    # the caller who accepts mis-shaped weights gets transformers' own report of them ("Reinit due to size mismatch")
    with nullcontext() if allow_mismatched else quiet_load_report():
        model, info = load(name_or_path, *args, output_loading_info=True, **kwargs)
    where = repr(str(name_or_path))
    initialised = new_head_keys(model, info, new_head)
    checked = {**info, "missing_keys": set(info.get("missing_keys") or ()) - initialised}
    check_loading_info(class_name, where, checked, allow_mismatched, error)
    if initialised:
        report_new_head(class_name, where, initialised)
    return (model, info) if wants_info else model


__all__ = [
    "PipelineWeightsMismatchError",
    "WeightsMismatchError",
    "check_config_fits_weights",
    "check_loading_info",
    "header_shapes",
    "mismatched_header_shapes",
    "load_strictly",
    "loading_for_a_pipeline",
    "new_head_keys",
    "oversized_config_values",
    "quiet_load_report",
    "report_new_head",
    "weight_problems",
]
