"""Convert a perceiver-io library (0.9-0.11) Hugging Face folder into a perceiver-hf folder.

    folder or Hub id: config.json (model_type perceiver-io-masked-language-model / perceiver-io-text-classifier,
    model_config {encoder, decoder, num_latents, ...}) + model.safetensors or pytorch_model.bin (backend_model.*)
    --checks: the model type, every field of model_config, safetensors or torch.load(weights_only=True)-->
    PerceiverConfig (`perceiver_io_config`, version 0.9-0.11) + perceiver_io_hf_layout rules --> OUTPUT_DIR

That library no longer runs on current transformers; the converted folder is an ordinary perceiver-hf model
(`PerceiverForMaskedLM` or `PerceiverForSequenceClassification`, `id2label` kept).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional, Union

import torch

from ..configuration_perceiver import PerceiverConfig
from ..model_location import check_model_source
from ..output_folder import plan_output_folder
from .errors import ConversionError
from .perceiver_io_card import LibrarySource, file_sha256, perceiver_io_command
from .perceiver_io_checkpoint import load_torch_file
from .library_sizes import check_sizes_fit_weights
from .perceiver_io_classifier import CLASSIFIER_WEIGHT, classifier_config
from .perceiver_io_config import library_config
from .perceiver_io_folder import write_library_folder
from .perceiver_io_hf_mapping import BACKEND_PREFIX, OUTPUT_QUERY, perceiver_io_hf_layout
from .perceiver_ar import CAUSAL_LM, perceiver_ar_config, source_tokenizer, write_perceiver_ar_folder
from .perceiver_io_versions import V0_11
from .settings_graph import plain_settings
from .tensor_sizes import check_tensor_sizes

MASKED_LM = "perceiver-io-masked-language-model"
TEXT_CLASSIFIER = "perceiver-io-text-classifier"
SUPPORTED_TYPES = (MASKED_LM, TEXT_CLASSIFIER, CAUSAL_LM)
OTHER_LIBRARY_TYPES = {
    "perceiver-ar-symbolic-audio-model": "a symbolic audio model (Perceiver AR; not text)",
    "perceiver-io-image-classifier": "an image classifier",
    "perceiver-io-optical-flow": "an optical flow model",
}
"""The library's other Hugging Face model types, which perceiver-hf does not have."""
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
TOKENIZER_FILES = ("tokenizer.json", "special_tokens_map.json", "spiece.model", "vocab.json", "merges.txt", "vocab.txt")
"""Files a transformers tokenizer saves besides tokenizer_config.json (fetched for a Hub source's causal LM)."""
SHARDED_INDEXES = ("model.safetensors.index.json", "pytorch_model.bin.index.json")
MAX_CONFIG_BYTES = 1 << 20  # a config.json is a few KB; anything larger is not one
SUPPORTED = f"perceiver-io 0.9-0.11 Hugging Face folders of model type {' or '.join(SUPPORTED_TYPES)}"


class LibrarySourceFiles:
    """The files of a local folder or a Hub repository (the Hub cache first; the Hub checked once, fast)."""

    def __init__(self, source: str, revision: Optional[str] = None) -> None:
        self.source, self.revision = source, revision
        self.folder = Path(source) if Path(source).is_dir() else None
        if self.folder is None:
            check_model_source(source, revision)  # one line when neither a folder nor reachable/cached on the Hub

    def get(self, name: str) -> Optional[Path]:
        """The file `name`, or None if the source has none."""
        if self.folder is not None:
            path = self.folder / name
            return path if path.is_file() else None
        from huggingface_hub import hf_hub_download
        from huggingface_hub.errors import EntryNotFoundError

        try:
            return Path(hf_hub_download(self.source, name, revision=self.revision))
        except EntryNotFoundError:  # also LocalEntryNotFoundError: offline, and not in the cache
            return None

    def tokenizer_folder(self) -> Optional[Path]:
        """The folder holding the source's tokenizer files (for a Hub id: its cache snapshot, after fetching the
        files a transformers tokenizer saves), or None if it has no tokenizer_config.json."""
        if self.folder is not None:
            return self.folder
        config = self.get("tokenizer_config.json")
        for name in TOKENIZER_FILES:
            self.get(name)
        return config.parent if config is not None else None

    def config(self) -> Path:
        """config.json (a one-line error without it)."""
        path = self.get("config.json")
        if path is None:
            raise ConversionError(f"{self.source} has no config.json; SOURCE must be the folder the library's "
                                  f"save_pretrained wrote (or its Hub id). Supported: {SUPPORTED}.")
        return path

    def weights(self) -> Path:
        """model.safetensors or pytorch_model.bin (one-line errors for none, or only a sharded index)."""
        for name in WEIGHT_FILES:
            path = self.get(name)
            if path is not None:
                return path
        sharded = next((name for name in SHARDED_INDEXES if self.get(name) is not None), None)
        problem = f"is sharded ({sharded}), which this converter does not read" if sharded else "has no weights file"
        raise ConversionError(f"{self.source} {problem}; expected {' or '.join(WEIGHT_FILES)} as the library saves them.")


def read_library_config(path: Path) -> dict[str, Any]:
    """config.json as data, with its model type checked: a one-line error for anything else."""
    if path.stat().st_size > MAX_CONFIG_BYTES:
        raise ConversionError(f"{path} is {path.stat().st_size:,} bytes, not a config.json (a few KB).")
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as error:
        raise ConversionError(f"{path} is not readable JSON ({error or 'nested too deeply'}).") from None
    if not isinstance(config, dict):
        raise ConversionError(f"{path} holds a JSON {type(config).__name__}, not a config object.")
    model_type = config.get("model_type")
    if model_type in OTHER_LIBRARY_TYPES:
        raise ConversionError(f"{path} is {OTHER_LIBRARY_TYPES[model_type]} (model_type {model_type!r}), which "
                              f"perceiver-hf does not have; supported: {SUPPORTED}.")
    if model_type not in SUPPORTED_TYPES:
        hint = " (a perceiver-hf or transformers folder: load it directly, or `convert transformers`)" if model_type in (
            "perceiver_io", "perceiver") else ""
        raise ConversionError(f"{path} has model_type {model_type!r}{hint}; supported: {SUPPORTED}.")
    if not isinstance(config.get("model_config"), dict):
        raise ConversionError(f"{path} has no model_config object (the library's model settings); "
                              f"supported: {SUPPORTED}.")
    return config


def read_library_weights(path: Path) -> dict[str, torch.Tensor]:
    """The backend model's tensors (keys without "backend_model.") of a safetensors or pytorch_model.bin file."""
    if path.suffix == ".safetensors":
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        if path.stat().st_size == 0:
            raise ConversionError(f"{path} is empty (0 bytes); save or download the model again.")
        try:
            tensors = load_file(path)
        except (SafetensorError, OSError, ValueError) as error:
            raise ConversionError(f"{path} is not a readable safetensors file ({error}).") from None
    else:
        tensors = load_torch_file(path)
        if not isinstance(tensors, dict) or not all(
            isinstance(name, str) and isinstance(value, torch.Tensor) for name, value in tensors.items()
        ):
            raise ConversionError(f"{path} does not hold a state dict of tensors; supported: {SUPPORTED}.")
        check_tensor_sizes(tensors, path)
    outside = sorted(name for name in tensors if not name.startswith(BACKEND_PREFIX))
    if outside:
        raise ConversionError(f"{path} has weights outside {BACKEND_PREFIX!r} (e.g. {outside[:3]}); the library keeps "
                              f"its model there. Supported: {SUPPORTED}.")
    return {name[len(BACKEND_PREFIX):]: tensor for name, tensor in tensors.items()}


def _byte_tokenizer(config: dict[str, Any], perceiver_config: PerceiverConfig) -> bool:
    """Whether the source names transformers' byte-level `PerceiverTokenizer` (which ours reproduces)."""
    return config.get("tokenizer_class") == "PerceiverTokenizer" and perceiver_config.vocab_size == 262


def convert_perceiver_io_folder(
    source: Union[str, Path],
    output_dir: Union[str, Path],
    *,
    revision: Optional[str] = None,
    force: bool = False,
    progress: bool = True,
    command: Optional[str] = None,
) -> Path:
    """Convert a perceiver-io 0.9-0.11 masked LM, text classifier or Perceiver AR causal LM saved by the
    library's `save_pretrained`.

    Args:
        source: the folder, or a Hub model id (the cache is used first; `revision` picks a branch, tag or commit).
        output_dir: a new or empty folder (or a previous perceiver-hf output, with `force`).
        force, progress, command: as in `convert_haiku_checkpoint`.

    Raises:
        ConversionError: not such a folder, another model type, model_config fields missing or unknown, unreadable weights.
        MappingError: missing, unexpected or mis-shaped weights (all listed).
        OutputDirError: `output_dir` is not writable under the output-folder rules.
    """
    output_plan = plan_output_folder(output_dir, force=force, inputs=[source])  # before anything is read or downloaded
    files = LibrarySourceFiles(str(source), revision)
    config_path = files.config()
    library = read_library_config(config_path)
    classifier = library["model_type"] == TEXT_CLASSIFIER
    settings = plain_settings(library["model_config"], repr(str(config_path)))
    what = f"{V0_11.name} folder {str(source)!r}"
    causal_lm = perceiver_ar_config(settings, what) if library["model_type"] == CAUSAL_LM else None
    weights_path = files.weights()
    tensors = read_library_weights(weights_path)
    digest = file_sha256(weights_path)
    name = str(source) if not Path(source).is_dir() else Path(source).name
    read_as = (f"{V0_11.name} Hugging Face folder ({weights_path.name}, written by transformers "
               f"{library.get('transformers_version', 'unknown')})")
    read_note = f"reads config.json as data and {weights_path.name} with " + (
        "safetensors" if weights_path.suffix == ".safetensors" else "`torch.load(weights_only=True)`")
    command = command or perceiver_io_command(source, output_dir, force, revision=revision)
    if causal_lm is not None:
        library_source = LibrarySource(
            name=name, size=weights_path.stat().st_size, sha256=digest, version=V0_11.name,
            library="the perceiver-io library (0.9-0.11, a Hugging Face folder of `PerceiverCausalLanguageModel`)",
            read_as=read_as, read_note=read_note, settings=settings,
        )  # fmt: skip
        return write_perceiver_ar_folder(
            output_plan, tensors=tensors, config=causal_lm, source=library_source,
            tokenizer=source_tokenizer(library, causal_lm, files.tokenizer_folder()), command=command, force=force,
            progress=progress,
        )  # fmt: skip
    check_sizes_fit_weights(settings, tensors, what, CLASSIFIER_WEIGHT if classifier else None)
    config = (classifier_config(settings, library.get("id2label"), V0_11) if classifier
              else library_config(settings, V0_11))  # fmt: skip
    queries = tensors.get(OUTPUT_QUERY)
    if not classifier and queries is not None and queries.shape[0] > config.max_seq_len:
        tensors[OUTPUT_QUERY] = queries[: config.max_seq_len]  # never decoded: the library keeps the first L outputs
    byte_tokenizer = _byte_tokenizer(library, config)
    library_source = LibrarySource(
        name=name, size=weights_path.stat().st_size, sha256=digest, version=V0_11.name,
        library=f"the perceiver-io library (0.9-0.11, a Hugging Face folder of "
        f"`{'PerceiverTextClassifier' if classifier else 'PerceiverMaskedLanguageModel'}`)",
        read_as=read_as, read_note=read_note, settings=settings,
    )  # fmt: skip
    return write_library_folder(
        output_plan,
        source=library_source,
        layout=perceiver_io_hf_layout(classifier, config.tie_word_embeddings, config.classifier_cross_attention_residual
                                      if classifier else config.decoder_cross_attention_residual),
        tensors=tensors,
        config=config,
        what=what,
        classifier=classifier,
        byte_tokenizer=byte_tokenizer,
        command=command,
        force=force,
        progress=progress,
    )


__all__ = ["LibrarySourceFiles", "convert_perceiver_io_folder"]
