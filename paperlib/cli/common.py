"""Shared pieces of the subcommands: argument parsing helpers, model loading with
placement options, logging, and the parameter sidecars."""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from paperlib.core.errors import ModelLoadError, ParameterError

NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
DTYPES = ("float32", "bfloat16", "float16")


def log(command: str, message: str) -> None:
    """One line on stderr, prefixed with the subcommand (stdout stays for results)."""
    print(f"paperlib {command}: {message}", file=sys.stderr, flush=True)


def parse_models(specs: list[str] | None, pair: str | None) -> dict[str, str]:
    """{name: source} from ``--model NAME=SOURCE`` (repeatable) or ``--pair ALIAS``.

    A pair alias (e.g. "organism") gives the names "pt" and "ft". Names name the
    case-set files (``cases_<name>.npz``); the paper's are "llama" and "vicuna".
    """
    from paperlib.models.loading import model_aliases, resolve_alias

    if pair and specs:
        raise ParameterError("give either --pair or --model, not both")
    if pair:
        entry = model_aliases().get(pair)
        if entry is None or "pt" not in entry:
            known = ", ".join(k for k, v in model_aliases().items() if "pt" in v) or "none"
            raise ParameterError(f"--pair {pair!r} is not a pair alias (known: {known}); "
                                 "use --model NAME=PATH twice")
        return {"pt": resolve_alias(pair, "pt"), "ft": resolve_alias(pair, "ft")}
    if not specs:
        raise ParameterError("no model: give --model NAME=PATH (once or twice) or --pair ALIAS")
    out: dict[str, str] = {}
    for spec in specs:
        name, sep, source = spec.partition("=")
        if not sep or not source:
            raise ParameterError(f"--model {spec!r}: expected NAME=PATH_OR_HUB_ID, e.g. "
                                 "vicuna=lmsys/vicuna-7b-v1.1")
        if not NAME_RE.fullmatch(name):
            raise ParameterError(f"--model {spec!r}: the name {name!r} must be letters, digits, "
                                 "'_', '.' or '-'")
        if name in out:
            raise ParameterError(f"--model: the name {name!r} is given twice")
        out[name] = source
    return out


def parse_max_memory(text: str | None) -> dict | None:
    """``"0=20GiB,1=20GiB,cpu=64GiB"`` -> {0: "20GiB", 1: "20GiB", "cpu": "64GiB"}."""
    if not text:
        return None
    out: dict = {}
    for item in text.split(","):
        key, sep, value = item.strip().partition("=")
        if not sep or not key or not re.fullmatch(r"\d+(\.\d+)?\s*[KMGT]?i?B", value.strip()):
            raise ParameterError(f"--max-memory item {item!r}: expected DEVICE=SIZE, e.g. "
                                 "0=20GiB or cpu=64GiB")
        out[int(key) if key.isdigit() else key] = value.strip()
    return out


def parse_device_map(text: str | None):
    """None, a strategy ("auto", "balanced", "balanced_low_0", "sequential"), a
    device ("cpu", "cuda:0"), or a JSON object {module: device}."""
    if not text:
        return None
    if text.lstrip().startswith("{"):
        try:
            value = json.loads(text)
        except ValueError as exc:
            raise ParameterError(f"--device-map is not valid JSON: {exc}") from exc
        if not isinstance(value, dict):
            raise ParameterError("--device-map JSON must be an object {module: device}")
        return value
    if text in ("auto", "balanced", "balanced_low_0", "sequential") or \
            re.fullmatch(r"cpu|cuda(:\d+)?|mps|xpu(:\d+)?", text):
        return text
    raise ParameterError(f"--device-map {text!r}: expected auto, balanced, balanced_low_0, "
                         "sequential, a device, or a JSON object")


def torch_dtype(name: str):
    import torch

    if name not in DTYPES:
        raise ParameterError(f"--dtype must be one of {DTYPES}, got {name!r}")
    return getattr(torch, name)


def load_placed(source: str, *, dtype: str = "float32", device: str = "cpu", device_map=None,
                max_memory: dict | None = None, offload_folder: str | None = None,
                local_files_only: bool | None = None):
    """(model, tokenizer): :func:`paperlib.models.load_model` on ``device``, or, with
    ``device_map``, a model dispatched by transformers / Accelerate (``max_memory``
    and ``offload_folder`` passed through). Eager attention, eval mode."""
    from transformers.utils import logging as hf_logging

    from paperlib.models.loading import load_model, resolve_alias

    hf_logging.disable_progress_bar()  # the command's own bars only
    if device_map is None:
        if max_memory or offload_folder:
            raise ParameterError("--max-memory / --offload-folder need --device-map")
        return load_model(source, dtype=torch_dtype(dtype), device=device,
                          local_files_only=local_files_only)
    import transformers as tf

    name = resolve_alias(source)
    load_model_checks(name)
    kw = dict(local_files_only=bool(local_files_only))
    try:
        tokenizer = tf.AutoTokenizer.from_pretrained(name, **kw)
        model = tf.AutoModelForCausalLM.from_pretrained(
            name, dtype=torch_dtype(dtype), attn_implementation="eager", device_map=device_map,
            max_memory=max_memory, offload_folder=offload_folder, **kw)
    except Exception as exc:  # noqa: BLE001 - every loader failure becomes one error
        first = str(exc).splitlines()[0] if str(exc) else ""
        raise ModelLoadError(f"cannot load model {name!r} with --device-map "
                             f"{device_map!r}: {type(exc).__name__}: {first}") from exc
    return model.eval(), tokenizer


def load_model_checks(name: str) -> None:
    """A local folder must hold config.json (the same first check as load_model)."""
    path = Path(name).expanduser()
    if path.exists() and not (path / "config.json").is_file():
        raise ModelLoadError(f"{path} has no config.json: not a saved Hugging Face model folder")
    if not path.exists() and (name.startswith((".", "/", "~")) or name.count("/") > 1):
        raise ModelLoadError(f"model path {name} does not exist (a local folder, or a hub id "
                             "such as lmsys/vicuna-7b-v1.1)")


def write_json(path, data: dict) -> Path:
    from paperlib.core.io import atomic_write_text

    return atomic_write_text(path, json.dumps(data, indent=1, ensure_ascii=False,
                                              sort_keys=True, default=str) + "\n")
