"""Text adapters and text model builders for Perceiver IO."""

from .adapters import TextInputAdapter, TiedTextOutputAdapter
from .classification import (
    ClassificationDecoderConfig,
    TextClassifier,
    TokenClassifier,
    build_classification_decoder,
    classification_decoder,
)
from .language import (
    MaskedLanguageModel,
    TextDecoderConfig,
    TextEncoderConfig,
    build_text_decoder,
    build_text_encoder,
)

__all__ = [
    "ClassificationDecoderConfig",
    "TextClassifier",
    "TokenClassifier",
    "build_classification_decoder",
    "classification_decoder",
    "MaskedLanguageModel",
    "TextDecoderConfig",
    "TextEncoderConfig",
    "TextInputAdapter",
    "TiedTextOutputAdapter",
    "build_text_decoder",
    "build_text_encoder",
]
