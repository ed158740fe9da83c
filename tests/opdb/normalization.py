"""Op database entries: batch, layer, group, instance and RMS normalization."""

import numpy as np

from . import OpInfo, S


def _f(m):
    return m.nn.functional


def _bn_train(m, x, w, b):
    rm, rv = m.zeros(x.shape[1], dtype=x.dtype), m.ones(x.shape[1], dtype=x.dtype)
    y = _f(m).batch_norm(x, rm, rv, w, b, training=True, momentum=0.3)
    return y, rm, rv


def _bn_eval(m, x, w, b):
    c = x.shape[1]
    rm = m.linspace(-0.5, 0.5, c, dtype=x.dtype)
    rv = m.linspace(0.5, 2.0, c, dtype=x.dtype)
    return _f(m).batch_norm(x, rm, rv, w, b, training=False)


def _in_stats(m, x):
    rm, rv = m.zeros(x.shape[1], dtype=x.dtype), m.ones(x.shape[1], dtype=x.dtype)
    y = _f(m).instance_norm(x, rm, rv, use_input_stats=True, momentum=0.2)
    return y, rm, rv


OPS = [
    OpInfo("batch_norm_train", lambda m, x, w, b: _bn_train(m, x, w, b)[0],
           [S((4, 3, 2, 2), (3,), (3,)), S((5, 3), (3,), (3,), name="2d"),
            S((2, 3, 4), (3,), (3,), name="3d")]),
    # the running statistics (updated in place) are outputs too: values only
    OpInfo("batch_norm_running_stats", _bn_train, [S((4, 3, 2, 2), (3,), (3,))],
           gradcheck=False),
    OpInfo("batch_norm_train_noaffine",
           lambda m, x: _f(m).batch_norm(x, None, None, training=True, eps=1e-3),
           [S((3, 2, 2, 2))]),
    OpInfo("batch_norm_eval", _bn_eval, [S((2, 3, 2, 2), (3,), (3,))]),
    OpInfo("layer_norm", lambda m, x, w, b: _f(m).layer_norm(x, (4,), w, b),
           [S((3, 4), (4,), (4,)), S((2, 3, 4), (4,), (4,), name="3d"),
            S((0, 4), (4,), (4,), name="empty")]),
    OpInfo("layer_norm_2dims", lambda m, x, w: _f(m).layer_norm(x, (2, 3), w, eps=1e-3),
           [S((4, 2, 3), (2, 3))]),
    OpInfo("layer_norm_noaffine", lambda m, x: _f(m).layer_norm(x, [5]), [S((3, 5))]),
    OpInfo("group_norm", lambda m, x, w, b: _f(m).group_norm(x, 2, w, b),
           [S((2, 4, 3), (4,), (4,)), S((2, 4, 2, 2), (4,), (4,), name="4d"),
            S((0, 4, 3), (4,), (4,), name="empty")]),
    OpInfo("instance_norm", lambda m, x, w, b: _f(m).instance_norm(x, weight=w, bias=b),
           [S((2, 3, 4), (3,), (3,)), S((2, 2, 2, 3), (2,), (2,), name="4d")]),
    OpInfo("instance_norm_stats", _in_stats, [S((2, 3, 5))], gradcheck=False),
    OpInfo("rms_norm", lambda m, x, w: _f(m).rms_norm(x, (4,), w), [S((3, 4), (4,))]),
    OpInfo("rms_norm_eps", lambda m, x: _f(m).rms_norm(x, [2, 3], eps=1e-3),
           [S((3, 2, 3))]),
    OpInfo("local_response_norm", lambda m, x: _f(m).local_response_norm(x, 3, alpha=0.1, k=2.0),
           [S((2, 4, 5)), S((1, 5, 2, 3), name="4d")]),
    OpInfo("batch_norm_constant_channel",
           lambda m, x: _f(m).batch_norm(x, None, None, training=True),
           [S(np.array([[1.0, 2.0], [1.0, 3.0], [1.0, -1.0]]))], gradcheck=False),
]
