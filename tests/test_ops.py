"""Every op in the op database, forward and gradients, against torch and gradcheck."""

from __future__ import annotations

import numpy as np
import pytest

import ember
from ember.autograd.gradcheck import gradcheck, gradgradcheck
from opdb import all_ops, make_inputs

torch = pytest.importorskip("torch")

OPS = all_ops()
CASES = [pytest.param(op, i, s, dt, id=f"{op.name}-{i}{('-' + s.name) if s.name else ''}-{dt}")
         for op in OPS for i, s in enumerate(op.samples) for dt in op.dtypes]
GRAD_CASES = [pytest.param(op, i, s, id=f"{op.name}-{i}{('-' + s.name) if s.name else ''}")
              for op in OPS if op.grad and op.gradcheck for i, s in enumerate(op.samples)]


def _wrap(lib, arrays, diff):
    out = []
    for k, a in enumerate(arrays):
        if isinstance(a, np.ndarray):
            if lib is torch:
                t = torch.from_numpy(a.copy())
            else:
                t = ember.tensor(a)
            if k in diff:
                t.requires_grad_(True)
            out.append(t)
        else:
            out.append(a)
    return out


def _diff_indices(sample, arrays):
    if sample.grad is not None:
        return set(sample.grad)
    return {k for k, a in enumerate(arrays) if isinstance(a, np.ndarray) and a.dtype.kind == "f"}


def _flatten(out):
    if isinstance(out, (tuple, list)):
        res = []
        for o in out:
            res.extend(_flatten(o))
        return res
    return [out]


def _np(t):
    if isinstance(t, torch.Tensor):
        return t.detach().numpy()
    return t.detach().numpy()


@pytest.mark.parametrize("op,i,sample,dtype", CASES)
def test_op_matches_torch(op, i, sample, dtype):
    if op.skip_reason:
        pytest.skip(op.skip_reason)
    arrays = make_inputs(sample, dtype, op.domain, seed=i)
    diff = _diff_indices(sample, arrays) if op.grad else set()
    e_in = _wrap(ember, arrays, diff)
    t_in = _wrap(torch, arrays, diff)
    e_out = _flatten(op.fn(ember, *e_in))
    t_out = _flatten(op.fn(torch, *t_in))
    assert len(e_out) == len(t_out)
    atol, rtol = (op.atol32, op.rtol32) if dtype == "float32" else (op.atol, op.rtol)
    for eo, to in zip(e_out, t_out):
        if not isinstance(to, torch.Tensor):
            assert eo == to
            continue
        assert isinstance(eo, ember.Tensor), f"{op.name}: expected a Tensor, got {type(eo)}"
        assert tuple(eo.shape) == tuple(to.shape), f"{op.name}: shape {eo.shape} vs {to.shape}"
        assert str(eo.dtype).split(".")[-1] == str(to.dtype).split(".")[-1], \
            f"{op.name}: dtype {eo.dtype} vs {to.dtype}"
        if op.compare_values:
            np.testing.assert_allclose(_np(eo), _np(to), atol=atol, rtol=rtol, equal_nan=True)
    if not diff:
        return
    rng = np.random.default_rng(100 + i)
    pairs = [(eo, to) for eo, to in zip(e_out, t_out)
             if isinstance(to, torch.Tensor) and to.requires_grad]
    if not pairs:
        return
    e_loss, t_loss = 0, 0
    for eo, to in pairs:
        w = rng.standard_normal(tuple(to.shape)).astype(dtype)
        e_loss = e_loss + (eo * ember.tensor(w)).sum()
        t_loss = t_loss + (to * torch.from_numpy(w)).sum()
    t_grads = torch.autograd.grad(t_loss, [t_in[k] for k in sorted(diff)], allow_unused=True)
    e_grads = ember.autograd.grad(e_loss, [e_in[k] for k in sorted(diff)], allow_unused=True)
    for k, eg, tg in zip(sorted(diff), e_grads, t_grads):
        if tg is None:
            assert eg is None or not np.any(_np(eg)), f"{op.name}: input {k} has a gradient"
            continue
        assert eg is not None, f"{op.name}: no gradient for input {k}"
        assert eg.dtype == e_in[k].dtype
        np.testing.assert_allclose(_np(eg), tg.numpy(), atol=atol * 10, rtol=rtol * 10,
                                   err_msg=f"{op.name}: gradient of input {k}")


@pytest.mark.parametrize("op,i,sample", GRAD_CASES)
def test_op_gradcheck(op, i, sample):
    if op.skip_reason:
        pytest.skip(op.skip_reason)
    arrays = make_inputs(sample, "float64", op.domain, seed=i)
    diff = _diff_indices(sample, arrays)
    if not diff or any(a.size > 60 for k, a in enumerate(arrays) if k in diff):
        pytest.skip("no small differentiable inputs")
    ins = _wrap(ember, arrays, diff)

    def f(*xs):
        return op.fn(ember, *xs)
    assert gradcheck(f, ins, eps=1e-6, atol=1e-5, rtol=1e-3)
    if op.gradgrad:
        assert gradgradcheck(f, ins, eps=1e-6, atol=1e-4, rtol=1e-3)
