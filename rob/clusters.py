"""Clustered data and the robust width-k network of the implicit-bias chapter (Frei, Vardi, Bartlett
& Srebro 2023, arXiv:2303.01456).

Data model.  Cluster means ``μ_1..μ_k ∈ ℝ^d`` with ``‖μ_j‖ = √d`` (a ``k×d`` array ``mu``), one label
``y^(j) ∈ {±1}`` per cluster.  A sample draws ``j`` uniformly, ``x = μ_j + ξ`` with ``ξ ~ N(0, σ² I_d)``
and ``y = y^(j)``.

Universal direction ``s = Σ_j y^(j) μ_j`` (``‖s‖ = √(kd)`` for orthogonal means); the perturbation of
size ``c`` is ``z_c = (c/k) s``, so ``‖z_c‖ = c √(d/k)``, applied as ``x − y z_c``.

Robust network ``N_rob(x) = Σ_j y^(j) φ(a_j(x))`` with ``a_j(x) = 4⟨μ_j, x⟩/d − 2``.  For exactly
orthogonal means and a point where only its own-cluster unit ``q`` is active, its ℓ2 radius with ties
counted as errors is ``r(x) = (√d/4) a_q(x) = √d/2 + ⟨μ_q, ξ⟩/√d``, so that the certified accuracy is
``CA(r) = Φ((√d/2 − r)/σ)`` (derived for the book, see the chapter).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr


def orthogonal_means(d: int, k: int, rng: np.random.Generator) -> np.ndarray:
    """``μ_j = √d q_j`` with ``q_j`` the orthonormal columns of the reduced QR factor of a ``d×k``
    standard Gaussian matrix; returns a ``k×d`` array."""
    if k > d:
        raise ValueError(f"need k <= d for orthogonal means, got k={k}, d={d}")
    q, _ = np.linalg.qr(rng.standard_normal((d, k)))
    return np.sqrt(d) * q.T


def gaussian_means(d: int, k: int, rng: np.random.Generator) -> np.ndarray:
    """``μ_j = √d g_j/‖g_j‖`` with ``g_j ~ N(0, I_d)``: nearly orthogonal, ``|⟨μ_i, μ_j⟩| ≈ √d``."""
    g = rng.standard_normal((k, d))
    return np.sqrt(d) * g / np.linalg.norm(g, axis=1, keepdims=True)


def means(kind: str, d: int, k: int, rng: np.random.Generator) -> np.ndarray:
    """Cluster means of ``kind`` ``"orthogonal"`` (default of the chapter) or ``"gaussian"``."""
    if kind == "orthogonal":
        return orthogonal_means(d, k, rng)
    if kind == "gaussian":
        return gaussian_means(d, k, rng)
    raise ValueError(f"unknown kind of means {kind!r}; use 'orthogonal' or 'gaussian'")


def default_labels(k: int, n_pos: int | None = None) -> np.ndarray:
    """Cluster labels: the first ``n_pos`` (default ``⌊k/2⌋``) clusters +1, the rest −1."""
    n_pos = k // 2 if n_pos is None else n_pos
    if not 0 < n_pos < k:
        raise ValueError(f"both labels must occur: 0 < n_pos < k, got n_pos={n_pos}, k={k}")
    return np.where(np.arange(k) < n_pos, 1.0, -1.0)


@dataclass(frozen=True)
class Sample:
    """``n`` points ``X`` (n×d), labels ``y`` (±1) and cluster indices ``idx``."""

    X: np.ndarray
    y: np.ndarray
    idx: np.ndarray


def sample(mu: np.ndarray, labels: np.ndarray, n: int, sigma: float, rng: np.random.Generator) -> Sample:
    """Draw ``j ~ Unif{1..k}``, ``x = μ_j + ξ``, ``ξ ~ N(0, σ² I)``, ``y = y^(j)``."""
    k, d = mu.shape
    idx = rng.integers(0, k, n)
    X = rng.standard_normal((n, d))
    for rows in _row_blocks(n, d):  # a block of rows at a time
        _shift(X[rows], mu, idx[rows], sigma)
    return Sample(X, labels[idx].astype(float), idx)


def _shift(xi: np.ndarray, mu: np.ndarray, idx: np.ndarray, sigma: float) -> None:
    """Standard normal rows ``ξ`` become ``x = μ_idx + σ ξ``, in place."""
    xi *= sigma
    xi += mu[idx]


def sample_blocks(mu: np.ndarray, labels: np.ndarray, n: int, sigma: float, rng: np.random.Generator,
                  nbytes: int = 1 << 24) -> Iterator[tuple[slice, Sample]]:
    """The sample of :func:`sample` a block of about ``nbytes`` of rows at a time: the same draws in
    the same order, hence the same numbers and the same state of ``rng`` afterwards, but only one
    block is ever in memory.  The blocks share one buffer: a block's ``X`` is valid until the next
    block is drawn.  Yields ``(rows, block)`` with ``rows`` the block's slice of the whole sample."""
    k, d = mu.shape
    idx = rng.integers(0, k, n)
    blocks = _row_blocks(n, d, nbytes)
    buf = np.empty((blocks[0].stop if blocks else 0, d))
    for rows in blocks:
        X = buf[: rows.stop - rows.start]
        rng.standard_normal(out=X)
        _shift(X, mu, idx[rows], sigma)
        yield rows, Sample(X, labels[idx[rows]].astype(float), idx[rows])


def _row_blocks(n: int, d: int, nbytes: int = 1 << 21) -> list[slice]:
    """Slices of about ``nbytes`` of float64 rows of length ``d``: elementwise passes over an n×d
    array stay in cache instead of streaming n×d temporaries through memory."""
    step = max(1, nbytes // (8 * d))
    return [slice(i, min(i + step, n)) for i in range(0, n, step)]


def universal_direction(mu: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """``s = Σ_j y^(j) μ_j``."""
    return labels @ mu


def robust_preacts(X: np.ndarray, mu: np.ndarray) -> np.ndarray:
    """``a_j(x) = 4⟨μ_j, x⟩/d − 2`` for every row of ``X`` (n×k)."""
    d = mu.shape[1]
    return 4.0 * (X @ mu.T) / d - 2.0


def robust_output(X: np.ndarray, mu: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """``N_rob(x) = Σ_j y^(j) φ(a_j(x))``."""
    return np.maximum(robust_preacts(X, mu), 0.0) @ labels


def robust_output_along(X: np.ndarray, U: np.ndarray | tuple[np.ndarray, np.ndarray], mu: np.ndarray,
                        labels: np.ndarray, c: np.ndarray) -> np.ndarray:
    """``N_rob(x_i − c u_i)`` for every ``c`` (rows) and every row ``x_i`` of ``X`` (columns);
    ``U`` as in :func:`rob.attacks.directions_times` (n×d, or ``(a, s)`` for ``U = a sᵀ``).

    The pre-activations are affine in ``c``: ``a(x − cu) = a(x) − c (4/d) M u``, so one product with
    ``X`` and one with ``U`` serve the whole grid (instead of one n×d product per ``c``)."""
    from .attacks import directions_times

    d = mu.shape[1]
    a0 = robust_preacts(X, mu)                      # n×k
    slope = 4.0 * directions_times(U, mu) / d        # n×k
    return np.stack([np.maximum(a0 - ci * slope, 0.0) @ labels for ci in np.asarray(c, dtype=float)])


@dataclass(frozen=True)
class RobustRadius:
    """Exact ℓ2 radii of ``N_rob`` (orthogonal means; an approximation otherwise).

    ``r``: ties count as errors; ``r_strict``: a strict sign flip is needed; ``exceptions``: points
    with a number of active own-label units other than one; ``kill_wins``: whether the minimum of
    ``r`` is attained by switching the own-label units off (the case of the constructive certificate).
    """

    r: np.ndarray
    r_strict: np.ndarray
    exceptions: int
    kill_wins: np.ndarray
    a_own: np.ndarray
    own: np.ndarray


def robust_radius(X: np.ndarray, y: np.ndarray, mu: np.ndarray, labels: np.ndarray) -> RobustRadius:
    """Exact radius of ``N_rob`` at every test point (misclassified points get radius 0).

    With ``MMᵀ = dI`` the map ``x ↦ a(x)`` is affine with ``a(x+δ) = a(x) + (4/d)Mδ``; a change ``Δa``
    costs at least ``‖δ‖ = (√d/4)‖Δa‖``.  Hence ``r = (√d/4) min(kill, cross)`` with
    ``kill = (Σ_{own j} φ(a_j)²)^{1/2}`` and
    ``cross = ((a_q − L)² + (L − a_{j*})²)^{1/2}``, ``L = max((a_q + a_{j*})/2, 0)``, ``a_q`` the
    largest own-label and ``a_{j*}`` the largest opposite-label pre-activation; ``r_strict`` uses
    ``cross`` only.
    """
    d = mu.shape[1]
    a = robust_preacts(X, mu)
    same = labels[None, :] == y[:, None]
    a_own = np.where(same, a, -np.inf).max(axis=1)
    a_opp = np.where(~same, a, -np.inf).max(axis=1)
    own = np.argmax(np.where(same, a, -np.inf), axis=1)
    n_active_own = np.sum(same & (a > 0), axis=1)
    kill = np.sqrt(np.sum(np.where(same, np.maximum(a, 0.0), 0.0) ** 2, axis=1))
    L = np.maximum((a_own + a_opp) / 2, 0.0)
    cross = np.sqrt((a_own - L) ** 2 + (L - a_opp) ** 2)
    correct = y * robust_output(X, mu, labels) > 0
    scale = np.sqrt(d) / 4
    r = np.where(correct, scale * np.minimum(kill, cross), 0.0)
    r_strict = np.where(correct, scale * cross, 0.0)
    return RobustRadius(r, r_strict, int(np.sum(n_active_own != 1)), kill <= cross, a_own, own)


def certificate_passes(X: np.ndarray, y: np.ndarray, mu: np.ndarray, labels: np.ndarray,
                       rad: RobustRadius) -> np.ndarray:
    """Constructive check of the radius at every point: ``δ* = −(a_q/4) μ_q`` has norm ``r(x)``,
    ``y N_rob(x + (1 + 10⁻⁹)δ*) ≤ 0`` and ``y N_rob(x + (1 − 10⁻⁶)δ*) > 0``.  Only points where the
    minimum is attained by ``kill`` with one active own unit can pass (all of them in the chapter)."""
    n, d = X.shape
    norm_ok, flips, holds = (np.empty(n, bool) for _ in range(3))
    for rows in _row_blocks(n, d):  # δ*, x + δ* are formed a block of rows at a time
        delta = -(rad.a_own[rows] / 4)[:, None] * mu[rad.own[rows]]
        norm_ok[rows] = np.isclose(np.linalg.norm(delta, axis=1), rad.r[rows], rtol=1e-9, atol=0)
        flips[rows] = y[rows] * robust_output(X[rows] + (1 + 1e-9) * delta, mu, labels) <= 0
        holds[rows] = y[rows] * robust_output(X[rows] + (1 - 1e-6) * delta, mu, labels) > 0
    return norm_ok & flips & holds & rad.kill_wins


def certified_accuracy(radii: np.ndarray, r_grid: np.ndarray) -> np.ndarray:
    """Empirical ``CA(r)`` = fraction of points with radius ``> r``, for every ``r`` of ``r_grid``."""
    radii = np.sort(np.asarray(radii, float))
    return 1.0 - np.searchsorted(radii, np.asarray(r_grid, float), side="right") / len(radii)


def theory_certified_accuracy(r: np.ndarray, d: int, sigma: float) -> np.ndarray:
    """``CA(r) = Φ((√d/2 − r)/σ)`` (exact for orthogonal means when one own unit is active;
    for ``σ = 0`` a step at ``√d/2``)."""
    r = np.asarray(r, float)
    if sigma == 0:
        return (r < np.sqrt(d) / 2).astype(float)
    return ndtr((np.sqrt(d) / 2 - r) / sigma)


def dkw_bound(n: int, alpha: float = 1e-4) -> float:
    """Dvoretzky–Kiefer–Wolfowitz band ``√(ln(2/α)/(2n))``: ``sup|F̂ − F|`` exceeds it with
    probability at most ``α``."""
    return float(np.sqrt(np.log(2 / alpha) / (2 * n)))
