"""The sequence-model examples (chargpt, names): short end-to-end runs, resume, command lines."""

from __future__ import annotations

import re
import subprocess
import sys

import numpy as np
import pytest

import ember
from ember.examples import chargpt, names

# a GPT small enough for a few steps per second on 2 cores
TINY_GPT = ["--text-chars", "20000", "--width", "32", "--heads", "2", "--layers", "1",
            "--block-size", "16", "--batch-size", "8", "--sample-len", "0", "--log-every", "5"]


def test_chargpt_loss_falls_and_samples(tmp_path, capsys):
    out = tmp_path / "gpt.safetensors"
    res = chargpt.main(TINY_GPT + ["--steps", "30", "--lr", "1e-2", "--out", str(out),
                                   "--sample-len", "20", "--prompt", "def ", "--top-k", "5"])
    losses = res["losses"]
    assert len(losses) == 30 and all(np.isfinite(losses))
    # from about log(vocabulary) towards the statistics of Python source
    assert np.mean(losses[-5:]) < np.mean(losses[:5]) - 0.5, losses
    assert res["val_loss"] < np.mean(losses[:5])
    assert len(res["sample"]) == 4 + 20 and res["sample"].startswith("def ")
    assert out.exists()
    printed = capsys.readouterr().out
    assert "step    30/30" in printed and "--- sample" in printed


def test_chargpt_resume_continues_the_same_run(tmp_path):
    ckpt = tmp_path / "ckpt.safetensors"
    straight = chargpt.main(TINY_GPT + ["--steps", "4", "--out", str(tmp_path / "a.st")])
    first = chargpt.main(TINY_GPT + ["--steps", "2", "--out", str(ckpt)])
    resumed = chargpt.main(TINY_GPT + ["--steps", "4", "--out", str(ckpt), "--resume"])
    assert len(first["losses"]) == 2 and len(resumed["losses"]) == 4
    np.testing.assert_allclose(resumed["losses"], straight["losses"], rtol=1e-5, atol=1e-5)
    # the checkpoint holds the whole state, and the model weights match too
    a = ember.load(tmp_path / "a.st")
    b = ember.load(ckpt)
    assert b["step"] == 4 and len(b["losses"]) == 4
    for k, v in a["model"].items():
        np.testing.assert_allclose(b["model"][k].numpy(), v.numpy(), rtol=1e-5, atol=1e-6)


def test_chargpt_resume_errors(tmp_path, capsys):
    ckpt = tmp_path / "c.st"
    with pytest.raises(SystemExit):
        chargpt.main(TINY_GPT + ["--steps", "1", "--out", str(ckpt), "--resume"])
    assert "no checkpoint" in capsys.readouterr().err
    chargpt.main(TINY_GPT + ["--steps", "1", "--out", str(ckpt)])
    with pytest.raises(SystemExit):
        chargpt.main(TINY_GPT + ["--steps", "2", "--out", str(ckpt), "--resume",
                                 "--width", "16"])
    assert "width" in capsys.readouterr().err


def test_chargpt_rejects_other_devices(capsys):
    with pytest.raises(SystemExit):
        chargpt.main(["--device", "cuda", "--steps", "0"])
    assert "device 'cuda' is not available" in capsys.readouterr().err


def test_chargpt_model_and_sampling():
    ember.manual_seed(0)
    model = chargpt.GPT(vocab_size=7, block_size=6, width=8, heads=2, layers=1)
    idx = ember.tensor([[1, 2, 3]])
    # causal: the logits of a position do not depend on later tokens
    a = model(ember.tensor([[1, 2, 3, 4]]))[:, :3]
    b = model(ember.tensor([[1, 2, 3, 5]]))[:, :3]
    np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-5, atol=1e-6)
    out = chargpt.generate(model, idx, 10, top_k=1)
    assert out.shape == (1, 13) and out[:, :3].tolist() == idx.tolist()
    # top-k 1 is greedy decoding: every token is the argmax given its prefix
    for t in range(3, 13):
        assert out[0, t].item() == model(out[:, max(0, t - 6):t])[0, -1].argmax().item()
    with pytest.raises(ValueError, match="block_size"):
        model(ember.zeros(1, 7, dtype=ember.int64))


def test_chargpt_model_matches_torch():
    torch = pytest.importorskip("torch")
    tF = torch.nn.functional
    ember.manual_seed(0)
    model = chargpt.GPT(vocab_size=11, block_size=8, width=16, heads=4, layers=2)
    for prm in model.parameters():  # larger than GPT-2's weights, so every part matters
        ember.nn.init.normal_(prm, std=0.5)
    idx = np.random.default_rng(0).integers(0, 11, (3, 8))
    ours = model(ember.from_numpy(idx)).detach().numpy()

    w = {k: torch.from_numpy(v.numpy()) for k, v in model.state_dict().items()}

    def lin(x, name):
        return tF.linear(x, w[name + ".weight"], w[name + ".bias"])

    def ln(x, name):
        return tF.layer_norm(x, (16,), w[name + ".weight"], w[name + ".bias"])

    x = w["tok.weight"][torch.from_numpy(idx)] + w["pos.weight"][:8]
    for b in range(2):
        p = f"blocks.{b}."
        q, k, v = lin(ln(x, p + "ln1"), p + "attn.qkv").split(16, dim=2)
        q, k, v = (t.view(3, 8, 4, 4).transpose(1, 2) for t in (q, k, v))
        y = tF.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + lin(y.transpose(1, 2).reshape(3, 8, 16), p + "attn.proj")
        h = tF.gelu(lin(ln(x, p + "ln2"), p + "mlp.0"), approximate="tanh")
        x = x + lin(h, p + "mlp.2")
    theirs = lin(ln(x, "ln"), "head").numpy()
    np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-5)


def test_chargpt_batches_depend_on_seed_and_step():
    data = np.arange(1000, dtype=np.int64)
    x1, y1 = chargpt.get_batch(data, 8, 4, seed=3, step=5)
    x2, _ = chargpt.get_batch(data, 8, 4, seed=3, step=5)
    x3, _ = chargpt.get_batch(data, 8, 4, seed=3, step=6)
    assert x1.tolist() == x2.tolist() and x1.tolist() != x3.tolist()
    assert (y1.numpy() == x1.numpy() + 1).all()
    assert chargpt.encode("ab\n", "\nab").tolist() == [1, 2, 0]
    with pytest.raises(ValueError, match="not in the vocabulary"):
        chargpt.encode("abc", "ab")


def test_names_data_file():
    words, labels, languages = names.load_names()
    assert languages == ["English", "German", "Italian", "Spanish", "Japanese", "Russian"]
    assert len(words) == len(set(words)) == len(labels) > 600
    counts = np.bincount(labels)
    assert counts.min() >= 100, counts
    assert all(w == w.lower() and w.isalpha() for w in words)


def test_names_dedups_names_of_two_languages(tmp_path):
    f = tmp_path / "n.txt"
    f.write_text("# c\n[A]\nfoo Bar\n[B]\nbar baz\n", encoding="utf-8")
    assert names.load_names(f) == (["baz", "foo"], [1, 0], ["A", "B"])


def test_names_classifier_handles_padding_and_order():
    ember.manual_seed(0)
    model = names.NameClassifier(alphabet_size=5, classes=3, hidden=8, embed=4)
    chars, lengths = names.encode_names(["abc", "e", "dd"], "abcde")
    assert chars.tolist() == [[1, 2, 3], [5, 0, 0], [4, 4, 0]]
    both = model(chars, lengths)
    # the padding changes nothing: each name alone gives the same logits
    for i, w in enumerate(["abc", "e", "dd"]):
        c, n = names.encode_names([w], "abcde")
        np.testing.assert_allclose(model(c, n).detach().numpy(), both[i:i + 1].detach().numpy(),
                                   rtol=1e-5, atol=1e-6)
    guesses = names.predict(model, ["abc", "e", "dd"], "abcde", ["x", "y", "z"])
    probs = ember.nn.functional.softmax(both, dim=1).max(dim=1)
    assert [g for g, _ in guesses] == [["x", "y", "z"][i] for i in probs.indices.tolist()]
    np.testing.assert_allclose([p for _, p in guesses], probs.values.tolist(), rtol=1e-5)


def test_names_classifier_matches_torch():
    torch = pytest.importorskip("torch")
    ember.manual_seed(0)
    model = names.NameClassifier(alphabet_size=5, classes=3, hidden=8, embed=4, layers=2,
                                 bidirectional=True)
    chars, lengths = names.encode_names(["ab", "edcba", "c", "dd"], "abcde")
    ours = model(chars, lengths).detach().numpy()
    ref = torch.nn.ModuleDict({"embed": torch.nn.Embedding(6, 4, padding_idx=0),
                               "lstm": torch.nn.LSTM(4, 8, num_layers=2, batch_first=True,
                                                     bidirectional=True),
                               "out": torch.nn.Linear(16, 3)})
    ref.load_state_dict({k: torch.from_numpy(v.numpy()) for k, v in model.state_dict().items()})
    packed = torch.nn.utils.rnn.pack_padded_sequence(
        ref["embed"](torch.from_numpy(chars.numpy())), torch.from_numpy(lengths.numpy()),
        batch_first=True, enforce_sorted=False)
    _, (h, _) = ref["lstm"](packed)
    theirs = ref["out"](torch.cat([h[-2], h[-1]], dim=1)).detach().numpy()
    np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-5)


def test_names_learns(capsys):
    res = names.main(["--epochs", "3", "--hidden", "32", "--bidirectional", "--lr", "1e-2"])
    loss = res["history"]["loss"]
    assert loss[-1] < loss[0] - 0.3, loss
    assert res["test_acc"] > 0.5, res  # six languages: chance is 1/6
    printed = capsys.readouterr().out
    assert len(re.findall(r"test acc \d\.\d{4}", printed)) == 3 and "really" in printed


@pytest.mark.parametrize("module, options", [
    ("chargpt", ["--steps", "--batch-size", "--block-size", "--lr", "--seed", "--device",
                 "--out", "--resume", "--sample-len", "--temperature", "--top-k"]),
    ("names", ["--epochs", "--batch-size", "--hidden", "--layers", "--bidirectional", "--lr",
               "--seed"]),
])
def test_help_lists_options(module, options):
    res = subprocess.run([sys.executable, "-m", f"ember.examples.{module}", "--help"],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    for opt in options:
        assert opt in res.stdout
