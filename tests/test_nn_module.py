"""Module API (registration, iteration, state_dict, modes, hooks, dtype), containers and their
reprs, Parameter, and nn.utils, against torch's behaviour."""

from __future__ import annotations

import copy
from collections import OrderedDict

import numpy as np
import pytest

import ember
from ember import nn

torch = pytest.importorskip("torch")
tnn = torch.nn


def _build(lib):
    """The same architecture in either library."""
    m = lib.nn

    class Block(m.Module):
        def __init__(self):
            super().__init__()
            self.fc = m.Linear(3, 4)
            self.act = m.ReLU()
            self.register_buffer("running", lib.zeros(4))
            self.register_buffer("scratch", lib.ones(2), persistent=False)

        def forward(self, x):
            return self.act(self.fc(x)) + self.running

    class Net(m.Module):
        def __init__(self):
            super().__init__()
            self.block = Block()
            self.layers = m.ModuleList([m.Linear(4, 4), m.Linear(4, 4), m.Tanh()])
            self.heads = m.ModuleDict({"a": m.Linear(4, 2), "b": m.Identity()})
            self.seq = m.Sequential(m.Linear(2, 2), m.Dropout(0.1))
            self.scale = m.Parameter(lib.ones(1))

        def forward(self, x):
            x = self.block(x)
            for layer in self.layers:
                x = layer(x)
            return self.seq(self.heads["a"](x)) * self.scale

    return Net()


def _to_torch_repr(s: str) -> str:
    return s.replace("ember.", "torch.")


# ---------------------------------------------------------------- repr


def test_repr_matches_torch():
    assert repr(_build(ember)) == repr(_build(torch))
    cases = [
        lambda m: m.Sequential(m.Linear(2, 3), m.ReLU(), m.Linear(3, 1, bias=False)),
        lambda m: m.Sequential(OrderedDict([("fc", m.Linear(1, 2)), ("act", m.GELU())])),
        lambda m: m.ModuleList([m.Linear(2, 2)] * 3 + [m.ReLU(), m.ReLU(), m.Linear(2, 3)]),
        lambda m: m.ModuleList(),
        lambda m: m.Sequential(),
        lambda m: m.ModuleDict({"x": m.Sequential(m.Linear(1, 1)), "y": m.ModuleList()}),
        lambda m: m.Sequential(m.ModuleList([m.Sequential(m.ReLU(), m.ReLU())] * 2)),
    ]
    for make in cases:
        assert repr(make(nn)) == repr(make(tnn))


def test_parameter_containers_repr():
    for lib, m in ((ember, nn), (torch, tnn)):
        pl = m.ParameterList([m.Parameter(lib.zeros(2, 3)), lib.zeros(4)])
        pd = m.ParameterDict({"w": m.Parameter(lib.zeros(2, 3)), "b": lib.zeros(1)})
        if lib is ember:
            e_pl, e_pd = repr(pl), repr(pd)
        else:
            t_pl, t_pd = repr(pl), repr(pd)
    assert _to_torch_repr(e_pl) == t_pl
    assert _to_torch_repr(e_pd) == t_pd


def test_custom_extra_repr_multiline():
    def make(m):
        class M(m.Module):
            def extra_repr(self):
                return "a=1\nb=2"

        return M

    assert repr(make(nn)()) == repr(make(tnn)())
    assert repr(nn.Sequential(make(nn)())) == repr(tnn.Sequential(make(tnn)()))


def test_parameter_repr_and_identity():
    data = ember.tensor([1.0, 2.0])
    p = nn.Parameter(data)
    assert repr(p) == repr(tnn.Parameter(torch.tensor([1.0, 2.0])))
    assert isinstance(p, ember.Tensor) and p.requires_grad and p.is_leaf
    data.numpy()[0] = 7.0  # shares storage with data
    assert p.detach().numpy()[0] == 7.0
    assert not nn.Parameter(ember.zeros(1), requires_grad=False).requires_grad
    assert tuple(nn.Parameter().shape) == (0,)
    assert type(p * 2) is ember.Tensor
    q = copy.deepcopy(p)
    assert type(q) is nn.Parameter and q.requires_grad and q.detach().numpy()[0] == 7.0
    with pytest.raises(RuntimeError):
        nn.UninitializedParameter()


# ---------------------------------------------------------------- registration


def test_named_members_match_torch():
    e, t = _build(ember), _build(torch)
    assert [n for n, _ in e.named_parameters()] == [n for n, _ in t.named_parameters()]
    assert [n for n, _ in e.named_buffers()] == [n for n, _ in t.named_buffers()]
    assert [n for n, _ in e.named_modules()] == [n for n, _ in t.named_modules()]
    assert [n for n, _ in e.named_children()] == [n for n, _ in t.named_children()]
    assert ([n for n, _ in e.named_parameters(prefix="net", recurse=False)]
            == [n for n, _ in t.named_parameters(prefix="net", recurse=False)])
    assert ([n for n, _ in e.block.named_parameters("pre")]
            == [n for n, _ in t.block.named_parameters("pre")])
    assert len(list(e.parameters())) == len(list(t.parameters()))
    assert len(list(e.modules())) == len(list(t.modules()))
    assert len(list(e.children())) == 4


def test_shared_modules_and_parameters_deduplicated():
    for lib, m in ((ember, nn), (torch, tnn)):
        lin = m.Linear(2, 2)
        seq = m.Sequential(lin, lin)
        seq2 = m.Sequential(lin)
        seq2.extra = m.Parameter(lib.zeros(1))
        seq2.alias = seq2.extra
        res = (len(list(seq.parameters())), len(list(seq.modules())),
               [n for n, _ in seq.named_parameters(remove_duplicate=False)],
               [n for n, _ in seq.named_modules(remove_duplicate=False)],
               [n for n, _ in seq2.named_parameters()])
        if lib is ember:
            e_res = res
        else:
            t_res = res
    assert e_res == t_res


def test_setattr_rules_and_errors():
    m = nn.Module()
    m.p = nn.Parameter(ember.zeros(1))
    m.register_buffer("b", ember.zeros(2))
    m.sub = nn.Linear(1, 1)
    m.plain = 3
    assert list(m._parameters) == ["p"] and list(m._buffers) == ["b"]
    assert list(m._modules) == ["sub"] and m.plain == 3
    with pytest.raises(TypeError, match="cannot assign 'ember.FloatTensor' as parameter 'p'"):
        m.p = ember.zeros(1)
    with pytest.raises(TypeError, match="cannot assign 'int' as child module 'sub'"):
        m.sub = 3
    with pytest.raises(TypeError, match="cannot assign 'int' as buffer 'b'"):
        m.b = 3
    m.b = ember.ones(2)  # a tensor replaces a buffer
    assert m.b.numpy().tolist() == [1.0, 1.0] and "b" in m._buffers
    m.p = None
    assert m.p is None and list(m.parameters(recurse=False)) == []
    with pytest.raises(KeyError, match="attribute 'plain' already exists"):
        m.register_buffer("plain", None)
    with pytest.raises(KeyError, match="module name can.+t contain.+got: a.b"):
        m.add_module("a.b", None)
    with pytest.raises(KeyError, match="parameter name can.+t contain"):
        m.register_parameter("a.b", None)
    with pytest.raises(KeyError, match="empty string"):
        m.register_buffer("", None)
    with pytest.raises(TypeError, match="buffer name should be a string"):
        m.register_buffer(1, None)
    with pytest.raises(TypeError, match="is not a Module subclass"):
        m.add_module("x", 3)
    with pytest.raises(TypeError, match="cannot assign 'ember.FloatTensor' object to "
                                        "parameter 'q'"):
        m.register_parameter("q", ember.zeros(1))
    leaf = nn.Parameter(ember.zeros(1))
    m.r = nn.Parameter(leaf * 2)  # a Parameter is always a new leaf, as in torch
    assert m.r.is_leaf and m.r.grad_fn is None
    with pytest.raises(AttributeError, match="'Module' object has no attribute 'zzz'"):
        m.zzz  # noqa: B018
    # assigning a Parameter over a buffer/module name moves it to parameters
    m.sub = nn.Parameter(ember.zeros(1))
    assert "sub" not in m._modules and "sub" in m._parameters
    m.b = nn.Buffer(ember.zeros(3), persistent=False)
    assert "b" in m._buffers and "b" not in m.state_dict()
    del m.b, m.sub, m.plain
    assert "b" not in m._buffers and "sub" not in m._parameters and not hasattr(m, "plain")

    class Early(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(ember.zeros(1))

    with pytest.raises(AttributeError, match="cannot assign parameters before "
                                             r"Module.__init__\(\) call"):
        Early()


def test_get_submodule_parameter_buffer():
    net = _build(ember)
    assert net.get_submodule("layers.1") is net.layers[1]
    assert net.get_submodule("") is net
    assert net.get_parameter("heads.a.bias") is net.heads["a"].bias
    assert net.get_buffer("block.running") is net.block.running
    with pytest.raises(AttributeError, match="Linear has no attribute `nope`"):
        net.get_submodule("block.fc.nope")
    with pytest.raises(AttributeError, match="`scale` is not an nn.Module"):
        net.get_submodule("scale")
    with pytest.raises(AttributeError, match="`running` is not an nn.Parameter"):
        net.get_parameter("block.running")
    assert "block" in dir(net) and "scale" in dir(net)


def test_forward_missing():
    with pytest.raises(NotImplementedError, match='missing the required "forward" function'):
        nn.Module()(1)


# ---------------------------------------------------------------- state_dict


def test_state_dict_keys_and_round_trip():
    e, t = _build(ember), _build(torch)
    assert list(e.state_dict()) == list(t.state_dict())
    assert isinstance(e.state_dict(), OrderedDict)
    assert "block.scratch" not in e.state_dict()
    sd = {k: ember.tensor(v.detach().numpy().copy()) for k, v in t.state_dict().items()}
    res = e.load_state_dict(sd)
    assert repr(res) == "<All keys matched successfully>"
    assert res.missing_keys == [] and res.unexpected_keys == []
    x = np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32)
    e.eval()
    t.eval()
    np.testing.assert_allclose(e(ember.tensor(x)).detach().numpy(),
                               t(torch.from_numpy(x)).detach().numpy(), rtol=1e-5, atol=1e-6)
    # the state dict holds detached tensors sharing memory with the parameters
    w = e.state_dict()["block.fc.weight"]
    assert not w.requires_grad and type(w) is ember.Tensor
    w.numpy()[0, 0] = 42.0
    assert e.block.fc.weight.detach().numpy()[0, 0] == 42.0
    assert e.state_dict(keep_vars=True)["scale"] is e.scale
    assert list(e.block.state_dict(prefix="x.")) == list(t.block.state_dict(prefix="x."))


def test_load_state_dict_strict_errors_match_torch():
    e, t = nn.Linear(2, 3), tnn.Linear(2, 3)
    bad = OrderedDict([("weight", np.zeros((3, 2), np.float32)),
                       ("extra", np.zeros(1, np.float32))])
    with pytest.raises(RuntimeError) as ei:
        e.load_state_dict({k: ember.tensor(v) for k, v in bad.items()})
    with pytest.raises(RuntimeError) as ti:
        t.load_state_dict({k: torch.from_numpy(v) for k, v in bad.items()})
    assert str(ei.value) == str(ti.value)
    assert str(ei.value).startswith("Error(s) in loading state_dict for Linear:\n\tMissing "
                                    "key(s) in state_dict: \"bias\". ")
    res_e = e.load_state_dict({k: ember.tensor(v) for k, v in bad.items()}, strict=False)
    res_t = t.load_state_dict({k: torch.from_numpy(v) for k, v in bad.items()}, strict=False)
    assert (res_e.missing_keys, res_e.unexpected_keys) == (res_t.missing_keys,
                                                           res_t.unexpected_keys)
    assert repr(res_e) == repr(res_t)
    size_bad = {"weight": np.zeros((2, 2), np.float32), "bias": np.zeros(3, np.float32)}
    with pytest.raises(RuntimeError) as ei:
        e.load_state_dict({k: ember.tensor(v) for k, v in size_bad.items()})
    with pytest.raises(RuntimeError) as ti:
        t.load_state_dict({k: torch.from_numpy(v) for k, v in size_bad.items()})
    assert str(ei.value) == str(ti.value).replace("torch.Size", "ember.Size")
    with pytest.raises(TypeError, match="Expected state_dict to be dict-like"):
        e.load_state_dict([1, 2])


def test_load_state_dict_nested_unexpected_and_assign():
    e, t = _build(ember), _build(torch)
    sd_e = {k: v.clone() if hasattr(v, "clone") else v for k, v in e.state_dict().items()}
    sd_e["block.fc.nope"] = ember.zeros(1)
    sd_e["ghost.weight"] = ember.zeros(1)
    del sd_e["seq.0.bias"]
    sd_t = {k: v.clone() for k, v in t.state_dict().items()}
    sd_t["block.fc.nope"] = torch.zeros(1)
    sd_t["ghost.weight"] = torch.zeros(1)
    del sd_t["seq.0.bias"]
    with pytest.raises(RuntimeError) as ei:
        e.load_state_dict(sd_e)
    with pytest.raises(RuntimeError) as ti:
        t.load_state_dict(sd_t)
    assert str(ei.value) == str(ti.value)
    # assign=True swaps in the given tensors as Parameters
    m = nn.Linear(2, 2)
    new_w = ember.ones(2, 2)
    m.load_state_dict({"weight": new_w, "bias": ember.zeros(2)}, assign=True)
    assert isinstance(m.weight, nn.Parameter) and m.weight.requires_grad
    new_w.numpy()[0, 0] = 5.0
    assert m.weight.detach().numpy()[0, 0] == 5.0


def test_load_copies_in_place_and_casts():
    m = nn.Linear(2, 2)
    w = m.weight
    m.load_state_dict({"weight": ember.ones(2, 2, dtype=ember.float64), "bias": ember.zeros(2)})
    assert m.weight is w and w.dtype == ember.float32
    assert (w.detach().numpy() == 1).all()


def test_extra_state():
    class WithExtra(nn.Module):
        def __init__(self):
            super().__init__()
            self.count = 0

        def get_extra_state(self):
            return {"count": self.count}

        def set_extra_state(self, state):
            self.count = state["count"]

    a, b = WithExtra(), WithExtra()
    a.count = 7
    sd = a.state_dict()
    assert list(sd) == ["_extra_state"]
    b.load_state_dict(sd)
    assert b.count == 7


# ---------------------------------------------------------------- modes, grads, dtype


def test_train_eval_and_requires_grad():
    net = _build(ember)
    assert all(m.training for m in net.modules())
    assert net.eval() is net
    assert not any(m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())
    with pytest.raises(ValueError, match="training mode is expected to be boolean"):
        net.train(1)
    net.requires_grad_(False)
    assert not any(p.requires_grad for p in net.parameters())
    net.requires_grad_()
    assert all(p.requires_grad for p in net.parameters())


def test_zero_grad():
    m = nn.Linear(3, 2)
    m(ember.ones(1, 3)).sum().backward()
    g = m.weight.grad
    m.zero_grad(set_to_none=False)
    assert m.weight.grad is g and not g.numpy().any()
    m.zero_grad()
    assert m.weight.grad is None and m.bias.grad is None


def test_apply_and_to_dtype():
    net = _build(ember)
    seen = []
    net.apply(lambda mod: seen.append(type(mod).__name__))
    tseen = []
    _build(torch).apply(lambda mod: tseen.append(type(mod).__name__))
    assert seen == tseen
    w = net.block.fc.weight
    net.block.fc.weight.grad = ember.ones(4, 3)
    assert net.to(ember.float64) is net
    assert net.block.fc.weight is w and w.dtype == ember.float64 and w.requires_grad
    assert w.grad.dtype == ember.float64
    assert net.block.running.dtype == ember.float64
    net.float()
    assert all(p.dtype == ember.float32 for p in net.parameters())
    net.double()
    assert all(p.dtype == ember.float64 for p in net.parameters())
    net.half()
    assert all(p.dtype == ember.float16 for p in net.parameters())
    net.to("cpu", dtype=ember.float32).cpu()
    assert all(p.dtype == ember.float32 for p in net.parameters())
    m = nn.Module()
    m.register_buffer("idx", ember.tensor([1, 2]))
    m.float()
    assert m.idx.dtype == ember.int64  # only floating tensors change dtype
    m.type(ember.float64)
    assert m.idx.dtype == ember.float64
    with pytest.raises(TypeError, match="floating point"):
        nn.Linear(1, 1).to(ember.int64)
    assert nn.Linear(1, 1).to(ember.zeros(1, dtype=ember.float64)).weight.dtype == ember.float64
    lin64 = nn.Linear(2, 3, dtype=ember.float64, device="cpu")
    assert lin64.weight.dtype == ember.float64 and lin64.bias.dtype == ember.float64
    with pytest.raises(RuntimeError):
        nn.Linear(1, 1).to("cuda")


def test_deepcopy_module():
    net = _build(ember)
    net2 = copy.deepcopy(net)
    assert net2.block.fc.weight is not net.block.fc.weight
    np.testing.assert_array_equal(net2.block.fc.weight.detach().numpy(),
                                  net.block.fc.weight.detach().numpy())
    assert isinstance(net2.block.fc.weight, nn.Parameter)


def test_call_fast_path_no_hooks():
    m = nn.Identity()
    x = ember.ones(1)
    assert m(x) is x
    assert not m._forward_hooks and not m._backward_hooks


# ---------------------------------------------------------------- containers


def test_sequential_indexing_and_mutation():
    layers = [nn.Linear(1, 1), nn.ReLU(), nn.Linear(1, 2), nn.Tanh()]
    s = nn.Sequential(*layers)
    assert s[0] is layers[0] and s[-1] is layers[-1] and len(s) == 4
    assert list(s) == layers
    sl = s[1:3]
    assert type(sl) is nn.Sequential and list(sl) == layers[1:3]
    assert list(sl._modules) == ["1", "2"]  # torch keeps the original keys
    with pytest.raises(IndexError, match="index 4 is out of range"):
        s[4]  # noqa: B018
    del s[1]
    assert list(s._modules) == ["0", "1", "2"] and list(s) == [layers[0]] + layers[2:]
    s.append(nn.ReLU())
    s.insert(0, nn.Identity())
    s.extend([nn.Sigmoid()])
    assert [type(m).__name__ for m in s] == ["Identity", "Linear", "Linear", "Tanh", "ReLU",
                                             "Sigmoid"]
    assert list(s._modules) == [str(i) for i in range(6)]
    s[0] = nn.Tanh()
    assert type(s[0]) is nn.Tanh
    popped = s.pop(0)
    assert type(popped) is nn.Tanh and len(s) == 5
    del s[-2:]
    assert len(s) == 3
    t = tnn.Sequential(tnn.Linear(1, 1), tnn.ReLU(), tnn.Linear(1, 2), tnn.Tanh())
    del t[1]
    t.insert(-1, tnn.Identity())
    e = nn.Sequential(nn.Linear(1, 1), nn.ReLU(), nn.Linear(1, 2), nn.Tanh())
    del e[1]
    e.insert(-1, nn.Identity())
    assert repr(e) == repr(t)
    named = nn.Sequential(OrderedDict([("a", nn.Linear(2, 3)), ("b", nn.Identity())]))
    assert named.a is named[0] and list(named._modules) == ["a", "b"]
    assert named(ember.ones(4, 2)).shape == (4, 3)
    assert len(s + nn.Sequential(nn.ReLU())) == 4


def test_module_list_and_dict():
    ml = nn.ModuleList([nn.Linear(1, 1), nn.ReLU()])
    ml.append(nn.Tanh())
    ml.extend([nn.Sigmoid()])
    ml.insert(1, nn.Identity())
    assert [type(m).__name__ for m in ml] == ["Linear", "Identity", "ReLU", "Tanh", "Sigmoid"]
    assert type(ml[-1]) is nn.Sigmoid and type(ml[1:3]) is nn.ModuleList and len(ml[1:3]) == 2
    del ml[0]
    assert list(ml._modules) == ["0", "1", "2", "3"] and type(ml[0]) is nn.Identity
    ml[0] = nn.ReLU()
    assert type(ml[0]) is nn.ReLU
    with pytest.raises(IndexError):
        ml[10]  # noqa: B018
    assert len(list((ml + nn.ModuleList([nn.Linear(2, 2)])).parameters())) == 2
    md = nn.ModuleDict({"b": nn.ReLU(), "a": nn.Linear(2, 2)})
    assert list(md.keys()) == ["b", "a"]  # insertion order, like torch
    md["c"] = nn.Tanh()
    md.update([("d", nn.Identity())])
    assert "c" in md and len(md) == 4 and list(md) == ["b", "a", "c", "d"]
    assert type(md.pop("c")) is nn.Tanh and "c" not in md
    assert [k for k, _ in md.items()] == ["b", "a", "d"]
    assert len(list(md.parameters())) == 2


def test_parameter_list_and_dict():
    pl = nn.ParameterList([ember.zeros(2), nn.Parameter(ember.ones(3))])
    assert all(isinstance(p, nn.Parameter) for p in pl)
    pl.append(ember.zeros(1))
    assert len(pl) == 3 and [n for n, _ in pl.named_parameters()] == ["0", "1", "2"]
    pl[0] = ember.ones(5)
    assert isinstance(pl[0], nn.Parameter) and tuple(pl[0].shape) == (5,)
    with pytest.raises(RuntimeError, match="ParameterList should not be called"):
        pl(1)
    pd = nn.ParameterDict({"b": ember.zeros(1), "a": ember.ones(2)})
    tpd = tnn.ParameterDict({"b": torch.zeros(1), "a": torch.ones(2)})
    assert list(pd.keys()) == list(tpd.keys())
    assert [n for n, _ in pd.named_parameters()] == [n for n, _ in tpd.named_parameters()]
    pd["c"] = ember.zeros(3)
    assert isinstance(pd["c"], nn.Parameter) and "c" in pd and len(pd) == 3
    del pd["a"]
    assert list(pd) == list(pd.keys()) and "a" not in pd
    assert list(dict(pd.named_parameters())) == list(pd.keys())


# ---------------------------------------------------------------- hooks


def test_forward_pre_hooks_and_forward_hooks():
    m = nn.Linear(2, 2)
    calls = []

    def pre(mod, args):
        calls.append("pre")
        return (args[0] * 0,)

    def post(mod, args, out):
        calls.append("post")
        assert not args[0].numpy().any()
        return out + 1

    h1 = m.register_forward_pre_hook(pre)
    h2 = m.register_forward_hook(post)
    h3 = m.register_forward_hook(lambda mod, a, o: calls.append("first"), prepend=True)
    y = m(ember.ones(1, 2))
    assert calls == ["pre", "first", "post"]
    np.testing.assert_allclose(y.detach().numpy(), m.bias.detach().numpy()[None] + 1)
    for h in (h1, h2, h3):
        h.remove()
    calls.clear()
    m(ember.ones(1, 2))
    assert calls == []


def test_hooks_with_kwargs():
    class Scale(nn.Module):
        def forward(self, x, *, factor=1.0):
            return x * factor

    m = Scale()
    m.register_forward_pre_hook(lambda mod, args, kwargs: (args, {"factor": 3.0}),
                                with_kwargs=True)
    seen = {}

    def post(mod, args, kwargs, out):
        seen.update(kwargs)

    m.register_forward_hook(post, with_kwargs=True)
    assert m(ember.ones(1)).item() == 3.0 and seen == {"factor": 3.0}
    bad = Scale()
    bad.register_forward_pre_hook(lambda mod, args, kwargs: 1, with_kwargs=True)
    with pytest.raises(RuntimeError, match="forward pre-hook must return None or a tuple"):
        bad(ember.ones(1))


def _backward_hook_record(lib, m):
    mod = m.Linear(3, 2)
    with lib.no_grad():
        mod.weight.copy_(lib.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])) if lib is torch else None
    rec = []

    def hook(module, gin, gout):
        rec.append(([None if g is None else g.detach().numpy().copy() for g in gin],
                    [g.detach().numpy().copy() for g in gout]))
        return (gin[0] * 2,)

    def pre(module, gout):
        rec.append("pre")
        return (gout[0] * 10,)

    mod.register_full_backward_hook(hook)
    mod.register_full_backward_pre_hook(pre)
    return mod, rec


def test_full_backward_hook_matches_torch():
    w = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], np.float32)
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    results = {}
    for lib, m in ((ember, nn), (torch, tnn)):
        mod, rec = _backward_hook_record(lib, m)
        if lib is ember:
            mod.load_state_dict({"weight": ember.tensor(w), "bias": ember.zeros(2)})
        xi = lib.tensor(x, requires_grad=True) if lib is torch else ember.tensor(
            x, requires_grad=True)
        mod(xi).sum().backward()
        results[lib.__name__] = (rec, xi.grad.detach().numpy(), mod.weight.grad.numpy())
    (erec, exg, ewg), (trec, txg, twg) = results["ember"], results["torch"]
    assert erec[0] == "pre" and trec[0] == "pre"
    np.testing.assert_allclose(erec[1][0][0], trec[1][0][0])
    np.testing.assert_allclose(erec[1][1][0], trec[1][1][0])
    np.testing.assert_allclose(exg, txg)  # hook doubled grad_input
    np.testing.assert_allclose(ewg, twg)  # pre-hook scaled grad_output for the weights too


def test_full_backward_hook_without_input_grad():
    seen = []
    m = nn.Linear(2, 1)
    m.register_full_backward_hook(lambda mod, gin, gout: seen.append((gin, gout)))
    m(ember.ones(3, 2)).sum().backward()
    assert len(seen) == 1 and seen[0][0] == (None,)
    assert seen[0][1][0].shape == (3, 1)
    assert m.weight.grad is not None


def test_backward_hook_removed():
    seen = []
    m = nn.Identity()
    h = m.register_full_backward_hook(lambda mod, gin, gout: seen.append(1))
    h.remove()
    m(ember.ones(2, requires_grad=True)).sum().backward()
    assert seen == []


# ---------------------------------------------------------------- nn.utils


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, float("inf")])
@pytest.mark.parametrize("max_norm", [0.5, 100.0])
def test_clip_grad_norm_matches_torch(norm_type, max_norm):
    rng = np.random.default_rng(0)
    grads = [rng.standard_normal(s).astype(np.float32) for s in [(3, 4), (5,), ()]]
    ep = [nn.Parameter(ember.zeros(g.shape)) for g in grads]
    tp = [tnn.Parameter(torch.zeros(g.shape)) for g in grads]
    for e, t, g in zip(ep, tp, grads, strict=True):
        e.grad, t.grad = ember.tensor(g.copy()), torch.from_numpy(g.copy())
    en = nn.utils.clip_grad_norm_(ep, max_norm, norm_type=norm_type)
    tn = tnn.utils.clip_grad_norm_(tp, max_norm, norm_type=norm_type)
    assert en.dtype == ember.float32 and en.shape == ()
    np.testing.assert_allclose(en.item(), tn.item(), rtol=1e-5)
    for e, t in zip(ep, tp, strict=True):
        np.testing.assert_allclose(e.grad.numpy(), t.grad.numpy(), rtol=1e-5, atol=1e-7)


def test_clip_grad_norm_edge_cases():
    p = nn.Parameter(ember.zeros(2))
    assert nn.utils.clip_grad_norm_([p], 1.0).item() == 0.0  # no grads
    p.grad = ember.tensor([float("inf"), 1.0])
    with pytest.raises(RuntimeError, match="non-finite"):
        nn.utils.clip_grad_norm_(p, 1.0, error_if_nonfinite=True)
    g = p.grad = ember.tensor([3.0, 4.0])
    nn.utils.clip_grad_norm_(p, 1.0, foreach=True)
    assert p.grad is g  # scaled in place
    np.testing.assert_allclose(g.numpy(), [0.6, 0.8], rtol=1e-5)


def test_clip_grad_value_and_vectors():
    p = nn.Parameter(ember.zeros(3))
    p.grad = ember.tensor([-2.0, 0.5, 3.0])
    tp = tnn.Parameter(torch.zeros(3))
    tp.grad = torch.tensor([-2.0, 0.5, 3.0])
    nn.utils.clip_grad_value_([p], 1.0)
    tnn.utils.clip_grad_value_([tp], 1.0)
    np.testing.assert_array_equal(p.grad.numpy(), tp.grad.numpy())
    m, tm = nn.Linear(3, 2), tnn.Linear(3, 2)
    m.load_state_dict({k: ember.tensor(v.detach().numpy().copy())
                       for k, v in tm.state_dict().items()})
    v = nn.utils.parameters_to_vector(m.parameters())
    tv = tnn.utils.parameters_to_vector(tm.parameters())
    np.testing.assert_array_equal(v.detach().numpy(), tv.detach().numpy())
    assert v.requires_grad
    new = ember.arange(8.0)
    nn.utils.vector_to_parameters(new, m.parameters())
    assert m.weight.detach().numpy().ravel().tolist() == list(range(6))
    assert m.bias.detach().numpy().tolist() == [6.0, 7.0]
    assert isinstance(m.weight, nn.Parameter)
    with pytest.raises(TypeError, match="expected ember.Tensor"):
        nn.utils.vector_to_parameters([1.0], m.parameters())


def test_always_call_hook_and_state_dict_hooks():
    class Boom(nn.Module):
        def forward(self, x):
            raise ValueError("boom")

    calls = []
    m = Boom()
    m.register_forward_hook(lambda mod, args, out: calls.append(out), always_call=True)
    m.register_forward_hook(lambda mod, args, out: calls.append("never"))
    with pytest.raises(ValueError, match="boom"):
        m(ember.ones(1))
    assert calls == [None]

    lin = nn.Linear(2, 2)
    seen = []
    lin.register_state_dict_pre_hook(lambda mod, prefix, keep_vars: seen.append(prefix))
    lin.register_state_dict_post_hook(lambda mod, sd, prefix, meta: seen.append(sorted(sd)))
    sd = lin.state_dict(prefix="p.")
    assert seen == ["p.", ["p.bias", "p.weight"]]

    def rename(mod, state, prefix, meta, strict, missing, unexpected, errors):
        if prefix + "w" in state:
            state[prefix + "weight"] = state.pop(prefix + "w")

    target = nn.Linear(2, 2)
    target.register_load_state_dict_pre_hook(rename)
    post = []
    target.register_load_state_dict_post_hook(lambda mod, keys: post.append(keys))
    target.load_state_dict({"w": sd["p.weight"], "bias": sd["p.bias"]})
    np.testing.assert_array_equal(target.weight.detach().numpy(), lin.weight.detach().numpy())
    assert post[0].missing_keys == [] and post[0].unexpected_keys == []


def test_load_post_hook_can_silence_strict_errors():
    for m in (nn, tnn):
        lin = m.Linear(2, 2)
        lin.register_load_state_dict_post_hook(lambda mod, keys: keys.missing_keys.clear())
        res = lin.load_state_dict({"weight": lin.weight.detach().clone()})
        assert res.missing_keys == []
