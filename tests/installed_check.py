"""What tests/test_installed.py runs inside the freshly installed paperlib (not a test file).

Run as ``python installed_check.py OUT.json`` in an empty working directory with no
PAPERLIB_* variable set. It reproduces Tables 1-2 from the packaged frozen data and
runs the three explainers (attribution, attention word pairs, FFN concepts) on a tiny
random-weight LLaMA pair saved with ``save_pretrained`` into the working directory and
loaded back by path through an alias. Everything it computes goes to OUT.json, so the
test can compare the installed package with the source checkout.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path


def main(out) -> None:
    import numpy as np

    import paperlib as pl
    from paperlib.core import paths
    from paperlib.explainers.registry import available_explainers, get_explainer
    from paperlib.models import load_pair, register_model_alias
    from paperlib.models.tiny import tiny_model, tiny_tokenizer
    from paperlib.paper.data import load_prompts
    from paperlib.words.similarity import DictSimilarity
    from paperlib.words.vocab import load_vocab_words, word_token_index

    report = {"paperlib": str(Path(pl.__file__).resolve()),
              "data_dir": str(paths.data_dir().resolve()),
              "cache_dir": str(paths.cache_dir().resolve()),
              "n_prompts": len(load_prompts())}

    # Tables 1-2 from the packaged data (means do not depend on the bootstrap)
    t1, t2 = pl.table1(n_boot=200), pl.table2(n_boot=200)
    report["table1"] = t1[["dataset", "followed_mean", "unfollowed_mean", "p_value",
                           "n_followed", "n_unfollowed"]].to_dict("records")
    report["table2"] = t2[["dataset", "vicuna_mean", "llama_mean", "p_value",
                           "n_vicuna", "n_llama"]].to_dict("records")

    # a tiny local pair, saved and loaded back from disk
    tok = tiny_tokenizer()
    for role, seed in (("pt", 0), ("ft", 1)):
        tiny_model("llama", seed=seed).save_pretrained(Path("tiny") / role)
        tok.save_pretrained(Path("tiny") / role)
    register_model_alias("tiny", pt=Path("tiny/pt").resolve(), ft=Path("tiny/ft").resolve())
    m_pt, t_pt, m_ft, t_ft = load_pair("tiny", local_files_only=True)
    report["explainers"] = available_explainers()

    attr = get_explainer("attribution")(m_ft, t_ft, "write the long day", max_new_tokens=4)
    report["attribution"] = {"prompt_tokens": attr.prompt_tokens,
                             "response_tokens": attr.response_tokens,
                             "S": attr.S.tolist(), "I_sum": float(attr.I.sum())}

    # candidate words: the ShareGPT vocabulary of the packaged data that the tiny
    # tokenizer spells; similarity: seeded random word vectors (MiniLM would add
    # seconds and test a dependency, not paperlib)
    index = word_token_index(t_ft, load_vocab_words(), warn=False)
    rng = np.random.default_rng(0)
    sim = DictSimilarity({w: rng.standard_normal(16) for w in index.words})
    table = sim.table(index.words, reference=index.words, z=0.0)
    pairs = {}
    for role, model, t in (("pt", m_pt, t_pt), ("ft", m_ft, t_ft)):
        res = get_explainer("attention_pairs")(model, t, 1, words=index, sim=table, K=5,
                                               max_pairs=10)[1]
        pairs[role] = {"n_words": len(res.words), "q_idx": res.q_idx.tolist(),
                       "heads": {str(h): [list(p) for p in v]
                                 for h, v in res.head_explanations().items()}}
    report["attention_pairs"] = pairs

    concepts = get_explainer("ffn_concepts")(m_ft, t_ft, None, words=index, R=4, K=3)
    report["ffn_concepts"] = {str(layer): {"words": [c.words_of(r) for r in range(4)],
                                           "evr": c.explained_variance_ratio.tolist()}
                              for layer, c in concepts.items()}
    cache = paths.cache_dir()
    report["cache_files"] = sorted(str(p.relative_to(cache)) for p in cache.rglob("*")
                                   if p.is_file()) if cache.is_dir() else []
    Path(out).write_text(json.dumps(report, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main(sys.argv[1])
