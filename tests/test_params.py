"""rob.book.params: validation of notebook parameters and device selection."""

from __future__ import annotations

import pytest

from rob.book import params
from rob.book.params import ParameterError

DECLARED = {"scale": "ci", "seed": 0, "device": "auto", "n_test": 0, "alpha": 0.5,
            "verbose": False, "out_dir": "results"}


def test_defaults_pass_and_are_returned():
    assert params.validate(DECLARED, {}) == DECLARED


def test_given_values_override_defaults():
    got = params.validate(DECLARED, {"seed": 7, "scale": "paper", "alpha": 2})
    assert got["seed"] == 7 and got["scale"] == "paper" and got["alpha"] == 2


def test_unknown_name_is_named_in_the_error():
    with pytest.raises(ParameterError, match="bogus"):
        params.validate(DECLARED, {"bogus": 1})


def test_wrong_type():
    with pytest.raises(ParameterError, match="n_test"):
        params.validate(DECLARED, {"n_test": "many"})
    with pytest.raises(ParameterError, match="n_test"):
        params.validate(DECLARED, {"n_test": 2.5})


def test_int_is_accepted_for_a_float_but_not_the_reverse():
    assert params.validate(DECLARED, {"alpha": 1})["alpha"] == 1
    with pytest.raises(ParameterError):
        params.validate(DECLARED, {"seed": 1.0})


def test_bool_and_int_are_not_interchangeable():
    with pytest.raises(ParameterError, match="seed"):
        params.validate(DECLARED, {"seed": True})
    with pytest.raises(ParameterError, match="verbose"):
        params.validate(DECLARED, {"verbose": 1})
    assert params.validate(DECLARED, {"verbose": True})["verbose"] is True


def test_negative_seed():
    with pytest.raises(ParameterError, match="non-negative"):
        params.validate(DECLARED, {"seed": -1})


def test_unknown_scale_and_device():
    with pytest.raises(ParameterError, match="scale"):
        params.validate(DECLARED, {"scale": "huge"})
    with pytest.raises(ParameterError, match="device"):
        params.validate(DECLARED, {"device": "tpu"})


def test_bounds_and_choices_apply_to_given_values_only():
    bounds = {"n_test": (100, 1000)}
    assert params.validate(DECLARED, {}, bounds=bounds)["n_test"] == 0  # a sentinel default
    assert params.validate(DECLARED, {"n_test": 500}, bounds=bounds)["n_test"] == 500
    with pytest.raises(ParameterError, match=r"n_test must lie in \[100, 1000\]"):
        params.validate(DECLARED, {"n_test": 50}, bounds=bounds)
    with pytest.raises(ParameterError, match="alpha"):
        params.validate(DECLARED, {"alpha": 0.7}, choices={"alpha": (0.5, 1.0)})


@pytest.mark.parametrize("text, value", [("7", 7), ("0.5", 0.5), ("True", True), ("[1, 2]", [1, 2]),
                                         ("'x'", "x"), ("paper", "paper"), ("-3", -3), ("1e3", 1000.0)])
def test_parse_value(text, value):
    got = params.parse_value(text)
    assert got == value and type(got) is type(value)


def test_resolve_device():
    import torch

    assert params.resolve_device("cpu") == "cpu"
    assert params.resolve_device("auto") == ("cuda" if torch.cuda.is_available() else "cpu")
    if not torch.cuda.is_available():
        with pytest.raises(ParameterError, match="cuda"):
            params.resolve_device("cuda")
    with pytest.raises(ParameterError):
        params.resolve_device("gpu")


def test_torch_threads_sets_and_restores():
    import torch

    old = torch.get_num_threads()
    with params.torch_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == old
    with pytest.raises(RuntimeError), params.torch_threads(1):
        raise RuntimeError("inside")
    assert torch.get_num_threads() == old
