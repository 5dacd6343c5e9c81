"""perceiver-hf: Perceiver IO masked language models as first-class Hugging Face transformers models.

Importing the package registers `PerceiverConfig` (model_type "perceiver_io") and its models with
transformers' Auto classes.
"""

from .auto_registration import register_auto_classes
from .configuration_perceiver import PerceiverConfig
from .modeling_perceiver import PerceiverForMaskedLM, PerceiverMaskedLMOutput, PerceiverModel, PerceiverPreTrainedModel
from .quantization import quantize_dynamic_int8
from .pretrained import DEFAULT_MODEL, pretrained_model_path
from .tokenization_perceiver import PerceiverByteTokenizer
from .version import package_version
from . import pipelines  # noqa: F401,E402  (registers the "fill-mask-spans" pipeline task)

__version__ = package_version()

register_auto_classes()

__all__ = [
    "DEFAULT_MODEL",
    "PerceiverByteTokenizer",
    "PerceiverConfig",
    "PerceiverForMaskedLM",
    "PerceiverMaskedLMOutput",
    "PerceiverModel",
    "PerceiverPreTrainedModel",
    "__version__",
    "quantize_dynamic_int8",
    "pretrained_model_path",
]
