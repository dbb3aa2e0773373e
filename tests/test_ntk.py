"""rob.ntk, rob.spectral, rob.nets and the generic attacks of rob.attacks, each against an independent
computation: autograd Jacobians, finite differences, the finite-width kernel converging to the closed
form with width, explicit gradient-descent recursions."""

import numpy as np
import pytest
import torch

from rob import attacks, nets, ntk, spectral


def _points(n, d, seed=0):
    return np.random.default_rng(seed).uniform(0, 1, (n, d))


# -- closed-form kernels ---------------------------------------------------------------------------

def test_closed_form_matches_the_formula_of_the_spec_and_is_symmetric():
    X = _points(7, 5)
    sw2, sb2 = 2.0, 0.01
    K = ntk.ntk(X)
    for i in range(7):
        for j in range(7):
            x, z = X[i], X[j]
            k12, k11, k22 = sw2 * x @ z / 5 + sb2, sw2 * x @ x / 5 + sb2, sw2 * z @ z / 5 + sb2
            th = 0.0 if i == j else np.arccos(k12 / np.sqrt(k11 * k22))
            D = np.sqrt(max(k11 * k22 - k12 ** 2, 0))
            assert K[i, j] == pytest.approx(sb2 + sw2 / (2 * np.pi) * (D + 2 * (np.pi - th) * k12), rel=1e-12)
    np.testing.assert_allclose(K, K.T, rtol=1e-14)
    np.testing.assert_allclose(np.diag(K), sb2 + sw2 * (sw2 * (X ** 2).sum(1) / 5 + sb2), rtol=1e-14)
    np.testing.assert_allclose(ntk.ntk(X, X[:3]), K[:, :3], rtol=1e-7)
    np.testing.assert_allclose(ntk.ntk_pairs(X, X[::-1]), np.diag(ntk.ntk(X, X[::-1])), rtol=1e-12)
    assert np.all(ntk.kernel_distance(X, X) < 1e-6)


@pytest.mark.parametrize("kind", ["ntk", "rf"])
def test_empirical_kernel_converges_to_the_closed_form_at_rate_one_over_sqrt_m(kind):
    X = _points(6, 10, 1)
    exact = ntk.ntk(X) if kind == "ntk" else ntk.rf_kernel(X)
    errs = []
    for m in (2 ** 10, 2 ** 14, 2 ** 18):
        rng = np.random.default_rng(m)
        W, c, a = rng.standard_normal((m, 10)), rng.standard_normal(m), rng.standard_normal(m)
        emp = ntk.empirical_ntk(X, X, W, c, a) if kind == "ntk" else ntk.empirical_rf_kernel(X, X, W, c)
        errs.append(np.max(np.abs(emp - exact) / exact))
        assert errs[-1] < 10 / np.sqrt(m)
    assert errs[-1] < errs[0] / 4   # 256× the width: 16× smaller in expectation


def test_empirical_ntk_equals_the_gram_of_autograd_parameter_gradients():
    net = nets.init(4, 9, np.random.SeedSequence(3))
    X = _points(5, 4, 2)
    params = [p.clone().requires_grad_(True) for p in (net.W, net.c, net.a, net.c0)]
    rows = []
    for x in torch.tensor(X):
        out = nets._forward(x[None, :], *params, net.sw2, net.sb2)[0].sum()
        rows.append(torch.cat([g.reshape(-1) for g in torch.autograd.grad(out, params)]))
    J = torch.stack(rows).numpy()
    emp = ntk.empirical_ntk(X, X, net.W.numpy(), net.c.numpy(), net.a.numpy())
    np.testing.assert_allclose(emp, J @ J.T, rtol=1e-12, atol=1e-14)


def test_deep_ntk_one_layer_is_the_closed_form_and_two_layers_match_a_wide_network():
    X = _points(5, 6, 4)
    np.testing.assert_allclose(ntk.deep_ntk(X, 1), ntk.ntk(X), rtol=1e-13)
    with pytest.raises(ValueError):
        ntk.deep_ntk(X, 0)
    # two hidden layers: Gram of autograd parameter gradients of a wide network at init
    m, d, sw, sb = 2048, 6, np.sqrt(2.0), 0.1
    g = torch.Generator().manual_seed(0)
    P = [torch.randn(*shape, generator=g, dtype=torch.float64) for shape in ((m, d), (m,), (m, m), (m,), (m,), (1,))]
    P = [p.requires_grad_(True) for p in P]

    def f(x):
        h1 = sw / d ** 0.5 * P[0] @ x + sb * P[1]
        h2 = sw / m ** 0.5 * P[2] @ torch.relu(h1) + sb * P[3]
        return sw / m ** 0.5 * P[4] @ torch.relu(h2) + sb * P[5]

    J = torch.stack([torch.cat([gr.reshape(-1) for gr in torch.autograd.grad(f(x).sum(), P)])
                     for x in torch.tensor(X)]).detach().numpy()
    exact = ntk.deep_ntk(X, 2)
    assert np.max(np.abs(J @ J.T - exact) / exact) < 0.1


# -- input gradients ---------------------------------------------------------------------------------

def test_input_gradient_matches_central_differences_and_autograd():
    rng = np.random.default_rng(5)
    X, Z = _points(30, 8, 6), _points(4, 8, 7)
    beta = rng.standard_normal(30)
    G = ntk.ntk_predictor_grad(Z, X, beta)
    h = 1e-5
    fd = np.stack([(ntk.ntk(Z + h * e, X) @ beta - ntk.ntk(Z - h * e, X) @ beta) / (2 * h) for e in np.eye(8)], axis=1)
    assert np.max(np.abs(G - fd)) < 1e-7 * np.max(np.abs(G))

    # an independent torch implementation of Θ differentiated by autograd
    def theta_torch(z, Xt):
        k12 = 2 * Xt @ z / 8 + 0.01
        k11, k22 = 2 * z @ z / 8 + 0.01, 2 * (Xt ** 2).sum(1) / 8 + 0.01
        cos = torch.clamp(k12 / torch.sqrt(k11 * k22), -1, 1)
        th = torch.arccos(cos)
        D = torch.sqrt(k11 * k22 - k12 ** 2)
        return 0.01 + 2 / (2 * np.pi) * (D + 2 * (np.pi - th) * k12)

    Xt, bt = torch.tensor(X), torch.tensor(beta)
    for t in range(4):
        z = torch.tensor(Z[t], requires_grad=True)
        (g,) = torch.autograd.grad(theta_torch(z, Xt) @ bt, z)
        np.testing.assert_allclose(G[t], g.numpy(), rtol=1e-9, atol=1e-12)

    # several coefficient vectors at once (chunked) equal one at a time
    B = rng.standard_normal((30, 7))
    GB = ntk.ntk_predictor_grad(Z, X, B, chunk=3)
    for f in range(7):
        np.testing.assert_allclose(GB[:, f], ntk.ntk_predictor_grad(Z, X, B[:, f]), rtol=1e-12, atol=1e-14)


# -- spectral ----------------------------------------------------------------------------------------

def test_filters_and_features_against_direct_solves_and_the_gd_recursion():
    X = _points(40, 6, 8)
    Y = np.where(X[:, 0] + X[:, 1] > 1, 1.0, -1.0)
    K = ntk.ntk(X)
    s = spectral.spectrum(K, Y)
    assert np.all(np.diff(s.lam) <= 0) and s.lam[-1] > 0
    n, eta, T = 40, 1.5 * 40 / s.lam[0], 37
    np.testing.assert_allclose(spectral.coefficients(s, np.ones(n)), np.linalg.solve(K, Y), rtol=1e-8)
    np.testing.assert_allclose(s.feature_coefs.sum(1), np.linalg.solve(K, Y), rtol=1e-8)
    # Theorem A(2): f^(i)(X) = v_i v_iᵀY
    np.testing.assert_allclose(K @ s.feature_coefs, s.V * s.proj, atol=1e-9)
    # GD on the kernel model: u ← u − (η/n) K (u − Y)
    u = np.zeros(n)
    for _ in range(T):
        u = u - eta / n * K @ (u - Y)
    np.testing.assert_allclose(K @ spectral.coefficients(s, spectral.gd_filter(s.lam, n, eta, T)), u, atol=1e-10)
    assert spectral.gd_filter(s.lam, n, eta, float("inf")).tolist() == [1.0] * n
    assert spectral.topk_filter(s.lam, 3).sum() == 3
    assert spectral.ridge_filter(np.array([1.0]), 10, 0.1)[0] == pytest.approx(0.5)
    assert spectral.half_time(np.array([2.0]), 10, 1.0)[0] == pytest.approx(5 * np.log(2))
    with pytest.raises(ValueError, match="step too large"):
        spectral.check_step(s.lam[0], n, 1.9 * n / s.lam[0])
    with pytest.raises(ValueError):
        spectral.gd_filter(s.lam, n, eta, 2.5)
    with pytest.raises(ValueError, match="positive definite"):
        spectral.spectrum(-np.eye(3), np.ones(3))


# -- attacks -----------------------------------------------------------------------------------------

def test_fgsm_and_pgd_on_a_linear_score_are_exact():
    rng = np.random.default_rng(9)
    X = rng.uniform(0.3, 0.7, (20, 5))
    w = np.array([1.0, -2.0, 0.0, 0.5, 3.0])
    y = np.sign(rng.standard_normal(20))
    grad = lambda Z: np.tile(w, (len(Z), 1))
    eps = 0.1
    Xf = attacks.fgsm(X, y, grad, eps)
    np.testing.assert_allclose(Xf, X - eps * y[:, None] * np.sign(w))   # sign(0) = 0: pixel 2 stays
    Xp = attacks.pgd(X, y, grad, eps, steps=20)
    np.testing.assert_allclose(Xp, Xf, atol=1e-12)                      # the corner of the box
    X2 = attacks.fgsm(X, y, grad, eps, norm="2")
    np.testing.assert_allclose(X2, X - eps * y[:, None] * w / np.linalg.norm(w))
    P2 = attacks.pgd(X, y, grad, eps, steps=10, norm="2")
    np.testing.assert_allclose(np.linalg.norm(P2 - X, axis=1), eps, rtol=1e-9)
    np.testing.assert_allclose(P2, X2, atol=1e-12)
    # clipping to the box, and noise of the right size
    Xc = attacks.fgsm(np.zeros((3, 5)), np.ones(3), grad, 0.2)
    assert Xc.min() >= 0 and Xc.max() <= 0.2
    N = attacks.sign_noise(X, eps, np.random.default_rng(0))
    np.testing.assert_allclose(np.abs(N - X), eps)
    assert attacks.accuracy(np.array([1.0, -1.0, 0.0]), np.array([1.0, 1.0, 1.0])) == pytest.approx(1 / 3)
    with pytest.raises(ValueError):
        attacks.pgd(X, y, grad, eps, norm="1")


def test_pgd_on_a_kernel_predictor_stays_feasible_and_beats_fgsm():
    X = _points(60, 6, 10)
    Y = np.where(X[:, 0] > 0.5, 1.0, -1.0)
    alpha = np.linalg.solve(ntk.ntk(X), Y)
    Z, yz = _points(50, 6, 11), None
    yz = np.where(Z[:, 0] > 0.5, 1.0, -1.0)
    grad = lambda A: ntk.ntk_predictor_grad(A, X, alpha)
    score = lambda A: yz * (ntk.ntk(A, X) @ alpha)
    for norm, eps in (("inf", 0.1), ("2", 0.3)):
        F, P = attacks.fgsm(Z, yz, grad, eps, norm), attacks.pgd(Z, yz, grad, eps, 20, norm=norm)
        assert P.min() >= 0 and P.max() <= 1
        dist = np.abs(P - Z).max(1) if norm == "inf" else np.linalg.norm(P - Z, axis=1)
        assert dist.max() <= eps + 1e-12
        assert score(F).mean() < score(Z).mean() and score(P).mean() <= score(F).mean() + 1e-9


def test_torch_grad_attacks_a_torch_network_like_any_predictor():
    net = nets.init(6, 32, np.random.SeedSequence(12))
    X = _points(40, 6, 12)
    y = np.sign(np.random.default_rng(1).standard_normal(40))
    nets.train(net, X, y, 1.0, 20)
    grad = attacks.torch_grad(lambda x: nets.centred(net, x))
    Z = _points(3, 6, 13)
    h = 1e-6
    fd = np.stack([(nets.predict(net, Z + h * e) - nets.predict(net, Z - h * e)) / (2 * h) for e in np.eye(6)], 1)
    np.testing.assert_allclose(grad(Z), fd, rtol=1e-5, atol=1e-8)
    Xa = attacks.fgsm(Z, np.ones(3), grad, 0.05)
    assert np.all(nets.predict(net, Xa) <= nets.predict(net, Z) + 1e-12)


def test_feature_fgsm_matches_fgsm_per_feature():
    rng = np.random.default_rng(14)
    X, y = rng.uniform(0, 1, (4, 3)), np.array([1.0, -1, 1, -1])
    G = rng.standard_normal((4, 2, 3))
    out = attacks.feature_fgsm(X, y, G, 0.1)
    for f in range(2):
        np.testing.assert_allclose(out[:, f], attacks.fgsm(X, y, lambda Z: G[:, f], 0.1))


# -- networks ----------------------------------------------------------------------------------------

def test_manual_gradients_equal_autograd_and_the_network_starts_centred():
    net = nets.init(5, 7, np.random.SeedSequence(1), alpha=0.7)
    X, Y = torch.tensor(_points(9, 5, 3)), torch.tensor(np.sign(np.random.default_rng(2).standard_normal(9)))
    net.W.add_(0.1 * torch.randn_like(net.W))
    f0 = nets._forward(X, *net.theta0, net.sw2, net.sb2)[0]
    loss, grads = nets.loss_and_grads(net, X, Y, f0)
    ps = [p.clone().requires_grad_(True) for p in (net.W, net.c, net.a, net.c0)]
    L = 0.5 * ((0.7 * (nets._forward(X, *ps, net.sw2, net.sb2)[0] - f0) - Y) ** 2).mean()
    for g, ga in zip(grads, torch.autograd.grad(L, ps)):
        np.testing.assert_allclose(g.numpy(), ga.numpy(), atol=1e-14)
    assert loss == pytest.approx(float(L.detach()))
    fresh = nets.init(5, 7, np.random.SeedSequence(1))
    assert np.all(nets.predict(fresh, X.numpy()) == 0)


def test_closed_form_logistic_and_input_gradients_equal_autograd_and_pgd():
    net = nets.init(5, 7, np.random.SeedSequence(3), alpha=0.7)
    X = torch.tensor(_points(9, 5, 4))
    Y = torch.tensor(np.sign(np.random.default_rng(5).standard_normal(9)))
    grad = nets.input_grad_centred(net)
    assert torch.all(grad(X) == 0)                       # θ = θ_0: exactly 0, as with autograd
    wide = nets.init(64, 1024, np.random.SeedSequence(6))   # also at the chapter's size (batch 40, m = 1024)
    assert torch.all(nets.input_grad_centred(wide)(torch.tensor(_points(40, 64, 7))) == 0)
    net.W.add_(0.3 * torch.randn_like(net.W))
    net.a.add_(0.3 * torch.randn_like(net.a))
    loss, grads = nets.logistic_loss_and_grads(net, X, Y)
    ps = [p.clone().requires_grad_(True) for p in (net.W, net.c, net.a, net.c0)]
    f0 = nets._forward(X, *net.theta0, net.sw2, net.sb2)[0]
    L = torch.nn.functional.softplus(-Y * 0.7 * (nets._forward(X, *ps, net.sw2, net.sb2)[0] - f0)).mean()
    for g, ga in zip(grads, torch.autograd.grad(L, ps)):
        np.testing.assert_allclose(g.numpy(), ga.numpy(), atol=1e-14)
    assert loss == pytest.approx(float(L.detach()), rel=1e-14)
    auto = attacks.torch_grad(lambda x: nets.centred(net, x))
    grad = nets.input_grad_centred(net)
    np.testing.assert_allclose(grad(X).numpy(), auto(X.numpy()), atol=1e-14)
    ref = attacks.pgd(X.numpy(), Y.numpy(), auto, 0.1, 10)
    out = attacks.pgd_torch_oracle(X, Y, grad, 0.1, 10)
    np.testing.assert_allclose(out.numpy(), ref, atol=1e-15)
    assert np.abs(ref - X.numpy()).max() == pytest.approx(0.1)   # the attack moved the points
    with pytest.raises(ValueError):
        attacks.pgd_torch_oracle(X, Y, grad, -0.1, 10)


def test_wide_network_trained_by_gd_tracks_the_kernel_predictor():
    X = _points(30, 6, 15)
    Y = np.where(X[:, 0] + X[:, 2] > 1, 1.0, -1.0)
    Z = _points(20, 6, 16)
    eta, T = 1.0, 60
    s = spectral.spectrum(ntk.ntk(X), Y)
    muT = ntk.ntk(Z, X) @ spectral.coefficients(s, spectral.gd_filter(s.lam, 30, eta, T))
    rmse = []
    for m in (64, 4096):
        net = nets.init(6, m, np.random.SeedSequence([0, m]))
        losses = nets.train(net, X, Y, eta, T)
        assert losses[-1] < 0.5 * losses[0]
        rmse.append(np.sqrt(np.mean((nets.predict(net, Z) - muT) ** 2)))
    assert rmse[1] < 0.05 and rmse[1] < rmse[0] / 3
    assert nets.relative_change(net) < 0.05
    with pytest.raises(FloatingPointError, match="diverged"):
        nets.train(nets.init(6, 64, np.random.SeedSequence(1)), X, Y, 50.0, 50)
