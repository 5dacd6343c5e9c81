"""Convert DeepMind's Haiku checkpoint (`language_perceiver_io_bytes.pickle`) into a Hub-ready model folder.

    pickle --restricted unpickler--> {"module/param": array} --infer--> PerceiverConfig
           --mapping table, coverage + shape check--> tensors, one at a time --> OUTPUT_DIR (atomic)

Memory stays near one copy of the checkpoint: arrays are views of the pickle's bytes, each becomes a tensor
sharing its memory (only transposed matrices are copied, one at a time, and their source is dropped), shapes
are checked against a meta-device model, and safetensors writes straight from the tensors.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any, Mapping, Optional, Union

import numpy as np

from ..output_folder import plan_output_folder
from .conversion_card import DEEPMIND_TEMPLATE
from .converted_folder import write_converted_folder
from .haiku_config import infer_haiku_config
from .haiku_mapping import HAIKU_LAYOUT, flatten_params, numpy_to_tensor
from .progress import logger
from .safe_pickle import load_pickle

CHECKPOINT_URL = "https://storage.googleapis.com/perceiver_io/language_perceiver_io_bytes.pickle"
LICENSE = "cc-by-4.0"  # DeepMind's terms for the released parameters


def load_haiku_params(path: Union[str, Path], *, progress: bool = True) -> tuple[dict[str, np.ndarray], str]:
    """Read a Haiku checkpoint safely; return ({"module/param": array}, sha256 of the file)."""
    params, digest = load_pickle(path, progress=progress)
    return flatten_params(params), digest


def _provenance(path: Path, digest: str) -> str:
    return (
        f"Converted from the Haiku checkpoint `{path.name}` ({path.stat().st_size:,} bytes, sha256 `{digest}`). "
        f"DeepMind released the byte-level Perceiver IO language model as `language_perceiver_io_bytes.pickle` "
        f"({CHECKPOINT_URL}), with the Perceiver IO paper and code "
        "(https://github.com/google-deepmind/deepmind-research/tree/master/perceiver); its parameters are "
        "licensed under the Creative Commons Attribution 4.0 International license (CC BY 4.0). Compare the "
        "sha256 above with your own download. The values are copied unchanged as float32; only names and "
        "layouts change (Haiku's `w` [in, out] becomes a PyTorch weight [out, in])."
    )


def haiku_command(pickle_path: Union[str, Path], output_dir: Union[str, Path], overrides: str, force: bool) -> str:
    """The `perceiver-hf convert haiku` command line equivalent to these arguments."""
    args = ["perceiver-hf", "convert", "haiku", str(pickle_path), str(output_dir)]
    args += ["--config-overrides", overrides] if overrides else []
    return shlex.join(args + (["--force"] if force else []))


def convert_haiku_checkpoint(
    pickle_path: Union[str, Path],
    output_dir: Union[str, Path],
    *,
    config_overrides: Optional[Mapping[str, Any]] = None,
    force: bool = False,
    progress: bool = True,
    command: Optional[str] = None,
) -> Path:
    """Convert a Haiku Perceiver IO language-model pickle into `output_dir`; return its absolute path.

    The folder holds config.json, model.safetensors, the byte tokenizer and a README.md model card, and loads
    with `AutoModelForMaskedLM.from_pretrained` once `perceiver_hf` is imported.

    Args:
        pickle_path: the checkpoint (e.g. DeepMind's `language_perceiver_io_bytes.pickle`).
        output_dir: a new or empty folder (or any folder, with `force`).
        config_overrides: `PerceiverConfig` fields the weights do not reveal (head counts,
            `num_self_attention_blocks`); default: DeepMind's published configuration (8 heads, 1 block).
        force: replace a non-empty `output_dir`, once the new folder is complete.
        progress: show progress bars on stderr.
        command: the command line recorded in the model card (default: the equivalent `perceiver-hf` command).

    Raises:
        UnsafePickleError: the pickle references a global a checkpoint never needs (nothing was executed).
        MappingError: arrays and model parameters do not match one to one (the message lists the names).
        OutputDirError: `output_dir` is or contains the pickle, is a file, or is not empty (without `force`, or
            not written by perceiver-hf).
        ConversionError: the file is missing, corrupt or not a Perceiver IO language model checkpoint.
    """
    pickle_path = Path(pickle_path)
    output_plan = plan_output_folder(output_dir, force=force, inputs=[pickle_path])
    overrides = dict(config_overrides or {})
    logger.info("Reading %s", pickle_path)
    params, digest = load_haiku_params(pickle_path, progress=progress)
    config = infer_haiku_config({name: tuple(array.shape) for name, array in params.items()}, overrides)
    overrides_text = ",".join(f"{key}={value}" for key, value in overrides.items())
    return write_converted_folder(
        output_plan,
        layout=HAIKU_LAYOUT,
        arrays=params,
        to_tensor=numpy_to_tensor,
        config=config,
        what=f"Haiku checkpoint {str(pickle_path)!r}",
        card_template=DEEPMIND_TEMPLATE,
        card_fields=dict(
            title="DeepMind's byte-level Perceiver IO masked language model",
            description="DeepMind's `language_perceiver_io_bytes` masked language model, converted from its Haiku "
            "checkpoint to a Hugging Face transformers model folder (safetensors).",
            license=LICENSE,
            provenance=_provenance(pickle_path, digest),
            command=command or haiku_command(pickle_path, output_dir, overrides_text, force),
        ),
        metadata={"source": pickle_path.name, "source_sha256": digest},
        force=force,
        progress=progress,
    )
