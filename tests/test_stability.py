"""rob.two_layer, rob.attacks.pgd_classification, rob.data.sphere_sign_data, rob.adv_train and
rob.stability against independent computations (autograd, brute force, Monte Carlo, loops)."""

import math

import numpy as np
import pytest
import torch

from rob import adv_train, attacks, data, two_layer
from rob import stability as S

torch.set_default_dtype(torch.float64)


def _net(R=None, m=7, d=4, n=9, seed=0):
    rng = np.random.default_rng(seed)
    shape_w = (m, d) if R is None else (R, m, d)
    shape_x = (n, d) if R is None else (R, n, d)
    W = torch.tensor(rng.standard_normal(shape_w))
    a = torch.tensor(rng.choice([-1.0, 1.0], m))
    X = torch.tensor(rng.standard_normal(shape_x))
    y = torch.tensor(rng.choice([-1.0, 1.0], shape_x[:-1]))
    return W, a, X, y


def _f_loop(W, a, x, sig):
    return sum(a[s] * sig(W[s] @ x) for s in range(len(a))) / math.sqrt(len(a))


@pytest.mark.parametrize("act", ["softplus", "tanh"])
def test_forward_gradients_against_autograd(act):
    W, a, X, y = _net()
    sig = two_layer.activation(act)
    f = two_layer.forward(W, a, X, act)
    torch.testing.assert_close(f, torch.stack([_f_loop(W, a, x, sig.f) for x in X]))
    Xr = X.clone().requires_grad_(True)
    two_layer.forward(W, a, Xr, act).sum().backward()
    torch.testing.assert_close(two_layer.input_gradient(W, a, X, act), Xr.grad)
    Wr = W.clone().requires_grad_(True)
    u = y * two_layer.forward(Wr, a, X, act)
    torch.nn.functional.softplus(-u).mean().backward()
    lg = two_layer.loss_and_grad_W(W, a, X, y, act)
    torch.testing.assert_close(lg.grad, Wr.grad)
    torch.testing.assert_close(lg.loss, torch.log1p(torch.exp(-u.detach())).mean())
    for i in range(len(X)):  # per-example gradient norms
        Wi = W.clone().requires_grad_(True)
        torch.nn.functional.softplus(-y[i] * two_layer.forward(Wi, a, X[i:i + 1], act)).sum().backward()
        assert abs(float(lg.grad_norms[i]) - float(Wi.grad.norm())) < 1e-12


def test_softplus_and_sigmoid_from_one_exponential():
    t = torch.linspace(-745, 709, 200001)
    F, S_ = two_layer.softplus_and_sigmoid(t.clone(), 709.0)
    torch.testing.assert_close(S_, torch.sigmoid(t), rtol=4e-16, atol=0)   # a few ulps, relative
    torch.testing.assert_close(F, torch.nn.functional.softplus(t), rtol=4e-16, atol=2.3e-16)
    big = torch.tensor([-1.0, 0.5, 800.0])                                  # e^800 overflows: fallback
    bound = two_layer.preactivation_bound(big[None, None], torch.ones(1, 1))               # = 800
    F, S_ = two_layer.softplus_and_sigmoid(big.clone(), bound)
    assert torch.equal(F, torch.nn.functional.softplus(big)) and torch.equal(S_, torch.sigmoid(big))
    F, S_ = two_layer.softplus_and_sigmoid(big.clone())                     # no bound: from max P
    assert torch.isfinite(F).all() and torch.equal(S_, torch.sigmoid(big))


@pytest.mark.parametrize("act", ["softplus", "tanh"])
def test_blocked_kernels_equal_one_block_and_autograd(act, monkeypatch):
    """Blocks of rows (row_blocks) change only the summation order; large weights (|P| > 700 for
    some rows) take the separate softplus/sigmoid kernels."""
    W, a, X, y = _net(R=3, m=5, d=3, n=23, seed=4)
    W = W.clone()
    W[1] *= 300.0
    one_ig, one_lg = two_layer.input_gradient(W, a, X, act), two_layer.loss_and_grad_W(W, a, X, y, act)
    monkeypatch.setattr(two_layer, "MIN_BLOCK_ROWS", 1)
    monkeypatch.setattr(two_layer, "BLOCK_BYTES", 3 * 5 * 8 * 4)             # 4 rows per block
    assert len(two_layer.row_blocks(W, X)) == 6
    torch.testing.assert_close(two_layer.input_gradient(W, a, X, act), one_ig, rtol=1e-13, atol=1e-15)
    lg = two_layer.loss_and_grad_W(W, a, X, y, act)
    for name in ("loss", "grad", "margins", "grad_norms"):
        torch.testing.assert_close(getattr(lg, name), getattr(one_lg, name), rtol=1e-13, atol=1e-15)
    Wr = W.clone().requires_grad_(True)
    torch.nn.functional.softplus(-y * two_layer.forward(Wr, a, X, act)).mean(-1).sum().backward()
    torch.testing.assert_close(lg.grad, Wr.grad, rtol=1e-12, atol=1e-14)
    Xr = X.clone().requires_grad_(True)
    two_layer.forward(W, a, Xr, act).sum().backward()
    torch.testing.assert_close(two_layer.input_gradient(W, a, X, act), Xr.grad, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("act", ["softplus", "tanh"])
def test_activation_constants_and_second_derivative(act):
    sig = two_layer.activation(act)
    t = torch.linspace(-40, 40, 80001, requires_grad=True)  # σ' of softplus tends to 1 at +∞
    (d1,) = torch.autograd.grad(sig.f(t).sum(), t, create_graph=True)
    (d2,) = torch.autograd.grad(d1.sum(), t)
    torch.testing.assert_close(sig.df(t.detach()), d1.detach())
    torch.testing.assert_close(sig.d2f(t.detach()), d2)
    assert abs(float(d1.detach().abs().max()) - sig.L) < 1e-6 and abs(float(d2.abs().max()) - sig.H) < 1e-6
    with pytest.raises(ValueError, match="unknown"):
        two_layer.activation("relu")


def test_batched_replicas_equal_separate_runs():
    W, a, X, y = _net(R=3)
    lg = two_layer.loss_and_grad_W(W, a, X, y)
    for r in range(3):
        one = two_layer.loss_and_grad_W(W[r], a, X[r], y[r])
        torch.testing.assert_close(lg.grad[r], one.grad)
        torch.testing.assert_close(attacks.pgd_classification(W, a, X, y, 0.1, 5, "l2")[r],
                                   attacks.pgd_classification(W[r], a, X[r], y[r], 0.1, 5, "l2"))


@pytest.mark.parametrize("norm", ["linf", "l2"])
def test_pgd_stays_in_the_ball_and_reaches_the_brute_force_maximum(norm):
    # d = 2: the robust loss of each point is maximised over a fine grid of the threat set
    rng = np.random.default_rng(3)
    m, eps = 6, 0.3
    W = torch.tensor(rng.standard_normal((m, 2)))
    a = torch.tensor(rng.choice([-1.0, 1.0], m))
    X = torch.tensor(rng.standard_normal((5, 2)))
    y = torch.tensor(rng.choice([-1.0, 1.0], 5))
    Xa = attacks.pgd_classification(W, a, X, y, eps, 100, norm, step_size=eps / 20)
    D = Xa - X
    if norm == "linf":
        assert float(D.abs().max()) <= eps + 1e-12
    else:
        assert float(D.norm(dim=-1).max()) <= eps + 1e-12
    g = torch.linspace(-eps, eps, 601)
    grid = torch.stack(torch.meshgrid(g, g, indexing="ij"), -1).reshape(-1, 2)
    if norm == "l2":
        grid = grid[grid.norm(dim=-1) <= eps]
    for i in range(5):
        brute = two_layer.logistic(y[i] * two_layer.forward(W, a, X[i] + grid)).max()
        pgd = two_layer.logistic(y[i] * two_layer.forward(W, a, Xa[i:i + 1]))[0]
        assert float(pgd) >= float(brute) - 1e-4
    assert attacks.pgd_classification(W, a, X, y, 0.0, 5) is X
    # one W for replicated data, and replicated W for one data set: the replicas broadcast
    Wr, Xr, yr = W.expand(3, *W.shape), X.expand(3, *X.shape), y.expand(3, *y.shape)
    full = attacks.pgd_classification(Wr, a, Xr, yr, eps, 5, norm)
    for args in ((W, a, Xr, yr), (Wr, a, X, y), (Wr, a, X, yr)):
        torch.testing.assert_close(attacks.pgd_classification(*args, eps, 5, norm), full)
    with pytest.raises(ValueError):
        attacks.pgd_classification(W, a, X, y, eps, 5, "l1")


def test_sphere_sign_data():
    X, y = data.sphere_sign_data(20000, 10, 0.1, np.random.default_rng(0))
    np.testing.assert_allclose(np.linalg.norm(X, axis=1), 1.0)
    flipped = np.mean(y != np.sign(X.sum(1)))
    assert abs(flipped - 0.1) < 4 * math.sqrt(0.09 / 20000)
    X0, y0 = data.sphere_sign_data(500, 10, 0.0, np.random.default_rng(1))
    assert np.all(y0 == np.sign(X0.sum(1)))
    with pytest.raises(ValueError):
        data.sphere_sign_data(10, 10, 0.6, np.random.default_rng(0))


def test_neighbour_replicas_replace_exactly_one_example():
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((8, 3)), rng.choice([-1.0, 1.0], 8)
    Xn, yn = rng.standard_normal((2, 3)), np.array([1.0, -1.0])
    XR, yR = adv_train.neighbour_replicas(X, y, [4, 1], Xn, yn)
    assert XR.shape == (3, 8, 3) and yR.shape == (3, 8)
    np.testing.assert_array_equal(XR[0], X)
    for j, i in enumerate([4, 1]):
        diff = np.flatnonzero(np.any(XR[j + 1] != X, axis=1))
        assert diff.tolist() == [i] and np.array_equal(XR[j + 1, i], Xn[j]) and yR[j + 1, i] == yn[j]
    with pytest.raises(ValueError):
        adv_train.neighbour_replicas(X, y, [1, 1], Xn, yn)


def _autograd_grad(W, a, X, y, eps, steps):
    """AT gradient by autograd only: PGD (ℓ2) with autograd input gradients, then ∇_W."""
    delta = torch.zeros_like(X)
    step = 2.5 * eps / steps
    for _ in range(steps):
        Xd = (X + delta).requires_grad_(True)
        torch.nn.functional.softplus(-y * two_layer.forward(W, a, Xd)).sum().backward()
        g = Xd.grad
        delta = delta + step * g / g.norm(dim=-1, keepdim=True)
        delta = delta * torch.clamp(eps / delta.norm(dim=-1, keepdim=True), max=1.0)
    Wr = W.clone().requires_grad_(True)
    torch.nn.functional.softplus(-y * two_layer.forward(Wr, a, X + delta)).mean().backward()
    return Wr.grad


def test_train_gd_matches_autograd_recursions():
    rng = np.random.default_rng(5)
    m, d, n, eta, lam, eps = 6, 3, 10, 0.7, 2.0, 0.2
    W0, a = two_layer.init_two_layer(m, d, rng)
    X, y = data.sphere_sign_data(n, d, 0.1, rng)
    tr = adv_train.train_gd(W0, a, X[None], y[None], eps=eps, eta=eta, T=3, method="at", record=(0, 1, 3),
                            norm="l2")
    Wt, at, Xt, yt = map(torch.tensor, (W0, a, X, y))
    W = Wt.clone()
    ref = [W.clone()]
    for t in range(3):
        W = W - eta * _autograd_grad(W, at, Xt, yt, eps, 5)
        ref.append(W.clone())
    for k, t in enumerate((0, 1, 3)):
        np.testing.assert_allclose(tr.W[k, 0], ref[t].numpy(), atol=1e-12)
    # Moreau: U ← U − η(∇L̂(U) + (U − W)/λ), W ← W − (η/λ)(W − U)
    me = adv_train.train_gd(W0, a, X[None], y[None], eps=eps, eta=eta, T=2, method="moreau", lam=lam,
                            record=(2,), norm="l2")
    W, U = Wt.clone(), Wt.clone()
    for t in range(2):
        U = U - eta * (_autograd_grad(U, at, Xt, yt, eps, 5) + (U - W) / lam)
        W = W - eta / lam * (W - U)
    np.testing.assert_allclose(me.W[0, 0], W.numpy(), atol=1e-12)
    # eps = 0 adversarial training is standard training
    st = adv_train.train_gd(W0, a, X[None], y[None], eps=0.3, eta=eta, T=3, method="std", record=(3,))
    at0 = adv_train.train_gd(W0, a, X[None], y[None], eps=0.0, eta=eta, T=3, method="at", record=(3,))
    np.testing.assert_allclose(st.W, at0.W, atol=1e-14)
    assert np.isnan(st.flip_frac).all() and tr.max_grad_norm.shape == (3,)
    with pytest.raises(ValueError):
        adv_train.train_gd(W0, a, X[None], y[None], eps=eps, eta=eta, T=3, method="moreau")
    with pytest.raises(ValueError):
        adv_train.train_gd(W0, a, X[None], y[None], eps=eps, eta=eta, T=3, record=(4,))


def test_argument_stability_and_robust_loss():
    rng = np.random.default_rng(0)
    W = rng.standard_normal((2, 4, 5, 3))
    D = S.argument_stability(W)
    assert D.shape == (2, 3)
    for k in range(2):
        for j in range(3):
            assert abs(D[k, j] - np.linalg.norm(W[k, j + 1] - W[k, 0])) < 1e-12
    W0, a = two_layer.init_two_layer(8, 4, rng)
    X, y = data.sphere_sign_data(50, 4, 0.1, rng)
    clean, _ = S.robust_loss(W0, a, X, y, 0.0)
    rob, err = S.robust_loss(W0, a, X, y, 0.05)
    assert rob > clean and 0 <= err <= 1
    u = y * two_layer.forward(*map(torch.tensor, (W0, a, X))).numpy()
    assert abs(clean - np.mean(np.log1p(np.exp(-u)))) < 1e-12


def test_lemma1_constants_on_random_instances():
    """‖∇_W ℓ(y f(W; x̃))‖ ≤ G for any W and any x̃ in the threat set, and the Hessian of ℓ(y f(·; x̃))
    has smallest eigenvalue ≥ −ρ (checked by exact Hessians at small width)."""
    rng = np.random.default_rng(2)
    m, d, eps = 6, 3, 0.2
    e2 = S.eps_l2(eps, d, "linf")
    G = S.lipschitz_const(1.0, e2)
    rho = S.weak_convexity_const(1.0, e2, m)
    X, y = data.sphere_sign_data(40, d, 0.0, rng)
    Xt = torch.tensor(X + rng.uniform(-eps, eps, X.shape))
    for _ in range(5):
        W = torch.tensor(3 * rng.standard_normal((m, d)))
        a = torch.tensor(rng.choice([-1.0, 1.0], m))
        assert float(two_layer.loss_and_grad_W(W, a, Xt, torch.tensor(y)).grad_norms.max()) <= G
        for i in range(5):
            H = torch.autograd.functional.hessian(
                lambda w: torch.nn.functional.softplus(-y[i] * two_layer.forward(w.reshape(m, d), a, Xt[i:i + 1])).sum(),
                W.reshape(-1))
            assert float(torch.linalg.eigvalsh(H).min()) >= -rho - 1e-12


def test_bounds_and_constants():
    G, rho, eta, n = 1.1, 0.02, 2.0, 50
    T = np.array([1.0, 10.0, 100.0])
    direct = 2 * eta * G * (np.sqrt(T) + T / n) * (1 + 2 * eta * rho) ** (T / 2)
    np.testing.assert_allclose(10 ** S.bound_at(T, n, eta, G, rho), direct, rtol=1e-12)
    lam = 4.0
    c = 1 - lam * rho
    direct = 2 * eta * G * T / (n * c) * (1 + eta * rho / c) ** T
    np.testing.assert_allclose(10 ** S.bound_moreau(T, n, eta, lam, G, rho), direct, rtol=1e-12)
    with pytest.raises(S.HypothesisViolated):
        S.bound_moreau(T, n, eta, 40.0, G, rho)
    with pytest.raises(S.HypothesisViolated):
        S.bound_moreau(T, n, eta, 1.0, G, rho)  # η > λ
    assert np.isfinite(S.bound_at(400, 200, 20.0, G, 0.0265))  # no overflow where the factor is 1e63
    e2 = S.eps_l2(0.03, 10, "linf")
    assert abs(e2 - 0.0949) < 1e-4 and S.eps_l2(0.1, 10, "l2") == 0.1
    assert abs(S.lipschitz_const(1.0, e2) - 1.0949) < 1e-4
    assert abs(S.weak_convexity_const(1.0, e2, 128) - 0.02649) < 1e-5
    ms = S.width_for_condition(5.0, 40, 1.0, e2)
    assert abs(5.0 * S.weak_convexity_const(1.0, e2, ms) * 40 - 1.0) < 1e-12
    np.testing.assert_allclose(S.convex_part_at(400, 200, 20.0, 1.0949), 2 * 20 * 1.0949 * (20 + 2))


def test_huber_envelope_against_brute_force():
    lam = 0.7
    w = np.linspace(-3, 3, 61)
    u = np.linspace(-4, 4, 160001)
    obj = np.abs(u)[None, :] + (u[None, :] - w[:, None]) ** 2 / (2 * lam)
    env, prox = S.huber_envelope(w, lam)
    np.testing.assert_allclose(env, obj.min(1), atol=1e-8)
    np.testing.assert_allclose(prox, u[obj.argmin(1)], atol=1e-4)


def test_matched_loss_ratio():
    loss_b = np.array([0.6, 0.5, 0.4])
    val_b = np.array([1.0, 2.0, 3.0])
    assert S.matched_loss_ratio(loss_b, val_b, 0.45, 2.5) == pytest.approx(1.0)
    assert S.matched_loss_ratio(loss_b, val_b, 0.45, 2.0) == pytest.approx(1.25)
    assert math.isnan(S.matched_loss_ratio(loss_b, val_b, 0.3, 1.0))          # no extrapolation
    assert math.isnan(S.matched_loss_ratio(loss_b[::-1], val_b, 0.45, 1.0))  # loss must decrease
