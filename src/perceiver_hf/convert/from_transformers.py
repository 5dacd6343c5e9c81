"""Convert transformers' own `PerceiverForMaskedLM` (model_type "perceiver", e.g. deepmind/language-perceiver),
or its `PerceiverForSequenceClassification` (text preprocessor + classification decoder, chosen by config.json's
`architectures`) into perceiver-hf's `PerceiverForSequenceClassification` (see `transformers_classification`).

transformers' port computes with settings that differ from DeepMind's (exact-erf GELU; its MLM decoder
hard-codes 8 heads and 256 q/k channels). Those settings are read from the loaded model itself, not assumed,
so that the converted model gives the same logits at every non-padded position:

- `hidden_act` from its config (transformers' default "gelu" is the exact erf GELU);
- the LayerNorm epsilon its modules really use: transformers 5.x builds them as `nn.LayerNorm(dim)`, i.e.
  eps 1e-5, whatever `config.layer_norm_eps` (1e-12) says;
- head counts and query residuals from its attention modules; block repeats from `config.num_blocks`.

At padded positions the two differ by design: transformers does not mask the decoder's queries, while
perceiver-hf follows DeepMind (a masked query's attention output is zero).
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any, Optional, Union

import torch
from torch import nn

from ..core.layers import ACTIVATIONS
from ..strict_loading import quiet_load_report
from ..modeling_classification import PerceiverForSequenceClassification
from ..modeling_perceiver import PerceiverForMaskedLM
from ..model_cards.fields import UNKNOWN_LICENSE, hub_metadata, hub_repo_id, source_card_data
from ..output_folder import plan_output_folder
from .conversion_card import SEQUENCE_CLASSIFIER, TRANSFORMERS_CLASSIFIER_TEMPLATE, TRANSFORMERS_TEMPLATE
from .config_inference import infer_config
from .converted_folder import write_converted_folder
from .errors import ConversionError
from .mapping import SAME, CheckpointLayout, ModuleTable, Param
from .progress import logger
from .transformers_classification import classification_layout, classifier_fields, classifier_settings
from .transformers_source import (
    check_config_fits_weights,
    check_loaded_shapes,
    check_source_config,
    check_source_location,
    check_weight_files,
    load_source_config,
)


ATTENTION_AND_MLP: ModuleTable = {
    "attention.q_proj": ("attention.self.query", SAME),
    "attention.k_proj": ("attention.self.key", SAME),
    "attention.v_proj": ("attention.self.value", SAME),
    "attention.o_proj": ("attention.output.dense", SAME),
    "mlp_norm": ("layernorm", SAME),
    "mlp.fc1": ("mlp.dense1", SAME),
    "mlp.fc2": ("mlp.dense2", SAME),
}

TRANSFORMERS_LAYOUT = CheckpointLayout(
    separator=".",
    single_arrays={
        "perceiver.encoder.input_adapter.text_embedding": ("perceiver.input_preprocessor.embeddings", SAME[:1]),
        "perceiver.encoder.input_adapter": (
            "perceiver.input_preprocessor.position_embeddings", (Param("pos_encoding", "weight"),)
        ),
        "perceiver.encoder.latent_provider": ("perceiver.embeddings", (Param("query", "latents"),)),
        "perceiver.decoder.output_query_provider": (
            "perceiver.decoder.output_position_encodings", (Param("query", "position_embeddings"),)
        ),
        "lm_head": ("embedding_decoder", SAME[1:]),
    },
    cross_attention_layers={
        "perceiver.encoder.cross_attention": "perceiver.encoder.cross_attention",
        "perceiver.decoder.cross_attention": "perceiver.decoder.decoding_cross_attention",
    },
    cross_attention_layer={
        "q_norm": ("attention.self.layernorm1", SAME),
        "kv_norm": ("attention.self.layernorm2", SAME),
        **ATTENTION_AND_MLP,
    },
    self_attention_layer={"norm": ("attention.self.layernorm1", SAME), **ATTENTION_AND_MLP},
    self_attention_module=lambda index: f"perceiver.encoder.self_attends.{index}",
)
"""Where transformers' `PerceiverForMaskedLM` keeps each part (its modeling_perceiver.py names)."""
CLASSIFIER_LAYOUT = classification_layout(TRANSFORMERS_LAYOUT, SAME)
"""Where transformers' `PerceiverForSequenceClassification` keeps each part."""
MASKED_LM = "PerceiverForMaskedLM"


def source_class_name(config: Any) -> str:
    """The transformers class a source is loaded as: its sequence classifier if config.json's `architectures` says
    so, else the masked language model."""
    return SEQUENCE_CLASSIFIER if SEQUENCE_CLASSIFIER in (config.architectures or ()) else MASKED_LM


def _load_source(source: str, revision: Optional[str]) -> nn.Module:
    """transformers' `PerceiverForMaskedLM` from a folder or Hub id, checked to be complete (see
    `transformers_source` for the checks of config.json and the weights files)."""
    import transformers
    from safetensors import SafetensorError

    config = load_source_config(source, revision)
    if config.model_type != "perceiver":
        raise ConversionError(
            f"{source!r} has model_type {config.model_type!r}; `convert transformers` reads transformers' own "
            "Perceiver checkpoints (model_type 'perceiver', e.g. deepmind/language-perceiver)."
            + (" This folder is already a perceiver-hf model." if config.model_type == "perceiver_io" else "")
        )
    check_source_config(source, config)
    check_weight_files(source)
    class_name = source_class_name(config)
    check_config_fits_weights(source, revision, config, getattr(transformers, class_name))  # before allocating
    logger.info("Loading transformers' Perceiver from %s", source)
    try:
        with quiet_load_report():
            model, info = getattr(transformers, class_name).from_pretrained(
                source, revision=revision, dtype=torch.float32, output_loading_info=True, ignore_mismatched_sizes=True
            )
    except SafetensorError as error:
        raise ConversionError(
            f"the weights of {source!r} cannot be read ({error}): the safetensors file is truncated or corrupted; "
            "save or download the source again."
        ) from error
    check_loaded_shapes(source, info)
    incomplete = {key: sorted(map(str, info.get(key) or ())) for key in ("missing_keys", "unexpected_keys")}
    if any(incomplete.values()):
        raise ConversionError(
            f"{source!r} is not a complete {class_name} checkpoint (architectures: {config.architectures}): "
            f"missing {incomplete['missing_keys']}, unexpected {incomplete['unexpected_keys']}. Only transformers' "
            "masked language model and sequence classifier can be converted."
        )
    return model.eval()


def transformers_settings(model: nn.Module) -> dict[str, Any]:
    """The `PerceiverConfig` fields that reproduce what transformers' `model` computes (not visible in shapes)."""
    config = model.config
    if not isinstance(config.hidden_act, str) or config.hidden_act not in ACTIVATIONS:
        raise ConversionError(
            f"transformers' model uses hidden_act={config.hidden_act!r}; perceiver-hf supports {sorted(ACTIVATIONS)}."
        )
    eps = {module.eps for module in model.modules() if isinstance(module, nn.LayerNorm)}
    if len(eps) != 1:
        raise ConversionError(f"transformers' model mixes LayerNorm epsilons {sorted(eps)}; cannot convert it.")
    encoder_attention = model.perceiver.encoder.cross_attention.attention
    if isinstance(model, transformers_class(SEQUENCE_CLASSIFIER)):
        decoder = classifier_settings(model)
    else:
        decoder_attention = model.perceiver.decoder.decoding_cross_attention.attention
        decoder = dict(
            decoder_num_cross_attention_heads=decoder_attention.self.num_heads,
            decoder_cross_attention_residual=decoder_attention.use_query_residual,
        )
    return dict(
        num_cross_attention_heads=encoder_attention.self.num_heads,
        num_self_attention_heads=config.num_self_attention_heads,
        num_self_attention_blocks=config.num_blocks,
        cross_attention_residual=encoder_attention.use_query_residual,
        **decoder,
        hidden_act=config.hidden_act,
        layer_norm_eps=eps.pop(),
        initializer_range=config.initializer_range,
        tie_word_embeddings=True,  # its logits use the input embedding matrix
    )


def transformers_class(name: str) -> type:
    """transformers' class `name` (imported when asked: transformers' Perceiver module is large)."""
    import transformers

    return getattr(transformers, name)


def torch_to_tensor(tensor: torch.Tensor, transpose: bool) -> torch.Tensor:
    """A contiguous float32 tensor of a source parameter (transposed if asked); no copy when none is needed."""
    tensor = tensor.detach()
    return (tensor.T if transpose else tensor).to(torch.float32).contiguous()


def _resolved_commit(source: str, revision: Optional[str]) -> Optional[str]:
    """The commit a Hub id (at `revision`) resolved to, read from the cache the model was loaded from; else None."""
    from huggingface_hub import hf_hub_download

    if Path(source).is_dir():
        return None
    try:
        config_file = Path(hf_hub_download(source, "config.json", revision=revision))
    except Exception:  # already loaded once, so this is only a cache look-up; be safe anyway
        return None
    return config_file.parent.name if config_file.parent.parent.name == "snapshots" else None


def _source_reference(source: str, revision: Optional[str]) -> str:
    """Markdown naming the source: the Hub repository with revision and commit, or the local folder."""
    if Path(source).is_dir():
        return f"the local folder `{source}`"
    commit = _resolved_commit(source, revision)
    return (
        f"the Hub repository [`{source}`](https://huggingface.co/{source}) at revision `{revision or 'main'}`"
        + (f" (commit `{commit}`)" if commit and commit != revision else "")
    )


def _card_fields(source: str, revision: Optional[str], config: Any, command: str) -> dict[str, str]:
    """Fields of the `transformers-perceiver-conversion` card (or its classifier variant): metadata from the
    source's card, nothing assumed.

    license: the source card's (else "unknown"); base_model: the source if it is a Hub id; datasets and language:
    only what the source card declares.
    """
    source_card = source_card_data(source, revision)
    declared_license = source_card.get("license")
    license_note = (
        f"`{declared_license}`, as declared by the source's model card"
        if declared_license
        else "unknown: the source has no model card declaring one; check the source's terms before sharing"
    )
    reference = _source_reference(source, revision)
    classifier = SEQUENCE_CLASSIFIER in (config.architectures or ())
    return dict(
        metadata=hub_metadata(
            license=str(declared_license or UNKNOWN_LICENSE),
            tags=["byte-level", "converted-from-transformers"],
            datasets=source_card.get("datasets"),
            base_model=hub_repo_id(source),
            language=source_card.get("language"),
            pipeline_tag="text-classification" if classifier else "fill-mask",
        ),
        title=f"Perceiver IO {'sequence classifier' if classifier else 'masked language model'} converted from "
        f"`{source}`",
        source_reference=reference,
        license_note=license_note,
        provenance=_provenance(reference, config),
        command=command,
    )


def _provenance(reference: str, config: Any) -> str:
    classifier = SEQUENCE_CLASSIFIER in (config.architectures or ())
    heads = config.classifier_num_cross_attention_heads if classifier else config.decoder_num_cross_attention_heads
    equal = (
        "so this model's logits equal transformers' (padding is masked in the encoder by both)"
        if classifier
        else "so this model's logits equal transformers' at every non-padded position; at padded positions it "
        "follows DeepMind's masking instead"
    )
    return (
        f"Converted from transformers' `{SEQUENCE_CLASSIFIER if classifier else MASKED_LM}` checkpoint in "
        f"{reference}. The parameter values are "
        "copied unchanged (float32). The settings transformers' model computes with were carried over "
        f"(hidden_act `{config.hidden_act}`, LayerNorm eps {config.layer_norm_eps:g}, "
        f"{heads} decoder heads), {equal}. Who trained the "
        "weights, on which data and under which terms is recorded in the source's model card, not here."
    )


def transformers_command(source: str, output_dir: Union[str, Path], revision: Optional[str], force: bool) -> str:
    """The `perceiver-hf convert transformers` command line equivalent to these arguments."""
    args = ["perceiver-hf", "convert", "transformers", source, str(output_dir)]
    args += ["--revision", revision] if revision else []
    return shlex.join(args + (["--force"] if force else []))


def convert_transformers_checkpoint(
    source: Union[str, Path],
    output_dir: Union[str, Path],
    *,
    revision: Optional[str] = None,
    force: bool = False,
    progress: bool = True,
    command: Optional[str] = None,
) -> Path:
    """Convert transformers' `PerceiverForMaskedLM` (or `PerceiverForSequenceClassification`, when config.json's
    `architectures` names it) at `source` (folder or Hub id) into `output_dir`.

    Args:
        source: a folder saved by transformers' `PerceiverForMaskedLM`/`PerceiverForSequenceClassification`, or a
            Hub id such as
            "deepmind/language-perceiver" (downloaded, or read from the cache when offline).
        output_dir: a new or empty folder (or any folder, with `force`).
        revision: Hub branch, tag or commit.
        force: replace a non-empty `output_dir`, once the new folder is complete.
        progress: show progress bars on stderr.
        command: the command line recorded in the model card (default: the equivalent `perceiver-hf` command).

    Returns:
        The absolute path of the written folder.
    """
    source = str(source)
    check_source_location(source)
    output_plan = plan_output_folder(output_dir, force=force, inputs=[source])
    model = _load_source(source, revision)  # announces the loading once the source's files are checked
    classifier = isinstance(model, transformers_class(SEQUENCE_CLASSIFIER))
    layout = CLASSIFIER_LAYOUT if classifier else TRANSFORMERS_LAYOUT
    params = dict(model.state_dict())
    shapes = {name: tuple(tensor.shape) for name, tensor in params.items()}
    settings = transformers_settings(model)
    if classifier:
        settings = {**classifier_fields(layout, shapes), **settings}
    config = infer_config(layout, shapes, settings)
    if classifier:
        config.architectures = [SEQUENCE_CLASSIFIER]  # for the card; `write_converted_folder` records it too
    del model
    return write_converted_folder(
        output_plan,
        layout=layout,
        arrays=params,
        to_tensor=torch_to_tensor,
        config=config,
        what=f"transformers checkpoint {source!r}",
        card_template=TRANSFORMERS_CLASSIFIER_TEMPLATE if classifier else TRANSFORMERS_TEMPLATE,
        card_fields=_card_fields(
            source, revision, config, command or transformers_command(source, output_dir, revision, force)
        ),
        metadata={"source": source},
        force=force,
        progress=progress,
        model_class=_perceiver_hf_class(classifier),
    )


def _perceiver_hf_class(classifier: bool) -> type:
    return PerceiverForSequenceClassification if classifier else PerceiverForMaskedLM
