"""Activation functions σ with their first and second derivatives.

Registry ``name → Activation(σ, σ', σ'')`` on numpy arrays (float64 in, float64 out), shared by all
chapters.  Derivatives of the piecewise-linear activations are taken almost everywhere:
ReLU' = 1[t>0], |·|' = sign(t), and both have σ'' = 0.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import special

Array = np.ndarray


@dataclass(frozen=True)
class Activation:
    """σ and its derivatives; ``homogeneous`` is True for positively 1-homogeneous σ
    (σ(at) = aσ(t) for a > 0), for which the arc-cosine kernels of :mod:`rob.kernels` apply."""

    name: str
    f: Callable[[Array], Array]
    df: Callable[[Array], Array]
    d2f: Callable[[Array], Array]
    homogeneous: bool


_SQRT_PI = np.sqrt(np.pi)


def _zeros(t: Array) -> Array:
    return np.zeros_like(t, dtype=float)


ACTIVATIONS: dict[str, Activation] = {
    "relu": Activation("relu", lambda t: np.maximum(t, 0.0), lambda t: (t > 0).astype(float), _zeros, True),
    "abs": Activation("abs", np.abs, lambda t: np.sign(t).astype(float), _zeros, True),
    "erf": Activation("erf", special.erf, lambda t: 2.0 / _SQRT_PI * np.exp(-t * t),
                      lambda t: -4.0 / _SQRT_PI * t * np.exp(-t * t), False),
    "tanh": Activation("tanh", np.tanh, lambda t: 1.0 - np.tanh(t) ** 2,
                       lambda t: -2.0 * np.tanh(t) * (1.0 - np.tanh(t) ** 2), False),
}


def get(name: str) -> Activation:
    """The activation called ``name`` (relu, abs, erf, tanh)."""
    try:
        return ACTIVATIONS[name]
    except KeyError:
        raise ValueError(f"unknown activation {name!r}; known: {', '.join(ACTIVATIONS)}") from None


# -- smooth and polynomial activations of the regimes chapter (quadratic model; ELU for the lazy regime) --
def _elu(t: Array) -> Array:
    return np.where(t > 0, t, np.expm1(np.minimum(t, 0.0)))


ACTIVATIONS["quad"] = Activation("quad", lambda t: t * t, lambda t: 2.0 * t, lambda t: np.full_like(t, 2.0, dtype=float),
                                 False)
ACTIVATIONS["elu"] = Activation("elu", _elu, lambda t: np.where(t > 0, 1.0, np.exp(np.minimum(t, 0.0))),
                                lambda t: np.where(t > 0, 0.0, np.exp(np.minimum(t, 0.0))), False)
