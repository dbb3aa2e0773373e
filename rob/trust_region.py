"""The trust-region subproblem, solved exactly, and the worst-case ℓ2 perturbation of a quadratic form.

**Trust-region subproblem (TRS).**  For a symmetric ``H ∈ R^{d×d}``, ``c ∈ R^d`` and ``r > 0``,

    minimise  q(δ) = ½ δᵀHδ + cᵀδ   subject to   ‖δ‖ ≤ r.

A classical theorem (Gay 1981; Moré & Sorensen 1983) characterises the *global* minimisers:
``δ*`` is one iff there is ``λ ≥ 0`` with

    (H + λI) δ* = −c,    H + λI ⪰ 0,    λ (r − ‖δ*‖) = 0.

With the eigendecomposition ``H = U diag(h) Uᵀ`` (``h`` ascending) and ``c̃ = Uᵀc`` the candidate
``δ(λ) = −Σ_i c̃_i/(h_i + λ) u_i`` has ``‖δ(λ)‖² = Σ_i c̃_i²/(h_i + λ)²``, decreasing in ``λ``, so
``λ`` solves the scalar *secular equation* ``‖δ(λ)‖ = r`` on ``λ > max(0, −h_1)``, unless

- ``h_1 > 0`` and ``‖H⁻¹c‖ ≤ r``: interior solution, ``λ = 0``;
- the **hard case**: ``c̃_i = 0`` for every ``i`` of the bottom eigenspace, ``h_1 ≤ 0`` and
  ``‖δ(−h_1)‖ < r`` (terms ``0/0`` read as 0).  Then ``λ = −h_1`` and
  ``δ* = δ(−h_1) + τ u_1`` with ``τ = √(r² − ‖δ(−h_1)‖²)``.

Numerics.  The equation is solved in the shifted variable ``t = λ + h_1`` (denominators
``γ_i + t`` with the gaps ``γ_i = h_i − h_1 ≥ 0``), so that roots within round-off of the pole
(the "nearly hard" case) keep full relative precision.  Newton's method on
``ψ(t) = 1/‖δ(t)‖ − 1/r``, which is increasing and concave, started at the lower bound
``t₀ = max(max(0, h_1), max_i(|c̃_i|/r − γ_i)) ≤ t*``, increases monotonically to the root and
never overshoots (Moré & Sorensen's iteration without safeguards).  Everything is vectorised over
many right-hand sides and radii.

**Worst-case change of a quadratic form.**  For ``f(x) = xᵀAx + bᵀx + c₀`` and ``g = ∇f(x) = 2Ax + b``,
``f(x + δ) − f(x) = gᵀδ + δᵀAδ`` exactly, so

    Δ(x, r) = max_{‖δ‖≤r} |f(x + δ) − f(x)| = max(−q₊*, −q₋*),

with ``q₊*`` the TRS optimum for ``(H, c) = (−2A, −g)`` (largest increase) and ``q₋*`` the one for
``(2A, g)`` (largest decrease).  Elementary bounds:
``r‖g‖ + r²|ĝᵀAĝ| ≤ Δ(x, r) ≤ r‖g‖ + r²‖A‖_op`` (``ĝ = g/‖g‖``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class TrustRegionSolution:
    """Global minimisers of ``½δᵀHδ + cᵀδ`` over ``‖δ‖ ≤ r``, one per right-hand side (leading shape
    ``S`` of the inputs): ``delta`` (S + (d,); ``None`` when not rotated back), optimal ``value``,
    multiplier ``lam ≥ 0``, the flags ``interior`` (``λ = 0``, ``‖δ‖ < r``) and ``hard`` (hard case,
    ``λ = −h_1``), and ``delta_eig``, ``c_eig``: ``Uᵀδ`` and ``Uᵀc`` in the eigenbasis."""

    delta: np.ndarray | None
    value: np.ndarray
    lam: np.ndarray
    interior: np.ndarray
    hard: np.ndarray
    delta_eig: np.ndarray
    c_eig: np.ndarray


def _norm2(ct: np.ndarray, den: np.ndarray) -> np.ndarray:
    """``Σ_i (c̃_i/den_i)²`` with ``0/0`` read as 0."""
    q = np.divide(ct, den, out=np.zeros(np.broadcast_shapes(ct.shape, den.shape)), where=den != 0)
    return np.sum(q * q, axis=-1)


def solve_eig(h: np.ndarray, U: np.ndarray, c: np.ndarray, radius, rtol: float = 1e-13,
              max_iter: int = 100, rotate_back: bool = True) -> TrustRegionSolution:
    """Exact TRS with ``H = U diag(h) Uᵀ`` given (``h`` ascending, ``U`` orthogonal), for ``c`` of
    shape (..., d) and ``radius`` broadcastable to ``c.shape[:-1]``.  See the module docstring.
    ``rotate_back=False`` skips ``δ = U δ̃`` (one ``(…, d) × (d, d)`` product) when only values are needed."""
    h = np.asarray(h, dtype=float)
    if np.any(np.diff(h) < 0):
        raise ValueError("eigenvalues h must be in ascending order")
    c = np.asarray(c, dtype=float)
    shape = np.broadcast_shapes(c.shape[:-1], np.shape(radius))
    r = np.broadcast_to(np.asarray(radius, dtype=float), shape)
    if np.any(~(r > 0)):
        raise ValueError("the radius must be positive")
    ct = np.broadcast_to(c @ U, shape + (len(h),))
    h1 = h[0]
    gap = h - h1
    gap[0] = 0.0
    t_lo = max(h1, 0.0)
    t = np.maximum(t_lo, np.max(np.abs(ct) / r[..., None] - gap, axis=-1))
    nrm = np.sqrt(_norm2(ct, gap + t[..., None]))
    at_lo = (t == t_lo) & (nrm <= r)                   # interior or hard case: no root beyond t_lo
    # otherwise t₀ ≤ t*: Newton from the left, on the unconverged entries only (there γ_i + t > 0)
    d = len(h)
    ctf, rf, tf = ct.reshape(-1, d), r.reshape(-1), t.reshape(-1).copy()
    idx = np.flatnonzero(~at_lo.reshape(-1) & (np.abs(nrm - r) > rtol * r).reshape(-1))
    for _ in range(max_iter):
        if idx.size == 0:
            break
        ti, ri = tf[idx], rf[idx]
        den = gap + ti[:, None]
        q2 = (ctf[idx] / den) ** 2
        n2 = q2.sum(axis=1)
        n3 = (q2 / den).sum(axis=1)
        nrm_i = np.sqrt(n2)
        step = (nrm_i - ri) / ri * n2 / n3
        tf[idx] = ti + step
        idx = idx[(np.abs(nrm_i - ri) > rtol * ri) & (step > 4 * np.finfo(float).eps * ti)]
    t = tf.reshape(shape)
    den = gap + t[..., None]
    dt = -np.divide(ct, den, out=np.zeros(ct.shape), where=den != 0)
    interior = at_lo & (h1 > 0)
    hard = at_lo & ~interior
    if hard.any():
        tau = np.sqrt(np.maximum(r**2 - np.sum(dt * dt, axis=-1), 0.0))
        dt[..., 0] = np.where(hard, tau, dt[..., 0])
    value = np.sum(0.5 * h * dt * dt + ct * dt, axis=-1)
    return TrustRegionSolution(delta=dt @ U.T if rotate_back else None, value=value, lam=t - h1,
                               interior=interior, hard=hard, delta_eig=dt, c_eig=ct)


def kkt_violation(h: np.ndarray, radius, sol: TrustRegionSolution) -> np.ndarray:
    """Largest violation of the global optimality conditions of the theorem, per problem, each
    relative to its natural scale: stationarity ``‖(H + λI)δ + c‖/(‖c‖ + (max|h| + λ)r)``,
    ``λ ≥ 0`` and ``H + λI ⪰ 0`` (``max(0, −λ, −(h_1 + λ))/(max|h| + λ)``), feasibility
    ``max(0, ‖δ‖ − r)/r`` and complementarity ``λ|r − ‖δ‖|/((max|h| + λ)r)``.  A value at round-off
    level certifies that the solution is a global minimiser.  Evaluated in the eigenbasis
    (``sol.delta_eig``, ``sol.c_eig``), where ``H`` is ``diag(h)``."""
    h = np.asarray(h, dtype=float)
    r = np.broadcast_to(np.asarray(radius, dtype=float), sol.lam.shape)
    lam = sol.lam
    dt, ct = sol.delta_eig, sol.c_eig
    stat = np.linalg.norm((h + lam[..., None]) * dt + ct, axis=-1)
    hscale = np.max(np.abs(h)) + np.abs(lam)
    nd = np.linalg.norm(dt, axis=-1)
    v = [stat / (np.linalg.norm(ct, axis=-1) + hscale * r),
         np.maximum(0.0, np.maximum(-lam, -(h[0] + lam))) / hscale,
         np.maximum(0.0, nd - r) / r,
         np.abs(lam) * np.abs(r - nd) / (hscale * r)]
    return np.max(np.stack(np.broadcast_arrays(*v)), axis=0)


def solve(H: np.ndarray, c: np.ndarray, radius, **kw) -> TrustRegionSolution:
    """Exact TRS for a symmetric matrix ``H`` (one ``eigh``), see :func:`solve_eig`."""
    h, U = np.linalg.eigh(np.asarray(H, dtype=float))
    return solve_eig(h, U, c, radius, **kw)


@dataclass(frozen=True)
class WorstChange:
    """Worst-case ℓ2 change of a quadratic form, arrays of shape (radii, points): ``up`` = largest
    increase, ``down`` = largest decrease (both ≥ 0), ``delta`` = the maximiser of ``|f(x+δ) − f(x)|``
    (radii, points, d), ``hard`` (either side was a hard case) and ``kkt``, the larger
    :func:`kkt_violation` of the two problems (a certificate of global optimality)."""

    up: np.ndarray
    down: np.ndarray
    delta: np.ndarray | None
    hard: np.ndarray
    kkt: np.ndarray

    @property
    def value(self) -> np.ndarray:
        """``Δ(x, r) = max(up, down)``."""
        return np.maximum(self.up, self.down)


def worst_change(A: np.ndarray, G: np.ndarray, radii, eig: tuple[np.ndarray, np.ndarray] | None = None,
                 with_delta: bool = True) -> WorstChange:
    """``Δ(x, r) = max_{‖δ‖≤r} |gᵀδ + δᵀAδ|`` for every gradient ``g = ∇f(x)`` (rows of ``G``) and
    every radius: two TRS, ``(H, c) = (−2A, −g)`` and ``(2A, g)``, sharing one eigendecomposition of
    ``A`` (``eig = numpy.linalg.eigh(A)`` may be passed).  ``with_delta=False`` returns no maximiser
    (saves two ``(radii·points, d) × (d, d)`` products)."""
    a, V = np.linalg.eigh(A) if eig is None else eig
    G = np.atleast_2d(np.asarray(G, dtype=float))
    rr = np.asarray(radii, dtype=float).reshape(-1, 1)
    hu, Vu = -2.0 * a[::-1], V[:, ::-1]
    up = solve_eig(hu, Vu, -G[None], rr, rotate_back=with_delta)
    down = solve_eig(2.0 * a, V, G[None], rr, rotate_back=with_delta)
    use_up = (-up.value) >= (-down.value)
    delta = np.where(use_up[..., None], up.delta, down.delta) if with_delta else None
    kkt = np.maximum(kkt_violation(hu, rr, up), kkt_violation(2.0 * a, rr, down))
    return WorstChange(up=-up.value, down=-down.value, delta=delta, hard=up.hard | down.hard, kkt=kkt)


def change_bounds(A: np.ndarray, G: np.ndarray, radii) -> tuple[np.ndarray, np.ndarray]:
    """The elementary bracket of :func:`worst_change`, shape (radii, points):
    ``r‖g‖ + r²|ĝᵀAĝ| ≤ Δ(x, r) ≤ r‖g‖ + r²‖A‖_op``."""
    G = np.atleast_2d(np.asarray(G, dtype=float))
    rr = np.asarray(radii, dtype=float).reshape(-1, 1)
    gn = np.linalg.norm(G, axis=1)
    curv = np.abs(np.einsum("ij,jk,ik->i", G, A, G)) / np.where(gn > 0, gn * gn, 1.0)
    op = float(np.max(np.abs(np.linalg.eigvalsh(A))))
    return rr * gn + rr**2 * curv, rr * gn + rr**2 * op
