"""Fit a cubic to sin(x) with tensors and autograd alone; prints the loss as it falls.

Run: ``python -m ember.examples.polyfit [--steps N] [--lr LR]``
"""

from __future__ import annotations

import argparse
import math

import ember


def main(argv=None) -> float:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    ember.manual_seed(args.seed)
    x = ember.linspace(-math.pi, math.pi, 2000)
    y = ember.sin(x)
    coef = ember.randn(4, requires_grad=True)
    powers = ember.stack([x ** k for k in range(4)], dim=1)  # (2000, 4)
    loss_value = float("nan")
    for step in range(args.steps):
        pred = powers @ coef
        loss = ((pred - y) ** 2).mean()
        loss.backward()
        with ember.no_grad():
            coef -= args.lr * coef.grad
            coef.grad.zero_()
        loss_value = loss.item()
        if step % (args.steps // 10 or 1) == 0 or step == args.steps - 1:
            print(f"step {step:5d}  loss {loss_value:.6f}")
    a, b, c, d = coef.tolist()
    print(f"y = {a:.4f} + {b:.4f} x + {c:.4f} x^2 + {d:.4f} x^3")
    return loss_value


if __name__ == "__main__":
    main()
