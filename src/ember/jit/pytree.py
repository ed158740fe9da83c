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


_PLAIN = (int, float, bool, str, type(None))


def _flatten(x, leaves: list, leaf_types: tuple = (Tensor,), strict: bool = False) -> _Spec:
    """Append the leaves (instances of ``leaf_types``) of ``x`` to ``leaves``; anything else
    that is not a tuple, list or dict is a literal, which with ``strict`` must be plain."""
    if isinstance(x, leaf_types):
        leaves.append(x)
        return _Spec("tensor")
    t = type(x)
    if t in (tuple, list) or _is_namedtuple(t):
        return _Spec(t, None, tuple(_flatten(v, leaves, leaf_types, strict) for v in x))
    if t is dict:
        return _Spec(dict, tuple(x),
                     tuple(_flatten(v, leaves, leaf_types, strict) for v in x.values()))
    if strict and t not in _PLAIN:
        from .errors import TraceUnsupported
        raise TraceUnsupported(f"the function returned a {t.__name__}, which a graph cannot "
                               "hold")
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
