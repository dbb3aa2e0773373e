"""Random-features (RF) and first-layer neural-tangent (NTK) feature maps and their input gradients.

Hidden layer ``W ∈ R^{k×d}`` with i.i.d. rows ``w_j ~ N(0, I_d/d)``.  Both models are linear in the
trainable vector ``c``:

- RF (``p = k``):   ``φ(x) = σ(Wx)/√k``,  ``f(x) = ⟨c, φ(x)⟩``,
  ``∇f(x) = Wᵀ(σ'(Wx) ⊙ c)/√k``.
- NTK (``p = kd``): ``φ(x) = vec(σ'(Wx) ⊗ x)/√k``, i.e. ``f(x) = Σ_j σ'(w_j·x)⟨a_j, x⟩/√k`` with
  ``c = vec(a_1, …, a_k)``, and
  ``∇f(x) = Σ_j [σ'(w_j·x) a_j + σ''(w_j·x)(a_j·x) w_j]/√k``.

Gradients are the *ambient* Euclidean gradients, vectorised over points and evaluated in blocks of
points so that memory stays bounded.
"""

from __future__ import annotations

import numpy as np

from .activations import Activation

#: Largest number of float64 entries of a (points × k) intermediate per block (40 MB).
BLOCK_ENTRIES = 5_000_000


def random_weights(k: int, d: int, rng: np.random.Generator) -> np.ndarray:
    """``W ∈ R^{k×d}`` with i.i.d. ``N(0, 1/d)`` entries (rows ``w_j ~ N(0, I_d/d)``)."""
    return rng.standard_normal((k, d)) / np.sqrt(d)


def _blocks(n: int, width: int):
    """Slices of ``range(n)`` such that a (block × width) float64 array has ≤ BLOCK_ENTRIES entries."""
    size = max(1, BLOCK_ENTRIES // max(width, 1))
    for start in range(0, n, size):
        yield slice(start, min(n, start + size))


def rf_features(X: np.ndarray, W: np.ndarray, act: Activation) -> np.ndarray:
    """``Z = σ(XWᵀ)/√k``, shape (n, k)."""
    return act.f(X @ W.T) / np.sqrt(W.shape[0])


def _rf_pass(X: np.ndarray, W: np.ndarray, C: np.ndarray, act: Activation,
             values: bool) -> tuple[np.ndarray | None, np.ndarray]:
    """Row block by row block, from ``H = X Wᵀ`` formed once per block: the input gradients
    ``Wᵀ(σ'(H) ⊙ c)/√k`` of every column ``c`` of ``C`` (k, m), shape (m, n, d), and when ``values``
    also the predictions ``σ(H) C/√k``, shape (n, m)."""
    k = W.shape[0]
    pred = np.empty((len(X), C.shape[1])) if values else None
    grad = np.empty((C.shape[1], len(X), W.shape[1]))
    for s in _blocks(len(X), k):
        H = X[s] @ W.T
        if pred is not None:
            pred[s] = act.f(H) @ C
        D = act.df(H)
        for i in range(C.shape[1]):
            grad[i, s] = D @ (C[:, i, None] * W)  # (σ' ⊙ c) W without a (block × k) temporary
    grad /= np.sqrt(k)
    if pred is not None:
        pred /= np.sqrt(k)
    return pred, grad


def rf_input_grad(X: np.ndarray, W: np.ndarray, c: np.ndarray, act: Activation) -> np.ndarray:
    """``∇f(x_t) = Wᵀ(σ'(W x_t) ⊙ c)/√k`` for every row ``x_t`` of ``X``, shape (n, d).

    ``c`` may hold several coefficient vectors as columns, shape (k, m); the result is then
    (m, n, d) and ``σ'(XWᵀ)`` is evaluated once for all of them."""
    _, grad = _rf_pass(X, W, c.reshape(W.shape[0], -1), act, values=False)
    return grad[0] if c.ndim == 1 else grad


def rf_value_and_grad(X: np.ndarray, W: np.ndarray, C: np.ndarray, act: Activation) -> tuple[np.ndarray, np.ndarray]:
    """Predictions ``f(x_t) = σ(W x_t)ᵀc/√k`` and input gradients ``∇f(x_t) = Wᵀ(σ'(W x_t) ⊙ c)/√k``
    of several coefficient vectors (the columns of ``C``, shape (k, m)) at the rows of ``X``: shapes
    (n, m) and (m, n, d).  The pre-activations ``X Wᵀ`` are formed once per row block for both."""
    pred, grad = _rf_pass(X, W, C.reshape(W.shape[0], -1), act, values=True)
    return pred, grad


def ntk_features(X: np.ndarray, W: np.ndarray, act: Activation) -> np.ndarray:
    """``Z_i = vec(σ'(W x_i) ⊗ x_i)/√k``, shape (n, k·d), index ``j·d + l`` ↔ ``σ'(w_j·x) x_l``."""
    n, d = X.shape
    k = W.shape[0]
    return (act.df(X @ W.T)[:, :, None] * X[:, None, :]).reshape(n, k * d) / np.sqrt(k)


def ntk_input_grad(X: np.ndarray, W: np.ndarray, c: np.ndarray, act: Activation) -> np.ndarray:
    """``∇f(x) = [σ'(Wx)ᵀA + (σ''(Wx) ⊙ Ax)ᵀW]/√k`` with ``A = c.reshape(k, d)``, shape (n, d).

    ``c`` may hold several coefficient vectors as columns, shape (k·d, m); the result is then
    (m, n, d)."""
    k, d = W.shape
    C = c.reshape(k * d, -1)
    out = np.empty((C.shape[1], len(X), d))
    for s in _blocks(len(X), k):
        P = X[s] @ W.T
        D1, D2 = act.df(P), act.d2f(P)
        for i in range(C.shape[1]):
            A = C[:, i].reshape(k, d)
            out[i, s] = D1 @ A + (D2 * (X[s] @ A.T)) @ W
    out /= np.sqrt(k)
    return out[0] if c.ndim == 1 else out


def features(model: str, X: np.ndarray, W: np.ndarray, act: Activation) -> np.ndarray:
    """Feature matrix of ``model`` ∈ {"rf", "ntk"}."""
    if model == "rf":
        return rf_features(X, W, act)
    if model == "ntk":
        return ntk_features(X, W, act)
    raise ValueError(f"unknown model {model!r}; use 'rf' or 'ntk'")


def input_grad(model: str, X: np.ndarray, W: np.ndarray, c: np.ndarray, act: Activation) -> np.ndarray:
    """Input gradients of ``model`` ∈ {"rf", "ntk"} at the rows of ``X``."""
    if model == "rf":
        return rf_input_grad(X, W, c, act)
    if model == "ntk":
        return ntk_input_grad(X, W, c, act)
    raise ValueError(f"unknown model {model!r}; use 'rf' or 'ntk'")
