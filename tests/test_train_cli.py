"""`perceiver-hf train`: argument parsing, config files, linking of vocab_size/max_seq_len, data loading and the
checks that stop bad input before training starts.

References: the shipped text files read byte by byte (ids = bytes + 6), hand-written configs, the tokenizer's
own length, and file-system state (nothing written when a run is refused).
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest
import torch
from transformers import PerceiverConfig as TransformersPerceiverConfig

from helpers.tokenizers import train_unigram_tokenizer
from perceiver_hf.cli import main as cli_main
from perceiver_hf.configuration_perceiver import PerceiverConfig
from perceiver_hf.modeling_perceiver import PerceiverForMaskedLM
from perceiver_hf.tokenization_perceiver import PerceiverByteTokenizer
from perceiver_hf.training.collators import PerceiverMLMCollator
from perceiver_hf.training.data import load_raw_datasets, prepare_datasets
from perceiver_hf.training.model_setup import load_tokenizer, resolve_model_setup
from perceiver_hf.training.arguments import config_flag_overrides
from perceiver_hf.training.parsing import parse_train_args
from perceiver_hf.training.presets import TINY_CONFIG, tiny
from perceiver_hf.training.run import run_from_argv

REPO = Path(__file__).resolve().parents[1]
DATA = Path(__file__).parent / "data" / "english"
DECLARATION = DATA / "declaration_of_independence.txt"


@pytest.fixture
def common(tmp_path) -> list[str]:
    """Arguments every run here needs: a tiny model on the Declaration, caches and outputs under tmp_path."""
    return [
        "--preset", "tiny", "--train_file", str(DECLARATION), "--cache_dir", str(tmp_path / "cache"),
        "--output_dir", str(tmp_path / "out"), "--max_seq_len", "64", "--disable_tqdm", "true",
    ]  # fmt: skip


def setup_of(argv: list[str]):
    """(arguments, tokenizer, ModelSetup) without touching any data."""
    arguments = parse_train_args(argv)
    tokenizer = load_tokenizer(arguments.model)
    return arguments, tokenizer, resolve_model_setup(arguments.model, arguments.config, arguments.data, tokenizer)


def save_tiny_model(path: Path, **config) -> Path:
    PerceiverForMaskedLM(tiny(**config)).save_pretrained(path)
    PerceiverByteTokenizer().save_pretrained(path)
    return path


# --- parsing and linking -----------------------------------------------------------------------------------


def test_preset_vocab_and_max_seq_len_come_from_tokenizer_and_data(common):
    arguments, tokenizer, setup = setup_of([*common, "--max_seq_len", "96"])
    assert setup.config.vocab_size == len(tokenizer) == 262
    assert setup.config.max_seq_len == setup.max_seq_len == 96
    assert setup.config.num_latents == TINY_CONFIG["num_latents"] and not setup.pretrained  # the tiny preset
    assert arguments.training.logging_steps == 10  # our default (TrainingArguments says 500)


def test_sentencepiece_tokenizer_links_its_vocabulary(common, tmp_path):
    """The seed's command: Perceiver IO Base, a SentencePiece tokenizer, 512 tokens."""
    tokenizer = train_unigram_tokenizer()
    tokenizer.save_pretrained(tmp_path / "spm")
    argv = [*common, "--preset", "perceiver_io_base", "--tokenizer_name", str(tmp_path / "spm"), "--max_seq_len", "512"]
    _, loaded, setup = setup_of(argv)
    expected = PerceiverConfig.perceiver_io_base(vocab_size=len(tokenizer), max_seq_len=512)
    assert setup.config.vocab_size == len(loaded) == len(tokenizer)
    for name in ("num_latents", "num_latent_channels", "num_self_attention_layers_per_block", "num_input_channels"):
        assert getattr(setup.config, name) == getattr(expected, name)
    assert setup.config.max_seq_len == 512 and setup.config.pad_token_id == tokenizer.pad_token_id


def test_new_model_from_a_config_file(common, tmp_path):
    tiny(num_latents=24, vocab_size=999, max_seq_len=512).save_pretrained(tmp_path / "cfg")
    _, _, setup = setup_of([*common[2:], "--config_name", str(tmp_path / "cfg" / "config.json"), "--dropout", "0.2"])
    assert setup.config.num_latents == 24 and setup.config.dropout == 0.2 and not setup.pretrained
    assert setup.config.vocab_size == 262  # linked to the tokenizer, not the file's 999
    assert setup.max_seq_len == 64 and setup.config.max_seq_len == 64  # --max_seq_len from common


def test_individual_flags_and_config_overrides(common):
    argv = [*common, "--config_overrides", "num_latents=16,dropout=0.1,num_self_attention_layers_per_block=3",
            "--num_latents", "8", "--num_latent_channels", "32", "--cross_attention_residual", "false"]  # fmt: skip
    _, _, setup = setup_of(argv)
    assert setup.config.num_latents == 8  # the flag wins over --config_overrides
    assert setup.config.num_latent_channels == 32
    assert setup.config.dropout == 0.1 and setup.config.num_self_attention_layers_per_block == 3
    assert setup.config.cross_attention_residual is False


def test_yaml_config_file_with_flags_on_top(tmp_path):
    config = tmp_path / "train.yaml"
    config.write_text(
        f"preset: tiny\ntrain_file: {DECLARATION}\noutput_dir: {tmp_path / 'out'}\nmax_seq_len: 48\n"
        "num_latents: 8\nmasking: whole_word\nlearning_rate: 3.0e-4\nbf16: true\nuse_cpu: true\n"
    )
    arguments = parse_train_args([str(config), "--learning_rate", "1e-3", "--masking", "span"])
    assert arguments.model.preset == "tiny" and arguments.config.num_latents == 8
    assert arguments.data.max_seq_len == 48 and arguments.data.train_file == [str(DECLARATION)]
    assert arguments.masking.masking == "span"  # flag overrides the file
    assert arguments.training.learning_rate == 1e-3 and arguments.training.bf16 and arguments.training.use_cpu


def test_json_config_file(tmp_path):
    config = tmp_path / "train.json"
    config.write_text(json.dumps({"preset": "tiny", "train_file": [str(DECLARATION)], "output_dir": "o", "seed": 7}))
    arguments = parse_train_args([str(config)])
    assert arguments.training.seed == 7 and arguments.data.train_file == [str(DECLARATION)]


def test_config_file_with_unknown_names_is_rejected(tmp_path):
    config = tmp_path / "train.yaml"
    config.write_text("preset: tiny\ntrain_file: x.txt\nlearning_rat: 1e-3\n")
    with pytest.raises(ValueError, match="learning_rat"):
        parse_train_args([str(config)])


def test_glob_of_train_files(common):
    arguments = parse_train_args([*common, "--train_file", str(DATA / "us_*.txt")])
    assert [Path(p).name for p in arguments.data.train_file] == ["us_bill_of_rights.txt", "us_constitution_article_1.txt"]


def test_help_lists_every_argument_group(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli_main(["train", "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for flag in ("--preset", "--num_latents", "--train_file", "--masking", "--gradient_checkpointing", "--push_to_hub"):
        assert flag in text


# --- data --------------------------------------------------------------------------------------------------


def prepared(argv: list[str]):
    arguments, tokenizer, setup = setup_of(argv)
    raw = load_raw_datasets(arguments.data, arguments.model.cache_dir)
    collator = PerceiverMLMCollator(tokenizer, seed=0)
    return prepare_datasets(raw, tokenizer, arguments.data, setup.max_seq_len, collator, 0)


def test_text_file_is_chunked_byte_for_byte(common):
    data = prepared([*common, "--validation_file", str(DATA / "gettysburg_address.txt")])
    chunks = data["train"]["input_ids"]
    assert {len(c) for c in chunks[:-1]} == {64} and 0 < len(chunks[-1]) <= 64
    assert [i for c in chunks for i in c] == [b + 6 for b in DECLARATION.read_bytes()]  # newlines kept
    validation = data["validation"]
    assert set(validation.column_names) == {"input_ids", "labels"}
    assert sum(lab != -100 for row in validation["labels"] for lab in row) > 0


def test_validation_split_percentage_holds_out_the_first_records(common):
    data = prepared([*common, "--validation_split_percentage", "10"])
    lines = DECLARATION.read_bytes().splitlines(keepends=True)
    num_held_out = round(len(lines) * 0.10)
    validation_ids = [i for c in data["validation"]["input_ids"] for i in c]
    assert len(validation_ids) == len(b"".join(lines[:num_held_out]))  # masked ids: same length as the bytes
    assert [i for c in data["train"]["input_ids"] for i in c] == [b + 6 for b in b"".join(lines[num_held_out:])]


def test_json_and_csv_files_with_a_text_column(common, tmp_path):
    paragraphs = [p for p in DECLARATION.read_text().split("\n\n") if p]
    jsonl = tmp_path / "d.jsonl"
    jsonl.write_text("".join(json.dumps({"body": p, "n": i}) + "\n" for i, p in enumerate(paragraphs)))
    data = prepared([*common, "--train_file", str(jsonl), "--text_column_name", "body", "--validation_split_percentage", "0"])
    assert [i for c in data["train"]["input_ids"] for i in c] == [b + 6 for b in "".join(paragraphs).encode()]

    csv = tmp_path / "d.csv"
    csv.write_text("title,text\n" + "".join(f'"t{i}","{p}"\n' for i, p in enumerate(paragraphs[:5])))
    data = prepared([*common, "--train_file", str(csv), "--validation_split_percentage", "0", "--line_by_line", "true"])
    assert len(data["train"]) == 5 and all(len(ids) <= 64 for ids in data["train"]["input_ids"])
    assert data["train"][0]["input_ids"] == [b + 6 for b in paragraphs[0].encode()[:64]]


def test_tokenized_datasets_are_cached(common):
    first = prepared(common)["train"]
    second = prepared(common)["train"]  # new tokenizer and collator objects, same fingerprint
    assert first.cache_files and first.cache_files == second.cache_files


# --- bad input is caught before training starts ------------------------------------------------------------


def refused(argv: list[str], match: str, output_dir: Path) -> None:
    with pytest.raises(ValueError, match=match):
        run_from_argv(argv)
    assert not output_dir.exists() or not any(output_dir.iterdir())


def test_empty_dataset(common, tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    refused([*common, "--train_file", str(empty)], "is empty", tmp_path / "out")
    records = tmp_path / "none.json"
    records.write_text("[]")
    refused([*common, "--train_file", str(records)], "no records", tmp_path / "out")
    one_line = tmp_path / "one.txt"
    one_line.write_text("Only one record.\n")
    refused([*common, "--train_file", str(one_line)], "leaves no validation data", tmp_path / "out")


def test_blank_text_holds_no_tokens(common, tmp_path):
    blank = tmp_path / "blank.csv"
    blank.write_text('text\n""\n""\n')
    refused([*common, "--train_file", str(blank), "--line_by_line", "true", "--validation_split_percentage", "0"],
            "no tokens", tmp_path / "out")  # fmt: skip


def test_missing_text_column(common, tmp_path):
    csv = tmp_path / "d.csv"
    csv.write_text("content\nhello\n")
    refused([*common, "--train_file", str(csv)], r"no column 'text'.*\['content'\].*--text_column_name", tmp_path / "out")


def test_tokenizer_vocabulary_larger_than_the_model(common, tmp_path):
    model = save_tiny_model(tmp_path / "small_vocab", vocab_size=100)
    argv = [*common[2:], "--model_name_or_path", str(model)]
    refused(argv, "262 tokens but the pretrained model .* vocab_size=100", tmp_path / "out")
    refused([*common, "--config_overrides", "vocab_size=100"], "262 tokens but the tiny preset", tmp_path / "out")


def test_max_seq_len_above_the_model(common, tmp_path):
    model = save_tiny_model(tmp_path / "short", max_seq_len=32)
    argv = [*common[2:], "--model_name_or_path", str(model)]  # --max_seq_len 64 from common
    refused(argv, "--max_seq_len 64 exceeds .*max_seq_len=32", tmp_path / "out")
    refused([*common, "--config_overrides", "max_seq_len=32"], "exceeds the tiny preset's max_seq_len=32", tmp_path / "out")


def test_fine_tuning_cannot_change_the_architecture(common, tmp_path):
    model = save_tiny_model(tmp_path / "m")
    refused([*common[2:], "--model_name_or_path", str(model), "--num_latents", "8"], "Cannot change num_latents", tmp_path / "out")


def test_transformers_perceiver_needs_conversion(common, tmp_path):
    TransformersPerceiverConfig().save_pretrained(tmp_path / "hf")
    refused([*common[2:], "--model_name_or_path", str(tmp_path / "hf")], "perceiver-hf convert", tmp_path / "out")


def test_existing_output_is_not_overwritten(common, tmp_path):
    out = tmp_path / "out"
    (out / "checkpoint-10").mkdir(parents=True)
    with pytest.raises(ValueError, match="not written by perceiver-hf.*checkpoint-10.*--resume_from_checkpoint last"):
        run_from_argv(common)
    assert [p.name for p in out.iterdir()] == ["checkpoint-10"]


@pytest.mark.parametrize(
    "extra, match",
    [
        (["--train_file", "missing.txt"], "missing.txt: no such file"),
        (["--train_file", "data.parquet"], "extension .parquet"),
        (["--preset", "tiny", "--model_name_or_path", "x"], "only one of"),
        (["--mask_replace_prob", "0.9", "--random_replace_prob", "0.2"], "should not exceed 1"),
        (["--tokenizer_name", "/nonexistent/tokenizer"], "'/nonexistent/tokenizer' does not exist"),
    ],
)
def test_bad_arguments_exit_with_a_message(common, tmp_path, capsys, extra, match):
    assert cli_main(["train", *common, *extra]) == 2
    assert re.search(match, capsys.readouterr().err)
    assert not (tmp_path / "out").exists()


def test_no_model_source(tmp_path, capsys):
    assert cli_main(["train", "--train_file", str(DECLARATION), "--output_dir", str(tmp_path / "o")]) == 2
    assert "--preset" in capsys.readouterr().err


def test_decode_only_is_the_default_and_can_be_switched_off(common):
    assert parse_train_args(common).masking.decode_only is True
    assert parse_train_args([*common, "--decode_only", "false"]).masking.decode_only is False
    assert torch.is_tensor(PerceiverMLMCollator(PerceiverByteTokenizer(), seed=0)([[40, 41]])["output_positions"])


# --- the training docs' commands------------------------------------------------------------------------------


def readme_train_commands() -> list[list[str]]:
    """Every `perceiver-hf train` / `-m perceiver_hf.cli train` command of docs/training.md."""
    section = (REPO / "docs" / "training.md").read_text(encoding="utf-8")
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", section, re.S):
        for line in block.replace("\\\n", " ").splitlines():
            words = shlex.split(line)
            if "train" in words and ("perceiver-hf" in words or "perceiver_hf.cli" in words):
                commands.append(words)
    return commands


def test_readme_training_commands_parse(monkeypatch, tmp_path):
    commands = readme_train_commands()
    assert len(commands) >= 6
    monkeypatch.chdir(REPO)
    spelled_out = 0
    for words in commands:
        if "--config_file" in words:
            assert (REPO / words[words.index("--config_file") + 1]).is_file()
        argv = words[words.index("train") + 1 :]
        for flag in ("--train_file", "--validation_file"):  # placeholders such as my_corpus.txt
            if flag in argv and not glob_matches(argv[argv.index(flag) + 1]):
                argv[argv.index(flag) + 1] = str(tmp_path / "placeholder.txt")
                (tmp_path / "placeholder.txt").write_text("text\n")
        if "--bf16" in argv and "--use_cpu" not in argv and not torch.cuda.is_available():
            argv.append("--use_cpu")  # the GPU command, checked on a CPU-only machine
        arguments = parse_train_args(argv)
        if arguments.model.preset == "perceiver_io_base":  # flags, where given, repeat the preset's values
            flags = config_flag_overrides(arguments.config)
            preset = PerceiverConfig.perceiver_io_base()
            assert all(getattr(preset, name) == value for name, value in flags.items())
            spelled_out += len(flags)
    assert spelled_out == 15  # the seed's 16 --model.* options; its encoder and decoder dropout are one field


def glob_matches(pattern: str) -> bool:
    return bool(list(Path().glob(pattern)))


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        ({}, True),  # neither flag: train
        ({"do_eval": True}, False),  # evaluation only
        ({"do_train": True}, True),
        ({"eval_strategy": "steps", "eval_steps": 10}, True),  # sets do_eval by itself, still a training run
        ({"do_eval": True, "eval_strategy": "steps", "eval_steps": 10}, True),
    ],
)
def test_an_evaluation_strategy_does_not_turn_training_off(tmp_path, flags: dict, expected: bool) -> None:
    from transformers import TrainingArguments

    from perceiver_hf.training.run import wants_training

    assert wants_training(TrainingArguments(output_dir=str(tmp_path), use_cpu=True, **flags)) is expected
