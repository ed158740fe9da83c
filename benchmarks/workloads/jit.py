"""W5, W1 compiled, W2 compiled, W7 and trace time: what ``ember.jit`` buys over eager.

Each row compares compiled ember with torch eager (the ratio column); extra rows show
eager ember and torch's own tracer (and onnxruntime when it is installed) as references.
"""

from __future__ import annotations

import os
import tempfile

import numpy as np
from run import Workload

from .train import _epoch, _train_setup, cnn, digits_arrays, mlp


def _lib(kind):
    import torch

    import ember
    return ember if kind == "ember" else torch


# ---------------------------------------------------------------- W5: MLP inference

def _w5(kind: str, batch: int):
    """kind: ember-eager, ember-traced, torch, torch-jit."""
    def setup():
        lib = _lib(kind.split("-")[0])
        lib.manual_seed(0)
        model = mlp(lib).eval()
        x = lib.randn(batch, 64)
        with lib.no_grad():
            if kind == "ember-traced":
                import ember
                model = ember.jit.trace(model, (x,))
            elif kind == "torch-jit":
                import torch
                model = torch.jit.trace(model, (x,))

        def step():
            with lib.no_grad():
                model(x)
        return step
    return setup


def _w5_onnxruntime(batch: int):
    def setup():
        import onnxruntime as ort
        import torch
        torch.manual_seed(0)
        model = mlp(torch).eval()
        path = os.path.join(tempfile.mkdtemp(), "mlp.onnx")
        torch.onnx.export(model, (torch.randn(batch, 64),), path, dynamo=False)
        opts = ort.SessionOptions()
        # its worker threads otherwise spin between runs, taking the cores from the others
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        sess = ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])
        name = sess.get_inputs()[0].name
        x = np.random.default_rng(0).standard_normal((batch, 64)).astype(np.float32)
        return lambda: sess.run(None, {name: x})
    return setup


def _w5_extra(batch: int) -> dict:
    extra = {"eager ember": _w5("ember-eager", batch), "torch.jit.trace": _w5("torch-jit", batch)}
    try:
        import onnxruntime  # noqa: F401
        extra["onnxruntime"] = _w5_onnxruntime(batch)
    except ImportError:
        pass
    return extra


# ---------------------------------------------------------------- W1 compiled

def _w1(kind: str):
    def setup():
        lib = _lib(kind.split("-")[0])
        x = lib.randn(32, 32, requires_grad=True)

        def step():
            ((x * 2 + 1).relu() * x).sum().backward()
        if kind == "ember-compiled":
            import ember
            return ember.jit.compile(step)
        return step
    return setup


# ---------------------------------------------------------------- W2 compiled

def _w2_compiled():
    import ember
    ember.manual_seed(0)
    x, y = digits_arrays()
    model = mlp(ember)
    opt = ember.optim.Adam(model.parameters(), lr=1e-3)
    n = x.shape[0]
    X, Y = ember.from_numpy(x.reshape(n, -1)), ember.from_numpy(y)
    loss_fn = ember.nn.CrossEntropyLoss()
    rng = np.random.default_rng(0)

    @ember.jit.compile
    def train_step(xb, yb):
        opt.zero_grad()
        loss = loss_fn(model(xb), yb)
        loss.backward()
        opt.step()
        return loss

    def run():
        perm = ember.from_numpy(rng.permutation(n))
        for i in range(0, n, 64):
            idx = perm[i:i + 64]
            train_step(X[idx], Y[idx])
    return run


def _w2_eager():
    import ember
    ember.manual_seed(0)
    x, y = digits_arrays()
    return _epoch(ember, mlp(ember), x, y, 64, True)


# ---------------------------------------------------------------- W7 fused elementwise

def _w7(kind: str):
    def setup():
        rng = np.random.default_rng(0)
        xs = rng.standard_normal((10_000, 1000)).astype(np.float32)
        ws = rng.standard_normal(1000).astype(np.float32)
        bs = rng.standard_normal(1000).astype(np.float32)
        if kind == "numpy":
            k = np.float32(np.sqrt(2 / np.pi))

            def step():
                z = xs * ws + bs
                return 0.5 * z * (1 + np.tanh(k * (z + np.float32(0.044715) * z * z * z)))
            return step
        lib = _lib(kind.split("-")[0])
        x, w, b = lib.from_numpy(xs), lib.from_numpy(ws), lib.from_numpy(bs)
        F = lib.nn.functional

        def f(x, w, b):
            return F.gelu(x * w + b, approximate="tanh")
        if kind == "ember-compiled":
            import ember
            f = ember.jit.compile(f)
        with lib.no_grad():
            f(x, w, b)
        return lambda: f(x, w, b)
    return setup


# ---------------------------------------------------------------- trace + compile time

def _trace_time():
    import ember

    def step():
        ember.manual_seed(0)
        model = cnn(ember)
        x = ember.randn(64, 1, 8, 8)
        t = ember.jit.trace(model, (x,))
        t(x)
    return step


WORKLOADS = [
    Workload("W5", "jit", "digits MLP inference, batch 1: traced ember", "us",
             _w5("ember-traced", 1), _w5("torch", 1), goal="<= 0.35", extra=_w5_extra(1)),
    Workload("W5b", "jit", "digits MLP inference, batch 256: traced ember", "us",
             _w5("ember-traced", 256), _w5("torch", 256), goal="<= 1.0",
             extra=_w5_extra(256)),
    Workload("W1j", "jit", "W1 fwd+bwd 32x32, compiled", "us", _w1("ember-compiled"),
             _w1("torch"), goal="<= 0.3", extra={"eager ember": _w1("ember")}),
    Workload("W2j", "jit", "W2 digits MLP epoch, compiled train step", "s", _w2_compiled,
             _train_setup("torch", mlp, True), goal="<= 0.6", number=3,
             extra={"eager ember": _w2_eager}),
    Workload("W7", "jit", "gelu_tanh(x*w+b), 1e7 float32, compiled", "ms",
             _w7("ember-compiled"), _w7("torch"), goal="<= 0.25",
             extra={"eager ember": _w7("ember"), "numpy op by op": _w7("numpy")}),
    Workload("Wt", "jit", "trace + compile digits CNN (kernels cached)", "ms", _trace_time,
             None, goal="< 500", number=1),
]
