"""perceiver-hf: Perceiver IO masked language models (and Perceiver AR causal language models) as first-class
Hugging Face transformers models.

Importing the package registers `PerceiverConfig` (model_type "perceiver_io"), `PerceiverARConfig`
(model_type "perceiver_ar") and their models with transformers' Auto classes. The one exception is the `perceiver-hf` command, which enters through the tiny
`perceiver_hf_launcher` module: it defers this (torch and transformers take seconds to import) until a
subcommand runs (`load()`), so `--help` and argument errors answer at once.
"""

import sys

from .version import package_version

__version__ = package_version()

__all__ = [
    "DEFAULT_MODEL",
    "PerceiverARConfig",
    "PerceiverARModel",
    "PerceiverByteTokenizer",
    "PerceiverConfig",
    "PerceiverForCausalLM",
    "PerceiverForMaskedLM",
    "PerceiverForSequenceClassification",
    "PerceiverForTokenClassification",
    "PerceiverMaskedLMOutput",
    "PerceiverModel",
    "PerceiverPreTrainedModel",
    "__version__",
    "load",
    "quantize_dynamic_int8",
    "pretrained_model_path",
]


def load() -> None:
    """Import the models, tokenizer and pipelines and register them with transformers (idempotent)."""
    from . import pipelines  # noqa: F401  (registers the "fill-mask-spans" pipeline task)
    from .auto_registration import register_auto_classes
    from .configuration_perceiver import PerceiverConfig
    from .configuration_perceiver_ar import PerceiverARConfig
    from .modeling_classification import PerceiverForSequenceClassification, PerceiverForTokenClassification
    from .modeling_perceiver import (
        PerceiverForMaskedLM,
        PerceiverMaskedLMOutput,
        PerceiverModel,
        PerceiverPreTrainedModel,
    )
    from .modeling_perceiver_ar import PerceiverARModel, PerceiverForCausalLM
    from .pretrained import DEFAULT_MODEL, pretrained_model_path
    from .quantization import quantize_dynamic_int8
    from .tokenization_perceiver import PerceiverByteTokenizer

    register_auto_classes()
    globals().update(
        DEFAULT_MODEL=DEFAULT_MODEL,
        PerceiverARConfig=PerceiverARConfig,
        PerceiverARModel=PerceiverARModel,
        PerceiverByteTokenizer=PerceiverByteTokenizer,
        PerceiverConfig=PerceiverConfig,
        PerceiverForCausalLM=PerceiverForCausalLM,
        PerceiverForMaskedLM=PerceiverForMaskedLM,
        PerceiverForSequenceClassification=PerceiverForSequenceClassification,
        PerceiverForTokenClassification=PerceiverForTokenClassification,
        PerceiverMaskedLMOutput=PerceiverMaskedLMOutput,
        PerceiverModel=PerceiverModel,
        PerceiverPreTrainedModel=PerceiverPreTrainedModel,
        pretrained_model_path=pretrained_model_path,
        quantize_dynamic_int8=quantize_dynamic_int8,
    )


def __getattr__(name: str):  # only reached while the command defers loading
    if name in __all__:
        load()
        return globals()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


if not getattr(sys.modules.get("perceiver_hf_launcher"), "DEFER_LOADING", False):
    load()
