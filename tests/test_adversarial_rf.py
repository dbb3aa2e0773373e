"""rob.theory.adversarial_rf, rob.adv_train_rf and rob.attacks.pgd_l2_regression against independent
computations: Monte Carlo, quadrature, finite differences, torch autograd, brute force, reference values."""

import numpy as np
import pytest
import torch
from scipy import integrate, optimize

from rob import adv_train_rf as F
from rob import attacks, data
from rob.theory import adversarial_rf as T

# -- spectral functions ---------------------------------------------------------------------------


def test_stieltjes_and_m_reference_values():
    assert T.stieltjes_S(-1.0, 1.0) == pytest.approx((1 - np.sqrt(5)) / 2, abs=1e-12)
    np.testing.assert_allclose(T.mp_m(1.0, np.array([1.0, 0.5, 2.0])), [0.618034, 0.561553, 0.707107], atol=1e-6)
    z = np.geomspace(0.01, 10, 7)
    for p in (0.1, 1.0, 30.0):
        m = T.mp_m(z, p)
        np.testing.assert_allclose(p * z * m * m + (1 - p + z) * m - 1, 0, atol=1e-12)
        np.testing.assert_allclose(m, -T.stieltjes_S(-z, p), rtol=1e-10)
        fd = (T.mp_m(z * (1 + 1e-6), p) - T.mp_m(z * (1 - 1e-6), p)) / (2e-6 * z)
        np.testing.assert_allclose(T.mp_m_prime(z, p), fd, rtol=1e-6)


def test_m_and_sigma2_against_one_spectrum():
    rng = np.random.default_rng(0)
    d = 400
    for p in (0.5, 2.0):
        W = data.sphere(int(p * d), d, rng)
        ev = np.linalg.eigvalsh(W @ W.T)
        assert np.mean(1 / (ev + 0.7)) == pytest.approx(float(T.mp_m(0.7, p)), abs=5e-3)
        evd = np.linalg.eigvalsh(W.T @ W)
        assert T.KAPPA0 * np.mean(1 / (evd + T.KAPPA0)) + 0.1 == pytest.approx(float(T.best_in_class_risk(0.1, p)), abs=3e-3)
    np.testing.assert_allclose(T.best_in_class_risk(0.1, np.array([0.5, 1, 2.5, 20])),
                               [0.7750, 0.5479, 0.2780, 0.1187], atol=1e-4)


# -- Moreau envelope ------------------------------------------------------------------------------


def _F_quadrature(s, kappa, c):
    """E min_v [κ/2 (v − X)² + ½(|v| + c)²] with the inner minimum by bounded Brent."""
    def inner(x):
        r = optimize.minimize_scalar(lambda v: kappa / 2 * (v - x) ** 2 + 0.5 * (abs(v) + c) ** 2,
                                     bounds=(-abs(x) - 1, abs(x) + 1), method="bounded", options=dict(xatol=1e-12))
        return r.fun * np.exp(-x * x / (2 * s * s)) / np.sqrt(2 * np.pi * s * s)
    return integrate.quad(inner, -12 * s, 12 * s, limit=200, points=[-c / kappa, c / kappa], epsabs=1e-11)[0]


@pytest.mark.parametrize("s,kappa,c", [(0.8, 0.4, 0.1), (1.3, 3.0, 0.5), (0.5, 0.05, 0.02)])
def test_moreau_envelope_against_quadrature_and_finite_differences(s, kappa, c):
    F0, Fs, Fk, Fc = T.moreau_envelope_parts(s, kappa, c)
    assert F0 == pytest.approx(_F_quadrature(s, kappa, c), abs=1e-8)
    h = 1e-6
    for k, d in enumerate((Fs, Fk, Fc)):
        args = np.array([s, kappa, c], float)
        up, dn = args.copy(), args.copy()
        up[k] += h
        dn[k] -= h
        fd = (T.moreau_envelope_parts(*up)[0] - T.moreau_envelope_parts(*dn)[0]) / (2 * h)
        assert d == pytest.approx(fd, rel=1e-6, abs=1e-9)


# -- reduced system and the literal theorem ---------------------------------------------------------


@pytest.mark.parametrize("eps,psi1,v,t", [
    (0.1, 1.0, (0.608457, 0.301931, 0.441634, 0.0523685, 0.395845), 1.14632),
    (0.1, 6.0, (0.659455, 0.548543, 0.00640129, 0.00852516, 0.00769559), 0.852516),
    (0.3, 0.5, (0.363032, 0.0987852, 0.669733, 0.241398, 0.359658), 0.544413)])
def test_reduced_system_at_the_reference_saddle_points(eps, psi1, v, t):
    x = np.log([v[0], t, v[2] / v[1]])
    assert np.max(np.abs(T.reduced_residuals(x, eps, 0.1, psi1, 2.0))) < 1e-5
    L = T.solve_point(eps, 0.1, psi1, 2.0)
    np.testing.assert_allclose(L.paper_vars, v, rtol=2e-5)


def test_curve_reproduces_the_reference_table():
    psi1 = np.array([0.25, 1, 2, 4, 6, 20, 100, 1000])
    ref = {0.1: ([1.108, 1.107, 1.908, 0.792, 0.715, 0.883, 1.059, 1.104], [0.549, 1.146, 1.808, 1.072, 0.853, 0.503, 0.241, 0.078]),
           0.3: ([1.154, 1.199, 1.322, 1.145, 0.984, 1.047, 1.141, 1.131], [0.296, 0.845, 1.148, 1.061, 0.852, 0.503, 0.241, 0.078])}
    for eps, (ar, t) in ref.items():
        L = T.solve_curve(psi1, eps, 0.1, 2.0)
        np.testing.assert_allclose(L.AR(), ar, atol=6e-4)
        np.testing.assert_allclose(L.t, t, atol=6e-4)
    L = T.solve_point(0.1, 0.1, 1.0, 2.0)
    np.testing.assert_allclose([L.AR(0.0), L.AR(0.3)], [0.918, 1.562], atol=6e-4)
    np.testing.assert_allclose([L.R, L.interp_frac], [0.19533, 0.0652], atol=1e-4)


def test_literal_objective_is_stationary_at_the_reduced_solution():
    L = T.solve_curve([0.5, 4.0], 0.3, 0.1, 2.0)
    for i, p in enumerate([0.5, 4.0]):
        v = L.paper_vars[:, i]
        assert T.paper_objective_R(v, 0.3, 0.1, p, 2.0) == pytest.approx(float(L.R[i]), abs=1e-10)
        dg = T.saddle_diagnostics(v, 0.3, 0.1, p, 2.0)
        assert np.max(np.abs(dg["grad"])) < 1e-7
        assert dg["eig_min"].min() > 0 > dg["eig_max"].max()
        assert T.paper_nu(v, 0.3, 0.1, p) == pytest.approx(float(L.nu[i]), abs=1e-9)
        # moving one variable away from the saddle changes R at first order
        w = v.copy()
        w[0] *= 1.01
        assert T.paper_objective_R(w, 0.3, 0.1, p, 2.0) > float(L.R[i])


def test_grid_is_vectorised_and_robust():
    g = np.geomspace(0.05, 1000, 200)
    L = T.solve_grid(np.array([0.05, 0.5])[:, None, None], np.array([0.0, 0.25])[None, :, None], g, 1.0)
    assert L.SR.shape == (2, 2, 200) and np.all(np.isfinite(L.AR()))
    assert np.all(L.interp_frac <= 1) and np.all(L.SR >= L.sigma2 - 1e-12)


def test_solver_reports_failure_instead_of_nan(monkeypatch):
    monkeypatch.setattr(T, "RESIDUAL_TOL", 0.0)
    with pytest.raises(T.TheoryError, match="no root"):
        T.solve_curve([1.0, 2.0], 0.1, 0.1, 2.0)
    with pytest.raises(ValueError):
        T.solve_point(-0.1, 0.1, 1.0, 2.0)


def test_trivial_regime_threshold_and_limit():
    assert T.is_trivial(0.1, 0.1, 0.0080, 2.0) and not T.is_trivial(0.1, 0.1, 0.0081, 2.0)
    assert T.is_trivial(0.3, 0.1, 0.0730, 2.0) and not T.is_trivial(0.3, 0.1, 0.0732, 2.0)
    L = T.solve_curve([0.05, 0.08], 0.3, 0.1, 2.0)
    assert L.trivial.tolist() == [True, False]
    assert float(L.AR()[0]) == pytest.approx(1.1) and L.t[0] == 0 and L.t[1] > 0


def test_trivial_regime_subgradient_condition_at_finite_d():
    """θ̂ = 0 exactly when ‖J⁻¹Zᵀy/n‖ ≤ ε·mean|y| (checked with the fitter on both sides)."""
    rng = np.random.default_rng(3)
    d, N, n = 200, 20, 400
    W, b0 = data.sphere(N, d, rng), data.sphere(1, d, rng)[0]
    X = rng.standard_normal((n, d))
    y = X @ b0 + np.sqrt(0.1) * rng.standard_normal(n)
    Z = F.rf_features(X, W)
    _, J2 = F.rf_kernels(W)
    wh = F.whiten(J2)
    crit = np.linalg.norm(wh.inv_sqrt_apply(Z.T @ y / n)) / np.mean(np.abs(y))
    small = F.fit_concentrated_surrogate(Z, y, wh, 1.05 * crit)
    large = F.fit_concentrated_surrogate(Z, y, wh, 0.9 * crit)
    assert np.linalg.norm(small.phi) < 1e-3 and np.linalg.norm(large.phi) > 1e-2


# -- finite-d model -----------------------------------------------------------------------------


def test_kernels_and_standard_risk_against_monte_carlo():
    rng = np.random.default_rng(1)
    d, N, m = 8, 5, 400_000
    W, b0 = data.sphere(N, d, rng), data.sphere(1, d, rng)[0]
    X = rng.standard_normal((m, d))
    Z = F.rf_features(X, W)
    K, J2 = F.rf_kernels(W)
    np.testing.assert_allclose(Z.T @ Z / m, K, atol=4e-3)
    act = (X @ W.T > 0).astype(float)
    np.testing.assert_allclose((act.T @ act / m) * (W @ W.T), J2, atol=4e-3)
    assert np.abs(Z.mean(axis=0)).max() < 4e-3
    theta = rng.standard_normal(N)
    y = X @ b0 + np.sqrt(0.1) * rng.standard_normal(m)
    assert np.mean((y - Z @ theta) ** 2) == pytest.approx(F.standard_risk(theta, W, b0, K, 0.1), rel=1e-2)
    f, grad = F.model_and_gradient(W, theta)
    G = grad(X[:50_000])
    assert np.mean(np.sum(G * G, axis=1)) == pytest.approx(theta @ J2 @ theta, rel=1e-2)
    np.testing.assert_allclose(f(X[:10]), Z[:10] @ theta)


def test_input_gradient_against_autograd():
    rng = np.random.default_rng(2)
    W, theta, X = data.sphere(30, 6, rng), rng.standard_normal(30), rng.standard_normal((7, 6))
    Xt = torch.tensor(X, requires_grad=True)
    out = (torch.relu(Xt @ torch.tensor(W).T) - 1 / np.sqrt(2 * np.pi)) @ torch.tensor(theta)
    out.sum().backward()
    np.testing.assert_allclose(F.model_and_gradient(W, theta)[1](X), Xt.grad.numpy(), atol=1e-12)


def _instance(N, n, d=40, seed=4):
    rng = np.random.default_rng(seed)
    W, b0 = data.sphere(N, d, rng), data.sphere(1, d, rng)[0]
    X = rng.standard_normal((n, d))
    y = X @ b0 + np.sqrt(0.1) * rng.standard_normal(n)
    return F.rf_features(X, W), y, F.rf_kernels(W)[1]


def test_smoothed_gradient_against_finite_differences():
    rng = np.random.default_rng(5)
    A, y, c = rng.standard_normal((12, 5)), rng.standard_normal(12), rng.standard_normal(5)
    _, g = F._smoothed(c, A, y, 0.3, 1e-2)
    fd = [(F._smoothed(c + 1e-6 * e, A, y, 0.3, 1e-2)[0] - F._smoothed(c - 1e-6 * e, A, y, 0.3, 1e-2)[0]) / 2e-6
          for e in np.eye(5)]
    np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-9)


def _subgradient_residual(theta, Z, y, J2, eps, tol=1e-3):
    """Optimality certificate of the nonsmooth convex L_ε: with r = y − Zθ, t = ‖Jθ‖ > 0 and
    a_i = |r_i| + εt, 0 ∈ ∂L iff some s_i ∈ [−1, 1] on the points with r_i = 0 (here |r_i| ≤ tol) solve
    (1/n)Σ_{r_i=0} a_i s_i z_i = (1/n)[−Σ_{r_i≠0} a_i sign(r_i) z_i + ε(Σ a_i) J²θ/t]; returns the
    relative residual of the best bounded least-squares s."""
    n = len(y)
    r = y - Z @ theta
    t = np.sqrt(theta @ J2 @ theta)
    a = np.abs(r) + eps * t
    zero = np.abs(r) <= tol
    g0 = (-(Z[~zero].T @ (a[~zero] * np.sign(r[~zero]))) + eps * a.sum() * (J2 @ theta) / t) / n
    scale = np.linalg.norm(Z.T @ a) / n
    if not zero.any():
        return np.linalg.norm(g0) / scale
    sol = optimize.lsq_linear(Z[zero].T * a[zero] / n, g0, bounds=(-1, 1))
    return np.linalg.norm(Z[zero].T @ (a[zero] * sol.x) / n - g0) / scale


@pytest.mark.parametrize("N,n,eps", [(20, 60, 0.2), (60, 60, 0.1), (80, 40, 0.3)])
def test_surrogate_fit_satisfies_the_subgradient_optimality_condition(N, n, eps):
    """The whitened, reduced, smoothed L-BFGS solution is a minimiser of the unsmoothed objective in
    the original θ coordinates: 0 is (nearly) a subgradient there, and not at a perturbed θ."""
    Z, y, J2 = _instance(N, n)
    fit = F.fit_concentrated_surrogate(Z, y, F.whiten(J2), eps)
    assert _subgradient_residual(fit.theta, Z, y, J2, eps) < 1e-4
    rng = np.random.default_rng(1)
    assert _subgradient_residual(fit.theta * 1.002, Z, y, J2, eps) > 1e-2
    L = F.surrogate_objective(fit.theta, Z, y, J2, eps)
    for _ in range(20):
        other = fit.theta + 1e-3 * np.linalg.norm(fit.theta) * rng.standard_normal(N) / np.sqrt(N)
        assert F.surrogate_objective(other, Z, y, J2, eps) > L


def test_min_J_norm_interpolator_interpolates_and_is_minimal():
    Z, y, J2 = _instance(120, 30)
    th = F.min_J_norm_interpolator(Z, y, J2)
    np.testing.assert_allclose(Z @ th, y, atol=1e-9)
    null = np.linalg.svd(Z)[2][30:].T  # directions with Zv = 0
    rng = np.random.default_rng(0)
    for _ in range(5):
        other = th + null @ rng.standard_normal(null.shape[1]) * 0.1
        assert other @ J2 @ other > th @ J2 @ th
    # far beyond interpolation the adversarial fit is this interpolator
    fit = F.fit_concentrated_surrogate(Z, y, F.whiten(J2), 0.1)
    assert np.linalg.norm(fit.theta - th) / np.linalg.norm(th) < 1e-3


def test_whiten_rejects_singular_J2():
    W = np.repeat(data.sphere(3, 5, np.random.default_rng(0)), 2, axis=0)
    with pytest.raises(ValueError, match="nearly singular"):
        F.whiten(F.rf_kernels(W)[1])
    with pytest.raises(ValueError, match="nearly singular"):
        F.whiten_cholesky(F.rf_kernels(W)[1])


def test_cholesky_whitening_is_nested_and_gives_the_same_fit_as_the_symmetric_one():
    """φ = Lᵀθ (J² = LLᵀ) is the symmetric φ = Jθ rotated: same ‖φ‖, same Zθ, same fit and
    interpolator; leading blocks of L and of ZL⁻ᵀ are those of the smaller problem."""
    Z, y, J2 = _instance(90, 30)
    sym, ch = F.whiten(J2), F.whiten_cholesky(J2)
    np.testing.assert_allclose(ch.evals, sym.evals, rtol=1e-12)
    theta = np.random.default_rng(2).standard_normal(90)
    phi = ch.L.T @ theta
    np.testing.assert_allclose(ch.to_theta(phi), theta, rtol=1e-10)
    np.testing.assert_allclose(phi @ phi, theta @ J2 @ theta, rtol=1e-12)
    np.testing.assert_allclose(ch.design(Z) @ phi, Z @ theta, rtol=1e-10, atol=1e-10)
    N, n = 50, 20                                    # nested leading blocks
    small = F.whiten_cholesky(J2[:N, :N], L=ch.L[:N, :N])
    np.testing.assert_allclose(small.L, F.cholesky_factor(J2[:N, :N]), atol=1e-13)
    np.testing.assert_allclose(F.cholesky_design(Z, ch.L)[:n, :N], small.design(Z[:n, :N]), atol=1e-11)
    a, b = F.fit_concentrated_surrogate(Z, y, sym, 0.3), F.fit_concentrated_surrogate(Z, y, ch, 0.3)
    assert np.linalg.norm(a.theta - b.theta) <= 1e-6 * np.linalg.norm(a.theta)
    Zs, ys, J2s = _instance(120, 30)
    chs = F.whiten_cholesky(J2s)
    np.testing.assert_allclose(F.min_J_norm_interpolator_whitened(chs.design(Zs), ys, chs),
                               F.min_J_norm_interpolator(Zs, ys, J2s), rtol=1e-9)


# -- attack ----------------------------------------------------------------------------------------


def test_pgd_regression_is_exact_on_a_linear_model():
    rng = np.random.default_rng(6)
    w, X, y = rng.standard_normal(5), rng.standard_normal((700, 5)), rng.standard_normal(700)
    loss, fmax, fmin = attacks.pgd_l2_regression(lambda Z: Z @ w, lambda Z: np.tile(w, (len(Z), 1)), X, y, 0.4,
                                                 chunk=300)
    np.testing.assert_allclose(loss, (np.abs(y - X @ w) + 0.4 * np.linalg.norm(w)) ** 2, rtol=1e-12)
    np.testing.assert_allclose(fmax - fmin, 0.8 * np.linalg.norm(w), rtol=1e-12)


def test_pgd_regression_beats_random_search_on_a_random_features_model():
    rng = np.random.default_rng(7)
    d, eps = 10, 0.3
    W, theta = data.sphere(50, d, rng), rng.standard_normal(50)
    X, y = rng.standard_normal((40, d)), rng.standard_normal(40)
    f, g = F.model_and_gradient(W, theta)
    loss, _, _ = attacks.pgd_l2_regression(f, g, X, y, eps)
    U = rng.standard_normal((2000, d))
    U *= eps / np.linalg.norm(U, axis=1, keepdims=True)
    rand = np.array([np.max((y[i] - f(X[i] + U)) ** 2) for i in range(len(X))])
    assert np.all(loss >= rand - 1e-9) and np.all(loss >= (y - f(X)) ** 2)


def test_fused_random_features_pgd_equals_the_generic_one():
    """attacks.pgd_l2_regression_rf (torch, f and ∇f from one product) is the same iteration as
    attacks.pgd_l2_regression with the model's f and ∇f (chunks that do not divide n)."""
    rng = np.random.default_rng(8)
    d, eps = 12, 0.4
    W, theta = data.sphere(70, d, rng), rng.standard_normal(70)
    X, y = rng.standard_normal((45, d)), rng.standard_normal(45)
    f, g = F.model_and_gradient(W, theta)
    ref = attacks.pgd_l2_regression(f, g, X, y, eps, steps=30, chunk=20)
    out = attacks.pgd_l2_regression_rf(W, theta, X, y, eps, steps=30, shift=F.SHIFT, chunk=20)
    for a, b in zip(ref, out):
        np.testing.assert_allclose(b, a, rtol=1e-12, atol=1e-12)
    assert np.all(out[1] > f(X)) and np.all(out[2] < f(X))
