"""The README.md of a converted folder: the fields every conversion card template shares, filled from the model.

Rendering itself is `perceiver_hf.model_cards.render_model_card` (the one renderer; templates in that package).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..version import package_version
from ..configuration_perceiver import PerceiverConfig
from ..model_cards import render_model_card
from ..model_cards.fields import architecture_summary, classifier_summary

DEEPMIND_TEMPLATE = "deepmind-language-perceiver"
"""DeepMind's released Haiku checkpoint (its provenance, license and training data)."""
TRANSFORMERS_TEMPLATE = "transformers-perceiver-conversion"
"""Any transformers `PerceiverForMaskedLM` checkpoint (metadata from the source, nothing assumed)."""
TRANSFORMERS_CLASSIFIER_TEMPLATE = "transformers-perceiver-classifier-conversion"
"""Any transformers `PerceiverForSequenceClassification` checkpoint."""
SEQUENCE_CLASSIFIER = "PerceiverForSequenceClassification"
PERCEIVER_IO_TEMPLATE = "perceiver-io-library-conversion"
"""A model trained with the perceiver-io library (0.4): its settings and file, nothing assumed about its data."""
PERCEIVER_IO_CLASSIFIER_TEMPLATE = "perceiver-io-library-classifier-conversion"
"""A text classifier trained with the perceiver-io library (0.4)."""


def render_card(
    template: str,
    config: PerceiverConfig,
    num_parameters: int,
    output_dir: Path,
    **fields: Any,
) -> str:
    """The model card (template `template`) of a converted folder holding `num_parameters` parameters.

    Fills the size, architecture, longest input, model path (`output_dir`'s name) and package version; `fields`
    gives the template's other placeholders (title, license, provenance, command, ...).
    """
    return render_model_card(
        template,
        num_parameters=f"{num_parameters:,}",
        architecture=architecture_summary(
            config, classifier_summary(config) if SEQUENCE_CLASSIFIER in (config.architectures or ()) else None
        ),
        max_seq_len=config.max_seq_len,
        model_path=output_dir.name,
        perceiver_hf_version=package_version(),
        **fields,
    )


__all__ = [
    "DEEPMIND_TEMPLATE",
    "PERCEIVER_IO_CLASSIFIER_TEMPLATE",
    "PERCEIVER_IO_TEMPLATE",
    "SEQUENCE_CLASSIFIER",
    "TRANSFORMERS_CLASSIFIER_TEMPLATE",
    "TRANSFORMERS_TEMPLATE",
    "architecture_summary",
    "render_card",
]
