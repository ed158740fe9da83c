"""W8, W4-sdpa: sequence models, one code path for both libraries.

W4-sdpa is ``train.py``'s GPT with ``sdpa=True``.

As in ``train.py``, each model is written once against ``lib`` (the ``ember`` or
``torch`` module) and timed in both.
"""

from __future__ import annotations

import numpy as np
from run import Workload

from .train import _gpt_setup

# ---------------------------------------------------------------- W8: LSTM


def _lstm_setup(kind: str, packed: bool = False):
    """Forward + backward of a 2-layer LSTM (input 64, hidden 256) on 64 steps x 32 sequences.

    ``packed``: the sequences have lengths 16..64 and go in as a ``PackedSequence``.
    """
    def setup():
        import torch

        import ember
        lib = ember if kind == "ember" else torch
        lib.manual_seed(0)
        T, B, I, H = 64, 32, 64, 256
        lstm = lib.nn.LSTM(I, H, num_layers=2)
        rng = np.random.default_rng(0)
        x = lib.from_numpy(rng.standard_normal((T, B, I), dtype=np.float32))
        if packed:
            lengths = lib.from_numpy(rng.integers(16, T + 1, B))
            x = lib.nn.utils.rnn.pack_padded_sequence(x, lengths, enforce_sorted=False)

        def step():
            lstm.zero_grad()
            out, (h, c) = lstm(x)
            out = out.data if packed else out
            (out.sum() + h.sum()).backward()
        return step
    return setup


WORKLOADS = [
    Workload("W8", "sequence", "LSTM 2x256, in 64, T 64, batch 32, fwd+bwd", "ms",
             _lstm_setup("ember"), _lstm_setup("torch"), goal="<= 1.5", number=3),
    Workload("W8p", "sequence", "W8 packed, lengths 16..64, unsorted", "ms",
             _lstm_setup("ember", packed=True), _lstm_setup("torch", packed=True),
             goal="<= 1.5", number=3),
    Workload("W4-sdpa", "sequence", "W4 with F.scaled_dot_product_attention", "ms",
             _gpt_setup("ember", sdpa=True), _gpt_setup("torch", sdpa=True), goal="<= 1.5",
             number=5,
             extra={"ember, W4's explicit masked softmax": _gpt_setup("ember")}),
]
