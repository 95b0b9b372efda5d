"""The paper's three explainers, registered by name (:mod:`paperlib.explainers.registry`).

* ``attribution`` — prompt -> response gradient attribution (:mod:`.attribution`,
  fast engines in :mod:`.attribution_fast`);
* ``attention_pairs`` — word pairs of attention heads (:mod:`.attention_pairs`);
* ``ffn_concepts`` — principal components of the FFN down-projection (:mod:`.ffn_concepts`).
"""
