"""`FillMaskSpansPipeline` (task "fill-mask-spans"): fill every mask of a text greedily, in one forward pass.

A byte model predicts one byte per ``[MASK]``, so a masked word is a run of several masks. This pipeline
replaces every mask with its most likely token (the way DeepMind's notebook reads out the model), and reports
each run of consecutive masks as one span of predicted text:

    >>> fill = pipeline("fill-mask-spans", model=folder)
    >>> fill("This is an incomplete sentence where some words are" + "[MASK]" * 9)
    {'sequence': 'This is an incomplete sentence where some words are missing.',
     'spans': [{'start': 51, 'end': 60, 'text': ' missing.', 'token_ids': [...], 'score': ...}],
     'token_ids': [...]}

Models with an ``output_positions`` argument (`PerceiverForMaskedLM`) decode only the masked positions; other
masked language models decode every position and the masked ones are picked out. Lists of texts are run in
padded batches (``batch_size``, default 8).
"""

from __future__ import annotations

import inspect
import math
from typing import Any

import torch
from transformers.pipelines.base import Pipeline

from .masking import masked_positions, missing_mask_message

FILL_MASK_SPANS_TASK = "fill-mask-spans"
DEFAULT_BATCH_SIZE = 8


class FillMaskSpansPipeline(Pipeline):
    """Greedy multi-token mask filling: one forward pass, every mask gets its most likely token.

    Call with one text or a list of texts (each with at least one mask token). Returns, per text, a dict:

    - ``sequence`` (`str`): the text with every mask replaced by its prediction (special tokens the tokenizer
      added, such as ``[CLS]``, are left out; a predicted special token appears as its text, e.g. ``[PAD]``);
    - ``spans`` (`list[dict]`): one entry per run of consecutive masks, in order: ``start`` / ``end``
      (token positions in ``token_ids``, end exclusive; for the byte tokenizer these are byte offsets in the
      UTF-8 text), ``text`` (the predicted tokens decoded), ``token_ids`` (the predicted ids) and ``score``
      (the product of the predicted tokens' probabilities; each position is predicted independently);
    - ``token_ids`` (`list[int]`): the filled token sequence, padding removed.

    Keyword arguments of the call: ``batch_size`` (texts per forward pass, default 8) and ``tokenizer_kwargs``
    (passed to the tokenizer, e.g. ``{"truncation": True}``).
    """

    _load_processor = False
    _load_image_processor = False
    _load_feature_extractor = False
    _load_tokenizer = True

    def __call__(self, inputs: str | list[str], **kwargs: Any) -> dict[str, Any] | list[dict[str, Any]]:
        """Fill the masks of one text (returns a dict) or of a list of texts (returns a list of dicts)."""
        self._check_texts(inputs)
        if kwargs.get("batch_size") is None and self._batch_size is None:
            kwargs["batch_size"] = DEFAULT_BATCH_SIZE
        return super().__call__(inputs, **kwargs)

    def _check_texts(self, inputs: Any) -> None:
        """Reject texts without a mask token before any work is done (lists are checked as a whole)."""
        mask_token = self._mask_token()
        texts = [inputs] if isinstance(inputs, str) else inputs
        if not isinstance(texts, (list, tuple)):
            return  # datasets and generators are checked text by text in `preprocess`
        if not texts:
            raise ValueError(
                f"The {FILL_MASK_SPANS_TASK} pipeline got an empty list: pass a text with {mask_token} "
                "(or a non-empty list of them)."
            )
        for index, text in enumerate(texts):
            if not isinstance(text, str):
                raise TypeError(f"{FILL_MASK_SPANS_TASK} takes texts (str); input {index} is {type(text).__name__}.")
            if mask_token not in text:
                where = f"Input {index} of {len(texts)}: " if len(texts) > 1 else ""
                raise ValueError(where + missing_mask_message(text, mask_token))

    def _mask_token(self) -> str:
        if self.tokenizer is None or self.tokenizer.mask_token_id is None:
            raise ValueError(
                f"The {FILL_MASK_SPANS_TASK} pipeline needs a tokenizer with a mask token; this one has none. "
                "Pass the tokenizer the model was trained with (e.g. perceiver_hf.PerceiverByteTokenizer())."
            )
        return str(self.tokenizer.mask_token)

    def _sanitize_parameters(
        self, tokenizer_kwargs: dict[str, Any] | None = None
    ) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
        self._mask_token()
        preprocess_params = {} if tokenizer_kwargs is None else {"tokenizer_kwargs": tokenizer_kwargs}
        return preprocess_params, {}, {}

    def preprocess(self, inputs: str, tokenizer_kwargs: dict[str, Any] | None = None) -> dict[str, torch.Tensor]:
        encoded = self.tokenizer(inputs, return_tensors="pt", **(tokenizer_kwargs or {}))
        if not bool((encoded["input_ids"] == self.tokenizer.mask_token_id).any()):
            if self._mask_token() in inputs:  # the tokenizer dropped them, e.g. truncation
                raise ValueError(
                    f"The {self._mask_token()} tokens of {inputs[:60]!r}... were cut off by tokenizer_kwargs "
                    f"{tokenizer_kwargs}; keep the masks within max_length or shorten the text."
                )
            raise ValueError(missing_mask_message(inputs, self._mask_token()))
        return dict(encoded)

    def _forward(self, model_inputs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        input_ids = model_inputs["input_ids"]  # [B, L]
        if "attention_mask" not in model_inputs:
            model_inputs = {**model_inputs, "attention_mask": torch.ones_like(input_ids)}
        positions = masked_positions(input_ids, self.tokenizer.mask_token_id)  # [B, K], -1 = unused slot
        logits = self._logits_at(model_inputs, positions)  # [B, K, V]
        scores, predicted_ids = logits.float().softmax(dim=-1).max(dim=-1)  # [B, K], [B, K]
        return {
            "input_ids": input_ids,
            "attention_mask": model_inputs["attention_mask"],
            "output_positions": positions,
            "predicted_ids": predicted_ids,
            "scores": scores,
        }

    def _logits_at(self, model_inputs: dict[str, torch.Tensor], positions: torch.Tensor) -> torch.Tensor:
        """Logits [B, K, V] at `positions` [B, K]: decode only those if the model can, else pick them out."""
        if "output_positions" in inspect.signature(self.model.forward).parameters:
            return self.model(**model_inputs, output_positions=positions).logits  # [B, K, V]
        logits = self.model(**model_inputs).logits  # [B, L, V]
        index = positions.clamp(min=0)[..., None].expand(-1, -1, logits.shape[-1])  # [B, K, V]
        return logits.gather(1, index)

    def postprocess(self, model_outputs: dict[str, torch.Tensor]) -> dict[str, Any]:
        input_ids = model_outputs["input_ids"][0]  # [L]
        valid = model_outputs["attention_mask"][0].bool()  # [L]
        positions = model_outputs["output_positions"][0]  # [K]
        used = positions >= 0
        positions = positions[used]
        filled = input_ids.clone()
        filled[positions] = model_outputs["predicted_ids"][0][used]
        is_filled = torch.zeros_like(valid)
        is_filled[positions] = True
        scores = torch.ones(input_ids.shape, dtype=torch.float32)
        scores[positions] = model_outputs["scores"][0][used].float()

        token_ids: list[int] = filled[valid].tolist()
        filled_flags: list[bool] = is_filled[valid].tolist()
        token_scores: list[float] = scores[valid].tolist()
        spans = [
            {
                "start": start,
                "end": end,
                "text": self.tokenizer.decode(token_ids[start:end], skip_special_tokens=False),
                "token_ids": token_ids[start:end],
                "score": math.prod(token_scores[start:end]),
            }
            for start, end in _runs(filled_flags)
        ]
        special_ids = set(self.tokenizer.all_special_ids)
        shown = [tid for tid, was_masked in zip(token_ids, filled_flags) if was_masked or tid not in special_ids]
        sequence = self.tokenizer.decode(shown, skip_special_tokens=False)
        return {"sequence": sequence, "spans": spans, "token_ids": token_ids}


def _runs(flags: list[bool]) -> list[tuple[int, int]]:
    """(start, end) of each run of consecutive True values, end exclusive."""
    runs = []
    start = None
    for index, flag in enumerate([*flags, False]):
        if flag and start is None:
            start = index
        elif not flag and start is not None:
            runs.append((start, index))
            start = None
    return runs


__all__ = ["DEFAULT_BATCH_SIZE", "FILL_MASK_SPANS_TASK", "FillMaskSpansPipeline"]
