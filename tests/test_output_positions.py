"""The one function that turns a per-position selection into `output_positions` (pipelines and collator use it)."""

import torch

from perceiver_hf.output_positions import gather_at_positions, selected_positions


def test_selected_positions_by_hand():
    selected = torch.tensor([[1, 0, 1, 1], [0, 1, 0, 0], [0, 0, 0, 0]], dtype=torch.bool)
    assert selected_positions(selected).tolist() == [[0, 2, 3], [1, -1, -1], [-1, -1, -1]]


def test_min_slots_and_rounding_past_the_length():
    selected = torch.tensor([[0, 0, 0]], dtype=torch.bool)
    assert selected_positions(selected, min_slots=1).tolist() == [[-1]]
    selected = torch.tensor([[0, 1, 1]], dtype=torch.bool)
    assert selected_positions(selected, pad_to_multiple_of=4).tolist() == [[1, 2, -1, -1]]


def test_gather_fills_unused_slots():
    values = torch.tensor([[10, 11, 12]])
    positions = torch.tensor([[2, 0, -1]])
    assert gather_at_positions(values, positions, fill_value=-100).tolist() == [[12, 10, -100]]
