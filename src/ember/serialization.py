"""``ember.save`` / ``ember.load``: safe serialization in the safetensors format.

A file is a plain safetensors file: every tensor of the saved object is stored under a
name derived from where it sits (``"weight"``, ``"state.0.exp_avg"``), and the shape of
the object around the tensors (dicts, lists, tuples, numbers, strings, ``None``) is
JSON in the file's ``__metadata__`` under ``"ember.structure"``. Nothing is pickled, so
loading never runs code from the file. A state dict saved here is readable by any
safetensors reader, and ``load`` reads files written by other tools (as a flat
``{name: tensor}`` dict).

Loading checks the header before any tensor is read (length, JSON, dtypes, shapes,
offsets) and reports any problem as :class:`SerializationError`, so a corrupt or
hostile file gives a clear error, never a crash, a hang or a huge allocation. Saving
to a path is atomic: a temporary file in the same directory is written, flushed,
fsynced and renamed over the target, so a crash leaves the old file intact.

Example:
    >>> import ember, tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "ckpt.safetensors")
    >>> ember.save({"w": ember.ones(2), "step": 3, "name": "run1"}, path)
    >>> ember.load(path)
    {'w': tensor([1., 1.]), 'step': 3, 'name': 'run1'}
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections import OrderedDict
from typing import IO, Any

from . import dtypes
from .backend import xp
from .tensor import Tensor, _check_device
from .tensor import device as _device

__all__ = ["save", "load", "SerializationError"]

#: Header lengths above this are rejected before anything is read (safetensors' own cap).
MAX_HEADER_BYTES = 100_000_000
_STRUCT_KEY = "ember.structure"
_FORMAT_KEY = "ember.format"
_FORMAT = "1"
_MAX_DEPTH = 200

# safetensors dtype names -> NumPy dtypes ember supports
_ST_TO_NP = {"BOOL": xp.dtype(xp.bool_), "U8": xp.dtype(xp.uint8), "I8": xp.dtype(xp.int8),
             "I16": xp.dtype(xp.int16), "I32": xp.dtype(xp.int32),
             "I64": xp.dtype(xp.int64), "F16": xp.dtype(xp.float16),
             "F32": xp.dtype(xp.float32), "F64": xp.dtype(xp.float64)}
# dtypes safetensors knows that ember has no type for (BF16 is widened to float32)
_ST_OTHER = {"BF16": 2, "U16": 2, "U32": 4, "U64": 8, "F8_E4M3": 1, "F8_E5M2": 1,
             "F8_E8M0": 1, "F4": 1, "F6_E2M3": 1, "F6_E3M2": 1, "C64": 8}


class SerializationError(RuntimeError):
    """A file could not be read (malformed, truncated, unsupported) or an object could not
    be written by ``ember.save``/``ember.load``."""


# ---- saving -------------------------------------------------------------------------------

class _Encoder:
    """Turn an object into a JSON-able structure plus a {name: array} dict."""

    def __init__(self) -> None:
        self.arrays: dict[str, Any] = {}
        self.by_id: dict[int, str] = {}
        self.keep: list = []  # keeps encoded tensors alive so ids stay unique

    def _name(self, path: list[str]) -> str:
        base = ".".join(path) or "tensor"
        name, n = base, 1
        while name in self.arrays or name == "__metadata__":
            name = f"{base}#{n}"
            n += 1
        return name

    def encode(self, obj: Any, path: list[str], depth: int = 0):
        if depth > _MAX_DEPTH:
            raise ValueError(f"ember.save: object nested deeper than {_MAX_DEPTH} levels")
        if isinstance(obj, Tensor):
            return self._tensor(obj, path)
        if obj is None:
            return ["none"]
        if isinstance(obj, bool):
            return ["bool", obj]
        if isinstance(obj, int):
            return ["int", str(int(obj))]
        if isinstance(obj, float):
            return ["float", repr(float(obj))]
        if isinstance(obj, str):
            return ["str", obj]
        if isinstance(obj, dtypes.DType):
            return ["dtype", obj.name]
        if isinstance(obj, _device):
            return ["device", str(obj)]
        if isinstance(obj, xp.generic) and obj.dtype.kind in "biuf":
            return self.encode(obj.item(), path, depth)
        if isinstance(obj, dict):
            kind = "odict" if isinstance(obj, OrderedDict) else "dict"
            items = []
            for k, v in obj.items():
                if not isinstance(k, (str, int, float, bool, type(None), tuple)):
                    raise TypeError(f"ember.save: unsupported dict key type {type(k).__name__} "
                                    f"at {'.'.join(path) or '<root>'}")
                items.append([self.encode(k, path + ["key"], depth + 1),
                              self.encode(v, path + [str(k)], depth + 1)])
            return [kind, items]
        if isinstance(obj, (list, tuple)):
            kind = "list" if isinstance(obj, list) else "tuple"
            return [kind, [self.encode(v, path + [str(i)], depth + 1)
                           for i, v in enumerate(obj)]]
        raise TypeError(f"ember.save: cannot save an object of type {type(obj).__name__} "
                        f"(at {'.'.join(path) or '<root>'}); supported are tensors, dicts, "
                        "lists, tuples, ints, floats, bools, strings and None")

    def _tensor(self, t: Tensor, path: list[str]):
        from .nn.parameter import Parameter
        kind = "param" if isinstance(Parameter, type) and isinstance(t, Parameter) \
            and Parameter is not Tensor else "tensor"
        name = self.by_id.get(id(t))
        if name is None:
            name = self._name(path)
            self.by_id[id(t)] = name
            self.keep.append(t)
            arr = t._data
            # (not ascontiguousarray: it turns 0-d arrays into 1-d ones)
            self.arrays[name] = arr if arr.flags.c_contiguous else arr.copy(order="C")
        return [kind, name, bool(t.requires_grad)]


def _umask() -> int:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    old = os.umask(0o022)
    os.umask(old)
    return old


def _atomic_write(path: str, payload: bytes) -> None:
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp",
                               dir=directory)
    try:
        try:
            mode = os.stat(path).st_mode & 0o7777
        except OSError:
            mode = 0o666 & ~_umask()
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    try:  # make the rename itself durable
        dfd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError:
        pass


def save(obj: Any, f: str | os.PathLike | IO[bytes]) -> None:
    """Save tensors, state dicts and nested dicts/lists/tuples of tensors, numbers,
    strings and ``None`` to ``f`` (a path, written atomically, or a binary file object)
    as a safetensors file.

    Example:
        >>> import ember, io
        >>> buf = io.BytesIO()
        >>> ember.save({"a": ember.arange(3), "b": [1.5, None]}, buf)
        >>> _ = buf.seek(0); ember.load(buf)
        {'a': tensor([0, 1, 2]), 'b': [1.5, None]}
    """
    from safetensors.numpy import save as st_save
    enc = _Encoder()
    structure = enc.encode(obj, [])
    meta = {_FORMAT_KEY: _FORMAT, _STRUCT_KEY: json.dumps(structure, separators=(",", ":"),
                                                          allow_nan=False)}
    payload = st_save(enc.arrays, metadata=meta)
    if isinstance(f, (str, os.PathLike)):
        _atomic_write(f, payload)
        return
    if not hasattr(f, "write"):
        raise TypeError(f"ember.save: f must be a path or a binary file object, got "
                        f"{type(f).__name__}")
    f.write(payload)
    if hasattr(f, "flush"):
        f.flush()


# ---- loading ------------------------------------------------------------------------------

def _fail(name: str, what: str):
    raise SerializationError(f"ember.load: {name}: {what}")


def _is_uint(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


def _parse_header(data: bytes | memoryview, name: str) -> tuple[dict, dict, int]:
    """Validate the safetensors header; return (entries, metadata, data start)."""
    size = len(data)
    if size < 8:
        _fail(name, f"file is {size} bytes, too short for a safetensors header (8-byte length "
                    "prefix missing; empty or truncated file)")
    if bytes(data[:4]) == b"PK\x03\x04":
        _fail(name, "this is a zip archive (a torch.save pickle file?), not a safetensors "
                    "file; ember only reads safetensors files, which cannot run code")
    n = int.from_bytes(bytes(data[:8]), "little")
    if n > MAX_HEADER_BYTES:
        _fail(name, f"header length {n} is larger than the {MAX_HEADER_BYTES}-byte limit "
                    "(not a safetensors file, or corrupt)")
    if n > size - 8:
        _fail(name, f"header length {n} is larger than the {size - 8} bytes after the length "
                    "prefix (truncated or not a safetensors file)")
    try:
        header = json.loads(bytes(data[8:8 + n]).decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        _fail(name, f"header is not valid JSON ({type(e).__name__}: {e})")
    if not isinstance(header, dict):
        _fail(name, f"header must be a JSON object, got {type(header).__name__}")
    meta = header.pop("__metadata__", None)
    if meta is None:
        meta = {}
    if not isinstance(meta, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                             for k, v in meta.items()):
        _fail(name, "__metadata__ must be an object of string values")
    start = 8 + n
    data_len = size - start
    spans = []
    for key, e in header.items():
        where = f"tensor {key!r}"
        if not isinstance(e, dict):
            _fail(name, f"{where}: entry must be an object, got {type(e).__name__}")
        missing = {"dtype", "shape", "data_offsets"} - set(e)
        if missing:
            _fail(name, f"{where}: entry lacks {sorted(missing)}")
        dt = e["dtype"]
        if not isinstance(dt, str) or (dt not in _ST_TO_NP and dt not in _ST_OTHER):
            _fail(name, f"{where}: unknown dtype {dt!r}")
        if dt not in _ST_TO_NP and dt != "BF16":
            _fail(name, f"{where}: dtype {dt} is not supported by ember "
                        f"(supported: {', '.join(_ST_TO_NP)}, BF16)")
        shape = e["shape"]
        if not isinstance(shape, list) or not all(_is_uint(s) for s in shape):
            _fail(name, f"{where}: shape must be a list of non-negative integers, got {shape!r}")
        offs = e["data_offsets"]
        if (not isinstance(offs, list) or len(offs) != 2 or not all(_is_uint(o) for o in offs)
                or offs[0] > offs[1]):
            _fail(name, f"{where}: data_offsets must be [begin, end] with 0 <= begin <= end, "
                        f"got {offs!r}")
        if offs[1] > data_len:
            _fail(name, f"{where}: data_offsets {offs} run past the {data_len}-byte data "
                        "section (truncated file?)")
        itemsize = _ST_TO_NP[dt].itemsize if dt in _ST_TO_NP else _ST_OTHER[dt]
        nbytes = math.prod(shape) * itemsize
        if nbytes != offs[1] - offs[0]:
            _fail(name, f"{where}: shape {shape} of {dt} needs {nbytes} bytes but "
                        f"data_offsets {offs} span {offs[1] - offs[0]}")
        spans.append((offs[0], offs[1], key))
    spans.sort()
    pos, prev = 0, None
    for b, e_, key in spans:
        if b < pos:
            _fail(name, f"tensor {key!r}: data_offsets [{b}, {e_}] overlap tensor {prev!r}")
        if b > pos:
            _fail(name, f"tensor {key!r}: {b - pos} unused bytes before its data at offset {b}")
        pos, prev = e_, key
    if pos != data_len:
        _fail(name, f"data section is {data_len} bytes but the tensors cover {pos} "
                    "(trailing bytes or wrong offsets)")
    return header, meta, start


def _read_arrays(data: bytes, header: dict, start: int, name: str) -> dict[str, Any]:
    plain = {k: e for k, e in header.items() if e["dtype"] in _ST_TO_NP}
    out: dict[str, Any] = {}
    if plain:
        from safetensors.numpy import load as st_load
        try:
            if len(plain) == len(header):
                out = st_load(bytes(data))
            else:  # leave BF16 entries to the widening below
                out = {}
                for k, e in plain.items():
                    b, end = e["data_offsets"]
                    out[k] = xp.frombuffer(data, dtype=_ST_TO_NP[e["dtype"]].newbyteorder("<"),
                                           count=(end - b) // _ST_TO_NP[e["dtype"]].itemsize,
                                           offset=start + b).reshape(e["shape"]).copy()
        except Exception as e:  # noqa: BLE001 - any reader failure is a bad file
            _fail(name, f"safetensors could not read the data ({type(e).__name__}: {e})")
    for k, e in header.items():
        if e["dtype"] == "BF16":
            b, end = e["data_offsets"]
            raw = xp.frombuffer(data, dtype="<u2", count=(end - b) // 2, offset=start + b)
            out[k] = (raw.astype(xp.uint32) << 16).view(xp.float32).reshape(e["shape"])
    for k, a in out.items():
        if not a.flags.writeable:
            out[k] = a.copy()
    return out


def _decode(node, arrays: dict, made: dict, name: str, depth: int = 0):
    def bad(what: str):
        _fail(name, f"invalid ember structure metadata: {what}")

    if depth > _MAX_DEPTH:
        bad(f"nested deeper than {_MAX_DEPTH} levels")
    if not isinstance(node, list) or not node or not isinstance(node[0], str):
        bad(f"expected a [kind, ...] node, got {str(node)[:80]}")
    kind, args = node[0], node[1:]
    if kind == "none" and not args:
        return None
    if len(args) == 1:
        v = args[0]
        if kind == "bool" and isinstance(v, bool):
            return v
        if kind == "int" and isinstance(v, str) and len(v) < 5000:
            try:
                return int(v)
            except ValueError:
                bad(f"bad int {v[:40]!r}")
        if kind == "float" and isinstance(v, str):
            try:
                return float(v)
            except ValueError:
                bad(f"bad float {v[:40]!r}")
        if kind == "str" and isinstance(v, str):
            return v
        if kind == "dtype" and isinstance(v, str):
            try:
                return dtypes.to_dtype(v)
            except TypeError:
                bad(f"unknown dtype {v!r}")
        if kind == "device" and isinstance(v, str):
            try:
                return _device(v)
            except (RuntimeError, ValueError):
                bad(f"bad device {v!r}")
        if kind in ("list", "tuple") and isinstance(v, list):
            items = [_decode(x, arrays, made, name, depth + 1) for x in v]
            return items if kind == "list" else tuple(items)
        if kind in ("dict", "odict") and isinstance(v, list):
            out = OrderedDict() if kind == "odict" else {}
            for item in v:
                if not isinstance(item, list) or len(item) != 2:
                    bad("dict items must be [key, value] pairs")
                k = _decode(item[0], arrays, made, name, depth + 1)
                try:
                    hash(k)
                except TypeError:
                    bad(f"unhashable dict key of type {type(k).__name__}")
                out[k] = _decode(item[1], arrays, made, name, depth + 1)
            return out
    if kind in ("tensor", "param") and len(args) == 2 and isinstance(args[0], str) \
            and isinstance(args[1], bool):
        key, rg = args
        if key in made:
            return made[key]
        if key not in arrays:
            bad(f"refers to tensor {key!r}, which the file does not hold")
        arr = arrays[key]
        if rg and arr.dtype.kind != "f":
            bad(f"tensor {key!r} of dtype {arr.dtype} cannot require grad")
        t = Tensor._make(arr)
        if kind == "param":
            from .nn.parameter import Parameter
            if isinstance(Parameter, type) and Parameter is not Tensor and \
                    issubclass(Parameter, Tensor):
                t = Parameter(t, requires_grad=rg)
            elif rg:
                t.requires_grad = True
        elif rg:
            t.requires_grad = True
        made[key] = t
        return t
    bad(f"unknown or malformed node of kind {kind!r}")


def _map(obj: Any, fn) -> Any:
    if isinstance(obj, Tensor):
        r = fn(obj, "cpu")
        return obj if r is None else r
    if isinstance(obj, dict):
        out = type(obj)() if isinstance(obj, OrderedDict) else {}
        for k, v in obj.items():
            out[k] = _map(v, fn)
        return out
    if isinstance(obj, list):
        return [_map(v, fn) for v in obj]
    if isinstance(obj, tuple):
        return tuple(_map(v, fn) for v in obj)
    return obj


def read_bytes(f, who: str) -> tuple[str, bytes]:
    """The name and the bytes of ``f``, a path or a binary file object (``who`` starts the
    error messages)."""
    if isinstance(f, (str, os.PathLike)):
        name = os.fspath(f)
        try:
            with open(f, "rb") as fh:
                return name, fh.read()
        except IsADirectoryError:
            raise SerializationError(f"{who}: {name}: is a directory") from None
    if hasattr(f, "read"):
        name = str(getattr(f, "name", None) or f"<{type(f).__name__}>")
        data = f.read()
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"{who}: {name}: file object must be opened in binary mode")
        return name, data
    raise TypeError(f"{who}: f must be a path or a binary file object, got "
                    f"{type(f).__name__}")


def load(f: str | os.PathLike | IO[bytes], map_location=None, pickle_module=None, *,
         weights_only: bool | None = True, mmap: bool | None = None, **kwargs) -> Any:
    """Load an object saved by :func:`save`, or a safetensors file from any tool (as a
    ``{name: tensor}`` dict).

    ``map_location`` may be ``None``, ``"cpu"``, a device, a dict of device names, or a
    callable ``fn(tensor, "cpu")`` applied to every tensor; devices other than the CPU
    raise. ``weights_only`` is accepted for compatibility: this format holds only data,
    so loading is always safe. ``mmap`` is accepted and ignored.

    Raises:
        SerializationError: the file is malformed, truncated or uses an unsupported dtype.

    Example:
        >>> import ember, io
        >>> buf = io.BytesIO(); ember.save(ember.eye(2), buf); _ = buf.seek(0)
        >>> ember.load(buf, map_location="cpu")
        tensor([[1., 0.],
                [0., 1.]])
    """
    if pickle_module is not None:
        raise TypeError("ember.load: pickle_module is not supported; ember files never "
                        "contain pickles")
    if kwargs:
        raise TypeError(f"ember.load() got unexpected keyword arguments {sorted(kwargs)}")
    fn = None
    if callable(map_location):
        fn = map_location
    elif isinstance(map_location, dict):
        for v in map_location.values():
            _check_device(v)
    else:
        _check_device(map_location)
    name, data = read_bytes(f, "ember.load")
    header, meta, start = _parse_header(data, name)
    structure = None
    if _STRUCT_KEY in meta:
        try:
            structure = json.loads(meta[_STRUCT_KEY])
        except (ValueError, RecursionError) as e:
            _fail(name, f"invalid ember structure metadata: not JSON ({e})")
    arrays = _read_arrays(data, header, start, name)
    if structure is None:
        order = sorted(header, key=lambda k: (header[k]["data_offsets"], k))
        obj: Any = {k: Tensor._make(arrays[k]) for k in order}
    else:
        obj = _decode(structure, arrays, {}, name)
    return _map(obj, fn) if fn is not None else obj
