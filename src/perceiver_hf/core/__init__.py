"""Generic Perceiver IO building blocks in plain PyTorch (no transformers dependency)."""

from .adapters import InputAdapter, OutputAdapter, OutputQueryProvider, TrainableQueryProvider
from .attention import (
    MultiHeadAttention,
    default_attention_forward,
    eager_attention_forward,
    sdpa_attention_forward,
)
from .classification import ClassificationOutputAdapter
from .layers import MLP, CrossAttentionLayer, SelfAttentionBlock, SelfAttentionLayer, get_activation
from .modules import EncoderOutput, PerceiverDecoder, PerceiverEncoder, PerceiverIO
from .specs import AttentionSpec, DecoderSpec, EncoderSpec, decoder_spec, encoder_spec

__all__ = [
    "AttentionSpec",
    "ClassificationOutputAdapter",
    "CrossAttentionLayer",
    "DecoderSpec",
    "EncoderOutput",
    "EncoderSpec",
    "InputAdapter",
    "MLP",
    "MultiHeadAttention",
    "OutputAdapter",
    "OutputQueryProvider",
    "PerceiverDecoder",
    "PerceiverEncoder",
    "PerceiverIO",
    "SelfAttentionBlock",
    "SelfAttentionLayer",
    "TrainableQueryProvider",
    "decoder_spec",
    "default_attention_forward",
    "eager_attention_forward",
    "encoder_spec",
    "get_activation",
    "sdpa_attention_forward",
]
