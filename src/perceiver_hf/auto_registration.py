"""Register the Perceiver classes with transformers' Auto classes (runs on `import perceiver_hf`).

`model_type="perceiver_io"` resolves to the package's masked-LM, sequence and token classification models,
`model_type="perceiver_ar"` to the Perceiver AR base model and causal LM. Every
other `AutoModelFor...` class gets a stand-in whose loading raises `UnsupportedTaskError`: without it transformers
looks our config up by its class name, `PerceiverConfig`, finds its own Perceiver and builds that with our config
(an `AttributeError` about `d_latents`), or answers that the configuration class is unrecognized.
"""

from __future__ import annotations

from typing import Any, NoReturn

from transformers import (
    AutoConfig,
    AutoModel,
    AutoModelForCausalLM,
    AutoModelForMaskedLM,
    AutoModelForSequenceClassification,
    AutoModelForTokenClassification,
    AutoTokenizer,
)
from transformers.models.auto import modeling_auto
from transformers.models.auto.auto_factory import _BaseAutoModelClass

from .configuration_perceiver import PerceiverConfig
from .configuration_perceiver_ar import PerceiverARConfig
from .modeling_classification import PerceiverForSequenceClassification, PerceiverForTokenClassification
from .modeling_perceiver import PerceiverForMaskedLM, PerceiverModel
from .modeling_perceiver_ar import PerceiverARModel, PerceiverForCausalLM
from .tokenization_perceiver import PerceiverByteTokenizer

SUPPORTED_HEADS = {
    AutoModel: PerceiverModel,
    AutoModelForMaskedLM: PerceiverForMaskedLM,
    AutoModelForSequenceClassification: PerceiverForSequenceClassification,
    AutoModelForTokenClassification: PerceiverForTokenClassification,
}
AR_HEADS = {AutoModel: PerceiverARModel, AutoModelForCausalLM: PerceiverForCausalLM}

# config class -> (its heads, what the refusal of any other head says the model type supports)
FAMILIES = {
    PerceiverConfig: (
        SUPPORTED_HEADS,
        "masked-LM, sequence and token classification (AutoModelForMaskedLM, AutoModelForSequenceClassification, "
        "AutoModelForTokenClassification; pipeline tasks fill-mask, text-classification, token-classification)",
    ),
    PerceiverARConfig: (
        AR_HEADS,
        "causal language modelling (AutoModelForCausalLM, AutoModel; pipeline task text-generation)",
    ),
}


class UnsupportedTaskError(Exception):
    """A task head perceiver_io does not have was asked for. Deliberately not a ValueError/OSError:
    `transformers.pipeline(...)` swallows those and retries with transformers' own Perceiver classes."""


def _unsupported_head(auto_class: type, config_class: type, supported: str) -> type:
    """A stand-in registered for `auto_class`: loading or building it raises `UnsupportedTaskError`."""
    model_type = config_class.model_type

    def refuse(cls: type, *args: Any, **kwargs: Any) -> NoReturn:
        raise UnsupportedTaskError(
            f"{auto_class.__name__} has no model for model_type {model_type!r}: {model_type} supports {supported}."
        )

    family = "PerceiverAR" if config_class is PerceiverARConfig else "PerceiverIO"
    name = family + "Unsupported" + auto_class.__name__.removeprefix("AutoModel")
    return type(
        name,
        (),
        {"config_class": config_class, "from_pretrained": classmethod(refuse), "_from_config": classmethod(refuse)},
    )


def _other_auto_model_classes(supported: dict) -> list[type]:
    """transformers' `AutoModel...` classes other than the `supported` ones."""
    classes = [getattr(modeling_auto, name) for name in dir(modeling_auto) if name.startswith("AutoModel")]
    return [
        cls for cls in classes
        if isinstance(cls, type) and issubclass(cls, _BaseAutoModelClass) and cls not in supported
    ]  # fmt: skip


def register_auto_classes() -> None:
    """Make `AutoConfig`, `AutoTokenizer` and the Auto model classes resolve `model_type="perceiver_io"` and
    `"perceiver_ar"`."""
    for config_class, (heads, supported) in FAMILIES.items():
        AutoConfig.register(config_class.model_type, config_class, exist_ok=True)
        for auto_class, model_class in heads.items():
            auto_class.register(config_class, model_class, exist_ok=True)
        for auto_class in _other_auto_model_classes(heads):
            auto_class.register(config_class, _unsupported_head(auto_class, config_class, supported), exist_ok=True)
        AutoTokenizer.register(config_class, tokenizer_class=PerceiverByteTokenizer, exist_ok=True)
