"""Every ```python, ```bash and ```shell block of README.md and docs/*.md runs, offline, as written.

Each markdown file's blocks run in order, as a reader would run them, in a fresh working folder that holds a
`demo-model` folder (the shipped model, what `python examples/demo.py --output-dir demo-model` writes), links
to the repository's examples/, tests/, scripts/, benchmarks/ and configs/, and a Hugging Face cache in which
`user/model` is the same model; HF_HUB_OFFLINE=1. A ```text block right after a block (only blank lines between)
is that block's expected output and is compared with what the block prints. Only the blocks named in
`NOT_RUN` are skipped, each for needing the internet (or a download) or hours; a new block runs by default.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import pytest
from helpers.hub import add_snapshot

from perceiver_hf.pretrained import pretrained_model_path

REPO_ROOT = Path(__file__).resolve().parents[1]
DOCUMENTS = [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").glob("*.md"))]
LINKED_FOLDERS = ("benchmarks", "configs", "conversion", "examples", "scripts", "tests")
RUNNABLE = ("python", "bash", "shell")
BLOCK_TIMEOUT = 900

# block name -> why it is not run; a block's name is "<file>#<heading slug>:<n-th block under that heading>"
NOT_RUN = {
    "README.md#two-commands:1": "installs packages with pip and runs this test suite itself (.ci/run runs it)",
    "docs/python-docs-task.md#building-the-data:1": "installs Debian's python3-doc with apt-get (root) if missing",
    "docs/python-docs-task.md#fine-tuning-the-heads-held-out-results:1": "needs the full data (the block above), ~50 min",
    "docs/conversion.md#converting-deepminds-checkpoint:1": "downloads DeepMind's 767 MiB checkpoint",
    "docs/conversion.md#converting-deepminds-checkpoint:2": "needs DeepMind's converted checkpoint (the download)",
    "docs/conversion.md#transformers-own-port:1": "downloads deepmind/language-perceiver from the Hub",
    "docs/hub.md#sharing-on-the-hub:2": "uploads to the Hub",
    "docs/training.md#the-perceiver-io-librarys-command-on-trainer:1": "downloads Wikipedia and trains for days",
    "docs/training.md#fine-tuning-deepminds-byte-level-model:1": "downloads DeepMind's checkpoint, trains for hours",
    "docs/training.md#several-processes-gpus-and-machines:1": "needs GPUs and downloads Wikipedia",
    "docs/training.md#transformers-example-scripts-unchanged:2": "needs transformers' run_mlm.py (no package ships it)",
    "docs/classification.md#fine-tuning-from-a-masked-language-model:3": "needs transformers' run_ner.py and "
    "run_classification.py (no package ships them) and their data",
}


@dataclass
class Block:
    """One fenced code block: where it is, its language, its code and the expected output after it (if any)."""

    name: str
    language: str
    code: str
    expected: Optional[str]


def _slug(heading: str) -> str:
    return re.sub(r"[^a-z0-9 -]", "", heading.strip().lower()).strip().replace(" ", "-")


FENCE = re.compile(r"^```(\w*)\n(.*?)^```\n", re.S | re.M)


def extract_blocks(path: Path) -> list[Block]:
    """The runnable blocks of a markdown file, named by file, heading and position, with their expected output."""
    text = path.read_text(encoding="utf-8")
    relative = path.relative_to(REPO_ROOT).as_posix()
    fences = list(FENCE.finditer(text))
    blocks: list[Block] = []
    counts: dict[str, int] = {}
    for index, fence in enumerate(fences):
        language = fence.group(1)
        if language not in RUNNABLE:
            continue
        headings = re.findall(r"^#+ (.+)$", FENCE.sub("", text[: fence.start()]), flags=re.M)
        slug = _slug(headings[-1]) if headings else "top"
        counts[slug] = counts.get(slug, 0) + 1
        expected = None
        following = fences[index + 1] if index + 1 < len(fences) else None
        if following and following.group(1) == "text" and not text[fence.end() : following.start()].strip():
            expected = following.group(2)
        blocks.append(Block(f"{relative}#{slug}:{counts[slug]}", language, fence.group(2), expected))
    return blocks


def _normalised(output: str) -> str:
    return "\n".join(line.rstrip() for line in output.strip("\n").splitlines())


@pytest.fixture
def workspace(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A working folder as the docs assume it, and the offline environment the blocks run in."""
    shutil.copytree(pretrained_model_path(), tmp_path / "demo-model")
    for name in LINKED_FOLDERS:
        (tmp_path / name).symlink_to(REPO_ROOT / name, target_is_directory=True)
    add_snapshot(tmp_path / "hf-home" / "hub", "user/model", "main", tmp_path / "demo-model")
    env = {key: value for key, value in os.environ.items() if not key.startswith(("HF_", "TRANSFORMERS_"))}
    env.update(
        HF_HUB_OFFLINE="1",
        HF_HOME=str(tmp_path / "hf-home"),
        PATH=os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")]),
        OMP_NUM_THREADS="1",
        PYTHONUNBUFFERED="1",
    )
    return tmp_path, env


def run_block(block: Block, folder: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    """Run one block in `folder`: python blocks with this interpreter, shell blocks with bash -e -o pipefail."""
    if block.language == "python":
        command = [sys.executable, "-c", block.code]
    else:
        command = ["bash", "-e", "-o", "pipefail", "-c", block.code]
    return subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True, timeout=BLOCK_TIMEOUT)


ALL_BLOCKS = [block for document in DOCUMENTS for block in extract_blocks(document)]


def test_every_skipped_block_exists() -> None:
    assert set(NOT_RUN) <= {block.name for block in ALL_BLOCKS}, "NOT_RUN names a block that is gone"


def test_the_docs_have_blocks_to_run() -> None:
    assert len([block for block in ALL_BLOCKS if block.name not in NOT_RUN]) >= 15


def unignored(names: list[str]) -> list[str]:
    """The names, as paths at the repository's top level, that its .gitignore does not cover."""
    if not names:
        return []
    result = subprocess.run(
        ["git", "-C", str(REPO_ROOT), "check-ignore", "--no-index", "--stdin"],
        input="\n".join(names) + "\n", capture_output=True, text=True,
    )
    ignored = set(result.stdout.split())
    return sorted(set(names) - ignored)


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda path: path.relative_to(REPO_ROOT).as_posix())
def test_blocks_run_and_print_what_the_docs_show(document: Path, workspace: tuple[Path, dict[str, str]]) -> None:
    folder, env = workspace
    before = {path.name for path in folder.iterdir()}
    for block in extract_blocks(document):
        if block.name in NOT_RUN:
            continue
        result = run_block(block, folder, env)
        assert result.returncode == 0, f"{block.name} failed:\n{block.code}\n--- stderr:\n{result.stderr[-3000:]}"
        if block.expected is not None:
            assert _normalised(result.stdout) == _normalised(block.expected), f"{block.name} printed otherwise"
    # what a reader's run of these blocks leaves in a clone is covered by .gitignore (issue 26 item 5)
    created = [path.name + ("/" if path.is_dir() else "") for path in folder.iterdir() if path.name not in before]
    assert unignored(created) == [], f"{document.name}'s blocks write paths that .gitignore does not cover"
