"""Load any Hugging Face causal LM (+ tokenizer), and a pre-trained / tuned pair.

``load_model(name_or_path)`` accepts a local folder (``save_pretrained``
output), a hub id, or a registered alias. ``local_files_only`` defaults to
True when ``HF_HUB_OFFLINE=1`` is set, else False (hub allowed). Every failure
becomes ONE :class:`~paperlib.core.errors.ModelLoadError` naming the path / id and
what to do.

Aliases map a short name to local folders. The built-in "organism" is the
small trained pair shipped in the repository under ``models/organism/{pt,ft}``;
it resolves, at each use, to ``<models_dir>/organism/{pt,ft}`` where
``models_dir`` is ``$PAPERLIB_MODELS`` or the ``models`` folder of the working
directory (or of its nearest parent that has one; see
:mod:`paperlib.core.paths`). Register your own::

    register_model_alias("mypair", pt="/data/pt", ft="/data/ft")
    model_pt, tok_pt, model_ft, tok_ft = load_pair("mypair")
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import torch

from paperlib.core.errors import ModelLoadError, ParameterError
from paperlib.core.paths import ENV_MODELS, models_dir

# registered alias -> {"pt": path, "ft": path} (a single model alias uses the key "model")
_ALIASES: dict[str, dict[str, Path]] = {}
# built-in aliases: folders relative to models_dir(), resolved at each use
# (a registered alias of the same name wins)
_BUILTIN_ALIASES: dict[str, dict[str, str]] = {
    "organism": {"pt": "organism/pt", "ft": "organism/ft"},
}


def _alias_entry(name: str) -> dict[str, Path] | None:
    """The folders of alias ``name`` (registered first, then built-in), or None."""
    if name in _ALIASES:
        return _ALIASES[name]
    rel = _BUILTIN_ALIASES.get(name)
    if rel is None:
        return None
    base = models_dir()
    return {role: base / sub for role, sub in rel.items()}


def register_model_alias(name: str, path=None, *, pt=None, ft=None) -> None:
    """Register ``name`` -> one local ``path``, or a pair ``pt`` / ``ft``."""
    if not isinstance(name, str) or not name:
        raise ParameterError("alias name must be a non-empty string")
    if (path is None) == (pt is None and ft is None) or ((pt is None) != (ft is None)):
        raise ParameterError("give either path=... or both pt=... and ft=...")
    _ALIASES[name] = {"model": Path(path)} if path is not None else {"pt": Path(pt),
                                                                    "ft": Path(ft)}


def model_aliases() -> dict[str, dict[str, Path]]:
    """A copy of the alias table (built-in aliases resolved under ``models_dir()``)."""
    names = list(_BUILTIN_ALIASES) + [k for k in _ALIASES if k not in _BUILTIN_ALIASES]
    return {k: dict(_alias_entry(k)) for k in names}


def resolve_alias(name_or_path, role: str = "model") -> str:
    """Resolve an alias (``role`` "model", "pt" or "ft") to a local path; else return as is."""
    name = str(name_or_path)
    entry = _alias_entry(name)
    if entry is None:
        return name
    if role not in entry:
        roles = ", ".join(entry)
        raise ParameterError(f"alias {name!r} has roles {roles}, not {role!r}")
    path = entry[role]
    if not path.is_dir():
        what = f"the shipped model {'pair ' if role != 'model' else ''}is missing"
        if name in _ALIASES:
            todo = "Build or download it (see the README), or register_model_alias() another path."
        else:  # a built-in alias: say where models are looked for
            env = os.environ.get(ENV_MODELS, "").strip()
            looked = (f"under ${ENV_MODELS}={env}" if env else
                      f"in a models/ folder of the working directory {Path.cwd()} or its "
                      f"parents (${ENV_MODELS} is not set)")
            holds = Path(_BUILTIN_ALIASES[name][role]).parts[0]
            todo = (f"paperlib looked {looked}. Run from the repository root, set "
                    f"{ENV_MODELS} to the folder that holds {holds}/, build or download the "
                    "pair (see the README), or register_model_alias() another path.")
        raise ModelLoadError(f"alias {name!r} points to {path}, which does not exist: "
                             f"{what}. {todo}")
    return str(path)


def _default_local_only() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


# Tokenizer files: any one of these sets makes a loadable tokenizer.
TOKENIZER_FILE_SETS = (("tokenizer.json",), ("tokenizer.model",), ("vocab.json", "merges.txt"),
                       ("spiece.model",), ("sentencepiece.bpe.model",), ("vocab.txt",))
# Files of a model folder that change a result besides the weights and config.json
# (tokenizer, special tokens, chat template, generation defaults): all in the cache key.
RESULT_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
                "added_tokens.json", "tokenizer.model", "vocab.json", "merges.txt",
                "spiece.model", "sentencepiece.bpe.model", "vocab.txt", "chat_template.jinja",
                "chat_template.json", "generation_config.json")


def _check_tokenizer_files(path: Path) -> None:
    if any(all((path / f).is_file() for f in fs) for fs in TOKENIZER_FILE_SETS):
        return
    wanted = " or ".join(" + ".join(fs) for fs in TOKENIZER_FILE_SETS)
    present = ", ".join(sorted(p.name for p in path.iterdir())) or "nothing"
    raise ModelLoadError(f"model folder {path} has no tokenizer files (it needs {wanted}; it "
                         f"holds {present}). Save the tokenizer beside the weights: "
                         f"tokenizer.save_pretrained('{path}').")


def _safetensors_problem(file: Path) -> str | None:
    """Why ``file`` is not a complete safetensors file (None when its header and size agree)."""
    size = file.stat().st_size
    with open(file, "rb") as f:
        head = f.read(8)
        if len(head) < 8:
            return f"file truncated: {size} bytes, shorter than the 8-byte header length"
        n = int.from_bytes(head, "little")
        if n > size - 8:
            return (f"incomplete safetensors header: it announces {n} header bytes, the file "
                    f"has {size - 8} after the length (file truncated)")
        try:
            header = json.loads(f.read(n))
        except ValueError:
            return "unreadable safetensors header (not JSON): the file is corrupt"
    ends = [t["data_offsets"][1] for k, t in header.items()
            if k != "__metadata__" and isinstance(t, dict) and "data_offsets" in t]
    want = 8 + n + max(ends, default=0)
    if size < want:
        return f"file truncated: {size} bytes, its header describes {want}"
    return None


def _check_weight_files(path: Path) -> None:
    for file in sorted(path.glob("*.safetensors")):
        problem = _safetensors_problem(file)
        if problem:
            raise ModelLoadError(f"cannot load model {path}: {file} is incomplete ({problem}). "
                                 "Copy or download that file again, or re-save the model.")
    index = path / "model.safetensors.index.json"
    if index.is_file():
        try:
            shards = set(json.loads(index.read_text(encoding="utf-8"))["weight_map"].values())
        except (ValueError, KeyError) as exc:
            raise ModelLoadError(f"cannot load model {path}: {index} is unreadable "
                                 f"({exc})") from exc
        missing = sorted(s for s in shards if not (path / s).is_file())
        if missing:
            raise ModelLoadError(f"cannot load model {path}: shard(s) {missing} listed in "
                                 f"{index.name} are missing")


def _check_source(name: str, local_files_only: bool) -> bool:
    """Check a local model folder before loading; True when ``name`` is a local path."""
    path = Path(name).expanduser()
    if path.exists():
        if not (path / "config.json").is_file():
            raise ModelLoadError(f"{path} has no config.json: not a saved Hugging Face model "
                                 "folder (save one with model.save_pretrained(path)).")
        _check_tokenizer_files(path)
        _check_weight_files(path)
        return True
    if name.startswith((".", "/", "~")) or name.count("/") > 1:
        raise ModelLoadError(f"model path {name} does not exist. Check the path, or pass a "
                             "hub id such as 'lmsys/vicuna-7b-v1.1'.")
    return False


def _load_hint(local_path: bool, local_only: bool) -> str:
    if local_path:
        return ("the folder's files are incomplete, corrupt or of another format (copy them "
                "again, or re-save with save_pretrained)")
    if local_only:
        return ("it is not in the local Hugging Face cache and hub access is off "
                "(local_files_only / HF_HUB_OFFLINE=1): download it first or pass a local "
                "folder")
    return "check the id / path and your network access to the Hugging Face hub"


def load_model(name_or_path, *, local_files_only: bool | None = None,
               dtype: torch.dtype = torch.float32, device: str = "cpu",
               attn_implementation: str = "eager", revision: str | None = None):
    """Load (model, tokenizer) from a local folder, a hub id or an alias.

    The model is in eval mode, ``dtype``, on ``device``, with eager attention by
    default (needed by forward-mode attribution). ``local_files_only=None`` means
    True iff ``HF_HUB_OFFLINE=1``. A local folder is checked first (config.json,
    tokenizer files, complete safetensors files). Raises ModelLoadError on any
    failure, leading with its cause.
    """
    import transformers as tf

    name = resolve_alias(name_or_path)
    local_only = _default_local_only() if local_files_only is None else bool(local_files_only)
    local_path = _check_source(name, local_only)
    kw = dict(local_files_only=local_only, revision=revision)
    try:
        tokenizer = tf.AutoTokenizer.from_pretrained(name, **kw)
        model = tf.AutoModelForCausalLM.from_pretrained(
            name, dtype=dtype, attn_implementation=attn_implementation, **kw)
    except Exception as exc:  # noqa: BLE001 - every loader failure becomes one error
        cause = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        raise ModelLoadError(f"cannot load model {name!r}: {cause}. "
                             f"({_load_hint(local_path, local_only)})") from exc
    if len(tokenizer) < 2:
        raise ModelLoadError(f"cannot load model {name!r}: its tokenizer has {len(tokenizer)} "
                             "token(s); the tokenizer files are missing or empty")
    return model.to(device).eval(), tokenizer


def load_pair(model_pt, model_ft=None, *, local_files_only: bool | None = None,
              dtype: torch.dtype = torch.float32, device: str = "cpu",
              attn_implementation: str = "eager"):
    """Load a pre-trained / instruction-tuned pair.

    ``load_pair("organism")`` uses a pair alias; otherwise give both
    ``model_pt`` and ``model_ft`` (paths, hub ids or single aliases).
    Returns (model_pt, tokenizer_pt, model_ft, tokenizer_ft).
    """
    if model_ft is None:
        entry = _alias_entry(str(model_pt))
        if entry is None or "pt" not in entry:
            raise ParameterError(f"{model_pt!r} is not a registered pair alias; "
                                 "give model_pt and model_ft")
        model_pt, model_ft = resolve_alias(model_pt, "pt"), resolve_alias(model_pt, "ft")
    kw = dict(local_files_only=local_files_only, dtype=dtype, device=device,
              attn_implementation=attn_implementation)
    m_pt, t_pt = load_model(model_pt, **kw)
    m_ft, t_ft = load_model(model_ft, **kw)
    return m_pt, t_pt, m_ft, t_ft


def _folder_files(name: str) -> dict:
    """{file: SHA-256} of the :data:`RESULT_FILES` present in the local folder ``name``."""
    from paperlib.core.io import sha256_file

    folder = Path(name) if name else None
    if folder is None or not folder.is_dir():
        return {}
    return {f: sha256_file(folder / f) for f in RESULT_FILES if (folder / f).is_file()}


def model_fingerprint(model) -> dict:
    """A small JSON-able identity of a model for cache keys.

    name_or_path, the hub commit hash when known, the config's hash, the
    generation config's hash, a SHA-256 over the weight files of a local folder
    (a hub snapshot: its commit hash; an in-memory model: a checksum of the
    parameters), and the SHA-256 of the folder's other :data:`RESULT_FILES`
    (tokenizer, special tokens, chat template, generation_config.json).
    """
    from paperlib.core.io import param_key, sha256_file

    name = str(getattr(model.config, "_name_or_path", "") or "")
    gen = getattr(model, "generation_config", None)
    fp = {"name_or_path": name,
          "commit": getattr(model.config, "_commit_hash", None),
          "config": param_key(model.config.to_dict()),
          "generation": param_key(gen.to_dict()) if gen is not None else None,
          "files": _folder_files(name)}
    folder = Path(name)
    files = sorted(folder.glob("*.safetensors")) + sorted(folder.glob("*.bin")) \
        if name and folder.is_dir() else []
    if files:
        fp["weights"] = param_key({f.name: sha256_file(f) for f in files})
    elif fp["commit"]:
        fp["weights"] = None  # a hub snapshot: the commit hash identifies the weights
    else:
        with torch.no_grad():
            fp["weights"] = param_key({n: float(p.double().sum()) + float(p.double().abs().sum())
                                       for n, p in model.named_parameters()})
    return fp


def tokenizer_fingerprint(tokenizer) -> dict:
    """A JSON-able identity of a tokenizer for cache keys: its class, the SHA-256 of
    its full state (a fast tokenizer's ``tokenizer.json`` text, else its vocabulary),
    special and added tokens, chat template, and the SHA-256 of the
    :data:`RESULT_FILES` of its folder. Editing any of them changes the key."""
    from paperlib.core.io import param_key

    backend = getattr(tokenizer, "backend_tokenizer", None)
    state = backend.to_str() if backend is not None else tokenizer.get_vocab()
    template = getattr(tokenizer, "chat_template", None)
    return {"class": type(tokenizer).__name__,
            "state": param_key({"state": state}),
            "special": param_key({k: str(v) for k, v in tokenizer.special_tokens_map.items()}),
            "added": param_key({str(k): int(v) for k, v in tokenizer.get_added_vocab().items()}),
            "chat_template": param_key({"t": template}) if template else None,
            "padding_side": getattr(tokenizer, "padding_side", None),
            "files": _folder_files(str(getattr(tokenizer, "name_or_path", "") or ""))}
