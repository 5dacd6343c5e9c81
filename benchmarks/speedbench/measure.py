"""Turn a set of functions into result rows: FLOP count, interleaved timings, ratios."""

from __future__ import annotations

from typing import Any, Callable

from .timing import count_flops, interleaved


def measure(functions: dict[str, Callable[[], Any]], repeats: int) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """One row per function, its FLOP count beside its interleaved wall-clock times; and each function's output.

    The FLOP-counting call doubles as the warm-up and gives the outputs that the implementations compare.
    """
    counted = {name: count_flops(function) for name, function in functions.items()}
    timings = interleaved(functions, repeats=repeats, warmup=0)
    rows = [row(name, timings[name].as_dict(), counted[name][0]) for name in functions]
    return rows, {name: output for name, (_, output) in counted.items()}


def row(name: str, timing: dict[str, Any], flops: int) -> dict[str, Any]:
    """A result row: timing, GFLOP of one call and achieved GFLOP/s (median)."""
    return {"impl": name, **timing, "gflop": flops / 1e9, "gflop_per_s": flops / 1e9 / timing["median_s"]}


def ratio(rows: list[dict[str, Any]], numerator: str, denominator: str) -> float:
    """Median time of row `numerator` over median time of row `denominator`."""
    by_name = {r["impl"]: r for r in rows}
    return by_name[numerator]["median_s"] / by_name[denominator]["median_s"]


def target(what: str, value: float, limit: float, at_most: bool = True) -> dict[str, Any]:
    """A target check: value <= limit (or >= limit when `at_most` is False)."""
    met = value <= limit if at_most else value >= limit
    return {"what": what, "value": value, "limit": limit, "at_most": at_most, "met": bool(met)}
