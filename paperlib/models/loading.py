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


def _check_source(name: str, local_files_only: bool) -> None:
    path = Path(name).expanduser()
    if path.exists():
        if not (path / "config.json").is_file():
            raise ModelLoadError(f"{path} has no config.json: not a saved Hugging Face model "
                                 "folder (save one with model.save_pretrained(path)).")
        return
    if name.startswith((".", "/", "~")) or name.count("/") > 1:
        raise ModelLoadError(f"model path {name} does not exist. Check the path, or pass a "
                             "hub id such as 'lmsys/vicuna-7b-v1.1'.")


def load_model(name_or_path, *, local_files_only: bool | None = None,
               dtype: torch.dtype = torch.float32, device: str = "cpu",
               attn_implementation: str = "eager", revision: str | None = None):
    """Load (model, tokenizer) from a local folder, a hub id or an alias.

    The model is in eval mode, ``dtype``, on ``device``, with eager attention by
    default (needed by forward-mode attribution). ``local_files_only=None`` means
    True iff ``HF_HUB_OFFLINE=1``. Raises ModelLoadError on any failure.
    """
    import transformers as tf

    name = resolve_alias(name_or_path)
    local_only = _default_local_only() if local_files_only is None else bool(local_files_only)
    _check_source(name, local_only)
    kw = dict(local_files_only=local_only, revision=revision)
    try:
        tokenizer = tf.AutoTokenizer.from_pretrained(name, **kw)
        model = tf.AutoModelForCausalLM.from_pretrained(
            name, dtype=dtype, attn_implementation=attn_implementation, **kw)
    except Exception as exc:  # noqa: BLE001 - every loader failure becomes one error
        hint = ("it is not in the local Hugging Face cache and hub access is off "
                "(local_files_only / HF_HUB_OFFLINE=1): download it first or pass a local "
                "folder" if local_only else
                "check the id / path and your network access to the Hugging Face hub")
        raise ModelLoadError(f"cannot load model {name!r}: {hint}. ({type(exc).__name__}: "
                             f"{str(exc).splitlines()[0] if str(exc) else ''})") from exc
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


def model_fingerprint(model) -> dict:
    """A small JSON-able identity of a model for cache keys.

    name_or_path, the hub commit hash when known, the config's hash, and a
    SHA-256 over the weight files of a local folder (a hub snapshot: its commit
    hash; an in-memory model: a checksum of the parameters).
    """
    from paperlib.core.io import param_key, sha256_file

    name = str(getattr(model.config, "_name_or_path", "") or "")
    fp = {"name_or_path": name,
          "commit": getattr(model.config, "_commit_hash", None),
          "config": param_key(model.config.to_dict())}
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
