"""torch's type promotion: dtype pairs, the scalar and 0-d tiers, and the default dtype."""

from __future__ import annotations

import itertools

import pytest

import ember

torch = pytest.importorskip("torch")

NAMES = ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "float32", "float64"]
PAIRS = list(itertools.product(NAMES, NAMES))
SCALARS = [True, 3, -2, 2.5]


def E(name):
    return getattr(ember, name)


def T(name):
    return getattr(torch, name)


def dname(d) -> str:
    return str(d).split(".")[-1]


def operand(lib, name, zero_dim=False):
    shape = () if zero_dim else (2,)
    return lib.ones(shape, dtype=getattr(lib, name))


@pytest.mark.parametrize("a,b", PAIRS)
def test_promote_types_matches_torch(a, b):
    assert dname(ember.promote_types(E(a), E(b))) == dname(torch.promote_types(T(a), T(b)))


@pytest.mark.parametrize("a,b", PAIRS)
def test_binary_ops_between_tensors(a, b):
    for op in ("add", "mul"):
        e = getattr(ember, op)(operand(ember, a), operand(ember, b))
        t = getattr(torch, op)(operand(torch, a), operand(torch, b))
        assert dname(e.dtype) == dname(t.dtype), op
    assert dname((operand(ember, a) + operand(ember, b)).dtype) == \
        dname((operand(torch, a) + operand(torch, b)).dtype)


@pytest.mark.parametrize("a,b", PAIRS)
def test_zero_dim_tier(a, b):
    """A 0-d tensor only changes the result when its category is higher."""
    e = operand(ember, a) + operand(ember, b, zero_dim=True)
    t = operand(torch, a) + operand(torch, b, zero_dim=True)
    assert dname(e.dtype) == dname(t.dtype)
    e0 = operand(ember, a, zero_dim=True) * operand(ember, b, zero_dim=True)
    t0 = operand(torch, a, zero_dim=True) * operand(torch, b, zero_dim=True)
    assert dname(e0.dtype) == dname(t0.dtype) and e0.ndim == 0
    er = ember.result_type(operand(ember, a), operand(ember, b, zero_dim=True))
    tr = torch.result_type(operand(torch, a), operand(torch, b, zero_dim=True))
    assert dname(er) == dname(tr)


@pytest.mark.parametrize("a", NAMES)
@pytest.mark.parametrize("s", SCALARS, ids=repr)
@pytest.mark.parametrize("zero_dim", [False, True])
def test_scalar_tier(a, s, zero_dim):
    e_x, t_x = operand(ember, a, zero_dim), operand(torch, a, zero_dim)
    assert dname(ember.result_type(e_x, s)) == dname(torch.result_type(t_x, s))
    assert dname((e_x * s).dtype) == dname((t_x * s).dtype)
    assert dname((s * e_x).dtype) == dname((s * t_x).dtype)
    if not (a == "bool" and isinstance(s, bool)):  # torch refuses bool + bool subtraction
        assert dname((e_x + s).dtype) == dname((t_x + s).dtype)


@pytest.mark.parametrize("a", NAMES)
def test_true_division_and_comparison(a):
    e_x, t_x = operand(ember, a), operand(torch, a)
    assert dname((e_x / e_x).dtype) == dname((t_x / t_x).dtype)
    assert dname((e_x / 2).dtype) == dname((t_x / 2).dtype)
    assert dname((e_x == e_x).dtype) == dname((t_x == t_x).dtype) == "bool"
    assert dname((e_x < 1.5).dtype) == "bool"


@pytest.mark.parametrize("a,b", PAIRS)
def test_can_cast_matches_torch(a, b):
    assert ember.can_cast(E(a), E(b)) == torch.can_cast(T(a), T(b))


@pytest.mark.parametrize("a", NAMES)
def test_dtype_properties(a):
    e, t = E(a), T(a)
    assert repr(e) == repr(t).replace("torch", "ember")
    assert e.is_floating_point == t.is_floating_point
    assert e.itemsize == t.itemsize
    assert e.is_signed == t.is_signed
    assert ember.zeros(1, dtype=e).dtype is e


def test_aliases():
    assert ember.float is ember.float32 and ember.double is ember.float64
    assert ember.half is ember.float16 and ember.long is ember.int64
    assert ember.int is ember.int32 and ember.short is ember.int16


@pytest.fixture
def default_float64():
    ember.set_default_dtype(ember.float64)
    torch.set_default_dtype(torch.float64)
    yield
    ember.set_default_dtype(ember.float32)
    torch.set_default_dtype(torch.float32)


DEFAULT_EXPRS = [
    "lib.tensor([1.5])", "lib.tensor(2.0)", "lib.arange(3.0)", "lib.zeros(2)", "lib.ones(1)",
    "lib.rand(2)", "lib.randn(2)", "lib.linspace(0, 1, 3)", "lib.full((2,), 1.5)",
    "lib.tensor([1, 2]) * 2.5", "lib.tensor([1, 2]) / 2", "lib.tensor([1, 2]) / lib.tensor([2])",
    "lib.tensor([1.0], dtype=lib.float32) + 2.5", "lib.tensor([True]) + 1.5",
    "lib.tensor([1, 2]) + lib.tensor(2.5)", "lib.tensor([1.0], dtype=lib.float16) * 3.0",
    "lib.tensor([1, 2]).float()", "lib.eye(2)", "lib.tensor([1, 2])",
]


@pytest.mark.parametrize("expr", DEFAULT_EXPRS)
def test_default_dtype_float64(default_float64, expr):
    e = eval(expr, {"lib": ember})
    t = eval(expr, {"lib": torch})
    assert dname(e.dtype) == dname(t.dtype)


def test_default_dtype_result_type(default_float64):
    assert ember.get_default_dtype() is ember.float64
    for a in NAMES:
        e = ember.result_type(operand(ember, a), 1.5)
        t = torch.result_type(operand(torch, a), 1.5)
        assert dname(e) == dname(t)


def test_set_default_dtype_rejects_integers():
    with pytest.raises(TypeError):
        torch.set_default_dtype(torch.int64)
    with pytest.raises(TypeError):
        ember.set_default_dtype(ember.int64)
    assert ember.get_default_dtype() is ember.float32


def test_in_place_keeps_dtype_or_refuses_to_downcast_category():
    e = ember.ones(2, dtype=ember.float16)
    t = torch.ones(2, dtype=torch.float16)
    e.add_(ember.ones(2, dtype=ember.float64))
    t.add_(torch.ones(2, dtype=torch.float64))
    assert dname(e.dtype) == dname(t.dtype) == "float16"
    for lib in (ember, torch):
        x = lib.ones(2, dtype=lib.int32)
        x.mul_(lib.ones(2, dtype=lib.int64))
        assert x.dtype == lib.int32
        with pytest.raises(RuntimeError):
            x.add_(lib.ones(2))


@pytest.mark.parametrize("expr", ["lib.ones(2, dtype=lib.uint8) * -2",
                                  "lib.ones(2, dtype=lib.uint8) * 1000",
                                  "lib.ones(2, dtype=lib.int8) + 200"])
def test_out_of_range_python_ints_wrap_like_torch(expr):
    e, t = eval(expr, {"lib": ember}), eval(expr, {"lib": torch})
    assert dname(e.dtype) == dname(t.dtype) and e.tolist() == t.tolist()


# (np.bool_ is left out: torch promotes it like a float, ember like a Python bool)
@pytest.mark.parametrize("scalar", ["np.float64(2.0)", "np.int64(3)", "np.float32(0.5)"])
@pytest.mark.parametrize("a", ["float32", "int32", "uint8", "bool"])
def test_numpy_scalars_promote_like_python_scalars(a, scalar):
    import numpy as np
    s = eval(scalar, {"np": np})
    e, t = operand(ember, a) * s, operand(torch, a) * s
    assert dname(e.dtype) == dname(t.dtype)
    assert dname((s * operand(ember, a)).dtype) == dname(t.dtype)
