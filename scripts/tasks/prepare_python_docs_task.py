"""Two labelled tasks from the Python documentation's HTML (Debian's `python3-doc`), held out by page.

- sequence classification: which part of the documentation a prose paragraph comes from, one of
  `SECTIONS` (library reference, C API, tutorial, how-to, language reference, what's new); the other parts
  (FAQ, using, extending, distutils, installing, ...) are left out: small and overlapping with these.
- token classification: which bytes of the same paragraphs are inline code (`<code>` elements, the
  reStructuredText ``literals`` and cross-references that Sphinx renders as `<code><span class="pre">`),
  one BIO tag per UTF-8 byte of the text (`B-CODE` / `I-CODE` / `O`): the ids of the package's byte tokenizer
  (`PerceiverByteTokenizer`, no special tokens added) are exactly the bytes, so tag i belongs to token i.

Paragraphs are those of the shipped model's corpus (scripts/pretrained/prepare_corpus.py: prose `<p>` of the
page body, whitespace normalised, code-like paragraphs dropped). Split: in each section the pages with the
lowest sha256 bucket of their path (the hash prepare_corpus.py splits by) are held out until
`--heldout-percent` of the section's pages (at least `MIN_HELDOUT_PAGES`), so every page the shipped model
never saw in pretraining (bucket < 5%) is held out here too; each example says whether its page was held out
of pretraining (`pretraining_heldout`). A paragraph text occurring on several pages is kept once (its first
page in path order) and dropped from the held-out split if it also occurs in training.

Outputs in `--output-dir`: sequence/{train,heldout}.jsonl (`text`, `label`, `page`, `pretraining_heldout`),
token/{train,heldout}.jsonl (`text`, `labels`: a BIO tag per byte, `page`), manifest.json (source, license,
sizes, class balance, sha256 of the files); with `--sample-dir`, a small sample of both (the test data).
Deterministic: the same package version gives byte-identical files. Installs `python3-doc` with apt-get
(`apt-get update && apt-get install -y python3-doc`, as root) only if the HTML is missing and `--install` is given.

    python scripts/tasks/prepare_python_docs_task.py --install --output-dir data/python-docs-task
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "pretrained"))
import prepare_corpus  # noqa: E402  (the shipped model's corpus: the same HTML parsing and filters)

SECTIONS = {
    "library": "library reference",
    "c-api": "C API",
    "tutorial": "tutorial",
    "howto": "how-to",
    "reference": "language reference",
    "whatsnew": "what's new",
}
LABELS = list(SECTIONS.values())
TOKEN_LABELS = ["O", "B-CODE", "I-CODE"]
PRETRAINING_HELDOUT_PERCENT = 5.0  # scripts/pretrained/train.sh's split of the shipped model's corpus
MIN_HELDOUT_PAGES = 2
NO_SPAN = -1


class CodeMarkingExtractor(prepare_corpus.ProseExtractor):
    """`ProseExtractor` that also records, per character of each paragraph, which `<code>` element it is in."""

    def __init__(self) -> None:
        super().__init__()
        self.spans: List[List[int]] = []  # per paragraph: a span id (or NO_SPAN) per character
        self._marks: List[int] = []
        self._code_depth = 0
        self._next_span = 0

    def handle_starttag(self, tag: str, attrs: List[Tuple[str, Optional[str]]]) -> None:
        had_paragraph = self._paragraph is not None
        super().handle_starttag(tag, attrs)
        if self._paragraph is not None and not had_paragraph:
            self._marks, self._code_depth = [], 0
        if tag == "code" and self._paragraph is not None:
            self._code_depth += 1
            if self._code_depth == 1:
                self._next_span += 1

    def handle_endtag(self, tag: str) -> None:
        count = len(self.paragraphs)
        if tag == "code" and self._code_depth:
            self._code_depth -= 1
        super().handle_endtag(tag)
        if len(self.paragraphs) > count:
            self.spans.append(self._marks)

    def handle_data(self, data: str) -> None:
        if self._paragraph is not None and not self._skip_depth:
            self._marks.extend([self._next_span if self._code_depth else NO_SPAN] * len(data))
        super().handle_data(data)


def normalise_with_spans(text: str, spans: List[int]) -> Tuple[str, List[int]]:
    """`prepare_corpus.normalise` (whitespace runs -> one space, ends stripped), carrying the span ids along.

    A collapsed whitespace run is code only when all of it lies inside one code element.
    """
    out_chars: List[str] = []
    out_spans: List[int] = []
    run: List[int] = []
    for char, span in zip(text.replace("\u00a0", " "), spans):
        if char.isspace():
            run.append(span)
            continue
        if run and out_chars:
            out_chars.append(" ")
            out_spans.append(run[0] if len(set(run)) == 1 else NO_SPAN)
        run = []
        out_chars.append(char)
        out_spans.append(span)
    return "".join(out_chars), out_spans


def byte_tags(text: str, spans: List[int]) -> List[str]:
    """One BIO tag per UTF-8 byte: B-CODE on the first byte of each code element, I-CODE on the rest."""
    tags: List[str] = []
    previous = NO_SPAN
    for char, span in zip(text, spans):
        for _ in char.encode("utf-8"):
            tags.append("O" if span == NO_SPAN else ("I-CODE" if span == previous else "B-CODE"))
            previous = span
        previous = span
    return tags


@dataclass
class Paragraph:
    """One prose paragraph of a page, with its section label and per-byte code tags."""

    text: str
    tags: List[str]
    page: str
    section: str


def page_paragraphs(path: Path, relative: str, section: str) -> List[Paragraph]:
    """The prose paragraphs of one page (the corpus script's filters) with their code tags."""
    parser = CodeMarkingExtractor()
    parser.feed(path.read_text(encoding="utf-8"))
    parser.close()
    paragraphs = []
    for raw, spans in zip(parser.paragraphs, parser.spans):
        text, text_spans = normalise_with_spans(raw, spans)
        assert text == prepare_corpus.normalise(raw), relative  # the same text as the shipped model's corpus
        if prepare_corpus.is_prose(text):
            paragraphs.append(Paragraph(text, byte_tags(text, text_spans), relative, section))
    return paragraphs


def hash_bucket(relative: str) -> float:
    """The page's position in [0, 1) on the sha256 of its path: prepare_corpus.is_heldout's split."""
    return int(hashlib.sha256(relative.encode("utf-8")).hexdigest()[:8], 16) / 0x1_0000_0000


def heldout_pages(pages_by_section: Dict[str, List[str]], heldout_percent: float) -> set[str]:
    """Per section, the pages with the lowest hash buckets: `heldout_percent` of them, at least MIN_HELDOUT_PAGES."""
    heldout: set[str] = set()
    for pages in pages_by_section.values():
        count = max(MIN_HELDOUT_PAGES, math.ceil(len(pages) * heldout_percent / 100))
        heldout.update(sorted(pages, key=hash_bucket)[:count])
    return heldout


def build_splits(source: Path, heldout_percent: float) -> Tuple[List[Paragraph], List[Paragraph]]:
    """Train and held-out paragraphs (deduplicated by text; held-out texts never occur in train)."""
    pages_by_section: Dict[str, List[str]] = {}
    for path in sorted(source.rglob("*.html")):
        relative = path.relative_to(source).as_posix()
        section = relative.split("/")[0]
        if section in SECTIONS:
            pages_by_section.setdefault(section, []).append(relative)
    heldout = heldout_pages(pages_by_section, heldout_percent)
    seen: set[str] = set()
    train: List[Paragraph] = []
    held: List[Paragraph] = []
    for relative in sorted(page for pages in pages_by_section.values() for page in pages):
        for paragraph in page_paragraphs(source / relative, relative, SECTIONS[relative.split("/")[0]]):
            if paragraph.text not in seen:
                seen.add(paragraph.text)
                (held if relative in heldout else train).append(paragraph)
    train_texts = {p.text for p in train}
    return train, [p for p in held if p.text not in train_texts]


def sequence_row(paragraph: Paragraph) -> dict:
    return {
        "text": paragraph.text,
        "label": paragraph.section,
        "page": paragraph.page,
        "pretraining_heldout": hash_bucket(paragraph.page) < PRETRAINING_HELDOUT_PERCENT / 100,
    }


def token_row(paragraph: Paragraph) -> dict:
    return {"text": paragraph.text, "labels": paragraph.tags, "page": paragraph.page}


def write_jsonl(path: Path, rows: Iterable[dict]) -> None:
    """Write rows as JSON lines (UTF-8, sorted keys) through a temporary file renamed into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    with temporary.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n")
    temporary.replace(path)


def balanced_sample(paragraphs: List[Paragraph], per_class: int) -> List[Paragraph]:
    """Every k-th paragraph of each section (spread over its pages), at most `per_class` of each, in order."""
    chosen: List[Paragraph] = []
    for label in LABELS:
        members = [p for p in paragraphs if p.section == label]
        stride = max(1, len(members) // per_class)
        chosen.extend(members[::stride][:per_class])
    return chosen


def summary(paragraphs: List[Paragraph]) -> dict:
    """Size, class balance and code-byte share of one split."""
    tags = Counter(tag for p in paragraphs for tag in p.tags)
    lengths = sorted(len(p.text.encode("utf-8")) for p in paragraphs)
    return {
        "paragraphs": len(paragraphs),
        "pages": len({p.page for p in paragraphs}),
        "classes": {label: sum(p.section == label for p in paragraphs) for label in LABELS},
        "bytes": sum(tags.values()),
        "byte_tags": {tag: tags[tag] for tag in TOKEN_LABELS},
        "median_bytes": lengths[len(lengths) // 2] if lengths else 0,
    }


def ensure_docs(source: Path, install: bool) -> None:
    """Install Debian's python3-doc (apt-get, as root) when `source` has no index.html and `install` is set."""
    if (source / "index.html").is_file():
        return
    if not install:
        raise SystemExit(f"error: {source} has no index.html: pass --install (apt-get install python3-doc) or --source")
    subprocess.run(["apt-get", "update"], check=True)
    subprocess.run(["apt-get", "install", "-y", "python3-doc"], check=True)
    if not (source / "index.html").is_file():
        raise SystemExit(f"error: python3-doc installed but {source} still has no index.html: pass --source.")


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", type=Path, default=prepare_corpus.DEFAULT_SOURCE, help="HTML root of the docs")
    parser.add_argument("--output-dir", type=Path, required=True)
    parser.add_argument("--heldout-percent", type=float, default=20.0, help="share of each section's pages held out")
    parser.add_argument("--install", action="store_true", help="apt-get install python3-doc if the HTML is missing")
    parser.add_argument("--sample-dir", type=Path, default=None, help="also write a small sample here (tests)")
    parser.add_argument("--sample-per-class", type=int, default=20, help="training paragraphs per class in the sample")
    args = parser.parse_args(argv)
    if not 0 < args.heldout_percent < 50:
        raise SystemExit(f"error: --heldout-percent must be between 0 and 50, got {args.heldout_percent}.")
    ensure_docs(args.source, args.install)

    train, heldout = build_splits(args.source.resolve(), args.heldout_percent)
    splits = {"train": train, "heldout": heldout}
    if args.sample_dir is not None:
        splits["sample_train"] = balanced_sample(train, args.sample_per_class)
        splits["sample_heldout"] = balanced_sample(heldout, max(1, args.sample_per_class // 2))
    files: Dict[str, Path] = {}
    for name, paragraphs in splits.items():
        folder = args.sample_dir if name.startswith("sample_") else args.output_dir
        split = name.removeprefix("sample_")
        for task, row in (("sequence", sequence_row), ("token", token_row)):
            path = folder / task / f"{split}.jsonl"
            write_jsonl(path, map(row, paragraphs))
            files[f"{name}/{task}"] = path
    manifest = {
        "source": "Debian package python3.11-doc (via python3-doc), HTML pages under /usr/share/doc/python3/html",
        "source_package_version": prepare_corpus.package_version("python3.11-doc"),
        "license": prepare_corpus.LICENSE,
        "labels": LABELS,
        "token_labels": TOKEN_LABELS,
        "heldout_percent_of_pages_per_section": args.heldout_percent,
        "splits": {name: summary(paragraphs) for name, paragraphs in splits.items()},
        "files": {name: {"path": str(path), "sha256": prepare_corpus.sha256_of(path)} for name, path in files.items()},
    }
    args.output_dir.mkdir(parents=True, exist_ok=True)
    (args.output_dir / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(manifest["splits"], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
