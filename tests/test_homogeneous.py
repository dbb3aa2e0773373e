"""rob.homogeneous: gradients against torch autograd, homogeneity, balancedness, KKT diagnostics."""

import numpy as np
import torch

from rob import clusters as C
from rob import homogeneous as H


def _net(d=7, m=5, seed=0, omega=1.0):
    rng = np.random.default_rng(seed)
    net = H.init(d, m, omega, rng)
    net = H.Net(net.W, 0.3 * rng.standard_normal(m), net.v)
    X = rng.standard_normal((11, d))
    y = np.where(rng.random(11) < 0.5, 1.0, -1.0)
    return net, X, y


def test_gradients_match_autograd():
    net, X, y = _net()
    L, g, out = H.loss_and_grad(X, y, net)
    W, b, v = (torch.tensor(a, requires_grad=True) for a in (net.W, net.b, net.v))
    o = torch.relu(torch.tensor(X) @ W.T + b) @ v
    lt = torch.nn.functional.softplus(-torch.tensor(y) * o).mean()
    lt.backward()
    assert np.isclose(L, lt.item()) and np.isclose(H.loss(X, y, net), L)
    np.testing.assert_allclose(out, o.detach().numpy())
    for mine, ref in ((g.W, W.grad), (g.b, b.grad), (g.v, v.grad)):
        np.testing.assert_allclose(mine, ref.numpy(), rtol=1e-10, atol=1e-14)


def test_per_sample_gradients_match_autograd():
    net, X, y = _net()
    J = H.per_sample_gradients(X, net)
    for i in range(3):
        W, b, v = (torch.tensor(a, requires_grad=True) for a in (net.W, net.b, net.v))
        (torch.relu(torch.tensor(X[i]) @ W.T + b) @ v).backward()
        np.testing.assert_allclose(J[i], np.concatenate([W.grad.numpy().ravel(), b.grad.numpy(), v.grad.numpy()]))


def test_homogeneity_margin_and_stable_loss():
    net, X, y = _net()
    np.testing.assert_allclose(H.forward(X, net.scaled(3.0)), 9 * H.forward(X, net))
    assert np.isclose(H.normalised_margin(X, y, net.scaled(3.0)), H.normalised_margin(X, y, net))
    big = net.scaled(100.0)
    assert np.isfinite(H.loss(X, y, big)) and np.all(np.isfinite(H.loss_and_grad(X, y, big)[1].W))


def _clustered(d, k, n, m, seed):
    """Orthogonal cluster means, their labels, n training points and a small initialisation of width m."""
    rng = np.random.default_rng(seed)
    mu = C.orthogonal_means(d, k, rng)
    lab = C.default_labels(k)
    return mu, lab, C.sample(mu, lab, n, 1.0, rng), H.init(d, m, 1e-2, rng), rng


def test_gd_conserves_balancedness_and_trains():
    d = 200
    mu, lab, s, net0, _ = _clustered(d, 4, 80, 20, 2)
    net, log = H.train(s.X, s.y, net0, 100 / d, 200, log_at=(50, 100, 150, 200))
    assert [r["step"] for r in log] == [50, 100, 150, 200] and log[-1]["train_acc"] == 1.0
    bal0 = net0.v ** 2 - np.sum(net0.W ** 2, axis=1)
    bal = net.v ** 2 - np.sum(net.W ** 2, axis=1) - net.b ** 2
    assert np.max(np.abs(bal - bal0)) < 0.02 * np.max(net.v ** 2)
    kkt = H.kkt_diagnostics(net, mu, lab)
    assert kkt.bias_pos == 1.0 and kkt.balancedness < 0.05 and kkt.spread < 1.5


def test_row_space_gd_is_the_same_gradient_descent():
    """n < d: the steps run as W_t = W_0 + C_tᵀX with the Gram matrix; same iterates and logs as GD on W."""
    d = 300
    _, _, s, net0, rng = _clustered(d, 6, 90, 16, 5)
    net0 = H.Net(net0.W, 1e-3 * rng.standard_normal(16), net0.v)
    logs = (40, 80, 120)
    gram, log_g = H.train(s.X, s.y, net0, 100 / d, 120, log_at=logs)
    direct, log_d = H._train_direct(s.X, s.y, net0, 100 / d, 120, log_at=logs)
    for a, b in ((gram.W, direct.W), (gram.b, direct.b), (gram.v, direct.v)):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-12 * np.abs(b).max())
    for a, b in zip(log_g, log_d, strict=True):
        assert a["step"] == b["step"] and a["train_acc"] == b["train_acc"]
        np.testing.assert_allclose([a["loss"], a["margin"]], [b["loss"], b["margin"]], rtol=1e-10)
    assert log_d[-1]["train_acc"] == 1.0 and net0.W is not gram.W


def test_kkt_diagnostics_on_an_ideal_network():
    rng = np.random.default_rng(0)
    d, k = 30, 4
    mu = C.orthogonal_means(d, k, rng)
    lab = C.default_labels(k)
    wp, wn = mu[lab > 0].sum(0) / d, mu[lab < 0].sum(0) / d
    W = np.stack([wp, 2 * wp, wn])
    b = np.array([0.1, 0.2, 0.1])
    v = np.array([1.0, 1.0, -1.0]) * np.sqrt(np.sum(W ** 2, 1) + b ** 2)
    kkt = H.kkt_diagnostics(H.Net(W, b, v), mu, lab)
    assert kkt.balancedness < 1e-12 and kkt.bias_pos == 1.0
    assert np.isclose(kkt.spread, 1.0) and kkt.crosstalk < 1e-12


def test_kkt_residual_vanishes_at_an_exact_kkt_point():
    x = np.array([[1.0, 2.0, -0.5]])
    lam = 1 / np.sqrt(x @ x.T + 1)[0, 0]
    net = H.Net(lam * x, np.array([lam]), np.array([1.0]))
    res = H.kkt_residual(x, np.array([1.0]), net)
    assert res["residual"] < 1e-10 and abs(res["slackness"]) < 1e-10
