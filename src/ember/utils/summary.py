"""``summary(model, ...)``: a torchinfo-style table of a model's layers.

One forward pass runs with hooks on every submodule; each module call becomes a row
(nested calls are indented), with its output shape, parameter count and friends,
followed by totals and size estimates. If the forward pass fails, the table up to the
failing layer is put in the error.

Example:
    >>> import ember
    >>> from ember import nn
    >>> from ember.utils.summary import summary
    >>> model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    >>> stats = summary(model, input_size=(3, 4), verbose=0)
    >>> stats.total_params, [row.output_size for row in stats.summary_list]
    (58, [[3, 2], [3, 8], [3, 8], [3, 2]])
"""

from __future__ import annotations

import math
import sys
import types
from collections.abc import Sequence
from typing import Any

from ..autograd.grad_mode import no_grad
from ..tensor import Tensor

__all__ = ["summary", "ModelStatistics", "LayerInfo"]

COLUMNS = {"input_size": "Input Shape", "output_size": "Output Shape", "num_params": "Param #",
           "params_percent": "Param %", "kernel_size": "Kernel Shape",
           "mult_adds": "Mult-Adds", "trainable": "Trainable"}
ROW_SETTINGS = ("depth", "var_names", "ascii_only")


class LayerInfo:
    """One module call: what ``summary`` shows in a row."""

    def __init__(self, module, var_name: str, depth: int, depth_index: int | None,
                 parent: LayerInfo | None, input_size, recursive: bool) -> None:
        self.module = module
        self.class_name = type(module).__name__
        self.var_name = var_name
        self.depth = depth
        self.depth_index = depth_index
        self.parent = parent
        self.children: list[LayerInfo] = []
        self.input_size = input_size
        self.output_size: Any = None
        self.output_bytes = 0
        self.executed = False
        self.failed = False
        self.is_recursive = recursive
        own = list(module.parameters(recurse=False))
        every = list(module.parameters())
        self.own_params = sum(p.numel() for p in own)
        self.total_params = sum(p.numel() for p in every)
        self.trainable_params = sum(p.numel() for p in every if p.requires_grad)
        ks = getattr(module, "kernel_size", None)
        self.kernel_size = (list(ks) if isinstance(ks, (tuple, list)) else
                            [ks] if isinstance(ks, int) else None)
        self.macs = 0

    def layer_name(self, settings: Sequence[str]) -> str:
        name = self.class_name
        if "var_names" in settings and self.var_name:
            name += f" ({self.var_name})"
        if self.depth == 0:
            return name
        if "depth" in settings:
            name += f": {self.depth}-{self.depth_index}"
        ascii_only = "ascii_only" in settings
        pipe, tee, elbow = ("|    ", "+-", "`-") if ascii_only else ("│    ", "├─", "└─")
        return (tee if self.depth == 1 else pipe * (self.depth - 1) + elbow) + name

    def num_params_shown(self, max_depth: int) -> int | str:
        if self.is_recursive:
            return "(recursive)"
        children_shown = self.children and self.depth < max_depth
        return self.own_params if children_shown else self.total_params

    def __repr__(self) -> str:
        return f"<LayerInfo {_label(self)}>"


class ModelStatistics:
    """The result of ``summary``: the rows, totals and size estimates; ``str()`` is the
    table."""

    def __init__(self, model, summary_list: list[LayerInfo], input_bytes: int,
                 col_names: Sequence[str], col_width: int, depth: int,
                 row_settings: Sequence[str]) -> None:
        self.summary_list = summary_list
        self.col_names = tuple(col_names)
        self.col_width = col_width
        self.depth = depth
        self.row_settings = tuple(row_settings)
        seen: dict = {}
        for p in model.parameters():
            seen.setdefault(id(p), p)
        params = list(seen.values())
        self.total_params = sum(p.numel() for p in params)
        self.trainable_params = sum(p.numel() for p in params if p.requires_grad)
        self.total_param_bytes = sum(p.numel() * p.element_size() for p in params)
        self.total_input = input_bytes
        leaves = [r for r in summary_list if not r.children and r.executed]
        self.total_output_bytes = 2 * sum(r.output_bytes for r in leaves)  # forward + backward
        self.total_mult_adds = sum(r.macs for r in leaves)
        self.error_layer: LayerInfo | None = None
        self.error: BaseException | None = None

    @property
    def non_trainable_params(self) -> int:
        return self.total_params - self.trainable_params

    def _cell(self, row: LayerInfo, col: str) -> str:
        if col == "input_size":
            return _fmt_size(row.input_size)
        if col == "output_size":
            if row.failed:
                return "(error)"
            return _fmt_size(row.output_size) if row.executed else "--"
        if col == "kernel_size":
            return str(row.kernel_size) if row.kernel_size else "--"
        n = row.num_params_shown(self.depth)
        if col == "num_params":
            return n if isinstance(n, str) else (f"{n:,}" if n else "--")
        if col == "params_percent":
            if isinstance(n, str) or not n or not self.total_params:
                return "--"
            return f"{100.0 * n / self.total_params:.2f}%"
        if col == "mult_adds":
            return f"{row.macs:,}" if row.macs and not row.children else "--"
        if col == "trainable":
            if not row.total_params:
                return "--"
            if row.trainable_params == row.total_params:
                return "True"
            return "False" if row.trainable_params == 0 else "Partial"
        raise ValueError(col)

    def __str__(self) -> str:
        name_width = 40
        widths = [name_width] + [self.col_width] * len(self.col_names)
        total_width = sum(widths)
        thick = "=" * total_width

        def line(cells) -> str:
            return "".join(f"{c:<{w - 1}} " for c, w in zip(cells, widths)).rstrip()

        settings = self.row_settings
        header = "Layer (type:depth-idx)" if "depth" in settings else "Layer (type)"
        if "var_names" in settings:
            header = header.replace("(type", "(type (var_name)")
        out = [thick, line([header] + [COLUMNS[c] for c in self.col_names]), thick]
        for row in self.summary_list:
            if row.depth > self.depth:
                continue
            out.append(line([row.layer_name(settings)] +
                            [self._cell(row, c) for c in self.col_names]))
        out += [thick, f"Total params: {self.total_params:,}",
                f"Trainable params: {self.trainable_params:,}",
                f"Non-trainable params: {self.non_trainable_params:,}"]
        unit, scale = _unit(self.total_mult_adds)
        out += [f"Total mult-adds ({unit}): {self.total_mult_adds / scale:.2f}", thick]
        mb_in, mb_out = self.total_input / 1e6, self.total_output_bytes / 1e6
        mb_params = self.total_param_bytes / 1e6
        out += [f"Input size (MB): {mb_in:.2f}", f"Forward/backward pass size (MB): {mb_out:.2f}",
                f"Params size (MB): {mb_params:.2f}",
                f"Estimated Total Size (MB): {mb_in + mb_out + mb_params:.2f}", thick]
        if self.error_layer is not None:
            row = self.error_layer
            out.append(f"Error in layer {_label(row)} (input shape {_fmt_size(row.input_size)}): "
                       f"{type(self.error).__name__}: {self.error}")
        return "\n".join(out)

    __repr__ = __str__


def _label(row: LayerInfo) -> str:
    return row.class_name if row.depth == 0 else f"{row.class_name}: {row.depth}-{row.depth_index}"


def _unit(n: int) -> tuple[str, float]:
    for unit, scale in (("T", 1e12), ("G", 1e9)):
        if n >= scale:
            return unit, scale
    return "M", 1e6


def _fmt_size(size) -> str:
    if size is None:
        return "--"
    return str(size)


def _shapes(obj) -> Any:
    """Shapes of the tensors in a (nested) output: a list for one tensor, a list of lists
    for several."""
    found = []

    def walk(o) -> None:
        if isinstance(o, Tensor):
            found.append(list(o.shape))
        elif isinstance(o, (tuple, list)):
            for v in o:
                walk(v)
        elif isinstance(o, dict):
            for v in o.values():
                walk(v)
    walk(obj)
    if not found:
        return None
    return found[0] if len(found) == 1 else found


def _nbytes(obj) -> int:
    if isinstance(obj, Tensor):
        return obj.numel() * obj.element_size()
    if isinstance(obj, (tuple, list)):
        return sum(_nbytes(v) for v in obj)
    if isinstance(obj, dict):
        return sum(_nbytes(v) for v in obj.values())
    return 0


def _macs(row: LayerInfo, out) -> int:
    """Multiply-adds of a layer from its own weights and its output shape (torchinfo's
    estimate: each weight element is used once per output position)."""
    if not isinstance(out, Tensor) or out.ndim == 0:
        return 0
    shape = tuple(out.shape)
    total = 0
    for name, p in row.module.named_parameters(recurse=False):
        if not name.endswith("weight"):
            continue
        if p.ndim >= 3:  # convolution: (batch) x weight x output positions
            batched = out.ndim == p.ndim
            total += (shape[0] if batched else 1) * p.numel() * math.prod(shape[-(p.ndim - 2):])
        elif p.ndim == 2:  # linear-like: weight x rows
            total += p.numel() * math.prod(shape[:-1])
        else:  # elementwise scales (normalization)
            total += math.prod(shape)
    return total


def _make_inputs(input_size, dtypes, batch_dim) -> list:
    import ember
    sizes = input_size
    if isinstance(sizes, (tuple, list)) and all(isinstance(s, int) for s in sizes):
        sizes = [sizes]
    out = []
    for k, size in enumerate(sizes):
        size = list(size)
        if batch_dim is not None:
            size.insert(batch_dim, 1)
        dt = dtypes[k] if dtypes is not None and k < len(dtypes) else None
        if dt is not None and not dt.is_floating_point:
            out.append(ember.zeros(*size, dtype=dt))
        else:
            out.append(ember.rand(*size, dtype=dt))
    return out


def summary(model, input_size=None, input_data=None, dtypes=None, depth: int = 3,
            col_names: Sequence[str] = ("output_size", "num_params"), verbose: int = 1,
            batch_dim: int | None = None, col_width: int = 25,
            row_settings: Sequence[str] = ("depth",), **kwargs) -> ModelStatistics:
    """Summarise ``model`` like torchinfo's ``summary``: run one forward pass (without
    recording gradients) on ``input_data`` or on random tensors of ``input_size`` and
    list each module call with its shapes and parameter counts.

    Args:
        model: the ``nn.Module``.
        input_size: the shape of the input, or a list of shapes for several inputs.
        input_data: the inputs themselves: a tensor, a list/tuple of positional inputs, or
            a dict of keyword inputs.
        dtypes: one ember dtype per input made from ``input_size`` (default float).
        depth: the deepest nesting level shown.
        col_names: columns among ``input_size``, ``output_size``, ``num_params``,
            ``params_percent``, ``kernel_size``, ``mult_adds``, ``trainable``.
        verbose: 0 prints nothing, 1 (or 2) prints the table.
        batch_dim: where to insert a batch dimension of 1 into each ``input_size``.
        col_width: width of each column.
        row_settings: ``depth`` (show depth-index), ``var_names`` (attribute names),
            ``ascii_only``.
        **kwargs: further keyword arguments for the forward pass.

    Returns:
        A :class:`ModelStatistics`; ``str()`` gives the table.

    Raises:
        RuntimeError: the forward pass failed; the message has the table up to the failing
            layer and names it (the original error is chained).

    Example:
        >>> import ember
        >>> from ember import nn
        >>> from ember.utils.summary import summary
        >>> print(summary(nn.Sequential(nn.Linear(4, 8), nn.ReLU()), (2, 4), verbose=0))
        ... # doctest: +NORMALIZE_WHITESPACE
        ==========================================================================================
        Layer (type:depth-idx)                   Output Shape              Param #
        ==========================================================================================
        Sequential                               [2, 8]                    --
        ├─Linear: 1-1                            [2, 8]                    40
        ├─ReLU: 1-2                              [2, 8]                    --
        ==========================================================================================
        Total params: 40
        Trainable params: 40
        Non-trainable params: 0
        Total mult-adds (M): 0.00
        ==========================================================================================
        Input size (MB): 0.00
        Forward/backward pass size (MB): 0.00
        Params size (MB): 0.00
        Estimated Total Size (MB): 0.00
        ==========================================================================================
    """
    for c in col_names:
        if c not in COLUMNS:
            raise ValueError(f"col_names must be among {', '.join(COLUMNS)}, but got {c!r}")
    for s in row_settings:
        if s not in ROW_SETTINGS:
            raise ValueError(f"row_settings must be among {', '.join(ROW_SETTINGS)}, but got "
                             f"{s!r}")
    if verbose not in (0, 1, 2):
        raise ValueError(f"verbose must be 0, 1 or 2, but got {verbose!r}")
    args, kw = _forward_args(input_size, input_data, dtypes, batch_dim)
    kw.update(kwargs)
    input_bytes = _nbytes(args) + _nbytes(kw)

    rows: list[LayerInfo] = []
    stack: list[LayerInfo] = []
    counters: dict[int, int] = {}
    called: set = set()
    names = {id(m): n.rsplit(".", 1)[-1] for n, m in model.named_modules()}

    def pre_hook(module, inputs) -> None:
        d = len(stack)
        idx = None
        if d:
            idx = counters[d] = counters.get(d, 0) + 1
        row = LayerInfo(module, names.get(id(module), ""), d, idx, stack[-1] if stack else None,
                        _shapes(inputs), id(module) in called)
        called.add(id(module))
        if row.parent is not None:
            row.parent.children.append(row)
        rows.append(row)
        stack.append(row)

    def post_hook(module, inputs, output) -> None:
        # rows above this module's own are calls whose error the forward caught itself
        while len(stack) > 1 and stack[-1].module is not module:
            stack.pop()
        row = stack.pop()
        row.executed = True
        row.output_size = _shapes(output)
        row.output_bytes = _nbytes(output)
        row.macs = _macs(row, output)

    handles = []
    for m in model.modules():
        handles.append(m.register_forward_pre_hook(pre_hook))
        handles.append(m.register_forward_hook(post_hook))
    try:
        with no_grad():
            model(*args, **kw)
    except Exception as e:
        stats = ModelStatistics(model, rows, input_bytes, col_names, col_width, depth,
                                row_settings)
        if stack:
            stack[-1].failed = True
            stats.error_layer, stats.error = stack[-1], e
            where = f"layer {_label(stack[-1])} (input shape {_fmt_size(stack[-1].input_size)})"
        else:
            stats.error = e
            where = "the model, outside of any layer"
        raise RuntimeError(f"Failed to run ember.utils.summary: the forward pass raised in "
                           f"{where}. Layers executed so far:\n{stats}") from e
    finally:
        for h in handles:
            h.remove()
    stats = ModelStatistics(model, rows, input_bytes, col_names, col_width, depth, row_settings)
    if verbose:
        print(stats)
    return stats


def _forward_args(input_size, input_data, dtypes, batch_dim) -> tuple[list, dict]:
    if input_data is not None:
        if isinstance(input_data, dict):
            return [], dict(input_data)
        if isinstance(input_data, (tuple, list)):
            return list(input_data), {}
        return [input_data], {}
    if input_size is None:
        raise ValueError("summary needs input_size or input_data to run the forward pass")
    return _make_inputs(input_size, dtypes, batch_dim), {}


class _CallableModule(types.ModuleType):
    """``ember.utils.summary`` names both this module and the function: calling the
    module calls the function."""

    def __call__(self, *args, **kwargs) -> ModelStatistics:
        return summary(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
