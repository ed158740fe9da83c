"""ember.utils.data against torch.utils.data: datasets, samplers, collation, DataLoader."""

import collections

import numpy as np
import pytest

import ember
from ember.utils import data as ed

torch = pytest.importorskip("torch")
from torch.utils import data as td  # noqa: E402

Point = collections.namedtuple("Point", ["x", "y"])


def _to_np(x):
    """Nested ember/torch structures to comparable Python/NumPy values."""
    if isinstance(x, ember.Tensor):
        return ("T", str(x.dtype).split(".")[1], x.detach().numpy().tolist())
    if isinstance(x, torch.Tensor):
        return ("T", str(x.dtype).split(".")[1], x.detach().numpy().tolist())
    if isinstance(x, dict):
        return {k: _to_np(v) for k, v in x.items()}
    if isinstance(x, tuple) and hasattr(x, "_fields"):
        return (type(x).__name__, *(_to_np(v) for v in x))
    if isinstance(x, (list, tuple)):
        return (type(x).__name__, *(_to_np(v) for v in x))
    return x


def _both(make):
    """Make one sample structure for ember and one for torch from the same recipe."""
    return make(ember.tensor), make(torch.tensor)


COLLATE_CASES = [
    lambda T: [T([1.0, 2.0]), T([3.0, 4.0])],
    lambda T: [T(1), T(2), T(3)],
    lambda T: [T(True), T(False)],
    lambda T: [np.arange(3, dtype=np.float32), np.ones(3, dtype=np.float32)],
    lambda T: [np.int16(3), np.int16(4)],
    lambda T: [np.float64(1.5), np.float64(2.5)],
    lambda T: [1.5, 2.0],
    lambda T: [1, 2, 3],
    lambda T: [True, False],
    lambda T: ["a", "b"],
    lambda T: [(T([1.0]), 1, "a"), (T([2.0]), 2, "b")],
    lambda T: [[T(1.0), 2.0], [T(3.0), 4.0]],
    lambda T: [{"x": T([1, 2]), "y": 0.5, "n": {"s": "u"}}, {"x": T([3, 4]), "y": 1.5,
                                                             "n": {"s": "v"}}],
    lambda T: [Point(T(1.0), 2), Point(T(3.0), 4)],
    lambda T: [collections.OrderedDict(a=1, b=np.zeros(2)),
               collections.OrderedDict(a=2, b=np.ones(2))],
    lambda T: [T(np.zeros((0, 2))), T(np.zeros((0, 2)))],
]


@pytest.mark.parametrize("i", range(len(COLLATE_CASES)))
def test_default_collate_matches_torch(i):
    eb, tb = _both(COLLATE_CASES[i])
    e, t = ed.default_collate(eb), td.default_collate(tb)
    assert _to_np(e) == _to_np(t)
    assert type(e).__name__ == type(t).__name__


@pytest.mark.parametrize("batch,exc,msg", [
    (lambda T: [T([1.0, 2.0]), T([1.0])], RuntimeError,
     r"stack expects each tensor to be equal size, but got \[2\] at entry 0 and \[1\] at entry 1"),
    (lambda T: [[1, 2], [3]], RuntimeError, "each element in list of batch should be of equal"),
    (lambda T: [object(), object()], TypeError, "default_collate: batch must contain tensors"),
    (lambda T: [np.array(["a"]), np.array(["b"])], TypeError, "found <U1"),
])
def test_default_collate_errors_like_torch(batch, exc, msg):
    eb, tb = _both(batch)
    with pytest.raises(exc, match=msg):
        td.default_collate(tb)
    with pytest.raises(exc, match=msg):
        ed.default_collate(eb)


def test_default_convert_matches_torch():
    for sample in [(np.zeros(2), 3), {"a": np.float32(2.0), "b": "s"}, [np.int64(1), 2.0],
                   Point(np.ones(1), "q")]:
        assert _to_np(ed.default_convert(sample)) == _to_np(td.default_convert(sample))


def test_datasets_match_torch():
    x = np.arange(12.0).reshape(6, 2)
    y = np.arange(6)
    eds, tds = ed.TensorDataset(ember.tensor(x), ember.tensor(y)), \
        td.TensorDataset(torch.tensor(x), torch.tensor(y))
    assert len(eds) == len(tds) == 6
    for i in [0, 3, -1]:
        assert _to_np(eds[i]) == _to_np(tds[i])
    with pytest.raises(AssertionError, match="Size mismatch between tensors"):
        ed.TensorDataset(ember.zeros(2), ember.zeros(3))
    cat_e = ed.ConcatDataset([list(range(3)), list(range(10, 12)), [], [99]])
    cat_t = td.ConcatDataset([list(range(3)), list(range(10, 12)), [], [99]])
    assert cat_e.cumulative_sizes == cat_t.cumulative_sizes
    assert [cat_e[i] for i in range(-6, 6)] == [cat_t[i] for i in range(-6, 6)]
    with pytest.raises(ValueError, match="absolute value of index"):
        cat_e[-7]
    with pytest.raises(AssertionError, match="empty iterable"):
        ed.ConcatDataset([])
    sub = ed.Subset(list("abcdef"), [5, 1, 3])
    assert len(sub) == 3 and [sub[i] for i in range(3)] == ["f", "b", "d"]
    assert isinstance(eds + eds, ed.ConcatDataset) and len(eds + eds) == 12
    stack = ed.StackDataset(a=[1, 2], b=["x", "y"])
    assert stack[0] == td.StackDataset(a=[1, 2], b=["x", "y"])[0]


@pytest.mark.parametrize("lengths", [[3, 7], [0.5, 0.5], [0.3, 0.3, 0.4], [0.33, 0.33, 0.34],
                                     [0.25, 0.25, 0.25, 0.25], [10, 0]])
def test_random_split_sizes_match_torch(lengths):
    ds = list(range(10))
    e = ed.random_split(ds, lengths, generator=ember.Generator().manual_seed(1))
    t = td.random_split(ds, lengths, generator=torch.Generator().manual_seed(1))
    assert [len(s) for s in e] == [len(s) for s in t]
    assert sorted(v for s in e for v in s) == ds
    again = ed.random_split(ds, lengths, generator=ember.Generator().manual_seed(1))
    assert [list(s) for s in again] == [list(s) for s in e]


def test_random_split_errors():
    with pytest.raises(ValueError, match="Sum of input lengths does not equal"):
        ed.random_split(range(10), [3, 3])
    with pytest.raises(ValueError, match="Fraction at index 0 is not between 0 and 1"):
        ed.random_split(range(10), [1.5, -0.5])


def test_samplers():
    assert list(ed.SequentialSampler(range(4))) == [0, 1, 2, 3]
    g = ember.Generator().manual_seed(0)
    s = ed.RandomSampler(range(7), generator=g)
    a, b = list(s), list(s)
    assert sorted(a) == sorted(b) == list(range(7)) and a != b  # a fresh order every epoch
    g.manual_seed(0)
    assert list(s) == a
    s = ed.RandomSampler(range(5), num_samples=12, generator=g)
    out = list(s)
    assert len(out) == len(s) == 12 and sorted(out[:10]) == sorted(list(range(5)) * 2)
    s = ed.RandomSampler(range(3), replacement=True, num_samples=50, generator=g)
    out = list(s)
    assert len(out) == 50 and set(out) <= {0, 1, 2}
    ember.manual_seed(3)
    a = list(ed.RandomSampler(range(20)))
    ember.manual_seed(3)
    assert list(ed.RandomSampler(range(20))) == a
    sub = ed.SubsetRandomSampler([10, 20, 30], generator=g)
    assert sorted(sub) == [10, 20, 30] and len(sub) == 3
    w = ed.WeightedRandomSampler([0.0, 1.0, 0.0, 3.0], 40, generator=g)
    out = list(w)
    assert len(out) == 40 and set(out) == {1, 3}
    w = ed.WeightedRandomSampler([1.0, 1.0, 0.5], 3, replacement=False, generator=g)
    assert sorted(w) == [0, 1, 2]
    bs = ed.BatchSampler(range(7), 3, drop_last=False)
    tbs = td.BatchSampler(range(7), 3, drop_last=False)
    assert list(bs) == list(tbs) and len(bs) == len(tbs)
    bs = ed.BatchSampler(range(7), 3, drop_last=True)
    assert list(bs) == list(td.BatchSampler(range(7), 3, drop_last=True)) and len(bs) == 2


@pytest.mark.parametrize("make,msg", [
    (lambda m: m.RandomSampler(range(3), replacement=1), "replacement should be a boolean"),
    (lambda m: m.RandomSampler(range(3), num_samples=0), "num_samples should be a positive"),
    (lambda m: m.RandomSampler([]), "num_samples should be a positive integer value, but got "
                                    "num_samples=0"),
    (lambda m: m.BatchSampler(range(3), 0, False), "batch_size should be a positive integer"),
    (lambda m: m.BatchSampler(range(3), True, False), "batch_size should be a positive"),
    (lambda m: m.BatchSampler(range(3), 2, 1), "drop_last should be a boolean value"),
    (lambda m: m.WeightedRandomSampler([[1.0]], 2), "weights should be a 1d sequence"),
    (lambda m: m.WeightedRandomSampler([1.0], 0), "num_samples should be a positive"),
])
def test_sampler_errors_match_torch(make, msg):
    with pytest.raises((ValueError, TypeError), match=msg) as te:
        make(td)
    with pytest.raises(te.type, match=msg):
        make(ed)


def _tensor_ds(n=10):
    x = np.arange(n * 3, dtype=np.float32).reshape(n, 3)
    y = np.arange(n) % 3
    return ed.TensorDataset(ember.tensor(x), ember.tensor(y)), \
        td.TensorDataset(torch.tensor(x), torch.tensor(y))


@pytest.mark.parametrize("kw", [dict(), dict(batch_size=4), dict(batch_size=4, drop_last=True),
                                dict(batch_size=3), dict(batch_size=None),
                                dict(batch_size=20)])
def test_sequential_loader_matches_torch(kw):
    e, t = _tensor_ds()
    el, tl = ed.DataLoader(e, **kw), td.DataLoader(t, **kw)
    assert len(el) == len(tl)
    assert [_to_np(b) for b in el] == [_to_np(b) for b in tl]


class _ListDS(ed.Dataset):
    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return {"i": i, "x": np.full(2, i, dtype=np.float32), "name": f"s{i}"}


class _TListDS(td.Dataset):
    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return {"i": i, "x": np.full(2, i, dtype=np.float32), "name": f"s{i}"}


def test_map_dataset_loader_matches_torch():
    el = ed.DataLoader(_ListDS(7), batch_size=3)
    tl = td.DataLoader(_TListDS(7), batch_size=3)
    assert [_to_np(b) for b in el] == [_to_np(b) for b in tl]
    bs = [[0, 6], [3], [1, 2, 4]]
    el = ed.DataLoader(_ListDS(7), batch_sampler=bs)
    tl = td.DataLoader(_TListDS(7), batch_sampler=bs)
    assert len(el) == 3 and [_to_np(b) for b in el] == [_to_np(b) for b in tl]
    el = ed.DataLoader(_ListDS(7), sampler=[5, 1], batch_size=2, collate_fn=lambda b: b)
    assert [[s["i"] for s in b] for b in el] == [[5, 1]]


def test_shuffle_fast_path_equals_generic_path():
    e, _ = _tensor_ds(11)
    g1, g2 = ember.Generator().manual_seed(5), ember.Generator().manual_seed(5)
    fast = ed.DataLoader(e, batch_size=4, shuffle=True, generator=g1)
    slow = ed.DataLoader(e, batch_size=4, shuffle=True, generator=g2,
                         collate_fn=lambda b: ed.default_collate(b))
    assert fast._fast_tensor_path() and not slow._fast_tensor_path()
    for _ in range(2):
        fb, sb = list(fast), list(slow)
        assert [_to_np(b) for b in fb] == [_to_np(b) for b in sb]
    seen = np.concatenate([b[1].numpy() for b in fb])
    assert sorted(seen.tolist()) == sorted((np.arange(11) % 3).tolist())
    # batches are copies: writing into one leaves the dataset alone
    batch = next(iter(ed.DataLoader(e, batch_size=4)))
    batch[0].numpy()[:] = -1
    assert float(e.tensors[0][0, 0]) == 0.0
    dl = ed.DataLoader(e, batch_size=4, shuffle=True, drop_last=True, generator=g1)
    assert len(dl) == 2 and [len(b[0]) for b in dl] == [4, 4]


class _Stream(ed.IterableDataset):
    def __init__(self, n, with_len=True):
        self.n = n
        if with_len:
            self.__class__ = _SizedStream

    def __iter__(self):
        return iter(range(self.n))


class _SizedStream(_Stream):
    def __len__(self):
        return self.n


class _TStream(td.IterableDataset):
    def __init__(self, n):
        self.n = n

    def __iter__(self):
        return iter(range(self.n))

    def __len__(self):
        return self.n


@pytest.mark.parametrize("kw", [dict(batch_size=3), dict(batch_size=3, drop_last=True),
                                dict(batch_size=None), dict(batch_size=2)])
def test_iterable_dataset_loader_matches_torch(kw):
    el, tl = ed.DataLoader(_Stream(7), **kw), td.DataLoader(_TStream(7), **kw)
    assert len(el) == len(tl)
    assert [_to_np(b) for b in el] == [_to_np(b) for b in tl]
    assert [_to_np(b) for b in el] == [_to_np(b) for b in tl]  # iterable twice


def test_iterable_dataset_without_len():
    dl = ed.DataLoader(_Stream(5, with_len=False), batch_size=2)
    assert [b.tolist() for b in dl] == [[0, 1], [2, 3], [4]]
    with pytest.raises(TypeError):
        len(dl)


@pytest.mark.parametrize("kw,msg", [
    (dict(num_workers=-1), "num_workers option should be non-negative"),
    (dict(timeout=-1), "timeout option should be non-negative"),
    (dict(prefetch_factor=2), "prefetch_factor option could only be specified"),
    (dict(persistent_workers=True), "persistent_workers option needs num_workers > 0"),
    (dict(sampler=[0, 1], shuffle=True), "sampler option is mutually exclusive with shuffle"),
    (dict(batch_sampler=[[0]], batch_size=2), "batch_sampler option is mutually exclusive"),
    (dict(batch_sampler=[[0]], drop_last=True), "batch_sampler option is mutually exclusive"),
    (dict(batch_size=None, drop_last=True), "batch_size=None option disables auto-batching"),
])
def test_loader_errors_match_torch(kw, msg):
    e, t = _tensor_ds()
    with pytest.raises(ValueError, match=msg):
        td.DataLoader(t, **kw)
    with pytest.raises(ValueError, match=msg):
        ed.DataLoader(e, **kw)


def test_iterable_loader_errors_match_torch():
    for kw, msg in [(dict(shuffle=True), "expected unspecified shuffle option"),
                    (dict(sampler=[0]), "expected unspecified sampler option"),
                    (dict(batch_sampler=[[0]]), "expected unspecified batch_sampler option")]:
        with pytest.raises(ValueError, match=msg):
            td.DataLoader(_TStream(3), **kw)
        with pytest.raises(ValueError, match=msg):
            ed.DataLoader(_Stream(3), **kw)


def test_num_workers_runs_in_process():
    e, t = _tensor_ds()
    el = ed.DataLoader(e, batch_size=4, num_workers=2, prefetch_factor=2,
                       persistent_workers=True)
    assert [_to_np(b) for b in el] == [_to_np(b) for b in td.DataLoader(t, batch_size=4)]
    assert ed.get_worker_info() is None


def test_training_loop_with_loader():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 3)).astype(np.float32)
    y = x @ np.array([2.0, -1.0, 0.5], dtype=np.float32)
    ds = ed.TensorDataset(ember.tensor(x), ember.tensor(y))
    w = ember.zeros(3, requires_grad=True)
    opt = ember.optim.SGD([w], lr=0.1)
    for _ in range(30):
        for xb, yb in ed.DataLoader(ds, batch_size=16, shuffle=True):
            opt.zero_grad()
            ((xb @ w - yb) ** 2).mean().backward()
            opt.step()
    np.testing.assert_allclose(w.detach().numpy(), [2.0, -1.0, 0.5], atol=1e-3)


def test_random_split_subset_fast_path_equals_generic_path():
    e, _ = _tensor_ds(13)
    train, _ = ed.random_split(e, [0.6, 0.4], generator=ember.Generator().manual_seed(0))
    for shuffle in (False, True):
        fast = ed.DataLoader(train, batch_size=3, shuffle=shuffle,
                             generator=ember.Generator().manual_seed(2))
        slow = ed.DataLoader(train, batch_size=3, shuffle=shuffle,
                             generator=ember.Generator().manual_seed(2),
                             collate_fn=lambda b: ed.default_collate(b))
        assert fast._fast_tensor_path() and not slow._fast_tensor_path()
        assert [_to_np(b) for b in fast] == [_to_np(b) for b in slow]


@pytest.mark.parametrize("sampler_kind", ["subset_random", "weighted", "batch_list", "list"])
def test_other_samplers_fast_path_equals_generic_path(sampler_kind):
    e, _ = _tensor_ds(9)

    def loader(collate):
        g = ember.Generator().manual_seed(4)
        kw = dict(collate_fn=collate) if collate else {}
        if sampler_kind == "subset_random":
            return ed.DataLoader(e, batch_size=2, sampler=ed.SubsetRandomSampler([1, 3, 5, 8],
                                                                                  generator=g),
                                 **kw)
        if sampler_kind == "weighted":
            return ed.DataLoader(e, batch_size=4, sampler=ed.WeightedRandomSampler(
                [1.0] * 9, 10, generator=g), **kw)
        if sampler_kind == "batch_list":
            return ed.DataLoader(e, batch_sampler=[[0, -1], [4], [2, 2, 7]], **kw)
        return ed.DataLoader(e, batch_size=3, sampler=[8, 0, 4, 4], **kw)

    fast, slow = loader(None), loader(lambda b: ed.default_collate(b))
    assert fast._fast_tensor_path() and not slow._fast_tensor_path()
    assert [_to_np(b) for b in fast] == [_to_np(b) for b in slow]
