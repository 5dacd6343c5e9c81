"""DeepMind's Haiku parameter names -> `PerceiverForMaskedLM` state-dict keys, as tables.

Haiku names a parameter "<module path>/<param>" (the pickle nests them as {module path: {param: array}}).
The tables follow DeepMind's perceiver.py: an attention block's q, k, v and output projections are
`linear`, `linear_1`, `linear_2`, `linear_3`; hk.Linear stores `w` as [in, out], so our weight is `w.T`;
hk.LayerNorm has `scale` and `offset`; the i-th encoder self-attention layer is `self_attention` for i = 0
and `self_attention_<i>` after that.
"""

from __future__ import annotations

import warnings
from typing import Any, Iterator, Mapping, Optional

import numpy as np
import torch

from .errors import ConversionError
from .mapping import CheckpointLayout, ModuleTable, Param, ParamTable
from .pickle_standins import short_repr

SEPARATOR = "/"

LINEAR: ParamTable = (Param("weight", "w", transpose=True), Param("bias", "b"))
LAYER_NORM: ParamTable = (Param("weight", "scale"), Param("bias", "offset"))

ATTENTION_AND_MLP: ModuleTable = {
    "attention.q_proj": ("attention/linear", LINEAR),
    "attention.k_proj": ("attention/linear_1", LINEAR),
    "attention.v_proj": ("attention/linear_2", LINEAR),
    "attention.o_proj": ("attention/linear_3", LINEAR),
    "mlp.fc1": ("mlp/linear", LINEAR),
    "mlp.fc2": ("mlp/linear_1", LINEAR),
}

CROSS_ATTENTION_LAYER: ModuleTable = {
    "q_norm": ("layer_norm", LAYER_NORM),
    "kv_norm": ("layer_norm_1", LAYER_NORM),
    "mlp_norm": ("layer_norm_2", LAYER_NORM),
    **ATTENTION_AND_MLP,
}

SELF_ATTENTION_LAYER: ModuleTable = {
    "norm": ("layer_norm", LAYER_NORM),
    "mlp_norm": ("layer_norm_1", LAYER_NORM),
    **ATTENTION_AND_MLP,
}

SINGLE_ARRAYS: ModuleTable = {
    "perceiver.encoder.input_adapter.text_embedding": ("embed", (Param("weight", "embeddings"),)),
    "perceiver.encoder.input_adapter": ("trainable_position_encoding", (Param("pos_encoding", "pos_embs"),)),
    "perceiver.encoder.latent_provider": (
        "perceiver_encoder/~/trainable_position_encoding", (Param("query", "pos_embs"),)
    ),
    "perceiver.decoder.output_query_provider": (
        "basic_decoder/~/trainable_position_encoding", (Param("query", "pos_embs"),)
    ),
    "lm_head": ("embedding_decoder", (Param("bias", "bias"),)),
}
"""Our module <- Haiku module for the embedding, the position encodings, the latents and the output bias."""

CROSS_ATTENTION_LAYERS = {
    "perceiver.encoder.cross_attention": "perceiver_encoder/~/cross_attention",
    "perceiver.decoder.cross_attention": "basic_decoder/cross_attention",
}
"""Our cross-attention layer <- Haiku module (both laid out as `CROSS_ATTENTION_LAYER`)."""

SELF_ATTENTION_PREFIX = "perceiver_encoder/~/self_attention"


def self_attention_module(index: int) -> str:
    """Haiku's module path of encoder self-attention layer `index` (`self_attention`, `self_attention_1`, ...)."""
    return SELF_ATTENTION_PREFIX if index == 0 else f"{SELF_ATTENTION_PREFIX}_{index}"


HAIKU_LAYOUT = CheckpointLayout(
    separator=SEPARATOR,
    single_arrays=SINGLE_ARRAYS,
    cross_attention_layers=CROSS_ATTENTION_LAYERS,
    cross_attention_layer=CROSS_ATTENTION_LAYER,
    self_attention_layer=SELF_ATTENTION_LAYER,
    self_attention_module=self_attention_module,
)


_DTYPE_KINDS = {"b": "boolean", "i": "integer", "u": "unsigned integer", "c": "complex"}


def _check_parameter(name: str, value: Any) -> np.ndarray:
    """`value` if it is a floating-point array; else a `ConversionError` naming the entry."""
    if not isinstance(value, np.ndarray):
        raise ConversionError(f"Checkpoint entry {name!r} is a {type(value).__name__}, expected a numpy array.")
    if value.dtype.kind != "f":
        kind = _DTYPE_KINDS.get(value.dtype.kind, value.dtype.kind)
        raise ConversionError(
            f"Checkpoint array {name!r} has {kind} dtype {value.dtype}; Haiku parameters are floating point, and "
            "casting it to float32 would change its values (complex would lose its imaginary part). The file is "
            "not a parameter checkpoint or was altered; use the original checkpoint."
        )
    return value


def flatten_params(params: Any) -> dict[str, np.ndarray]:
    """{module path: {param: array}} (nested to any depth) -> {"module path/param": array}.

    Every leaf must be a floating-point array, and every mapping must appear once (a tree, as Haiku writes
    it): a mapping shared under two names would multiply the names, exponentially with the nesting.
    """
    if not isinstance(params, Mapping):
        raise ConversionError(
            f"The checkpoint holds a {type(params).__name__}, not a mapping of Haiku module paths to parameters; "
            "is it a Haiku parameter pickle?"
        )
    flat: dict[str, np.ndarray] = {}
    seen: set[int] = {id(params)}
    # depth first, in the file's order; the prefix of the top level is None
    stack: list[tuple[Optional[str], Iterator[tuple[Any, Any]]]] = [(None, iter(params.items()))]
    while stack:
        prefix, items = stack[-1]
        entry = next(items, None)
        if entry is None:
            stack.pop()
            continue
        key, value = entry
        if not isinstance(key, str):
            raise ConversionError(
                f"not a Haiku checkpoint: it has a non-string module or parameter name {short_repr(key)} under "
                f"{'the top level' if prefix is None else repr(prefix)} (Haiku names are strings)."
            )
        name = key if prefix is None else f"{prefix}{SEPARATOR}{key}"
        if not isinstance(value, Mapping):
            flat[name] = _check_parameter(name, value)
        elif id(value) in seen:
            raise ConversionError(
                f"not a Haiku checkpoint: the module {name!r} is the same mapping as another module "
                "(Haiku writes each module once); the file is corrupt or hostile."
            )
        else:
            seen.add(id(value))
            stack.append((name, iter(value.items())))
    return flat


def numpy_to_tensor(array: np.ndarray, transpose: bool) -> torch.Tensor:
    """A contiguous float32 tensor of `array` (or of `array.T`), sharing memory with it when no copy is needed."""
    if transpose:
        array = array.T
    array = np.ascontiguousarray(array, dtype=np.float32)  # also makes big-endian data native
    with warnings.catch_warnings():  # arrays over the pickle's bytes are read-only; nothing writes to them
        warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
        return torch.from_numpy(array)
