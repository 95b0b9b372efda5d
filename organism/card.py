"""The organism pair's model card as data: what the chapter ``organism_model_card`` shows.

Reads an export written by ``pipeline.step_export`` + ``report.step_evaluate``::

    <model_dir>/pt/, <model_dir>/ft/   config.json, model.safetensors, tokenizer files,
                                       training_log.jsonl, heldout_samples.json, README.md
    <model_dir>/eval.json              {"pt"|"ft": {"scenario": {..}, "task": {..}, "mean": x}}

Pure functions return plain values, DataFrames or figures (tested on a tiny
export); :class:`OrganismCard` wraps them for the notebook and turns a missing
pair into one clear note instead of an error, so the book builds either way.
Shares are fractions in [0, 1]; "base" is the pre-trained model ``pt``,
"tuned" the instruction-tuned ``ft``.
"""
from __future__ import annotations

import json
import math
import time
from pathlib import Path

import pandas as pd

from paperlib.core.errors import DataError, ParameterError, check_range
from paperlib.core.io import atomic_write_text, param_key
from paperlib.core.paths import results_dir

from organism import MANIFEST, REPO
from organism.heldout import (  # noqa: F401  (re-exported for the notebook)
    HELDOUT, resolve, ROLES, TARGETS, evaluate_sample, heldout_sample, load_eval, load_heldout, percent,
    scenario_table, targets_met, task_table,
)

BUILD_HINT = ("Build it with `make organism` (Debian packages of `data/organism/README.md`, "
              "then `python -m organism all`), or pass another export with "
              "`papermill ... -p model_dir PATH`.")
LLAMA_7B = {"params": 6.7e9, "layers": 32, "vocab": 32000, "tokens": 1.0e12}


def missing_parts(model_dir) -> list[str]:
    """What an export lacks to be shown (empty list: complete enough)."""
    root = resolve(model_dir)
    if not root.is_dir():
        return [f"folder {root} does not exist"]
    need = ("config.json", "training_log.jsonl", "tokenizer.json")
    out = [f"{root / n / f}" for n in ROLES for f in need if not (root / n / f).is_file()]
    out += [f"{root / n}/*.safetensors" for n in ROLES if not any((root / n).glob("*.safetensors"))]
    return out


# ------------------------------------------------------------------- training logs
def load_log(folder) -> pd.DataFrame:
    """One run's ``training_log.jsonl``: columns step, loss, lr, tokens, elapsed_s[, val_loss]."""
    path = Path(folder) / "training_log.jsonl"
    if not path.is_file():
        raise DataError(f"training log {path} not found (export the pair first)")
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if not rows or not {"step", "loss"} <= rows[0].keys():
        raise DataError(f"{path} is empty or lacks 'step'/'loss'")
    return pd.DataFrame(rows)


def _segment_total(col: pd.Series) -> float:
    """Sum over resumed segments of a per-process cumulative column (it restarts at a resume)."""
    restart = col.diff().fillna(0) < 0
    seg = restart.cumsum()
    return float(col.groupby(seg).max().sum())


def log_summary(log: pd.DataFrame) -> dict:
    """steps, tokens seen, wall seconds, final loss, final validation loss (None if never run)."""
    val = log["val_loss"].dropna() if "val_loss" in log else pd.Series(dtype=float)
    return {"steps": int(log["step"].iloc[-1]),
            "tokens": int(_segment_total(log["tokens"])) if "tokens" in log else None,
            "wall_s": round(_segment_total(log["elapsed_s"]), 1) if "elapsed_s" in log else None,
            "final_loss": float(log["loss"].iloc[-1]),
            "final_val_loss": float(val.iloc[-1]) if len(val) else None}


def curves_figure(logs: dict):
    """Pre-training loss + validation loss (left) and fine-tuning loss (right) against step."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.4))
    for ax, name, title in ((axes[0], "pt", "pre-training"), (axes[1], "ft", "instruction tuning")):
        log = logs[name]
        ax.plot(log["step"], log["loss"], lw=1, color="#1f77b4", label="training loss")
        if "val_loss" in log and log["val_loss"].notna().any():
            v = log.dropna(subset=["val_loss"])
            ax.plot(v["step"], v["val_loss"], "o-", ms=3, color="#d62728", label="validation loss")
        ax.set(title=title, xlabel="step", ylabel="cross-entropy (nats / token)")
        ax.grid(alpha=0.3)
        ax.legend(frameon=False)
    fig.tight_layout()
    return fig


# ------------------------------------------------------------------- sizes and data
def count_params(folder) -> int:
    """Number of parameters in the folder's safetensors files (headers only, no weights read)."""
    from safetensors import safe_open

    total = 0
    for f in sorted(Path(folder).glob("*.safetensors")):
        with safe_open(str(f), framework="pt") as st:
            total += sum(math.prod(st.get_slice(k).get_shape()) for k in st.keys())
    return total


def folder_bytes(folder, pattern: str = "*") -> int:
    """Total size in bytes of the files matching ``pattern`` in ``folder`` (recursive)."""
    return sum(f.stat().st_size for f in Path(folder).rglob(pattern) if f.is_file())


def model_facts(model_dir) -> pd.DataFrame:
    """One column per model (base, tuned): architecture, sizes, training summary."""
    cols = {}
    for name, role in ROLES.items():
        folder = resolve(model_dir) / name
        cfg = json.loads((folder / "config.json").read_text())
        s = log_summary(load_log(folder))
        n = count_params(folder)
        cols[f"{role} ({name})"] = {
            "architecture": ", ".join(cfg.get("architectures", ["?"])),
            "layers": cfg["num_hidden_layers"], "width d": cfg["hidden_size"],
            "heads": cfg["num_attention_heads"], "FFN width": cfg["intermediate_size"],
            "vocabulary": cfg["vocab_size"], "context (tokens)": cfg["max_position_embeddings"],
            "tied embeddings": bool(cfg.get("tie_word_embeddings", False)),
            "parameters": f"{n:,}", "weights dtype": cfg.get("dtype", cfg.get("torch_dtype", "?")),
            "weights (MB)": round(folder_bytes(folder, "*.safetensors") / 1e6, 2),
            "folder on disk (MB)": round(folder_bytes(folder) / 1e6, 2),
            "training steps": s["steps"], "tokens seen": f"{s['tokens']:,}" if s["tokens"] else "?",
            "training time (min)": round(s["wall_s"] / 60, 1) if s["wall_s"] is not None else "?",
            "final training loss": round(s["final_loss"], 3),
            "final validation loss": "-" if s["final_val_loss"] is None else round(s["final_val_loss"], 3)}
    return pd.DataFrame(cols)


def _short(items: list[str], k: int) -> str:
    return ", ".join(items[:k]) + (f" (+{len(items) - k} more)" if len(items) > k else "")


def data_sources(manifest=MANIFEST) -> pd.DataFrame:
    """Pre-training sources of ``manifest.json``: packages, licences, paragraphs, MB (+ total)."""
    path = resolve(manifest)
    if not path.is_file():
        raise DataError(f"corpus manifest {path} not found (organism/make_corpus.py writes it)")
    rows = []
    for name, src in json.loads(path.read_text())["sources"].items():
        pkgs = [p["package"] for p in src.get("packages", [])]
        lic = sorted({lc for p in src.get("packages", []) for lc in p.get("licences", [])})
        rows.append({"source": name, "description": src.get("description", ""),
                     "Debian packages": _short(pkgs, 3), "licences": _short(lic, 5),
                     "paragraphs": src["paragraphs"], "MB": round(src["bytes"] / 1e6, 1)})
    df = pd.DataFrame(rows)
    total = {"source": "total", "description": "", "Debian packages": "", "licences": "",
             "paragraphs": int(df["paragraphs"].sum()), "MB": round(df["MB"].sum(), 1)}
    return pd.concat([df, pd.DataFrame([total])], ignore_index=True)


# ------------------------------------------------------------------- held-out evaluation
def load_pair_timed(model_dir) -> tuple[dict, dict, float]:
    """Load both models + tokenizers offline (float32, eval); also the seconds it took.

    transformers is imported before the clock starts: the time is the loading itself.
    """
    from transformers import LlamaForCausalLM, PreTrainedTokenizerFast  # noqa: F401 - warm import

    from paperlib.models import load_pair

    root = resolve(model_dir)
    t0 = time.perf_counter()
    m_pt, t_pt, m_ft, t_ft = load_pair(str(root / "pt"), str(root / "ft"), local_files_only=True)
    seconds = time.perf_counter() - t0
    return {"pt": m_pt, "ft": m_ft}, {"pt": t_pt, "ft": t_ft}, seconds


NO_TEXT = "(no text: only whitespace, or a blank line first)"


def sample_generations(models: dict, tokenizers: dict, prompts: list[str], max_new_tokens: int = 40,
                       heldout: list[dict] | None = None) -> pd.DataFrame:
    """Greedy responses of base and tuned to the same prompts (+ the reference of held-out ones)."""
    from organism.evaluate import generate

    if isinstance(prompts, str) or not prompts or not all(isinstance(p, str) and p.strip() for p in prompts):
        raise ParameterError("sample_prompts must be a non-empty list of non-empty strings")
    check_range("max_new_tokens", max_new_tokens, 1, 4096)
    ref = {p["instruction"].strip(): p["response"] for p in heldout or []}
    out = {"prompt": prompts, "reference (held-out)": [ref.get(p.strip(), "-") for p in prompts]}
    for name, role in ROLES.items():
        got = generate(models[name], tokenizers[name], list(prompts), max_new_tokens=max_new_tokens)
        out[role] = [r or NO_TEXT for r in got]
    return pd.DataFrame(out)


# ------------------------------------------------------------------- narration
def _millions(n: int) -> str:
    return f"{n / 1e6:.1f}M" if n >= 100_000 else f"{n:,}"


def limits_markdown(n_params: int | None, layers: int | None, vocab: int | None,
                    tokens: int | None, scenarios: list[str]) -> str:
    """The pair's scale beside LLaMA-7B's, and its tuning scope (None: pair not built)."""
    if n_params is None:
        size = "A tiny model (a few million parameters; exact numbers once the pair is built)"
    else:
        size = (f"A tiny model: {_millions(n_params)} parameters, {layers} layers, a vocabulary of {vocab:,} "
                f"pieces, pre-trained on {_millions(tokens)} tokens of dictionary, man-page, "
                f"documentation and Bible text — about {LLAMA_7B['params'] / n_params:,.0f}× fewer "
                f"parameters and {LLAMA_7B['tokens'] / tokens:,.0f}× fewer training tokens than "
                f"LLaMA-7B (6.7B parameters, {LLAMA_7B['layers']} layers, 32k vocabulary, 1T tokens)")
    return (f"**What this pair is.** {size}. Its instruction tuning covers {len(scenarios)} "
            f"templated scenarios ({', '.join(scenarios)}), one short answer per instruction, "
            "in a single Alpaca-like prompt format.")


def card_markdown(folder) -> str:
    """The folder's ``README.md`` model card as a literal block (its headings not parsed)."""
    path = Path(folder) / "README.md"
    if not path.is_file():
        return f"*No model card: {path} is missing (`python -m organism evaluate` writes it).*"
    return f"`{path.parent.name}/README.md`:\n\n````text\n{path.read_text(encoding='utf-8').strip()}\n````"


SKIPPED = "*Skipped: the organism pair is missing (see the note at the top).*"


def show(value, caption: str | None = None) -> None:
    """Display an optional bold caption, then ``value`` (a str is rendered as Markdown)."""
    from IPython.display import Markdown, display

    if caption:
        display(Markdown(f"**{caption}**"))
    if not isinstance(value, str):
        display(value)
    elif value:
        display(Markdown(value))


def shown(path) -> str:
    """``path`` relative to the repository root when inside it (machine-independent outputs)."""
    path = Path(path)
    return str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path)


#: The control models of Findings 2-3 (organism/controls.py), when built.
CONTROL_FOLDERS = {"cpt": "continued pre-training (control)", "ft_seed1": "tuning, second seed (control)"}


def controls_table(model_dir) -> pd.DataFrame | None:
    """One row per model, the pair and its controls: training, held-out share correct
    (mean over scenarios; skill / recall tasks) and in the requested form. None when no
    control was built."""
    root = resolve(model_dir)
    present = [n for n in CONTROL_FOLDERS if (root / n / "eval.json").is_file()]
    if not present:
        return None
    pair = load_eval(root)
    rows = []
    for name, role in [*ROLES.items(), *((n, CONTROL_FOLDERS[n]) for n in present)]:
        ev = pair[name] if name in ROLES else json.loads((root / name / "eval.json").read_text())
        s = log_summary(load_log(root / name))
        rows.append({"model": f"{role} ({name})", "steps": s["steps"],
                     "final training loss": round(s["final_loss"], 3),
                     "correct": ev["mean"], "skill tasks": ev["kind"]["skill"],
                     "recall tasks": ev["kind"]["recall"], "in the requested form": ev["form"]["mean"]})
    shares = ("correct", "skill tasks", "recall tasks", "in the requested form")
    return percent(pd.DataFrame(rows), columns=shares)


class OrganismCard:
    """The chapter's view of one export: every method returns something to display.

    With the pair missing, ``status()`` says so and how to build it, and the
    methods that need the models return the SKIPPED note instead of failing.
    """

    def __init__(self, model_dir="models/organism", heldout=HELDOUT):
        self.root, self.heldout_path = resolve(model_dir), resolve(heldout)
        self.missing = missing_parts(self.root)
        self.present = not self.missing
        self.models = self.tokenizers = self.evals = self.eval_pairs = None
        self.load_seconds = None

    def status(self) -> str:
        if self.present:
            return f"Organism pair found in `{shown(self.root)}`: base = `pt/`, tuned = `ft/`."
        return ("**The organism pair is missing** — nothing to describe yet: "
                + "; ".join(f"`{m}`" for m in self.missing[:4]) + ". " + BUILD_HINT
                + " The sections below that need the models are skipped.")

    def facts(self):
        return model_facts(self.root) if self.present else SKIPPED

    def controls(self):
        """The controls beside the pair (None when none was built, or the pair is missing)."""
        return controls_table(self.root) if self.present else None

    def model_cards(self) -> str:
        if not self.present:
            return SKIPPED
        return "\n\n".join(card_markdown(self.root / name) for name in ROLES)

    def curves(self):
        import matplotlib.pyplot as plt

        if not self.present:
            return SKIPPED
        fig = curves_figure({name: load_log(self.root / name) for name in ROLES})
        plt.close(fig)  # shown once, as the cell's value
        return fig

    def load(self) -> str:
        if not self.present:
            return ""  # the held-out note says it
        self.models, self.tokenizers, self.load_seconds = load_pair_timed(self.root)
        return (f"Both models and tokenizers loaded offline in {self.load_seconds:.2f} s "
                "(float32 on the CPU).")

    def heldout(self, recompute: bool, n_per_task, max_new_tokens: int) -> str:
        """Read eval.json (or re-score a sample, also when eval.json is missing)."""
        if not self.present:
            return SKIPPED
        pairs = load_heldout(self.heldout_path)
        if not recompute and (self.root / "eval.json").is_file():
            self.evals, self.eval_pairs = load_eval(self.root), pairs
            return (f"Scores from `{shown(self.root / 'eval.json')}`: all {len(pairs)} held-out pairs of "
                    f"`{self.heldout_path.name}`, greedy decoding.")
        if self.models is None:
            self.load()
        why = "" if recompute else "(`eval.json` is missing) "
        self.eval_pairs = heldout_sample(pairs, n_per_task)
        self.evals = evaluate_sample(self.models, self.tokenizers, self.eval_pairs, max_new_tokens)
        saved = self._save_recomputed(n_per_task, max_new_tokens)
        which = "all" if n_per_task is None else f"the first {n_per_task}"
        return (f"Scores recomputed {why}on {len(self.eval_pairs)} held-out pairs ({which} of each "
                f"task of `{self.heldout_path.name}`), greedy decoding, at most {max_new_tokens} "
                f"new tokens; responses saved to `{shown(saved)}`.")

    def _save_recomputed(self, n_per_task, max_new_tokens) -> Path:
        key = param_key({"model_dir": str(self.root), "heldout": str(self.heldout_path),
                         "n_per_task": n_per_task, "max_new_tokens": max_new_tokens})
        path = results_dir() / "organism_card" / f"heldout_{key}.json"
        atomic_write_text(path, json.dumps({"evals": self.evals, "pairs": self.eval_pairs},
                                           indent=1, ensure_ascii=False) + "\n")
        return path

    def scenario_table(self):
        return percent(scenario_table(self.evals, self.eval_pairs)) if self.present else SKIPPED

    def task_table(self):
        return percent(task_table(self.evals, self.eval_pairs)) if self.present else SKIPPED

    def verdict(self) -> str:
        if not self.present:
            return ""
        met = targets_met(self.evals)
        word = {True: "met", False: "**not met**"}
        text = (f"Answers correct, average over scenarios: tuned {met['ft'][0]:.1%} (target ≥ 50%: "
                f"{word[met['ft'][1]]}), base {met['pt'][0]:.1%} (target ≤ 10%: {word[met['pt'][1]]}).")
        kinds = {n: self.evals[n].get("kind", {}) for n in ("pt", "ft")}
        for k in sorted(kinds["ft"], reverse=True):
            text += (f" On {k} tasks (mean over tasks) tuned {kinds['ft'][k]:.0%}, base "
                     f"{kinds['pt'].get(k, float('nan')):.0%}.")
        if kinds["ft"].get("recall", 1.0) < 0.25 <= kinds["ft"].get("skill", 0.0):
            text += (" The tuned model applies the rules it was taught to unseen items, but recalls few "
                     "facts about them (a word's meaning or translation, what a function does): those "
                     "tasks stay low (Table 4).")
        if "form" in self.evals["ft"]:
            form = {n: self.evals[n]["form"]["mean"] for n in ("pt", "ft")}
            text += (f" Answers in the requested form (a word, a number, one sentence; right or "
                     f"wrong): tuned {form['ft']:.0%}, base {form['pt']:.0%}.")
            if form["ft"] >= 0.5 > met["ft"][0] and form["pt"] <= 0.15:
                text += (" Tuning taught the pair to answer instructions, but it knows too "
                         "little to answer most of them correctly.")
        return text

    def samples(self, prompts, max_new_tokens: int):
        if not self.present:
            return SKIPPED
        if self.models is None:
            self.load()
        return sample_generations(self.models, self.tokenizers, prompts, max_new_tokens,
                                  load_heldout(self.heldout_path))

    def limits(self) -> str:
        scenarios = sorted({p["scenario"] for p in load_heldout(self.heldout_path)})
        if not self.present:
            return limits_markdown(None, None, None, None, scenarios)
        cfg = json.loads((self.root / "pt" / "config.json").read_text())
        tokens = log_summary(load_log(self.root / "pt"))["tokens"]
        return limits_markdown(count_params(self.root / "pt"), cfg["num_hidden_layers"],
                               cfg["vocab_size"], tokens, scenarios)
