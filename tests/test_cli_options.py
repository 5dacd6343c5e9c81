"""`perceiver-hf` accepts options anywhere among a subcommand's positionals; errors show the subcommand's usage."""

from __future__ import annotations

import pytest
from helpers.memorised_mlm import MASKED_WORD, SENTENCE, save_memorised_model_folder

from perceiver_hf.cli import build_parser, main, parse


@pytest.fixture(scope="module")
def model_folder(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(save_memorised_model_folder(tmp_path_factory.mktemp("memorised-mlm")))


@pytest.mark.parametrize(
    "argv",
    [
        ["fill", "M", "--mask", " missing", "a text", "b text"],
        ["fill", "--mask", " missing", "M", "a text", "b text"],
        ["fill", "M", "a text", "--mask", " missing", "b text"],
        ["fill", "M", "a text", "b text", "--mask", " missing"],
    ],
)
def test_fill_options_anywhere(argv: list[str]) -> None:
    args = parse(build_parser(), argv)
    assert (args.command, args.model, args.texts, args.mask) == ("fill", "M", ["a text", "b text"], " missing")


def test_convert_options_anywhere() -> None:
    args = parse(build_parser(), ["convert", "haiku", "--force", "in.pickle", "--quiet", "out"])
    assert (args.source_format, args.pickle, args.output_dir, args.force, args.quiet) == (
        "haiku", "in.pickle", "out", True, True,
    )  # fmt: skip


def test_train_passes_unknown_arguments_on() -> None:
    args = parse(build_parser(), ["train", "--preset", "tiny", "--output_dir", "o"])
    assert args.extra_args == ["--preset", "tiny", "--output_dir", "o"]


@pytest.mark.parametrize("before", [True, False])
def test_fill_with_options_before_the_texts_runs(model_folder: str, capsys: pytest.CaptureFixture, before: bool):
    options = ["--mask", MASKED_WORD, "--json"]
    argv = ["fill", model_folder, *options, SENTENCE] if before else ["fill", *options, model_folder, SENTENCE]
    assert main(argv) == 0
    assert '"sequence": "' + SENTENCE in capsys.readouterr().out


def test_top_k_before_the_text(model_folder: str, capsys: pytest.CaptureFixture):
    assert main(["fill", model_folder, "--top-k", "2", SENTENCE.replace("m", "[MASK]", 1)]) == 0
    assert "mask 1:" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv, usage",
    [
        (["fill", "--bogus", "x"], "usage: perceiver-hf fill "),
        (["fill", "x", "--top-k", "many"], "usage: perceiver-hf fill "),
        (["convert", "haiku", "only-one"], "usage: perceiver-hf convert haiku "),
        (["export-hub", "a", "b", "c"], "usage: perceiver-hf export-hub "),
    ],
)
def test_errors_show_the_subcommand_usage(argv: list[str], usage: str, capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(usage) and "error:" in err
