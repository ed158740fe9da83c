"""Profiler events, their per-key averages and torch-style tables."""

from __future__ import annotations

import math
from collections.abc import Iterable

__all__ = ["FunctionEvent", "FunctionEventAvg", "EventList"]

SORT_KEYS = ("cpu_time", "cpu_time_total", "self_cpu_time_total", "count", "cpu_memory_usage",
             "self_cpu_memory_usage", "flops")


class FunctionEvent:
    """One recorded range: an op call, a backward node, a module call or a user range.

    Times are in microseconds, as in torch.
    """

    __slots__ = ("id", "name", "cat", "thread", "start_ns", "end_ns", "input_shapes", "flops",
                 "own_memory", "children", "parent", "args")

    def __init__(self, id: int, name: str, cat: str, thread: int, start_ns: int,
                 input_shapes: list | None = None) -> None:
        self.id = id
        self.name = name
        self.cat = cat
        self.thread = thread
        self.start_ns = start_ns
        self.end_ns = start_ns
        self.input_shapes = input_shapes
        self.flops = 0
        self.own_memory = 0  # bytes of the outputs this event itself allocated
        self.children: list[FunctionEvent] = []
        self.parent: FunctionEvent | None = None
        self.args: dict = {}

    @property
    def key(self) -> str:
        return self.name

    @property
    def cpu_time_total(self) -> float:
        return (self.end_ns - self.start_ns) / 1e3

    @property
    def self_cpu_time_total(self) -> float:
        return self.cpu_time_total - sum(c.cpu_time_total for c in self.children)

    @property
    def cpu_memory_usage(self) -> int:
        return self.own_memory + sum(c.cpu_memory_usage for c in self.children)

    @property
    def self_cpu_memory_usage(self) -> int:
        return self.own_memory

    def __repr__(self) -> str:
        return (f"<FunctionEvent id={self.id} name={self.name!r} cpu_time_total="
                f"{_format_time(self.cpu_time_total)} input_shapes={self.input_shapes}>")


class FunctionEventAvg:
    """The events of one key (name, and input shapes when grouped by them) added up."""

    def __init__(self, key: str, input_shapes: list | None) -> None:
        self.key = key
        self.input_shapes = input_shapes
        self.count = 0
        self.cpu_time_total = 0.0
        self.self_cpu_time_total = 0.0
        self.cpu_memory_usage = 0
        self.self_cpu_memory_usage = 0
        self.flops = 0

    def add(self, ev) -> FunctionEventAvg:
        self.count += getattr(ev, "count", 1)
        self.cpu_time_total += ev.cpu_time_total
        self.self_cpu_time_total += ev.self_cpu_time_total
        self.cpu_memory_usage += ev.cpu_memory_usage
        self.self_cpu_memory_usage += ev.self_cpu_memory_usage
        self.flops += ev.flops
        return self

    @property
    def cpu_time(self) -> float:
        """Average total time of one call, in microseconds."""
        return self.cpu_time_total / self.count if self.count else 0.0

    def __repr__(self) -> str:
        return (f"<FunctionEventAvg key={self.key!r} count={self.count} cpu_time_total="
                f"{_format_time(self.cpu_time_total)} self_cpu_time_total="
                f"{_format_time(self.self_cpu_time_total)} input_shapes={self.input_shapes}>")


class EventList(list):
    """A list of events (or averages) that prints as a table."""

    def __init__(self, events: Iterable = (), *, profile_memory: bool = False,
                 with_flops: bool = False, with_shapes: bool = False) -> None:
        super().__init__(events)
        self._profile_memory = profile_memory
        self._with_flops = with_flops
        self._with_shapes = with_shapes

    def key_averages(self, group_by_input_shape: bool = False) -> EventList:
        """Group the events by name (and input shapes) and add them up."""
        groups: dict = {}
        for ev in self:
            shapes = ev.input_shapes if group_by_input_shape else None
            key = (ev.key, repr(shapes)) if group_by_input_shape else ev.key
            avg = groups.get(key)
            if avg is None:
                avg = groups[key] = FunctionEventAvg(ev.key, shapes)
            avg.add(ev)
        return EventList(groups.values(), profile_memory=self._profile_memory,
                         with_flops=self._with_flops, with_shapes=group_by_input_shape)

    def total_average(self) -> FunctionEventAvg:
        """All events added up under the key ``"Total"``."""
        total = FunctionEventAvg("Total", None)
        for ev in self:
            total.add(ev)
        return total

    @property
    def self_cpu_time_total(self) -> float:
        return sum(ev.self_cpu_time_total for ev in self)

    def table(self, sort_by: str | None = None, row_limit: int = 100,
              max_name_column_width: int = 55, max_shapes_column_width: int = 80,
              header: str | None = None) -> str:
        """The events as a text table, sorted by ``sort_by`` (descending), like torch's.

        ``sort_by`` is one of ``cpu_time_total``, ``self_cpu_time_total``, ``cpu_time``,
        ``count``, ``cpu_memory_usage``, ``self_cpu_memory_usage``, ``flops`` or None
        (recording order).
        """
        return _build_table(self, sort_by, row_limit, max_name_column_width,
                            max_shapes_column_width, header)

    def __str__(self) -> str:
        return self.table()


def _format_time(us: float) -> str:
    if us >= 1e6:
        return f"{us / 1e6:.3f}s"
    if us >= 1e3:
        return f"{us / 1e3:.3f}ms"
    return f"{us:.3f}us"


def _format_memory(nbytes: int) -> str:
    for unit, size in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if abs(nbytes) >= size:
            return f"{nbytes / size:.2f} {unit}"
    return f"{nbytes} B"


def _build_table(events: EventList, sort_by, row_limit, max_name_width, max_shapes_width,
                 header) -> str:
    rows = list(events)
    if sort_by is not None:
        if sort_by not in SORT_KEYS:
            raise ValueError(f"sort_by must be one of {', '.join(SORT_KEYS)} or None, but got "
                             f"{sort_by!r}")
        rows.sort(key=lambda e: getattr(e, sort_by), reverse=True)
    if row_limit is not None and row_limit >= 0:
        rows = rows[:row_limit]
    self_total = events.self_cpu_time_total
    name_width = min(max([len(e.key) for e in rows] + [len("Name")]) + 4, max_name_width)
    headers = [("Name", name_width), ("Self CPU %", 12), ("Self CPU", 12), ("CPU total %", 12),
               ("CPU total", 12), ("CPU time avg", 12)]
    if events._profile_memory:
        headers += [("CPU Mem", 12), ("Self CPU Mem", 12)]
    headers.append(("# of Calls", 12))
    shapes_width = 0
    if events._with_shapes:
        shapes_width = min(max([len(str(e.input_shapes)) for e in rows] + [12]) + 4,
                           max_shapes_width)
        headers.append(("Input Shapes", shapes_width))
    flop_scale = 0
    if events._with_flops:
        top = max([e.flops for e in rows] + [0])
        units = ("FLOPs", "KFLOPs", "MFLOPs", "GFLOPs", "TFLOPs", "PFLOPs")
        flop_scale = max(0, min(int(math.log10(top) / 3), len(units) - 1)) if top > 0 else 0
        headers.append((f"Total {units[flop_scale]}", 12))

    def line(cells) -> str:
        return "  ".join(f"{c:>{w}}" for c, (_, w) in zip(cells, headers)).rstrip() + "\n"

    def cut(s: str, width: int) -> str:
        return s if len(s) <= width else s[:width - 3] + "..."

    def pct(x: float) -> str:
        return f"{100.0 * x / self_total:.2f}%" if self_total > 0 else "--"

    sep = "  ".join("-" * w for _, w in headers) + "\n"
    out = []
    if header is not None:
        out += ["=" * len(sep.rstrip()) + "\n", header + "\n"]
    out += [sep, line([h for h, _ in headers]), sep]
    for e in rows:
        cells = [cut(e.key, name_width), pct(e.self_cpu_time_total),
                 _format_time(e.self_cpu_time_total), pct(e.cpu_time_total),
                 _format_time(e.cpu_time_total),
                 _format_time(e.cpu_time_total / max(getattr(e, "count", 1), 1))]
        if events._profile_memory:
            cells += [_format_memory(e.cpu_memory_usage), _format_memory(e.self_cpu_memory_usage)]
        cells.append(str(getattr(e, "count", 1)))
        if events._with_shapes:
            cells.append(cut(str(e.input_shapes), shapes_width))
        if events._with_flops:
            cells.append(f"{e.flops / 10 ** (3 * flop_scale):.3f}" if e.flops else "--")
        out.append(line(cells))
    out.append(sep)
    out.append(f"Self CPU time total: {_format_time(self_total)}\n")
    return "".join(out)
