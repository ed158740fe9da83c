"""Guess the language a surname comes from with a character-level LSTM.

Run: ``python -m ember.examples.names [--epochs N] [--hidden H] [--layers L]
[--bidirectional] [--batch-size B] [--lr LR] [--seed S]``

The data is ``examples/data/names.txt``, a small list of common surnames from six
languages (English, German, Italian, Spanish, Japanese, Russian) written for ember.
A name is read one character at a time; the LSTM's last hidden state goes through a
linear layer to six logits. Names have different lengths, so each mini-batch is padded
and packed with ``pack_padded_sequence(..., enforce_sorted=False)`` and the LSTM skips
the padding; ``predict`` packs a plain list of names with ``pack_sequence``.

The task is learnable but not trivial: many languages have tell-tale endings (-ov,
-ez, -i, -mann) or letter patterns (Japanese syllables, German "sch"), yet Italian and
Spanish share most of their sounds, English and German names overlap, and a fifth of
the names are held out, so the test accuracy (about 0.75-0.85 after the default 15
epochs; chance is 1/6) measures generalisation rather than memory. A name listed under
two languages is dropped.

``NameClassifier``, ``load_names``, ``encode_names`` and ``predict`` are importable.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

import ember
import ember.nn.functional as F
from ember import nn
from ember.examples._progress import progress, set_postfix
from ember.nn.utils.rnn import pack_padded_sequence, pack_sequence

__all__ = ["NameClassifier", "load_names", "encode_names", "predict", "main"]

DATA_FILE = Path(__file__).with_name("data") / "names.txt"
#: index 0 is padding; characters start at 1
PAD = 0


def load_names(path: str | Path = DATA_FILE) -> tuple[list[str], list[int], list[str]]:
    """``(names, labels, languages)``: lower-cased names, label indices into ``languages``.

    A name listed under more than one language is left out, and each name appears once.
    """
    by_lang: dict[str, set[str]] = {}
    lang = None
    for raw in Path(path).read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            lang = line[1:-1]
            by_lang.setdefault(lang, set())
        elif lang is None:
            raise ValueError(f"names: {path}: name before the first [Language] line")
        else:
            by_lang[lang].update(w.lower() for w in line.split())
    languages = list(by_lang)
    seen: dict[str, int] = {}
    for names in by_lang.values():
        for n in names:
            seen[n] = seen.get(n, 0) + 1
    pairs = sorted((n, i) for i, lang in enumerate(languages) for n in by_lang[lang]
                   if seen[n] == 1)
    return [n for n, _ in pairs], [i for _, i in pairs], languages


def encode_names(names: list[str], alphabet: str) -> tuple[ember.Tensor, ember.Tensor]:
    """Pad ``names`` into an int64 ``(batch, longest)`` tensor of character indices
    (``PAD`` = 0 after the end) and return it with the lengths."""
    lengths = [len(n) for n in names]
    out = np.full((len(names), max(lengths, default=0)), PAD, dtype=np.int64)
    for r, n in enumerate(names):
        out[r, :len(n)] = [alphabet.index(c) + 1 for c in n]
    return ember.from_numpy(out), ember.tensor(lengths, dtype=ember.int64)


class NameClassifier(nn.Module):
    """Embedding -> LSTM over the characters -> linear layer on the last hidden state.

    Example:
        >>> import ember
        >>> from ember.examples.names import NameClassifier
        >>> model = NameClassifier(alphabet_size=26, classes=6, hidden=16)
        >>> model(ember.tensor([[1, 2, 3], [4, 5, 0]]), ember.tensor([3, 2])).shape
        ember.Size([2, 6])
    """

    def __init__(self, alphabet_size: int, classes: int, hidden: int = 128, embed: int = 32,
                 layers: int = 1, bidirectional: bool = False) -> None:
        super().__init__()
        self.embed = nn.Embedding(alphabet_size + 1, embed, padding_idx=PAD)
        self.lstm = nn.LSTM(embed, hidden, num_layers=layers, batch_first=True,
                            bidirectional=bidirectional)
        self.directions = 2 if bidirectional else 1
        self.out = nn.Linear(self.directions * hidden, classes)

    def features(self, packed) -> ember.Tensor:
        """The top layer's final hidden state(s) for a ``PackedSequence`` of embeddings."""
        _, (h, _) = self.lstm(packed)
        # h: (layers * directions, batch, hidden), in the batch's original order
        return ember.cat(list(h[-self.directions:]), dim=1)

    def forward(self, chars: ember.Tensor, lengths: ember.Tensor) -> ember.Tensor:
        packed = pack_padded_sequence(self.embed(chars), lengths, batch_first=True,
                                      enforce_sorted=False)
        return self.out(self.features(packed))


def predict(model: NameClassifier, names: list[str], alphabet: str,
            languages: list[str]) -> list[tuple[str, float]]:
    """The likeliest language of each name, with its probability.

    Takes the names as a plain list of different-length sequences, packed with
    ``pack_sequence``: no padding at all.
    """
    was_training = model.training
    model.eval()
    with ember.no_grad():
        seqs = [model.embed(ember.tensor([alphabet.index(c) + 1 for c in n.lower()]))
                for n in names]
        probs = F.softmax(model.out(model.features(pack_sequence(seqs, enforce_sorted=False))),
                          dim=1)
        p, idx = probs.max(dim=1)
    model.train(was_training)
    return [(languages[i], v) for i, v in zip(idx.tolist(), p.tolist())]


def _split(labels: list[int], test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices of a split stratified by language, fixed by ``seed``."""
    rng = np.random.default_rng(seed)
    y = np.asarray(labels)
    train, test = [], []
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        k = int(round(len(idx) * test_fraction))
        test.extend(idx[:k])
        train.extend(idx[k:])
    return np.sort(np.array(train, dtype=np.int64)), np.sort(np.array(test, dtype=np.int64))


def _accuracy(model: NameClassifier, chars: ember.Tensor, lengths: ember.Tensor,
              y: ember.Tensor) -> tuple[float, ember.Tensor]:
    was_training = model.training
    model.eval()
    with ember.no_grad():
        pred = model(chars, lengths).argmax(1)
    model.train(was_training)
    return float((pred == y).float().mean().item()), pred


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m ember.examples.names",
                                description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=15, help="passes over the training names (15)")
    p.add_argument("--batch-size", type=int, default=32, help="names per mini-batch (32)")
    p.add_argument("--hidden", type=int, default=128, help="LSTM hidden size (128)")
    p.add_argument("--embed", type=int, default=32, help="character embedding size (32)")
    p.add_argument("--layers", type=int, default=1, help="stacked LSTM layers (1)")
    p.add_argument("--bidirectional", action="store_true",
                   help="read each name in both directions")
    p.add_argument("--lr", type=float, default=5e-3, help="Adam learning rate (0.005)")
    p.add_argument("--test-fraction", type=float, default=0.2,
                   help="share of each language's names held out (0.2)")
    p.add_argument("--seed", type=int, default=0,
                   help="seed of the split, the weights and the shuffling (0)")
    p.add_argument("--data", default=str(DATA_FILE),
                   help="names file: [Language] lines, then names (the shipped list)")
    return p


def main(argv: list[str] | None = None) -> dict:
    """Train and evaluate; returns the per-epoch history and the final metrics."""
    args = _parser().parse_args(argv)
    names, labels, languages = load_names(args.data)
    alphabet = "".join(sorted(set("".join(names))))
    train_idx, test_idx = _split(labels, args.test_fraction, args.seed)
    chars, lengths = encode_names(names, alphabet)
    y = ember.tensor(labels, dtype=ember.int64)
    tr = ember.from_numpy(train_idx)
    te = ember.from_numpy(test_idx)
    x_test, len_test, y_test = chars[te], lengths[te], y[te]

    ember.manual_seed(args.seed)
    model = NameClassifier(len(alphabet), len(languages), args.hidden, args.embed, args.layers,
                           args.bidirectional)
    opt = ember.optim.Adam(model.parameters(), lr=args.lr)
    shuffle = np.random.default_rng(args.seed)
    print(f"names: {len(train_idx)} training and {len(test_idx)} test names in "
          f"{len(languages)} languages ({', '.join(languages)}), "
          f"{sum(p.numel() for p in model.parameters()):,} parameters")
    history: dict = {"loss": [], "train_acc": [], "test_acc": []}
    start = time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        order = tr[ember.from_numpy(shuffle.permutation(len(train_idx)))]
        batches = [order[i:i + args.batch_size] for i in range(0, len(order), args.batch_size)]
        bar = progress(batches, desc=f"epoch {epoch}/{args.epochs}")
        total_loss, correct, seen = 0.0, 0, 0
        for b in bar:
            lb = lengths[b]
            # trim the padding columns no name of this batch reaches
            xb, yb = chars[b][:, :int(lb.max().item())], y[b]
            logits = model(xb, lb)
            loss = F.cross_entropy(logits, yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            n = len(yb)
            total_loss += loss.item() * n
            correct += int((logits.detach().argmax(1) == yb).sum().item())
            seen += n
            set_postfix(bar, loss=f"{total_loss / seen:.4f}", acc=f"{correct / seen:.3f}")
        test_acc, _ = _accuracy(model, x_test, len_test, y_test)
        history["loss"].append(total_loss / seen)
        history["train_acc"].append(correct / seen)
        history["test_acc"].append(test_acc)
        print(f"epoch {epoch:2d}/{args.epochs}  loss {total_loss / seen:.4f}  "
              f"train acc {correct / seen:.4f}  test acc {test_acc:.4f}")
    seconds = time.perf_counter() - start

    test_acc, pred = _accuracy(model, x_test, len_test, y_test)
    per_language = {}
    truth, guess = y_test.numpy(), pred.numpy()
    for i, lang in enumerate(languages):
        mask = truth == i
        per_language[lang] = float((guess[mask] == i).mean()) if mask.any() else float("nan")
    print(f"trained in {seconds:.1f} s; test accuracy {test_acc:.4f}; by language: "
          + ", ".join(f"{k} {v:.2f}" for k, v in per_language.items()))
    held_out = [names[i] for i in test_idx[:: max(1, len(test_idx) // 8)]][:8]
    for name, (lang, p) in zip(held_out, predict(model, held_out, alphabet, languages)):
        print(f"  {name:>14} -> {lang:<9} ({p:.2f}; really {languages[labels[names.index(name)]]})")
    return {"epochs": args.epochs, "loss": history["loss"][-1] if history["loss"] else None,
            "test_acc": test_acc, "per_language": per_language, "seconds": seconds,
            "history": history, "languages": languages}


if __name__ == "__main__":
    main()
