"""Converters into perceiver-hf model folders (config.json, model.safetensors, tokenizer, README.md).

- `convert_haiku_checkpoint`: DeepMind's Haiku pickle (`language_perceiver_io_bytes.pickle`), read with a
  restricted unpickler (no JAX or Haiku needed, no code from the file runs).
- `convert_transformers_checkpoint`: transformers' own `PerceiverForMaskedLM` (model_type "perceiver").
- `convert_perceiver_io_checkpoint`: the perceiver-io library's (0.4) `LitLanguageModel` checkpoint or state dict,
  read with `torch.load(weights_only=True)` and an allow-list; `export_perceiver_io_state_dict` goes back.
- `convert_perceiver_io_folder`: the perceiver-io library's (0.9-0.11) Hugging Face folders (masked LM, text
  classifier), config.json read as data, weights with safetensors or `torch.load(weights_only=True)`.

All map names through declarative tables (`haiku_mapping.HAIKU_LAYOUT`, `from_transformers.TRANSFORMERS_LAYOUT`, ...),
infer the configuration from the weights, check that every source array fills exactly one parameter of the
right shape, and write the output folder atomically. The command-line front end is `perceiver-hf convert`.
"""

from ..config_overrides import parse_config_overrides
from .errors import ConversionError, MappingError, OutputDirError, UnsafePickleError
from .from_transformers import convert_transformers_checkpoint
from .haiku import convert_haiku_checkpoint, load_haiku_params
from .haiku_config import DEEPMIND_DEFAULTS, infer_haiku_config
from .perceiver_io import convert_perceiver_io_checkpoint, export_perceiver_io_state_dict
from .perceiver_io_hf import convert_perceiver_io_folder
from .safe_pickle import RestrictedUnpickler, load_pickle

__all__ = [
    "ConversionError",
    "DEEPMIND_DEFAULTS",
    "MappingError",
    "OutputDirError",
    "RestrictedUnpickler",
    "UnsafePickleError",
    "convert_haiku_checkpoint",
    "convert_perceiver_io_checkpoint",
    "convert_perceiver_io_folder",
    "convert_transformers_checkpoint",
    "export_perceiver_io_state_dict",
    "infer_haiku_config",
    "load_haiku_params",
    "load_pickle",
    "parse_config_overrides",
]
