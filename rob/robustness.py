"""Robustness measures.

Sobolev seminorm ``𝔖(f) = (E_x ‖∇_x f(x)‖²)^{1/2}`` under the data distribution, estimated by Monte
Carlo on fresh test points: ``𝔖̂² = (1/n_test) Σ_t ‖∇f(x_t)‖²``.  Since ``𝔖 ≤ Lip(f)``, a lower bound
on 𝔖 is a lower bound on the Lipschitz constant.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class SobolevEstimate:
    """``value`` = 𝔖̂, ``energy`` = 𝔖̂², with Monte-Carlo standard errors over the test points
    (delta method for 𝔖̂: se(𝔖̂) = se(𝔖̂²)/(2𝔖̂))."""

    value: float
    energy: float
    energy_se: float
    value_se: float
    n_points: int


def sobolev_seminorm(grads: np.ndarray) -> SobolevEstimate:
    """Estimate 𝔖 from input gradients ``grads`` of shape (n_test, d) at i.i.d. test points."""
    sq = np.einsum("ij,ij->i", grads, grads)
    m = len(sq)
    energy = float(sq.mean())
    energy_se = float(sq.std(ddof=1) / np.sqrt(m)) if m > 1 else float("nan")
    value = float(np.sqrt(energy))
    value_se = energy_se / (2 * value) if value > 0 else float("nan")
    return SobolevEstimate(value, energy, energy_se, value_se, m)
