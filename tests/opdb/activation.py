"""Op database entries: activation functions (torch.nn.functional)."""

import numpy as np

from . import OpInfo, S

UN = [S((3, 4)), S(()), S((0,)), S((2, 1, 3))]
WIDE = (-5.0, 5.0)
BIG = np.array([-60.0, -25.0, -1.0, 0.5, 25.0, 60.0])


def F(m):
    return m.nn.functional


def _inplace(m, name, a, **kw):
    """``F.<name>(copy, inplace=True, ...)`` on a non-leaf copy of ``a``."""
    return getattr(F(m), name)(a * 1, inplace=True, **kw)


OPS = [
    OpInfo("F.gelu", lambda m, a: F(m).gelu(a), UN, domain=WIDE),
    OpInfo("F.gelu_tanh", lambda m, a: F(m).gelu(a, approximate="tanh"), UN, domain=WIDE),
    OpInfo("F.gelu_far", lambda m, a: F(m).gelu(a * 3), [S((4, 5))], domain=(-4.0, 4.0)),
    OpInfo("F.silu", lambda m, a: F(m).silu(a), UN, domain=WIDE),
    OpInfo("F.softplus", lambda m, a: F(m).softplus(a), UN, domain=WIDE),
    # beta * x crosses the threshold, where softplus switches to the identity
    OpInfo("F.softplus_beta", lambda m, a: F(m).softplus(a, beta=2.0, threshold=3.0), UN[:2],
           domain=WIDE),
    OpInfo("F.softplus_stable", lambda m, b: F(m).softplus(b.to(m.float32) * 1),
           [S(BIG, grad=())], grad=False),
    OpInfo("F.mish", lambda m, a: F(m).mish(a), UN, domain=WIDE),
    OpInfo("F.elu", lambda m, a: F(m).elu(a), UN),
    OpInfo("F.elu_alpha", lambda m, a: F(m).elu(a, alpha=0.5), UN[:2]),
    OpInfo("F.selu", lambda m, a: F(m).selu(a), UN),
    OpInfo("F.celu", lambda m, a: F(m).celu(a, alpha=1.5), UN),
    OpInfo("F.leaky_relu", lambda m, a: F(m).leaky_relu(a), UN),
    OpInfo("F.leaky_relu_slope", lambda m, a: F(m).leaky_relu(a, 0.2), UN[:2]),
    OpInfo("F.relu", lambda m, a: F(m).relu(a), UN),
    OpInfo("F.relu6", lambda m, a: F(m).relu6(a * 4), UN),
    OpInfo("F.hardtanh", lambda m, a: F(m).hardtanh(a), UN),
    OpInfo("F.hardtanh_bounds", lambda m, a: F(m).hardtanh(a, -0.5, 1.5), UN[:2]),
    OpInfo("F.hardswish", lambda m, a: F(m).hardswish(a), UN, domain=WIDE),
    OpInfo("F.hardsigmoid", lambda m, a: F(m).hardsigmoid(a), UN, domain=WIDE),
    OpInfo("F.softsign", lambda m, a: F(m).softsign(a), UN, domain=WIDE),
    OpInfo("F.logsigmoid", lambda m, a: F(m).logsigmoid(a), UN, domain=WIDE),
    OpInfo("F.logsigmoid_stable", lambda m, b: F(m).logsigmoid(b.to(m.float32) * 1),
           [S(BIG, grad=())], grad=False),
    OpInfo("F.tanhshrink", lambda m, a: F(m).tanhshrink(a), UN),
    OpInfo("F.softshrink", lambda m, a: F(m).softshrink(a), UN),
    OpInfo("F.softshrink_lambd", lambda m, a: F(m).softshrink(a, 1.0), UN[:2]),
    OpInfo("F.hardshrink", lambda m, a: F(m).hardshrink(a), UN),
    OpInfo("hardshrink_method", lambda m, a: a.hardshrink(0.3), UN[:2]),
    OpInfo("F.threshold", lambda m, a: F(m).threshold(a, 0.1, -2.0), UN),
    OpInfo("F.sigmoid", lambda m, a: F(m).sigmoid(a), UN[:2]),
    OpInfo("F.tanh", lambda m, a: F(m).tanh(a), UN[:2]),
    OpInfo("F.glu", lambda m, a: F(m).glu(a), [S((3, 4)), S((2, 1, 6), name="3d")]),
    OpInfo("F.glu_dim", lambda m, a: F(m).glu(a, dim=0), [S((4, 3)), S((2,))]),
    OpInfo("F.prelu", lambda m, a, w: F(m).prelu(a, w), [S((2, 3, 4), (3,), name="channels"),
                                                          S((2, 3), (1,), name="shared"),
                                                          S((5,), (1,), name="1d")]),
    # inplace=True and the *_ functions, on a non-leaf copy
    OpInfo("F.relu_inplace", lambda m, a: _inplace(m, "relu", a), UN[:2]),
    OpInfo("F.relu_", lambda m, a: F(m).relu_(a * 1), UN[:2]),
    OpInfo("F.relu6_inplace", lambda m, a: _inplace(m, "relu6", a * 4), UN[:2]),
    OpInfo("F.elu_inplace", lambda m, a: _inplace(m, "elu", a, alpha=0.7), UN[:2]),
    OpInfo("F.elu_", lambda m, a: F(m).elu_(a * 1), UN[:2]),
    OpInfo("F.selu_inplace", lambda m, a: _inplace(m, "selu", a), UN[:2]),
    OpInfo("F.celu_inplace", lambda m, a: _inplace(m, "celu", a), UN[:2]),
    OpInfo("F.leaky_relu_inplace", lambda m, a: _inplace(m, "leaky_relu", a), UN[:2]),
    OpInfo("F.leaky_relu_", lambda m, a: F(m).leaky_relu_(a * 1, 0.3), UN[:2]),
    OpInfo("F.hardtanh_inplace", lambda m, a: _inplace(m, "hardtanh", a), UN[:2]),
    OpInfo("F.hardtanh_", lambda m, a: F(m).hardtanh_(a * 1, -0.5, 0.5), UN[:2]),
    OpInfo("F.threshold_inplace", lambda m, a: _inplace(m, "threshold", a, threshold=0.2,
                                                         value=3.0), UN[:2]),
    OpInfo("F.threshold_", lambda m, a: F(m).threshold_(a * 1, 0.2, 3.0), UN[:2]),
    OpInfo("F.silu_inplace", lambda m, a: _inplace(m, "silu", a), UN[:2]),
    OpInfo("F.mish_inplace", lambda m, a: _inplace(m, "mish", a), UN[:2]),
    OpInfo("F.hardswish_inplace", lambda m, a: _inplace(m, "hardswish", a), UN[:2],
           domain=WIDE),
    OpInfo("F.hardsigmoid_inplace", lambda m, a: _inplace(m, "hardsigmoid", a), UN[:2],
           domain=WIDE),
]
