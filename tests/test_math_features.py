"""rob.activations, rob.data, rob.features: against autograd, finite differences and loops."""

import numpy as np
import pytest
import torch

from rob import activations, data, features

ACTS = ["relu", "abs", "erf", "tanh"]
TORCH_ACTS = {"relu": torch.relu, "abs": torch.abs, "erf": torch.special.erf, "tanh": torch.tanh}


@pytest.mark.parametrize("name", ACTS)
def test_activation_derivatives_match_autograd(name):
    act = activations.get(name)
    t = np.random.default_rng(0).normal(size=200) * 2
    t = t[np.abs(t) > 1e-3]  # away from the kinks
    tt = torch.tensor(t, requires_grad=True)
    (d1,) = torch.autograd.grad(TORCH_ACTS[name](tt).sum(), tt, create_graph=True)
    (d2,) = torch.autograd.grad(d1.sum(), tt) if d1.requires_grad else (torch.zeros_like(tt),)
    np.testing.assert_allclose(act.f(t), TORCH_ACTS[name](tt).detach().numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(act.df(t), d1.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(act.d2f(t), d2.numpy(force=True), rtol=1e-10, atol=1e-12)


def test_unknown_activation_is_an_error():
    with pytest.raises(ValueError, match="unknown activation"):
        activations.get("gelu")


def test_sphere_data_model():
    rng = np.random.default_rng(1)
    X = data.sphere(20000, 5, rng)
    np.testing.assert_allclose(np.linalg.norm(X, axis=1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(X.T @ X / len(X), np.eye(5) / 5, atol=0.01)
    ds = data.sphere_regression(20000, 10, 8, 0.5, rng)
    assert abs(np.linalg.norm(ds.w_star) - 1) < 1e-12
    # E[y^2] = zeta^2 + 1/d
    assert abs(np.mean(ds.y**2) - (0.25 + 1 / 8)) < 0.02
    with pytest.raises(ValueError):
        data.sphere_regression(0, 10, 8, 0.5, rng)


def _torch_model(model, W, c, name):
    Wt, ct = torch.tensor(W), torch.tensor(c)
    k, d = W.shape
    s = TORCH_ACTS[name]

    def f(x):  # x: (d,)
        pre = Wt @ x
        if model == "rf":
            return (s(pre) * ct).sum() / np.sqrt(k)
        (ds,) = torch.autograd.grad(s(pre).sum(), pre, create_graph=True)  # sigma'(pre)
        return (ds[:, None] * ct.reshape(k, d) * x[None, :]).sum() / np.sqrt(k)

    return f


@pytest.mark.parametrize("model", ["rf", "ntk"])
@pytest.mark.parametrize("name", ["erf", "tanh", "relu", "abs"])
def test_input_gradients_match_autograd(model, name):
    rng = np.random.default_rng(2)
    d, k = 7, 5
    W = features.random_weights(k, d, rng)
    c = rng.normal(size=k if model == "rf" else k * d)
    X = data.sphere(12, d, rng) * 1.3
    act = activations.get(name)
    g = features.input_grad(model, X, W, c, act)
    f = _torch_model(model, W, c, name)
    for x, gx in zip(X, g):
        xt = torch.tensor(x, requires_grad=True)
        (ref,) = torch.autograd.grad(f(xt), xt)
        np.testing.assert_allclose(gx, ref.numpy(), rtol=1e-10, atol=1e-12)
    # the features give the same function values as the torch model
    Z = features.features(model, X, W, act)
    np.testing.assert_allclose(Z @ c, [f(torch.tensor(x, requires_grad=True)).item() for x in X], rtol=1e-10, atol=1e-12)


def test_ntk_features_against_loops():
    rng = np.random.default_rng(3)
    d, k = 4, 3
    W = features.random_weights(k, d, rng)
    X = rng.normal(size=(5, d))
    act = activations.get("tanh")
    Z = features.ntk_features(X, W, act)
    for i in range(5):
        for j in range(k):
            for l in range(d):
                assert np.isclose(Z[i, j * d + l], act.df(W[j] @ X[i]) * X[i, l] / np.sqrt(k))


@pytest.mark.parametrize("model", ["rf", "ntk"])
def test_several_coefficient_vectors_and_blocks(model, monkeypatch):
    rng = np.random.default_rng(4)
    d, k = 6, 9
    W = features.random_weights(k, d, rng)
    C = rng.normal(size=(k if model == "rf" else k * d, 3))
    X = rng.normal(size=(50, d))
    act = activations.get("erf")
    G = features.input_grad(model, X, W, C, act)
    assert G.shape == (3, 50, d)
    for i in range(3):
        np.testing.assert_allclose(G[i], features.input_grad(model, X, W, C[:, i], act), rtol=1e-13)
    monkeypatch.setattr(features, "BLOCK_ENTRIES", 2 * k)  # blocks of two points
    np.testing.assert_allclose(features.input_grad(model, X, W, C, act), G, rtol=1e-13)


def test_random_weights_scale():
    W = features.random_weights(4000, 50, np.random.default_rng(5))
    assert abs(W.var() * 50 - 1) < 0.02


def test_unknown_model_is_an_error():
    with pytest.raises(ValueError, match="unknown model"):
        features.features("cnn", np.zeros((1, 2)), np.zeros((1, 2)), activations.get("relu"))


@pytest.mark.parametrize("name", ["relu", "erf"])
def test_rf_value_and_grad_equals_features_and_gradients(name, monkeypatch):
    rng = np.random.default_rng(6)
    X, W, C = rng.normal(size=(37, 5)), rng.normal(size=(11, 5)), rng.normal(size=(11, 3))
    act = activations.get(name)
    monkeypatch.setattr(features, "BLOCK_ENTRIES", 40)  # several row blocks
    pred, grads = features.rf_value_and_grad(X, W, C, act)
    np.testing.assert_allclose(pred, features.rf_features(X, W, act) @ C, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(grads, features.rf_input_grad(X, W, C, act), rtol=1e-12, atol=1e-14)
