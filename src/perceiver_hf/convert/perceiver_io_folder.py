"""The last step of both perceiver-io converters (0.4 checkpoints, 0.9-0.11 folders): write the model folder."""

from __future__ import annotations

from pathlib import Path
from typing import MutableMapping

import torch

from ..configuration_perceiver import PerceiverConfig
from ..modeling_classification import PerceiverForSequenceClassification
from ..output_folder import OutputPlan
from .conversion_card import PERCEIVER_IO_CLASSIFIER_TEMPLATE, PERCEIVER_IO_TEMPLATE
from .converted_folder import write_converted_folder
from .mapping import CheckpointLayout
from .perceiver_io_card import LibrarySource, library_card_fields


def _as_tensor(tensor: torch.Tensor, transpose: bool) -> torch.Tensor:
    return tensor.t().contiguous() if transpose else tensor.contiguous()


def write_library_folder(
    output_plan: OutputPlan,
    *,
    source: LibrarySource,
    layout: CheckpointLayout,
    tensors: MutableMapping[str, torch.Tensor],
    config: PerceiverConfig,
    what: str,
    classifier: bool,
    byte_tokenizer: bool,
    command: str,
    force: bool,
    progress: bool,
) -> Path:
    """Check that `tensors` (the library's names, as `layout` reads them) fill the model exactly, then write the
    masked LM or (`classifier`) sequence classifier folder with its card and the source in the safetensors header;
    `what` names the source in error messages."""
    return write_converted_folder(
        output_plan,
        layout=layout,
        arrays=tensors,
        to_tensor=_as_tensor,
        config=config,
        what=what,
        card_template=PERCEIVER_IO_CLASSIFIER_TEMPLATE if classifier else PERCEIVER_IO_TEMPLATE,
        card_fields=library_card_fields(
            source, config, classifier=classifier, byte_tokenizer=byte_tokenizer, model_path=output_plan.path.name,
            command=command,
        ),
        metadata={"source": source.name, "source_sha256": source.sha256, "source_library": source.version},
        force=force,
        progress=progress,
        byte_tokenizer=byte_tokenizer,
        model_class=PerceiverForSequenceClassification if classifier else None,
    )


__all__ = ["write_library_folder"]
