"""Register the Perceiver IO classes with transformers' Auto classes (runs on `import perceiver_hf`)."""

from __future__ import annotations

from transformers import AutoConfig, AutoModel, AutoModelForMaskedLM, AutoTokenizer

from .configuration_perceiver import PerceiverConfig
from .modeling_perceiver import PerceiverForMaskedLM, PerceiverModel
from .tokenization_perceiver import PerceiverByteTokenizer


def register_auto_classes() -> None:
    """Make `AutoConfig`, `AutoModel`, `AutoModelForMaskedLM` and `AutoTokenizer` resolve `model_type="perceiver_io"`."""
    AutoConfig.register(PerceiverConfig.model_type, PerceiverConfig, exist_ok=True)
    AutoModel.register(PerceiverConfig, PerceiverModel, exist_ok=True)
    AutoModelForMaskedLM.register(PerceiverConfig, PerceiverForMaskedLM, exist_ok=True)
    AutoTokenizer.register(PerceiverConfig, tokenizer_class=PerceiverByteTokenizer, exist_ok=True)
