"""Behaviour of the autograd core against torch: backward, grad, hooks, modes, versions,
custom Functions, the functional API, anomaly mode and gradcheck."""

from __future__ import annotations

import gc
import inspect
import weakref

import numpy as np
import pytest

import ember
from ember.autograd import Function, once_differentiable

torch = pytest.importorskip("torch")

A = np.array([0.5, -1.25, 2.0])
B = np.array([[1.5, -0.5, 0.25], [2.0, 1.0, -3.0]])


def pair(arr, requires_grad=True):
    """The same float64 data as an ember and a torch leaf."""
    return (ember.tensor(arr, requires_grad=requires_grad),
            torch.tensor(arr, requires_grad=requires_grad))


def close(e, t, **kw):
    assert e is not None and t is not None
    assert tuple(e.shape) == tuple(t.shape)
    np.testing.assert_allclose(e.detach().numpy(), t.detach().numpy(), rtol=1e-6, atol=1e-9,
                               **kw)


def both(fn):
    """Run ``fn(lib)`` with lib = ember and torch."""
    return fn(ember), fn(torch)


def raises_like(fn_e, fn_t, exc=RuntimeError):
    """Both raise ``exc``; return both messages."""
    with pytest.raises(exc) as te:
        fn_t()
    with pytest.raises(exc) as ee:
        fn_e()
    return str(ee.value), str(te.value)


# ---- backward ----------------------------------------------------------------------------

def test_backward_scalar_and_gradient_argument():
    (xe, xt), (ye, yt) = pair(A), pair(B)
    for x, y in ((xe, ye), (xt, yt)):
        (x * y).sin().sum().backward()
    close(xe.grad, xt.grad)
    close(ye.grad, yt.grad)
    ge, gt = pair(B * 2, requires_grad=False)
    xe.grad = None
    xt.grad = None
    (xe * ye).exp().backward(ge)
    (xt * yt).exp().backward(gt)
    close(xe.grad, xt.grad)


def test_backward_nonscalar_without_gradient_raises_torch_text():
    xe, xt = pair(A)
    me, mt = raises_like(lambda: (xe * 2).backward(), lambda: (xt * 2).backward())
    assert me == mt == "grad can be implicitly created only for scalar outputs"


def test_grad_accumulates_across_calls():
    xe, xt = pair(A)
    for x in (xe, xt):
        (x * x).sum().backward()
        (x * 3).sum().backward()
    close(xe.grad, xt.grad)
    assert xe.grad.grad_fn is None and not xe.grad.requires_grad


def test_second_backward_raises_and_retain_graph_allows_it():
    xe, xt = pair(A)
    ye, yt = (xe * xe).sum(), (xt * xt).sum()
    ye.backward()
    yt.backward()
    me, mt = raises_like(ye.backward, yt.backward)
    assert me.startswith("Trying to backward through the graph a second time")
    assert me == mt
    xe2, xt2 = pair(A)
    ye, yt = (xe2 * xe2).sum(), (xt2 * xt2).sum()
    ye.backward(retain_graph=True)
    yt.backward(retain_graph=True)
    ye.backward()
    yt.backward()
    close(xe2.grad, xt2.grad)


def test_backward_inputs_restricts_accumulation():
    (xe, xt), (ye, yt) = pair(A), pair(A * 2)
    (xe * ye).sum().backward(inputs=[ye])
    (xt * yt).sum().backward(inputs=[yt])
    assert xe.grad is None and xt.grad is None
    close(ye.grad, yt.grad)


@pytest.mark.filterwarnings("ignore:Using backward\\(\\) with create_graph=True")
def test_backward_create_graph_gives_differentiable_grad():
    xe, xt = pair(A)
    for x in (xe, xt):
        (x ** 3).sum().backward(create_graph=True)
    assert xe.grad.requires_grad and xt.grad.requires_grad
    close(xe.grad, xt.grad)
    ge, = ember.autograd.grad(xe.grad.sum(), xe)
    gt, = torch.autograd.grad(xt.grad.sum(), xt)
    close(ge, gt)


def test_backward_shape_mismatch_of_gradient():
    xe, xt = pair(A)
    me, mt = raises_like(lambda: (xe * 2).backward(ember.ones(2, dtype=ember.float64)),
                         lambda: (xt * 2).backward(torch.ones(2, dtype=torch.float64)))
    assert "Mismatch in shape" in me and "Mismatch in shape" in mt


def test_backward_on_tensor_without_grad_raises():
    e = ember.ones(2)
    t = torch.ones(2)
    me, mt = raises_like(lambda: e.sum().backward(), lambda: t.sum().backward())
    assert me == mt


# ---- autograd.grad -----------------------------------------------------------------------

def test_grad_with_grad_outputs():
    (xe, xt), (ye, yt) = pair(A), pair(A[::-1].copy())
    ve, vt = pair(np.array([1.0, 2.0, -1.0]), requires_grad=False)
    ge = ember.autograd.grad(xe * ye + xe.exp(), (xe, ye), ve)
    gt = torch.autograd.grad(xt * yt + xt.exp(), (xt, yt), vt)
    assert len(ge) == 2
    for a, b in zip(ge, gt, strict=True):
        close(a, b)
    assert xe.grad is None


def test_grad_allow_unused_and_materialize():
    (xe, xt), (ye, yt) = pair(A), pair(A)
    me, mt = raises_like(lambda: ember.autograd.grad((xe * 2).sum(), (xe, ye)),
                         lambda: torch.autograd.grad((xt * 2).sum(), (xt, yt)))
    assert me == mt
    ge = ember.autograd.grad((xe * 2).sum(), (xe, ye), allow_unused=True)
    assert ge[1] is None
    ge = ember.autograd.grad((xe * 2).sum(), (xe, ye), materialize_grads=True)
    gt = torch.autograd.grad((xt * 2).sum(), (xt, yt), materialize_grads=True)
    close(ge[1], gt[1])
    close(ge[0], gt[0])


def test_grad_of_input_that_does_not_require_grad():
    xe, xt = pair(A, requires_grad=False)
    we, wt = pair(A)
    me, mt = raises_like(lambda: ember.autograd.grad((xe * we).sum(), xe),
                         lambda: torch.autograd.grad((xt * wt).sum(), xt))
    assert me.startswith("One of the differentiated Tensors does not require grad")
    assert mt.startswith("One of the differentiated Tensors does not require grad")


def test_third_order_derivative_of_x4():
    xe, xt = pair(A)
    res = []
    for lib, x in ((ember, xe), (torch, xt)):
        y = (x ** 4).sum()
        g1, = lib.autograd.grad(y, x, create_graph=True)
        g2, = lib.autograd.grad(g1.sum(), x, create_graph=True)
        g3, = lib.autograd.grad(g2.sum(), x)
        res.append((g1, g2, g3))
    for a, b in zip(*res, strict=True):
        close(a, b)
    np.testing.assert_allclose(res[0][2].numpy(), 24 * A)


def test_grad_through_non_leaf_input():
    xe, xt = pair(A)
    ye, yt = xe * 2, xt * 2
    ge, = ember.autograd.grad((ye ** 2).sum(), ye)
    gt, = torch.autograd.grad((yt ** 2).sum(), yt)
    close(ge, gt)


# ---- hooks and retain_grad -----------------------------------------------------------------

def test_leaf_hook_replaces_gradient_and_handle_removes_it():
    xe, xt = pair(A)
    seen = {}
    he = xe.register_hook(lambda g: g * 10)
    ht = xt.register_hook(lambda g: g * 10)
    for x in (xe, xt):
        (x * x).sum().backward()
    close(xe.grad, xt.grad)
    he.remove()
    ht.remove()
    xe.register_hook(lambda g: seen.setdefault("e", g))
    xe.grad = None
    xt.grad = None
    for x in (xe, xt):
        (x * x).sum().backward()
    close(xe.grad, xt.grad)
    np.testing.assert_allclose(seen["e"].numpy(), 2 * A)


def test_non_leaf_hook_and_retain_grad():
    xe, xt = pair(A)
    ye, yt = xe * 3, xt * 3
    ye.register_hook(lambda g: g + 1)
    yt.register_hook(lambda g: g + 1)
    ye.retain_grad()
    yt.retain_grad()
    assert ye.retains_grad and yt.retains_grad
    (ye * ye).sum().backward()
    (yt * yt).sum().backward()
    close(ye.grad, yt.grad)
    close(xe.grad, xt.grad)


def test_non_leaf_grad_is_none_without_retain_grad():
    xe, _ = pair(A)
    ye = xe * 2
    ye.sum().backward()
    assert ye.grad is None and not ye.is_leaf and xe.is_leaf


def test_register_hook_on_tensor_without_grad_raises():
    with pytest.raises(RuntimeError) as te:
        torch.ones(2).register_hook(lambda g: g)
    with pytest.raises(RuntimeError) as ee:
        ember.ones(2).register_hook(lambda g: g)
    assert str(ee.value) == str(te.value)


# ---- detach / requires_grad ----------------------------------------------------------------

def test_detach_shares_storage_and_cuts_graph():
    xe, xt = pair(A)
    for x in (xe, xt):
        d = (x * 2).detach()
        assert not d.requires_grad and d.grad_fn is None and d.is_leaf
    d = xe.detach()
    d.numpy()[0] = 42.0
    assert xe.detach().numpy()[0] == 42.0


def test_detach_in_place():
    xe, xt = pair(A)
    ye, yt = xe * 2, xt * 2
    ye.detach_()
    yt.detach_()
    assert ye.grad_fn is None and not ye.requires_grad and ye.is_leaf
    assert yt.grad_fn is None and not yt.requires_grad


def test_requires_grad_rules():
    x = ember.zeros(2)
    assert x.requires_grad_() is x and x.requires_grad
    me, mt = raises_like(lambda: (ember.ones(2, requires_grad=True) * 2).requires_grad_(False),
                         lambda: (torch.ones(2, requires_grad=True) * 2).requires_grad_(False))
    assert me == mt
    me, mt = raises_like(lambda: ember.tensor([1, 2]).requires_grad_(),
                         lambda: torch.tensor([1, 2]).requires_grad_())
    assert me.startswith("only Tensors of floating point")
    assert mt.startswith("only Tensors of floating point")


# ---- grad modes -----------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["no_grad", "enable_grad", "set_grad_enabled", "inference_mode"])
def test_grad_modes_as_context_managers_and_decorators(name):
    def make(lib):
        return lib.set_grad_enabled(False) if name == "set_grad_enabled" else getattr(lib, name)()

    def run(lib):
        x = lib.ones(2, requires_grad=True)
        outer = lib.no_grad() if name == "enable_grad" else lib.enable_grad()
        with outer:
            with make(lib):
                r1 = ((x * 2).requires_grad, lib.is_grad_enabled())
            after = lib.is_grad_enabled()

            @make(lib)
            def fn():
                return (x * 2).requires_grad, lib.is_grad_enabled()

            @make(lib)
            def gen():
                yield (x * 2).requires_grad
                yield lib.is_grad_enabled()

            r2 = fn()
            r3 = list(gen())
            assert inspect.isgeneratorfunction(gen)
            after2 = lib.is_grad_enabled()
        return r1, after, r2, r3, after2, fn.__name__

    results = [run(ember), run(torch)]
    if name == "set_grad_enabled":
        torch.set_grad_enabled(True)
        ember.set_grad_enabled(True)
    assert results[0] == results[1]
    assert ember.is_grad_enabled()


def test_set_grad_enabled_as_function():
    try:
        ember.set_grad_enabled(False)
        torch.set_grad_enabled(False)
        assert ember.is_grad_enabled() is torch.is_grad_enabled() is False
        assert not (ember.ones(2, requires_grad=True) * 2).requires_grad
    finally:
        ember.set_grad_enabled(True)
        torch.set_grad_enabled(True)
    assert ember.is_grad_enabled()


def test_inference_mode_flags():
    for lib in (ember, torch):
        with lib.inference_mode():
            y = lib.ones(2, requires_grad=True) * 2
            assert lib.is_inference_mode_enabled()
        assert y.is_inference() and not y.requires_grad
        assert not lib.is_inference_mode_enabled()


def test_no_grad_inside_generator_does_not_leak():
    @ember.no_grad()
    def gen():
        yield ember.is_grad_enabled()
        yield ember.is_grad_enabled()

    g = gen()
    assert next(g) is False
    assert ember.is_grad_enabled()
    assert next(g) is False


# ---- versions and in-place --------------------------------------------------------------------

def test_modified_saved_tensor_raises_with_versions():
    msgs = []
    for lib in (ember, torch):
        x = lib.tensor(A, requires_grad=True)
        y = x * 2
        z = y * y  # saves y
        y.add_(1)
        assert y._version == 1
        with pytest.raises(RuntimeError) as ei:
            z.sum().backward()
        msgs.append(str(ei.value))
    me, mt = msgs
    assert "modified by an inplace operation" in me
    assert "is at version 1; expected version 0 instead" in me
    assert "is at version 1; expected version 0 instead" in mt


def test_in_place_on_leaf_requiring_grad_raises_torch_text():
    xe, xt = pair(A)
    me, mt = raises_like(lambda: xe.add_(1), lambda: xt.add_(1))
    assert me == mt


def test_in_place_on_leaf_under_no_grad_is_allowed():
    xe, xt = pair(A)
    for x, lib in ((xe, ember), (xt, torch)):
        with lib.no_grad():
            x.mul_(2)
    close(xe, xt)
    assert xe._version == xt._version == 1


def test_in_place_on_non_leaf_gradients_match_torch():
    xe, xt = pair(A)
    for x in (xe, xt):
        y = x * 2
        y.add_(1)
        y.mul_(3)
        (y * y).sum().backward()
    close(xe.grad, xt.grad)


def test_in_place_chain_with_saved_output():
    xe, xt = pair(A)
    for x in (xe, xt):
        y = x.exp()   # exp saves its output
        z = y * 1
        z.mul_(x)
        z.sum().backward()
    close(xe.grad, xt.grad)


def test_long_chain_backward_has_no_recursion_limit():
    x = ember.tensor(0.0, requires_grad=True)
    y = x
    for _ in range(100_000):
        y = y + 1
    y.backward()
    assert y.item() == 100_000.0
    assert x.grad.item() == 1.0


def test_saved_arrays_are_freed_after_backward():
    x = ember.randn(50, requires_grad=True)
    h = x * 2
    ref = weakref.ref(h._data)
    y = (h * h).sum()  # saves h's array twice
    del h
    gc.collect()
    assert ref() is not None
    y.backward()
    gc.collect()
    assert ref() is None


def test_saved_arrays_kept_with_retain_graph():
    x = ember.randn(50, requires_grad=True)
    h = x * 2
    ref = weakref.ref(h._data)
    y = (h * h).sum()
    del h
    y.backward(retain_graph=True)
    gc.collect()
    assert ref() is not None


# ---- custom Functions --------------------------------------------------------------------------

def _make_functions(lib):
    class MulConst(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x, k):
            ctx.save_for_backward(x)
            ctx.k = k
            return x * x * k

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return 2 * x * ctx.k * g, None

    class NewStyle(lib.autograd.Function):
        @staticmethod
        def forward(x, y):
            return x * y.exp()

        @staticmethod
        def setup_context(ctx, inputs, output):
            ctx.save_for_backward(*inputs)

        @staticmethod
        def backward(ctx, g):
            x, y = ctx.saved_tensors
            return g * y.exp(), g * x * y.exp()

    class TwoOut(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x.sin(), x.cos()

        @staticmethod
        def backward(ctx, ga, gb):
            (x,) = ctx.saved_tensors
            return ga * x.cos() - gb * x.sin()

    return MulConst, NewStyle, TwoOut


def test_function_forward_backward_and_double_backward():
    (xe, xt), (ye, yt) = pair(A), pair(A[::-1].copy())
    fe, ft = _make_functions(ember), _make_functions(torch)
    oe, ot = fe[0].apply(xe, 3.0), ft[0].apply(xt, 3.0)
    close(oe, ot)
    assert repr(oe.grad_fn).startswith("<MulConstBackward")
    assert oe.grad_fn.name() == ot.grad_fn.name() == "MulConstBackward"
    assert "grad_fn=<MulConstBackward>" in repr(oe)
    ge, = ember.autograd.grad(oe.sum(), xe, create_graph=True)
    gt, = torch.autograd.grad(ot.sum(), xt, create_graph=True)
    close(ge, gt)
    gge, = ember.autograd.grad((ge * ge).sum(), xe)
    ggt, = torch.autograd.grad((gt * gt).sum(), xt)
    close(gge, ggt)
    oe, ot = fe[1].apply(xe, ye), ft[1].apply(xt, yt)
    close(oe, ot)
    ge = ember.autograd.grad(oe.sum(), (xe, ye))
    gt = torch.autograd.grad(ot.sum(), (xt, yt))
    for a, b in zip(ge, gt, strict=True):
        close(a, b)
    (ae, be), (at, bt) = fe[2].apply(xe), ft[2].apply(xt)
    ge, = ember.autograd.grad((ae * 2 + be).sum(), xe, retain_graph=True)
    gt, = torch.autograd.grad((at * 2 + bt).sum(), xt, retain_graph=True)
    close(ge, gt)
    # one output unused: its gradient is materialized as zeros
    ge, = ember.autograd.grad(ae.sum(), xe)
    gt, = torch.autograd.grad(at.sum(), xt)
    close(ge, gt)


def test_function_forward_runs_without_grad_and_sees_needs_input_grad():
    seen = []

    def run(lib):
        class F(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x, y, k):
                seen.append((lib.is_grad_enabled(), ctx.needs_input_grad, (x * 2).requires_grad))
                return x * y * k

            @staticmethod
            def backward(ctx, g):
                return g, g, None

        F.apply(lib.ones(2, requires_grad=True), lib.ones(2), 2)

    run(ember)
    run(torch)
    assert seen[0] == seen[1] == (False, (True, False, False), False)


def test_function_returning_none_gradients():
    res = []
    for lib in (ember, torch):
        class HalfGrad(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x, y):
                return x * y

            @staticmethod
            def backward(ctx, g):
                return None, g * 3

        x = lib.ones(2, requires_grad=True)
        y = lib.ones(2, requires_grad=True)
        HalfGrad.apply(x, y).sum().backward()
        res.append((x.grad, y.grad.tolist()))
    assert res[0][0] is None and res[1][0] is None
    assert res[0][1] == res[1][1] == [3.0, 3.0]


def test_function_returning_a_non_tensor_gradient():
    msgs = []
    for lib in (ember, torch):
        class Ret(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                return x * 2

            @staticmethod
            def backward(ctx, g):
                return 5

        with pytest.raises(RuntimeError) as ei:
            Ret.apply(lib.ones(2, requires_grad=True)).sum().backward()
        msgs.append(str(ei.value))
    assert msgs[0] == msgs[1]


def test_function_wrong_number_of_gradients():
    msgs = []
    for lib in (ember, torch):
        class MyFn(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x, y):
                return x * y

            @staticmethod
            def backward(ctx, g):
                return g

        x = lib.ones(2, requires_grad=True)
        with pytest.raises(RuntimeError) as ei:
            MyFn.apply(x, x).sum().backward()
        msgs.append(str(ei.value))
    assert msgs[0] == msgs[1] == ("function MyFnBackward returned an incorrect number of "
                                  "gradients (expected 2, got 1)")


def test_function_extra_none_gradients_are_dropped_and_non_tensor_input_grad_raises():
    msgs = []
    for lib in (ember, torch):
        class Ok(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x, k):
                return x * k

            @staticmethod
            def backward(ctx, g):
                return g * 2, None, None

        class Bad(Ok):
            @staticmethod
            def backward(ctx, g):
                return g, g

        x = lib.ones(2, requires_grad=True)
        Ok.apply(x, 2).sum().backward()
        assert x.grad.tolist() == [2.0, 2.0]
        with pytest.raises(RuntimeError) as ei:
            Bad.apply(x, 2).sum().backward()
        msgs.append(str(ei.value))
    assert msgs[0] == msgs[1]


def test_function_invalid_gradient_shape():
    msgs = []

    def run(lib):
        class Wrong(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                return x.sum()

            @staticmethod
            def backward(ctx, g):
                return lib.ones(4)

        with pytest.raises(RuntimeError) as ei:
            Wrong.apply(lib.ones(3, requires_grad=True)).backward()
        msgs.append(str(ei.value))

    run(ember)
    run(torch)
    assert msgs[0] == msgs[1]


def test_function_non_differentiable_and_non_tensor_outputs():
    got = []
    for lib in (ember, torch):
        class Split(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                idx = (x > 0).long()
                ctx.mark_non_differentiable(idx)
                return x * 2, idx, 7

            @staticmethod
            def backward(ctx, g, gi, gn):
                got.append(gn)
                return g * 2

        x = lib.tensor(A, requires_grad=True)
        y, idx, n = Split.apply(x)
        assert not idx.requires_grad and n == 7 and y.requires_grad
        y.sum().backward()
        got.append(x.grad.tolist())
    assert got[0] is None and got[2] is None
    assert got[1] == got[3]


def test_function_set_materialize_grads_false_passes_none():
    got = []
    for lib in (ember, torch):
        class Two(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                ctx.set_materialize_grads(False)
                return x * 2, x * 3

            @staticmethod
            def backward(ctx, ga, gb):
                got.append(gb is None)
                return ga * 2

        a, _ = Two.apply(lib.ones(2, requires_grad=True))
        a.sum().backward()
    assert got == [True, True]


def test_function_saved_tensor_version_check_and_free():
    msgs = []
    for lib in (ember, torch):
        class Sq(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                ctx.save_for_backward(x)
                return x * x

            @staticmethod
            def backward(ctx, g):
                (x,) = ctx.saved_tensors
                return 2 * x * g

        x = lib.tensor(A, requires_grad=True)
        z = x * 1
        y = Sq.apply(z)
        with lib.no_grad():
            z.add_(1)
        with pytest.raises(RuntimeError) as ei:
            y.sum().backward()
        msgs.append(str(ei.value))
        y = Sq.apply(x)
        y.sum().backward()
        with pytest.raises(RuntimeError) as ei:
            y.sum().backward()
        msgs.append(str(ei.value))
    assert "is at version 1; expected version 0 instead" in msgs[0]
    assert "is at version 1; expected version 0 instead" in msgs[2]
    assert msgs[1] == msgs[3]


def test_function_saving_its_output():
    res = []
    for lib in (ember, torch):
        class Exp(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                y = x.exp()
                ctx.save_for_backward(y)
                return y

            @staticmethod
            def backward(ctx, g):
                (y,) = ctx.saved_tensors
                return g * y

        x = lib.tensor(A, requires_grad=True)
        g, = lib.autograd.grad(Exp.apply(x).sum(), x, create_graph=True)
        g2, = lib.autograd.grad(g.sum(), x)  # differentiates through the saved output
        res.append((g.tolist(), g2.tolist()))
        w = Exp.apply(x)
        w.mul_(2)
        with pytest.raises(RuntimeError) as ei:
            w.sum().backward()
        res.append(str(ei.value))
    np.testing.assert_allclose(res[0], res[2])
    np.testing.assert_allclose(res[0][1], np.exp(A))
    assert "modified by an inplace operation" in res[1]
    assert "which is output 0 of ExpBackward, is at version 1; expected version 0" in res[1]
    assert "which is output 0 of Exp, is at version 1; expected version 0" in res[3]


def test_function_mark_dirty_in_place():
    res = []
    for lib in (ember, torch):
        class Double_(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                x.mul_(2)
                ctx.mark_dirty(x)
                return x

            @staticmethod
            def backward(ctx, g):
                return g * 2

        x = lib.tensor(A, requires_grad=True)
        with pytest.raises(RuntimeError) as ei:
            Double_.apply(x)
        res.append(str(ei.value))
        x = lib.tensor(A, requires_grad=True)
        a = x * 1
        b = Double_.apply(a)
        assert b is a and a.grad_fn.name() == "Double_Backward"
        (b * b).sum().backward()
        res.append((a._version, x.grad.tolist()))
    assert res[0] == res[2]
    assert res[1] == res[3]


def test_function_returning_input_gives_new_tensor():
    for lib in (ember, torch):
        class Ident(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                return x

            @staticmethod
            def backward(ctx, g):
                return g * 5

        x = lib.ones(2, requires_grad=True)
        y = Ident.apply(x)
        assert y is not x and y.grad_fn is not None
        y.sum().backward()
        assert x.grad.tolist() == [5.0, 5.0]


def test_function_not_recorded_under_no_grad_or_without_grad_inputs():
    MulConst = _make_functions(ember)[0]
    with ember.no_grad():
        y = MulConst.apply(ember.ones(2, requires_grad=True), 2.0)
    assert not y.requires_grad and y.grad_fn is None
    y = MulConst.apply(ember.ones(2), 2.0)
    assert not y.requires_grad


def test_once_differentiable():
    msgs = []
    for lib in (ember, torch):
        mod = ember.autograd if lib is ember else torch.autograd.function

        class Sq(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                ctx.save_for_backward(x)
                return x * x

            @staticmethod
            @(once_differentiable if lib is ember else mod.once_differentiable)
            def backward(ctx, g):
                (x,) = ctx.saved_tensors
                return 2 * x * g

        x = lib.tensor(A, requires_grad=True)
        go = lib.ones(3, dtype=lib.float64, requires_grad=True)
        g, = lib.autograd.grad(Sq.apply(x), x, go, create_graph=True)
        assert g.requires_grad
        with pytest.raises(RuntimeError) as ei:
            g.sum().backward()
        msgs.append(str(ei.value))
        g, = lib.autograd.grad(Sq.apply(x).sum(), x)
        np.testing.assert_allclose(g.numpy(), 2 * A)
    assert msgs[0].startswith(msgs[1])
    assert msgs[1] == ("trying to differentiate twice a function that was marked with "
                       "@once_differentiable")


def test_function_gradcheck_and_gradgradcheck():
    MulConst, NewStyle, TwoOut = _make_functions(ember)
    x = ember.tensor(A, requires_grad=True)
    y = ember.tensor(A[::-1].copy(), requires_grad=True)
    assert ember.autograd.gradcheck(lambda a: MulConst.apply(a, 2.0), (x,))
    assert ember.autograd.gradcheck(NewStyle.apply, (x, y))
    assert ember.autograd.gradcheck(TwoOut.apply, (x,))
    assert ember.autograd.gradgradcheck(lambda a: MulConst.apply(a, 2.0), (x,))


# ---- gradcheck ---------------------------------------------------------------------------

def test_gradcheck_accepts_torch_keywords_and_mixed_inputs():
    x = ember.tensor(A, requires_grad=True)
    c = ember.tensor(A * 3)  # does not require grad
    assert ember.autograd.gradcheck(lambda a, b, k: (a * b).sin() * k, (x, c, 2.0),
                                    fast_mode=True)
    assert ember.autograd.gradcheck(lambda a: (a.exp(), a * 2, 3), (x,), eps=1e-6, atol=1e-5,
                                    rtol=1e-3, check_undefined_grad=False, nondet_tol=0.0)


def test_gradcheck_reports_worst_element_input_and_function():
    class BadGrad(Function):
        @staticmethod
        def forward(ctx, a, b):
            ctx.save_for_backward(a, b)
            return a * b

        @staticmethod
        def backward(ctx, g):
            a, _ = ctx.saved_tensors
            return g * 2, g * a  # the first should be g * b

    x = ember.tensor(A, requires_grad=True)
    y = ember.tensor([1.0, 1.0, 5.0], requires_grad=True)

    def bad_fn(a, b):
        return BadGrad.apply(a, b)

    with pytest.raises(RuntimeError) as ei:
        ember.autograd.gradcheck(bad_fn, (x, y))
    msg = str(ei.value)
    assert "bad_fn" in msg
    assert "with respect to input 0" in msg
    assert "input element 2, output element 2" in msg
    assert not ember.autograd.gradcheck(bad_fn, (x, y), raise_exception=False)


def test_gradcheck_requires_an_input_requiring_grad():
    with pytest.raises(ValueError):
        ember.autograd.gradcheck(lambda a: a * 2, (ember.tensor(A),))


def test_gradcheck_names_are_functions():
    assert callable(ember.autograd.gradcheck) and callable(ember.autograd.gradgradcheck)
    from ember.autograd.gradcheck import GradcheckError
    assert issubclass(GradcheckError, RuntimeError)


# ---- functional API ---------------------------------------------------------------------------

def _cmp_nested(e, t):
    if isinstance(t, (tuple, list)):
        assert isinstance(e, tuple) and len(e) == len(t)
        for a, b in zip(e, t, strict=True):
            _cmp_nested(a, b)
    else:
        close(e, t)


FUNCTIONAL_CASES = [
    ("jacobian", lambda x: x.sin() * x, (A,), {}),
    ("jacobian", lambda x, y: (x * y).exp(), (A, B), {}),
    ("jacobian", lambda x, y: ((x * y).sin(), (x * x).sum()), (A, B), {}),
    ("jacobian", lambda x, y: x * 2, (A, B), {}),
    ("hessian", lambda x: (x ** 3).sum(), (A,), {}),
    ("hessian", lambda x, y: (x * y * x).sum(), (A, B), {}),
    ("vjp", lambda x: x.sin() * 2, (A,), {"v": A[::-1].copy()}),
    ("vjp", lambda x, y: (x * y).sum(), (A, B), {}),
    ("jvp", lambda x: x.sin() * x, (A,), {"v": A[::-1].copy()}),
    ("jvp", lambda x, y: x * y, (A, B), {"v": (A, B * 2)}),
    ("hvp", lambda x: (x.sin() * x).sum(), (A,), {"v": A[::-1].copy()}),
    ("vhp", lambda x, y: (x.exp() * y).sum(), (A, B), {"v": (A, B)}),
]


@pytest.mark.parametrize("name,fn,args,kw", FUNCTIONAL_CASES)
def test_functional_matches_torch(name, fn, args, kw):
    import torch.autograd.functional as TF

    import ember.autograd.functional as EF

    def conv(lib, v):
        if isinstance(v, tuple):
            return tuple(lib.tensor(a) for a in v)
        return lib.tensor(v)

    ins_e = tuple(ember.tensor(a) for a in args)
    ins_t = tuple(torch.tensor(a) for a in args)
    if len(args) == 1:
        ins_e, ins_t = ins_e[0], ins_t[0]
    kw_e = {k: conv(ember, v) for k, v in kw.items()}
    kw_t = {k: conv(torch, v) for k, v in kw.items()}
    re = getattr(EF, name)(fn, ins_e, **kw_e)
    rt = getattr(TF, name)(fn, ins_t, **kw_t)
    _cmp_nested(re, rt)


def test_functional_strict_and_create_graph():
    import ember.autograd.functional as EF
    x = ember.tensor(A)
    y = ember.tensor(B)
    with pytest.raises(RuntimeError, match="independent of input 1"):
        EF.jacobian(lambda a, b: a * 2, (x, y), strict=True)
    xr = ember.tensor(A, requires_grad=True)
    j = EF.jacobian(lambda a: a ** 3, xr, create_graph=True)
    assert j.requires_grad
    j.sum().backward()
    np.testing.assert_allclose(xr.grad.numpy(), 6 * A)
    j = EF.jacobian(lambda a: a ** 3, xr)
    assert not j.requires_grad
    out, v = EF.vjp(lambda a: (a * 2).sum(), ember.tensor(A))
    assert out.item() == pytest.approx(2 * A.sum())
    assert v.tolist() == [2.0, 2.0, 2.0]
    assert EF.jacobian(lambda a: a * 2, x, vectorize=True).shape == (3, 3)


def test_functional_v_required_for_non_scalar():
    import torch.autograd.functional as TF

    import ember.autograd.functional as EF
    me, mt = raises_like(lambda: EF.vjp(lambda a: a * 2, ember.tensor(A)),
                         lambda: TF.vjp(lambda a: a * 2, torch.tensor(A)))
    assert me == mt


# ---- anomaly detection -----------------------------------------------------------------------

@pytest.mark.filterwarnings("ignore:invalid value encountered")
def test_anomaly_points_at_forward_line_producing_nan():
    x = ember.tensor([0.0, 1.0], requires_grad=True)
    with pytest.warns(UserWarning, match="Anomaly Detection has been enabled"):
        ctx = ember.autograd.detect_anomaly()
    with ctx:
        y = x.sqrt()  # the culprit: d sqrt / dx at 0 is inf, times 0 gives NaN
        z = (y * 0.0).sum()
        with pytest.raises(RuntimeError) as ei:
            z.backward()
    msg = str(ei.value)
    assert msg.startswith("Function 'SqrtBackward0' returned nan values in its 0th output.")
    assert "y = x.sqrt()  # the culprit" in msg
    assert not ember.autograd.anomaly.is_anomaly_enabled()


@pytest.mark.filterwarnings("ignore:Anomaly Detection has been enabled")
@pytest.mark.filterwarnings("ignore:invalid value encountered")
def test_anomaly_check_nan_false_and_decorator():
    x = ember.tensor([0.0], requires_grad=True)

    @ember.autograd.set_detect_anomaly(True, check_nan=False)
    def run():
        assert ember.autograd.anomaly.is_anomaly_enabled()
        (x.sqrt() * 0.0).sum().backward()

    ember.autograd.set_detect_anomaly(False)
    run()
    assert np.isnan(x.grad.numpy()).all()
    assert not ember.autograd.anomaly.is_anomaly_enabled()


@pytest.mark.filterwarnings("ignore:Anomaly Detection has been enabled")
def test_anomaly_names_node_on_backward_error():
    class Boom(Function):
        @staticmethod
        def forward(ctx, a):
            return a * 2

        @staticmethod
        def backward(ctx, g):
            raise ValueError("boom")

    x = ember.ones(2, requires_grad=True)
    with ember.autograd.detect_anomaly():
        y = Boom.apply(x)  # forward site of Boom
        with pytest.raises(ValueError) as ei:
            y.sum().backward()
    msg = str(ei.value)
    assert msg.startswith("boom") and "BoomBackward" in msg
    assert "y = Boom.apply(x)  # forward site of Boom" in msg


@pytest.mark.filterwarnings("ignore:Anomaly Detection has been enabled")
def test_anomaly_without_nan_is_transparent():
    xe, xt = pair(A)
    with ember.autograd.detect_anomaly():
        (xe.sin() * xe).sum().backward()
    (xt.sin() * xt).sum().backward()
    close(xe.grad, xt.grad)


def test_grad_of_several_roots_where_one_root_feeds_another():
    x = ember.ones(3, requires_grad=True)
    y = x * 2
    xt = torch.ones(3, requires_grad=True)
    yt = xt * 2
    (g,) = ember.autograd.grad([y, y * 3], [x], [ember.ones(3), ember.ones(3)])
    (gt,) = torch.autograd.grad([yt, yt * 3], [xt], [torch.ones(3), torch.ones(3)])
    np.testing.assert_allclose(g.numpy(), gt.numpy())
