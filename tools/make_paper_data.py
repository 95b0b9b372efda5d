"""Rebuild the frozen paper data from the authors' released files.

Usage (from a source checkout)::

    python tools/make_paper_data.py [ARTIFACTS_DIR] [--out OUT_DIR]

OUT_DIR defaults to ``paperlib/paper/released/``, the package data that
``paperlib.paper.data`` reads (and that ``pip install`` ships). ARTIFACTS_DIR
is a copy of the authors' repository files (default
``/work/shared/paper-artifacts`` or ``../shared/paper-artifacts`` next to the
repository). It must hold ``datasets/*.tsv`` and
``results/attribution_interpret/ifa_{llama,vicuna}_7b/<ID>.pkl``.

The pickles are read ONCE, here, with a restricted unpickler that resolves
only the globals numpy needs to rebuild an array; any other global (a
function, a class) stops the build with an error naming it. Everything is
written into a temporary folder first and moved into place only when the
whole set succeeded, so an error never leaves a half-written data set.
Output (deterministic bytes): cases_llama.npz, cases_vicuna.npz,
FinalDataset.tsv.gz, AnnotatedDataset.tsv.gz, SingleShareGPT_Vocab.tsv.gz,
manifest.json.
"""
from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import os
import pickle
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent      # the source checkout
OUT = ROOT / "paperlib" / "paper" / "released"      # the package data folder
sys.path.insert(0, str(ROOT))

from paperlib.core.caseset import RawCase, write_case_set  # noqa: E402
from paperlib.core.errors import DataError  # noqa: E402

MODELS = {"llama": "ifa_llama_7b", "vicuna": "ifa_vicuna_7b"}
TSVS = ("FinalDataset.tsv", "AnnotatedDataset.tsv", "SingleShareGPT_Vocab.tsv")
PICKLE_KEYS = {"ID", "Input", "Output", "Reference", "Explain"}


def _allowed_globals() -> dict[tuple[str, str], object]:
    from numpy._core import multiarray

    table = {}
    for mod in ("numpy.core.multiarray", "numpy._core.multiarray"):
        table[(mod, "_reconstruct")] = multiarray._reconstruct
        table[(mod, "scalar")] = multiarray.scalar
    table[("numpy", "ndarray")] = np.ndarray
    table[("numpy", "dtype")] = np.dtype
    return table


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickler that resolves only numpy's array-reconstruction globals."""

    ALLOWED = _allowed_globals()

    def find_class(self, module, name):
        try:
            return self.ALLOWED[(module, name)]
        except KeyError:
            raise DataError(f"refusing to unpickle global {module}.{name}: only numpy "
                            f"array reconstruction is allowed in the released data") from None


def _check_plain(obj, where: str, depth: int = 0) -> None:
    """Allow only dict/list/str/int/float and numeric numpy arrays, recursively."""
    if depth > 4:
        raise DataError(f"{where}: nesting too deep for the released data format")
    if isinstance(obj, dict):
        for k, v in obj.items():
            _check_plain(k, where, depth + 1)
            _check_plain(v, where, depth + 1)
    elif isinstance(obj, list):
        for v in obj:
            _check_plain(v, where, depth + 1)
    elif isinstance(obj, np.ndarray):
        if obj.dtype.kind not in "fiub":
            raise DataError(f"{where}: array of dtype {obj.dtype} is not numeric data")
    elif type(obj) not in (str, int, float, bool):
        raise DataError(f"{where}: unexpected object of type {type(obj).__name__}")


def load_pickle(path) -> dict:
    """Load one released pickle safely and validate its structure."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            obj = RestrictedUnpickler(f).load()
    except DataError as exc:
        raise DataError(f"{path}: {exc}") from None
    except Exception as exc:
        raise DataError(f"{path}: not a readable pickle ({type(exc).__name__}: {exc})") from exc
    _check_plain(obj, str(path))
    if not isinstance(obj, dict) or set(obj) != PICKLE_KEYS:
        keys = sorted(obj) if isinstance(obj, dict) else type(obj).__name__
        raise DataError(f"{path}: expected a dict with keys {sorted(PICKLE_KEYS)}, got {keys}")
    return obj


def to_raw_case(obj: dict, path) -> RawCase:
    """Validate a released dict and turn it into a RawCase (S integer 0..10)."""
    cid, inp, out, ref, S = (obj[k] for k in ("ID", "Input", "Output", "Reference", "Explain"))
    if not (isinstance(cid, str) and isinstance(ref, str) and isinstance(S, np.ndarray)
            and all(isinstance(t, str) for t in inp + out)):
        raise DataError(f"{path}: fields of unexpected types")
    if Path(path).stem != cid:
        raise DataError(f"{path}: file name does not match its ID {cid!r}")
    n, m = len(inp), len(out)
    if S.size == 0 and m == 0:
        S = np.zeros((n, 0))
    if S.shape != (n, m):
        raise DataError(f"{path}: Explain has shape {S.shape}, expected ({n}, {m})")
    if S.size and not (np.all(S == np.round(S)) and S.min() >= 0 and S.max() <= 10):
        raise DataError(f"{path}: Explain values are not integers in 0..10")
    return RawCase(cid, list(inp), list(out), ref, S.astype(np.uint8))


def _final_ids(artifacts: Path) -> list[str]:
    with open(artifacts / "datasets" / "FinalDataset.tsv", encoding="utf-8", newline="\n") as f:
        lines = f.read().split("\n")[1:]
    return [line.split("\t", 1)[0] for line in lines if line]


def build_case_set(artifacts: Path, model: str, ids: list[str]) -> list[RawCase]:
    """All released cases of one model, in FinalDataset order."""
    folder = artifacts / "results" / "attribution_interpret" / MODELS[model]
    files = {p.stem: p for p in folder.glob("*.pkl")}
    if sorted(files) != sorted(ids):
        raise DataError(f"{folder}: pickles do not match the {len(ids)} FinalDataset ids")
    return [to_raw_case(load_pickle(files[i]), files[i]) for i in ids]


def gzip_bytes(data: bytes) -> bytes:
    """Deterministic gzip (no file name, mtime 0)."""
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, compresslevel=9, mtime=0) as gz:
        gz.write(data)
    return buf.getvalue()


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_all(artifacts: Path, tmp: Path) -> dict:
    """Write every frozen file into ``tmp``; return the manifest dict."""
    ids = _final_ids(artifacts)
    sources = {}
    for model, folder in MODELS.items():
        write_case_set(tmp / f"cases_{model}.npz", model, build_case_set(artifacts, model, ids))
        src = sorted((artifacts / "results" / "attribution_interpret" / folder).glob("*.pkl"))
        digest = hashlib.sha256()
        for p in src:
            digest.update(p.name.encode() + b"\0" + hashlib.sha256(p.read_bytes()).digest())
        sources[f"results/attribution_interpret/{folder}/*.pkl"] = digest.hexdigest()
    for name in TSVS:
        raw = (artifacts / "datasets" / name).read_bytes()
        (tmp / f"{name}.gz").write_bytes(gzip_bytes(raw))
        sources[f"datasets/{name}"] = hashlib.sha256(raw).hexdigest()
    files = {p.name: {"sha256": _sha(p), "bytes": p.stat().st_size}
             for p in sorted(tmp.iterdir())}
    return {"source": "JacksonWuxs/Interpret_Instruction_Tuning_LLMs@52508a0a (GPL-3.0)",
            "source_sha256": sources, "files": files}


def build(artifacts, out) -> dict:
    """Rebuild the frozen data from ``artifacts`` into ``out`` (all or nothing)."""
    artifacts, out = Path(artifacts), Path(out)
    if not (artifacts / "datasets" / "FinalDataset.tsv").is_file():
        raise DataError(f"{artifacts} does not hold datasets/FinalDataset.tsv")
    out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".make_data.", dir=out))
    try:
        manifest = write_all(artifacts, tmp)
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n",
                                           encoding="utf-8")
        for name in sorted(manifest["files"]) + ["manifest.json"]:
            os.replace(tmp / name, out / name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return manifest


def default_artifacts() -> Path:
    """/work/shared/paper-artifacts, else ../shared/paper-artifacts beside the repo."""
    first = Path("/work/shared/paper-artifacts")
    return first if first.is_dir() else ROOT.parent / "shared" / "paper-artifacts"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("artifacts", nargs="?", type=Path, default=None)
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)
    manifest = build(args.artifacts or default_artifacts(), args.out)
    for name, entry in manifest["files"].items():
        print(f"{entry['sha256']}  {entry['bytes']:>9}  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
