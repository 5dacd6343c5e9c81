"""Model card templates (Hub README.md files with YAML metadata) and their renderer.

Templates are the `*.md` files in this folder (packaged with perceiver_hf). They use `string.Template`
placeholders (`$name` or `${name}`; `$$` for a literal dollar sign), so YAML, Markdown and code keep their
braces. `render_model_card("deepmind-language-perceiver", license="cc-by-4.0", ...)` fills one; every
placeholder must be given and every given field must be used, so a typo is an error, not a silent gap.
"""

from __future__ import annotations

from importlib import resources
from string import Template
from typing import Any

TEMPLATE_SUFFIX = ".md"


def _templates() -> Any:
    return resources.files(__name__)


def template_names() -> list[str]:
    """Names of the available templates (file names without `.md`)."""
    return sorted(
        entry.name[: -len(TEMPLATE_SUFFIX)] for entry in _templates().iterdir() if entry.name.endswith(TEMPLATE_SUFFIX)
    )


def load_template(template_name: str) -> Template:
    """The template `template_name` (see `template_names()`)."""
    entry = _templates() / f"{template_name}{TEMPLATE_SUFFIX}"
    if not entry.is_file():
        raise ValueError(f"No model card template {template_name!r}; available: {', '.join(template_names())}.")
    return Template(entry.read_text(encoding="utf-8"))


def template_fields(template_name: str) -> set[str]:
    """The placeholder names `template_name` needs."""
    return set(load_template(template_name).get_identifiers())


def render_model_card(template_name: str, **fields: Any) -> str:
    """Fill template `template_name` with `fields` (converted with `str`) and return the card text.

    Raises:
        ValueError: the template does not exist, a placeholder has no field, or a field matches no placeholder.
    """
    template = load_template(template_name)
    needed = set(template.get_identifiers())
    missing, unknown = sorted(needed - set(fields)), sorted(set(fields) - needed)
    if missing or unknown or not template.is_valid():
        raise ValueError(
            f"Model card template {template_name!r} needs fields {sorted(needed)}; "
            f"missing: {missing}, not in the template: {unknown}"
            + ("" if template.is_valid() else "; the template has a malformed placeholder (use $$ for $)")
            + "."
        )
    return template.substitute({name: str(value) for name, value in fields.items()})


__all__ = ["load_template", "render_model_card", "template_fields", "template_names"]
