"""`perceiver-hf fill`, run in-process on a tiny model trained to memorise two known sentences."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from helpers.memorised_mlm import MASKED_WORD, OTHER_MASKED_WORD, OTHER_SENTENCE, SENTENCE, save_memorised_model_folder

from perceiver_hf.cli import main


@pytest.fixture(scope="module")
def model_folder(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(save_memorised_model_folder(tmp_path_factory.mktemp("memorised-mlm")))


def masked(sentence: str, word: str) -> str:
    """The sentence with `word` replaced by one [MASK] per byte, written out by hand (ASCII: 1 byte per char)."""
    assert word.isascii()
    return sentence.replace(word, "[MASK]" * len(word))


def fill(argv: list[str], capsys: pytest.CaptureFixture) -> tuple[int, str, str]:
    code = main(["fill", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_fill_prints_the_filled_texts_and_spans(model_folder: str, capsys: pytest.CaptureFixture):
    code, out, _ = fill(
        [model_folder, masked(SENTENCE, MASKED_WORD), masked(OTHER_SENTENCE, OTHER_MASKED_WORD)], capsys
    )
    assert code == 0
    lines = out.splitlines()
    start = SENTENCE.index(MASKED_WORD)
    assert lines[0] == SENTENCE
    assert lines[1].startswith(f"  [{start}:{start + len(MASKED_WORD)}] ' missing.' (score ")
    assert lines[2] == OTHER_SENTENCE
    assert lines[3].startswith(f"  [{start}:{start + len(OTHER_MASKED_WORD)}] ' omitted.' (score ")
    assert len(lines) == 4


def test_fill_mask_option_masks_a_word(model_folder: str, capsys: pytest.CaptureFixture):
    code, out, _ = fill([model_folder, SENTENCE, "--mask", MASKED_WORD], capsys)
    assert code == 0
    assert out.splitlines()[0] == SENTENCE


def test_fill_json_output(model_folder: str, capsys: pytest.CaptureFixture):
    code, out, _ = fill([model_folder, masked(SENTENCE, MASKED_WORD), "--json"], capsys)
    assert code == 0
    [result] = json.loads(out)
    assert result["sequence"] == SENTENCE
    assert [span["text"] for span in result["spans"]] == [MASKED_WORD]
    assert result["token_ids"] == [byte + 6 for byte in SENTENCE.encode("utf-8")]


def test_fill_top_k_uses_the_fill_mask_pipeline(model_folder: str, capsys: pytest.CaptureFixture):
    text = SENTENCE.replace("missing", "m[MASK]ss[MASK]ng")
    code, out, _ = fill([model_folder, text, "--top-k", "3"], capsys)
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == text
    assert lines[1].startswith("  mask 1: 'i' ")
    assert lines[2].startswith("  mask 2: 'i' ")
    assert len(re.findall(r"'[^']*' [0-9.e-]+", lines[1])) == 3  # three candidates: 'token' score


@pytest.mark.parametrize(
    "argv, message",
    [
        ([], "no TEXT given"),  # without MODEL, the shipped model is used (tests/test_pretrained_model.py)
        (["{folder}"], "no TEXT given"),
        (["{folder}", "no mask here"], r"No [MASK] in the input 'no mask here'"),
        (["{folder}", "ok [MASK]", "not ok"], "TEXT 2 of 2: No [MASK]"),
        (["{folder}", "abc", "--mask", "xyz"], "--mask: Cannot mask 'xyz'"),
        (["{missing}", "a [MASK]"], "does not exist"),
        (["{empty}", "a [MASK]"], "has no config.json"),
        (["{folder}", "a [MASK]", "--top-k", "0"], "--top-k must be at least 1"),
        (["{folder}", "x" * 200 + "[MASK]"], "at most max_seq_len=128"),
        (["{folder}", "x" * 200 + "[MASK]", "--top-k", "2"], "at most max_seq_len=128"),
        (["{folder}", "a [MASK]", "--top-k", "2", "--mode", "spans"], "--top-k applies to --mode fill-mask"),
    ],
)
def test_fill_errors_are_clear(
    argv: list[str], message: str, model_folder: str, tmp_path: Path, capsys: pytest.CaptureFixture
):
    paths = {"folder": model_folder, "missing": str(tmp_path / "no-such-model"), "empty": str(tmp_path)}
    code, out, err = fill([arg.format(**paths) for arg in argv], capsys)
    assert code == 2
    assert out == ""
    last_line = err.strip().splitlines()[-1]  # loading progress bars may come before it
    assert last_line.startswith("perceiver-hf fill: error: ")
    assert message in last_line


@pytest.mark.parametrize(
    "argv, expected_model, expected_texts",
    [
        (["user/model", "a [MASK]"], "user/model", ["a [MASK]"]),
        (["model-name", "a [MASK]", "b [MASK]"], "model-name", ["a [MASK]", "b [MASK]"]),
        (["./folder", "a [MASK]"], "./folder", ["a [MASK]"]),
    ],
)
def test_fill_tells_model_from_text(argv: list[str], expected_model: str, expected_texts: list[str]):
    """MODEL is optional in the parser (a default model may come later): a first argument that is a text is one."""
    from perceiver_hf.cli.fill import _split_model_and_texts

    assert _split_model_and_texts(argv[0], argv[1:]) == (expected_model, expected_texts)


def spans_json(argv: list[str], capsys: pytest.CaptureFixture) -> list[dict]:
    code, out, _ = fill([*argv, "--json"], capsys)
    assert code == 0
    return json.loads(out)


def test_fill_bfloat16_predicts_what_float32_does(model_folder: str, capsys: pytest.CaptureFixture):
    texts = [masked(SENTENCE, MASKED_WORD), masked(OTHER_SENTENCE, OTHER_MASKED_WORD)]
    fp32 = spans_json([model_folder, *texts, "--dtype", "float32"], capsys)
    bf16 = spans_json([model_folder, *texts, "--dtype", "bfloat16"], capsys)
    assert [r["sequence"] for r in bf16] == [r["sequence"] for r in fp32] == [SENTENCE, OTHER_SENTENCE]
    fp32_scores = [span["score"] for r in fp32 for span in r["spans"]]
    bf16_scores = [span["score"] for r in bf16 for span in r["spans"]]
    # bf16 logits keep 8 significant bits: the scores move a little, so the model did run in bf16
    assert bf16_scores != fp32_scores and bf16_scores == pytest.approx(fp32_scores, rel=0.1)


def test_fill_bfloat16_top_k(model_folder: str, capsys: pytest.CaptureFixture):
    code, out, _ = fill([model_folder, SENTENCE.replace("missing", "m[MASK]ssing"), "--top-k", "2", "--dtype",
                         "bfloat16"], capsys)
    assert code == 0
    assert out.splitlines()[1].startswith("  mask 1: 'i' ")


@pytest.mark.parametrize("native, warned", [(True, False), (False, True)])
def test_fill_bfloat16_warns_on_a_cpu_without_bf16(
    native: bool, warned: bool, model_folder: str, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
):
    import torch

    capabilities = {"architecture": "x86_64", "avx512_f": True, "avx512_bf16": native}
    monkeypatch.setattr(torch.cpu, "get_capabilities", lambda: capabilities)
    code, out, err = fill([model_folder, masked(SENTENCE, MASKED_WORD), "--dtype", "bfloat16"], capsys)
    assert code == 0 and out.splitlines()[0] == SENTENCE
    warnings = [line for line in err.splitlines() if line.startswith("perceiver-hf fill: warning: ")]
    assert len(warnings) == int(warned)
    if warned:
        assert "no bfloat16 instructions" in warnings[0] and "use --dtype float32" in warnings[0]


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--dtype", "float16"], "argument --dtype: invalid choice: 'float16' (choose from "),  # names the choices
        (["--dtype", "bfloat16", "--quantize", "int8"], "--quantize int8 quantizes float32 weights; drop --dtype"),
    ],
)
def test_fill_dtype_errors(argv: list[str], message: str, model_folder: str, capsys: pytest.CaptureFixture):
    try:
        code = main(["fill", model_folder, masked(SENTENCE, MASKED_WORD), *argv])
    except SystemExit as exit_:  # argparse's own errors
        code = exit_.code
    err = capsys.readouterr().err
    assert code == 2
    last_line = err.strip().splitlines()[-1]
    assert last_line.startswith(f"perceiver-hf fill: error: {message}")
    assert "bfloat16" in last_line
