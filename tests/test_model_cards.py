"""Every model card template renders to a valid Hub card whose usage snippets run against a tiny model.

Templates are rendered with sample values for all their placeholders (a `$metadata` block comes from
`model_cards.fields.hub_metadata`, as the converter and the trainer fill it); the metadata is read back with
huggingface_hub's `ModelCard` / `ModelCardData` (model-index included), and each ```python block is parsed
and then executed with the card's model path pointing at a tiny exported model.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
import torch
from huggingface_hub import EvalResult, ModelCard

from perceiver_hf import PerceiverForCausalLM

from perceiver_hf.hub import export_for_hub
from perceiver_hf.model_cards import render_model_card, template_fields, template_names
from perceiver_hf.model_cards.fields import hub_metadata, hub_repo_id
from perceiver_hf.tokenization_perceiver import PerceiverByteTokenizer
from perceiver_hf.training.presets import tiny_causal_lm

REPO_ROOT = Path(__file__).resolve().parents[1]
TEMPLATES = template_names()
# templates whose model uses a SentencePiece-style tokenizer rather than bytes
SUBWORD_TEMPLATES = {"perceiver-io-base"}
# templates of Perceiver AR causal LMs (their usage snippets generate text)
CAUSAL_LM_TEMPLATES = {"perceiver-ar-trained"}
# known gaps, strict: the test starts failing (XPASS) once the template gains the section
WITHOUT_EVALUATION = {
    "deepmind-language-perceiver": "the converter's card has no evaluation figures yet",
    "transformers-perceiver-conversion": "a conversion evaluates nothing; the source's card has the figures",
    "transformers-perceiver-classifier-conversion": "a conversion evaluates nothing; the source's card has the figures",
    "perceiver-io-library-conversion": "a conversion evaluates nothing; the library's training run has the figures",
    "perceiver-io-library-classifier-conversion": "a conversion evaluates nothing; the library's training run has the figures",
}

SAMPLE_VALUES = {
    "license": "apache-2.0",
    "dataset": "sample-org/sample-corpus",
    "num_parameters": "4,169,990",
    "max_seq_len": 128,
    "eval_accuracy": 0.4321,
    "eval_perplexity": 12.5,
    "eval_loss": 2.5257,
}
SAMPLE_VALUES["metrics"] = f"| accuracy | {SAMPLE_VALUES['eval_accuracy']} |"  # a classifier card's rows
SAMPLE_VALUES["task"] = "text-classification"  # a pipeline task the tiny models load as
SAMPLE_VALUES["metadata"] = hub_metadata(
    license=SAMPLE_VALUES["license"],
    datasets=[SAMPLE_VALUES["dataset"]],
    base_model="sample-org/sample-base",
    model_name="sample-model",
    eval_results=[
        EvalResult(
            task_type="fill-mask", dataset_type="text", dataset_name="sample.txt", metric_type=name,
            metric_value=SAMPLE_VALUES[f"eval_{name}"],
        )
        for name in ("accuracy", "perplexity")
    ],
)


def sample_fields(template: str, model_path: str) -> dict[str, object]:
    """A value for every placeholder of `template`: typed samples where the type matters, text elsewhere."""
    values = {**SAMPLE_VALUES, "model_path": model_path, "exported_model_path": model_path}  # tiny models are exported
    return {name: values.get(name, f"sample {name.replace('_', ' ')}") for name in template_fields(template)}


def python_blocks(card_text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", card_text, flags=re.DOTALL)


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Tiny exported models (weights + tokenizer + remote code): a byte one and a SentencePiece-style one."""
    from conftest import make_tiny_model
    from helpers.tokenizers import train_unigram_tokenizer

    root = tmp_path_factory.mktemp("cards")
    byte_model = make_tiny_model(seed=7)
    export_for_hub(byte_model, root / "byte", PerceiverByteTokenizer(model_max_length=128))
    unigram = train_unigram_tokenizer(model_max_length=128)
    export_for_hub(make_tiny_model(seed=8, vocab_size=len(unigram)), root / "subword", unigram)
    torch.manual_seed(9)  # a Perceiver AR folder as `perceiver-hf train --task causal-lm` writes it
    PerceiverForCausalLM(tiny_causal_lm(max_seq_len=64)).save_pretrained(root / "causal")
    PerceiverByteTokenizer(model_max_length=64, padding_side="left").save_pretrained(root / "causal")
    return {"byte": root / "byte", "subword": root / "subword", "causal": root / "causal"}


def _render(template: str, tiny_models: dict[str, Path]) -> str:
    kind = "subword" if template in SUBWORD_TEMPLATES else "causal" if template in CAUSAL_LM_TEMPLATES else "byte"
    model = tiny_models[kind]
    return render_model_card(template, **sample_fields(template, str(model)))


def test_the_cards_we_ship_exist() -> None:
    assert {
        "deepmind-language-perceiver", "transformers-perceiver-conversion", "perceiver-io-base", "perceiver-trained",
        "perceiver-bytes-small",
    } <= set(TEMPLATES)  # fmt: skip
    # model_cards/ at the top of the repository shows the packaged templates through links: one copy of each
    package_folder = (REPO_ROOT / "src/perceiver_hf/model_cards").resolve()
    shown = {path.stem: path for path in (REPO_ROOT / "model_cards").glob("*.md") if path.name != "README.md"}
    assert set(shown) == set(TEMPLATES)
    for name, path in shown.items():
        assert path.is_symlink() and path.resolve() == package_folder / f"{name}.md", name


@pytest.mark.parametrize("template", TEMPLATES)
def test_card_metadata_is_valid_hub_metadata(template: str, tiny_models: dict[str, Path]) -> None:
    card = ModelCard(_render(template, tiny_models))
    data = card.data
    assert data.license == SAMPLE_VALUES["license"]
    assert data.pipeline_tag == "fill-mask"
    assert data.library_name == "transformers"
    assert isinstance(data.tags, list) and "perceiver-io" in data.tags and all(isinstance(t, str) for t in data.tags)
    # datasets: named where the template knows them, never an empty or malformed list
    assert data.datasets is None or (data.datasets and all(isinstance(d, str) for d in data.datasets))
    if data.base_model is not None:
        assert all(re.fullmatch(r"[\w.-]+/[\w.-]+", m) for m in ([data.base_model] if isinstance(data.base_model, str) else data.base_model))
    for result in data.eval_results or []:  # parsed from model-index by huggingface_hub
        assert result.task_type == "fill-mask"
        assert isinstance(result.metric_value, float), (result.metric_type, result.metric_value)
    # the metadata survives a round trip through huggingface_hub's own writer
    assert ModelCard(str(card)).data.to_dict() == data.to_dict()


@pytest.mark.parametrize("template", TEMPLATES)
def test_card_has_usage_provenance_and_limitations(template: str, tiny_models: dict[str, Path]) -> None:
    text = _render(template, tiny_models)
    assert python_blocks(text), "no ```python usage snippet"
    assert "```bash\n" in text, "no command that made the model"
    assert re.search(r"^## Limitations", text, flags=re.MULTILINE)
    assert "$" not in text.replace("$$", ""), "unfilled placeholder"


@pytest.mark.parametrize(
    "template",
    [
        pytest.param(name, marks=pytest.mark.xfail(strict=True, reason=WITHOUT_EVALUATION[name]))
        if name in WITHOUT_EVALUATION
        else name
        for name in TEMPLATES
    ],
)
def test_card_reports_evaluation_figures_and_their_command(template: str, tiny_models: dict[str, Path]) -> None:
    text = _render(template, tiny_models)
    evaluation = text.split("## Evaluation", 1)[1].split("\n## ", 1)[0]  # IndexError if there is no section
    assert str(SAMPLE_VALUES["eval_accuracy"]) in evaluation
    assert "```bash\n" in evaluation


@pytest.mark.parametrize("template", TEMPLATES)
def test_usage_snippets_parse_and_run(template: str, tiny_models: dict[str, Path], capsys) -> None:
    for snippet in python_blocks(_render(template, tiny_models)):
        code = compile(ast.parse(snippet), f"<{template} usage>", "exec")
        exec(code, {"__name__": "__card__"})
    assert capsys.readouterr().out.strip(), "the snippets print their result"


def test_hub_metadata_leaves_out_what_is_not_known() -> None:
    data = ModelCard(f"---\n{hub_metadata(license='unknown', tags=['byte-level', 'fill-mask'])}\n---\n# x\n").data
    assert (data.license, data.library_name, data.pipeline_tag) == ("unknown", "transformers", "fill-mask")
    assert data.tags == ["perceiver-io", "perceiver_hf", "fill-mask", "masked-language-modeling", "byte-level"]
    assert data.datasets is None and data.base_model is None and data.eval_results is None and data.language is None
    assert "model_name" not in data.to_dict()  # only named inside a model-index


def test_hub_repo_id_refuses_local_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert hub_repo_id("deepmind/language-perceiver") == "deepmind/language-perceiver"
    assert hub_repo_id("wikitext") is None and hub_repo_id("wikitext", namespace_required=False) == "wikitext"
    monkeypatch.chdir(tmp_path)
    (tmp_path / "outputs" / "run").mkdir(parents=True)
    assert hub_repo_id("outputs/run") is None  # a folder that exists here is not a Hub id
    for name in (None, "", str(tmp_path), "../org/name", "org/name/extra", "/org/name"):
        assert hub_repo_id(name) is None, name
