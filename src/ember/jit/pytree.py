"""Nested structures of tensors (arguments and results of traced functions): flatten
them into a list of tensors plus a ``_Spec`` that rebuilds them."""

from __future__ import annotations

from ..tensor import Tensor

__all__ = ["_Spec", "_flatten", "_rebuild", "_literal_key", "_is_namedtuple"]


class _Spec:
    """Where the tensors, literals and nested containers of a structure go."""

    __slots__ = ("kind", "data", "children")

    def __init__(self, kind, data=None, children=()):
        self.kind, self.data, self.children = kind, data, children


def _is_namedtuple(t) -> bool:
    return issubclass(t, tuple) and hasattr(t, "_fields")


def _flatten(x, leaves: list) -> _Spec:
    if isinstance(x, Tensor):
        leaves.append(x)
        return _Spec("tensor")
    t = type(x)
    if t in (tuple, list) or _is_namedtuple(t):
        return _Spec(t, None, tuple(_flatten(v, leaves) for v in x))
    if t is dict:
        return _Spec(dict, tuple(x), tuple(_flatten(v, leaves) for v in x.values()))
    return _Spec("literal", x)


def _rebuild(spec: _Spec, it):
    k = spec.kind
    if k == "tensor":
        return next(it)
    if k == "literal":
        return spec.data
    if k is dict:
        return {key: _rebuild(c, it) for key, c in zip(spec.data, spec.children)}
    items = [_rebuild(c, it) for c in spec.children]
    return k(*items) if _is_namedtuple(k) else k(items)


def _literal_key(spec: _Spec):
    if spec.kind == "tensor":
        return "T"
    if spec.kind == "literal":
        v = spec.data
        try:
            hash(v)
        except TypeError:
            return ("id", id(v))
        return (type(v).__name__, v)
    return (str(spec.kind), spec.data, tuple(_literal_key(c) for c in spec.children))
