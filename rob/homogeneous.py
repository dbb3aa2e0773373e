"""A two-layer ReLU network with trained biases, trained by full-batch gradient descent on the
logistic loss (the setting of Frei, Vardi, Bartlett & Srebro 2023, arXiv:2303.01456).

    N(x; θ) = Σ_{j=1}^m v_j φ(⟨w_j, x⟩ + b_j),  θ = (W ∈ ℝ^{m×d}, b ∈ ℝ^m, v ∈ ℝ^m),

2-homogeneous: ``N(x; cθ) = c² N(x; θ)``.  Loss ``L(θ) = (1/n) Σ_i ℓ(y_i N(x_i; θ))`` with
``ℓ(q) = log(1 + e^{−q})``, computed as ``logaddexp(0, −q)``; ``∂L/∂N_i = −y_i σ(−q_i)/n`` with the
logistic ``σ = expit``.  Normalised margin ``γ(θ) = min_i y_i N(x_i; θ)/‖θ‖²``.

Gradients (``H = XWᵀ + b``, ``A = φ(H)``, ``g = ∂L/∂N``, ``G = (g vᵀ) ⊙ 1{H > 0}``):
``∇v = Aᵀg``, ``∇W = GᵀX``, ``∇b = 1ᵀG``.  Everything in float64 numpy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import expit


@dataclass(frozen=True)
class Net:
    """Parameters ``W`` (m×d), ``b`` (m), ``v`` (m)."""

    W: np.ndarray
    b: np.ndarray
    v: np.ndarray

    def norm2(self) -> float:
        """``‖θ‖² = ‖W‖_F² + ‖b‖² + ‖v‖²``."""
        return float(np.sum(self.W ** 2) + self.b @ self.b + self.v @ self.v)

    def scaled(self, c: float) -> "Net":
        return Net(c * self.W, c * self.b, c * self.v)


def init(d: int, m: int, omega: float, rng: np.random.Generator) -> Net:
    """``W_ij ~ N(0, ω²/d)``, ``v_j ~ N(0, ω²/m)``, ``b = 0``."""
    W = omega / np.sqrt(d) * rng.standard_normal((m, d))
    v = omega / np.sqrt(m) * rng.standard_normal(m)
    return Net(W, np.zeros(m), v)


def forward(X: np.ndarray, net: Net) -> np.ndarray:
    """``N(x_i; θ)`` for every row of ``X``."""
    return np.maximum(X @ net.W.T + net.b, 0.0) @ net.v


def loss(X: np.ndarray, y: np.ndarray, net: Net) -> float:
    """Logistic loss ``(1/n) Σ log(1 + e^{−y_i N(x_i)})``, stable for any margin."""
    return float(np.logaddexp(0.0, -y * forward(X, net)).mean())


def loss_and_grad(X: np.ndarray, y: np.ndarray, net: Net) -> tuple[float, Net, np.ndarray]:
    """Loss, its gradient (as a :class:`Net`) and the outputs ``N(x_i)``."""
    H = X @ net.W.T + net.b
    A = np.maximum(H, 0.0)
    out = A @ net.v
    q = y * out
    g = -y * expit(-q) / len(y)
    G = np.outer(g, net.v) * (H > 0)
    return float(np.logaddexp(0.0, -q).mean()), Net(G.T @ X, G.sum(axis=0), A.T @ g), out


def normalised_margin(X: np.ndarray, y: np.ndarray, net: Net) -> float:
    """``γ(θ) = min_i y_i N(x_i; θ)/‖θ‖²``."""
    return float(np.min(y * forward(X, net)) / net.norm2())


def train(X: np.ndarray, y: np.ndarray, net: Net, lr: float, steps: int,
          log_at: tuple[int, ...] = ()) -> tuple[Net, list[dict]]:
    """Full-batch gradient descent ``θ ← θ − lr ∇L(θ)`` for ``steps`` steps; after each step listed
    in ``log_at`` record ``step, loss, train_acc, margin`` (the values at the updated θ).

    Every gradient ``∇W = GᵀX`` lies in the row space of ``X``, so the iterates are
    ``W_t = W_0 + C_tᵀX`` with ``C_{t+1} = C_t − lr G_t`` (n×m) and the pre-activations are
    ``H_t = XW_0ᵀ + K C_t + b_t`` with the Gram matrix ``K = XXᵀ``.  When ``n < d`` the steps run in
    this form (:func:`_train_gram`: one n×n by n×m product a step instead of two n×d by d×m ones;
    ``W`` is formed once at the end); otherwise directly.  Both are the same gradient descent; they
    differ by rounding only."""
    if X.shape[0] < X.shape[1]:
        return _train_gram(X, y, net, lr, steps, log_at)
    return _train_direct(X, y, net, lr, steps, log_at)


def _train_direct(X: np.ndarray, y: np.ndarray, net: Net, lr: float, steps: int,
                  log_at: tuple[int, ...]) -> tuple[Net, list[dict]]:
    """:func:`train` on ``W`` itself."""
    W, b, v = net.W.copy(), net.b.copy(), net.v.copy()
    log = []
    logs = set(log_at)
    for t in range(1, steps + 1):
        _, grad, _ = loss_and_grad(X, y, Net(W, b, v))
        W -= lr * grad.W
        b -= lr * grad.b
        v -= lr * grad.v
        if t in logs:
            cur = Net(W, b, v)
            q = y * forward(X, cur)
            log.append(dict(step=t, loss=float(np.logaddexp(0.0, -q).mean()), train_acc=float(np.mean(q > 0)),
                            margin=float(q.min() / cur.norm2())))
    return Net(W, b, v), log


def _train_gram(X: np.ndarray, y: np.ndarray, net: Net, lr: float, steps: int,
                log_at: tuple[int, ...]) -> tuple[Net, list[dict]]:
    """:func:`train` in the row space of ``X`` (see there).  ``‖W_t‖_F² = ‖W_0‖_F² +
    2⟨C_t, XW_0ᵀ⟩ + ⟨C_t, K C_t⟩`` gives the logged margins without forming ``W_t``."""
    n = X.shape[0]
    P0 = X @ net.W.T                 # X W_0ᵀ (n×m)
    K = X @ X.T                      # Gram matrix (n×n)
    w0 = float(np.sum(net.W ** 2))
    C = np.zeros_like(P0)
    b, v = net.b.copy(), net.v.copy()
    log = []
    logs = set(log_at)
    H = P0 + b                       # pre-activations at the current θ
    for t in range(1, steps + 1):
        A = np.maximum(H, 0.0)
        q = y * (A @ v)
        g = -y * expit(-q) / n
        G = np.outer(g, v)
        G *= H > 0
        v -= lr * (A.T @ g)
        b -= lr * G.sum(axis=0)
        C -= lr * G
        KC = K @ C
        H = P0 + KC
        H += b
        if t in logs:
            q = y * (np.maximum(H, 0.0) @ v)
            norm2 = w0 + 2.0 * float(np.sum(C * P0)) + float(np.sum(C * KC)) + float(b @ b + v @ v)
            log.append(dict(step=t, loss=float(np.logaddexp(0.0, -q).mean()), train_acc=float(np.mean(q > 0)),
                            margin=float(q.min() / norm2)))
    return Net(net.W + C.T @ X, b, v), log


# ----------------------------------------------------------------------------------------------
# KKT diagnostics
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class KKTDiagnostics:
    """Diagnostics of a (near-)KKT point on the dominant neurons ``|v_j|‖w_j‖ ≥ 0.1 max``.

    ``balancedness`` = max_j |v_j² − ‖w_j‖² − b_j²|/v_j²; ``bias_pos`` = fraction of biases > 0;
    ``spread`` = max/min over same-label clusters of ``C^±_q = ⟨u_±, μ_q⟩/d`` with
    ``u_± = Σ_{sign v_j = ±} |v_j| w_j``; ``crosstalk`` = max over other-label clusters of
    ``|C^±_q|`` / mean over same-label clusters (worse of ±); ``loadings`` = ``⟨w_j, μ_q⟩/d`` of the
    dominant neurons (rows) with their ``v_j``.
    """

    dominant: np.ndarray
    balancedness: float
    bias_pos: float
    spread: float
    crosstalk: float
    loadings: np.ndarray
    v: np.ndarray


def kkt_diagnostics(net: Net, mu: np.ndarray, labels: np.ndarray, frac: float = 0.1) -> KKTDiagnostics:
    """See :class:`KKTDiagnostics`; ``mu`` is k×d, ``labels`` the cluster labels."""
    d = mu.shape[1]
    size = np.abs(net.v) * np.linalg.norm(net.W, axis=1)
    dom = np.flatnonzero(size >= frac * size.max())
    v, W, b = net.v[dom], net.W[dom], net.b[dom]
    bal = float(np.max(np.abs(v ** 2 - np.sum(W ** 2, axis=1) - b ** 2) / v ** 2))
    spread, cross = 0.0, 0.0
    for sgn in (1.0, -1.0):
        sel = np.sign(v) == sgn
        u = (np.abs(v[sel])[:, None] * W[sel]).sum(axis=0)
        C = mu @ u / d
        same = labels == sgn
        if not sel.any() or not same.any():
            return KKTDiagnostics(dom, bal, float(np.mean(b > 0)), np.inf, np.inf, W @ mu.T / d, v)
        spread = max(spread, float(C[same].max() / C[same].min()) if C[same].min() > 0 else np.inf)
        cross = max(cross, float(np.abs(C[~same]).max() / C[same].mean()) if (~same).any() else 0.0)
    return KKTDiagnostics(dom, bal, float(np.mean(b > 0)), spread, cross, W @ mu.T / d, v)


def per_sample_gradients(X: np.ndarray, net: Net) -> np.ndarray:
    """``∇_θ N(x_i; θ)`` flattened as ``(W, b, v)`` for every row of ``X`` (n × (md + 2m))."""
    H = X @ net.W.T + net.b
    act = (H > 0).astype(float)
    gW = (act * net.v)[:, :, None] * X[:, None, :]
    gb = act * net.v
    gv = np.maximum(H, 0.0)
    return np.concatenate([gW.reshape(len(X), -1), gb, gv], axis=1)


def kkt_residual(X: np.ndarray, y: np.ndarray, net: Net) -> dict[str, float]:
    """Stationarity residual of (P) by non-negative least squares: rescale θ so that
    ``min_i y_i N(x_i) = 1`` and solve ``min_{λ ≥ 0} ‖θ − Σ_i λ_i y_i ∇_θ N(x_i; θ)‖``.

    Returns the residual relative to ``‖θ‖``, the complementary-slackness gap
    ``Σ λ_i (margin_i − 1)/Σ λ_i`` and the margin spread max/min.
    """
    from scipy.optimize import nnls

    q = y * forward(X, net)
    net = net.scaled(1 / np.sqrt(q.min()))  # 2-homogeneous: margins scale like c²
    theta = np.concatenate([net.W.ravel(), net.b, net.v])
    J = (y[:, None] * per_sample_gradients(X, net)).T
    lam, res = nnls(J, theta, maxiter=50 * J.shape[1])
    margins = y * forward(X, net)
    return dict(residual=float(res / np.linalg.norm(theta)),
                slackness=float(lam @ (margins - 1) / lam.sum()) if lam.sum() > 0 else float("nan"),
                margin_spread=float(margins.max() / margins.min()))
