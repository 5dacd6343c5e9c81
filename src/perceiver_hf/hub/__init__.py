"""Sharing on the Hugging Face Hub: export with self-contained remote code, and checks for loading.

- `export_for_hub(model, folder, tokenizer)`: weights + config with `auto_map` + tokenizer + the package's own
  configuration/modeling/tokenization code, so the folder loads with `trust_remote_code=True` where
  perceiver-hf is not installed (`perceiver-hf export-hub` on the command line).
- `bundle_modules(...)`: the generator of that code (one source of truth: the package's modules).
"""

from .bundle import BundleError, bundle_modules
from .export import export_for_hub

__all__ = ["BundleError", "bundle_modules", "export_for_hub"]
