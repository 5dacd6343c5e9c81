"""Declarative name mapping from a foreign checkpoint to our state dict, with full coverage checks.

A converter describes its checkpoint as tables (see `haiku_mapping`, `from_transformers`):

    ParamTable   (Param("weight", "w", transpose=True), Param("bias", "b"))   our name <- source name
    ModuleTable  {"attention.q_proj": ("attention/linear", LINEAR), ...}      our module <- (source module, params)

`expand` turns a table rooted at a pair of prefixes into flat `Rule`s (our key <- source key), `check_rules`
verifies that the rules pair every source array with exactly one model parameter of the right shape (one
error listing everything that is missing, unexpected or mis-shaped), and `convert` then yields the tensors
one at a time, dropping each source array as soon as it is converted so memory stays flat.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator, Mapping, MutableMapping, Optional, Sequence

import torch

from ..configuration_specs import encoder_spec
from .errors import MappingError

Shape = tuple[int, ...]

SELF_ATTENTION_LAYER_PREFIX = "perceiver.encoder.self_attention.layers."
"""Our key prefix of encoder self-attention layer i is this + str(i)."""
LATER_CROSS_ATTENTION = "perceiver.encoder.later_cross_attention"
"""Our module of the 2nd..n-th encoder cross-attentions, when unshared (`first_cross_attention_layer_shared=False`)."""
LATER_SELF_ATTENTION_LAYER_PREFIX = "perceiver.encoder.later_self_attention.layers."
"""Our key prefix of layer i of the later self-attention block, when unshared (`first_self_attention_block_shared=False`)."""


@dataclass(frozen=True)
class Param:
    """One parameter of a module: our name, the source's name, and whether the source stores it transposed."""

    ours: str
    theirs: str
    transpose: bool = False


ParamTable = tuple[Param, ...]
ModuleTable = Mapping[str, tuple[str, ParamTable]]

SAME: ParamTable = (Param("weight", "weight"), Param("bias", "bias"))
"""A PyTorch Linear or LayerNorm stored as PyTorch stores it."""


@dataclass(frozen=True)
class Rule:
    """Our state-dict key `target` is filled from source key `source` (transposed if `transpose`)."""

    target: str
    source: str
    transpose: bool = False

    def source_shape_as_target(self, shape: Shape) -> Shape:
        """The shape the source array has once converted (a transposed matrix swaps its two axes)."""
        return tuple(reversed(shape)) if self.transpose else tuple(shape)


def _join(separator: str, *parts: str) -> str:
    return separator.join(part for part in parts if part)


def expand(target_prefix: str, source_prefix: str, modules: ModuleTable, source_separator: str) -> list[Rule]:
    """Flat rules for `modules` placed at `target_prefix` (ours, "."-separated) and `source_prefix`."""
    return [
        Rule(
            target=_join(".", target_prefix, our_module, param.ours),
            source=_join(source_separator, source_prefix, their_module, param.theirs),
            transpose=param.transpose,
        )
        for our_module, (their_module, params) in modules.items()
        for param in params
    ]


@dataclass(frozen=True)
class CheckpointLayout:
    """Where a foreign checkpoint keeps each part of a Perceiver IO masked language model.

    Attributes:
        separator: joins the source's module and parameter names ("/" for Haiku, "." for PyTorch).
        single_arrays: our module <- (source module, params) for the embeddings, position encodings, latents, bias.
        cross_attention_layers: our cross-attention layer (encoder, decoder) <- the source's module.
        cross_attention_layer: the inside of a cross-attention layer.
        self_attention_layer: the inside of an encoder self-attention layer.
        self_attention_module: layer index -> the source's module of that self-attention layer.
        later_cross_attention: the source's module of the later cross-attentions' own layer, if the format has one.
        later_self_attention_module: layer index -> the source's module of that layer of the later block's own
            weights, if the format has them.
    """

    separator: str
    single_arrays: ModuleTable
    cross_attention_layers: Mapping[str, str]
    cross_attention_layer: ModuleTable
    self_attention_layer: ModuleTable
    self_attention_module: Callable[[int], str]
    later_cross_attention: Optional[str] = None
    later_self_attention_module: Optional[Callable[[int], str]] = None

    def rules(self, num_layers: int, later_cross_attention: bool = False, later_self_attention: bool = False) -> list[Rule]:
        """Every (our key <- source key) pair of a model with `num_layers` encoder self-attention layers (and the
        later cross-attention's / self-attention block's own weights, if asked for)."""
        rules = expand("", "", self.single_arrays, self.separator)
        for ours, theirs in self.cross_attention_layers.items():
            rules += expand(ours, theirs, self.cross_attention_layer, self.separator)
        for index in range(num_layers):
            ours = f"{SELF_ATTENTION_LAYER_PREFIX}{index}"
            rules += expand(ours, self.self_attention_module(index), self.self_attention_layer, self.separator)
        if later_cross_attention:
            source = self._later("first_cross_attention_layer_shared", self.later_cross_attention)
            rules += expand(LATER_CROSS_ATTENTION, source, self.cross_attention_layer, self.separator)
        if later_self_attention:
            module = self._later("first_self_attention_block_shared", self.later_self_attention_module)
            for index in range(num_layers):
                ours = f"{LATER_SELF_ATTENTION_LAYER_PREFIX}{index}"
                rules += expand(ours, module(index), self.self_attention_layer, self.separator)
        return rules

    def rules_for(self, config: Any) -> list[Rule]:
        """The rules of a model built from `config` (a `PerceiverConfig`): its layers and unshared modules."""
        spec = encoder_spec(config)
        return self.rules(
            config.num_self_attention_layers_per_block,
            later_cross_attention=spec.has_later_cross_attention,
            later_self_attention=spec.has_later_self_attention,
        )

    @staticmethod
    def _later(option: str, source: Any) -> Any:
        if source is None:
            raise MappingError(
                f"The configuration asks for {option}=False (a second set of encoder weights), which this checkpoint "
                f"format does not have; set {option}=True (e.g. with --config-overrides)."
            )
        return source

    def count_self_attention_layers(self, names: Iterable[str]) -> int:
        """Number of encoder self-attention layers the source `names` imply: the highest layer index + 1.

        A layer missing from the numbering then shows up as missing arrays in `check_rules`. Linear in the
        number of names: each name contributes its module prefixes up to the longest possible layer module
        (a layer has at least one array, so no index reaches len(names)), and each index is one set lookup.
        """
        names = list(names)
        longest = len(self.self_attention_module(len(names))) + len(self.separator)
        modules: set[str] = set()
        for name in names:
            end = name.find(self.separator, 0, longest)
            while end != -1:
                modules.add(name[:end])
                end = name.find(self.separator, end + 1, longest)
        present = [index for index in range(len(names)) if self.self_attention_module(index) in modules]
        return max(present, default=-1) + 1


def _section(title: str, lines: Sequence[str], limit: int = 40) -> list[str]:
    if not lines:
        return []
    shown = [f"    {line}" for line in lines[:limit]]
    if len(lines) > limit:
        shown.append(f"    ... and {len(lines) - limit} more")
    return [f"  {title} ({len(lines)}):", *shown]


def check_rules(
    rules: Sequence[Rule], source_shapes: Mapping[str, Shape], target_shapes: Mapping[str, Shape], what: str
) -> None:
    """Raise `MappingError` unless `rules` pair every source array with exactly one target of the same shape.

    Args:
        rules: the expanded mapping.
        source_shapes: every array of the checkpoint, by source key.
        target_shapes: every parameter the model needs filled (tied copies excluded), by our key.
        what: names the checkpoint in the message (e.g. "Haiku checkpoint 'x.pickle'").
    """
    targets = [rule.target for rule in rules]
    sources = [rule.source for rule in rules]
    if len(set(targets)) != len(targets) or len(set(sources)) != len(sources):
        raise AssertionError("A conversion table maps some name twice; fix the table.")  # a bug, not bad input

    missing = [f"{rule.target} <- {rule.source}" for rule in rules if rule.source not in source_shapes]
    filled, used = set(targets), set(sources)
    missing += [f"{name} (no rule fills it)" for name in target_shapes if name not in filled]
    unexpected = [f"{name} {list(shape)}" for name, shape in source_shapes.items() if name not in used]
    unknown = [f"{rule.target} <- {rule.source}" for rule in rules if rule.target not in target_shapes]
    misshaped = [
        f"{rule.target} {list(target_shapes[rule.target])} <- {rule.source} {list(source_shapes[rule.source])}"
        + (" (transposed)" if rule.transpose else "")
        for rule in rules
        if rule.source in source_shapes
        and rule.target in target_shapes
        and rule.source_shape_as_target(source_shapes[rule.source]) != tuple(target_shapes[rule.target])
    ]
    if not (missing or unexpected or unknown or misshaped):
        return
    lines = [f"{what} does not match the model's parameters one to one:"]
    lines += _section("missing: model parameters without a source array", missing)
    lines += _section("unexpected: source arrays nothing uses", unexpected)
    lines += _section("mis-shaped: model shape <- source shape", misshaped)
    lines += _section("not in the model: names the mapping fills but the model lacks", unknown)
    lines.append(
        "Check that the file is the right checkpoint, and that the configuration (e.g. --config-overrides) "
        "matches it: dimensions are inferred from the weights, head counts and block repeats are not."
    )
    raise MappingError("\n".join(lines))


def convert(
    rules: Sequence[Rule], source: MutableMapping[str, Any], to_tensor: Callable[[Any, bool], torch.Tensor]
) -> Iterator[tuple[str, torch.Tensor]]:
    """Yield (our key, tensor) per rule, removing each array from `source` once converted (call `check_rules` first).

    Args:
        rules: the checked rules.
        source: source key -> array; emptied as the iteration proceeds.
        to_tensor: `(array, transpose) -> torch.Tensor`.
    """
    for rule in rules:
        yield rule.target, to_tensor(source.pop(rule.source), rule.transpose)
