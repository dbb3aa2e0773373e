"""Argument stability, robust generalization gap and the stability bounds of adversarial training
(the stability chapter; bounds derived for the book, see the chapter's Lemma 1 and Theorems A, B).

Measurements:

- argument stability ``Δ_T = ‖W_T(S) − W_T(S^{(i)})‖_F`` for each replaced index ``i``;
- robust loss ``(1/n) Σ_i max_{x̃ ∈ B(x_i)} ℓ(y_i f(W; x̃))`` (estimated by PGD) and the robust
  generalization gap ``L(W) − L̂_S(W)`` (test minus training robust loss).

Constants and bounds (``ε₂`` the ℓ2 radius containing the threat set, ``C_x ≥ ‖x‖``):

- ``G = L_ℓ L_σ (C_x + ε₂)`` (Lipschitz), ``ρ = L_ℓ H_σ (C_x + ε₂)²/√m`` (weak convexity);
- ``B_AT(T) = 2ηG(√T + T/n)(1 + 2ηρ)^{T/2}`` (Theorem A);
- ``B_ME(T) = 2ηGT/(n(1 − λρ)) · (1 + ηρ/(1 − λρ))^T`` if ``λρ ≤ 1/2`` and ``η ≤ λ`` (Theorem B);
- ``m⋆ = (ηT L_ℓ H_σ (C_x + ε₂)²)²``, the width at which ``ηρT ≤ 1``.

The bounds overflow float64 at the widths one can train, so they are returned as ``log10``.
"""

from __future__ import annotations

import math

import numpy as np

from .attacks import pgd_classification
from .two_layer import as_tensor, logistic, margins


class HypothesisViolated(ValueError):
    """A bound was asked for outside its hypotheses (e.g. ``λρ > 1/2`` for Theorem B)."""


# ----------------------------------------------------------------------------------------------
# measurements
# ----------------------------------------------------------------------------------------------


def argument_stability(W: np.ndarray) -> np.ndarray:
    """``Δ = ‖W[..., j, :, :] − W[..., 0, :, :]‖_F`` for replicas ``j = 1..R−1`` (replica 0 is the
    run on ``S``): input ``(..., R, m, d)``, output ``(..., R − 1)``."""
    W = np.asarray(W)
    return np.sqrt(np.sum((W[..., 1:, :, :] - W[..., :1, :, :]) ** 2, axis=(-1, -2)))


def robust_loss(W, a, X, y, eps: float, steps: int = 10, norm: str = "linf", act: str = "softplus",
                device: str = "cpu") -> tuple[np.ndarray, np.ndarray]:
    """Robust logistic loss and robust 0-1 error (ties count as errors) of ``W`` ((m, d) or
    (R, m, d)) on ``(X, y)``, with the attack points of PGD-``steps``; arrays over replicas."""
    Wt, at = as_tensor(W, device), as_tensor(a, device)
    Xt, yt = as_tensor(X, device), as_tensor(y, device)
    Xa = pgd_classification(Wt, at, Xt, yt, eps, steps, norm, act)
    u = margins(Wt, at, Xa, yt, act)
    return logistic(u).mean(-1).cpu().numpy(), (u <= 0).double().mean(-1).cpu().numpy()


def robust_gap(W, a, X, y, X_test, y_test, eps: float, steps: int = 10, norm: str = "linf",
               act: str = "softplus", device: str = "cpu") -> dict[str, float]:
    """Robust train/test loss and error of one ``W`` (m, d) and the gap ``L(W) − L̂_S(W)``."""
    tr, tr_err = robust_loss(W, a, X, y, eps, steps, norm, act, device)
    te, te_err = robust_loss(W, a, X_test, y_test, eps, steps, norm, act, device)
    return dict(train_loss=float(tr), test_loss=float(te), train_err=float(tr_err), test_err=float(te_err),
                gap=float(te - tr))


def matched_loss_ratio(loss_b: np.ndarray, value_b: np.ndarray, loss_target: float, value_a: float) -> float:
    """Method B's ``value`` interpolated (linearly, between snapshots) at the training loss
    ``loss_target`` that method A reaches, divided by A's ``value`` there.  ``loss_b`` must be
    decreasing along the snapshots; NaN if ``loss_target`` is outside B's range (no extrapolation)."""
    loss_b, value_b = np.asarray(loss_b, float), np.asarray(value_b, float)
    if np.any(np.diff(loss_b) >= 0):
        return float("nan")
    if not loss_b.min() <= loss_target <= loss_b.max() or value_a == 0:
        return float("nan")
    return float(np.interp(loss_target, loss_b[::-1], value_b[::-1]) / value_a)


def huber_envelope(w, lam: float) -> tuple[np.ndarray, np.ndarray]:
    """Moreau envelope of ``|w|`` and its prox: ``M_λ(w) = w²/(2λ)`` for ``|w| ≤ λ``, ``|w| − λ/2``
    otherwise (the Huber function); ``prox_λ(w) = sign(w) max(|w| − λ, 0)`` (soft thresholding)."""
    w = np.asarray(w, float)
    env = np.where(np.abs(w) <= lam, w * w / (2 * lam), np.abs(w) - lam / 2)
    return env, np.sign(w) * np.maximum(np.abs(w) - lam, 0.0)


# ----------------------------------------------------------------------------------------------
# constants and bounds
# ----------------------------------------------------------------------------------------------


def eps_l2(eps: float, d: int, norm: str = "linf") -> float:
    """Radius of an ℓ2 ball containing the threat set: ``ε√d`` for an ℓ∞ ball, ``ε`` for ℓ2."""
    if norm not in ("linf", "l2"):
        raise ValueError(f"norm must be 'linf' or 'l2', got {norm!r}")
    return eps * math.sqrt(d) if norm == "linf" else eps


def lipschitz_const(C_x: float, eps2: float, L_sigma: float = 1.0, L_ell: float = 1.0) -> float:
    """Lemma 1: ``G = L_ℓ L_σ (C_x + ε₂)``."""
    return L_ell * L_sigma * (C_x + eps2)


def weak_convexity_const(C_x: float, eps2: float, m: int, H_sigma: float = 0.25, L_ell: float = 1.0) -> float:
    """Lemma 1: ``ρ = L_ℓ H_σ (C_x + ε₂)²/√m``."""
    return L_ell * H_sigma * (C_x + eps2) ** 2 / math.sqrt(m)


def bound_at(T, n: int, eta: float, G: float, rho: float) -> np.ndarray:
    """``log10 B_AT(T)``, ``B_AT = 2ηG(√T + T/n)(1 + 2ηρ)^{T/2}`` (Theorem A)."""
    T = np.asarray(T, float)
    return np.log10(2 * eta * G * (np.sqrt(T) + T / n)) + T / 2 * np.log1p(2 * eta * rho) / math.log(10)


def bound_moreau(T, n: int, eta: float, lam: float, G: float, rho: float) -> np.ndarray:
    """``log10 B_ME(T)``, ``B_ME = 2ηGT/(n(1 − λρ)) (1 + ηρ/(1 − λρ))^T`` (Theorem B); raises
    :class:`HypothesisViolated` unless ``λρ ≤ 1/2`` and ``η ≤ λ``."""
    if lam * rho > 0.5 or eta > lam:
        raise HypothesisViolated(f"Theorem B needs λρ ≤ 1/2 and η ≤ λ; got λρ = {lam * rho:.3g}, η = {eta}, λ = {lam}")
    T = np.asarray(T, float)
    c = 1 - lam * rho
    return np.log10(2 * eta * G * T / (n * c)) + T * np.log1p(eta * rho / c) / math.log(10)


def convex_part_at(T, n: int, eta: float, G: float) -> np.ndarray:
    """The convex (ρ = 0) part of Theorem A, ``2ηG(√T + T/n)``."""
    T = np.asarray(T, float)
    return 2 * eta * G * (np.sqrt(T) + T / n)


def convex_part_moreau(T, n: int, eta: float, G: float) -> np.ndarray:
    """The convex (ρ = 0) part of Theorem B, ``2ηGT/n``."""
    return 2 * eta * G * np.asarray(T, float) / n


def width_for_condition(eta: float, T: float, C_x: float, eps2: float, H_sigma: float = 0.25,
                        L_ell: float = 1.0) -> float:
    """``m⋆ = (ηT L_ℓ H_σ (C_x + ε₂)²)²``: for ``m ≥ m⋆``, ``ηρT ≤ 1``."""
    return (eta * T * L_ell * H_sigma * (C_x + eps2) ** 2) ** 2
