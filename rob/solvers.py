"""Least-squares solvers for models linear in their parameters, ``f(x) = ⟨c, φ(x)⟩``.

- :func:`min_norm_lstsq`: ``ĉ = Z⁺y``, the minimum-norm interpolator for ``n < p`` and ordinary
  least squares for ``n ≥ p``.  On the CPU a complete orthogonal factorisation (LAPACK ``gelsy``),
  accurate at ``n = p``; never the normal equations.  On CUDA a float64 QR of ``Zᵀ`` (``n < p``) or
  of ``Z`` (``n ≥ p``) in torch.
- :func:`ridge`: ``argmin_c ‖Zc − y‖² + λn‖c‖²`` (scikit-learn's ``Ridge(alpha=λ·n)``), through the
  smaller of the two Gram matrices and a Cholesky factorisation.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg as sla


def min_norm_lstsq(Z: np.ndarray, y: np.ndarray, device: str = "cpu") -> np.ndarray:
    """``Z⁺ y`` in float64 (``device`` "cpu": LAPACK gelsy; "cuda": torch QR on the GPU)."""
    Z = np.asarray(Z, dtype=float)
    y = np.asarray(y, dtype=float)
    if device == "cpu":
        return sla.lstsq(Z, y, lapack_driver="gelsy", check_finite=False)[0]
    return _min_norm_qr_torch(Z, y, device)


def _min_norm_qr_torch(Z: np.ndarray, y: np.ndarray, device: str) -> np.ndarray:
    """Min-norm least squares by a float64 QR in torch (full column or row rank assumed).

    ``n ≥ p``: ``Z = QR``, ``c = R⁻¹Qᵀy``.  ``n < p``: ``Zᵀ = QR``, ``c = Q R⁻ᵀ y``.
    """
    import torch

    Zt = torch.as_tensor(Z, dtype=torch.float64, device=device)
    yt = torch.as_tensor(y, dtype=torch.float64, device=device)[:, None]
    n, p = Zt.shape
    if n >= p:
        Q, R = torch.linalg.qr(Zt)
        c = torch.linalg.solve_triangular(R, Q.T @ yt, upper=True)
    else:
        Q, R = torch.linalg.qr(Zt.T)
        c = Q @ torch.linalg.solve_triangular(R.T, yt, upper=False)
    return c[:, 0].cpu().numpy()


def ridge(Z: np.ndarray, y: np.ndarray, lam: float) -> np.ndarray:
    """``argmin ‖Zc − y‖² + λn‖c‖²`` for ``λ > 0``:
    ``c = Zᵀ(ZZᵀ + λnI)⁻¹y`` if ``p > n``, else ``(ZᵀZ + λnI)⁻¹Zᵀy``."""
    if lam <= 0:
        raise ValueError(f"ridge needs lam > 0, got {lam}; use min_norm_lstsq for lam = 0")
    n, p = Z.shape
    if p > n:
        G = Z @ Z.T
        G[np.diag_indices(n)] += lam * n
        return Z.T @ sla.cho_solve(sla.cho_factor(G, lower=True, check_finite=False), y, check_finite=False)
    G = Z.T @ Z
    G[np.diag_indices(p)] += lam * n
    return sla.cho_solve(sla.cho_factor(G, lower=True, check_finite=False), Z.T @ y, check_finite=False)


def fit(Z: np.ndarray, y: np.ndarray, lam: float = 0.0, device: str = "cpu") -> np.ndarray:
    """Ridge with the ``λn`` convention for ``lam > 0``, min-norm least squares for ``lam = 0``."""
    return min_norm_lstsq(Z, y, device) if lam == 0 else ridge(Z, y, lam)
