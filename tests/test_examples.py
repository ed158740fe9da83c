"""The runnable examples: short runs of their ``main`` and their command lines."""

from __future__ import annotations

import re
import subprocess
import sys

import numpy as np
import pytest

from ember.examples import digits, polyfit


def test_digits_data_file():
    images, labels = digits.load_digits()
    assert images.shape == (1797, 1, 8, 8) and images.dtype == np.float32
    assert images.min() == 0.0 and images.max() == 1.0
    assert labels.shape == (1797,) and labels.dtype == np.int64
    assert np.bincount(labels).tolist() == [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]
    x_train, y_train, x_test, y_test = digits.split_digits(images, labels)
    assert (len(x_train), len(x_test)) == (1437, 360)
    # the split is fixed: the same seed gives the same test set
    assert digits.split_digits(images, labels)[3].tolist() == y_test.tolist()


def test_digits_trains_saves_and_reloads(tmp_path, capsys):
    out = tmp_path / "digits.safetensors"
    metrics = digits.main(["--epochs", "2", "--out", str(out), "--plot", str(tmp_path / "c.png")])
    assert metrics["test_acc"] > 0.8, metrics
    assert metrics["reloaded_acc"] == metrics["test_acc"]
    assert out.exists()
    printed = capsys.readouterr().out
    assert len(re.findall(r"test acc \d\.\d{4}", printed)) == 2
    assert "reloaded model's test accuracy" in printed
    # a PNG when matplotlib is there, otherwise a message saying why not
    assert (tmp_path / "c.png").exists() or "matplotlib is not installed" in printed


def test_digits_compiled_training_matches_eager(tmp_path):
    eager = digits.main(["--epochs", "1", "--out", str(tmp_path / "e.safetensors")])
    comp = digits.main(["--epochs", "1", "--compile", "--out", str(tmp_path / "c.safetensors")])
    assert abs(comp["loss"] - eager["loss"]) < 1e-5 and comp["test_acc"] == eager["test_acc"]


def test_digits_help_lists_options():
    res = subprocess.run([sys.executable, "-m", "ember.examples.digits", "--help"],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    for opt in ("--epochs", "--batch-size", "--lr", "--seed", "--out", "--plot", "--compile"):
        assert opt in res.stdout


def test_polyfit_loss_falls(capsys):
    final = polyfit.main(["--steps", "300", "--lr", "1e-3"])
    losses = [float(v) for v in re.findall(r"loss (\d+\.\d+)", capsys.readouterr().out)]
    assert losses[-1] == pytest.approx(final, rel=1e-5)
    assert final < 0.5 * losses[0]
