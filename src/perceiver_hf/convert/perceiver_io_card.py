"""The model card fields of a folder converted from the perceiver-io library (any version, masked LM or classifier).

The templates (`perceiver-io-library-conversion`, `perceiver-io-library-classifier-conversion`) name the library
version, the semantics fields the converted config carries, the source file and settings, and the tokenizer.
"""

from __future__ import annotations

import hashlib
import json
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Optional, Union

from ..configuration_perceiver import PerceiverConfig
from ..model_cards.fields import UNKNOWN_LICENSE, hub_metadata

_NO_TOKENIZER_SECTION = """## Adding the tokenizer

The source does not carry its tokenizer. Save the one the model was trained with (for example the `tokenizer.json`
of the library's data module, loaded with `PreTrainedTokenizerFast(tokenizer_file=...)`, or the Hugging Face
tokenizer it named) into this folder with `tokenizer.save_pretrained("{model_path}")`, and set the config's
`pad_token_id` (and for a masked LM `mask_token_id`) to its ids.{labels}"""
_BYTE_TOKENIZER_SECTION = """## Tokenizer

The source named transformers' `PerceiverTokenizer` (UTF-8 bytes, DeepMind's ids); this folder holds perceiver-hf's
`PerceiverByteTokenizer`, which gives the same ids.{labels}"""
_LABELS_NOTE = " The label names are those the source gave (`id2label`), else `LABEL_i`."


@dataclass(frozen=True)
class LibrarySource:
    """What a converted folder came from.

    Attributes:
        name: the file or folder name (or Hub id) the card shows.
        size: bytes of the weights read.
        sha256: of the weights file.
        version: the library version, e.g. "perceiver-io 0.4" (`perceiver_io_versions`).
        library: the library and format as a phrase, e.g. "the perceiver-io library (0.4, `LitTextClassifier`)".
        read_as: how the source was read, e.g. "Lightning checkpoint".
        read_note: what the converter did to read it safely, for "How this folder was made".
        settings: the library settings read from the source.
    """

    name: str
    size: int
    sha256: str
    version: str
    library: str
    read_as: str
    read_note: str
    settings: Mapping[str, Any]


def file_sha256(path: Path) -> str:
    """The sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def perceiver_io_command(
    source: Union[str, Path], output_dir: Union[str, Path], force: bool, **options: Optional[Union[str, Path]]
) -> str:
    """The `perceiver-hf convert perceiver-io` command line for these arguments (`options`: --config, --revision
    values; None ones left out)."""
    args = ["perceiver-hf", "convert", "perceiver-io", str(source), str(output_dir)]
    for name, value in options.items():
        args += [f"--{name}", str(value)] if value else []
    return shlex.join(args + (["--force"] if force else []))


def semantics_text(config: PerceiverConfig, classifier: bool) -> str:
    """The config fields that carry the library's semantics, as the card lists them."""
    residual = "classifier_cross_attention_residual" if classifier else "decoder_cross_attention_residual"
    names = ["scale_input_embeddings", "hidden_act", residual] + ([] if classifier else ["mask_padded_queries"])
    return ", ".join(f"`{name}={json.dumps(getattr(config, name))}`" for name in names)


def library_card_fields(
    source: LibrarySource, config: PerceiverConfig, *, classifier: bool, byte_tokenizer: bool, command: str,
    model_path: str,
) -> dict[str, Any]:
    """The fields of the perceiver-io conversion card templates: the source, nothing assumed about its data."""
    kind, pipeline_tag = ("text classifier", "text-classification") if classifier else ("masked language model", "fill-mask")
    labels = _LABELS_NOTE if classifier else ""
    tokenizer_section = (_BYTE_TOKENIZER_SECTION if byte_tokenizer else _NO_TOKENIZER_SECTION).format(
        model_path=model_path, labels=labels
    )
    return dict(
        metadata=hub_metadata(license=UNKNOWN_LICENSE, tags=["perceiver-io"], pipeline_tag=pipeline_tag),
        title=f"Perceiver IO {kind} converted from {source.version} ({source.name})",
        library=source.library,
        semantics=semantics_text(config, classifier),
        license_note=f"{UNKNOWN_LICENSE}: that of the training run that made `{source.name}` (the library itself is "
        "Apache-2.0; its license does not cover trained weights)",
        provenance=f"Converted from `{source.name}` ({source.size:,} bytes of weights, sha256 `{source.sha256}`), a "
        f"{source.read_as}. The values are copied unchanged as float32; only names change (and a masked LM's output "
        "queries past the encoder's max_seq_len, which the library never decodes, are left out).",
        source_name=source.name,
        source_sha256=source.sha256,
        library_settings=json.dumps(source.settings, sort_keys=True),
        command=command,
        read_note=source.read_note,
        tokenizer_row="perceiver-hf's byte tokenizer (the source's `PerceiverTokenizer` ids)" if byte_tokenizer
        else "not included: the library trained with its own tokenizer (see below)",
        tokenizer_section=tokenizer_section,
    )


__all__ = ["LibrarySource", "file_sha256", "library_card_fields", "perceiver_io_command", "semantics_text"]
