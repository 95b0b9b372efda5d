"""References for the attribution's faithfulness (paperlib.explainers.faithfulness):
leave-one-out against a direct recomputation, integrated gradients' completeness on
tiny random models (tolerance per number of quadrature nodes), the quadrature rules."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from paperlib.core.errors import ParameterError
from paperlib.explainers import faithfulness as fa
from paperlib.explainers.registry import available_explainers, get_explainer
from paperlib.models.tiny import tiny_model, tiny_tokenizer


def _case(seed: int, n: int = 12, m: int = 7):
    g = torch.Generator().manual_seed(seed)
    prompt = [1] + torch.randint(4, 90, (n,), generator=g).tolist()  # BOS first
    response = torch.randint(4, 90, (m,), generator=g).tolist()
    return prompt, response


@torch.no_grad()
def _direct_prob(model, ids, zero_row: int | None, target_pos: int, target: int) -> float:
    """p(target | ids[:target_pos + 1]) with input-embedding row ``zero_row`` set to 0:
    one plain forward pass over exactly the context the target sees."""
    emb = model.get_input_embeddings()(torch.tensor(ids[:target_pos + 1]))
    if zero_row is not None:
        emb[zero_row] = 0
    logits = model(inputs_embeds=emb[None]).logits[0, -1]
    return float(torch.softmax(logits.double(), -1)[target])


@pytest.mark.parametrize("family", ["llama", "gpt2"])
def test_leave_one_out_equals_direct_recomputation(family):
    model = tiny_model(family, seed=3, dtype=torch.float64)
    prompt, response = _case(3)
    loo = fa.leave_one_out(model, prompt, response, batch_size=5).double().numpy()
    assert loo.shape == (len(prompt), len(response))
    ids = prompt + response
    for n in (0, 4, len(prompt) - 1):
        for m in (0, 3, len(response) - 1):
            pos = len(prompt) - 1 + m
            want = (_direct_prob(model, ids, None, pos, response[m])
                    - _direct_prob(model, ids, n, pos, response[m]))
            assert loo[n, m] == pytest.approx(want, abs=2e-6)  # float32 storage


def test_leave_one_out_does_not_depend_on_the_batch_size():
    model = tiny_model("llama", seed=1)
    prompt, response = _case(1)
    a = fa.leave_one_out(model, prompt, response, batch_size=1)
    b = fa.leave_one_out(model, prompt, response, batch_size=64)
    torch.testing.assert_close(a, b, atol=1e-6, rtol=0)


# Completeness: sum_n IG[n, m] = p(y_m | Z_m) - p(y_m | prompt rows zeroed), up to the
# quadrature error. Measured on these tiny random models (float64; max over m of the
# gap, relative to max_m |p(full) - p(zeroed)|) with the default adaptive midpoint rule,
# worst of 3 seeds x 2 families: 24 nodes 0.081, 48 nodes 0.025, 96 nodes 0.0065
# (192 nodes 0.0016: the error falls ~4x per doubling, as a midpoint rule's should).
# The tolerances are those bounds with a 1.5x margin.
COMPLETENESS_TOL = {24: 0.12, 48: 0.04, 96: 0.01}


@pytest.mark.parametrize("family", ["llama", "gpt2"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_integrated_gradients_complete_within_stated_tolerance(family, seed):
    model = tiny_model(family, seed=seed, dtype=torch.float64)
    prompt, response = _case(seed)
    full, zeroed = fa.path_end_probs(model, prompt, response, scaled_from=1)
    target = (full - zeroed).numpy()
    scale = np.abs(target).max()
    gaps = {}
    for steps, tol in COMPLETENESS_TOL.items():
        ig = fa.integrated_gradients(model, prompt, response, steps=steps,
                                     scaled_from=1).numpy()
        assert np.all(ig[0] == 0)  # the BOS row is not on the path
        gaps[steps] = np.abs(ig.sum(0) - target).max() / scale
        assert gaps[steps] <= tol, (steps, gaps)
    assert gaps[96] < gaps[48] < gaps[24]


@pytest.mark.parametrize("rule,steps", [("geometric", 8), ("gauss-legendre", 16)])
def test_fixed_rules_complete_on_a_smooth_path(rule, steps):
    """GPT-2 with a small init is smooth along the path: the fixed Gauss-Legendre rules
    are complete to 1e-6 relative (measured: 5e-8 for geometric with 8 nodes per decade,
    1e-14 for 16-node Gauss-Legendre)."""
    model = tiny_model("gpt2", seed=0, dtype=torch.float64, initializer_range=0.05)
    prompt, response = _case(0)
    full, zeroed = fa.path_end_probs(model, prompt, response, scaled_from=1)
    target = (full - zeroed).numpy()
    ig = fa.integrated_gradients(model, prompt, response, steps=steps, rule=rule,
                                 scaled_from=1).numpy()
    assert np.abs(ig.sum(0) - target).max() <= 1e-6 * np.abs(target).max()


def test_quadrature_rules_integrate_polynomials():
    for rule, steps, tol in (("gauss-legendre", 4, 1e-14), ("midpoint", 400, 1e-5),
                             ("geometric", 8, 1e-6)):
        x, w = fa.quadrature(steps, rule)
        assert w.sum() == pytest.approx(1.0, abs=max(tol, 1e-12))
        assert (w * x ** 3).sum() == pytest.approx(0.25, abs=tol)
        assert np.all((x > 0) & (x < 1))


def test_adaptive_rule_puts_cells_where_the_path_moves():
    alphas = np.r_[0.0, np.logspace(-6, 0, 97)]
    probs = 1.0 / (1.0 + np.exp(-(np.log10(alphas[1:]) + 2.0) * 20))  # a step at alpha = 0.01
    probs = np.r_[0.0, probs][:, None]
    x, w = fa.adaptive_rule(alphas, probs, steps=40)
    assert w.sum() == pytest.approx(1.0) and np.all(w > 0) and np.all(np.diff(x) > 0)
    near = np.sum((x > 10 ** -2.3) & (x < 10 ** -1.7))
    assert near >= 20  # most cells sit on the step
    # the integral of the step's derivative is its height
    assert np.sum(w * np.gradient(np.interp(x, alphas, probs[:, 0]), x)) == pytest.approx(
        1.0, abs=0.1)


def test_attribute_three_drops_the_prefix_and_reports_costs():
    model = tiny_model("llama", seed=2)
    prompt, response = _case(2, n=8, m=5)
    out = fa.attribute_three(model, prompt, response, n_prefix=1, steps=12)
    for key in ("I", "LOO", "IG"):
        assert out[key].shape == (8, 5) and out[key].dtype == np.float32
        assert out["seconds"][key] >= 0
    assert np.isfinite(out["completeness"])
    only = fa.attribute_three(model, prompt, response, n_prefix=1, methods=("LOO",))
    np.testing.assert_allclose(only["LOO"], out["LOO"], atol=1e-7)
    assert set(only) == {"LOO", "seconds", "completeness"} and np.isnan(only["completeness"])


def test_registered_explainers_return_attribution_results():
    assert {"leave_one_out", "integrated_gradients"} <= set(available_explainers())
    model, tok = tiny_model("llama", seed=0), tiny_tokenizer()
    res = get_explainer("leave_one_out")(model, tok, "the word of the day", max_new_tokens=4)
    assert res.I.shape == (len(res.prompt_tokens), len(res.response_tokens))
    assert res.prefix_I.shape[0] == 1  # BOS reported apart
    ig = get_explainer("integrated_gradients")(model, tok, "the word of the day",
                                               max_new_tokens=4, steps=8)
    assert ig.I.shape == res.I.shape and np.all(ig.prefix_I == 0)


@pytest.mark.parametrize("call,match", [
    (lambda m, p, r: fa.integrated_gradients(m, p, r, rule="simpson"), "rule"),
    (lambda m, p, r: fa.integrated_gradients(m, p, r, steps=0), "steps"),
    (lambda m, p, r: fa.integrated_gradients(m, p, r, scaled_from=len(p)), "scaled_from"),
    (lambda m, p, r: fa.leave_one_out(m, p, [], batch_size=4), "non-empty"),
    (lambda m, p, r: fa.attribute_three(m, p, r, methods=("SHAP",)), "methods"),
])
def test_bad_input_is_one_clear_error(call, match):
    model = tiny_model("llama", seed=0)
    prompt, response = _case(0, n=5, m=3)
    with pytest.raises(ParameterError, match=match):
        call(model, prompt, response)


def test_adaptive_rule_rejects_a_bad_scan():
    with pytest.raises(ParameterError, match="alphas"):
        fa.adaptive_rule(np.array([0.1, 0.5, 1.0]), np.zeros((3, 1)), 4)
