"""W1: per-op overhead of eager execution and autograd; W1c: big matmul throughput."""

from __future__ import annotations

import numpy as np
from run import Workload


def _w1(lib, grad: bool):
    def setup():
        x = lib.randn(32, 32, requires_grad=True)

        if grad:
            def step():
                ((x * 2 + 1).relu() * x).sum().backward()
        else:
            def step():
                with lib.no_grad():
                    ((x * 2 + 1).relu() * x).sum()
        return step
    return setup


def _add(lib):
    def setup():
        a, b = lib.randn(32, 32), lib.randn(32, 32)
        return lambda: a + b
    return setup


def _numpy_add():
    a = np.random.rand(32, 32).astype(np.float32)
    b = np.random.rand(32, 32).astype(np.float32)
    return lambda: a + b


def _matmul(lib):
    def setup():
        a, b = lib.randn(1024, 1024), lib.randn(1024, 1024)
        return lambda: a @ b
    return setup


def _numpy_matmul():
    a = np.random.rand(1024, 1024).astype(np.float32)
    b = np.random.rand(1024, 1024).astype(np.float32)
    return lambda: a @ b


def _lazy(name):
    def setup_factory(kind, *args):
        def setup():
            import torch

            import ember
            lib = ember if kind == "ember" else torch
            return globals()[name](lib, *args)()
        return setup
    return setup_factory


W1 = _lazy("_w1")
ADD = _lazy("_add")
MM = _lazy("_matmul")

WORKLOADS = [
    Workload("W1", "overhead", "fwd+bwd ((x*2+1).relu()*x).sum() 32x32", "us",
             W1("ember", True), W1("torch", True), goal="<= 1.0"),
    Workload("W1b", "overhead", "same forward under no_grad", "us",
             W1("ember", False), W1("torch", False), goal="<= 1.0"),
    Workload("W1b+", "overhead", "a + b, 32x32 float32", "us", ADD("ember"), ADD("torch"),
             goal="<= 1.0", extra={"numpy a + b": _numpy_add}),
    Workload("W1c", "overhead", "matmul 1024x1024 float32", "GFLOP/s", MM("ember"),
             _numpy_matmul, goal="ember >= 0.95x numpy (ratio = ember/numpy)",
             work=2 * 1024**3, extra={"torch": MM("torch")}),
]
