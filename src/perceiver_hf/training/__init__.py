"""Training and fine-tuning with transformers' `Trainer` (the `training` extra: datasets, matplotlib, pyyaml).

The collators, masking and metrics need only torch and transformers; `data` and `run` need `datasets`.

    from perceiver_hf.training import PerceiverMLMCollator, compute_metrics, preprocess_logits_for_metrics
"""

from .causal_lm_collator import CausalLMCollator
from .collators import MaskingEpochCallback, PerceiverMLMCollator, select_output_positions
from .masking import MASKING_STRATEGIES, MaskingSpec, TokenTables, mask_sequence
from .metrics import (
    compute_causal_lm_metrics,
    compute_metrics,
    preprocess_causal_logits_for_metrics,
    preprocess_logits_for_metrics,
)
from .presets import CAUSAL_LM_PRESETS, PRESETS, build_preset

__all__ = [
    "CAUSAL_LM_PRESETS",
    "CausalLMCollator",
    "MASKING_STRATEGIES",
    "MaskingEpochCallback",
    "MaskingSpec",
    "PRESETS",
    "PerceiverMLMCollator",
    "TokenTables",
    "build_preset",
    "compute_causal_lm_metrics",
    "compute_metrics",
    "mask_sequence",
    "preprocess_causal_logits_for_metrics",
    "preprocess_logits_for_metrics",
    "select_output_positions",
]
