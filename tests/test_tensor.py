"""Tensor behaviour against torch: creation, random, attributes, conversions, printing,
the NumPy bridge, Python protocols and error types."""

from __future__ import annotations

import numpy as np
import pytest

import ember

torch = pytest.importorskip("torch")


def dname(d) -> str:
    return str(d).split(".")[-1]


def same(e, t, exact=True):
    """Same shape, dtype and values."""
    assert tuple(e.shape) == tuple(t.shape)
    assert dname(e.dtype) == dname(t.dtype), f"{e.dtype} vs {t.dtype}"
    en, tn = np.asarray(e.detach().numpy()), t.detach().numpy()
    if exact:
        np.testing.assert_array_equal(en, tn)
    else:
        np.testing.assert_allclose(en, tn, rtol=1e-6, atol=1e-7)


def ev(expr: str, lib):
    return eval(expr, {"lib": lib, "np": np, "float": float})


# ---- creation ------------------------------------------------------------------------------

CREATION = [
    "lib.tensor([1, 2])", "lib.tensor([1., 2])", "lib.tensor([True, False])", "lib.tensor(3)",
    "lib.tensor(2.5)", "lib.tensor(True)", "lib.tensor([[1, 2], [3, 4]])", "lib.tensor([])",
    "lib.tensor([[]])", "lib.tensor([1, 2.5, True])", "lib.tensor([1, 2], dtype=lib.float64)",
    "lib.tensor(np.array([1.5, 2.5]))", "lib.tensor(np.array([1, 2], dtype=np.int32))",
    "lib.tensor(np.float64(2.0))", "lib.tensor([np.float32(1.0), 2.0])",
    "lib.tensor(np.array([True]))", "lib.tensor([[1.0, 2.0]], dtype=lib.int32)",
    "lib.as_tensor([1, 2])", "lib.as_tensor(np.arange(3.0))",
    "lib.zeros(2, 3)", "lib.zeros((2, 3))", "lib.zeros([2])", "lib.zeros(0)", "lib.zeros(())",
    "lib.ones(2, dtype=lib.int64)", "lib.ones(2, 1, dtype=lib.bool)",
    "lib.full((2,), 3)", "lib.full((2,), 3.0)", "lib.full((2,), True)",
    "lib.full((2, 2), 1.5, dtype=lib.float64)", "lib.arange(5)", "lib.arange(1, 4)",
    "lib.arange(0, 1, 0.25)", "lib.arange(5.0)", "lib.arange(0, 5, 2)",
    "lib.arange(3, dtype=lib.float64)",
    "lib.arange(10, 0, -3)", "lib.linspace(0, 1, 5)", "lib.linspace(-1, 1, 1)",
    "lib.linspace(0, 10, 4, dtype=lib.float64)", "lib.logspace(0, 2, 3)",
    "lib.logspace(0, 3, 4, base=2.0)", "lib.eye(3)", "lib.eye(2, 3)", "lib.eye(2, dtype=lib.int64)",
    "lib.scalar_tensor(3)", "lib.zeros_like(lib.ones(2, 3))", "lib.ones_like(lib.tensor([1, 2]))",
    "lib.full_like(lib.tensor([1, 2]), 7)", "lib.full_like(lib.tensor([1., 2.]), 7)",
    "lib.zeros_like(lib.tensor([1, 2]), dtype=lib.float32)", "lib.tensor([[True], [False]])",
]


@pytest.mark.parametrize("expr", CREATION)
def test_creation_matches_torch(expr):
    same(ev(expr, ember), ev(expr, torch), exact=False)


@pytest.mark.parametrize("expr", ["lib.zeros(2, 3)", "lib.tensor([1., 2.])", "lib.arange(3.0)",
                                  "lib.full((2,), 1.0)", "lib.linspace(0, 1, 3)",
                                  "lib.tensor([1, 2])", "lib.arange(3)", "lib.full((1,), 2)"])
def test_creation_follows_default_dtype(expr):
    ember.set_default_dtype(ember.float64)
    torch.set_default_dtype(torch.float64)
    try:
        same(ev(expr, ember), ev(expr, torch), exact=False)
    finally:
        torch.set_default_dtype(torch.float32)


def test_empty_like_and_new_methods():
    for lib in (ember, torch):
        x = lib.tensor([1, 2, 3], dtype=lib.int32)
        assert lib.empty_like(x).shape == (3,) and lib.empty_like(x).dtype == lib.int32
        assert x.new_zeros(2).dtype == lib.int32
        assert x.new_ones((2, 2)).shape == (2, 2)
        assert x.new_full((2,), 5).tolist() == [5, 5]
        assert x.new_tensor([1.5]).dtype == lib.int32


def test_tensor_copies_input_and_from_numpy_shares():
    a = np.arange(3.0)
    t = ember.tensor(a)
    a[0] = 100.0
    assert t[0].item() == 0.0
    s = ember.from_numpy(a)
    assert s.dtype == ember.float64
    a[1] = 50.0
    assert s.tolist() == [100.0, 50.0, 2.0]
    s.add_(1)
    assert a.tolist() == [101.0, 51.0, 3.0]


def test_numpy_is_zero_copy():
    t = ember.zeros(3)
    a = t.numpy()
    a[0] = 5.0
    assert t.tolist() == [5.0, 0.0, 0.0]
    t.mul_(2)
    assert a.tolist() == [10.0, 0.0, 0.0]
    assert np.shares_memory(a, t.numpy())


def test_numpy_requires_grad_error_text():
    e = ember.ones(2, requires_grad=True)
    t = torch.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError) as te:
        t.numpy()
    with pytest.raises(RuntimeError) as ee:
        e.numpy()
    assert str(ee.value) == str(te.value).replace("torch", "ember") or \
        str(ee.value) == str(te.value)
    assert e.detach().numpy().tolist() == [1.0, 1.0]
    assert e.numpy(force=True).tolist() == [1.0, 1.0]


# ---- random -----------------------------------------------------------------------------

def test_manual_seed_reproducibility():
    ember.manual_seed(123)
    a = (ember.rand(5), ember.randn(5), ember.randint(0, 10, (5,)), ember.randperm(5))
    ember.manual_seed(123)
    b = (ember.rand(5), ember.randn(5), ember.randint(0, 10, (5,)), ember.randperm(5))
    for x, y in zip(a, b, strict=True):
        assert x.tolist() == y.tolist()
    assert ember.rand(5).tolist() != a[0].tolist()


def test_generator_streams_are_independent():
    g1 = ember.Generator().manual_seed(7)
    g2 = ember.Generator().manual_seed(7)
    a = ember.rand(4, generator=g1)
    ember.rand(100)  # the default stream does not disturb g2
    b = ember.rand(4, generator=g2)
    assert a.tolist() == b.tolist()
    assert g1.initial_seed() == 7
    state = g1.get_state()
    c = ember.randn(3, generator=g1)
    g1.set_state(state)
    assert ember.randn(3, generator=g1).tolist() == c.tolist()


RANDOM = [
    ("lib.rand(2, 3)", (2, 3), "float32"), ("lib.rand(4, dtype=lib.float64)", (4,), "float64"),
    ("lib.randn(3, 2)", (3, 2), "float32"), ("lib.randn(())", (), "float32"),
    ("lib.randint(0, 5, (3, 4))", (3, 4), "int64"), ("lib.randint(5, (6,))", (6,), "int64"),
    ("lib.randint(0, 5, (2,), dtype=lib.int32)", (2,), "int32"), ("lib.randperm(6)", (6,), "int64"),
    ("lib.normal(0.0, 1.0, (3,))", (3,), "float32"),
    ("lib.normal(lib.zeros(3), lib.ones(3))", (3,), "float32"),
    ("lib.normal(lib.zeros(2, dtype=lib.float64), 2.0)", (2,), "float64"),
    ("lib.bernoulli(lib.full((5,), 0.5))", (5,), "float32"),
    ("lib.multinomial(lib.tensor([0.2, 0.3, 0.5]), 2)", (2,), "int64"),
    ("lib.multinomial(lib.ones(2, 4), 3, replacement=True)", (2, 3), "int64"),
    ("lib.rand_like(lib.zeros(2, dtype=lib.float64))", (2,), "float64"),
    ("lib.randn_like(lib.zeros(3))", (3,), "float32"),
    ("lib.randint_like(lib.zeros(3), 4)", (3,), "float32"),
]


@pytest.mark.parametrize("expr,shape,dtype", RANDOM)
def test_random_shapes_and_dtypes(expr, shape, dtype):
    e, t = ev(expr, ember), ev(expr, torch)
    assert tuple(t.shape) == shape and dname(t.dtype) == dtype  # the table is right
    assert tuple(e.shape) == shape and dname(e.dtype) == dtype


def test_random_ranges():
    r = ember.rand(2000)
    assert 0.0 <= r.min().item() and r.max().item() < 1.0
    n = ember.randn(4000).numpy()
    assert abs(n.mean()) < 0.1 and 0.9 < n.std() < 1.1
    i = ember.randint(3, 7, (2000,)).numpy()
    assert set(i.tolist()) == {3, 4, 5, 6}
    assert sorted(ember.randperm(50).tolist()) == list(range(50))
    b = ember.bernoulli(ember.tensor([0.0, 1.0] * 50)).numpy()
    assert b.tolist() == [0.0, 1.0] * 50
    m = ember.multinomial(ember.tensor([0.0, 1.0, 0.0, 1.0]), 2).tolist()
    assert sorted(m) == [1, 3]
    nm = ember.normal(10.0, 0.01, (100,)).numpy()
    assert np.all(np.abs(nm - 10.0) < 0.1)


def test_multinomial_without_replacement_too_many_samples():
    with pytest.raises(RuntimeError):
        torch.multinomial(torch.tensor([0.5, 0.5]), 3)
    with pytest.raises(RuntimeError):
        ember.multinomial(ember.tensor([0.5, 0.5]), 3)


def test_in_place_fillers():
    x = ember.zeros(1000)
    assert x.uniform_(2.0, 3.0) is x
    assert 2.0 <= x.min().item() and x.max().item() < 3.0
    assert x.normal_(5.0, 0.01) is x
    assert abs(x.numpy().mean() - 5.0) < 0.01
    assert x.fill_(1.5) is x and set(x.tolist()) == {1.5}
    assert x.zero_() is x and set(x.tolist()) == {0.0}
    i = ember.zeros(3, dtype=ember.int64)
    i.fill_(2.7)
    t = torch.zeros(3, dtype=torch.int64)
    t.fill_(2.7)
    same(i, t)
    v0 = x._version
    x.fill_(1.0)
    assert x._version == v0 + 1


# ---- attributes ---------------------------------------------------------------------------

def test_attributes_match_torch():
    for lib in (ember, torch):
        x = lib.zeros(2, 3, 4)
        assert x.shape == (2, 3, 4) and x.size() == (2, 3, 4) and x.size(1) == 3
        assert x.size(-1) == 4
        assert x.dim() == x.ndim == 3 and x.numel() == 24
        assert x.mT.shape == (2, 4, 3)
        assert x.is_leaf and x.grad_fn is None and not x.requires_grad
        assert x.is_contiguous() and not x.transpose(0, 2).is_contiguous()
        assert str(x.device) == "cpu"
        assert x.data.shape == x.shape
        assert x.element_size() == 4 and x.stride() == (12, 4, 1)
    assert repr(ember.zeros(2, 3).shape) == "ember.Size([2, 3])"
    assert ember.zeros(2, 3).T.shape == (3, 2) == torch.zeros(2, 3).T.shape


def test_size_dim_out_of_range():
    with pytest.raises(IndexError) as te:
        torch.zeros(2, 3).size(2)
    with pytest.raises(IndexError) as ee:
        ember.zeros(2, 3).size(2)
    assert str(ee.value).startswith(str(te.value).split(" but got")[0])


def test_data_shares_storage_outside_autograd():
    x = ember.ones(2, requires_grad=True)
    d = x.data
    assert not d.requires_grad and d.is_leaf
    d.mul_(3)
    assert x.tolist() == [3.0, 3.0]


# ---- conversions ---------------------------------------------------------------------------

CONVERSIONS = ["float", "double", "half", "long", "int", "short", "char", "byte", "bool"]


@pytest.mark.parametrize("meth", CONVERSIONS)
def test_dtype_conversion_methods(meth):
    src = [1.7, -2.2, 0.0]
    if meth == "byte":
        src = [1.7, 2.2, 0.0]
    e = getattr(ember.tensor(src), meth)()
    t = getattr(torch.tensor(src), meth)()
    same(e, t)


def test_to_and_type_as():
    for lib in (ember, torch):
        x = lib.tensor([1.5, 2.5])
        assert x.to(lib.float64).dtype == lib.float64
        assert x.to(dtype=lib.int32).dtype == lib.int32
        assert x.to("cpu") is x
        assert x.to(lib.float32) is x
        assert x.to(lib.float32, copy=True) is not x
        assert x.type_as(lib.tensor([1])).dtype == lib.int64
        assert x.to(lib.tensor([1], dtype=lib.int16)).dtype == lib.int16
        assert x.type() == "torch.FloatTensor"
    assert ember.tensor([1.5]).to(ember.device("cpu")).tolist() == [1.5]


def test_conversion_is_differentiable():
    x = ember.tensor([1.0, 2.0], requires_grad=True)
    y = x.double()
    assert y.dtype == ember.float64 and y.grad_fn is not None
    (y * y).sum().backward()
    assert x.grad.dtype == ember.float32 and x.grad.tolist() == [2.0, 4.0]


# ---- printing -----------------------------------------------------------------------------

REPRS = [
    "lib.tensor([1.0, 2.5, -3.0])", "lib.tensor([1, 2, 3])", "lib.tensor([True, False])",
    "lib.tensor(3.5)", "lib.tensor(2)", "lib.tensor(True)", "lib.tensor([])", "lib.zeros(0, 3)",
    "lib.tensor([1.0, 2.0], requires_grad=True)", "lib.tensor([1.0, 2.0], requires_grad=True) * 2",
    "lib.tensor([[1.0, 2.0], [3.0, 4.0]])", "lib.tensor([1e-5, 1.0])", "lib.tensor([1e10, 1.0])",
    "lib.tensor([float('nan'), float('inf'), 1.5])", "lib.tensor([1.0, 2.0], dtype=lib.float64)",
    "lib.tensor([1, 2], dtype=lib.int32)", "lib.tensor([1.0, 2.0], dtype=lib.float16)",
    "lib.arange(2000)", "lib.arange(2000.).reshape(40, 50)", "lib.arange(12).reshape(2, 3, 2)",
    "lib.tensor([0.1, 0.25])", "lib.tensor([123456.0, 1.5])", "lib.tensor(float('nan'))",
    "lib.ones(3, 30)", "lib.tensor([[1.0], [2.0]], requires_grad=True).sum()",
    "lib.tensor(1.0, dtype=lib.float64)", "lib.tensor([], dtype=lib.int32)", "lib.arange(1001.)",
    "lib.tensor([0.0, 0.0])", "lib.tensor([-0.5, 12345.678])", "lib.arange(30.) / 7",
    "lib.tensor([1, -200, 3000])", "lib.tensor([[True, False], [False, True]])",
    "lib.zeros(2, 0)", "lib.arange(2000).reshape(2, 1000)", "lib.arange(3000.).reshape(10, 10, 30)",
    "lib.tensor([1.0, 2.0], dtype=lib.float64, requires_grad=True)", "lib.tensor([1e-3, 1e3])",
    "lib.tensor([-0.0, 1.0])", "lib.arange(24.).reshape(2, 3, 4)", "lib.arange(10.) * 1e9",
    "lib.tensor([-float('inf'), 1.0, 2.0])", "lib.tensor([0.0, -1.5, 0.0])",
    "lib.tensor([1, 2], dtype=lib.uint8)", "lib.zeros(2, 0, 3)",
]


def _norm(s: str) -> str:
    return s.replace("torch.", "ember.")


@pytest.mark.parametrize("expr", REPRS)
def test_repr_matches_torch(expr):
    assert repr(ev(expr, ember)) == _norm(repr(ev(expr, torch)))


def test_repr_with_print_options_and_default_dtype():
    try:
        for lib in (ember, torch):
            lib.set_printoptions(precision=2, linewidth=30)
        assert repr(ember.arange(20.) / 3) == repr(torch.arange(20.) / 3)
        for lib in (ember, torch):
            lib.set_printoptions(profile="default")
        ember.set_default_dtype(ember.float64)
        torch.set_default_dtype(torch.float64)
        for expr in ("lib.tensor([1., 2.])", "lib.tensor([1., 2.], dtype=lib.float32)"):
            assert repr(ev(expr, ember)) == _norm(repr(ev(expr, torch)))
    finally:
        for lib in (ember, torch):
            lib.set_printoptions(profile="default")
        torch.set_default_dtype(torch.float32)


def test_str_equals_repr():
    x = ember.tensor([1.0, 2.0])
    assert str(x) == repr(x)


# ---- Python protocols -----------------------------------------------------------------------

def test_item_tolist():
    for lib in (ember, torch):
        assert lib.tensor(2.5).item() == 2.5 and type(lib.tensor(2.5).item()) is float
        assert type(lib.tensor(3).item()) is int and type(lib.tensor(True).item()) is bool
        assert lib.tensor([[4]]).item() == 4
        assert lib.tensor([[1, 2], [3, 4]]).tolist() == [[1, 2], [3, 4]]
        assert lib.tensor(1.5).tolist() == 1.5
    with pytest.raises(RuntimeError) as te:
        torch.tensor([1, 2]).item()
    with pytest.raises(RuntimeError) as ee:
        ember.tensor([1, 2]).item()
    assert str(ee.value) == str(te.value)


def test_ndarray_op_tensor_returns_tensor():
    # ember defers to the Tensor's reflected operators (torch with NumPy 2 raises TypeError)
    a = np.array([1.0, 2.0], dtype=np.float32)
    t = ember.tensor([10.0, 20.0])
    for r in (a + t, a * t, a - t, t + a, a / t):
        assert isinstance(r, ember.Tensor) and r.dtype == ember.float32
    assert (a - t).tolist() == [-9.0, -18.0]
    assert (np.float64(2.0) * t).dtype == ember.float32


def test_array_protocol():
    t = ember.tensor([1.0, 2.0])
    a = np.asarray(t)
    assert a.dtype == np.float32 and a.tolist() == [1.0, 2.0]
    assert np.asarray(t, dtype=np.float64).dtype == np.float64
    assert np.array(ember.tensor([[1, 2]])).shape == (1, 2)


def test_len_iter_bool_hash():
    for lib in (ember, torch):
        t = lib.tensor([[1, 2], [3, 4], [5, 6]])
        assert len(t) == 3
        rows = list(t)
        assert len(rows) == 3 and rows[1].tolist() == [3, 4] and isinstance(rows[0], lib.Tensor)
        assert bool(lib.tensor([1])) is True and bool(lib.tensor(0.0)) is False
        a, b = lib.tensor([1]), lib.tensor([1])
        assert hash(a) != hash(b) or a is b
        assert len({a, b}) == 2 and a in {a: 1}
    with pytest.raises(TypeError) as te:
        len(torch.tensor(1))
    with pytest.raises(TypeError) as ee:
        len(ember.tensor(1))
    assert str(ee.value) == str(te.value)
    with pytest.raises(TypeError) as te:
        iter(torch.tensor(1))
    with pytest.raises(TypeError) as ee:
        iter(ember.tensor(1))
    assert str(ee.value) == str(te.value)


@pytest.mark.parametrize("expr", ["lib.tensor([1, 2])", "lib.tensor([])"])
def test_bool_ambiguity_text(expr):
    with pytest.raises(RuntimeError) as te:
        bool(ev(expr, torch))
    with pytest.raises(RuntimeError) as ee:
        bool(ev(expr, ember))
    assert str(ee.value) == str(te.value)


def test_format_and_numbers():
    for lib in (ember, torch):
        assert f"{lib.tensor(3.14159):.2f}" == "3.14"
        assert f"{lib.tensor(7):d}" == "7"
        assert float(lib.tensor(2.5)) == 2.5 and int(lib.tensor(3.9)) == 3
        assert [0, 1, 2][lib.tensor(1)] == 1
        assert f"{lib.tensor([1.0, 2.0])}" == str(lib.tensor([1.0, 2.0]))
    with pytest.raises(TypeError):
        [0, 1][torch.tensor(1.0)]
    with pytest.raises(TypeError):
        [0, 1][ember.tensor(1.0)]


def test_deepcopy_leaf():
    import copy
    x = ember.tensor([1.0, 2.0], requires_grad=True)
    y = copy.deepcopy(x)
    assert y is not x and y.requires_grad and y.tolist() == x.tolist()
    y.detach().numpy()[0] = 9.0
    assert x.tolist() == [1.0, 2.0]


# ---- errors --------------------------------------------------------------------------------

@pytest.mark.parametrize("expr", ["lib.ones(2, 3) + lib.ones(4)",
                                  "lib.add(lib.ones(2, 3), lib.ones(4))",
                                  "lib.ones(3) * lib.ones(2)", "lib.mul(lib.ones(3), lib.ones(2))",
                                  "lib.ones(3, requires_grad=True) - lib.ones(2)"])
def test_shape_mismatch_names_op_and_shapes(expr):
    with pytest.raises(RuntimeError) as te:
        ev(expr, torch)
    with pytest.raises(RuntimeError) as ee:
        ev(expr, ember)
    msg = str(ee.value)
    assert str(te.value) in msg  # torch's text, plus the op name and the input shapes
    assert msg.split(":")[0] in ("add", "mul", "sub")
    assert "(input shapes (" in msg


def test_matmul_shape_error_type():
    with pytest.raises(RuntimeError):
        torch.ones(2, 3) @ torch.ones(2, 3)
    with pytest.raises(RuntimeError) as ee:
        ember.ones(2, 3) @ ember.ones(2, 3)
    assert "2" in str(ee.value) and "3" in str(ee.value)


def test_dtype_errors():
    for lib in (ember, torch):
        with pytest.raises(RuntimeError):
            lib.tensor([1, 2]).requires_grad_()
        x = lib.tensor([1, 2])
        with pytest.raises(RuntimeError) as ei:
            x.add_(1.5)
        assert "can't be cast" in str(ei.value)
    with pytest.raises(TypeError):
        torch.zeros(2, dtype="float32")


def test_index_out_of_range():
    with pytest.raises(IndexError) as te:
        torch.zeros(3)[5]
    with pytest.raises(IndexError) as ee:
        ember.zeros(3)[5]
    assert "5" in str(ee.value) and "out of" in str(te.value)


def test_ragged_nested_list_raises():
    with pytest.raises(ValueError):
        torch.tensor([[1, 2], [3]])
    with pytest.raises(ValueError):
        ember.tensor([[1, 2], [3]])


def test_cuda_is_unavailable():
    with pytest.raises(RuntimeError):
        ember.zeros(2, device="cuda")
    assert ember.zeros(2, device="cpu").device == ember.device("cpu")
