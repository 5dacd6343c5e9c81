"""Training and fine-tuning with transformers' `Trainer` (the `training` extra: datasets, matplotlib, pyyaml).

The collators, masking and metrics need only torch and transformers; `data` and `run` need `datasets`.

    from perceiver_hf.training import PerceiverMLMCollator, compute_metrics, preprocess_logits_for_metrics
"""

from .collators import MaskingEpochCallback, PerceiverMLMCollator, select_output_positions
from .masking import MASKING_STRATEGIES, MaskingSpec, TokenTables, mask_sequence
from .metrics import compute_metrics, preprocess_logits_for_metrics
from .presets import PRESETS, build_preset

__all__ = [
    "MASKING_STRATEGIES",
    "MaskingEpochCallback",
    "MaskingSpec",
    "PRESETS",
    "PerceiverMLMCollator",
    "TokenTables",
    "build_preset",
    "compute_metrics",
    "mask_sequence",
    "preprocess_logits_for_metrics",
    "select_output_positions",
]
