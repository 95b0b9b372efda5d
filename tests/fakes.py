"""Small stand-ins shared by the tests (imported as ``from fakes import ...``).

- :class:`FakePairs`: an ``AttentionPairs``-like object from hand-made head lists.

(The tiny organism build the organism tests use is ``organism/tests/tiny.py``.)
"""
from __future__ import annotations

import torch


class FakePairs:
    """Stands in for AttentionPairs: H heads x 1 dim, each neuron list = its head list."""

    def __init__(self, heads: dict):
        self.heads_ = heads
        self.dim_rank = torch.zeros(len(heads), 1)

    def head_explanations(self):
        return self.heads_

    def head_pairs(self, h):
        return self.heads_[h]

    def neuron_pairs(self, h, d):
        return self.heads_[h]
