"""Build the training corpus of the shipped `perceiver-bytes-small` model from the Python documentation.

Source: the HTML documentation of Debian's `python3-doc` package (`apt-get install python3-doc`, which pulls
`python3.11-doc`; HTML under /usr/share/doc/python3/html). Every page says: "This page is licensed under the
Python Software Foundation License Version 2. Examples, recipes, and other code in the documentation are
additionally licensed under the Zero Clause BSD License."

The script keeps prose only: the text of `<p>` elements inside the page body (`<div class="body"
role="main">`), skipping code blocks (`<pre>`, `div.highlight*`), tables, API signatures (`<dt>`), navigation,
scripts and the "¶" header links. Whitespace is normalised, short or code-like paragraphs are dropped,
paragraphs are deduplicated, and whole documents go to the held-out split when the sha256 of their relative
path falls in the first `--heldout-percent` of the hash space (so the split does not depend on file order).
No held-out paragraph also occurs in the training split.

Outputs (one paragraph per line, UTF-8, "\n" line ends) in `--output-dir`:
    train.txt, heldout.txt, manifest.json (source, license, counts, sha256 of the text files);
with `--sample-file`, also a ~32 KB sample of held-out paragraphs spread over the split (the test data).
Running it twice on the same package version gives byte-identical files.

    python scripts/pretrained/prepare_corpus.py --sample-file tests/data/heldout_sample.txt
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from typing import Dict, List, Optional, Tuple

DEFAULT_SOURCE = Path("/usr/share/doc/python3/html")
DEFAULT_OUTPUT = Path(__file__).resolve().parent / "data"
LICENSE = (
    "Python Software Foundation License Version 2 (documentation text); examples, recipes and other code in "
    "the documentation are additionally licensed under the Zero Clause BSD License "
    "(https://docs.python.org/3/license.html)."
)
# Pages that are indexes or search UI, not prose.
EXCLUDED_PAGES = re.compile(r"^(genindex.*|py-modindex|search|contents)\.html$")
VOID_TAGS = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
SKIPPED_TAGS = {"pre", "table", "script", "style", "dt", "nav", "form", "button"}
SKIPPED_CLASSES = ("highlight", "headerlink", "sphinxsidebar", "related", "footer")
MIN_CHARS = 40
MIN_WORDS = 6
MIN_LETTER_FRACTION = 0.7  # letters and spaces / all characters; drops code-like or numeric paragraphs


class ProseExtractor(HTMLParser):
    """Collects the text of `<p>` elements in a Sphinx page's main body, outside code, tables and signatures."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.paragraphs: List[str] = []
        # one entry per open element: (tag, opens main body, starts a skipped subtree)
        self._stack: List[Tuple[str, bool, bool]] = []
        self._main_depth = 0
        self._skip_depth = 0
        self._paragraph: Optional[List[str]] = None

    def handle_starttag(self, tag: str, attrs: List[Tuple[str, Optional[str]]]) -> None:
        if tag in VOID_TAGS:
            return
        attributes: Dict[str, str] = {name: value or "" for name, value in attrs}
        classes = attributes.get("class", "").split()
        is_main = tag == "div" and "body" in classes and attributes.get("role") == "main"
        is_skipped = tag in SKIPPED_TAGS or any(c.startswith(SKIPPED_CLASSES) for c in classes)
        self._stack.append((tag, is_main, is_skipped))
        self._main_depth += is_main
        self._skip_depth += is_skipped
        if tag == "p" and self._main_depth and not self._skip_depth:
            self._paragraph = []

    def handle_startendtag(self, tag: str, attrs: List[Tuple[str, Optional[str]]]) -> None:
        pass  # self-closing elements carry no text

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID_TAGS or all(open_tag != tag for open_tag, _, _ in self._stack):
            return  # stray end tag
        while self._stack:
            open_tag, is_main, is_skipped = self._stack.pop()
            self._main_depth -= is_main
            self._skip_depth -= is_skipped
            if open_tag == "p" and self._paragraph is not None:
                self.paragraphs.append("".join(self._paragraph))
                self._paragraph = None
            if open_tag == tag:
                return

    def handle_data(self, data: str) -> None:
        if self._paragraph is not None and not self._skip_depth:
            self._paragraph.append(data)


def normalise(text: str) -> str:
    """Collapse all whitespace (including non-breaking spaces) to single spaces and strip the ends."""
    return " ".join(text.replace("\u00a0", " ").split())


def is_prose(paragraph: str) -> bool:
    """True for paragraphs that read as English sentences rather than code, numbers or labels."""
    if len(paragraph) < MIN_CHARS or len(paragraph.split()) < MIN_WORDS:
        return False
    letters = sum(ch.isalpha() or ch == " " for ch in paragraph)
    return letters / len(paragraph) >= MIN_LETTER_FRACTION


def extract_paragraphs(html_path: Path) -> List[str]:
    """Prose paragraphs of one HTML page, normalised, in document order."""
    parser = ProseExtractor()
    parser.feed(html_path.read_text(encoding="utf-8"))
    parser.close()
    paragraphs = (normalise(p) for p in parser.paragraphs)
    return [p for p in paragraphs if is_prose(p)]


def is_heldout(relative_path: str, heldout_percent: float) -> bool:
    """Deterministic document-level split on the sha256 of the page's path relative to the HTML root."""
    bucket = int(hashlib.sha256(relative_path.encode("utf-8")).hexdigest()[:8], 16) / 0x1_0000_0000
    return bucket < heldout_percent / 100.0


def package_version(package: str) -> str:
    """The installed Debian package version, or "unknown" where dpkg is not available."""
    try:
        result = subprocess.run(["dpkg-query", "-W", "-f=${Version}", package], capture_output=True, text=True)
    except FileNotFoundError:
        return "unknown"
    return result.stdout.strip() or "unknown"


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def build_corpus(source: Path, heldout_percent: float) -> Tuple[List[str], List[str], Dict[str, int]]:
    """Train and held-out paragraphs (deduplicated, held-out disjoint from train) and document counts."""
    pages = sorted(p for p in source.rglob("*.html") if not EXCLUDED_PAGES.match(p.name) or p.parent != source)
    train: List[str] = []
    heldout: List[str] = []
    counts = {"pages": 0, "train_pages": 0, "heldout_pages": 0, "paragraphs_before_dedup": 0}
    for page in pages:
        relative = page.relative_to(source).as_posix()
        paragraphs = extract_paragraphs(page)
        counts["pages"] += 1
        counts["paragraphs_before_dedup"] += len(paragraphs)
        target = heldout if is_heldout(relative, heldout_percent) else train
        counts["heldout_pages" if target is heldout else "train_pages"] += 1
        target.extend(paragraphs)
    train = list(dict.fromkeys(train))
    train_set = set(train)
    heldout = [p for p in dict.fromkeys(heldout) if p not in train_set]
    return train, heldout, counts


def spread_sample(lines: List[str], max_bytes: int, stride: int = 10) -> List[str]:
    """Every `stride`-th line (then the ones in between, in order) until `max_bytes` of UTF-8 text."""
    sample: List[str] = []
    size = 0
    for offset in range(stride):
        for line in lines[offset::stride]:
            line_bytes = len(line.encode("utf-8")) + 1
            if size + line_bytes > max_bytes:
                return sample
            sample.append(line)
            size += line_bytes
    return sample


def write_lines(path: Path, lines: List[str]) -> None:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE, help="HTML root of the Python docs")
    parser.add_argument("--output-dir", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument("--heldout-percent", type=float, default=5.0, help="share of documents held out")
    parser.add_argument(
        "--sample-file", type=Path, default=None, help="also write a small held-out sample here (for tests)"
    )
    parser.add_argument("--sample-bytes", type=int, default=32_000, help="size limit of --sample-file")
    args = parser.parse_args(argv)

    if not (args.source / "index.html").is_file():
        print(
            f"error: {args.source} is not the HTML root of the Python documentation (no index.html). "
            "Install it with `apt-get install python3-doc` or pass --source.",
            file=sys.stderr,
        )
        return 2
    if not 0 < args.heldout_percent < 50:
        print(f"error: --heldout-percent must be between 0 and 50, got {args.heldout_percent}.", file=sys.stderr)
        return 2

    train, heldout, counts = build_corpus(args.source.resolve(), args.heldout_percent)
    args.output_dir.mkdir(parents=True, exist_ok=True)
    files = {"train": args.output_dir / "train.txt", "heldout": args.output_dir / "heldout.txt"}
    write_lines(files["train"], train)
    write_lines(files["heldout"], heldout)
    if args.sample_file is not None:
        files["heldout_sample"] = args.sample_file
        write_lines(args.sample_file, spread_sample(heldout, args.sample_bytes))
    manifest = {
        "source": "Debian package python3.11-doc (via python3-doc), HTML pages under /usr/share/doc/python3/html",
        "source_package_version": package_version("python3.11-doc"),
        "license": LICENSE,
        "heldout_percent_of_documents": args.heldout_percent,
        **counts,
        "files": {
            name: {
                "path": path.name,
                "paragraphs": len(path.read_text(encoding="utf-8").splitlines()),
                "bytes": path.stat().st_size,
                "sha256": sha256_of(path),
            }
            for name, path in files.items()
        },
    }
    (args.output_dir / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(manifest, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
