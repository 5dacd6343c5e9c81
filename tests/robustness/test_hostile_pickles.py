"""Hostile and broken pickles: shared references, cycles, deep nesting, size bombs, BUILD on admitted globals.

Resource bombs run in a child process (`helpers.bounded`) with a time limit and a peak-memory ceiling set
generously above the cost of importing the package; today's bombs exceed them by orders of magnitude.
"""

from __future__ import annotations

import contextlib
import functools
import io
import pickle
import re
from pathlib import Path

import numpy as np
import pytest
from helpers.bounded import Outcome, baseline_mb, run_bounded
from helpers.conversion import FIXTURE_PICKLES, write_pickle

from perceiver_hf.cli import main
from perceiver_hf.convert import ConversionError, UnsafePickleError, load_pickle
from perceiver_hf.convert.haiku import load_haiku_params

MEMORY_HEADROOM_MB = 400  # over the import baseline; the bombs below would take 4,000 MB or more


@functools.lru_cache(maxsize=1)
def memory_ceiling_mb() -> float:
    return baseline_mb() + MEMORY_HEADROOM_MB


def load_in_child(path: Path, timeout: float = 120.0, loader: str = "load_pickle") -> Outcome:
    """Load `path` with the package's `loader` in a child process (time limit, peak memory measured)."""
    snippet = f"""
        from perceiver_hf.convert.haiku import load_haiku_params
        from perceiver_hf.convert import load_pickle
        {loader}({str(path)!r}, progress=False)
    """
    return run_bounded(snippet, timeout=timeout)


def assert_one_line_refusal(outcome: Outcome, *fragments: str) -> None:
    assert outcome.error in ("ConversionError", "UnsafePickleError"), outcome
    assert "\n" not in outcome.message and "RecursionError" not in outcome.message, outcome.message
    for fragment in fragments:
        assert fragment in outcome.message, outcome.message


# --- item 5: shared references and cycles ----------------------------------------------------------------------


def test_lists_sharing_references_40_levels_deep_load_in_linear_time(tmp_path: Path) -> None:
    """Each level holds the level below twice: 2**40 paths, 41 distinct lists (a few hundred bytes)."""
    level: list = [np.ones(2, np.float32)]
    for _ in range(40):
        level = [level, level]
    path = write_pickle(tmp_path / "shared.pickle", {"x": level})
    assert path.stat().st_size < 1000
    outcome = load_in_child(path, timeout=120)
    assert outcome.error is None, outcome
    assert outcome.seconds < 30 and outcome.peak_mb < memory_ceiling_mb()

    loaded, _ = load_pickle(path, progress=False)
    inner = loaded["x"]
    for _ in range(40):
        assert inner[0] is inner[1]  # still shared, visited once
        inner = inner[0]
    assert isinstance(inner[0], np.ndarray) and np.array_equal(inner[0], np.ones(2))
    with pytest.raises(ConversionError, match="'x' is a list, expected a numpy array"):
        load_haiku_params(path, progress=False)


def test_mappings_shared_under_two_names_are_refused(tmp_path: Path) -> None:
    level: dict = {"w": np.ones(2, np.float32)}
    for _ in range(40):
        level = {"a": level, "b": level}  # flattening would give 2**40 names
    path = write_pickle(tmp_path / "shared.pickle", level)
    outcome = load_in_child(path, timeout=120, loader="load_haiku_params")
    assert_one_line_refusal(outcome, "not a Haiku checkpoint", "same mapping as another module")
    assert outcome.seconds < 30 and outcome.peak_mb < memory_ceiling_mb()


def _self_containing() -> dict[str, object]:
    listed: list = []
    listed.append(listed)
    mapping: dict = {}
    mapping["me"] = mapping
    tupled: tuple = ([],)
    tupled[0].append(tupled)
    return {"list": {"x": listed}, "dict": mapping, "tuple": {"x": tupled}}


@pytest.mark.parametrize("kind", ["list", "dict", "tuple", "hand-written"])
def test_containers_that_contain_themselves_are_refused(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "cycle.pickle"
    if kind == "hand-written":
        path.write_bytes(b"]q\x00h\x00a.")  # a list appended to itself, 7 bytes
    else:
        write_pickle(path, _self_containing()[kind])
    with pytest.raises(ConversionError, match="not a Haiku checkpoint: a (list|dict|tuple) in it contains itself"):
        load_pickle(path, progress=False)


# --- item 8: deep nesting ----------------------------------------------------------------------------------------


DEEP = {
    "marks": b"(" * 100_000 + b".",
    "lists": b"(" * 100_000 + b"l" * 100_000 + b".",
    "dicts": b"}" + b"(X\x01\x00\x00\x00a}" * 100_000 + b"u" * 100_000 + b".",
    "tuples": b")" + b"\x85" * 100_000 + b".",
    "tuple-as-key": b"}(" + b")" + b"\x85" * 100_000 + b"K\x01u.",  # hashing the key recurses 100,000 deep
}


@pytest.mark.parametrize("kind", sorted(DEEP))
def test_deeply_nested_pickles_give_one_line_errors(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "deep.pickle"
    path.write_bytes(DEEP[kind])
    outcome = load_in_child(path, loader="load_haiku_params")
    assert_one_line_refusal(outcome)
    if kind in ("lists", "dicts", "tuples"):  # (a MARK never closed is simply a corrupt pickle)
        assert "not a Haiku checkpoint" in outcome.message
    assert "Haiku" in outcome.message or "corrupt" in outcome.message
    assert outcome.seconds < 30 and outcome.peak_mb < memory_ceiling_mb()


def test_command_line_prints_one_line_for_a_deeply_nested_pickle(tmp_path: Path) -> None:
    path = tmp_path / "deep.pickle"
    path.write_bytes(DEEP["lists"])
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr):
        code = main(["convert", "haiku", str(path), str(tmp_path / "out"), "--quiet"])
    assert code == 1
    lines = stderr.getvalue().strip().splitlines()
    assert len(lines) == 1 and "not a Haiku checkpoint" in lines[0] and "Traceback" not in lines[0]
    assert not (tmp_path / "out").exists()


# --- item 7: declared sizes ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("builtin", ["bytearray", "bytes"])
def test_a_declared_size_larger_than_the_file_is_refused_before_allocating(tmp_path: Path, builtin: str) -> None:
    path = tmp_path / "bomb.pickle"
    path.write_bytes(b"cbuiltins\n" + builtin.encode() + b"\n(L4000000000L\ntR.")  # 37 bytes for bytearray
    outcome = load_in_child(path)
    assert_one_line_refusal(outcome, "4,000,000,000 bytes", f"{path.stat().st_size:,} bytes")
    assert outcome.peak_mb < memory_ceiling_mb() and outcome.seconds < 30


def test_array_shapes_must_match_the_bytes_the_file_holds(tmp_path: Path) -> None:
    shape_pickle = pickle.dumps(np.ones((2, 3), np.float32), protocol=5)
    good = load_pickle(write_pickle(tmp_path / "ok.pickle", np.ones((2, 3), np.float32), 5), progress=False)[0]
    assert good.shape == (2, 3)
    for bad_shape in (b"(J\x00\xca\x9a;K\x03t", b"(J\xff\xff\xff\xffJ\xfa\xff\xff\xfft"):  # (1e9, 3), (-1, -6)
        data = shape_pickle.replace(b"K\x02K\x03\x86", bad_shape)
        assert data != shape_pickle
        (tmp_path / "bad.pickle").write_bytes(data)
        with pytest.raises(ConversionError, match="declares"):
            load_pickle(tmp_path / "bad.pickle", progress=False)


def test_the_size_cap_can_be_raised(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_pickle(tmp_path / "p.pickle", {"w": np.ones(1000, np.float32)})
    with pytest.raises(ConversionError, match="PERCEIVER_HF_MAX_PICKLE_BYTES"):
        load_pickle(path, progress=False, max_bytes=100)
    monkeypatch.setenv("PERCEIVER_HF_MAX_PICKLE_BYTES", "100")
    with pytest.raises(ConversionError, match=re.escape(f"is {path.stat().st_size:,} bytes, over the cap of 100")):
        load_pickle(path, progress=False)
    monkeypatch.setenv("PERCEIVER_HF_MAX_PICKLE_BYTES", str(10**6))
    assert load_pickle(path, progress=False)[0]["w"].shape == (1000,)


# --- item 9: admitted globals are immutable to the pickle ------------------------------------------------------------


def _build_on_global(module: str, name: str, state: bytes) -> bytes:
    """A protocol-2 pickle that BUILDs `state` on the global `module.name`, then returns it."""
    return b"\x80\x02c" + module.encode() + b"\n" + name.encode() + b"\n" + state + b"b."


HOSTILE_BUILDS = {
    "defaults of _frombuffer": _build_on_global(
        "numpy.core.numeric", "_frombuffer", b"N}X\x0c\x00\x00\x00__defaults__X\x01\x00\x00\x00F\x85s\x86"
    ),
    "__doc__ of dtype": _build_on_global("numpy", "dtype", b"}X\x07\x00\x00\x00__doc__X\x04\x00\x00\x00evils"),
    "attribute of _reconstruct": _build_on_global(
        "numpy.core.multiarray", "_reconstruct", b"}X\x06\x00\x00\x00markerK\x01s"
    ),
    "setitem on ndarray": b"\x80\x02cnumpy\nndarray\nX\x01\x00\x00\x00kK\x01s.",
}


@pytest.mark.parametrize("attack", sorted(HOSTILE_BUILDS))
def test_a_pickle_cannot_modify_admitted_globals_for_later_loads(
    haiku_tiny_dir: Path, tmp_path: Path, attack: str
) -> None:
    probe = tmp_path / "probe.pickle"
    probe.write_bytes(b"\x80\x02cnumpy\ndtype\nq\x00cnumpy.core.numeric\n_frombuffer\nq\x01cnumpy.core.multiarray\n"
                      b"_reconstruct\nq\x02\x87.")  # returns the stand-ins of three globals
    before = load_pickle(probe, progress=False)[0]
    hostile = tmp_path / "hostile.pickle"
    hostile.write_bytes(HOSTILE_BUILDS[attack])
    with pytest.raises(UnsafePickleError, match="tries to modify the admitted global"):
        load_pickle(hostile, progress=False)

    after = load_pickle(probe, progress=False)[0]
    for old, new in zip(before, after):
        assert old is not new  # a fresh stand-in per load
        assert new.__doc__ == old.__doc__ and getattr(new, "__defaults__", None) == getattr(old, "__defaults__", None)
        assert not hasattr(new, "marker") and not hasattr(new, "__dict__")
    for name in FIXTURE_PICKLES:  # the real checkpoints still load, with their values
        params, _ = load_haiku_params(haiku_tiny_dir / name, progress=False)
        assert params["embed/embeddings"].shape == (262, 64) and params["embed/embeddings"].dtype == np.float32


# --- item 10: non-floating parameters ---------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["int32", "bool", "complex64", "uint8"])
def test_non_floating_parameters_are_refused_by_name(tmp_path: Path, dtype: str) -> None:
    params = {"embed": {"embeddings": np.ones((4, 2), np.float32)}, "mlp/linear": {"w": np.ones((2, 2), dtype)}}
    path = write_pickle(tmp_path / "p.pickle", params)
    with pytest.raises(ConversionError, match=re.escape(f"'mlp/linear/w' has") + f".* dtype {dtype}"):
        load_haiku_params(path, progress=False)


@pytest.mark.parametrize("dtype", ["float16", "float32", ">f4", "float64"])
def test_floating_parameters_of_any_width_are_accepted(tmp_path: Path, dtype: str) -> None:
    path = write_pickle(tmp_path / "p.pickle", {"mlp/linear": {"w": np.full((2, 2), 1.5, dtype)}})
    params, _ = load_haiku_params(path, progress=False)
    assert np.array_equal(params["mlp/linear/w"], np.full((2, 2), 1.5))


# --- what already held: truncation at any offset --------------------------------------------------------------------


def test_truncation_at_any_offset_is_refused(tmp_path: Path) -> None:
    data = pickle.dumps({"embed": {"embeddings": np.arange(6, dtype=np.float32).reshape(3, 2)}}, protocol=2)
    path = tmp_path / "cut.pickle"
    for end in range(len(data)):
        path.write_bytes(data[:end])
        with pytest.raises(ConversionError):
            load_haiku_params(path, progress=False)


# --- item 6: every pass over names is linear ----------------------------------------------------------------------


def test_counting_layers_is_linear_in_the_number_of_names() -> None:
    """8,000 names took 67 s with the quadratic count; a linear pass takes milliseconds (ceiling: 5 s)."""
    import time

    from perceiver_hf.convert.haiku_mapping import HAIKU_LAYOUT, self_attention_module

    names = [f"{self_attention_module(i)}/~/attention/linear/w" for i in range(8000)]
    start = time.perf_counter()
    assert HAIKU_LAYOUT.count_self_attention_layers(names) == 8000
    assert time.perf_counter() - start < 5
    assert HAIKU_LAYOUT.count_self_attention_layers(names[:5]) == 5


def test_a_pickle_with_20000_keys_sharing_one_array_fails_fast(tmp_path: Path) -> None:
    """20,000 module names sharing one tiny array (a few hundred KB of pickle) hung the converter for > 90 s."""
    shared = np.ones(2, np.float32)
    params = {f"perceiver_encoder/~/self_attention_{i}/~/mlp/linear": {"w": shared} for i in range(20000)}
    path = write_pickle(tmp_path / "many.pickle", params)
    output = tmp_path / "out"
    snippet = f"""
        from perceiver_hf.convert import convert_haiku_checkpoint
        convert_haiku_checkpoint({str(path)!r}, {str(output)!r}, progress=False)
    """
    outcome = run_bounded(snippet, timeout=120)
    assert outcome.error == "ConversionError", outcome
    assert "\n" not in outcome.message.strip() or len(outcome.message) < 5000
    assert outcome.seconds < 30, outcome
    assert not output.exists()
