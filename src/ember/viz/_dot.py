"""A small Graphviz ``Digraph``: DOT source building, saving and rendering with ``dot``."""

from __future__ import annotations

import os
import shutil
import subprocess

__all__ = ["Digraph", "quote"]

_FORMATS = ("svg", "png", "pdf", "jpg", "jpeg", "gif", "ps", "eps", "json", "dot", "plain",
            "xdot")


def quote(text: str) -> str:
    """A DOT double-quoted string; newlines become ``\\l`` (left-justified lines)."""
    text = str(text).replace("\\", "\\\\").replace('"', '\\"')
    if "\n" in text:
        text = text.replace("\n", "\\l") + "\\l"
    return f'"{text}"'


def _attrs(attrs: dict) -> str:
    if not attrs:
        return ""
    return " [" + " ".join(f"{k}={quote(v)}" for k, v in attrs.items()) + "]"


class Digraph:
    """A directed graph held as Graphviz DOT source (the subset of ``graphviz.Digraph``
    that ``make_dot`` needs).

    Example:
        >>> from ember.viz import Digraph
        >>> g = Digraph(name="g")
        >>> g.node("a", "A"); g.node("b", "B"); g.edge("a", "b")
        >>> print(g.source)
        digraph g {
            a [label="A"]
            b [label="B"]
            a -> b
        }
        <BLANKLINE>
    """

    def __init__(self, name: str = "", graph_attr: dict | None = None,
                 node_attr: dict | None = None, edge_attr: dict | None = None) -> None:
        self.name = name
        self.graph_attr = dict(graph_attr or {})
        self.node_attr = dict(node_attr or {})
        self.edge_attr = dict(edge_attr or {})
        self.body: list[str] = []

    def node(self, name: str, label: str | None = None, **attrs) -> None:
        if label is not None:
            attrs = {"label": label, **attrs}
        self.body.append(f"{_ident(name)}{_attrs(attrs)}")

    def edge(self, tail: str, head: str, **attrs) -> None:
        self.body.append(f"{_ident(tail)} -> {_ident(head)}{_attrs(attrs)}")

    def attr(self, kind: str = "graph", **attrs) -> None:
        target = {"graph": self.graph_attr, "node": self.node_attr, "edge": self.edge_attr}
        if kind not in target:
            raise ValueError(f"attr kind must be 'graph', 'node' or 'edge', but got {kind!r}")
        target[kind].update(attrs)

    @property
    def source(self) -> str:
        """The DOT text."""
        head = f"digraph {_ident(self.name)} {{" if self.name else "digraph {"
        lines = [head]
        for kind, attrs in (("graph", self.graph_attr), ("node", self.node_attr),
                            ("edge", self.edge_attr)):
            if attrs:
                lines.append(f"    {kind}{_attrs(attrs)}")
        lines += [f"    {line}" for line in self.body]
        lines.append("}")
        return "\n".join(lines) + "\n"

    def __str__(self) -> str:
        return self.source

    def __repr__(self) -> str:
        return f"<Digraph {self.name or '(unnamed)'} with {len(self.body)} statements>"

    def save(self, filename: str | os.PathLike | None = None,
             directory: str | os.PathLike | None = None) -> str:
        """Write the DOT source to ``filename`` (default ``<name>.gv``); returns the path."""
        path = _path(filename or f"{self.name or 'Digraph'}.gv", directory)
        with open(path, "w", encoding="utf-8") as f:
            f.write(self.source)
        return path

    def pipe(self, format: str = "svg") -> bytes:
        """The graph rendered by Graphviz's ``dot`` program, as bytes."""
        dot = _dot_program(format)
        res = subprocess.run([dot, f"-T{format}"], input=self.source.encode(),
                             capture_output=True, check=False)
        if res.returncode:
            raise RuntimeError(f"dot failed (exit status {res.returncode}): "
                               f"{res.stderr.decode(errors='replace').strip()}")
        return res.stdout

    def render(self, filename: str | os.PathLike | None = None,
               directory: str | os.PathLike | None = None, format: str = "svg",
               cleanup: bool = False) -> str:
        """Save the source to ``filename`` and render it to ``filename.<format>`` with
        Graphviz's ``dot``; returns the rendered file's path. ``cleanup`` removes the
        source file afterwards."""
        _dot_program(format)
        src = self.save(filename, directory)
        out = f"{src}.{format}"
        data = self.pipe(format)
        with open(out, "wb") as f:
            f.write(data)
        if cleanup:
            os.remove(src)
        return out

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict:
        bundle = {"text/plain": self.source}
        if shutil.which("dot"):
            bundle["image/svg+xml"] = self.pipe("svg").decode()
        return bundle


def _ident(name: str) -> str:
    name = str(name)
    return name if name.isidentifier() else quote(name)


def _path(filename, directory) -> str:
    path = os.fspath(filename)
    if directory is not None:
        os.makedirs(directory, exist_ok=True)
        path = os.path.join(os.fspath(directory), path)
    return path


def _dot_program(format: str) -> str:
    if format not in _FORMATS:
        raise ValueError(f"unknown output format {format!r}; choose one of {', '.join(_FORMATS)}")
    dot = shutil.which("dot")
    if dot is None:
        raise RuntimeError("Rendering needs Graphviz's 'dot' program, which was not found on "
                           "PATH. Install Graphviz (e.g. `apt-get install graphviz`, "
                           "`brew install graphviz` or `conda install graphviz`), or use "
                           "`.source` / `.save()` to get the DOT text.")
    return dot
