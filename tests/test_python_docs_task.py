"""The Python docs task data: inline-code byte tags from Sphinx HTML, and the committed sample's invariants."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "tests" / "data" / "python_docs_task"


def load_script():
    path = REPO / "scripts" / "tasks" / "prepare_python_docs_task.py"
    spec = importlib.util.spec_from_file_location("prepare_python_docs_task", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass looks its module up there
    spec.loader.exec_module(module)
    return module


PAGE = """<html><body><div class="body" role="main"><h1>T</h1>
<p>Call <a href="x"><code class="xref py py-func docutils literal notranslate"><span class="pre">len()</span></code></a>
on a   list,\u00a0or <code class="docutils literal notranslate"><span class="pre">a</span> <span class="pre">+</span>
<span class="pre">b</span></code> for the sum of élan values.</p>
<pre>not prose</pre></div></body></html>"""


def read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_code_bytes_are_tagged_bio_per_utf8_byte(tmp_path):
    script = load_script()
    page = tmp_path / "library" / "x.html"
    page.parent.mkdir()
    page.write_text(PAGE, encoding="utf-8")
    [paragraph] = script.page_paragraphs(page, "library/x.html", "library reference")
    assert paragraph.text == "Call len() on a list, or a + b for the sum of élan values."
    code = "".join(
        chr(byte) if tag != "O" else "_" for byte, tag in zip(paragraph.text.encode("utf-8"), paragraph.tags)
    )
    assert code.replace("_", " ").split() == ["len()", "a", "+", "b"]  # "a + b" is one element: spaces inside
    assert "".join(tag[0] for tag in paragraph.tags[5:10]) == "BIIII"
    start = paragraph.text.index("a + b")
    assert [tag[0] for tag in paragraph.tags[start : start + 5]] == ["B", "I", "I", "I", "I"]
    assert len(paragraph.tags) == len(paragraph.text.encode("utf-8"))  # "é" is two bytes, two tags


def test_committed_sample_is_split_by_page_with_aligned_labels():
    script = load_script()
    sequence = {split: read(SAMPLE / "sequence" / f"{split}.jsonl") for split in ("train", "heldout")}
    token = {split: read(SAMPLE / "token" / f"{split}.jsonl") for split in ("train", "heldout")}
    assert not {r["page"] for r in sequence["train"]} & {r["page"] for r in sequence["heldout"]}
    for split in ("train", "heldout"):
        assert {r["label"] for r in sequence[split]} == set(script.LABELS)
        assert [r["text"] for r in sequence[split]] == [r["text"] for r in token[split]]
        for row in token[split]:
            assert len(row["labels"]) == len(row["text"].encode("utf-8"))
            assert set(row["labels"]) <= set(script.TOKEN_LABELS)
            assert all(not (a == "O" and b == "I-CODE") for a, b in zip(["O", *row["labels"]], row["labels"]))
    assert sum(tag != "O" for row in token["train"] for tag in row["labels"]) > 0
