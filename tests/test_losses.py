"""Loss functions and loss modules against torch: values, input gradients, gradcheck."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest

import ember
import ember.nn.functional as EF

torch = pytest.importorskip("torch")
TF = torch.nn.functional

REDUCTIONS = ("none", "mean", "sum")
RNG = np.random.default_rng(1234)


def _u(shape, lo=-2.0, hi=2.0):
    return RNG.uniform(lo, hi, size=shape)


def _softmax(a, axis):
    e = np.exp(a - a.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _signs(shape):
    return np.where(RNG.uniform(size=shape) > 0.5, 1.0, -1.0)


class Case:
    """``fn(F, *tensors)`` runs the loss with ``F`` = ember's or torch's functional module.

    ``arrays`` are the inputs (float arrays follow the test dtype, integer ones are kept);
    ``grad`` lists the indices of inputs to differentiate.
    """

    def __init__(self, name, fn, arrays, grad=(0,), gradgrad=False):
        self.name, self.fn, self.arrays, self.grad, self.gradgrad = name, fn, arrays, grad, gradgrad

    def __repr__(self):
        return self.name


def _cases():
    out = []
    x34, t34, w34 = _u((3, 4)), _u((3, 4)), _u((3, 4), 0.1, 1.0)
    for r in REDUCTIONS:
        out.append(Case(f"mse-{r}", lambda F, x, t, r=r: F.mse_loss(x, t, reduction=r),
                        [x34, t34], grad=(0, 1)))
        out.append(Case(f"mse-weight-{r}", lambda F, x, t, w, r=r: F.mse_loss(
            x, t, reduction=r, weight=w), [x34, t34, w34]))
        out.append(Case(f"l1-{r}", lambda F, x, t, r=r: F.l1_loss(x, t, reduction=r),
                        [x34, t34], grad=(0, 1)))
        out.append(Case(f"l1-weight-{r}", lambda F, x, t, w, r=r: F.l1_loss(
            x, t, reduction=r, weight=w), [x34, t34, w34]))
        for beta in (1.0, 0.5, 0.0):
            out.append(Case(f"smooth_l1-{beta}-{r}", lambda F, x, t, r=r, b=beta:
                            F.smooth_l1_loss(x, t, reduction=r, beta=b), [x34, t34], grad=(0, 1)))
        for delta in (1.0, 0.3):
            out.append(Case(f"huber-{delta}-{r}", lambda F, x, t, r=r, d=delta: F.huber_loss(
                x, t, reduction=r, delta=d), [x34, t34], grad=(0, 1)))
        out.append(Case(f"huber-weight-{r}", lambda F, x, t, w, r=r: F.huber_loss(
            x, t, reduction=r, delta=0.7, weight=w), [x34, t34, w34]))

    # class-index targets: (N, C), (C,), (N, C, d1, d2)
    logits = _u((5, 4))
    idx = np.array([0, 3, 1, 2, 3])
    idx_ign = np.array([0, -100, 1, 2, 3])
    idx_ign2 = np.array([0, 2, 1, 2, 3])
    cw = _u((4,), 0.2, 2.0)
    kd = _u((2, 3, 2, 2))
    kd_t = RNG.integers(0, 3, size=(2, 2, 2))
    kd_t[0, 0, 1] = -100
    one = _u((4,))
    for r in REDUCTIONS:
        for ls in (0.0, 0.25):
            out.append(Case(f"ce-{r}-ls{ls}", lambda F, x, t, r=r, ls=ls: F.cross_entropy(
                x, t, reduction=r, label_smoothing=ls), [logits, idx], gradgrad=True))
            out.append(Case(f"ce-ignore-{r}-ls{ls}", lambda F, x, t, r=r, ls=ls: F.cross_entropy(
                x, t, reduction=r, label_smoothing=ls), [logits, idx_ign], gradgrad=True))
            out.append(Case(f"ce-weight-ignore-{r}-ls{ls}", lambda F, x, t, w, r=r, ls=ls:
                            F.cross_entropy(x, t, weight=w, ignore_index=2, reduction=r,
                                            label_smoothing=ls), [logits, idx_ign2, cw],
                            gradgrad=True))
            out.append(Case(f"ce-kdim-{r}-ls{ls}", lambda F, x, t, w, r=r, ls=ls:
                            F.cross_entropy(x, t, weight=w, reduction=r, label_smoothing=ls),
                            [kd, kd_t, cw[:3]], gradgrad=True))
            out.append(Case(f"ce-1d-{r}-ls{ls}", lambda F, x, t, r=r, ls=ls: F.cross_entropy(
                x, t, reduction=r, label_smoothing=ls), [one, np.array(2)], gradgrad=True))
            probs = _softmax(_u((5, 4)), 1)
            out.append(Case(f"ce-probs-{r}-ls{ls}", lambda F, x, p, r=r, ls=ls: F.cross_entropy(
                x, p, reduction=r, label_smoothing=ls), [logits, probs], grad=(0, 1),
                gradgrad=True))
            out.append(Case(f"ce-probs-weight-kdim-{r}-ls{ls}", lambda F, x, p, w, r=r, ls=ls:
                            F.cross_entropy(x, p, weight=w, reduction=r, label_smoothing=ls),
                            [kd, _softmax(_u((2, 3, 2, 2)), 1), cw[:3]], grad=(0, 1),
                            gradgrad=True))
            out.append(Case(f"ce-probs-1d-{r}-ls{ls}", lambda F, x, p, r=r, ls=ls:
                            F.cross_entropy(x, p, reduction=r, label_smoothing=ls),
                            [one, _softmax(_u((4,)), 0)], grad=(0, 1), gradgrad=True))
        out.append(Case(f"nll-{r}", lambda F, x, t, r=r: F.nll_loss(x, t, reduction=r),
                        [logits, idx_ign], gradgrad=True))
        out.append(Case(f"nll-weight-{r}", lambda F, x, t, w, r=r: F.nll_loss(
            x, t, weight=w, ignore_index=2, reduction=r), [logits, idx_ign2, cw], gradgrad=True))
        out.append(Case(f"nll-kdim-{r}", lambda F, x, t, w, r=r: F.nll_loss(
            x, t, weight=w, reduction=r), [kd, kd_t, cw[:3]], gradgrad=True))
        out.append(Case(f"nll-1d-{r}", lambda F, x, t, r=r: F.nll_loss(x, t, reduction=r),
                        [one, np.array(1)], gradgrad=True))

    # binary targets
    p34, q34, bw = _u((3, 4), 0.05, 0.95), _u((3, 4), 0.0, 1.0), _u((4,), 0.2, 2.0)
    z34 = _u((3, 4), -4.0, 4.0)
    for r in REDUCTIONS:
        out.append(Case(f"bce-{r}", lambda F, x, t, r=r: F.binary_cross_entropy(
            x, t, reduction=r), [p34, q34], grad=(0, 1), gradgrad=True))
        out.append(Case(f"bce-weight-{r}", lambda F, x, t, w, r=r: F.binary_cross_entropy(
            x, t, weight=w, reduction=r), [p34, q34, bw]))
        out.append(Case(f"bcel-{r}", lambda F, x, t, r=r: F.binary_cross_entropy_with_logits(
            x, t, reduction=r), [z34, q34], grad=(0, 1), gradgrad=True))
        out.append(Case(f"bcel-weights-{r}", lambda F, x, t, w, pw, r=r:
                        F.binary_cross_entropy_with_logits(x, t, weight=w, pos_weight=pw,
                                                           reduction=r),
                        [z34, q34, _u((3, 1), 0.2, 2.0), bw], grad=(0, 1), gradgrad=True))

    # distributions
    logq = np.log(_softmax(_u((3, 4)), 1))
    tgt = _softmax(_u((3, 4)), 1)
    tgt[0, 1] = 0.0
    for r in REDUCTIONS + ("batchmean",):
        out.append(Case(f"kl-{r}", lambda F, x, t, r=r: F.kl_div(x, t, reduction=r),
                        [logq, tgt]))
        out.append(Case(f"kl-log_target-{r}", lambda F, x, t, r=r: F.kl_div(
            x, t, reduction=r, log_target=True), [logq, np.log(_softmax(_u((3, 4)), 1))],
            grad=(0, 1)))
    rate = _u((3, 4), 0.1, 3.0)
    counts = np.floor(_u((3, 4), 0.0, 5.0))
    for r, log_input, full in itertools.product(REDUCTIONS, (True, False), (False, True)):
        out.append(Case(f"poisson-{r}-log{log_input}-full{full}",
                        lambda F, x, t, r=r, li=log_input, fu=full: F.poisson_nll_loss(
                            x, t, log_input=li, full=fu, reduction=r), [rate, counts]))
    for r, full in itertools.product(REDUCTIONS, (False, True)):
        out.append(Case(f"gauss-{r}-full{full}", lambda F, x, t, v, r=r, fu=full:
                        F.gaussian_nll_loss(x, t, v, full=fu, reduction=r),
                        [x34, t34, _u((3, 4), 0.1, 2.0)], grad=(0, 1, 2)))
        out.append(Case(f"gauss-var-nolast-{r}", lambda F, x, t, v, r=r: F.gaussian_nll_loss(
            x, t, v, reduction=r), [x34, t34, _u((3,), 0.1, 2.0)], grad=(0, 2)))
        out.append(Case(f"gauss-var-last1-{r}", lambda F, x, t, v, r=r: F.gaussian_nll_loss(
            x, t, v, reduction=r), [x34, t34, _u((3, 1), 0.1, 2.0)], grad=(0, 2)))
        out.append(Case(f"gauss-var-float-{r}", lambda F, x, t, r=r: F.gaussian_nll_loss(
            x, t, 0.5, reduction=r), [x34, t34], grad=(0, 1)))

    # margins and embeddings
    s4 = _signs((4,))
    for r in REDUCTIONS:
        for m in (0.0, 0.4):
            out.append(Case(f"cosemb-{r}-m{m}", lambda F, a, b, t, r=r, m=m:
                            F.cosine_embedding_loss(a, b, t, margin=m, reduction=r),
                            [_u((4, 3)), _u((4, 3)), s4], grad=(0, 1)))
            out.append(Case(f"ranking-{r}-m{m}", lambda F, a, b, t, r=r, m=m:
                            F.margin_ranking_loss(a, b, t, margin=m, reduction=r),
                            [_u((4,)), _u((4,)), s4], grad=(0, 1)))
        out.append(Case(f"cosemb-1d-{r}", lambda F, a, b, t, r=r: F.cosine_embedding_loss(
            a, b, t, reduction=r), [_u((3,)), _u((3,)), np.array(-1.0)], grad=(0, 1)))
        out.append(Case(f"soft_margin-{r}", lambda F, x, t, r=r: F.soft_margin_loss(
            x, t, reduction=r), [x34, _signs((3, 4))]))
        for m in (1.0, 0.5):
            out.append(Case(f"hinge-{r}-m{m}", lambda F, x, t, r=r, m=m: F.hinge_embedding_loss(
                x, t, margin=m, reduction=r), [x34, _signs((3, 4))]))
        for p, swap in itertools.product((1, 2, 3), (False, True)):
            out.append(Case(f"triplet-{r}-p{p}-swap{swap}", lambda F, a, b, c, r=r, p=p, s=swap:
                            F.triplet_margin_loss(a, b, c, margin=1.5, p=p, swap=s, reduction=r),
                            [_u((4, 3)), _u((4, 3)), _u((4, 3))], grad=(0, 1, 2)))
        out.append(Case(f"triplet-1d-{r}", lambda F, a, b, c, r=r: F.triplet_margin_loss(
            a, b, c, margin=3.0, swap=True, reduction=r), [_u((3,)), _u((3,)), _u((3,))],
            grad=(0, 1, 2)))
    return out


CASES = _cases()


def _make(lib, case, dtype):
    tensors = []
    for i, a in enumerate(case.arrays):
        a = np.asarray(a)
        if a.dtype.kind == "f":
            a = a.astype(dtype)
            t = ember.tensor(a) if lib is ember else torch.from_numpy(a.copy())
            if i in case.grad:
                t.requires_grad_(True)
        else:
            t = ember.tensor(a) if lib is ember else torch.from_numpy(a.copy())
        tensors.append(t)
    return tensors


def _np(t):
    return np.asarray(t.detach().numpy())


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", CASES, ids=repr)
def test_loss_matches_torch(case, dtype):
    e_in, t_in = _make(ember, case, dtype), _make(torch, case, dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        e_out, t_out = case.fn(EF, *e_in), case.fn(TF, *t_in)
    tol = dict(rtol=1e-5, atol=1e-5) if dtype == "float32" else dict(rtol=1e-10, atol=1e-12)
    assert e_out.dtype == getattr(ember, dtype)
    assert tuple(e_out.shape) == tuple(t_out.shape)
    np.testing.assert_allclose(_np(e_out), _np(t_out), **tol)
    up = np.random.default_rng(7).standard_normal(tuple(t_out.shape)).astype(dtype)
    t_grads = torch.autograd.grad((t_out * torch.from_numpy(up)).sum(),
                                  [t_in[i] for i in case.grad])
    e_grads = ember.autograd.grad((e_out * ember.tensor(up)).sum(), [e_in[i] for i in case.grad])
    for i, eg, tg in zip(case.grad, e_grads, t_grads):
        assert eg.dtype == e_in[i].dtype
        np.testing.assert_allclose(_np(eg), _np(tg), err_msg=f"gradient of input {i}", **tol)


GRADGRAD = [c for c in CASES if c.gradgrad]


@pytest.mark.parametrize("case", GRADGRAD, ids=repr)
def test_table_op_gradgradcheck(case):
    e_in = _make(ember, case, "float64")
    diff = [e_in[i] for i in case.grad]

    def f(*xs):
        args = list(e_in)
        for i, x in zip(case.grad, xs):
            args[i] = x
        return case.fn(EF, *args)
    assert ember.autograd.gradcheck(f, diff, eps=1e-6, atol=1e-5, rtol=1e-3)
    assert ember.autograd.gradgradcheck(f, diff, eps=1e-6, atol=1e-4, rtol=1e-3)


@pytest.mark.parametrize("fn,target,weight", [
    ("cross_entropy", [-100, -100], None), ("nll_loss", [-100, -100], None),
    ("cross_entropy", [0, 1], [0.0, 0.0, 1.0])], ids=["ce-ignored", "nll-ignored", "ce-zero-w"])
def test_empty_mean_denominator_like_torch(fn, target, weight):
    x = np.random.default_rng(0).standard_normal((2, 3))
    outs = []
    for lib, F in ((ember, EF), (torch, TF)):
        xt = lib.tensor(x, requires_grad=True)
        w = None if weight is None else lib.tensor(weight, dtype=lib.float64)
        loss = getattr(F, fn)(xt, lib.tensor(target), weight=w)
        loss.backward()
        outs.append((loss.item(), xt.grad.numpy()))
    np.testing.assert_array_equal(outs[0][0], outs[1][0])
    np.testing.assert_array_equal(outs[0][1], outs[1][1])


@pytest.mark.parametrize("fn", ["cross_entropy", "nll_loss"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_one_dim_input_with_size_one_target(fn, reduction):
    x = np.random.default_rng(0).standard_normal(4)
    e = getattr(EF, fn)(ember.tensor(x), ember.tensor([2]), reduction=reduction)
    t = getattr(TF, fn)(torch.tensor(x), torch.tensor([2]), reduction=reduction)
    assert tuple(e.shape) == tuple(t.shape)
    np.testing.assert_allclose(e.numpy(), t.numpy(), rtol=1e-12)


def test_cross_entropy_uint8_targets_and_empty_batch():
    x = np.random.default_rng(0).standard_normal((3, 4)).astype("float32")
    t = np.array([1, 0, 3], dtype=np.uint8)
    np.testing.assert_allclose(EF.cross_entropy(ember.tensor(x), ember.tensor(t)).item(),
                               TF.cross_entropy(torch.from_numpy(x), torch.from_numpy(t)).item(),
                               rtol=1e-6)
    empty = EF.cross_entropy(ember.zeros(0, 3), ember.zeros(0, dtype=ember.int64))
    assert np.isnan(empty.item())


def test_cross_entropy_extreme_logits_are_finite():
    x = ember.tensor([[1000.0, -1000.0], [-1000.0, 1000.0]], requires_grad=True)
    loss = EF.cross_entropy(x, ember.tensor([1, 1]))
    loss.backward()
    tx = torch.tensor([[1000.0, -1000.0], [-1000.0, 1000.0]], requires_grad=True)
    tl = TF.cross_entropy(tx, torch.tensor([1, 1]))
    tl.backward()
    np.testing.assert_allclose(loss.item(), tl.item())
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy())


def test_bce_clamps_log_at_minus_100():
    x = ember.tensor([0.0, 1.0, 0.0], requires_grad=True)
    t = ember.tensor([1.0, 0.0, 0.0])
    loss = EF.binary_cross_entropy(x, t, reduction="none")
    tx = torch.tensor([0.0, 1.0, 0.0], requires_grad=True)
    tl = TF.binary_cross_entropy(tx, torch.tensor([1.0, 0.0, 0.0]), reduction="none")
    np.testing.assert_allclose(loss.detach().numpy(), tl.detach().numpy())
    loss.sum().backward()
    tl.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-6)


def test_bce_with_logits_is_stable():
    x = ember.tensor([200.0, -200.0], requires_grad=True)
    loss = EF.binary_cross_entropy_with_logits(x, ember.tensor([0.0, 1.0]), reduction="none")
    assert loss.tolist() == [200.0, 200.0]
    loss.sum().backward()
    assert x.grad.tolist() == [1.0, -1.0]


@pytest.mark.parametrize("call,exc,msg", [
    (lambda: EF.mse_loss(ember.ones(2), ember.ones(2), reduction="avg"), ValueError,
     "avg is not a valid value for reduction"),
    (lambda: EF.cross_entropy(ember.ones(2, 3), ember.tensor([0, 5])), IndexError,
     "Target 5 is out of bounds."),
    (lambda: EF.cross_entropy(ember.ones(2, 3), ember.tensor([0, 1], dtype=ember.int32)),
     RuntimeError, "expected target dtype to be Long or Byte, but got Int"),
    (lambda: EF.nll_loss(ember.ones(3, 3), ember.tensor([0, 1])), ValueError,
     r"Expected input batch_size \(3\) to match target batch_size \(2\)."),
    (lambda: EF.cross_entropy(ember.ones(2, 3), ember.tensor([0, 1]), weight=ember.ones(2)),
     RuntimeError, "weight tensor should be defined either for all 3 classes"),
    (lambda: EF.cross_entropy(ember.ones(2, 3), ember.ones(2, 3), ignore_index=1),
     RuntimeError, "ignore_index is not supported for floating point target"),
    (lambda: EF.binary_cross_entropy(ember.tensor([1.5]), ember.tensor([1.0])), RuntimeError,
     "all elements of input should be between 0 and 1"),
    (lambda: EF.binary_cross_entropy(ember.ones(3) / 2, ember.ones(2)), ValueError,
     "different to the input size"),
    (lambda: EF.binary_cross_entropy(ember.ones(2) / 2, ember.ones(2, dtype=ember.float64)),
     RuntimeError, "Found dtype Double but expected Float"),
    (lambda: EF.mse_loss(ember.ones(2, 3), ember.ones(2, 3), weight=ember.ones(3)), ValueError,
     "Weights and input must have the same size."),
    (lambda: EF.kl_div(ember.ones(2), ember.ones(2), reduction="foo"), ValueError,
     "foo is not a valid value for reduction"),
])
def test_loss_errors(call, exc, msg):
    with pytest.raises(exc, match=msg):
        call()


def test_kl_div_mean_warns_and_legacy_args():
    with pytest.warns(UserWarning, match="batchmean"):
        EF.kl_div(ember.zeros(2), ember.ones(2) / 2)
    with pytest.warns(UserWarning, match="size_average and reduce"):
        out = EF.mse_loss(ember.ones(2), ember.zeros(2), size_average=False)
    assert out.item() == 2.0


def test_broadcast_target_warns_like_torch():
    with pytest.warns(UserWarning, match="different to the input size"):
        EF.mse_loss(ember.ones(3, 4), ember.ones(4))


MODULES = [
    ("L1Loss", {}, [(3, 4), (3, 4)]),
    ("MSELoss", {"reduction": "sum"}, [(3, 4), (3, 4)]),
    ("SmoothL1Loss", {"beta": 0.5}, [(3, 4), (3, 4)]),
    ("HuberLoss", {"delta": 0.5, "reduction": "none"}, [(3, 4), (3, 4)]),
    ("CrossEntropyLoss", {"weight": np.array([0.5, 1.0, 2.0, 1.5]), "ignore_index": 1,
                          "label_smoothing": 0.1}, [(5, 4), np.array([0, 1, 2, 3, 3])]),
    ("NLLLoss", {"weight": np.array([0.5, 1.0, 2.0, 1.5]), "reduction": "sum"},
     [(5, 4), np.array([0, 1, 2, 3, 3])]),
    ("BCELoss", {"weight": np.array([0.5, 1.0, 2.0, 1.5])}, ["p", "p"]),
    ("BCEWithLogitsLoss", {"pos_weight": np.array([0.5, 1.0, 2.0, 1.5])}, [(3, 4), "p"]),
    ("KLDivLoss", {"reduction": "batchmean", "log_target": True}, [(3, 4), (3, 4)]),
    ("CosineEmbeddingLoss", {"margin": 0.2}, [(4, 3), (4, 3), np.array([1.0, -1, -1, 1])]),
    ("MarginRankingLoss", {"margin": 0.3}, [(4,), (4,), np.array([1.0, -1, -1, 1])]),
    ("TripletMarginLoss", {"margin": 2.0, "p": 1.0, "swap": True}, [(4, 3), (4, 3), (4, 3)]),
    ("SoftMarginLoss", {}, [(4,), np.array([1.0, -1, -1, 1])]),
    ("HingeEmbeddingLoss", {"margin": 0.5}, [(4,), np.array([1.0, -1, -1, 1])]),
    ("PoissonNLLLoss", {"full": True}, [(3, 4), np.array([[0.0, 1, 2, 5]] * 3)]),
    ("GaussianNLLLoss", {"full": True}, [(3, 4), (3, 4), "p"]),
]


@pytest.mark.parametrize("name,opts,inputs", MODULES, ids=[m[0] for m in MODULES])
def test_loss_modules_match_torch(name, opts, inputs):
    rng = np.random.default_rng(3)
    arrays = [rng.uniform(0.1, 0.9, (3, 4)) if isinstance(s, str) else
              rng.uniform(-2, 2, s) if isinstance(s, tuple) else s for s in inputs]
    e_mod = getattr(ember.nn, name)(**{k: ember.tensor(v) if isinstance(v, np.ndarray) else v
                                       for k, v in opts.items()})
    t_mod = getattr(torch.nn, name)(**{k: torch.tensor(v) if isinstance(v, np.ndarray) else v
                                       for k, v in opts.items()})
    assert repr(e_mod) == repr(t_mod)
    assert sorted(e_mod.state_dict()) == sorted(t_mod.state_dict())
    e_x = [ember.tensor(a, requires_grad=k == 0) for k, a in enumerate(arrays)]
    t_x = [torch.tensor(a, requires_grad=k == 0) for k, a in enumerate(arrays)]
    e_out, t_out = e_mod(*e_x), t_mod(*t_x)
    np.testing.assert_allclose(_np(e_out), _np(t_out), rtol=1e-10, atol=1e-12)
    e_out.sum().backward()
    t_out.sum().backward()
    np.testing.assert_allclose(e_x[0].grad.numpy(), t_x[0].grad.numpy(), rtol=1e-10, atol=1e-12)


def test_loss_module_legacy_reduction():
    with pytest.warns(UserWarning, match="size_average and reduce"):
        m = ember.nn.MSELoss(reduce=False)
    assert m.reduction == "none"
    assert ember.nn.CrossEntropyLoss().reduction == "mean"
