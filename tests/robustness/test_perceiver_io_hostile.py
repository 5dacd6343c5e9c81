"""Hostile and broken perceiver-io checkpoints and folders: every one is a one-line refusal, nothing is written.

0.4 checkpoints are the library's own (`helpers.perceiver_io_models`) with their `hyper_parameters` or tensors
replaced; 0.9-0.11 folders are copies of tests/fixtures/perceiver_io_hf with config.json edited. Resource bombs
run in a child process (`helpers.bounded`) with a time limit and a memory ceiling far below their cost.
"""

from __future__ import annotations

import copy
import functools
import json
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
from helpers.bounded import run_bounded
from helpers.perceiver_io_models import lit_language_model, lit_text_classifier

from perceiver_hf.cli import main
from perceiver_hf.convert import ConversionError, convert_perceiver_io_checkpoint, convert_perceiver_io_folder

ENCODER = dict(vocab_size=61, max_seq_len=20, num_input_channels=16, num_cross_attention_heads=2,
               num_self_attention_heads=2, num_self_attention_layers_per_block=2)  # fmt: skip
DECODER = dict(vocab_size=61, max_seq_len=20, num_cross_attention_heads=2)
SIZES = dict(num_latents=6, num_latent_channels=24)
FIXTURES = Path(__file__).parents[1] / "fixtures" / "perceiver_io_hf"
MEMORY_HEADROOM_MB = 400  # over the peak before it; each bomb below costs gigabytes or hours


@functools.lru_cache(maxsize=1)
def _language_model() -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    lit = lit_language_model(ENCODER, DECODER, **SIZES, seed=3)
    return lit.state_dict(), dict(lit.hparams)


def _plain_settings() -> dict[str, Any]:
    """The language model's settings as plain dicts (what a hand-written checkpoint may hold)."""
    _, hparams = _language_model()
    return {key: dict(vars(value)) if hasattr(value, "__dataclass_fields__") else value for key, value in hparams.items()}


def _save(path: Path, hyper_parameters: Any = None, state_dict: Any = None) -> Path:
    state, settings = _language_model()
    torch.save({"state_dict": state if state_dict is None else state_dict,
                "hyper_parameters": settings if hyper_parameters is None else hyper_parameters}, path)  # fmt: skip
    return path


def _refused(source: Path, output: Path, *fragments: str, **kwargs: Any) -> str:
    """The conversion raises a one-line ConversionError holding `fragments`; nothing is written."""
    convert = convert_perceiver_io_folder if source.is_dir() else convert_perceiver_io_checkpoint
    with pytest.raises(ConversionError) as raised:
        convert(source, output, progress=False, **kwargs)
    message = str(raised.value)
    assert "\n" not in message, message
    for fragment in fragments:
        assert fragment in message, message
    assert not output.exists()
    assert not [p for p in output.parent.iterdir() if p.name.startswith(f".{output.name}.perceiver-hf")]
    return message


def _cli_refused(capsys: pytest.CaptureFixture, *argv: str) -> str:
    """`perceiver-hf ARGV` exits non-zero with one line on stderr and no traceback."""
    assert main(list(argv)) != 0
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    return err


# --- nested, self-referencing and shared settings ---------------------------------------------------------------


def test_self_referencing_hyper_parameters_are_refused(tmp_path: Path) -> None:
    settings = _plain_settings()
    settings["encoder"]["loop"] = settings
    _refused(_save(tmp_path / "loop.ckpt", settings), tmp_path / "out", "contains itself")


def test_deeply_nested_hyper_parameters_are_refused_without_recursion(tmp_path: Path) -> None:
    settings = _plain_settings()
    nested: dict = {}
    for _ in range(3000):
        nested = {"x": nested}
    settings["encoder"]["deep"] = nested
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(20000)  # for torch.save's pickler only
    try:
        path = _save(tmp_path / "deep.ckpt", settings)
    finally:
        sys.setrecursionlimit(limit)
    _refused(path, tmp_path / "out", "nested more than")


def _shared_settings_bomb(path: Path) -> Path:
    """Each level holds the level below twice: 2**40 paths through 41 dicts of a few bytes each."""
    settings = _plain_settings()
    level: Any = {"leaf": 1}
    for _ in range(40):
        level = {"a": level, "b": level}
    settings["encoder"]["shared"] = level
    return _save(path, settings)


def _stride_0_bomb(path: Path) -> Path:
    """Two 10^6 x 10^6 views of one float each, where the settings say the weights are shared copies."""
    state, _ = _language_model()
    state = dict(state)
    huge = torch.zeros(1).expand(10**6, 10**6)
    for name in ("model.0.cross_attn_1.0.module.q_norm.weight", "model.0.cross_attn_n.0.module.q_norm.weight"):
        state[name] = huge
    return _save(path, state_dict=state)


def _num_classes_bomb(path: Path) -> Path:
    """A text classifier whose settings say 10**9 classes (each class a label name: gigabytes)."""
    lit = lit_text_classifier(ENCODER, dict(num_classes=3, num_output_query_channels=8), **SIZES, seed=4)
    settings = dict(lit.hparams)
    settings["decoder"].num_classes = 10**9
    torch.save({"state_dict": lit.state_dict(), "hyper_parameters": settings}, path)
    return path


BOMBS = {"shared": (_shared_settings_bomb, "nested more than"), "stride-0": (_stride_0_bomb, "q_norm.weight"),
         "num_classes": (_num_classes_bomb, "num_classes=1,000,000,000")}  # fmt: skip


def test_resource_bombs_are_refused_before_they_cost_anything(tmp_path: Path) -> None:
    """All three in one child process (one import of torch): each is a one-line ConversionError, and none raises
    the process' peak memory by MEMORY_HEADROOM_MB (they would cost 2.6 GB, 10**12 comparisons and 5.7 GB) or
    outlasts the time limit."""
    bombs = {name: str(make(tmp_path / f"{name}.ckpt")) for name, (make, _) in BOMBS.items()}
    report = tmp_path / "report.json"
    outcome = run_bounded(f"""
        import json, resource
        from perceiver_hf.convert import ConversionError, convert_perceiver_io_checkpoint
        def peak_mb():
            return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        results = {{}}
        for name, path in {bombs!r}.items():
            before = peak_mb()
            try:
                convert_perceiver_io_checkpoint(path, path + ".out", progress=False)
                results[name] = ["converted", "", 0.0]
            except ConversionError as error:
                results[name] = [type(error).__name__, str(error), peak_mb() - before]
        open({str(report)!r}, "w").write(json.dumps(results))
    """, timeout=90)
    assert outcome.error is None, outcome
    results = json.loads(report.read_text())
    for name, (_, fragment) in BOMBS.items():
        error, message, grew_mb = results[name]
        assert error == "ConversionError" and "\n" not in message and fragment in message, (name, message)
        assert grew_mb < MEMORY_HEADROOM_MB, (name, grew_mb)
        assert not Path(bombs[name] + ".out").exists()


def test_a_shared_copy_of_another_shape_is_named_before_any_comparison(tmp_path: Path) -> None:
    state, _ = _language_model()
    state = dict(state)
    name = "model.0.cross_attn_n.0.module.q_norm.weight"
    state[name] = torch.zeros(state[name].shape[0] + 1)
    _refused(_save(tmp_path / "shape.ckpt", state_dict=state), tmp_path / "out", "q_norm.weight has shape")


def test_num_classes_that_is_not_the_output_layer_s_rows(tmp_path: Path) -> None:
    lit = lit_text_classifier(ENCODER, dict(num_classes=3, num_output_query_channels=8), **SIZES, seed=4)
    settings = dict(lit.hparams)
    settings["decoder"].num_classes = 4
    path = tmp_path / "classes.ckpt"
    torch.save({"state_dict": lit.state_dict(), "hyper_parameters": settings}, path)
    _refused(path, tmp_path / "out", "num_classes=4", "1.output_adapter.linear.weight", "3 rows")


# --- fields of the wrong type or size ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("where", "field", "value", "fragment"),
    [
        (None, "num_latents", "6", "num_latents"),
        (None, "num_latent_channels", None, "num_latent_channels"),
        ("encoder", "num_cross_attention_layers", "1", "num_cross_attention_layers"),
        ("encoder", "num_self_attention_heads", None, "num_self_attention_heads"),
        ("encoder", "first_self_attention_block_shared", "yes", "first_self_attention_block_shared"),
        ("decoder", "max_seq_len", 2.5, "max_seq_len"),
        ("decoder", "num_output_query_channels", "16", "num_output_query_channels"),
        ("encoder", "dropout", "0.1", "dropout"),
        ("encoder", "vocab_size", -3, "vocab_size"),
    ],
)
def test_wrong_typed_fields_are_one_line(tmp_path: Path, where: Any, field: str, value: Any, fragment: str) -> None:
    settings = _plain_settings()
    (settings if where is None else settings[where])[field] = value
    _refused(_save(tmp_path / "typed.ckpt", settings), tmp_path / "out", fragment)


@pytest.mark.parametrize("field", ["fields", "__setstate__", "__dict__", "__class__"])
def test_a_field_named_like_a_method_of_the_stand_in(tmp_path: Path, field: str) -> None:
    state, hparams = _language_model()
    hparams = copy.copy(hparams)
    encoder = copy.copy(hparams["encoder"])
    encoder.__dict__[field] = 3
    hparams["encoder"] = encoder
    _refused(_save(tmp_path / "method.ckpt", hparams), tmp_path / "out", repr(field))


def test_widths_larger_than_the_weights_are_refused(tmp_path: Path) -> None:
    settings = _plain_settings()
    settings["encoder"]["num_self_attention_layers_per_block"] = 10**9
    _refused(_save(tmp_path / "layers.ckpt", settings), tmp_path / "out", "num_self_attention_layers_per_block")
    settings = _plain_settings()
    settings["num_latents"] = 10**12
    _refused(_save(tmp_path / "latents.ckpt", settings), tmp_path / "out2", "num_latents")


def test_empty_and_truncated_files_are_one_line(tmp_path: Path) -> None:
    (tmp_path / "empty.ckpt").write_bytes(b"")
    _refused(tmp_path / "empty.ckpt", tmp_path / "out", "empty.ckpt")
    good = _save(tmp_path / "good.ckpt")
    (tmp_path / "cut.ckpt").write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    _refused(tmp_path / "cut.ckpt", tmp_path / "out", "cut.ckpt")


# --- 0.9-0.11 folders --------------------------------------------------------------------------------------------


def _folder(tmp_path: Path, name: str, edit: Any) -> Path:
    folder = tmp_path / name
    shutil.copytree(FIXTURES / name, folder)
    config = json.loads((folder / "config.json").read_text())
    edit(config)
    (folder / "config.json").write_text(json.dumps(config))
    return folder


def test_id2label_as_a_list_of_names_is_read_as_their_indices(tmp_path: Path) -> None:
    names = ["negative", "neutral", "positive"]
    folder = _folder(tmp_path, "text-classifier", lambda c: c.update(id2label=names))
    convert_perceiver_io_folder(folder, tmp_path / "out", progress=False)
    written = json.loads((tmp_path / "out" / "config.json").read_text())
    assert written["id2label"] == {"0": "negative", "1": "neutral", "2": "positive"}


@pytest.mark.parametrize(
    "id2label", [["negative", "positive"], ["negative", None, "positive"], "negative", {"0": "a", "x": "b", "2": "c"}]
)
def test_id2label_that_is_not_the_class_names_is_one_line(tmp_path: Path, id2label: Any) -> None:
    folder = _folder(tmp_path, "text-classifier", lambda c: c.update(id2label=id2label))
    _refused(folder, tmp_path / "out", "id2label")


def test_huge_num_classes_in_a_folder_is_refused(tmp_path: Path) -> None:
    folder = _folder(tmp_path, "text-classifier", lambda c: c["model_config"]["decoder"].update(num_classes=10**9))
    _refused(folder, tmp_path / "out", "num_classes")


def test_wrong_typed_folder_field_is_one_line(tmp_path: Path) -> None:
    folder = _folder(tmp_path, "mlm-unshared", lambda c: c["model_config"].update(num_latents="8"))
    _refused(folder, tmp_path / "out", "num_latents")


def test_empty_config_and_weights_in_a_folder_are_one_line(tmp_path: Path) -> None:
    folder = _folder(tmp_path, "mlm-unshared", lambda c: None)
    (folder / "model.safetensors").write_bytes(b"")
    _refused(folder, tmp_path / "out", "model.safetensors")
    (folder / "config.json").write_bytes(b"")
    _refused(folder, tmp_path / "out", "config.json")


def test_the_command_answers_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    settings = _plain_settings()
    settings["encoder"]["loop"] = settings
    path = _save(tmp_path / "loop.ckpt", settings)
    err = _cli_refused(capsys, "convert", "perceiver-io", str(path), str(tmp_path / "out"), "--quiet")
    assert "loop.ckpt" in err or "contains itself" in err
    assert not (tmp_path / "out").exists()


def test_settings_json_nested_past_the_parser_is_one_line(tmp_path: Path) -> None:
    state, _ = _language_model()
    torch.save(dict(state), tmp_path / "state.pt")
    (tmp_path / "settings.json").write_text("[" * 100_000 + "]" * 100_000)
    _refused(tmp_path / "state.pt", tmp_path / "out", "settings.json", settings_json=tmp_path / "settings.json")
    settings = {**_plain_settings(), "encoder": {"x": {"y": {"z": {"w": {"v": {"u": {"t": {"s": 1}}}}}}}}}
    (tmp_path / "settings.json").write_text(json.dumps(settings))
    _refused(tmp_path / "state.pt", tmp_path / "out", "nested more than", settings_json=tmp_path / "settings.json")


def test_settings_keyed_by_something_else_than_names_are_one_line(tmp_path: Path) -> None:
    settings = {**_plain_settings(), 1: "one"}
    _refused(_save(tmp_path / "keys.ckpt", settings), tmp_path / "out", "key of type int")
