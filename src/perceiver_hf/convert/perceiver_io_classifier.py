"""The perceiver-io library's (0.4) text classifier (`LitTextClassifier` / `TextClassifier`) as a source of
`convert perceiver-io`: its `ClassificationDecoderConfig` as `classifier_*` fields, and where its decoder keeps
each part.

    TextClassifier = PerceiverIO(TextEncoder, PerceiverDecoder(ClassificationOutputAdapter))
    1.output_adapter._output_query [O, F]   1.cross_attn.{0.module, 1.module}   1.output_adapter.linear [K, F]

Differences from perceiver-hf's `PerceiverForSequenceClassification`, each a field or a refusal:

    O queries: the library squeezes dim 1, so O > 1 gives [B, O, K] (one row per query); ours averages  -> refused
    unset query width F: the library's is num_classes (ours: the latent width D)  -> classifier_num_query_channels
    unset q/k width: the query width in both; unset v width: the q/k width in both  -> written explicitly
    query residual on, decoder heads default 8 (ours 1)  -> classifier_cross_attention_residual, _heads
    one dropout for encoder and decoder  -> refused when they differ
The encoder is the masked LM's (`perceiver_io_config.encoder_fields`); `init_scale` only affects initialisation.
`classifier_hyper_parameters` is the way back (with `classifier_layout`, in `export_perceiver_io_state_dict`).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Mapping

from ..configuration_perceiver import PerceiverConfig
from .errors import ConversionError
from .mapping import SAME, CheckpointLayout, Param
from .perceiver_io_config import check_same_dropout, complete, decoder_residual, encoder_fields, library_hyper_parameters
from .perceiver_io_versions import V0_4, LibraryVersion
from .perceiver_io_mapping import perceiver_io_layout

CLASSIFIER_DEFAULTS = V0_4.classifier
"""perceiver-io 0.4's `ClassificationDecoderConfig` defaults."""
CLASSIFIER_KEY = "num_classes"
"""The field only a `ClassificationDecoderConfig` has (how a settings JSON says "text classifier")."""
LIBRARY_CLASSIFIER = "perceiver-io 0.4's TextClassifier"
CLASSIFIER_WEIGHT = "1.output_adapter.linear.weight"
"""The classifier's output layer [num_classes, F] (0.4 and, under "backend_model.", 0.9-0.11)."""


def label_names(id2label: Any, num_classes: int) -> dict[int, str] | None:
    """`id2label` (a mapping index -> name, or a list of names) as {index: name} for indices 0..num_classes-1;
    None when absent; a one-line `ConversionError` for anything else."""
    if id2label is None or id2label == {} or id2label == []:
        return None
    if isinstance(id2label, (list, tuple)):
        id2label = dict(enumerate(id2label))
    if not isinstance(id2label, Mapping):
        raise ConversionError(f"id2label must map class indices to names (or list the names), got a "
                              f"{type(id2label).__name__}.")
    labels: dict[int, str] = {}
    for index, name in id2label.items():
        number = int(index) if isinstance(index, str) and index.isdigit() else index
        if not isinstance(number, int) or isinstance(number, bool) or not isinstance(name, str):
            raise ConversionError(f"id2label must map class indices to label names, but has {index!r}: "
                                  f"{name!r} (a {type(name).__name__}).")
        labels[number] = name
    if len(labels) != num_classes or not all(0 <= index < num_classes for index in labels):  # no range allocated
        shown = sorted(labels)[:6]
        more = "..." if len(labels) > 6 else ""
        raise ConversionError(f"id2label has indices {shown}{more}; "
                              f"the classifier has num_classes={num_classes} (indices 0..{num_classes - 1}).")
    return labels


def is_text_classifier(settings: Mapping[str, Any]) -> bool:
    """Whether the settings' decoder is a `ClassificationDecoderConfig`."""
    decoder = settings.get("decoder")
    return isinstance(decoder, Mapping) and CLASSIFIER_KEY in decoder


def classifier_config(
    settings: Mapping[str, Any], id2label: Any = None, version: LibraryVersion = V0_4
) -> PerceiverConfig:
    """The `PerceiverConfig` of a `PerceiverForSequenceClassification` computing the library's `TextClassifier`.

    Args:
        settings: {"encoder": TextEncoderConfig fields, "decoder": ClassificationDecoderConfig fields,
            "num_latents": N, "num_latent_channels": D}; the decoder may also hold "id2label" (JSON only).
        id2label: label names, class index -> name, or a list of names (default LABEL_i).
        version: the library version whose fields and semantics these are.
    """
    fields, encoder = encoder_fields(settings, version)
    if not isinstance(settings["decoder"], Mapping):
        raise ConversionError(f"The classifier decoder config is a {type(settings['decoder']).__name__}, not a "
                              f"mapping of {version.name} fields.")
    decoder_values = dict(settings["decoder"])
    explicit = decoder_values.pop("id2label", None)
    id2label = id2label if id2label is not None else explicit
    decoder = complete(decoder_values, version.classifier, "classifier decoder config", version)
    if decoder["num_output_queries"] != 1:
        raise ConversionError(
            f"This text classifier has num_output_queries={decoder['num_output_queries']}: the library then returns "
            "one row of logits per query ([B, O, num_classes]), perceiver-hf averages them; only 1 is supported."
        )
    check_same_dropout(encoder, decoder)
    query_channels = decoder["num_output_query_channels"] or decoder["num_classes"]  # the library's unset width
    qk_channels = decoder["num_cross_attention_qk_channels"] or query_channels
    labels = label_names(id2label, decoder["num_classes"])
    return PerceiverConfig(
        **fields,
        num_labels=decoder["num_classes"],
        **({"id2label": labels} if labels else {}),
        classifier_num_queries=1,
        classifier_num_query_channels=query_channels,
        classifier_num_cross_attention_heads=decoder["num_cross_attention_heads"],
        classifier_num_cross_attention_qk_channels=qk_channels,
        classifier_num_cross_attention_v_channels=decoder["num_cross_attention_v_channels"] or qk_channels,
        classifier_cross_attention_widening_factor=decoder["cross_attention_widening_factor"],
        **{"classifier_cross_attention_residual": True,
           **decoder_residual(decoder, "classifier_cross_attention_residual")},
        # no masked-LM decoder: its widths stay unset rather than defaults that describe nothing
        decoder_num_cross_attention_qk_channels=None,
        decoder_num_cross_attention_v_channels=None,
    )


def classifier_layout() -> CheckpointLayout:
    """The library's `TextClassifier` layout (keys without the Lightning prefix): the masked LM's encoder, then
    `1.cross_attn` and `1.output_adapter` as perceiver-hf's `classifier`."""
    masked_lm = perceiver_io_layout(tied=False)
    arrays = {name: value for name, value in masked_lm.single_arrays.items() if name.startswith("perceiver.encoder")}
    arrays["classifier.output_query_provider"] = ("1.output_adapter", (Param("query", "_output_query"),))
    arrays["classifier.output_adapter.linear"] = ("1.output_adapter.linear", SAME)
    layers = dict(masked_lm.cross_attention_layers)
    layers["classifier.cross_attention"] = layers.pop("perceiver.decoder.cross_attention")
    return replace(masked_lm, single_arrays=arrays, cross_attention_layers=layers)


def classifier_hyper_parameters(config: PerceiverConfig) -> dict[str, Any]:
    """The library's {"encoder", "decoder": ClassificationDecoderConfig fields, "num_latents",
    "num_latent_channels"} for a sequence classifier's `config` (the way back)."""
    if config.classifier_num_queries != 1 or not config.classifier_cross_attention_residual:
        raise ConversionError(
            f"Only a classifier with one query and the query residual can be exported to {LIBRARY_CLASSIFIER}; this "
            f"one has classifier_num_queries={config.classifier_num_queries}, "
            f"classifier_cross_attention_residual={config.classifier_cross_attention_residual}."
        )
    settings = library_hyper_parameters(config)
    query_channels = config.classifier_num_query_channels or config.num_latent_channels
    qk_channels = config.classifier_num_cross_attention_qk_channels or query_channels
    settings["decoder"] = dict(
        num_classes=config.num_labels,
        num_output_queries=1,
        num_output_query_channels=query_channels,
        num_cross_attention_heads=config.classifier_num_cross_attention_heads,
        num_cross_attention_qk_channels=qk_channels,
        num_cross_attention_v_channels=config.classifier_num_cross_attention_v_channels or qk_channels,
        cross_attention_widening_factor=config.classifier_cross_attention_widening_factor,
        dropout=config.dropout,
        init_scale=config.initializer_range,
    )
    return settings

__all__ = ["CLASSIFIER_WEIGHT", "classifier_config", "classifier_hyper_parameters", "classifier_layout", "is_text_classifier",
           "label_names"]
