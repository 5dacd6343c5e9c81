"""Text adapters and text model builders for Perceiver IO."""

from .adapters import TextInputAdapter, TiedTextOutputAdapter
from .language import (
    MaskedLanguageModel,
    TextDecoderConfig,
    TextEncoderConfig,
    build_text_decoder,
    build_text_encoder,
)

__all__ = [
    "MaskedLanguageModel",
    "TextDecoderConfig",
    "TextEncoderConfig",
    "TextInputAdapter",
    "TiedTextOutputAdapter",
    "build_text_decoder",
    "build_text_encoder",
]
