"""Train a small CNN on the 8x8 UCI handwritten digits, save it, reload it, check it.

Run: ``python -m ember.examples.digits [--epochs N] [--batch-size B] [--lr LR] [--seed S]
[--out PATH] [--plot PATH]``

The 1,797 images (shipped with ember, see ``examples/data/NOTICE.md``) are split, with
a fixed seed, into 1,437 for training and 360 for testing. Training uses Adam and
cross-entropy; each epoch shows a progress bar (tqdm) and the test accuracy. The
trained weights are saved with ``ember.save``, loaded into a fresh model with
``ember.load`` + ``load_state_dict``, and the reloaded model is evaluated again.

``DigitsNet``, ``load_digits`` and ``split_digits`` are importable (benchmarks use them).
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

__all__ = ["DigitsNet", "load_digits", "split_digits", "evaluate", "main"]

DATA_FILE = Path(__file__).with_name("data") / "digits.npz"
N_TEST = 360


def load_digits(path: str | Path = DATA_FILE) -> tuple[np.ndarray, np.ndarray]:
    """The digits as ``(images, labels)``: float32 ``(1797, 1, 8, 8)`` in [0, 1], int64 labels."""
    with np.load(path, allow_pickle=False) as data:
        images, labels = data["images"], data["labels"]
    return (images.astype(np.float32) / 16.0)[:, None], labels.astype(np.int64)


def split_digits(images: np.ndarray, labels: np.ndarray, n_test: int = N_TEST,
                 seed: int = 0) -> tuple[ember.Tensor, ember.Tensor, ember.Tensor, ember.Tensor]:
    """A fixed random train/test split: ``(x_train, y_train, x_test, y_test)`` as tensors."""
    order = np.random.default_rng(seed).permutation(len(images))
    test, train = order[:n_test], order[n_test:]
    return (ember.tensor(images[train]), ember.tensor(labels[train]),
            ember.tensor(images[test]), ember.tensor(labels[test]))


class DigitsNet(nn.Module):
    """Two 3x3 convolutions, a 2x2 max-pool and a linear classifier (8x8 input, 10 classes)."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(),
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(),
            nn.MaxPool2d(2), nn.Flatten())
        self.classifier = nn.Linear(32 * 4 * 4, 10)

    def forward(self, x: ember.Tensor) -> ember.Tensor:
        return self.classifier(self.features(x))


def evaluate(model: nn.Module, x: ember.Tensor, y: ember.Tensor, batch_size: int = 512) -> float:
    """Accuracy of ``model`` on ``(x, y)``, computed without recording gradients."""
    was_training = model.training
    model.eval()
    correct = 0
    with ember.no_grad():
        for i in range(0, len(x), batch_size):
            pred = model(x[i:i + batch_size]).argmax(1)
            correct += int((pred == y[i:i + batch_size]).sum().item())
    model.train(was_training)
    return correct / max(len(x), 1)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m ember.examples.digits",
                                description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=10, help="passes over the training set (10)")
    p.add_argument("--batch-size", type=int, default=64, help="mini-batch size (64)")
    p.add_argument("--lr", type=float, default=1e-2, help="Adam learning rate (0.01)")
    p.add_argument("--seed", type=int, default=0, help="seed of the weights and the shuffling (0)")
    p.add_argument("--out", default="digits.safetensors",
                   help="checkpoint path (default: digits.safetensors in the current directory)")
    p.add_argument("--plot", metavar="PATH", default=None,
                   help="write a PNG of the loss and accuracy curves (needs matplotlib)")
    p.add_argument("--compile", action="store_true",
                   help="run each training step as one ember.jit-compiled graph")
    return p


def _plot(path: str, history: dict) -> None:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print(f"matplotlib is not installed, so no plot was written to {path} "
              "(pip install matplotlib)")
        return
    epochs = range(1, len(history["loss"]) + 1)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.5))
    ax1.plot(epochs, history["loss"], marker="o")
    ax1.set(xlabel="epoch", ylabel="training loss", title="loss")
    ax2.plot(epochs, history["train_acc"], marker="o", label="train")
    ax2.plot(epochs, history["test_acc"], marker="o", label="test")
    ax2.set(xlabel="epoch", ylabel="accuracy", title="accuracy")
    ax2.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    print(f"plot written to {path}")


def main(argv: list[str] | None = None) -> dict:
    """Train, save, reload and evaluate; returns the final metrics."""
    args = _parser().parse_args(argv)
    from ember.utils.data import DataLoader, TensorDataset

    ember.manual_seed(args.seed)
    x_train, y_train, x_test, y_test = split_digits(*load_digits())
    loader = DataLoader(TensorDataset(x_train, y_train), batch_size=args.batch_size,
                        shuffle=True, generator=ember.Generator().manual_seed(args.seed))
    model = DigitsNet()
    opt = ember.optim.Adam(model.parameters(), lr=args.lr)
    history: dict = {"loss": [], "train_acc": [], "test_acc": []}
    print(f"digits: {len(x_train)} training and {len(x_test)} test images, "
          f"{sum(p.numel() for p in model.parameters())} parameters")
    def train_step(xb, yb):
        logits = model(xb)
        loss = F.cross_entropy(logits, yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss, logits.detach()

    if args.compile:
        train_step = ember.jit.compile(train_step)
    start = time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        model.train()
        bar = progress(loader, desc=f"epoch {epoch}/{args.epochs}")
        total_loss, correct, seen = 0.0, 0, 0
        for xb, yb in bar:
            loss, logits = train_step(xb, yb)
            n = len(yb)
            total_loss += loss.item() * n
            correct += int((logits.argmax(1) == yb).sum().item())
            seen += n
            set_postfix(bar, loss=f"{total_loss / seen:.4f}", acc=f"{correct / seen:.3f}")
        test_acc = evaluate(model, x_test, y_test)
        history["loss"].append(total_loss / seen)
        history["train_acc"].append(correct / seen)
        history["test_acc"].append(test_acc)
        print(f"epoch {epoch:2d}/{args.epochs}  loss {total_loss / seen:.4f}  "
              f"train acc {correct / seen:.4f}  test acc {test_acc:.4f}")
    seconds = time.perf_counter() - start
    print(f"trained in {seconds:.1f} s; test accuracy {history['test_acc'][-1]:.4f}"
          if history["test_acc"] else "no epochs run")

    out = Path(args.out)
    ember.save(model.state_dict(), out)
    fresh = DigitsNet()
    fresh.load_state_dict(ember.load(out))
    test_acc = evaluate(model, x_test, y_test)
    reloaded_acc = evaluate(fresh, x_test, y_test)
    print(f"saved to {out}; reloaded model's test accuracy {reloaded_acc:.4f}")
    if args.plot:
        _plot(args.plot, history)
    return {"epochs": args.epochs, "loss": history["loss"][-1] if history["loss"] else None,
            "train_acc": history["train_acc"][-1] if history["train_acc"] else None,
            "test_acc": test_acc, "reloaded_acc": reloaded_acc, "seconds": seconds,
            "checkpoint": str(out), "history": history}


if __name__ == "__main__":
    main()
