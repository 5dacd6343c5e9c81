"""The restricted unpickler: it reads every form a Haiku checkpoint takes, without JAX or Haiku, and runs nothing.

References are independent of the loader: the plain `pickle` module on the trusted modern fixture, hashlib for
digests, and control tests showing that each malicious payload really does create its file when unpickled
without restriction.
"""

from __future__ import annotations

import hashlib
import pickle
import re
import subprocess
import sys
import types
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest
from helpers.conversion import FIXTURE_PICKLES, RunsOnLoad, malicious_pickles, write_pickle

from perceiver_hf.convert import ConversionError, UnsafePickleError, convert_haiku_checkpoint, load_pickle


@pytest.fixture(scope="module")
def reference_params(haiku_tiny_dir: Path) -> dict:
    """haiku-tiny's params.pickle (plain dicts, modern numpy paths) read by the standard, unrestricted pickle."""
    with open(haiku_tiny_dir / "params.pickle", "rb") as file:
        return pickle.load(file)


def assert_same_params(loaded: dict, reference: dict) -> None:
    assert type(loaded) is dict and sorted(loaded) == sorted(reference)
    for module, group in reference.items():
        assert type(loaded[module]) is dict and sorted(loaded[module]) == sorted(group), module
        for name, array in group.items():
            assert loaded[module][name].dtype == array.dtype and np.array_equal(loaded[module][name], array)


class _BlockJaxAndHaiku:
    """A meta-path finder that makes `import jax` / `import haiku` fail, as if they were not installed."""

    def find_spec(self, name: str, path: object = None, target: object = None) -> None:
        if name.split(".")[0] in ("jax", "jaxlib", "haiku"):
            raise ImportError(f"{name} is blocked in this test")
        return None


@pytest.mark.parametrize("name", FIXTURE_PICKLES)
def test_every_fixture_form_loads_without_jax_or_haiku(
    haiku_tiny_dir: Path, reference_params: dict, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "meta_path", [_BlockJaxAndHaiku(), *sys.meta_path])
    path = haiku_tiny_dir / name
    loaded, digest = load_pickle(path, progress=False)
    assert_same_params(loaded, reference_params)
    assert digest == hashlib.sha256(path.read_bytes()).hexdigest()
    assert not [module for module in sys.modules if module.split(".")[0] in ("jax", "haiku")]


@pytest.mark.parametrize("protocol", [0, 2, 4, 5])
def test_numpy_pickles_of_every_protocol_load(tmp_path: Path, protocol: int) -> None:
    # protocol 0/2 store bytes through _codecs.encode, protocol 5 arrays through numeric._frombuffer
    params = OrderedDict(
        layer={"w": np.arange(12, dtype=np.float32).reshape(3, 4).T, "b": np.array([1.5, -2.0], dtype=">f4")},
        step=np.int64(7),
    )
    loaded, _ = load_pickle(write_pickle(tmp_path / "p.pickle", params, protocol), progress=False)
    assert np.array_equal(loaded["layer"]["w"], params["layer"]["w"])
    assert np.array_equal(loaded["layer"]["b"], params["layer"]["b"]) and loaded["layer"]["b"].dtype == ">f4"
    assert loaded["step"] == 7


@pytest.fixture
def fake_haiku(monkeypatch: pytest.MonkeyPatch) -> type:
    """A stand-in `haiku._src.data_structures.FlatMapping(dict)` so that the test can write 2021-style pickles."""

    class FlatMapping(dict):
        pass

    FlatMapping.__module__ = "haiku._src.data_structures"
    FlatMapping.__qualname__ = "FlatMapping"
    for name in ("haiku", "haiku._src", "haiku._src.data_structures"):
        monkeypatch.setitem(sys.modules, name, types.ModuleType(name))
    sys.modules["haiku._src.data_structures"].FlatMapping = FlatMapping
    return FlatMapping


@pytest.mark.parametrize("protocol", [0, 1, 2, 4])
def test_flat_mapping_of_any_protocol_becomes_a_dict(tmp_path: Path, fake_haiku: type, protocol: int) -> None:
    data = pickle.dumps(fake_haiku(linear=fake_haiku(w=np.ones((2, 3), np.float32))), protocol=protocol)
    for name in ("haiku", "haiku._src", "haiku._src.data_structures"):
        del sys.modules[name]  # the reader must not need Haiku
    (tmp_path / "p.pickle").write_bytes(data)
    loaded, _ = load_pickle(tmp_path / "p.pickle", progress=False)
    assert type(loaded) is dict and type(loaded["linear"]) is dict
    assert np.array_equal(loaded["linear"]["w"], np.ones((2, 3), np.float32))


GLOBALS = ["posix.system", "io.open", "builtins.open", "builtins.exec", "subprocess.Popen"]


@pytest.mark.parametrize("global_name", GLOBALS)
def test_payloads_do_run_under_plain_pickle(tmp_path: Path, global_name: str) -> None:
    """Control: without restriction, each payload creates its file (so the refusal tests can fail)."""
    marker = tmp_path / "created"
    loaded = pickle.loads(malicious_pickles(marker)[global_name])
    result = loaded["evil"]["x"] if isinstance(loaded, dict) else loaded
    if isinstance(result, subprocess.Popen):
        result.wait()
    elif hasattr(result, "close"):
        result.close()
    assert marker.exists()


@pytest.mark.parametrize("global_name", GLOBALS)
def test_code_in_a_checkpoint_never_runs(tmp_path: Path, global_name: str) -> None:
    marker = tmp_path / "created"
    path = tmp_path / "evil.pickle"
    path.write_bytes(malicious_pickles(marker)[global_name])
    with pytest.raises(UnsafePickleError, match=re.escape(f"`{global_name}`")):
        load_pickle(path, progress=False)
    assert not marker.exists()


def test_conversion_of_a_malicious_pickle_writes_nothing(tmp_path: Path) -> None:
    marker = tmp_path / "created"
    path = tmp_path / "evil.pickle"
    path.write_bytes(malicious_pickles(marker)["posix.system"])
    work = tmp_path / "work"
    work.mkdir()
    with pytest.raises(UnsafePickleError, match="posix.system"):
        convert_haiku_checkpoint(path, work / "out", progress=False)
    assert not marker.exists()
    assert list(work.iterdir()) == []


def test_jax_array_rebuilt_with_another_function_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def reconstruct_device_array(*args: object) -> None:  # only needed to write the pickle
        raise AssertionError("never called")

    reconstruct_device_array.__module__ = "jax.interpreters.xla"
    reconstruct_device_array.__qualname__ = "reconstruct_device_array"
    for name in ("jax", "jax.interpreters", "jax.interpreters.xla"):
        monkeypatch.setitem(sys.modules, name, types.ModuleType(name))
    sys.modules["jax.interpreters.xla"].reconstruct_device_array = reconstruct_device_array
    data = pickle.dumps({"w": RunsOnLoad(reconstruct_device_array, dict, ([("a", 1)],), None, None)})
    path = tmp_path / "p.pickle"
    path.write_bytes(data)
    with pytest.raises(UnsafePickleError, match="_reconstruct"):
        load_pickle(path, progress=False)


def test_object_arrays_and_direct_array_construction_are_refused(tmp_path: Path) -> None:
    path = write_pickle(tmp_path / "p.pickle", {"w": np.array([1, "a"], dtype=object)})
    with pytest.raises(UnsafePickleError, match="Python objects"):
        load_pickle(path, progress=False)
    path.write_bytes(b"cnumpy\nndarray\n(I1000000000\ntR.")  # numpy.ndarray(10**9): would allocate 8 GB
    with pytest.raises(UnsafePickleError, match="calls numpy.ndarray directly"):
        load_pickle(path, progress=False)


def test_missing_truncated_and_foreign_files_give_clear_errors(haiku_tiny_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(ConversionError, match="does not exist"):
        load_pickle(tmp_path / "missing.pickle", progress=False)
    with pytest.raises(ConversionError, match="does not exist or is not a file"):
        load_pickle(tmp_path, progress=False)
    data = (haiku_tiny_dir / "params-legacy.pickle").read_bytes()
    (tmp_path / "truncated.pickle").write_bytes(data[: len(data) // 2])
    with pytest.raises(ConversionError, match="corrupt, truncated or not a pickle"):
        load_pickle(tmp_path / "truncated.pickle", progress=False)
    (tmp_path / "text.pickle").write_text("this is not a pickle\n")
    with pytest.raises(ConversionError, match="corrupt, truncated or not a pickle"):
        load_pickle(tmp_path / "text.pickle", progress=False)
