"""Errors that name the place: module paths, layer hints, in-place write sites, and
tensors that print well in debuggers."""

from __future__ import annotations

import sys
import traceback

import pytest

import ember
from ember import nn


def _raised(fn):
    """Call ``fn`` and return the exception it raises."""
    with pytest.raises(Exception) as info:
        fn()
    return info.value


def _note_list(e: BaseException) -> list:
    """The notes ember attached: PEP 678 notes, or on Python 3.10 (no add_note) the lines
    appended to the message."""
    if hasattr(e, "add_note"):
        return list(getattr(e, "__notes__", ()))
    return str(e).split("\n")[1:]


def _notes(e: BaseException) -> str:
    return "\n".join(_note_list(e))


def _full_text(e: BaseException) -> str:
    return "".join(traceback.format_exception(e))


def _test_frames(e: BaseException) -> list:
    return [f for f in traceback.extract_tb(e.__traceback__) if f.filename == __file__]


# ---- module path, class, op and shapes ------------------------------------------------------


class Block(nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(width, 64)
        self.fc2 = nn.Linear(128, 8)

    def forward(self, x):
        return self.fc2(self.fc1(x).relu())  # fc2 expects 128 features: the error's line


class Encoder(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.layers = nn.ModuleList([nn.Linear(8, 8), Block(8)])

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x


class Model(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.encoder = Encoder()

    def forward(self, x):
        return self.encoder(x)


def test_nested_model_error_names_module_path_class_op_and_shapes():
    model = Model()
    x = ember.randn(2, 8)
    with pytest.raises(RuntimeError) as info:
        call_line = sys._getframe().f_lineno + 1
        model(x)
    e = info.value
    assert type(e) is RuntimeError  # torch's type for shape errors
    msg = str(e)
    assert "linear" in msg and "2x64" in msg and "128x8" in msg  # op and shapes
    notes = _notes(e)
    assert "encoder.layers.1.fc2 (Linear) of Model" in notes
    assert "(2, 64) ember.float32" in notes
    assert "did you mean in_features=64?" in notes
    # the notes are part of what the user sees
    assert "encoder.layers.1.fc2 (Linear)" in _full_text(e)
    # the traceback is intact: it runs through the user's lines down to the failing call
    lines = [f.lineno for f in _test_frames(e)]
    assert lines[0] == call_line
    assert _test_frames(e)[-1].line == "return self.fc2(self.fc1(x).relu())  # fc2 expects 128 " \
                                       "features: the error's line"


def test_traceback_last_user_frame_is_the_calling_line():
    model = nn.Sequential(nn.Linear(4, 4), nn.Sequential(nn.ReLU(), nn.Linear(5, 2)))
    with pytest.raises(RuntimeError) as info:
        call_line = sys._getframe().f_lineno + 1
        model(ember.randn(3, 4))
    e = info.value
    frames = _test_frames(e)
    assert [f.lineno for f in frames] == [call_line]
    assert "1.1 (Linear) of Sequential" in _notes(e)
    assert "(3, 4) ember.float32" in _notes(e)


def test_single_module_error_note_and_no_duplicates():
    fc = nn.Linear(128, 10)
    e = _raised(lambda: fc(ember.randn(4, 64)))
    assert type(e) is RuntimeError
    notes = _note_list(e)
    assert notes == [
        "Linear(in_features=128, out_features=10) got input with last dimension 64; "
        "did you mean in_features=64?",
        "The error was raised in Linear, with input (4, 64) ember.float32.",
    ]


def test_note_is_updated_not_repeated_at_each_level():
    model = Model()
    e = _raised(lambda: model(ember.randn(2, 8)))
    module_notes = [n for n in _note_list(e) if n.startswith("The error was raised")]
    assert len(module_notes) == 1


def test_errors_in_user_forward_keep_identity_and_type():
    boom = ValueError("bad config")

    class Bad(nn.Module):
        def forward(self, x):
            raise boom

    model = nn.Sequential(nn.Identity(), Bad())
    e = _raised(lambda: model(ember.ones(1)))
    assert e is boom and type(e) is ValueError
    # Python 3.11+ keeps the message and adds a note; 3.10 has no notes, so the line is
    # appended to the message instead
    assert str(e).split("\n")[0] == "bad config"
    assert str(e) == "bad config" or not hasattr(e, "add_note")
    assert "module 1 (Bad) of Sequential" in _notes(e)


def test_forward_hooks_path_is_annotated():
    model = nn.Sequential(nn.Linear(3, 3))
    model[0].register_forward_hook(lambda m, a, out: None)
    e = _raised(lambda: model(ember.ones(2, 4)))
    assert type(e) is RuntimeError
    assert "module 0 (Linear) of Sequential" in _notes(e)


def test_module_called_from_outside_its_tree():
    inner = nn.Linear(3, 2)

    class Caller(nn.Module):
        def forward(self, x):
            return helper[0](x)

    helper = [inner]  # not a registered submodule
    e = _raised(lambda: Caller()(ember.ones(2, 5)))
    assert type(e) is RuntimeError
    assert "The error was raised in Linear" in _notes(e)


# ---- layer hints ---------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(64,), (2, 64), (2, 3, 64)])
def test_linear_hint(shape):
    e = _raised(lambda: nn.Linear(128, 7)(ember.randn(*shape)))
    assert type(e) is RuntimeError
    assert ("Linear(in_features=128, out_features=7) got input with last dimension 64; "
            "did you mean in_features=64?") in _note_list(e)


def test_linear_no_hint_when_features_match():
    e = _raised(lambda: nn.Linear(4, 2)(ember.ones(3, 4, dtype=ember.int64)))
    assert type(e) is RuntimeError and "same dtype" in str(e)
    assert "did you mean" not in _notes(e)


@pytest.mark.parametrize("make, shape, dim", [
    (lambda: nn.Conv2d(3, 8, 3), (1, 4, 8, 8), 1),
    (lambda: nn.Conv2d(3, 8, 3), (4, 8, 8), 0),
    (lambda: nn.Conv1d(3, 8, 3), (2, 4, 8), 1),
    (lambda: nn.Conv2d(3, 8, 3, padding=1, padding_mode="reflect"), (1, 4, 8, 8), 1),
    (lambda: nn.ConvTranspose2d(3, 8, 3), (1, 4, 8, 8), 1),
])
def test_conv_channel_hint(make, shape, dim):
    conv = make()
    e = _raised(lambda: conv(ember.randn(*shape)))
    assert type(e) is RuntimeError
    name = type(conv).__name__
    assert (f"{name}(in_channels=3, out_channels=8, ...) got input of shape {list(shape)} "
            f"with 4 channels (dim {dim}); did you mean in_channels=4?") in _note_list(e)


def test_conv_no_hint_when_channels_match():
    e = _raised(lambda: nn.Conv2d(3, 8, 3)(ember.randn(1, 1, 3, 8, 8)))
    assert type(e) is RuntimeError
    assert "did you mean" not in _notes(e)


def test_error_types_match_torch():
    torch = pytest.importorskip("torch")
    with pytest.raises(RuntimeError):
        torch.nn.Linear(128, 7)(torch.randn(2, 64))
    with pytest.raises(RuntimeError):
        torch.nn.Conv2d(3, 8, 3)(torch.randn(1, 4, 8, 8))
    assert type(_raised(lambda: nn.Linear(128, 7)(ember.randn(2, 64)))) is RuntimeError
    assert type(_raised(lambda: nn.Conv2d(3, 8, 3)(ember.randn(1, 4, 8, 8)))) is RuntimeError


# ---- in-place write sites ------------------------------------------------------------------

_VERSION_MSG = ("one of the variables needed for gradient computation has been modified by an "
                "inplace operation")


def _check_site(e: BaseException, line: int, text: str) -> None:
    msg = str(e)
    assert type(e) is RuntimeError
    assert msg.startswith(_VERSION_MSG)
    assert "is at version 1; expected version 0 instead." in msg
    assert f"The in-place write happened at {__file__}:{line} in " in msg
    assert msg.split(f"{__file__}:{line} in ")[1].split(":", 1)[1].startswith(f" {text}.")
    assert "Hint: enable anomaly detection" in msg


def test_inplace_site_of_saved_input():
    x = ember.randn(3, requires_grad=True)
    y = x * 2
    z = y.sin()  # saves its input y
    line = sys._getframe().f_lineno + 1
    y.mul_(3)
    e = _raised(lambda: z.sum().backward())
    _check_site(e, line, "y.mul_(3)")


def test_inplace_site_of_saved_output():
    x = ember.randn(3, requires_grad=True)
    y = x.exp()  # saves its output
    line = sys._getframe().f_lineno + 1
    y.add_(1)
    e = _raised(lambda: y.sum().backward())
    _check_site(e, line, "y.add_(1)")


def test_inplace_site_through_a_view_and_setitem():
    x = ember.randn(4, requires_grad=True)
    y = x + 0
    z = y * y
    line = sys._getframe().f_lineno + 1
    y[1:3].zero_()
    _check_site(_raised(lambda: z.sum().backward()), line, "y[1:3].zero_()")

    y = x + 0
    z = y.sin()
    line = sys._getframe().f_lineno + 1
    y[0] = 5.0
    _check_site(_raised(lambda: z.sum().backward()), line, "y[0] = 5.0")


def test_inplace_site_is_the_last_write():
    x = ember.randn(3, requires_grad=True)
    y = x * 1
    z = y.sin()
    y.add_(1)
    line = sys._getframe().f_lineno + 1
    y.add_(2)
    msg = str(_raised(lambda: z.sum().backward()))
    assert f"{__file__}:{line} in " in msg and "is at version 2; expected version 0" in msg


def test_inplace_site_custom_function():
    class Square(ember.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return 2 * x * g

    a = ember.randn(3, requires_grad=True)
    b = a * 1
    c = Square.apply(b)
    line = sys._getframe().f_lineno + 1
    b.add_(1)
    _check_site(_raised(lambda: c.sum().backward()), line, "b.add_(1)")


def test_unsaved_tensors_record_no_site():
    t = ember.zeros(3)
    t.add_(1)
    t.add_(1)
    assert t._version == 2
    assert len(t._vbox) == 1  # only boxes saved for backward pay for the site


def test_inplace_without_conflict_still_works():
    x = ember.randn(3, requires_grad=True)
    y = x * 2
    z = y.sum()  # sum saves no input values
    y.mul_(3)
    z.backward()
    assert x.grad.tolist() == [2.0, 2.0, 2.0]


# ---- printing in debuggers -----------------------------------------------------------------


class _Printer:
    def __init__(self) -> None:
        self.out = []

    def text(self, s: str) -> None:
        self.out.append(s)


def test_repr_pretty_matches_repr():
    t = ember.arange(6.0).reshape(2, 3)
    p = _Printer()
    t._repr_pretty_(p, False)
    assert "".join(p.out) == repr(t)


def test_ipython_pretty():
    pretty = pytest.importorskip("IPython.lib.pretty")
    t = ember.arange(10000.0).reshape(100, 100)
    assert pretty.pretty(t) == repr(t)


def test_large_tensor_is_summarised_like_torch():
    torch = pytest.importorskip("torch")
    t = ember.arange(10000.0).reshape(100, 100)
    text = repr(t)
    assert "..." in text and len(text.splitlines()) < 30
    assert text == repr(torch.arange(10000.0).reshape(100, 100))
