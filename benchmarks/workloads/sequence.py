"""W8, W4-sdpa: sequence models, one code path for both libraries.

As in ``train.py``, each model is written once against ``lib`` (the ``ember`` or
``torch`` module) and timed in both.
"""

from __future__ import annotations

import numpy as np
from run import Workload

from .train import _gpt_setup, stdlib_text

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


# ---------------------------------------------------------------- W4-sdpa: char-level GPT


def gpt_sdpa(lib, vocab: int, width: int = 128, heads: int = 4, layers: int = 2,
             block: int = 64):
    """W4's GPT with the attention through ``F.scaled_dot_product_attention(is_causal=True)``."""
    nn = lib.nn
    sdpa = lib.nn.functional.scaled_dot_product_attention

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln1, self.ln2 = nn.LayerNorm(width), nn.LayerNorm(width)
            self.qkv, self.proj = nn.Linear(width, 3 * width), nn.Linear(width, width)
            self.fc, self.out = nn.Linear(width, 4 * width), nn.Linear(4 * width, width)
            self.act = nn.GELU()

        def forward(self, x):
            B, T, C = x.shape
            q, k, v = self.qkv(self.ln1(x)).split(C, dim=2)
            q = q.view(B, T, heads, C // heads).transpose(1, 2)
            k = k.view(B, T, heads, C // heads).transpose(1, 2)
            v = v.view(B, T, heads, C // heads).transpose(1, 2)
            y = sdpa(q, k, v, is_causal=True).transpose(1, 2).reshape(B, T, C)
            x = x + self.proj(y)
            return x + self.out(self.act(self.fc(self.ln2(x))))

    class GPT(nn.Module):
        def __init__(self):
            super().__init__()
            self.tok = nn.Embedding(vocab, width)
            self.pos = nn.Embedding(block, width)
            self.blocks = nn.Sequential(*[Block() for _ in range(layers)])
            self.ln = nn.LayerNorm(width)
            self.head = nn.Linear(width, vocab)

        def forward(self, idx):
            T = idx.shape[1]
            x = self.tok(idx) + self.pos(lib.arange(T))
            return self.head(self.ln(self.blocks(x)))
    return GPT()


def _gpt_sdpa_setup(kind: str):
    def setup():
        import torch

        import ember
        lib = ember if kind == "ember" else torch
        lib.manual_seed(0)
        text = stdlib_text(200_000)
        chars = sorted(set(text))
        lookup = {c: i for i, c in enumerate(chars)}
        data = np.array([lookup[c] for c in text[:50_000]], dtype=np.int64)
        model = gpt_sdpa(lib, len(chars))
        opt = lib.optim.AdamW(model.parameters(), lr=3e-4)
        rng = np.random.default_rng(0)
        block, batch = 64, 32

        def step():
            rows = rng.integers(0, len(data) - block - 1, batch)[:, None] + np.arange(block)
            xb, yb = lib.from_numpy(data[rows]), lib.from_numpy(data[rows + 1])
            logits = model(xb)
            loss = lib.nn.functional.cross_entropy(logits.view(-1, logits.shape[-1]),
                                                   yb.view(-1))
            opt.zero_grad()
            loss.backward()
            opt.step()
        return step
    return setup


WORKLOADS = [
    Workload("W8", "sequence", "LSTM 2x256, in 64, T 64, batch 32, fwd+bwd", "ms",
             _lstm_setup("ember"), _lstm_setup("torch"), goal="<= 2.0", number=3),
    Workload("W8p", "sequence", "W8 packed, lengths 16..64, unsorted", "ms",
             _lstm_setup("ember", packed=True), _lstm_setup("torch", packed=True),
             goal="<= 2.0", number=3),
    Workload("W4-sdpa", "sequence", "W4 with F.scaled_dot_product_attention", "ms",
             _gpt_sdpa_setup("ember"), _gpt_sdpa_setup("torch"), goal="<= 1.5", number=5,
             extra={"ember, W4's explicit masked softmax": _gpt_setup("ember")}),
]
