"""Recurrent layers: ``RNN``, ``LSTM``, ``GRU`` and their one-step ``*Cell`` forms.

Parameter names, shapes, gate order and initialisation follow torch, so a torch
``state_dict`` loads as is. Each layer and direction computes the input projection
of the whole sequence with one GEMM up front (``linear``); the recurrence is then one
table op, ``rnn_layer``, whose forward runs one GEMM plus the gate math per time step
and whose backward runs back through time once, with the ``weight_hh`` gradient as a
single GEMM over all steps. The cells use ``rnn_cell_step``, one step of the same math.
Both backward formulas use ``F`` ops only, so gradients of gradients work too.

Example:
    >>> import ember
    >>> from ember import nn
    >>> lstm = nn.LSTM(10, 20, num_layers=2)
    >>> out, (h, c) = lstm(ember.randn(5, 3, 10))
    >>> out.shape, h.shape, c.shape
    (ember.Size([5, 3, 20]), ember.Size([2, 3, 20]), ember.Size([2, 3, 20]))
"""

from __future__ import annotations

import math
import numbers
import warnings

from ...backend import xp
from ...creation import empty, zeros
from ...ops import cat, index_select
from ...ops.registry import ARRAY_NS, Op, register
from ...tensor import Tensor
from .. import functional as F
from .. import init
from ..parameter import Parameter
from ..utils.rnn import PackedSequence
from .module import Module

__all__ = ["RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell"]


# ---------------------------------------------------------------- gate math of one time step
#
# Each mode has three kernels over one time step of ``xg`` (the input projection,
# with every bias that only adds folded in) and the state before the step:
#   fwd:       backend arrays, fast (in place); returns (new state, cache)
#   recompute: the same with ``F`` ops, so that the cache carries history (create_graph)
#   bwd:       ``F`` ops only; from the cache and the gradient of the new state, returns
#              (grad of xg, grad of the recurrent pre-activation ``h @ w_hh.T`` (+ b_hh),
#              grad of the state before the step or None, grad of the projected output)
# ``extra`` is ``w_hr`` for LSTM, ``b_hh`` for GRU (its n gate needs it apart), else None.


def _gate_acts(gates, n_gates: int, tanh_gate: int):
    """Activations of the gate pre-activations, in place: sigmoid for every gate but
    ``tanh_gate`` (-1: none), which gets tanh. sigmoid(x) = 0.5 * tanh(x / 2) + 0.5 needs
    one tanh over all gates and never overflows."""
    hid = gates.shape[1] // n_gates
    sig = [gates] if tanh_gate < 0 else [gates[:, :tanh_gate * hid],
                                         gates[:, (tanh_gate + 1) * hid:]]
    for part in sig:
        part *= 0.5
    xp.tanh(gates, out=gates)
    for part in sig:
        part *= 0.5
        part += 0.5
    return gates


def _lstm_fwd(xg, state, w_hh, w_hr):
    h, c = state
    hid = c.shape[1]
    act = _gate_acts(xg + h @ w_hh.T, 4, 2)
    i, f, g, o = act[:, :hid], act[:, hid:2 * hid], act[:, 2 * hid:3 * hid], act[:, 3 * hid:]
    c2 = f * c
    c2 += i * g
    tc = xp.tanh(c2)
    hfull = o * tc
    h2 = hfull if w_hr is None else hfull @ w_hr.T
    return (h2, c2), (i, f, g, o, tc, hfull)


def _lstm_recompute(F, xg, state, w_hh, w_hr):
    h, c = state
    hid = c.shape[1]
    gates = xg + F.matmul(h, F.swap_last(w_hh))
    i, f, o = (F.sigmoid(gates[:, k * hid:(k + 1) * hid]) for k in (0, 1, 3))
    g = F.tanh(gates[:, 2 * hid:3 * hid])
    c2 = f * c + i * g
    tc = F.tanh(c2)
    hfull = o * tc
    h2 = hfull if w_hr is None else F.matmul(hfull, F.swap_last(w_hr))
    return (h2, c2), (i, f, g, o, tc, hfull)


def _lstm_bwd(F, cache, state, w_hh, w_hr, dstate, need_prev):
    i, f, g, o, tc, _ = cache
    gh, gc = dstate
    proj = None
    if w_hr is not None:
        proj = gh
        gh = F.matmul(gh, w_hr)
    dc = gc + gh * o * (1 - tc * tc)
    dgates = F.cat(dc * g * i * (1 - i), dc * state[1] * f * (1 - f), dc * i * (1 - g * g),
                   gh * tc * o * (1 - o), dim=1)
    prev = (F.matmul(dgates, w_hh), dc * f) if need_prev else None
    return dgates, dgates, prev, proj


def _gru_fwd(xg, state, w_hh, b_hh):
    (h,) = state
    hid = h.shape[1]
    hg = h @ w_hh.T
    if b_hh is not None:
        hg += b_hh
    hn = hg[:, 2 * hid:]
    rz = xg[:, :2 * hid] + hg[:, :2 * hid]
    _gate_acts(rz, 2, -1)
    r, z = rz[:, :hid], rz[:, hid:]
    n = r * hn
    n += xg[:, 2 * hid:]
    xp.tanh(n, out=n)
    out = h - n
    out *= z
    out += n
    return (out,), (r, z, n, hn)


def _gru_recompute(F, xg, state, w_hh, b_hh):
    (h,) = state
    hid = h.shape[1]
    hg = F.matmul(h, F.swap_last(w_hh))
    if b_hh is not None:
        hg = hg + b_hh
    hn = hg[:, 2 * hid:]
    r = F.sigmoid(xg[:, :hid] + hg[:, :hid])
    z = F.sigmoid(xg[:, hid:2 * hid] + hg[:, hid:2 * hid])
    n = F.tanh(xg[:, 2 * hid:] + r * hn)
    return (n + z * (h - n),), (r, z, n, hn)


def _gru_bwd(F, cache, state, w_hh, b_hh, dstate, need_prev):
    r, z, n, hn = cache
    (g,) = dstate
    dn = g * (1 - z) * (1 - n * n)
    dr = dn * hn * r * (1 - r)
    dz = g * (state[0] - n) * z * (1 - z)
    dhg = F.cat(dr, dz, dn * r, dim=1)
    prev = (g * z + F.matmul(dhg, w_hh),) if need_prev else None
    return F.cat(dr, dz, dn, dim=1), dhg, prev, None


def _rnn_fwd(xg, state, w_hh, relu):
    pre = xg + state[0] @ w_hh.T
    out = xp.maximum(pre, 0, out=pre) if relu else xp.tanh(pre, out=pre)
    return (out,), out


def _rnn_recompute(F, xg, state, w_hh, relu):
    pre = xg + F.matmul(state[0], F.swap_last(w_hh))
    out = F.relu(pre) if relu else F.tanh(pre)
    return (out,), out


def _rnn_bwd(F, out, state, w_hh, relu, dstate, need_prev):
    (g,) = dstate
    d = F.where(out > 0, g, 0.0) if relu else g * (1 - out * out)
    return d, d, ((F.matmul(d, w_hh),) if need_prev else None), None


def _kernels(mode: str):
    if mode == "LSTM":
        return _lstm_fwd, _lstm_recompute, _lstm_bwd
    if mode == "GRU":
        return _gru_fwd, _gru_recompute, _gru_bwd
    relu = mode == "RNN_RELU"
    return (lambda xg, s, w, _e: _rnn_fwd(xg, s, w, relu),
            lambda F, xg, s, w, _e: _rnn_recompute(F, xg, s, w, relu),
            lambda F, c, s, w, _e, d, need: _rnn_bwd(F, c, s, w, relu, d, need))


def _split_args(mode: str, args: tuple) -> tuple:
    """(states, w_hh, extra) from an op's inputs after ``xg``."""
    ns = 2 if mode == "LSTM" else 1
    return args[:ns], args[ns], (args[ns + 1] if len(args) > ns + 1 else None)


def _extra_grad(F, mode, extra, dhg, proj, hfull):
    if extra is None:
        return ()
    if mode == "LSTM":
        return (F.matmul(F.swap_last(proj), hfull),)
    return (F.sum(dhg, dim=(0,), keepdim=False),)


@register
class RnnCellStep(Op):
    """One time step of an RNN cell (``mode``: LSTM, GRU, RNN_TANH or RNN_RELU) from the
    projected input ``xg``, the state, ``w_hh`` and the mode's extra weight; returns the
    new state (``(h', c')`` for LSTM)."""

    name = "rnn_cell_step"

    @staticmethod
    def forward(ctx, xg, *args, mode):
        states, w_hh, extra = _split_args(mode, args)
        new, cache = _kernels(mode)[0](xg, states, w_hh, extra)
        if ctx.recording:
            ctx.save_for_backward(xg, *args)
            ctx.cache, ctx.cell_mode = cache, mode
        return new if mode == "LSTM" else new[0]

    @staticmethod
    def backward(ctx, F, *grads):
        saved = ctx.saved_tensors
        xg, args = saved[0], saved[1:]
        mode = ctx.cell_mode
        states, w_hh, extra = _split_args(mode, args)
        _, recompute, bwd = _kernels(mode)
        cache = (recompute(F, xg, states, w_hh, extra)[1] if isinstance(w_hh, Tensor)
                 else ctx.cache)
        needs = ctx.needs_input_grad
        ns = len(states)
        dxg, dhg, prev, proj = bwd(F, cache, states, w_hh, extra, grads,
                                   any(needs[1:1 + ns]))
        gw = F.matmul(F.swap_last(dhg), states[0]) if needs[1 + ns] else None
        hfull = cache[5] if mode == "LSTM" else None
        return (dxg, *(prev or (None,) * ns), gw, *_extra_grad(F, mode, extra, dhg, proj, hfull))


def _scan(F, step, xg, states0, w_hh, extra, batch_sizes, reverse):
    """Run ``step`` over the time steps of a packed batch (step ``t`` on the first
    ``batch_sizes[t]`` rows; rows that start late take their initial state from
    ``states0``, rows that end early leave theirs in the final state).

    Returns the outputs by time step, the final state and, per step in the order run,
    ``(t, state before the step, cache)``.
    """
    steps = len(batch_sizes)
    offsets = [0] * steps
    for t in range(1, steps):
        offsets[t] = offsets[t - 1] + batch_sizes[t - 1]
    state, prev = tuple(s[:0] for s in states0), 0
    finished = []  # (first row, state pieces) of rows that stopped early
    outs, records = [None] * steps, []
    for t in (range(steps - 1, -1, -1) if reverse else range(steps)):
        n = batch_sizes[t]
        if n > prev:
            add = tuple(s[prev:n] for s in states0)
            state = add if prev == 0 else tuple(F.cat(s, a, dim=0) for s, a in zip(state, add))
        elif n < prev:
            finished.append((n, tuple(s[n:prev] for s in state)))
            state = tuple(s[:n] for s in state)
        before = state
        state, cache = step(xg[offsets[t]:offsets[t] + n], state, w_hh, extra)
        records.append((t, before, cache))
        outs[t] = state[0]
        prev = n
    if finished:
        pieces = sorted(finished + [(0, state)], key=lambda p: p[0])
        state = tuple(F.cat(*(p[1][k] for p in pieces), dim=0) for k in range(len(state)))
    return outs, state, records


@register
class RecurrentLayer(Op):
    """One layer of an RNN in one direction over a packed batch ``xg`` (rows of step ``t``:
    the first ``batch_sizes[t]`` sequences, already projected by ``w_ih`` with the biases).
    Inputs after ``xg`` as for ``rnn_cell_step``; returns ``(outputs, *final state)``.
    Backward runs through time once and computes the ``w_hh`` gradient with one GEMM."""

    name = "rnn_layer"

    @staticmethod
    def forward(ctx, xg, *args, mode, batch_sizes, reverse):
        states, w_hh, extra = _split_args(mode, args)
        fwd = _kernels(mode)[0]
        outs, finals, records = _scan(ARRAY_NS, fwd, xg, states, w_hh, extra, batch_sizes,
                                      reverse)
        if ctx.recording:
            ctx.save_for_backward(xg, *args)
            ctx.records, ctx.layer_mode = records, mode
            ctx.batch_sizes, ctx.reverse = batch_sizes, reverse
        return (xp.concatenate(outs, 0), *finals)

    @staticmethod
    def backward(ctx, F, g_out, *g_finals):
        saved = ctx.saved_tensors
        xg, args = saved[0], saved[1:]
        mode, bs = ctx.layer_mode, ctx.batch_sizes
        states0, w_hh, extra = _split_args(mode, args)
        _, recompute, bwd = _kernels(mode)
        if isinstance(w_hh, Tensor):
            # create_graph: rerun the recurrence with F ops so that the caches carry history
            def step(x, s, w, e):
                return recompute(F, x, s, w, e)
            records = _scan(F, step, xg, states0, w_hh, extra, bs, ctx.reverse)[2]
        else:
            records = ctx.records
        needs = ctx.needs_input_grad
        ns = len(states0)
        need_init = any(needs[1:1 + ns])
        offsets = [0] * len(bs)
        for t in range(1, len(bs)):
            offsets[t] = offsets[t - 1] + bs[t - 1]
        dxg, dhg, befores, projs, hfulls, init_pieces = [None] * len(bs), [], [], [], [], []
        prev, n_next = None, 0
        for k in range(len(records) - 1, -1, -1):
            t, before, cache = records[k]
            n = bs[t]
            # the gradient of the state after step t, from step t+1 and from the final state
            if prev is None:
                d = tuple(g[:n] for g in g_finals)
            elif n_next >= n:
                if n_next > n:
                    init_pieces.append((n, tuple(p[n:] for p in prev)))
                d = tuple(p[:n] for p in prev) if n_next > n else prev
            else:
                d = tuple(F.cat(p, g[n_next:n], dim=0) for p, g in zip(prev, g_finals))
            d = (d[0] + g_out[offsets[t]:offsets[t] + n],) + d[1:]
            dx, dh, prev, proj = bwd(F, cache, before, w_hh, extra, d, k > 0 or need_init)
            dxg[t] = dx
            dhg.append(dh)
            befores.append(before[0])
            if proj is not None:
                projs.append(proj)
                hfulls.append(cache[5])
            n_next = n
        grads = [F.cat(*dxg, dim=0) if needs[0] else None]
        if need_init:
            init_pieces.append((0, prev))
            init_pieces.sort(key=lambda p: p[0])
            grads += [F.cat(*(p[1][k] for p in init_pieces), dim=0) for k in range(ns)]
        else:
            grads += [None] * ns
        dhg_all = F.cat(*dhg, dim=0)
        grads.append(F.matmul(F.swap_last(dhg_all), F.cat(*befores, dim=0))
                     if needs[1 + ns] else None)
        if projs:
            return (*grads, *_extra_grad(F, mode, extra, dhg_all, F.cat(*projs, dim=0),
                                         F.cat(*hfulls, dim=0)))
        return (*grads, *_extra_grad(F, mode, extra, dhg_all, None, None))


# ---------------------------------------------------------------- running a layer


def _weights_args(mode: str, states: tuple, w: dict) -> tuple:
    extra = w["w_hr"] if mode == "LSTM" else w["b_hh"] if mode == "GRU" else None
    return (*states, w["w_hh"]) + (() if extra is None else (extra,))


def _cell(mode: str, xg: Tensor, states: tuple, w: dict):
    return RnnCellStep.apply(xg, *_weights_args(mode, states, w), mode=mode)


def _project(mode: str, x: Tensor, w: dict) -> Tensor:
    """The input projection of every time step at once; biases that only add are folded in."""
    b = w["b_ih"]
    if b is not None and mode != "GRU":
        b = b + w["b_hh"]
    return F.linear(x, w["w_ih"], b)


def _run_direction(mode: str, data: Tensor, batch_sizes: list, state: tuple, w: dict,
                   reverse: bool) -> tuple:
    """One layer in one direction over packed ``data``; returns the packed outputs and the
    final state."""
    out = RecurrentLayer.apply(_project(mode, data, w), *_weights_args(mode, state, w),
                               mode=mode, batch_sizes=tuple(batch_sizes), reverse=reverse)
    return out[0], out[1:]



# ---------------------------------------------------------------- RNNBase


_GATES = {"LSTM": 4, "GRU": 3, "RNN_TANH": 1, "RNN_RELU": 1}


class RNNBase(Module):
    """The multi-layer recurrent network shared by ``RNN``, ``LSTM`` and ``GRU``
    (``mode`` is one of ``'LSTM'``, ``'GRU'``, ``'RNN_TANH'``, ``'RNN_RELU'``).

    Example:
        >>> import ember
        >>> from ember import nn
        >>> nn.RNNBase("GRU", 3, 4).weight_hh_l0.shape
        ember.Size([12, 4])
    """

    __constants__ = ["mode", "input_size", "hidden_size", "num_layers", "bias", "batch_first",
                     "dropout", "bidirectional", "proj_size"]

    def __init__(self, mode: str, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, proj_size: int = 0, device=None,
                 dtype=None) -> None:
        super().__init__()
        if mode not in _GATES:
            raise ValueError(f"Unrecognized RNN mode: {mode}")
        if (not isinstance(dropout, numbers.Number) or not 0 <= dropout <= 1
                or isinstance(dropout, bool)):
            raise ValueError("dropout should be a number in range [0, 1] representing the "
                             "probability of an element being zeroed")
        if dropout > 0 and num_layers == 1:
            warnings.warn("dropout option adds dropout after all but last recurrent layer, so "
                          "non-zero dropout expects num_layers greater than 1, but got "
                          f"dropout={dropout} and num_layers={num_layers}", stacklevel=2)
        if not isinstance(hidden_size, int):
            raise TypeError(f"hidden_size should be of type int, got: {type(hidden_size).__name__}")
        if hidden_size <= 0:
            raise ValueError("hidden_size must be greater than zero")
        if num_layers <= 0:
            raise ValueError("num_layers must be greater than zero")
        if proj_size < 0:
            raise ValueError("proj_size should be a positive integer or zero to disable "
                             "projections")
        if proj_size >= hidden_size:
            raise ValueError("proj_size has to be smaller than hidden_size")
        if proj_size and mode != "LSTM":
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        self.mode = mode
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = float(dropout)
        self.bidirectional = bidirectional
        self.proj_size = proj_size
        gate_size = _GATES[mode] * hidden_size
        real_hidden = proj_size if proj_size > 0 else hidden_size
        dirs = 2 if bidirectional else 1
        self._flat_weights_names: list[str] = []
        self._all_weights: list[list[str]] = []
        for layer in range(num_layers):
            layer_in = input_size if layer == 0 else real_hidden * dirs
            for d in range(dirs):
                sfx = f"_l{layer}" + ("_reverse" if d else "")
                shapes = [("weight_ih", (gate_size, layer_in)),
                          ("weight_hh", (gate_size, real_hidden))]
                if bias:
                    shapes += [("bias_ih", (gate_size,)), ("bias_hh", (gate_size,))]
                if proj_size > 0:
                    shapes.append(("weight_hr", (proj_size, hidden_size)))
                names = []
                for base, shape in shapes:
                    setattr(self, base + sfx, Parameter(empty(shape, dtype=dtype, device=device)))
                    names.append(base + sfx)
                self._flat_weights_names.extend(names)
                self._all_weights.append(names)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for weight in self.parameters():
            init.uniform_(weight, -stdv, stdv)

    def flatten_parameters(self) -> None:
        """A no-op kept for torch compatibility (parameters are never flattened here)."""

    @property
    def _flat_weights(self) -> list:
        return [getattr(self, n) for n in self._flat_weights_names]

    @property
    def all_weights(self) -> list:
        return [[getattr(self, n) for n in names] for names in self._all_weights]

    def _weights(self, layer: int, direction: int) -> dict:
        sfx = f"_l{layer}" + ("_reverse" if direction else "")
        get = self._parameters.get
        return {"w_ih": get("weight_ih" + sfx), "w_hh": get("weight_hh" + sfx),
                "b_ih": get("bias_ih" + sfx), "b_hh": get("bias_hh" + sfx),
                "w_hr": get("weight_hr" + sfx)}

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size != 0:
            s += f", proj_size={self.proj_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if self.batch_first is not False:
            s += f", batch_first={self.batch_first}"
        if self.dropout != 0:
            s += f", dropout={self.dropout}"
        if self.bidirectional is not False:
            s += f", bidirectional={self.bidirectional}"
        return s

    # ------------------------------------------------------------ forward

    def _state_sizes(self) -> list:
        dirs = 2 if self.bidirectional else 1
        h = self.proj_size if self.proj_size > 0 else self.hidden_size
        sizes = [(self.num_layers * dirs, h)]
        if self.mode == "LSTM":
            sizes.append((self.num_layers * dirs, self.hidden_size))
        return sizes

    def _check_hidden(self, hx: tuple, batch: int) -> None:
        for k, (h, (n, size)) in enumerate(zip(hx, self._state_sizes())):
            expected = (n, batch, size)
            if tuple(h.shape) != expected:
                which = f"hidden[{k}]" if self.mode == "LSTM" else "hidden"
                raise RuntimeError(f"Expected {which} size {expected}, got {list(h.shape)}")

    def forward(self, input, hx=None):
        name = "LSTM" if self.mode == "LSTM" else "GRU" if self.mode == "GRU" else "RNN"
        is_lstm = self.mode == "LSTM"
        packed = isinstance(input, PackedSequence)
        unbatched = False
        if packed:
            data, bs_tensor, sorted_indices, unsorted_indices = input
            batch_sizes = [int(b) for b in bs_tensor.tolist()]
            batch = batch_sizes[0]
            x = data
        else:
            if input.ndim not in (2, 3):
                # torch words the RNN message differently from LSTM's and GRU's
                what = f"{input.ndim}D tensor" if name == "RNN" else f"{input.ndim}D"
                raise ValueError(f"{name}: Expected input to be 2D or 3D, got {what} instead")
            sorted_indices = unsorted_indices = None
            unbatched = input.ndim == 2
            x = input.unsqueeze(1) if unbatched else input
            if self.batch_first and not unbatched:
                x = x.transpose(0, 1)
            if x.shape[0] == 0:
                raise RuntimeError(f"Expected sequence length to be larger than 0 in {name}")
            seq_len, batch = x.shape[0], x.shape[1]
            batch_sizes = [batch] * seq_len
            x = x.reshape(seq_len * batch, x.shape[2])
        if x.shape[-1] != self.input_size:
            raise RuntimeError(f"input.size(-1) must be equal to input_size. Expected "
                               f"{self.input_size}, got {x.shape[-1]}")
        if hx is None:
            hx = tuple(zeros((n, batch, size), dtype=x.dtype, device=x.device)
                       for n, size in self._state_sizes())
        else:
            if is_lstm and isinstance(hx, Tensor) and hx.shape[0] < 2:
                # torch reads h_0, c_0 as hx[0], hx[1]
                raise IndexError(f"index 1 is out of bounds for dimension 0 with size "
                                 f"{hx.shape[0]}")
            hx = tuple(hx) if is_lstm else (hx,)
            if is_lstm and len(hx) != 2:
                raise RuntimeError(f"LSTM: expected hx to be a tuple of (h_0, c_0), got "
                                   f"{len(hx)} tensors")
            if unbatched:
                if any(h.ndim != 2 for h in hx):
                    dims = ", ".join(f"{h.ndim}-D" for h in hx)
                    what = f"hx and cx should also be 2-D but got ({dims}) tensors" if is_lstm \
                        else f"hx should also be 2-D but got {dims} tensor"
                    raise RuntimeError(f"For unbatched 2-D input, {what}")
                hx = tuple(h.unsqueeze(1) for h in hx)
            elif not packed and any(h.ndim != 3 for h in hx):
                dims = ", ".join(f"{h.ndim}-D" for h in hx)
                what = f"hx and cx should also be 3-D but got ({dims}) tensors" if is_lstm \
                    else f"hx should also be 3-D but got {dims} tensor"
                raise RuntimeError(f"For batched 3-D input, {what}")
            if sorted_indices is not None:
                hx = tuple(index_select(h, 1, sorted_indices) for h in hx)
            self._check_hidden(hx, batch)

        dirs = 2 if self.bidirectional else 1
        finals = [[] for _ in hx]
        for layer in range(self.num_layers):
            outs = []
            for d in range(dirs):
                k = layer * dirs + d
                out, state = _run_direction(self.mode, x, batch_sizes,
                                            tuple(h[k] for h in hx), self._weights(layer, d),
                                            reverse=d == 1)
                outs.append(out)
                for f, s in zip(finals, state):
                    f.append(s)
            x = outs[0] if dirs == 1 else cat(outs, 1)
            if self.dropout and self.training and layer < self.num_layers - 1:
                x = F.dropout(x, self.dropout, True)
        h_n = tuple(_stack0(f) for f in finals)

        if packed:
            if unsorted_indices is not None:
                h_n = tuple(index_select(h, 1, unsorted_indices) for h in h_n)
            output = PackedSequence(x, bs_tensor, sorted_indices, unsorted_indices)
        else:
            output = x.reshape(len(batch_sizes), batch, x.shape[1])
            if unbatched:
                output = output.squeeze(1)
                h_n = tuple(h.squeeze(1) for h in h_n)
            elif self.batch_first:
                output = output.transpose(0, 1)
        return output, (h_n if is_lstm else h_n[0])


def _stack0(states: list) -> Tensor:
    b, s = states[0].shape
    return cat(states, 0).reshape(len(states), b, s)


class RNN(RNNBase):
    """Elman RNN: ``h_t = act(x_t @ W_ih.T + b_ih + h_{t-1} @ W_hh.T + b_hh)`` with
    ``act`` tanh (default) or relu; returns ``(output, h_n)``.

    Example:
        >>> import ember
        >>> from ember import nn
        >>> out, h = nn.RNN(10, 20, 2)(ember.randn(5, 3, 10))
        >>> out.shape, h.shape
        (ember.Size([5, 3, 20]), ember.Size([2, 3, 20]))
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 nonlinearity: str = "tanh", bias: bool = True, batch_first: bool = False,
                 dropout: float = 0.0, bidirectional: bool = False, device=None,
                 dtype=None, **kwargs) -> None:
        if "proj_size" in kwargs:
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        if kwargs:
            raise TypeError(f"RNN.__init__() got an unexpected keyword argument "
                            f"{next(iter(kwargs))!r}")
        if nonlinearity == "tanh":
            mode = "RNN_TANH"
        elif nonlinearity == "relu":
            mode = "RNN_RELU"
        else:
            raise ValueError(f"Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or "
                             "'relu'.")
        super().__init__(mode, input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, device=device, dtype=dtype)
        self.nonlinearity = nonlinearity


class LSTM(RNNBase):
    """Long short-term memory; gates in torch's order (i, f, g, o), optional projection of
    the hidden state (``proj_size``); returns ``(output, (h_n, c_n))``.

    Example:
        >>> import ember
        >>> from ember import nn
        >>> out, (h, c) = nn.LSTM(10, 20, proj_size=5)(ember.randn(5, 3, 10))
        >>> out.shape, h.shape, c.shape
        (ember.Size([5, 3, 5]), ember.Size([1, 3, 5]), ember.Size([1, 3, 20]))
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, proj_size: int = 0, device=None,
                 dtype=None) -> None:
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional, proj_size, device=device, dtype=dtype)


class GRU(RNNBase):
    """Gated recurrent unit in torch's form (gates r, z, n with
    ``n = tanh(W_in x + b_in + r * (W_hn h + b_hn))``); returns ``(output, h_n)``.

    Example:
        >>> import ember
        >>> from ember import nn
        >>> out, h = nn.GRU(10, 20, batch_first=True)(ember.randn(3, 5, 10))
        >>> out.shape, h.shape
        (ember.Size([3, 5, 20]), ember.Size([1, 3, 20]))
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, device=None, dtype=None, **kwargs) -> None:
        if "proj_size" in kwargs:
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        if kwargs:
            raise TypeError(f"GRU.__init__() got an unexpected keyword argument "
                            f"{next(iter(kwargs))!r}")
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional, device=device, dtype=dtype)


# ---------------------------------------------------------------- cells


class RNNCellBase(Module):
    """Parameters shared by the one-step cells: ``weight_ih`` ``(gates*hidden, input)``,
    ``weight_hh`` ``(gates*hidden, hidden)`` and the two biases.

    Example:
        >>> from ember import nn
        >>> nn.RNNCellBase(3, 4, True, 2).weight_ih.shape
        ember.Size([8, 3])
    """

    __constants__ = ["input_size", "hidden_size", "bias"]

    def __init__(self, input_size: int, hidden_size: int, bias: bool, num_chunks: int,
                 device=None, dtype=None) -> None:
        super().__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bias
        n = num_chunks * hidden_size
        self.weight_ih = Parameter(empty((n, input_size), dtype=dtype, device=device))
        self.weight_hh = Parameter(empty((n, hidden_size), dtype=dtype, device=device))
        if bias:
            self.bias_ih = Parameter(empty(n, dtype=dtype, device=device))
            self.bias_hh = Parameter(empty(n, dtype=dtype, device=device))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for weight in self.parameters():
            init.uniform_(weight, -stdv, stdv)

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        nl = getattr(self, "nonlinearity", "tanh")
        if nl != "tanh":
            s += f", nonlinearity={nl}"
        return s

    def _prepare(self, input: Tensor, hx: tuple | None, n_states: int) -> tuple:
        """Checks the input and the states and adds the batch dim to unbatched ones."""
        name = type(self).__name__
        if input.ndim not in (1, 2):
            raise ValueError(f"{name}: Expected input to be 1D or 2D, got {input.ndim}D "
                             "instead")
        if hx is not None:
            for k, h in enumerate(hx):
                if h.ndim not in (1, 2):
                    what = f"hx[{k}]" if len(hx) > 1 else "hidden"
                    raise ValueError(f"{name}: Expected {what} to be 1D or 2D, got {h.ndim}D "
                                     "instead")
        unbatched = input.ndim == 1
        if unbatched:
            input = input.unsqueeze(0)
        batch = input.shape[0]
        if hx is None:
            hx = tuple(zeros((batch, self.hidden_size), dtype=input.dtype, device=input.device)
                       for _ in range(n_states))
        elif unbatched:
            hx = tuple(h.unsqueeze(0) for h in hx)
        if input.shape[1] != self.input_size:
            raise RuntimeError(f"input has inconsistent input_size: got {input.shape[1]} "
                               f"expected {self.input_size}")
        for k, h in enumerate(hx):
            if h.ndim == 2 and h.shape[0] != batch:
                raise RuntimeError(f"Input batch size {batch} doesn't match hidden{k} batch "
                                   f"size {h.shape[0]}")
            if h.shape[-1] != self.hidden_size or h.ndim != 2:
                raise RuntimeError(f"hidden{k} has inconsistent hidden_size: got "
                                   f"{h.shape[1]}, expected {self.hidden_size}")
        return input, hx, unbatched

    def _w(self) -> dict:
        return {"w_ih": self.weight_ih, "w_hh": self.weight_hh, "b_ih": self.bias_ih,
                "b_hh": self.bias_hh, "w_hr": None}


class RNNCell(RNNCellBase):
    """One Elman RNN step: ``h' = act(x @ W_ih.T + b_ih + h @ W_hh.T + b_hh)``.

    Example:
        >>> import ember
        >>> from ember import nn
        >>> nn.RNNCell(10, 20)(ember.randn(3, 10)).shape
        ember.Size([3, 20])
    """

    __constants__ = ["input_size", "hidden_size", "bias", "nonlinearity"]

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 nonlinearity: str = "tanh", device=None, dtype=None) -> None:
        super().__init__(input_size, hidden_size, bias, num_chunks=1, device=device,
                         dtype=dtype)
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"Unknown nonlinearity: {nonlinearity}")
        self.nonlinearity = nonlinearity

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        input, hx, unbatched = self._prepare(input, None if hx is None else (hx,), 1)
        mode = "RNN_TANH" if self.nonlinearity == "tanh" else "RNN_RELU"
        w = self._w()
        h = _cell(mode, _project(mode, input, w), hx, w)
        return h.squeeze(0) if unbatched else h


class LSTMCell(RNNCellBase):
    """One LSTM step; returns ``(h', c')``.

    Example:
        >>> import ember
        >>> from ember import nn
        >>> h, c = nn.LSTMCell(10, 20)(ember.randn(3, 10))
        >>> h.shape, c.shape
        (ember.Size([3, 20]), ember.Size([3, 20]))
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None,
                 dtype=None) -> None:
        super().__init__(input_size, hidden_size, bias, num_chunks=4, device=device,
                         dtype=dtype)

    def forward(self, input: Tensor, hx: tuple | None = None) -> tuple:
        input, hx, unbatched = self._prepare(input, hx, 2)
        w = self._w()
        h, c = _cell("LSTM", _project("LSTM", input, w), hx, w)
        return (h.squeeze(0), c.squeeze(0)) if unbatched else (h, c)


class GRUCell(RNNCellBase):
    """One GRU step: ``h' = (1 - z) * n + z * h``.

    Example:
        >>> import ember
        >>> from ember import nn
        >>> nn.GRUCell(10, 20)(ember.randn(3, 10)).shape
        ember.Size([3, 20])
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None,
                 dtype=None) -> None:
        super().__init__(input_size, hidden_size, bias, num_chunks=3, device=device,
                         dtype=dtype)

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        input, hx, unbatched = self._prepare(input, None if hx is None else (hx,), 1)
        w = self._w()
        h = _cell("GRU", _project("GRU", input, w), hx, w)
        return h.squeeze(0) if unbatched else h
