"""``DataLoader``: iterate a dataset in (shuffled) batches.

Loading runs in the calling process: ``num_workers > 0`` is accepted for
compatibility and behaves like ``num_workers=0`` (NumPy-backed samples gain nothing
from worker processes, which would have to pickle them). ``get_worker_info()`` is
therefore always ``None``.

For a ``TensorDataset`` with the default collate function, batches are cut from the
dataset's tensors with one fancy-indexing (or slicing) operation per tensor instead of
collating per-sample tuples: same values, dtypes and shapes, far less Python work.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from ...backend import xp
from ...random import Generator
from ...tensor import Tensor
from ._collate import default_collate, default_convert
from .dataset import Dataset, IterableDataset, Subset, TensorDataset
from .sampler import BatchSampler, RandomSampler, Sampler, SequentialSampler

__all__ = ["DataLoader", "get_worker_info"]


def get_worker_info() -> None:
    """Information about the current loader worker: always ``None`` here, because loading
    runs in the main process."""
    return None


class _InfiniteConstantSampler(Sampler):
    def __iter__(self) -> Iterator[None]:
        while True:
            yield None


def _int_index(indices):
    """``indices`` as a 1-d integer array, or None where they are anything else (then the
    generic per-sample path keeps its exact semantics)."""
    try:
        arr = xp.asarray(indices._data if isinstance(indices, Tensor) else indices)
    except (TypeError, ValueError):
        return None
    if arr.ndim != 1 or arr.dtype.kind not in "iu" or arr.size == 0:
        return None
    return arr


def _take(t: Tensor, idx) -> Tensor:
    if t.requires_grad:
        return t[Tensor._make(idx)]
    return Tensor._make(t._data[idx])


class DataLoader:
    """Combine a dataset and a sampler into an iterable over batches.

    Args mirror ``torch.utils.data.DataLoader``: ``batch_size`` (``None`` disables
    batching), ``shuffle`` (with ``generator``, an ``ember.Generator``), ``sampler``,
    ``batch_sampler``, ``drop_last``, ``collate_fn``. ``num_workers``, ``pin_memory``,
    ``timeout``, ``worker_init_fn``, ``prefetch_factor`` and ``persistent_workers`` are
    validated like torch's but loading always runs in-process.

    Example:
        >>> import ember
        >>> from ember.utils.data import DataLoader, TensorDataset
        >>> ds = TensorDataset(ember.arange(5), ember.arange(5) * 10)
        >>> [x.tolist() for x, _ in DataLoader(ds, batch_size=2)]
        [[0, 1], [2, 3], [4]]
    """

    def __init__(self, dataset: Dataset, batch_size: int | None = 1,
                 shuffle: bool | None = None, sampler: Sampler | Iterable | None = None,
                 batch_sampler: Sampler | Iterable | None = None, num_workers: int = 0,
                 collate_fn: Callable | None = None, pin_memory: bool = False,
                 drop_last: bool = False, timeout: float = 0,
                 worker_init_fn: Callable | None = None, multiprocessing_context=None,
                 generator: Generator | None = None, *, prefetch_factor: int | None = None,
                 persistent_workers: bool = False, pin_memory_device: str = "",
                 in_order: bool = True) -> None:
        if num_workers < 0:
            raise ValueError("num_workers option should be non-negative; use num_workers=0 to "
                             "disable multiprocessing.")
        if timeout < 0:
            raise ValueError("timeout option should be non-negative")
        if num_workers == 0 and prefetch_factor is not None:
            raise ValueError("prefetch_factor option could only be specified in "
                             "multiprocessing.let num_workers > 0 to enable multiprocessing, "
                             "otherwise set prefetch_factor to None.")
        if persistent_workers and num_workers == 0:
            raise ValueError("persistent_workers option needs num_workers > 0")
        self.dataset = dataset
        self.num_workers = num_workers
        self.prefetch_factor = prefetch_factor
        self.pin_memory = pin_memory
        self.pin_memory_device = pin_memory_device
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self.multiprocessing_context = multiprocessing_context
        self.persistent_workers = persistent_workers
        self.in_order = in_order
        self._iterable = isinstance(dataset, IterableDataset)
        if self._iterable:
            if shuffle not in (False, None):
                raise ValueError("DataLoader with IterableDataset: expected unspecified shuffle "
                                 f"option, but got shuffle={shuffle}")
            if sampler is not None:
                raise ValueError("DataLoader with IterableDataset: expected unspecified sampler "
                                 f"option, but got sampler={sampler}")
            if batch_sampler is not None:
                raise ValueError("DataLoader with IterableDataset: expected unspecified "
                                 f"batch_sampler option, but got batch_sampler={batch_sampler}")
        shuffle = bool(shuffle)
        if sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("batch_sampler option is mutually exclusive with batch_size, "
                                 "shuffle, sampler, and drop_last")
            batch_size = None
            drop_last = False
        elif batch_size is None and drop_last:
            raise ValueError("batch_size=None option disables auto-batching and is mutually "
                             "exclusive with drop_last")
        if sampler is None:
            if self._iterable:
                sampler = _InfiniteConstantSampler()
            elif shuffle:
                sampler = RandomSampler(dataset, generator=generator)
            else:
                sampler = SequentialSampler(dataset)
        if batch_size is not None and batch_sampler is None:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)
        self.batch_size = batch_size
        self.drop_last = drop_last
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.generator = generator
        if collate_fn is None:
            collate_fn = default_collate if batch_sampler is not None else default_convert
        self.collate_fn = collate_fn

    @property
    def _auto_collation(self) -> bool:
        return self.batch_sampler is not None

    @property
    def _index_sampler(self):
        return self.batch_sampler if self._auto_collation else self.sampler

    def __len__(self) -> int:
        if self._iterable:
            n = len(self.dataset)  # type: ignore[arg-type]
            if self.batch_size is not None:
                n = n // self.batch_size if self.drop_last else -(-n // self.batch_size)
            return n
        return len(self._index_sampler)  # type: ignore[arg-type]

    def __iter__(self) -> Iterator[Any]:
        if self._iterable:
            return self._iter_iterable()
        if self._fast_tensor_path():
            return self._iter_tensor_dataset()
        return self._iter_map()

    def _tensor_source(self):
        """``(tensors, index map)`` when batches can be cut from tensors directly: the
        dataset is a ``TensorDataset`` (or a ``Subset`` of one, as ``random_split``
        makes) and the collate function is the default one."""
        ds = self.dataset
        if self.collate_fn is not default_collate or self.batch_sampler is None:
            return None
        if type(ds) is TensorDataset:
            return ds.tensors, None
        if type(ds) is Subset and type(ds.dataset) is TensorDataset:
            index = _int_index(ds.indices)
            return None if index is None else (ds.dataset.tensors, index)
        return None

    def _fast_tensor_path(self) -> bool:
        return self._tensor_source() is not None

    def _iter_tensor_dataset(self) -> Iterator[list]:
        tensors, index = self._tensor_source()
        bs = self.batch_sampler
        if not (type(bs) is BatchSampler and bs.sampler is not None
                and type(bs.sampler) in (SequentialSampler, RandomSampler)
                and bs.sampler.data_source is self.dataset):
            # any other batch sampler: one fancy-indexing per batch of its indices
            ds = self.dataset
            for indices in bs:
                sel = _int_index(indices)
                if sel is None:
                    yield default_collate([ds[i] for i in indices])
                    continue
                if index is not None:
                    sel = index[sel]
                yield [_take(t, sel) for t in tensors]
            return
        sequential = type(bs.sampler) is SequentialSampler and index is None
        if sequential:
            idx = None
            n = len(self.dataset)
        else:
            idx = bs.sampler._index_array()
            if index is not None:
                idx = index[idx]
            n = len(idx)
        size = bs.batch_size
        stop = n - n % size if bs.drop_last else n
        for start in range(0, stop, size):
            end = min(start + size, n)
            if sequential:
                # a copy, as stacking samples would make, so batches never alias the dataset
                yield [_take(t, slice(start, end)) if t.requires_grad
                       else Tensor._make(t._data[start:end].copy()) for t in tensors]
            else:
                sel = idx[start:end]
                yield [_take(t, sel) for t in tensors]

    def _iter_map(self) -> Iterator[Any]:
        ds = self.dataset
        collate = self.collate_fn
        if not self._auto_collation:
            for i in self.sampler:
                yield collate(ds[i])
            return
        getitems = getattr(ds, "__getitems__", None)
        for indices in self.batch_sampler:
            data = getitems(indices) if callable(getitems) else [ds[i] for i in indices]
            yield collate(data)

    def _iter_iterable(self) -> Iterator[Any]:
        it = iter(self.dataset)
        collate = self.collate_fn
        if not self._auto_collation:
            for item in it:
                yield collate(item)
            return
        size = self.batch_size
        if size is None:  # a custom batch_sampler is rejected for iterable datasets
            size = 1
        while True:
            batch = []
            for item in it:
                batch.append(item)
                if len(batch) == size:
                    break
            if not batch or (self.drop_last and len(batch) < size):
                return
            yield collate(batch)
            if len(batch) < size:
                return


