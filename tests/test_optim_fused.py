"""Adam's C loop (``ember.backend.cadam``): equal to the NumPy path bit for bit, close to
torch, and its fallbacks and argument checks."""

import numpy as np
import pytest

import ember
import ember.optim.adam as adam_mod
from ember import optim
from ember.backend import cadam
from ember.backend import ckernels as ck

CONFIGS = [
    ("Adam", dict(lr=0.01)),
    # 1 - beta1 >= 0.5: lerp's other formula
    ("Adam", dict(lr=0.02, betas=(0.3, 0.9), eps=1e-6, maximize=True)),
    ("Adam", dict(lr=0.02, betas=(0.8, 0.99), weight_decay=0.1, amsgrad=True)),
    ("Adam", dict(lr=0.01, weight_decay=0.1, maximize=True)),
    ("AdamW", dict(lr=0.01)),
    ("AdamW", dict(lr=0.01, weight_decay=0.3, amsgrad=True, maximize=True)),
    ("AdamW", dict(lr=0.05, betas=(0.0, 0.5), weight_decay=0.5)),
]
IDS = [f"{n}-{i}" for i, (n, _) in enumerate(CONFIGS)]
# the last one has more than GIL_MIN_ELEMENTS elements: the loop without the GIL
SHAPES = [(3, 4), (5,), (), (37, 113)]
STEPS = 6


@pytest.fixture(autouse=True)
def _default_backend(monkeypatch):
    monkeypatch.delenv("EMBER_JIT_BACKEND", raising=False)


@pytest.fixture
def kernel():
    k = cadam.adam_kernel() if ck.available() else None
    if k is None:
        pytest.skip("no C compiler, or it does not build extension modules here")
    return k


@pytest.fixture
def calls(kernel, monkeypatch):
    """Counts the kernel's calls from ``Adam.step``: [returned, raised]."""
    seen = [0, 0]

    def counted(*args):
        try:
            kernel(*args)
        except (TypeError, ValueError):
            seen[1] += 1
            raise
        seen[0] += 1

    monkeypatch.setattr(cadam, "adam_kernel", lambda: counted)
    monkeypatch.setattr(adam_mod, "_cadam", cadam)
    return seen


def _data(dtype, seed=0):
    rng = np.random.default_rng(seed)
    inits = [rng.standard_normal(s).astype(dtype) for s in SHAPES]
    grads = [[rng.standard_normal(s).astype(dtype) for s in SHAPES] for _ in range(STEPS)]
    grads[1][0][0, :2] = 0          # zeros, and values of very different sizes
    grads[2][3][5] *= 1e2
    grads[3][3][7] *= 1e-4
    return inits, grads


def _run(name, kwargs, inits, grads, fused=None, wrap=np.array):
    params = [ember.from_numpy(wrap(a)).requires_grad_() for a in inits]
    opt = getattr(optim, name)(params, fused=fused, **kwargs)
    for gs in grads:
        for p, g in zip(params, gs, strict=True):
            p.grad = ember.tensor(g)
        opt.step()
    return params, opt


def _assert_same(params_a, opt_a, params_b, opt_b):
    for a, b in zip(params_a, params_b, strict=True):
        np.testing.assert_array_equal(a._data, b._data, strict=True)
        sa, sb = opt_a.state[a], opt_b.state[b]
        assert sa.keys() == sb.keys()
        for key in sa:
            np.testing.assert_array_equal(sa[key]._data, sb[key]._data, strict=True)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name,kwargs", CONFIGS, ids=IDS)
def test_c_equals_numpy_bit_for_bit(name, kwargs, dtype, calls):
    inits, grads = _data(dtype)
    pc, oc = _run(name, kwargs, inits, grads)
    assert calls == [STEPS * len(SHAPES), 0]
    pn, on = _run(name, kwargs, inits, grads, fused=False)
    assert calls == [STEPS * len(SHAPES), 0]     # fused=False: NumPy only
    _assert_same(pc, oc, pn, on)


@pytest.mark.parametrize("dtype,tol", [(np.float64, 1e-10), (np.float32, 1e-6)])
@pytest.mark.parametrize("name,kwargs", CONFIGS, ids=IDS)
def test_c_matches_torch(name, kwargs, dtype, tol, calls):
    torch = pytest.importorskip("torch")
    inits, grads = _data(dtype, seed=1)
    params, _ = _run(name, kwargs, inits, grads)
    assert calls[0] == STEPS * len(SHAPES)
    tp = [torch.tensor(a, requires_grad=True) for a in inits]
    to = getattr(torch.optim, name)(tp, **kwargs)
    for gs in grads:
        for t, g in zip(tp, gs, strict=True):
            t.grad = torch.tensor(g)
        to.step()
    for e, t in zip(params, tp, strict=True):
        np.testing.assert_allclose(e._data, t.detach().numpy(), rtol=tol, atol=tol)


def test_lr_tensor(calls):
    inits, grads = _data(np.float32)
    lr = ember.tensor(0.01)         # float32: not the float 0.01
    pc, oc = _run("Adam", dict(lr=lr), inits, grads)
    pn, on = _run("Adam", dict(lr=lr), inits, grads, fused=False)
    assert calls == [STEPS * len(SHAPES), 0]
    _assert_same(pc, oc, pn, on)


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")  # the NumPy path
def test_nan_and_inf_like_numpy(calls):
    inits, grads = _data(np.float32)
    grads[2][3][0, :3] = [np.nan, np.inf, -np.inf]
    for kw in (dict(lr=0.01, amsgrad=True), dict(lr=0.01, weight_decay=0.1)):
        pc, oc = _run("Adam", kw, inits, grads)
        pn, on = _run("Adam", kw, inits, grads, fused=False)
        assert np.isnan(pc[3]._data[0, :3]).all()
        _assert_same(pc, oc, pn, on)


@pytest.mark.parametrize("wrap,dtype", [
    (lambda a: a.T.copy().T, np.float32),   # the 2-d ones are not C-contiguous
    (np.array, np.float16),                 # not a dtype of the C loop
], ids=["fortran-order", "float16"])
def test_unusual_params_fall_back_to_numpy(wrap, dtype, calls):
    inits, grads = _data(dtype)
    kw = dict(lr=0.01, amsgrad=True, eps=1e-3)  # 1e-8 is 0 in float16
    pc, oc = _run("AdamW", kw, inits, grads, wrap=wrap)
    pn, on = _run("AdamW", kw, inits, grads, fused=False)
    fallbacks = STEPS * (2 if dtype == np.float32 else len(SHAPES))
    assert calls == [STEPS * len(SHAPES) - fallbacks, fallbacks]
    for a, b in zip(pc, pn, strict=True):
        np.testing.assert_array_equal(a._data, b._data)


def test_numpy_backend_switch_disables_it(kernel, monkeypatch):
    monkeypatch.setenv("EMBER_JIT_BACKEND", "numpy")
    assert cadam.adam_kernel() is None
    monkeypatch.delenv("EMBER_JIT_BACKEND")
    assert cadam.adam_kernel() is kernel


# ---------------------------------------------------------------------- argument checks

def _args(dtype=np.float32, n=6, ams=True):
    rng = np.random.default_rng(2)
    arrs = [rng.standard_normal(n).astype(dtype) for _ in range(3)]
    arrs += [np.abs(rng.standard_normal(n)).astype(dtype) for _ in range(2 if ams else 1)]
    if not ams:
        arrs.append(None)
    return arrs + [0.01, 0.9, 0.999, 1e-8, 0.1, 3.0, False, True]


def _readonly(a):
    a.flags.writeable = False
    return a


BAD = [
    (TypeError, "13 or 14 arguments", lambda a: a[:-1]),
    (ValueError, "threads must be in 1..64", lambda a: a + [0]),
    (TypeError, "param must be a numpy.ndarray", lambda a: [list(a[0])] + a[1:]),
    (TypeError, "grad must be float32 or float64", lambda a: [a[0], a[1].astype(int)] + a[2:]),
    (TypeError, "exp_avg must be float32 or float64",
     lambda a: a[:2] + [a[2].astype(np.float16)] + a[3:]),
    (TypeError, "exp_avg_sq and param must have the same dtype",
     lambda a: a[:3] + [a[3].astype(np.float64)] + a[4:]),
    (ValueError, "max_exp_avg_sq and param must have the same shape",
     lambda a: a[:4] + [a[4][:5]] + a[5:]),
    (ValueError, "grad and param must have the same shape",
     lambda a: [a[0], a[1].reshape(2, 3)] + a[2:]),
    (ValueError, "exp_avg must be C-contiguous",
     lambda a: a[:2] + [np.repeat(a[2], 2)[::2]] + a[3:]),
    (ValueError, "param is read-only", lambda a: [_readonly(a[0])] + a[1:]),
    (ValueError, "max_exp_avg_sq is read-only", lambda a: a[:4] + [_readonly(a[4])] + a[5:]),
    (ValueError, "param and grad must not share memory", lambda a: [a[0], a[0]] + a[2:]),
    (ValueError, "exp_avg and max_exp_avg_sq must not share memory",
     lambda a: a[:4] + [a[2]] + a[5:]),
    (TypeError, "must be real number", lambda a: a[:5] + ["0.01"] + a[6:]),
]


@pytest.mark.parametrize("exc,msg,change", BAD, ids=[m for _, m, _ in BAD])
def test_kernel_rejects_before_writing(kernel, exc, msg, change):
    args = change(_args())
    before = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
    with pytest.raises(exc, match=msg):
        kernel(*args)
    for a, b in zip(args, before, strict=True):
        if isinstance(a, np.ndarray):
            np.testing.assert_array_equal(a, b, strict=True)


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("ams", [True, False])
def test_kernel_threads_change_no_bit(kernel, threads, ams):
    big = _args(n=cadam.PARALLEL_MIN_ELEMENTS + 7, ams=ams)
    ref = [a.copy() if isinstance(a, np.ndarray) else a for a in big]
    kernel(*big, threads)
    lr, b1, b2, eps, wd, step, maximize, decoupled = ref[5:]
    adam_mod._numpy_step(*ref[:5], lr, b1, b2, eps, wd, step, maximize, decoupled)
    for a, b in zip(big[:5], ref[:5], strict=True):
        np.testing.assert_array_equal(a, b, strict=True)


def test_step_joins_a_hot_gemm_team(kernel, monkeypatch):
    """Right after a threaded product the step passes threads > 1 (else 1)."""
    from ember.backend import cgemm
    seen = []
    monkeypatch.setattr(cadam, "adam_kernel", lambda: lambda *a: seen.append(a[13]))
    monkeypatch.setattr(adam_mod, "_cadam", cadam)
    w = ember.tensor(np.ones(4, np.float32), requires_grad=True)
    opt = ember.optim.Adam([w])
    w.grad = ember.ones(4)
    monkeypatch.setattr(cgemm, "team_hot", lambda: False)
    opt.step()
    monkeypatch.setattr(cgemm, "team_hot", lambda: True)
    opt.step()
    assert seen == [1, cgemm.team_threads()]


@pytest.mark.parametrize("ams", [True, False])
def test_kernel_direct_call_matches_step(kernel, ams):
    # a read-only grad is fine; the result is what AdamW's NumPy step computes
    args = _args(ams=ams)
    args[1] = _readonly(args[1])
    ref = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
    assert kernel(*args) is None
    lr, b1, b2, eps, wd, step, maximize, decoupled = ref[5:]
    adam_mod._numpy_step(*ref[:5], lr, b1, b2, eps, wd, step, maximize, decoupled)
    for a, b in zip(args[:5], ref[:5], strict=True):
        np.testing.assert_array_equal(a, b, strict=True)
    assert not np.array_equal(args[0], _args()[0])
