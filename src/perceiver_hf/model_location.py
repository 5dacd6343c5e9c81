"""Where a MODEL argument is: a local folder, a cached Hub repository, or the Hub; fail fast when none of them.

Without this, a Hub id (or a mistyped folder) on a machine without network spends about a minute in
huggingface_hub's retries before failing. `check_model_source` looks at the folder and the Hub cache first and,
if the Hub is needed, checks once (a TCP connection, 3 s) that its endpoint can be reached. Light: no torch,
no transformers; huggingface_hub is imported only for a Hub id.
"""

from __future__ import annotations

import json
import os
import socket
import sys
from typing import Optional
from urllib.parse import urlparse

from .pretrained import available_models, pretrained_model_path

PROXY_VARIABLES = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy")
CONNECT_TIMEOUT = 3.0
MAX_CONFIG_BYTES = 16 * 2**20  # a config.json is a few KB; larger is not one
PERCEIVER_IO_MODEL_TYPE = "perceiver_io"


class ModelSourceError(ValueError):
    """MODEL is neither a local folder nor a cached Hub repository, and cannot be downloaded."""


def _offline() -> bool:
    """HF_HUB_OFFLINE as huggingface_hub reads it (its constant, once imported, else the environment)."""
    constants = sys.modules.get("huggingface_hub.constants")
    if constants is not None and getattr(constants, "HF_HUB_OFFLINE", False):
        return True
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def _cached(repo_id: str, revision: Optional[str], cache_dir: Optional[str] = None) -> bool:
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(repo_id, "config.json", revision=revision, cache_dir=cache_dir)
    return isinstance(found, str)


def endpoint_unreachable(endpoint: str, timeout: float = CONNECT_TIMEOUT) -> Optional[str]:
    """Why `endpoint` (a URL) cannot be reached, or None when a TCP connection to it succeeds (or a proxy is set)."""
    if any(os.environ.get(name) for name in PROXY_VARIABLES):
        return None  # the proxy decides; huggingface_hub reports its errors
    url = urlparse(endpoint)
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        socket.create_connection((url.hostname or "", port), timeout=timeout).close()
    except OSError as error:
        return str(error.strerror or error)
    return None


def _go_offline() -> None:
    """Use only the Hub cache from now on in this process (HF_HUB_OFFLINE=1, also if huggingface_hub is loaded)."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    constants = sys.modules.get("huggingface_hub.constants")
    if constants is not None:
        constants.HF_HUB_OFFLINE = True


def resolve_shipped_model(model: str) -> str:
    """The folder of the shipped model `model` names (e.g. "perceiver-bytes-small"), unless a local path of that
    name exists; otherwise `model` unchanged. Every command that takes a model passes its argument through here."""
    if os.path.exists(model) or model not in available_models():
        return model
    return str(pretrained_model_path(model))


def is_hub_id(argument: str) -> bool:
    """True for a string huggingface_hub accepts as a repository id (`name` or `owner/name`)."""
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    try:
        validate_repo_id(argument)
    except HFValidationError:
        return False
    return True


def looks_like_path(argument: str) -> bool:
    """A string meant as a local path: starts like one, or has separators but is no valid Hub id."""
    if "[" in argument or "\n" in argument:
        return False
    explicit = argument.startswith(("./", "../", "/", "~")) or os.path.isabs(argument)
    return explicit or ((os.sep in argument or "/" in argument) and not is_hub_id(argument))


def check_local_model(model: str) -> None:
    """Raise `ModelSourceError` (one line, with the fix) when MODEL is meant as a local folder but is not a saved
    perceiver-hf model: a missing path, a file, a folder without config.json, or a config of another model type."""
    if looks_like_path(model) and not os.path.exists(model):
        raise ModelSourceError(
            f"model folder {model!r} does not exist. Pass a folder written by save_pretrained or a Hub id."
        )
    if os.path.exists(model) and not os.path.isdir(model):
        raise ModelSourceError(f"MODEL {model!r} is a file; pass the folder that holds config.json and the weights.")
    if os.path.isdir(model) and not os.path.isfile(os.path.join(model, "config.json")):
        raise ModelSourceError(
            f"folder {model!r} has no config.json, so it is not a saved model. Pass the folder written by "
            "model.save_pretrained(...) (with tokenizer.save_pretrained(...) into the same folder)."
        )
    if os.path.isdir(model):
        _check_model_type(os.path.join(model, "config.json"))


def saved_architecture(model: str) -> Optional[str]:
    """The class a local model folder's config.json names first in `architectures` (None for a Hub id, or a
    config without it). Call `check_local_model` first: it refuses configs that cannot be read."""
    config_path = os.path.join(model, "config.json")
    if not os.path.isfile(config_path):
        return None
    with open(config_path, encoding="utf-8") as file:
        architectures = json.load(file).get("architectures")
    first = architectures[0] if isinstance(architectures, list) and architectures else None
    return first if isinstance(first, str) else None


def _check_model_type(config_path: str) -> None:
    """Refuse a config.json that is unreadable or not of a Perceiver IO model (model_type "perceiver_io")."""
    try:
        if os.path.getsize(config_path) > MAX_CONFIG_BYTES:
            raise ValueError(f"{os.path.getsize(config_path)} bytes, more than a config holds")
        with open(config_path, encoding="utf-8") as file:
            config = json.load(file)
    except (OSError, ValueError) as error:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise ModelSourceError(f"cannot read {config_path} ({error}); save or download the model again.") from error
    found = config.get("model_type") if isinstance(config, dict) else None
    if found != PERCEIVER_IO_MODEL_TYPE:
        hint = (
            " It is transformers' own Perceiver: convert it with `perceiver-hf convert transformers`."
            if found == "perceiver"
            else " Pass a folder written by perceiver-hf (save_pretrained, convert or train)."
        )
        raise ModelSourceError(
            f"{config_path} says model_type {found!r}, but perceiver-hf runs Perceiver IO models "
            f"(model_type {PERCEIVER_IO_MODEL_TYPE!r}).{hint}"
        )


def check_model_source(
    model: str, revision: Optional[str] = None, perceiver_folder: bool = True, cache_dir: Optional[str] = None
) -> None:
    """Raise `ModelSourceError` (one line, with the fix) when `model` can be found neither locally nor on the Hub.

    With `perceiver_folder`, a local folder must be a saved perceiver-hf model (`check_local_model`); without, any
    existing folder passes (another library's model or tokenizer). A cached Hub repository is used from the
    cache, with a note on stderr, when the Hub cannot be reached.
    """
    if perceiver_folder:
        check_local_model(model)
    elif looks_like_path(model) and not os.path.exists(model):
        raise ModelSourceError(f"{model!r} does not exist. Pass an existing folder or a Hub id.")
    if os.path.isdir(model):
        return
    from huggingface_hub import constants

    cache = cache_dir or constants.HF_HUB_CACHE
    looked = f"no folder {os.path.abspath(model)!r}, and no cached Hub repository {model!r}"
    looked += f"{'' if revision is None else f' at revision {revision!r}'} in {cache}"
    cached = _cached(model, revision, cache_dir)
    if _offline():
        if not cached:
            raise ModelSourceError(f"{looked}; HF_HUB_OFFLINE is set, so nothing is downloaded. Check the name.")
        return
    endpoint = os.environ.get("HF_ENDPOINT") or constants.ENDPOINT
    reason = endpoint_unreachable(endpoint)
    if reason is None:
        return
    if not cached:
        raise ModelSourceError(
            f"{looked}; the Hub ({endpoint}) cannot be reached ({reason}) to download it. Check the name, or the "
            "network; set HF_HUB_OFFLINE=1 to use only local files and the cache without trying the network."
        )
    print(
        f"note: the Hub ({endpoint}) cannot be reached ({reason}); using the cached copy of {model!r}. "
        "Set HF_HUB_OFFLINE=1 to skip this check.",
        file=sys.stderr,
    )
    _go_offline()
