"""Generic Perceiver IO building blocks in plain PyTorch (no transformers dependency)."""

from .adapters import InputAdapter, OutputAdapter, OutputQueryProvider, TrainableQueryProvider
from .attention import MultiHeadAttention, set_attention_implementation
from .layers import MLP, CrossAttentionLayer, SelfAttentionBlock, SelfAttentionLayer, get_activation
from .modules import EncoderOutput, PerceiverDecoder, PerceiverEncoder, PerceiverIO

__all__ = [
    "CrossAttentionLayer",
    "EncoderOutput",
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
    "get_activation",
    "set_attention_implementation",
]
