"""rob.stats."""

import numpy as np
import pytest

from rob.stats import loglog_slope


@pytest.mark.parametrize("alpha", [-0.5, 0.5, 2.0])
def test_loglog_slope_recovers_the_exponent(alpha):
    x = np.array([3.0, 10.0, 40.0, 250.0])
    assert loglog_slope(x, 7 * x**alpha) == pytest.approx(alpha, abs=1e-12)
