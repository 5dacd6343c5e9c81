"""The perceiver-io library's own Perceiver AR (0.11.0, tests/fixtures/perceiver_io_hf/clm-*) against the converted
`PerceiverForCausalLM`: logits on padded batches, greedy generation (cached and uncached), the Lightning checkpoint.

The fixtures' manifest_causal.json lists how far the logits move under each plausible mistake (prefix keys through
q_norm, rotary on halves, positions not shifted by left padding, ...): 0.05 to 2.7, so 1e-5 catches every one.

Generation: the library's cached and uncached `generate` agree while the latents grow; once they would pass
`max_latents` the two disagree with each other (manifest: "generation"). `greedy_documented` is the library's
documented schedule computed by its own forward pass on each step's window; perceiver-hf implements that one, with
and without its cache (docs/causal-lm.md).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from perceiver_hf import PerceiverForCausalLM
from perceiver_hf.cli import main
from perceiver_hf.convert import convert_perceiver_io_checkpoint, convert_perceiver_io_folder

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "perceiver_io_hf"
MANIFEST = json.loads((FIXTURES / "manifest_causal.json").read_text(encoding="utf-8"))
MODELS = ["clm-abs-pos", "clm-rotary-only"]


@pytest.fixture(scope="module", params=MODELS)
def converted(request, tmp_path_factory) -> tuple[str, PerceiverForCausalLM, dict[str, torch.Tensor]]:
    name = request.param
    output = convert_perceiver_io_folder(FIXTURES / name, tmp_path_factory.mktemp(name) / "out", progress=False)
    model = PerceiverForCausalLM.from_pretrained(output).eval()
    return name, model, load_file(FIXTURES / name / "expected.safetensors")


def test_parameter_count_is_the_librarys(converted):
    name, model, _ = converted
    assert sum(p.numel() for p in model.parameters()) == MANIFEST["fixtures"][name]["num_parameters"]


def test_padded_batch_logits_equal_the_librarys(converted):
    name, model, expected = converted
    prefixes = [int(key.rsplit("_", 1)[1]) for key in expected if re.fullmatch(r"logits_prefix_\d+", key)]
    assert len(prefixes) == 2
    with torch.no_grad():
        for prefix_len in prefixes:
            logits = model(expected["input_ids"], attention_mask=expected["attention_mask"], prefix_len=prefix_len).logits
            torch.testing.assert_close(logits, expected[f"logits_prefix_{prefix_len}"], atol=1e-5, rtol=0)
        full = model(expected["input_ids_full"], prefix_len=model.config.max_prefix_len).logits
    torch.testing.assert_close(full, expected["logits_full"], atol=1e-5, rtol=0)


def _generate(model, expected, prefix: str, num_latents: int, use_cache: bool):
    single = prefix == "single"
    ids = expected["generate_single_input_ids" if single else "generate_input_ids"]
    mask = None if single else expected["generate_attention_mask"]
    return model.generate(
        ids, attention_mask=mask, num_latents=num_latents, max_new_tokens=30, do_sample=False, use_cache=use_cache,
        pad_token_id=0, eos_token_id=None, output_scores=True, return_dict_in_generate=True,
    )  # fmt: skip


@pytest.mark.parametrize("batch", ["batch", "single"])
@pytest.mark.parametrize("num_latents", [1, 4])
@pytest.mark.parametrize("use_cache", [True, False])
def test_greedy_generation_follows_the_librarys_documented_schedule(converted, batch, num_latents, use_cache):
    name, model, expected = converted
    suffix = ("single_" if batch == "single" else "") + "documented" + ("_nl4" if num_latents == 4 else "")
    out = _generate(model, expected, batch, num_latents, use_cache)
    assert torch.equal(out.sequences, expected[f"greedy_{suffix}"])
    if f"scores_{suffix}" in expected:
        torch.testing.assert_close(torch.stack(out.scores), expected[f"scores_{suffix}"], atol=1e-5, rtol=0)


@pytest.mark.parametrize("use_cache", [True, False])
def test_greedy_generation_equals_the_librarys_own_while_its_two_paths_agree(converted, use_cache):
    # the library's cached and uncached generate agree (to 1e-6) up to the step where the latents would pass
    # max_latents; up to there, perceiver-hf's scores equal both
    name, model, expected = converted
    agree = MANIFEST["fixtures"][name]["generation"]["batch_nl1"]["cached_vs_uncached"]["first_step_over_1e-5"]
    assert agree >= 5
    scores = torch.stack(_generate(model, expected, "batch", 1, use_cache).scores)
    for library in ("cached", "uncached"):
        torch.testing.assert_close(scores[:agree], expected[f"scores_{library}"][:agree], atol=1e-5, rtol=0)


def test_lightning_checkpoint_converts_to_the_same_model(tmp_path):
    # clm-lightning/last.ckpt holds clm-rotary-only's weights, written by the library's LitCausalLanguageModel
    assert MANIFEST["fixtures"]["clm-lightning"]["weights_of"] == "clm-rotary-only"
    output = convert_perceiver_io_checkpoint(FIXTURES / "clm-lightning" / "last.ckpt", tmp_path / "out", progress=False)
    model = PerceiverForCausalLM.from_pretrained(output).eval()
    expected = load_file(FIXTURES / "clm-rotary-only" / "expected.safetensors")
    with torch.no_grad():
        logits = model(expected["input_ids"], attention_mask=expected["attention_mask"], prefix_len=11).logits
    torch.testing.assert_close(logits, expected["logits_prefix_11"], atol=1e-5, rtol=0)


def test_converted_folder_generates_through_the_pipeline(tmp_path):
    from transformers import AutoTokenizer, pipeline

    output = tmp_path / "out"
    assert main(["convert", "perceiver-io", str(FIXTURES / "clm-abs-pos"), str(output), "--quiet"]) == 0
    assert json.loads((output / "config.json").read_text())["model_type"] == "perceiver_ar"
    assert json.loads((output / "tokenizer_config.json").read_text())["padding_side"] == "left"
    text = pipeline("text-generation", model=str(output))("Hi", max_new_tokens=5, do_sample=False)[0]["generated_text"]
    # the pipeline's text is the converted model's own greedy continuation, decoded
    model, tokenizer = PerceiverForCausalLM.from_pretrained(output), AutoTokenizer.from_pretrained(output)
    ids = model.generate(**tokenizer("Hi", return_tensors="pt"), max_new_tokens=5, do_sample=False)
    assert text == tokenizer.decode(ids[0], skip_special_tokens=True)


@pytest.mark.parametrize(
    "case, message",
    [
        ("symbolic-audio", r"a symbolic audio model \(Perceiver AR; not text\)"),
        ("unknown-field", r"has fields no library version writes: \['rotary_base'\]"),
        ("missing-field", r"lacks \['max_latents'\]"),
        ("bad-value", r"max_latents must be at most max_seq_len"),
        ("rotary-buffer", r"inv_freq \[2\] is not the rotary frequencies of 4 channels"),
        ("wrong-weights", r"does not match the model's parameters one to one"),
    ],
)
def test_bad_sources_are_one_line_errors_and_write_nothing(tmp_path, capsys, case, message):
    import shutil

    from safetensors.torch import save_file

    source = tmp_path / "source"
    if case == "symbolic-audio":
        source = FIXTURES / "symbolic-audio"
    else:
        shutil.copytree(FIXTURES / "clm-abs-pos", source)
        config = json.loads((source / "config.json").read_text())
        edits = {
            "unknown-field": lambda c: c["model_config"].update(rotary_base=500),
            "missing-field": lambda c: c["model_config"].pop("max_latents"),
            "bad-value": lambda c: c["model_config"].update(max_latents=100),
        }
        if case in edits:
            edits[case](config)
            (source / "config.json").write_text(json.dumps(config))
        if case in ("rotary-buffer", "wrong-weights"):
            tensors = load_file(source / "model.safetensors")
            key = "backend_model.input_adapter.frq_pos_encoding.inv_freq"
            if case == "rotary-buffer":
                tensors[key] = tensors[key] * 2
            else:
                del tensors["backend_model.out_norm.weight"]
            save_file(tensors, source / "model.safetensors")
    status = main(["convert", "perceiver-io", str(source), str(tmp_path / "out"), "--quiet"])
    error = capsys.readouterr().err
    assert status == 1, error
    assert re.search(message, error), error
    if case != "wrong-weights":  # the mapping error lists every mismatch, one per line
        assert len(error.strip().splitlines()) == 1, error
    assert not (tmp_path / "out").exists()


def test_a_folder_with_its_own_tokenizer_keeps_it(tmp_path):
    # clm-rotary-only has a 50-id vocabulary: a folder that carries its tokenizer (as the library's
    # convert_checkpoint saves it) converts with that tokenizer, set to left padding and max_seq_len
    import shutil

    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast, pipeline

    source = tmp_path / "source"
    shutil.copytree(FIXTURES / "clm-rotary-only", source)
    vocab = {"[PAD]": 0, "[UNK]": 1, **{chr(ord("a") + i): 2 + i for i in range(26)}}
    backend = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    backend.pre_tokenizer = pre_tokenizers.Split("", "isolated")
    PreTrainedTokenizerFast(tokenizer_object=backend, pad_token="[PAD]", unk_token="[UNK]").save_pretrained(source)
    output = convert_perceiver_io_folder(source, tmp_path / "out", progress=False)
    saved = json.loads((output / "tokenizer_config.json").read_text())
    assert saved["padding_side"] == "left" and saved["model_max_length"] == 20
    text = pipeline("text-generation", model=str(output))("abc", max_new_tokens=4, do_sample=False)[0]["generated_text"]
    assert text.startswith("abc")
    # a tokenizer with more ids than the model's vocabulary is not this model's
    vocab.update({f"w{i}": 28 + i for i in range(30)})
    big = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    PreTrainedTokenizerFast(tokenizer_object=big, pad_token="[PAD]", unk_token="[UNK]").save_pretrained(source)
    with pytest.raises(Exception, match=r"tokenizer has 58 ids but the model only 50"):
        convert_perceiver_io_folder(source, tmp_path / "out2", progress=False)
    assert not (tmp_path / "out2").exists()
