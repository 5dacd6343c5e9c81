"""docs/hub.md names every model card template the package ships (so a new template gets documented)."""

from __future__ import annotations

from pathlib import Path

from perceiver_hf.model_cards import template_names

HUB_DOC = Path(__file__).resolve().parents[1] / "docs" / "hub.md"


def test_every_template_is_named_in_the_hub_docs() -> None:
    text = HUB_DOC.read_text(encoding="utf-8")
    assert [name for name in template_names() if f"`{name}`" not in text] == []
