"""Claim records and the landing page's organism box: readable names on the pages,
the same box on the landing page and on the Finding 2-3 chapters."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from paperlib.book import claims, landing
from paperlib.paper import verdicts

ROOT = Path(__file__).resolve().parent.parent
FACTS = {"parameters": 7_358_720, "layers": 4, "width": 256, "heads": 8, "ffn": 688, "vocab": 8192,
         "pt_tokens": 11_468_800, "ft_steps": 10_000, "ft_tokens": 20_161_728,
         "heldout_pt": 0.0, "heldout_ft": 0.457}


def test_readable_replaces_internal_measure_keys():
    text = ("heads' pair change (rbo_change) in layers 4-4; rise of the pair change (changed) "
            "from layers 1-1 to 4-4; changed@25 in layers 1-4")
    out = claims.readable(text)
    assert "(1 − rank-biased overlap) in layer 4" in out
    assert "(pair-set change, the paper's measure) from layer 1 to layer 4" in out
    assert "changed at depth 25 in layers 1-4" in out                   # a real group stays
    assert "rbo_change" not in out and "@" not in out
    assert claims.readable("writing share change (pp)") == "writing share change (pp)"
    assert claims.measure_name("changed@10") == "changed at depth 10"
    assert claims.measure_name("rbo_change") == "1 − rank-biased overlap"


def test_record_claim_writes_readable_names(tmp_path):
    v = verdicts.Verdict(verdicts.PARTIAL, "Finding 2: heads' pair change (rbo_change) in layers 4-4 "
                                           "points the paper's way.")
    claims.record_claim("finding2", claim="c", paper="p", ours="rbo_change in layers 4-4: base → tuned: 99%",
                        pair="organism", verdict=v, page="notebooks/x", root=tmp_path)
    row = claims.load_claims(tmp_path).iloc[0]
    assert row["ours"] == "1 − rank-biased overlap in layer 4: base → tuned: 99%"
    assert "(1 − rank-biased overlap) in layer 4" in row["because"]
    page = landing.results_markdown(claims.load_claims(tmp_path))
    assert "rbo_change" not in page and "◐ **reproduced in part**" in page


def _plain(html_or_md: str) -> str:
    text = re.sub(r"<[^>]+>", "", html_or_md.replace("</p>", " "))
    text = re.sub(r"\[([^\]]+)\]\([^)]+\)", r"\1", text).replace("**", "").replace("*", "")
    return " ".join(text.split())


def test_chapter_caveat_is_the_landing_box():
    box = landing.organism_box(FACTS)
    chapter = landing.organism_caveat_html(FACTS, "attention")
    assert box.startswith("```{admonition} " + landing.CAVEAT_TITLE)
    assert 'class="admonition note' in chapter and landing.CAVEAT_TITLE in chapter
    # the same paragraphs; the chapter adds its own limit and speaks of "this page"
    size = _plain(box).split(" It can ")[0].split(":class: note ")[1]
    assert size in _plain(chapter) and "answers 46% correctly, the base model 0%" in size
    assert "<strong>cannot</strong>" in chapter and 'href="organism_model_card.html"' in chapter
    assert "4 layers, shown as 4 groups of one layer" in chapter
    assert "capped at 256" in landing.organism_caveat_html(FACTS, "concepts")
    assert "20.2 million" in box and "On this page" not in box
    assert "not present" in landing.organism_caveat_html(None, "concepts")
    with pytest.raises(ValueError, match="focus"):
        landing.organism_caveat_html(FACTS, "nowhere")


def test_caveat_escapes_text_and_needs_no_tuning_log():
    facts = dict(FACTS, ft_tokens=None, heldout_pt=None)
    chapter = landing.organism_caveat_html(facts, "concepts")
    assert "more tokens" not in chapter and "held-out instructions the tuned" not in chapter
    assert landing._inline_html("a <b> & *x* **y** [t](u)") == (
        'a &lt;b&gt; &amp; <em>x</em> <strong>y</strong> <a href="u">t</a>')


def test_organism_facts_read_the_held_out_scores():
    facts = landing.organism_facts(ROOT / "models")
    if facts is None:
        pytest.skip("the organism pair is not in this checkout")
    assert 0 <= facts["heldout_ft"] <= 1 and facts["ft_tokens"] > 0
