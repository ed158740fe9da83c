"""Packed and padded batches of variable-length sequences, as ``torch.nn.utils.rnn``.

A ``PackedSequence`` stores the time steps one after another: step ``t`` holds the
first ``batch_sizes[t]`` sequences of the batch sorted by decreasing length.

Example:
    >>> import ember
    >>> from ember.nn.utils.rnn import pack_sequence, pad_packed_sequence
    >>> p = pack_sequence([ember.tensor([1., 2., 3.]), ember.tensor([4.])])
    >>> p.data, p.batch_sizes
    (tensor([1., 4., 2., 3.]), tensor([2, 1, 1]))
    >>> pad_packed_sequence(p, batch_first=True)
    (tensor([[1., 2., 3.],
            [4., 0., 0.]]), tensor([3, 1]))
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Iterable

from ...backend import xp
from ...creation import full
from ...ops import cat, index_select
from ...ops._util import const_tensor
from ...tensor import Tensor

__all__ = ["PackedSequence", "invert_permutation", "pack_padded_sequence",
           "pad_packed_sequence", "pad_sequence", "unpad_sequence", "pack_sequence",
           "unpack_sequence"]


def _long(values) -> Tensor:
    return const_tensor(xp.asarray(values, dtype=xp.int64).reshape(-1))


class PackedSequence(namedtuple("PackedSequence_",
                                ["data", "batch_sizes", "sorted_indices", "unsorted_indices"])):
    """Holds the data and ``batch_sizes`` of a packed batch; ``sorted_indices`` (and its
    inverse ``unsorted_indices``) say how the batch was reordered by length, or are None.

    Example:
        >>> import ember
        >>> from ember.nn.utils.rnn import PackedSequence
        >>> PackedSequence(ember.ones(3), ember.tensor([2, 1])).batch_sizes
        tensor([2, 1])
    """

    def __new__(cls, data: Tensor, batch_sizes: Tensor | None = None,
                sorted_indices: Tensor | None = None, unsorted_indices: Tensor | None = None
                ) -> PackedSequence:
        if unsorted_indices is None:
            unsorted_indices = invert_permutation(sorted_indices)
        if batch_sizes is None:
            # PackedSequence((data, batch_sizes)) as made by the packing functions
            data, batch_sizes = data
        return super().__new__(cls, data, batch_sizes, sorted_indices, unsorted_indices)

    def to(self, *args, **kwargs) -> PackedSequence:
        """The same sequence with ``data`` converted by ``Tensor.to(*args, **kwargs)``."""
        data = self.data.to(*args, **kwargs)
        if data is self.data:
            return self
        return type(self)(data, self.batch_sizes, self.sorted_indices, self.unsorted_indices)

    def cpu(self, *args, **kwargs) -> PackedSequence:
        return self.to(device="cpu")

    def cuda(self, *args, **kwargs) -> PackedSequence:
        return self.to(device="cuda")

    def pin_memory(self) -> PackedSequence:
        return self

    def is_pinned(self) -> bool:
        return False

    @property
    def is_cuda(self) -> bool:
        return self.data.is_cuda

    def double(self) -> PackedSequence:
        return self.to(dtype=_dtypes().float64)

    def float(self) -> PackedSequence:
        return self.to(dtype=_dtypes().float32)

    def half(self) -> PackedSequence:
        return self.to(dtype=_dtypes().float16)

    def long(self) -> PackedSequence:
        return self.to(dtype=_dtypes().int64)

    def int(self) -> PackedSequence:
        return self.to(dtype=_dtypes().int32)

    def short(self) -> PackedSequence:
        return self.to(dtype=_dtypes().int16)

    def char(self) -> PackedSequence:
        return self.to(dtype=_dtypes().int8)

    def byte(self) -> PackedSequence:
        return self.to(dtype=_dtypes().uint8)


def _dtypes():
    from ... import dtypes
    return dtypes


def invert_permutation(permutation: Tensor | None) -> Tensor | None:
    """The inverse of a permutation of ``0..n-1`` (None stays None).

    Example:
        >>> import ember
        >>> from ember.nn.utils.rnn import invert_permutation
        >>> invert_permutation(ember.tensor([2, 0, 1]))
        tensor([1, 2, 0])
    """
    if permutation is None:
        return None
    return permutation.argsort()  # the inverse of a permutation is its argsort


def _lengths_array(lengths):
    if isinstance(lengths, Tensor):
        if lengths.ndim != 1:
            raise RuntimeError(f"'lengths' argument should be a 1D CPU int64 tensor, but got "
                               f"{lengths.ndim}D cpu Long tensor")
        lengths._host_read("numpy")  # read on the host, as in torch: the JIT guards it
        return lengths._data.astype(xp.int64)
    return xp.asarray(list(lengths), dtype=xp.int64).reshape(-1)


def pack_padded_sequence(input: Tensor, lengths: Tensor | list[int], batch_first: bool = False,
                         enforce_sorted: bool = True) -> PackedSequence:
    """Pack a padded batch ``(T, B, *)`` (``(B, T, *)`` if ``batch_first``) of sequences
    with the given lengths. With ``enforce_sorted`` the lengths must be decreasing;
    otherwise the batch is sorted here and the permutation is kept.

    Example:
        >>> import ember
        >>> from ember.nn.utils.rnn import pack_padded_sequence
        >>> x = ember.tensor([[1., 4.], [2., 0.], [3., 0.]])
        >>> pack_padded_sequence(x, [3, 1]).data
        tensor([1., 4., 2., 3.])
    """
    lengths = _lengths_array(lengths)
    bdim = 0 if batch_first else 1
    if enforce_sorted:
        if lengths.shape[0] > 1 and (xp.diff(lengths) > 0).any():
            raise RuntimeError("`lengths` array must be sorted in decreasing order when "
                               "`enforce_sorted` is True. You can pass `enforce_sorted=False` "
                               "to pack_padded_sequence and/or pack_sequence to sidestep this "
                               "requirement if you do not need ONNX exportability.")
        sorted_indices = None
    else:
        order = xp.argsort(-lengths, kind="stable")
        lengths = lengths[order]
        sorted_indices = _long(order)
        input = index_select(input, bdim, sorted_indices)
    if input.ndim < 2:
        raise RuntimeError(f"pack_padded_sequence: expected input of at least 2 dimensions, "
                           f"got {input.ndim}")
    seq_len, batch = (input.shape[1], input.shape[0]) if batch_first else input.shape[:2]
    if lengths.shape[0] != batch:
        raise RuntimeError(f"Expected `len(lengths)` to be equal to batch_size, but got "
                           f"{lengths.shape[0]} (batch_size={batch})")
    if batch and lengths.min() <= 0:
        raise RuntimeError("Length of all samples has to be greater than 0, but found an "
                           "element in 'lengths' that is <= 0")
    if batch and lengths.max() > seq_len:
        raise RuntimeError(f"pack_padded_sequence: a length of {int(lengths.max())} exceeds "
                           f"the sequence length {seq_len}")
    steps = int(lengths.max()) if batch else 0
    batch_sizes = (lengths[None, :] > xp.arange(steps)[:, None]).sum(1)
    # row index into the (T * B) flattened time-major input of every packed element
    t_idx, b_idx = xp.nonzero(xp.arange(steps)[:, None] < lengths[None, :])
    if batch_first:
        flat = input.reshape((batch * seq_len,) + tuple(input.shape[2:]))
        rows = b_idx * seq_len + t_idx
    else:
        flat = input.reshape((seq_len * batch,) + tuple(input.shape[2:]))
        rows = t_idx * batch + b_idx
    data = index_select(flat, 0, _long(rows))
    return PackedSequence(data, _long(batch_sizes), sorted_indices, None)


def pad_packed_sequence(sequence: PackedSequence, batch_first: bool = False,
                        padding_value: float = 0.0, total_length: int | None = None
                        ) -> tuple[Tensor, Tensor]:
    """Undo ``pack_padded_sequence``: the padded batch and the length of each sequence
    (in the original batch order).

    Example:
        >>> import ember
        >>> from ember.nn.utils.rnn import pack_sequence, pad_packed_sequence
        >>> p = pack_sequence([ember.tensor([1.]), ember.tensor([2., 3.])],
        ...                   enforce_sorted=False)
        >>> pad_packed_sequence(p, padding_value=-1.0)
        (tensor([[ 1.,  2.],
                [-1.,  3.]]), tensor([1, 2]))
    """
    data, bs_t, _, unsorted = sequence
    bs = bs_t._data.astype(xp.int64)
    steps = bs.shape[0]
    if total_length is not None:
        if total_length < steps:
            raise ValueError(f"Expected total_length to be at least the length of the longest "
                             f"sequence in input, but got total_length={total_length} and max "
                             f"sequence length being {steps}")
    else:
        total_length = steps
    batch = int(bs[0]) if steps else 0
    lengths = (bs[None, :] > xp.arange(batch)[:, None]).sum(1)
    # each padded slot (t, b) takes its packed row, or the extra padding row at the end
    offsets = xp.concatenate([xp.zeros(1, xp.int64), xp.cumsum(bs)])
    n = int(offsets[-1])
    t = xp.arange(total_length)[:, None]
    b = xp.arange(batch)[None, :]
    valid = t < lengths[None, :]
    rows = xp.where(valid, offsets[xp.minimum(t, max(steps - 1, 0))] + b, n)
    rest = tuple(data.shape[1:])
    pad_row = full((1,) + rest, padding_value, dtype=data.dtype, device=data.device)
    padded = index_select(cat([data, pad_row], 0), 0, _long(rows))
    padded = padded.reshape((total_length, batch) + rest)
    lengths_t = _long(lengths)
    if unsorted is not None:
        padded = index_select(padded, 1, unsorted)
        lengths_t = _long(lengths[unsorted._data])
    if batch_first:
        padded = padded.transpose(0, 1)
    return padded, lengths_t


def pad_sequence(sequences: Tensor | list[Tensor], batch_first: bool = False,
                 padding_value: float = 0.0, padding_side: str = "right") -> Tensor:
    """Stack sequences of shapes ``(L_i, *)`` into ``(max L, B, *)`` (``(B, max L, *)`` if
    ``batch_first``), filling with ``padding_value`` on ``padding_side``.

    Example:
        >>> import ember
        >>> from ember.nn.utils.rnn import pad_sequence
        >>> pad_sequence([ember.tensor([1., 2.]), ember.tensor([3.])], batch_first=True)
        tensor([[1., 2.],
                [3., 0.]])
    """
    if padding_side not in ("left", "right"):
        raise RuntimeError(f"Expected padding_side to be one of left or right, but got "
                           f"{padding_side}.")
    if isinstance(sequences, Tensor):
        sequences = sequences.unbind(0)
    sequences = list(sequences) if isinstance(sequences, Iterable) else sequences
    if len(sequences) == 0:
        raise RuntimeError("received an empty list of sequences")
    lens = xp.asarray([s.shape[0] if s.ndim else 1 for s in sequences], dtype=xp.int64)
    sequences = [s.reshape(1) if s.ndim == 0 else s for s in sequences]
    rest = tuple(sequences[0].shape[1:])
    for s in sequences[1:]:
        if tuple(s.shape[1:]) != rest:
            raise RuntimeError(f"pad_sequence: the trailing dimensions of every sequence must "
                               f"match, got {list(rest)} and {list(s.shape[1:])}")
    longest = int(lens.max())
    starts = xp.concatenate([xp.zeros(1, xp.int64), xp.cumsum(lens)])
    n = int(starts[-1])
    t = xp.arange(longest)[None, :]
    shift = (longest - lens)[:, None] if padding_side == "left" else 0
    pos = t - shift
    rows = xp.where((pos >= 0) & (pos < lens[:, None]), starts[:-1, None] + pos, n)
    dt = sequences[0].dtype
    pad_row = full((1,) + rest, padding_value, dtype=dt, device=sequences[0].device)
    out = index_select(cat(sequences + [pad_row], 0), 0, _long(rows))
    out = out.reshape((len(sequences), longest) + rest)
    return out if batch_first else out.transpose(0, 1)


def unpad_sequence(padded_sequences: Tensor, lengths: Tensor, batch_first: bool = False
                   ) -> list[Tensor]:
    """Split a padded batch back into its sequences, given their lengths.

    Example:
        >>> import ember
        >>> from ember.nn.utils.rnn import unpad_sequence
        >>> unpad_sequence(ember.tensor([[1., 3.], [2., 0.]]), ember.tensor([2, 1]))
        [tensor([1., 2.]), tensor([3.])]
    """
    if not batch_first:
        padded_sequences = padded_sequences.transpose(0, 1)
    return [padded_sequences[i, :int(n)] for i, n in enumerate(_lengths_array(lengths))]


def pack_sequence(sequences: list[Tensor], enforce_sorted: bool = True) -> PackedSequence:
    """Pack a list of sequences of shapes ``(L_i, *)``.

    Example:
        >>> import ember
        >>> from ember.nn.utils.rnn import pack_sequence
        >>> pack_sequence([ember.tensor([1., 2.]), ember.tensor([3.])]).data
        tensor([1., 3., 2.])
    """
    lengths = [s.shape[0] for s in sequences]
    return pack_padded_sequence(pad_sequence(sequences), lengths,
                                enforce_sorted=enforce_sorted)


def unpack_sequence(packed_sequences: PackedSequence) -> list[Tensor]:
    """The list of sequences in a packed batch (in the original order).

    Example:
        >>> import ember
        >>> from ember.nn.utils.rnn import pack_sequence, unpack_sequence
        >>> unpack_sequence(pack_sequence([ember.tensor([1.]), ember.tensor([2., 3.])],
        ...                               enforce_sorted=False))
        [tensor([1.]), tensor([2., 3.])]
    """
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)
