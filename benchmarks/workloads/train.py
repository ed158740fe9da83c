"""W2-W4: training throughput of small real models, one code path for both libraries.

ember's API is torch's, so each model is written once against ``lib`` (the ``ember``
or ``torch`` module) and timed in both.
"""

from __future__ import annotations

import math
import os

import numpy as np
from run import Workload


def digits_arrays():
    """The 8x8 digits shipped with ember's example, as float32 images and int64 labels."""
    import ember.examples
    path = os.path.join(os.path.dirname(ember.examples.__file__), "data", "digits.npz")
    with np.load(path, allow_pickle=False) as f:
        x = f["images"].astype(np.float32) / 16.0
        y = f["labels"].astype(np.int64)
    return x, y


def _epoch(lib, model, x, y, batch: int, flatten: bool):
    """One epoch of Adam over the digits in shuffled mini-batches."""
    opt = lib.optim.Adam(model.parameters(), lr=1e-3)
    n = x.shape[0]
    X = lib.from_numpy(x.reshape(n, -1) if flatten else x.reshape(n, 1, 8, 8))
    Y = lib.from_numpy(y)
    loss_fn = lib.nn.CrossEntropyLoss()
    rng = np.random.default_rng(0)

    def run():
        perm = lib.from_numpy(rng.permutation(n))
        for i in range(0, n, batch):
            idx = perm[i:i + batch]
            opt.zero_grad()
            loss = loss_fn(model(X[idx]), Y[idx])
            loss.backward()
            opt.step()
    return run


def mlp(lib):
    nn = lib.nn
    return nn.Sequential(nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(),
                         nn.Linear(256, 10))


def cnn(lib):
    nn = lib.nn
    return nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(),
                         nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(512, 10))


def _train_setup(kind: str, model_fn, flatten: bool):
    def setup():
        import torch

        import ember
        lib = ember if kind == "ember" else torch
        lib.manual_seed(0)
        x, y = digits_arrays()
        return _epoch(lib, model_fn(lib), x, y, 64, flatten)
    return setup


# ---------------------------------------------------------------- W4: char-level GPT


def stdlib_text(max_chars: int = 2_000_000) -> str:
    """Text of the Python standard library's own source files (no download)."""
    from ember.examples.chargpt import load_text
    return load_text(max_chars)


def gpt(lib, vocab: int, width: int = 128, heads: int = 4, layers: int = 2, block: int = 64,
        sdpa: bool = False):
    """A minimal GPT from Embedding, LayerNorm, Linear, GELU, matmul, masked_fill, softmax.

    ``sdpa``: the attention goes through ``F.scaled_dot_product_attention(is_causal=True)``
    instead of the explicit masked softmax.
    """
    nn = lib.nn
    attention = lib.nn.functional.scaled_dot_product_attention if sdpa else None

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln1, self.ln2 = nn.LayerNorm(width), nn.LayerNorm(width)
            self.qkv, self.proj = nn.Linear(width, 3 * width), nn.Linear(width, width)
            self.fc, self.out = nn.Linear(width, 4 * width), nn.Linear(4 * width, width)
            self.act = nn.GELU()
            if not sdpa:
                self.register_buffer("mask",
                                     lib.tril(lib.ones(block, block)).view(1, 1, block, block)
                                     == 0)

        def forward(self, x):
            B, T, C = x.shape
            q, k, v = self.qkv(self.ln1(x)).split(C, dim=2)
            q = q.view(B, T, heads, C // heads).transpose(1, 2)
            k = k.view(B, T, heads, C // heads).transpose(1, 2)
            v = v.view(B, T, heads, C // heads).transpose(1, 2)
            if sdpa:
                y = attention(q, k, v, is_causal=True)
            else:
                att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(C // heads))
                att = att.masked_fill(self.mask[:, :, :T, :T], float("-inf")).softmax(dim=-1)
                y = att @ v
            y = y.transpose(1, 2).reshape(B, T, C)
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


def _gpt_setup(kind: str, sdpa: bool = False):
    def setup():
        import torch

        import ember
        lib = ember if kind == "ember" else torch
        lib.manual_seed(0)
        text = stdlib_text(200_000)
        chars = sorted(set(text))
        lookup = {c: i for i, c in enumerate(chars)}
        data = np.array([lookup[c] for c in text[:50_000]], dtype=np.int64)
        model = gpt(lib, len(chars), sdpa=sdpa)
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
    Workload("W2", "train", "MLP 64-256-256-10 digits, Adam, batch 64 (epoch)", "s",
             _train_setup("ember", mlp, True), _train_setup("torch", mlp, True),
             goal="<= 1.0", number=3),
    Workload("W3", "train", "CNN conv-conv-pool-linear digits, batch 64 (epoch)", "s",
             _train_setup("ember", cnn, False), _train_setup("torch", cnn, False),
             goal="<= 1.5", number=1),
    Workload("W4", "train", "char-GPT 2x128, 4 heads, block 64, batch 32 (step)", "ms",
             _gpt_setup("ember"), _gpt_setup("torch"), goal="<= 1.5", number=5),
]
