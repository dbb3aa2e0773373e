"""rob: the numerics behind the companion book on adversarial robustness of two-layer networks.

The mathematics, one module per concept:

- :mod:`rob.activations`  activations σ with σ', σ''
- :mod:`rob.data`         sphere data, linear teacher with label noise
- :mod:`rob.features`     random-features (RF) and neural-tangent (NTK) feature maps and input gradients
- :mod:`rob.solvers`      min-norm least squares and ridge
- :mod:`rob.robustness`   Monte-Carlo Sobolev seminorm
- :mod:`rob.kernels`      arc-cosine kernels, exact feature covariance on the sphere, Poincaré certificate
- :mod:`rob.clusters`     cluster data, the universal direction, the robust network and its exact radius
- :mod:`rob.homogeneous`  two-layer ReLU networks with trained biases, gradient descent, KKT diagnostics
- :mod:`rob.attacks`      critical size along a fixed direction; FGSM / PGD (ℓ∞, ℓ2) for any gradient oracle; PGD for two-layer nets; two-sided ℓ2 PGD for regression
- :mod:`rob.adv_train_rf` adversarial training of random-features regression (concentrated robust objective)
- :mod:`rob.stats`        small shared statistics (log-log slopes)
- :mod:`rob.hermite`      Hermite coefficients and Gaussian moments of activations
- :mod:`rob.quadratic`    quadratic targets and the Gaussian closed forms of quadratic forms
- :mod:`rob.regimes`      RF, lazy (NT) and fully trained (NN) predictors at infinite sample size
- :mod:`rob.two_layer`    smooth two-layer networks with a fixed ±1 output layer (torch, batched over replicas)
- :mod:`rob.adv_train`    standard, adversarial and Moreau-envelope adversarial training by full-batch GD
- :mod:`rob.stability`    argument stability, robust gap, Lipschitz/weak-convexity constants and stability bounds
- :mod:`rob.ntk`          closed-form two-layer and deep ReLU NTKs, RF kernel, input gradients, empirical NTK
- :mod:`rob.spectral`     Gram eigendecomposition, GD / ridge / top-k filters, eigen-feature coefficients
- :mod:`rob.nets`         two-layer networks in NTK parametrisation, centred, trained by full-batch GD (torch)
- :mod:`rob.datasets`     digits binary tasks; MNIST and CIFAR-10 loaders from local files
- :mod:`rob.theory`       closed-form predictions, one module per paper
- :mod:`rob.experiments`  the grids and sweeps of each chapter, one module per chapter

The machinery that runs the book (the ``rob`` command, papermill execution, the chapter
registry, checks, cache, parameters, figures, progress bars, hand-outs) lives apart, in
:mod:`rob.book`.
"""

__version__ = "0.1.0"
