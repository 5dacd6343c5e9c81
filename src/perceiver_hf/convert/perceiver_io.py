"""Convert a perceiver-io library (0.4) masked language model into a perceiver-hf folder, and back.

    .ckpt (LitLanguageModel) or state dict + settings JSON --torch.load(weights_only, allow-list)-->
    tensors + TextEncoderConfig/TextDecoderConfig values --library_config--> PerceiverConfig
    --perceiver_io_layout rules, coverage + shape check--> OUTPUT_DIR (atomic; `write_converted_folder`)

The library's semantics are ordinary `PerceiverConfig` fields (`perceiver_io_config`); the converted folder is
an ordinary perceiver-hf model. `export_perceiver_io_state_dict` runs the same rules backwards.

A `LitTextClassifier` (a `ClassificationDecoderConfig` decoder) becomes a `PerceiverForSequenceClassification`
folder: the same encoder, its head's rules and fields in `perceiver_io_classifier`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional, Union

import torch

from ..configuration_perceiver import PerceiverConfig
from ..modeling_classification import PerceiverForSequenceClassification
from ..output_folder import plan_output_folder
from .errors import ConversionError
from .perceiver_io_card import LibrarySource, file_sha256, perceiver_io_command
from .perceiver_io_classifier import (
    CLASSIFIER_WEIGHT,
    classifier_config,
    classifier_hyper_parameters,
    classifier_layout,
    is_text_classifier,
)
from .perceiver_ar import is_causal_lm_settings, perceiver_ar_config, source_tokenizer, write_perceiver_ar_folder
from .perceiver_io_checkpoint import SUPPORTED, read_checkpoint
from .perceiver_io_config import library_config, library_hyper_parameters
from .library_sizes import check_sizes_fit_weights
from .perceiver_io_folder import write_library_folder
from .perceiver_io_mapping import EMBEDDING, OUTPUT_QUERY, perceiver_io_layout, shared_copies

LIBRARY = "perceiver-io 0.4"


def _drop_shared_copies(tensors: dict[str, torch.Tensor], tied: bool, config: PerceiverConfig, what: str) -> None:
    """Remove the library's second registrations of shared modules, after checking they equal the original."""
    for copy, original in shared_copies(list(tensors), tied, config).items():
        if original in tensors and tensors[copy].shape != tensors[original].shape:
            raise ConversionError(
                f"{what}: {copy} has shape {list(tensors[copy].shape)} and {original} {list(tensors[original].shape)}, "
                "but the settings say these weights are shared; check that the settings are the ones the checkpoint "
                "was trained with."
            )
        if original in tensors and not torch.equal(tensors[copy], tensors[original]):
            raise ConversionError(
                f"{what}: {copy} differs from {original}, but the settings say these weights are shared "
                "(first_cross_attention_layer_shared / first_self_attention_block_shared, or a single layer or "
                "block); check that the settings are the ones the checkpoint was trained with."
            )
        del tensors[copy]


def library_tensors_to_ours(
    tensors: dict[str, torch.Tensor], config: PerceiverConfig, what: str
) -> dict[str, torch.Tensor]:
    """Normalise the library's state dict for the layout rules: shared copies dropped, the decoder's output
    queries beyond `max_seq_len` (never decoded: the library keeps the first L outputs) cut off."""
    if EMBEDDING not in tensors:
        found = sorted(tensors)[:6]
        raise ConversionError(
            f"{what} has no {EMBEDDING} (its keys start {found}); this does not look like a {LIBRARY} text "
            f"model (a later library version names its weights differently). Supported: {SUPPORTED}."
        )
    _drop_shared_copies(tensors, config.tie_word_embeddings, config, what)
    queries = tensors.get(OUTPUT_QUERY)
    if queries is not None and queries.shape[0] > config.max_seq_len:
        tensors[OUTPUT_QUERY] = queries[: config.max_seq_len]
    return tensors


def convert_perceiver_io_checkpoint(
    source: Union[str, Path],
    output_dir: Union[str, Path],
    *,
    settings_json: Optional[Union[str, Path]] = None,
    force: bool = False,
    progress: bool = True,
    command: Optional[str] = None,
) -> Path:
    """Convert a perceiver-io 0.4 masked LM or text classifier (`LitLanguageModel` / `LitTextClassifier` .ckpt, or a
    state dict + `settings_json`).

    Args:
        source: the Lightning checkpoint, or a `torch.save`d `LanguageModel` / `PerceiverIO` state dict.
        output_dir: a new or empty folder (or a previous perceiver-hf output, with `force`).
        settings_json: {"encoder": TextEncoderConfig fields, "decoder": TextDecoderConfig or ClassificationDecoderConfig
            fields (the latter may add "id2label"), "num_latents",
            "num_latent_channels"}; required for a state dict, overrides a checkpoint's hyper_parameters.
        force, progress, command: as in `convert_haiku_checkpoint`.

    Raises:
        ConversionError: unreadable file, refused pickle global, unsupported model kind or settings.
        MappingError: missing, unexpected or mis-shaped weights (all listed).
        OutputDirError: `output_dir` is not writable under the output-folder rules.
    """
    source = Path(source)
    inputs = [source] + ([Path(settings_json)] if settings_json else [])
    output_plan = plan_output_folder(output_dir, force=force, inputs=inputs)
    tensors, settings = read_checkpoint(source, Path(settings_json) if settings_json else None)
    if is_causal_lm_settings(settings):
        command = command or perceiver_io_command(source, output_dir, force)
        return _convert_causal_lm_checkpoint(source, output_plan, tensors, settings, command, force, progress)
    classifier = is_text_classifier(settings)
    what = f"{LIBRARY} checkpoint {str(source)!r}"
    check_sizes_fit_weights(settings, tensors, what, CLASSIFIER_WEIGHT if classifier else None)
    config = classifier_config(settings) if classifier else library_config(settings)
    tensors = library_tensors_to_ours(tensors, config, what)
    digest = file_sha256(source)
    library_source = LibrarySource(
        name=source.name, size=source.stat().st_size, sha256=digest, version=LIBRARY,
        library=f"the perceiver-io library (0.4, `{'LitTextClassifier' if classifier else 'LitLanguageModel'}`)",
        read_as=f"{LIBRARY} " + ("Lightning checkpoint" if settings_json is None
                                 else f"checkpoint with settings from {Path(settings_json).name}"),
        read_note="reads the checkpoint with `torch.load(weights_only=True)` and an allow-list",
        settings=settings,
    )  # fmt: skip
    return write_library_folder(
        output_plan,
        source=library_source,
        layout=classifier_layout() if classifier else perceiver_io_layout(config.tie_word_embeddings),
        tensors=tensors,
        config=config,
        what=what,
        classifier=classifier,
        byte_tokenizer=False,
        command=command or perceiver_io_command(source, output_dir, force, config=settings_json),
        force=force,
        progress=progress,
    )


def _convert_causal_lm_checkpoint(
    source: Path, output_plan: Any, tensors: dict[str, torch.Tensor], settings: dict[str, Any],
    command: str, force: bool, progress: bool,
) -> Path:
    """A `LitCausalLanguageModel` checkpoint (perceiver-io 0.9-0.11; flat hyper_parameters) -> PerceiverForCausalLM."""
    config = perceiver_ar_config(settings, f"Lightning checkpoint {str(source)!r}")
    library_source = LibrarySource(
        name=source.name, size=source.stat().st_size, sha256=file_sha256(source), version="perceiver-io 0.9-0.11",
        library="the perceiver-io library (0.9-0.11, `LitCausalLanguageModel`)", read_as="Lightning checkpoint",
        read_note="reads the checkpoint with `torch.load(weights_only=True)` and an allow-list", settings=settings,
    )  # fmt: skip
    return write_perceiver_ar_folder(
        output_plan, tensors=tensors, config=config, source=library_source,
        tokenizer=source_tokenizer({}, config, None), command=command, force=force, progress=progress,
    )  # fmt: skip


def export_perceiver_io_state_dict(model: Any) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """(state dict, settings) that the library's `LanguageModel(PerceiverConfig(TextEncoderConfig(**settings
    ["encoder"]), TextDecoderConfig(**settings["decoder"]), num_latents, num_latent_channels))` loads with
    `load_state_dict` (keys without Lightning's "model." prefix; the shared copies included); for a
    `PerceiverForSequenceClassification`, the library's `TextClassifier` with a `ClassificationDecoderConfig`.

    Args:
        model: a `PerceiverForMaskedLM` or `PerceiverForSequenceClassification` with the library's semantics (e.g.
            one converted from the library).
    """
    config = model.config
    classifier = isinstance(model, PerceiverForSequenceClassification)
    settings = classifier_hyper_parameters(config) if classifier else library_hyper_parameters(config)
    tied = config.tie_word_embeddings and not classifier
    ours = model.state_dict()
    layout = classifier_layout() if classifier else perceiver_io_layout(tied)
    theirs = {rule.source: ours[rule.target].t() if rule.transpose else ours[rule.target]
              for rule in layout.rules_for(config)}
    for copy, original in shared_copies(_library_copy_names(theirs, tied), tied, config).items():
        theirs[copy] = theirs[original]
    return {name: tensor.detach().clone() for name, tensor in theirs.items()}, settings


def _library_copy_names(theirs: dict[str, torch.Tensor], tied: bool) -> list[str]:
    """The names the library's shared-module copies have (`cross_attn_n`, `self_attn_n`, the tied projection)."""
    names = [
        name.replace("0.cross_attn_1.", "0.cross_attn_n.", 1).replace("0.self_attn_1.", "0.self_attn_n.", 1)
        for name in theirs
        if name.startswith(("0.cross_attn_1.", "0.self_attn_1."))
    ]
    return names + (["1.output_adapter.proj.weight"] if tied else [])
