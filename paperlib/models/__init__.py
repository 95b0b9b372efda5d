"""Model access (loading, aliases) and the canonical weight view of supported families."""
from paperlib.models.arch import ARCHITECTURES, arch_spec, supported_architectures
from paperlib.models.canonical import CanonicalLayer, CanonicalView, canonical_view
from paperlib.models.loading import (load_model, load_pair, model_aliases, model_fingerprint,
                                     register_model_alias, resolve_alias)

__all__ = ["ARCHITECTURES", "arch_spec", "supported_architectures", "CanonicalLayer",
           "CanonicalView", "canonical_view", "load_model", "load_pair", "model_aliases",
           "model_fingerprint", "register_model_alias", "resolve_alias"]
