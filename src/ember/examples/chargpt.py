"""Train a small character-level GPT on the Python standard library's own source code.

Run: ``python -m ember.examples.chargpt [--steps N] [--batch-size B] [--block-size T]
[--lr LR] [--seed S] [--out PATH] [--resume] [--sample-len N] ...``

The text is the ``*.py`` files next to the ``os`` module (no download), read in sorted
order up to ``--text-chars`` characters; the last tenth is held out for a validation
loss. The model is a GPT: token and position embeddings, ``--layers`` pre-norm blocks
(LayerNorm, causal self-attention through ``F.scaled_dot_product_attention``, LayerNorm,
an MLP with GELU's tanh form) and a final LayerNorm and linear head, trained with AdamW on
next-character cross-entropy. At the end it writes ``--sample-len`` characters sampled
with a temperature and top-k.

The checkpoint (``--out``, written with ``ember.save`` at the end and every
``--save-every`` steps) holds the model, the optimizer state, the step, the RNG state
and the loss history. ``--resume`` continues from it up to ``--steps`` in total. The
batch of step ``i`` depends only on ``(seed, i)``, so ``--steps 2N`` in one go gives the
same losses as ``--steps N`` followed by ``--steps 2N --resume``.

``GPT``, ``load_text``, ``encode``, ``get_batch`` and ``generate`` are importable.
"""

from __future__ import annotations

import argparse
import glob
import math
import os
import time
from pathlib import Path

import numpy as np

import ember
import ember.nn.functional as F
from ember import nn
from ember.examples._progress import progress, set_postfix, write

__all__ = ["GPT", "load_text", "encode", "get_batch", "generate", "main"]

#: seeds of validation batches live far from those of training steps
_VAL_SEED_OFFSET = 1 << 40


def load_text(max_chars: int = 1_000_000) -> str:
    """The Python standard library's ``*.py`` sources, in sorted order, cut at ``max_chars``."""
    root = os.path.dirname(os.__file__)
    parts, total = [], 0
    for path in sorted(glob.glob(os.path.join(root, "*.py"))):
        with open(path, encoding="utf-8", errors="replace") as f:
            s = f.read()
        parts.append(s)
        total += len(s)
        if total >= max_chars:
            break
    return "".join(parts)[:max_chars]


def encode(text: str, vocab: str) -> np.ndarray:
    """``text`` as int64 indices into ``vocab`` (a string of distinct, sorted characters)."""
    codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
    table = np.frombuffer(vocab.encode("utf-32-le"), dtype=np.uint32)
    idx = np.searchsorted(table, codes)
    bad = (idx >= len(table)) | (table[np.minimum(idx, len(table) - 1)] != codes)
    if bad.any():
        c = text[int(np.argmax(bad))]
        raise ValueError(f"chargpt: character {c!r} is not in the vocabulary")
    return idx.astype(np.int64)


def get_batch(data: np.ndarray, block: int, batch: int, seed: int,
              step: int) -> tuple[ember.Tensor, ember.Tensor]:
    """Inputs and next-character targets ``(batch, block)`` for one step.

    The offsets depend only on ``(seed, step)``, which makes a resumed run draw the same
    batches as an uninterrupted one.
    """
    rng = np.random.default_rng((seed, step))
    ix = rng.integers(0, len(data) - block - 1, batch)
    rows = ix[:, None] + np.arange(block)
    return ember.from_numpy(data[rows]), ember.from_numpy(data[rows + 1])


class CausalSelfAttention(nn.Module):
    """Multi-head self-attention in which each position sees itself and earlier ones."""

    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        if width % heads:
            raise ValueError(f"width {width} is not divisible by heads {heads}")
        self.heads = heads
        self.qkv = nn.Linear(width, 3 * width)
        self.proj = nn.Linear(width, width)

    def forward(self, x: ember.Tensor) -> ember.Tensor:
        B, T, C = x.shape
        q, k, v = self.qkv(x).split(C, dim=2)
        q, k, v = (t.view(B, T, self.heads, C // self.heads).transpose(1, 2) for t in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.proj(y.transpose(1, 2).reshape(B, T, C))


class Block(nn.Module):
    """A pre-norm transformer block: attention and a GELU MLP, each with a residual."""

    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.ln1 = nn.LayerNorm(width)
        self.attn = CausalSelfAttention(width, heads)
        self.ln2 = nn.LayerNorm(width)
        # GPT-2's tanh form of GELU; it is also much cheaper here than the erf form
        self.mlp = nn.Sequential(nn.Linear(width, 4 * width), nn.GELU(approximate="tanh"),
                                 nn.Linear(4 * width, width))

    def forward(self, x: ember.Tensor) -> ember.Tensor:
        x = x + self.attn(self.ln1(x))
        return x + self.mlp(self.ln2(x))


class GPT(nn.Module):
    """A decoder-only transformer over ``vocab_size`` tokens and contexts up to ``block_size``.

    Example:
        >>> import ember
        >>> from ember.examples.chargpt import GPT
        >>> model = GPT(vocab_size=10, block_size=8, width=16, heads=2, layers=1)
        >>> model(ember.zeros(3, 8, dtype=ember.int64)).shape
        ember.Size([3, 8, 10])
    """

    def __init__(self, vocab_size: int, block_size: int = 64, width: int = 128, heads: int = 4,
                 layers: int = 2) -> None:
        super().__init__()
        self.block_size = block_size
        self.tok = nn.Embedding(vocab_size, width)
        self.pos = nn.Embedding(block_size, width)
        self.blocks = nn.Sequential(*[Block(width, heads) for _ in range(layers)])
        self.ln = nn.LayerNorm(width)
        self.head = nn.Linear(width, vocab_size)
        # GPT-2's initialisation: small normal weights learn faster here than the defaults
        for m in self.modules():
            if isinstance(m, (nn.Linear, nn.Embedding)):
                nn.init.normal_(m.weight, mean=0.0, std=0.02)
            if isinstance(m, nn.Linear) and m.bias is not None:
                nn.init.zeros_(m.bias)

    def forward(self, idx: ember.Tensor) -> ember.Tensor:
        T = idx.shape[1]
        if T > self.block_size:
            raise ValueError(f"GPT: sequence length {T} exceeds block_size {self.block_size}")
        x = self.tok(idx) + self.pos(ember.arange(T))
        return self.head(self.ln(self.blocks(x)))


def generate(model: GPT, idx: ember.Tensor, new_tokens: int, temperature: float = 1.0,
             top_k: int | None = None, generator: ember.Generator | None = None) -> ember.Tensor:
    """Extend ``idx`` ``(B, T)`` by ``new_tokens`` sampled tokens, one at a time."""
    was_training = model.training
    model.eval()
    with ember.no_grad():
        for _ in range(new_tokens):
            logits = model(idx[:, -model.block_size:])[:, -1, :] / temperature
            if top_k is not None and top_k < logits.shape[-1]:
                kth = ember.topk(logits, top_k, dim=-1).values[:, -1:]
                logits = logits.masked_fill(logits < kth, float("-inf"))
            probs = F.softmax(logits, dim=-1)
            idx = ember.cat([idx, ember.multinomial(probs, 1, generator=generator)], dim=1)
    model.train(was_training)
    return idx


def _loss(model: GPT, xb: ember.Tensor, yb: ember.Tensor) -> ember.Tensor:
    logits = model(xb)
    return F.cross_entropy(logits.view(-1, logits.shape[-1]), yb.view(-1))


def _val_loss(model: GPT, data: np.ndarray, args: argparse.Namespace, batches: int) -> float:
    was_training = model.training
    model.eval()
    with ember.no_grad():
        total = sum(_loss(model, *get_batch(data, args.block_size, args.batch_size,
                                            args.seed, _VAL_SEED_OFFSET + i)).item()
                    for i in range(batches))
    model.train(was_training)
    return total / batches


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m ember.examples.chargpt",
                                description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=800,
                   help="total training steps, counting those of a resumed checkpoint (800)")
    p.add_argument("--batch-size", type=int, default=32, help="sequences per step (32)")
    p.add_argument("--block-size", type=int, default=64, help="context length in characters (64)")
    p.add_argument("--layers", type=int, default=2, help="transformer blocks (2)")
    p.add_argument("--heads", type=int, default=4, help="attention heads (4)")
    p.add_argument("--width", type=int, default=128, help="embedding width (128)")
    p.add_argument("--lr", type=float, default=2e-3, help="AdamW learning rate (0.002)")
    p.add_argument("--weight-decay", type=float, default=0.01,
                   help="AdamW weight decay of the matrices (0.01)")
    p.add_argument("--seed", type=int, default=0,
                   help="seed of the weights, the batches and the sample (0)")
    p.add_argument("--device", default="cpu", help="device; ember runs on 'cpu' only (cpu)")
    p.add_argument("--text-chars", type=int, default=1_000_000,
                   help="characters of standard-library source to read (1000000)")
    p.add_argument("--out", default="chargpt.safetensors",
                   help="checkpoint path (default: chargpt.safetensors in the current directory)")
    p.add_argument("--resume", action="store_true",
                   help="continue from the checkpoint at --out up to --steps steps")
    p.add_argument("--save-every", type=int, default=0,
                   help="also write the checkpoint every N steps (0: only at the end)")
    p.add_argument("--log-every", type=int, default=100, help="print the loss every N steps (100)")
    p.add_argument("--sample-len", type=int, default=300,
                   help="characters to sample at the end (300; 0: none)")
    p.add_argument("--prompt", default="def ", help="text the sample starts from ('def ')")
    p.add_argument("--temperature", type=float, default=0.8, help="sampling temperature (0.8)")
    p.add_argument("--top-k", type=int, default=10,
                   help="sample among the k likeliest characters (10; 0: all)")
    return p


def _save(path: Path, model: GPT, opt: ember.optim.Optimizer, step: int, losses: list[float],
          config: dict) -> None:
    ember.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "step": step,
                "rng_state": ember.random.get_rng_state(), "losses": list(losses),
                "config": config}, path)


def main(argv: list[str] | None = None) -> dict:
    """Train (or resume), save, sample; returns the loss history and the sample."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.steps < 0 or min(args.batch_size, args.block_size, args.log_every) < 1:
        parser.error("--steps must be >= 0; --batch-size, --block-size, --log-every >= 1")
    try:
        ember.empty(0, device=args.device)
    except RuntimeError as e:  # ember's own message for a device it does not have
        parser.error(str(e))

    text = load_text(args.text_chars)
    vocab = "".join(sorted(set(text)))
    data = encode(text, vocab)
    n_val = len(data) // 10
    if n_val <= args.block_size + 1:
        parser.error(f"--text-chars {args.text_chars} is too small for --block-size "
                     f"{args.block_size}")
    train, val = data[:-n_val], data[-n_val:]
    try:
        prompt = encode(args.prompt or "\n", vocab)
    except ValueError as e:
        parser.error(f"--prompt: {e}")
    # a resumed run must continue the same curve, so everything that shapes it must match
    config = {"vocab": vocab, "text_chars": args.text_chars, "block_size": args.block_size,
              "width": args.width, "heads": args.heads, "layers": args.layers,
              "seed": args.seed, "batch_size": args.batch_size, "lr": args.lr,
              "weight_decay": args.weight_decay}

    ember.manual_seed(args.seed)
    model = GPT(len(vocab), args.block_size, args.width, args.heads, args.layers)
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    opt = ember.optim.AdamW([{"params": decay, "weight_decay": args.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}], lr=args.lr)
    out = Path(args.out)
    start, losses = 0, []
    if args.resume:
        if not out.exists():
            parser.error(f"--resume: no checkpoint at {out}")
        ckpt = ember.load(out)
        saved = ckpt.get("config", {}) if isinstance(ckpt, dict) else {}
        if saved != config:
            diff = sorted(k for k in config if saved.get(k) != config[k])
            parser.error(f"--resume: checkpoint {out} was made with other settings: "
                         f"{', '.join(diff)}")
        model.load_state_dict(ckpt["model"])
        opt.load_state_dict(ckpt["optimizer"])
        ember.random.set_rng_state(ckpt["rng_state"])
        start, losses = ckpt["step"], list(ckpt["losses"])
        print(f"resumed from {out} at step {start}")
    print(f"chargpt: {len(train):,} training and {len(val):,} validation characters, "
          f"vocabulary {len(vocab)}, {sum(p.numel() for p in model.parameters()):,} parameters")

    steps = range(start, args.steps)
    bar = progress(steps, initial=start, total=args.steps, desc="training")
    t0 = time.perf_counter()
    for step in bar:
        loss = _loss(model, *get_batch(train, args.block_size, args.batch_size, args.seed, step))
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        losses.append(loss.item())
        set_postfix(bar, loss=f"{losses[-1]:.4f}")
        done = step + 1
        if done % args.log_every == 0 or done == args.steps:
            recent = losses[-args.log_every:]
            write(f"step {done:5d}/{args.steps}  loss {sum(recent) / len(recent):.4f}")
        if args.save_every and done % args.save_every == 0:
            _save(out, model, opt, done, losses, config)
    seconds = time.perf_counter() - t0
    _save(out, model, opt, max(start, args.steps), losses, config)
    val_loss = _val_loss(model, val, args, batches=4)
    print(f"trained {len(steps)} steps in {seconds:.1f} s; validation loss {val_loss:.4f} "
          f"(uniform guess: {math.log(len(vocab)):.4f}); checkpoint {out}")

    sample = ""
    if args.sample_len > 0:
        idx = generate(model, ember.from_numpy(prompt[None]), args.sample_len,
                       temperature=args.temperature, top_k=args.top_k or None,
                       generator=ember.Generator().manual_seed(args.seed))
        sample = "".join(vocab[i] for i in idx[0].tolist())
        print(f"--- sample (temperature {args.temperature}, top-k {args.top_k}) ---")
        print(sample)
    return {"losses": losses, "val_loss": val_loss, "steps": max(start, args.steps),
            "seconds": seconds, "sample": sample, "checkpoint": str(out)}


if __name__ == "__main__":
    main()
