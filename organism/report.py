"""Held-out evaluation of the exported pair and their model cards."""
from __future__ import annotations

import json

import torch

from paperlib.core.io import atomic_write_text
from paperlib.models.tokenizers import load_tokenizer

from organism.data import load_pairs

CARD = """# Organism {name}: {title}

LLaMA-architecture causal LM (`LlamaForCausalLM`, untied input/output
embeddings), built by `organism/train_organism.py` in this repository.

- size: {size} ({n_params:,} parameters), weights bfloat16 safetensors ({weights_mb:.1f} MB)
- tokenizer: byte-fallback BPE, LLaMA piece layout, vocabulary {vocab}
- {training}
- final training loss: {final_loss}
- held-out instructions (data/organism/heldout_test.jsonl), share answered correctly
  per scenario: {heldout}
- the same by kind of task (mean over tasks): {kinds} (skill: a rule applied to the
  item, e.g. a plural, a small function, a number in words; recall: a fact about
  it, e.g. a definition or a word's translation)
- share answered in the requested form (a word, a number, a one-sentence
  description; right or wrong): {form}

Training text: Debian-packaged English (see data/organism/README.md and
manifest.json for sources, sizes and licences: GPL, GFDL, PSF, Artistic,
public domain, ...). The weights are a derived work of that text; this
repository is GPL-3.0.
"""


def step_evaluate(lay, max_new_tokens: int = 40) -> dict:
    """Accuracy per scenario of ``models/{pt,ft}`` on the held-out pairs; writes eval.json and cards."""
    from transformers import LlamaForCausalLM

    pairs = load_pairs(lay.heldout)
    out = {}
    for name in ("pt", "ft"):
        folder = lay.models / name
        model = LlamaForCausalLM.from_pretrained(folder, dtype=torch.float32, local_files_only=True)
        tok = load_tokenizer(folder)
        from organism.evaluate import evaluate_pairs

        res = evaluate_pairs(model, tok, pairs, max_new_tokens=max_new_tokens)
        out[name] = {k: v for k, v in res.items() if k != "responses"}
        samples = [{"instruction": p["instruction"], "reference": p["response"], "response": r}
                   for p, r in list(zip(pairs, res["responses"]))[::max(1, len(pairs) // 24)]]
        atomic_write_text(folder / "heldout_samples.json", json.dumps(samples, indent=1, ensure_ascii=False))
    atomic_write_text(lay.models / "eval.json", json.dumps(out, indent=1) + "\n")
    write_cards(lay, out)
    return out


def write_cards(lay, evals: dict) -> None:
    """``README.md`` model card in each of ``models/{pt,ft}``."""
    for name, title in (("pt", "pre-trained"), ("ft", "instruction-tuned")):
        folder = lay.models / name
        meta = json.loads((lay.run(name) / "run.json").read_text())
        cfg = json.loads((folder / "config.json").read_text())
        log = [json.loads(l) for l in (folder / "training_log.jsonl").read_text().splitlines() if l]
        tr = meta["train"]
        if name == "pt":
            training = (f"pre-training: {tr['steps']} steps x batch {meta['batch']} x {meta['seq_len']} tokens, "
                        f"AdamW lr {tr['lr']} cosine, bf16 autocast={tr['bf16']}, seed {tr['seed']}")
        else:
            training = (f"instruction tuning (full fine-tune of pt): {tr['steps']} steps x batch {meta['batch']} "
                        f"on {meta['n_pairs']} pairs, lr {tr['lr']}, seed {tr['seed']}")
        weights = sum(f.stat().st_size for f in folder.glob("*.safetensors"))
        atomic_write_text(folder / "README.md", CARD.format(
            name=name, title=title, size=meta["size"], n_params=sum(
                v for k, v in _param_counts(cfg).items()), weights_mb=weights / 1e6,
            vocab=cfg["vocab_size"], training=training, final_loss=log[-1]["loss"] if log else "n/a",
            heldout=_shares(evals.get(name, {}).get("scenario", {})),
            kinds=_shares(evals.get(name, {}).get("kind", {})),
            form=_shares(evals.get(name, {}).get("form", {}).get("scenario", {}))))


def _shares(by_scenario: dict) -> str:
    return ", ".join(f"{k} {v:.1%}" for k, v in by_scenario.items()) or "n/a"


def _param_counts(cfg: dict) -> dict:
    d, f, v, L = cfg["hidden_size"], cfg["intermediate_size"], cfg["vocab_size"], cfg["num_hidden_layers"]
    return {"embeddings": 2 * v * d, "layers": L * (4 * d * d + 3 * d * f + 2 * d), "norm": d}
