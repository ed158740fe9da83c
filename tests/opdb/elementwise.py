"""Op database entries: elementwise ops."""

import numpy as np

from . import OpInfo, S

BIN = [S((3, 4), (3, 4)), S((3, 4), (4,), name="bcast"), S((), (2, 3), name="0d"),
       S((0, 3), (3,), name="empty")]
UN = [S((3, 4)), S(()), S((0,)), S((2, 1, 3))]
POS = (0.2, 3.0)

OPS = [
    OpInfo("add", lambda m, a, b: m.add(a, b), BIN),
    OpInfo("add_alpha", lambda m, a, b: m.add(a, b, alpha=2), BIN[:2]),
    OpInfo("add_scalar", lambda m, a: a + 2, UN),
    OpInfo("radd_scalar", lambda m, a: 2.5 + a, UN[:2]),
    OpInfo("sub", lambda m, a, b: a - b, BIN),
    OpInfo("rsub_scalar", lambda m, a: 1 - a, UN[:2]),
    OpInfo("mul", lambda m, a, b: a * b, BIN),
    OpInfo("div", lambda m, a, b: a / b, [S((3, 4), (3, 4)), S((3, 4), (4,))], domain=POS),
    OpInfo("rdiv_scalar", lambda m, a: 2 / a, UN[:2], domain=POS),
    OpInfo("neg", lambda m, a: -a, UN),
    OpInfo("pow_scalar", lambda m, a: a ** 3, UN),
    OpInfo("pow_tensor", lambda m, a, b: m.pow(a, b), [S((3, 4), (3, 4)), S((3, 4), (4,))],
           domain=POS),
    OpInfo("rpow_scalar", lambda m, a: 2 ** a, UN[:2]),
    OpInfo("exp", lambda m, a: m.exp(a), UN),
    OpInfo("log", lambda m, a: m.log(a), UN, domain=POS),
    OpInfo("sqrt", lambda m, a: m.sqrt(a), UN, domain=POS),
    OpInfo("sin", lambda m, a: a.sin(), UN),
    OpInfo("cos", lambda m, a: a.cos(), UN),
    OpInfo("tanh", lambda m, a: m.tanh(a), UN),
    OpInfo("sigmoid", lambda m, a: m.sigmoid(a), UN),
    OpInfo("relu", lambda m, a: m.relu(a), UN),
    OpInfo("abs", lambda m, a: m.abs(a), UN),
    OpInfo("maximum", lambda m, a, b: m.maximum(a, b), BIN[:2]),
    OpInfo("where", lambda m, c, a, b: m.where(c, a, b),
           [S(np.array([[True, False, True, False]] * 3), (3, 4), (4,))]),
    OpInfo("remainder", lambda m, a: m.remainder(a, 1.5), UN[:2]),
    OpInfo("fmod", lambda m, a: m.fmod(a, 1.5), UN[:2]),
]
