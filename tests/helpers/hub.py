"""Hub test helpers: a Hugging Face cache built by hand in the Hub's layout, and a child Python to load from it.

Environment variables such as HF_HUB_OFFLINE and HF_HUB_CACHE are read when huggingface_hub is imported, and
blocking `import perceiver_hf` needs a fresh interpreter, so those tests load in a child process.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Sequence

import torch


def add_snapshot(cache: Path, repo_id: str, branch: str, folder: Path) -> str:
    """Put the files of `folder` into `cache` as branch `branch` of model repo `repo_id`; returns the commit.

    Layout as huggingface_hub writes it: models--org--name/blobs/<sha256> holds the contents,
    snapshots/<commit>/<file> is a relative symlink to its blob, refs/<branch> holds the commit hash.
    """
    repo = cache / f"models--{repo_id.replace('/', '--')}"
    commit = hashlib.sha1(f"{repo_id}@{branch}".encode()).hexdigest()  # 40 hex digits, like a git commit
    snapshot = repo / "snapshots" / commit
    for path in sorted(folder.iterdir()):
        data = path.read_bytes()
        blob = repo / "blobs" / hashlib.sha256(data).hexdigest()
        blob.parent.mkdir(parents=True, exist_ok=True)
        blob.write_bytes(data)
        snapshot.mkdir(parents=True, exist_ok=True)
        (snapshot / path.name).symlink_to(os.path.relpath(blob, snapshot))
    (repo / "refs").mkdir(parents=True, exist_ok=True)
    (repo / "refs" / branch).write_text(commit)
    return commit


def run_child(root: Path, code: str, args: Sequence[str], env: dict[str, str], drop_env: Sequence[str] = ()) -> Any:
    """Run `code` in a fresh Python (cwd `root`) with `args` and the last argument an output path; return its output.

    The child writes JSON to the output path and may write tensors to the output path + ".pt"; those come back
    under the key "tensors". HF_*/TRANSFORMERS_* variables (and those starting with `drop_env`) are removed
    from the environment before `env` is applied; the child runs offline, one thread, quiet.
    """
    script = root / "child.py"
    script.write_text(code, encoding="utf-8")
    out = root / "child.json"
    prefixes = ("HF_", "TRANSFORMERS_", *drop_env)
    child_env = {key: value for key, value in os.environ.items() if not key.startswith(prefixes)}
    child_env.update(HF_HUB_OFFLINE="1", HF_HOME=str(root / "hf_home"), OMP_NUM_THREADS="1", TRANSFORMERS_VERBOSITY="error")
    child_env.update(env)
    completed = subprocess.run(
        [sys.executable, str(script), *args, str(out)], cwd=root, env=child_env, capture_output=True, text=True, timeout=300
    )
    assert completed.returncode == 0, completed.stderr[-4000:]
    result = json.loads(out.read_text())
    tensors = Path(str(out) + ".pt")
    if tensors.exists():
        result["tensors"] = torch.load(tensors)
    return result
