"""Random draws and state updates go through op dispatch (so a tracing mode sees them),
with the same streams and values as direct NumPy draws; torch's global module hooks."""

import numpy as np
import pytest

import ember
import ember.nn.functional as F
from ember import nn
from ember.autograd.grad_mode import _state, step_aside
from ember.nn.modules import module as ember_module
from ember.ops.registry import apply_inplace, eager

torch = pytest.importorskip("torch")


class _Recorder:
    """A dispatch mode that records op names (in-place ones with a trailing ``_``)."""

    def __init__(self) -> None:
        self.names: list[str] = []
        self.reads: list[str] = []

    def dispatch(self, op, inputs, params):
        self.names.append(op.name)
        return eager(op, inputs, params)

    def dispatch_inplace(self, op, target, others, params):
        self.names.append(op.name + "_")
        with step_aside(self):
            return apply_inplace(op, target, *others, **params)

    def on_host_read(self, tensor, what: str) -> None:
        self.reads.append(what)

    def __enter__(self):
        _state.modes.append(self)
        return self

    def __exit__(self, *exc) -> None:
        _state.modes.remove(self)


def _np_rng(seed: int = 0) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(seed))


# ---------------------------------------------------------------- streams


STREAMS = [
    ("rand", lambda: ember.rand(3, 2), lambda g: g.random((3, 2), dtype=np.float32)),
    ("rand_f64", lambda: ember.rand(4, dtype=ember.float64), lambda g: g.random(4)),
    ("randn", lambda: ember.randn(5), lambda g: g.standard_normal(5, dtype=np.float32)),
    ("randn_f64", lambda: ember.randn(2, 2, dtype=ember.float64),
     lambda g: g.standard_normal((2, 2))),
    ("rand_like", lambda: ember.rand_like(ember.zeros(3)),
     lambda g: g.random(3, dtype=np.float32)),
    ("randn_like", lambda: ember.randn_like(ember.zeros(3)),
     lambda g: g.standard_normal(3, dtype=np.float32)),
    ("randint", lambda: ember.randint(2, 9, (6,)), lambda g: g.integers(2, 9, size=(6,))),
    ("randint_like", lambda: ember.randint_like(ember.zeros(4, dtype=ember.int64), 5),
     lambda g: g.integers(0, 5, size=(4,))),
    ("randperm", lambda: ember.randperm(7), lambda g: g.permutation(7)),
    ("normal", lambda: ember.normal(2.0, 3.0, (4,)),
     lambda g: (2.0 + 3.0 * g.standard_normal((4,))).astype(np.float32)),
    ("normal_tensors", lambda: ember.normal(ember.arange(3.0), ember.full((3,), 0.5)),
     lambda g: (np.arange(3.0, dtype=np.float32) + np.full(3, 0.5, np.float32)
                * g.standard_normal(3)).astype(np.float32)),
    ("bernoulli", lambda: ember.bernoulli(ember.tensor([0.1, 0.5, 0.9, 0.3])),
     lambda g: (g.random(4) < np.array([0.1, 0.5, 0.9, 0.3], np.float32)).astype(np.float32)),
    ("bernoulli_p", lambda: ember.bernoulli(ember.zeros(5), 0.7),
     lambda g: (g.random(5) < 0.7).astype(np.float32)),
    ("uniform_", lambda: ember.zeros(4).uniform_(-2.0, 3.0),
     lambda g: g.uniform(-2.0, 3.0, (4,)).astype(np.float32)),
    ("normal_", lambda: ember.zeros(4).normal_(1.0, 2.0),
     lambda g: (1.0 + 2.0 * g.standard_normal((4,))).astype(np.float32)),
    ("exponential_", lambda: ember.zeros(4).exponential_(2.0),
     lambda g: g.exponential(0.5, (4,)).astype(np.float32)),
    ("random_", lambda: ember.zeros(4).random_(0, 10),
     lambda g: g.integers(0, 10, (4,)).astype(np.float32)),
    ("bernoulli_", lambda: ember.zeros(5).bernoulli_(0.3),
     lambda g: (g.random((5,)) < 0.3).astype(np.float32)),
]


@pytest.mark.parametrize("name,fn,ref", STREAMS, ids=[s[0] for s in STREAMS])
def test_draws_match_numpy_stream(name, fn, ref):
    ember.manual_seed(0)
    out = fn().numpy()
    expected = ref(_np_rng(0))
    assert out.dtype == expected.dtype or name.startswith("rand") and out.dtype == np.int64
    np.testing.assert_array_equal(out, expected)


def test_generator_argument_draws_from_that_stream():
    g = ember.Generator().manual_seed(5)
    ember.manual_seed(1)
    np.testing.assert_array_equal(ember.rand(3, generator=g).numpy(),
                                  _np_rng(5).random(3, dtype=np.float32))
    # the default stream was not touched
    np.testing.assert_array_equal(ember.rand(2).numpy(), _np_rng(1).random(2, dtype=np.float32))


def test_multinomial_matches_numpy_choice_stream():
    p = np.array([0.2, 0.3, 0.5])
    ember.manual_seed(0)
    out = ember.multinomial(ember.tensor(p), 6, replacement=True).numpy()
    np.testing.assert_array_equal(out, _np_rng(0).choice(3, size=6, p=p / p.sum()))


def test_bernoulli_rate_matches_torch_statistically():
    probs = [0.1, 0.5, 0.9]
    e = ember.bernoulli(ember.tensor(probs).expand(4000, 3)).numpy().mean(0)
    t = torch.bernoulli(torch.tensor(probs).expand(4000, 3)).numpy().mean(0)
    np.testing.assert_allclose(e, probs, atol=0.04)
    np.testing.assert_allclose(t, probs, atol=0.04)


def test_bernoulli_rejects_bad_probabilities():
    with pytest.raises(RuntimeError, match="bernoulli"):
        ember.bernoulli(ember.tensor([0.5, 1.5]))


# ---------------------------------------------------------------- ops seen by dispatch


DISPATCHED = [
    ("rand", lambda: ember.rand(3), "uniform"),
    ("randn", lambda: ember.randn(3), "normal"),
    ("rand_like", lambda: ember.rand_like(ember.zeros(2)), "uniform"),
    ("randn_like", lambda: ember.randn_like(ember.zeros(2)), "normal"),
    ("randint", lambda: ember.randint(0, 4, (3,)), "randint"),
    ("randint_like", lambda: ember.randint_like(ember.zeros(2), 4), "randint"),
    ("randperm", lambda: ember.randperm(4), "randperm"),
    ("normal", lambda: ember.normal(0.0, 1.0, (3,)), "normal"),
    ("normal_tensors", lambda: ember.normal(ember.zeros(3), ember.ones(3)), "normal"),
    ("bernoulli", lambda: ember.bernoulli(ember.full((3,), 0.5)), "bernoulli"),
    ("multinomial", lambda: ember.multinomial(ember.tensor([0.5, 0.5]), 1), "multinomial"),
    ("uniform_", lambda: ember.zeros(3).uniform_(), "uniform"),
    ("normal_", lambda: ember.zeros(3).normal_(), "normal"),
    ("exponential_", lambda: ember.zeros(3).exponential_(), "exponential"),
    ("random_", lambda: ember.zeros(3).random_(0, 5), "randint"),
    ("bernoulli_", lambda: ember.zeros(3).bernoulli_(0.5), "bernoulli"),
    ("bernoulli_tensor", lambda: ember.zeros(3).bernoulli_(ember.full((3,), 0.5)), "bernoulli"),
    ("dropout", lambda: F.dropout(ember.ones(4, 4), 0.5), "dropout_mask"),
    ("dropout1d", lambda: F.dropout1d(ember.ones(2, 3, 4), 0.5), "dropout_mask"),
    ("dropout2d", lambda: F.dropout2d(ember.ones(2, 3, 2, 2), 0.5), "dropout_mask"),
    ("dropout3d", lambda: F.dropout3d(ember.ones(2, 3, 1, 2, 2), 0.5), "dropout_mask"),
    ("alpha_dropout", lambda: F.alpha_dropout(ember.ones(4), 0.5, True), "dropout_mask"),
    ("feature_alpha_dropout", lambda: F.feature_alpha_dropout(ember.ones(2, 3), 0.5, True),
     "dropout_mask"),
    ("nn.Dropout", lambda: nn.Dropout(0.2)(ember.ones(3)), "dropout_mask"),
]


@pytest.mark.parametrize("name,fn,op", DISPATCHED, ids=[d[0] for d in DISPATCHED])
def test_draws_go_through_dispatch(name, fn, op):
    with _Recorder() as rec:
        fn()
    assert op in rec.names
    if name.endswith("_") or name == "bernoulli_tensor":
        assert rec.names[-1] == "copy_"  # the write into the tensor is an in-place op


@pytest.mark.parametrize("inplace", [False, True])
@pytest.mark.parametrize("p", [0.2, 0.5])
def test_dropout_mask_values(p, inplace):
    x = ember.randn(8, 6)
    ref = x.numpy().copy()
    ember.manual_seed(3)
    with _Recorder() as rec:
        out = F.dropout(x, p, inplace=inplace)
    keep = (_np_rng(3).random((8, 6), dtype=np.float32) >= p).astype(np.float32)
    np.testing.assert_array_equal(out.numpy(), ref * (keep * (1.0 / (1.0 - p))))
    assert ("mul_" if inplace else "mul") in rec.names
    assert (out is x) == inplace


def test_alpha_dropout_values():
    x = ember.randn(5, 4)
    ember.manual_seed(2)
    out = F.alpha_dropout(x, 0.3, True).numpy()
    keep = (_np_rng(2).random((5, 4), dtype=np.float32) >= 0.3).astype(np.float32)
    s = 1.7580993408473766
    a = 1.0 / ((s ** 2 * 0.3 + 1.0) * 0.7) ** 0.5
    expected = x.numpy() * (keep * a) + ((keep - 1.0) * (s * a) + s * a * 0.3)
    np.testing.assert_allclose(out, expected, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("method,args", [("uniform_", ()), ("normal_", ()), ("bernoulli_", ()),
                                         ("exponential_", ()), ("random_", (0, 3))])
def test_random_fill_of_non_leaf_cuts_gradient(method, args):
    x = ember.ones(4, requires_grad=True)
    y = x * 2
    getattr(y, method)(*args)
    y.sum().backward()
    assert x.grad.tolist() == [0.0] * 4  # as in torch: the old value no longer matters


def test_dropout_keeps_gradient():
    x = ember.ones(6, requires_grad=True)
    F.dropout(x, 0.5).sum().backward()
    assert set(np.unique(x.grad.numpy())) <= {0.0, 2.0}


# ---------------------------------------------------------------- running statistics


def _bn_pair(cls, n, **kw):
    return getattr(nn, cls)(n, **kw), getattr(torch.nn, cls)(n, **kw)


@pytest.mark.parametrize("cls,shape,kw", [
    ("BatchNorm1d", (8, 3), {}),
    ("BatchNorm2d", (4, 3, 2, 2), {"momentum": None}),
    ("BatchNorm1d", (6, 3, 4), {"momentum": 0.3}),
    ("InstanceNorm1d", (4, 3, 5), {"track_running_stats": True}),
    ("InstanceNorm2d", (2, 3, 2, 3), {"track_running_stats": True, "momentum": None}),
])
def test_running_stats_match_torch_and_are_dispatched(cls, shape, kw):
    em, tm = _bn_pair(cls, shape[1], **kw)
    em.train(), tm.train()
    rng = np.random.default_rng(0)
    for _ in range(3):
        x = rng.standard_normal(shape).astype(np.float32)
        with _Recorder() as rec:
            em(ember.tensor(x))
        tm(torch.tensor(x))
        counted = cls.startswith("Batch")  # torch's InstanceNorm does not count batches
        assert rec.names.count("mul_") == 2, rec.names
        assert rec.names.count("add_") == 2 + counted, rec.names
    np.testing.assert_allclose(em.running_mean.numpy(), tm.running_mean.numpy(), rtol=1e-5,
                               atol=1e-6)
    np.testing.assert_allclose(em.running_var.numpy(), tm.running_var.numpy(), rtol=1e-5,
                               atol=1e-6)
    assert int(em.num_batches_tracked) == int(tm.num_batches_tracked)


def test_batch_norm_running_update_values_and_version():
    rm = ember.tensor([0.5, -1.0])
    rv = ember.tensor([2.0, 1.0])
    x = ember.tensor([[1.0, 2.0], [3.0, 5.0], [4.0, 0.0]])
    v0 = rm._version
    F.batch_norm(x, rm, rv, training=True, momentum=0.25)
    xa = x.numpy()
    mean = xa.mean(0)
    var = xa.var(0) * (3 / 2)
    m = np.float32(0.25)
    np.testing.assert_array_equal(rm.numpy(), np.float32(0.75) * np.float32([0.5, -1.0])
                                  + m * mean)
    np.testing.assert_allclose(rv.numpy(), np.float32(0.75) * np.float32([2.0, 1.0]) + m * var,
                               rtol=1e-6)
    assert rm._version > v0


def test_batch_norm_float64_stats_with_float32_input():
    rm, rv = ember.zeros(3, dtype=ember.float64), ember.ones(3, dtype=ember.float64)
    x = ember.randn(5, 3)
    F.batch_norm(x, rm, rv, training=True)
    assert rm.dtype == ember.float64
    np.testing.assert_allclose(rm.numpy(), 0.1 * x.numpy().mean(0), rtol=1e-6)


def test_reset_running_stats_goes_through_ops():
    m = nn.BatchNorm1d(2)
    m(ember.randn(4, 2))
    with _Recorder() as rec:
        m.reset_running_stats()
    assert rec.names == ["fill_", "fill_", "fill_"]
    assert m.running_mean.tolist() == [0.0, 0.0] and m.running_var.tolist() == [1.0, 1.0]
    assert int(m.num_batches_tracked) == 0


# ---------------------------------------------------------------- embedding max_norm


@pytest.mark.parametrize("norm_type", [2.0, 1.0, float("inf")])
def test_embedding_max_norm_renorm_matches_torch_and_is_dispatched(norm_type):
    w = np.random.default_rng(1).standard_normal((6, 3)).astype(np.float32) * 2
    idx = [[0, 2], [2, 5]]
    em = nn.Embedding(6, 3, max_norm=1.0, norm_type=norm_type, _weight=ember.tensor(w))
    tm = torch.nn.Embedding(6, 3, max_norm=1.0, norm_type=norm_type,
                            _weight=torch.tensor(w.copy()))
    with _Recorder() as rec:
        out = em(ember.tensor(idx))
    ref = tm(torch.tensor(idx))
    assert "embedding_renorm_" in rec.names
    np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(em.weight.detach().numpy(), tm.weight.detach().numpy(),
                               rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------- global module hooks


def _hook_order(lib, hooks_mod, fail: bool = False):
    calls = []
    net = lib.nn.Sequential(lib.nn.Identity(), lib.nn.ReLU())
    handles = [
        hooks_mod.register_module_forward_pre_hook(
            lambda m, a: calls.append(("gpre", type(m).__name__))),
        hooks_mod.register_module_forward_hook(
            lambda m, a, o: calls.append(("gfwd", type(m).__name__))),
        hooks_mod.register_module_forward_hook(
            lambda m, a, k, o: calls.append(("gkw", type(m).__name__, sorted(k))),
            with_kwargs=True),
        net[1].register_forward_pre_hook(lambda m, a: calls.append(("pre", type(m).__name__))),
        net[1].register_forward_hook(lambda m, a, o: calls.append(("fwd", type(m).__name__)),
                                     always_call=True),
        hooks_mod.register_module_forward_hook(
            lambda m, a, o: calls.append(("galways", type(m).__name__, o is None)),
            always_call=True),
    ]
    try:
        if fail:
            with pytest.raises(Exception):  # noqa: B017 - torch and ember differ in the type
                net[1]("not a tensor")
        else:
            net(lib.ones(2))
    finally:
        for h in handles:
            h.remove()
    return calls


@pytest.mark.parametrize("fail", [False, True])
def test_global_hooks_call_order_matches_torch(fail):
    got = _hook_order(ember, ember_module, fail)
    expected = _hook_order(torch, torch.nn.modules.module, fail)
    assert got == expected
    assert not ember_module._global_hooks


def test_global_hooks_replace_inputs_and_outputs():
    h1 = ember_module.register_module_forward_pre_hook(lambda m, args: (args[0] * 3,))
    h2 = ember_module.register_module_forward_hook(lambda m, args, out: out + 1)
    try:
        out = nn.Identity()(ember.ones(2))
    finally:
        h1.remove()
        h2.remove()
    assert out.tolist() == [4.0, 4.0]
    assert nn.Identity()(ember.ones(2)).tolist() == [1.0, 1.0]


def test_global_hook_handle_context_manager_removes():
    seen = []
    with ember_module.register_module_forward_pre_hook(lambda m, a: seen.append(1)):
        nn.ReLU()(ember.ones(1))
        assert ember_module._global_hooks
    nn.ReLU()(ember.ones(1))
    assert seen == [1] and not ember_module._global_hooks


def test_global_hooks_are_not_in_nn_namespace_as_in_torch():
    for name in ("register_module_forward_pre_hook", "register_module_forward_hook"):
        assert hasattr(torch.nn.modules.module, name) and hasattr(ember_module, name)
        assert hasattr(nn.modules, name) == hasattr(torch.nn.modules, name)
        assert hasattr(nn, name) == hasattr(torch.nn, name)


def test_random_ops_are_marked_random_and_not_differentiable():
    from ember.ops.registry import OPS
    for name in ("uniform", "normal", "randint", "randperm", "bernoulli", "multinomial",
                 "exponential", "dropout_mask"):
        assert OPS[name].random and not OPS[name].differentiable
