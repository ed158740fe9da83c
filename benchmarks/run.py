"""Run ember and torch side by side on the same workloads and print the ratio.

Usage:
    python benchmarks/run.py                 # every group
    python benchmarks/run.py overhead        # one group (overhead, train, sequence, jit)
    python benchmarks/run.py W1 W1b          # single workloads
    python benchmarks/run.py --repeat 21 W5b # more timed loops each (default 7)

Benchmarks are not tests: nothing here asserts a timing. Each workload is timed as
the best of several repeats of a timed loop, in this one process, with torch
limited to the same number of threads NumPy's BLAS uses.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


@dataclass
class Workload:
    key: str
    group: str
    title: str
    unit: str                      # "us", "ms", "s", "GFLOP/s"
    ember: Callable[[], Callable]  # setup -> zero-arg step function
    torch: Callable[[], Callable] | None
    goal: str = ""
    #: for throughput units: work per call (e.g. FLOPs); the figure shown is work / time
    work: float = 0.0
    #: extra reference rows: name -> setup
    extra: dict | None = None
    number: int = 0                # calls per timed loop (0: choose automatically)


#: idle seconds before each timed loop: BLAS and OpenMP worker threads spin for a while
#: after their last task, and one library's spinning threads took the cores from the
#: other's (torch's W5b time doubled, from 230 us alone to 460-800 us right after ember's
#: loop), which made interleaved ratios look better than either library run alone
PAUSE = 0.2


def measure(*setups: Callable[[], Callable], number: int = 0, repeat: int = 7,
            budget: float = 0.3) -> list[float]:
    """Seconds per call for each setup: best of ``repeat`` timed loops of ``number`` calls.

    The loops of the different setups are interleaved (A B A B ...), so that drift in the
    machine's speed affects all of them alike, each after ``PAUSE`` idle seconds (so that
    the previous loop's worker threads have gone to sleep) and one untimed call.
    """
    fns = [s() for s in setups]
    counts = []
    for fn in fns:
        fn()  # warm-up
        n = number
        if not n:
            t0 = time.perf_counter()
            fn()
            one = max(time.perf_counter() - t0, 1e-7)
            n = max(1, int(budget / repeat / one))
        counts.append(n)
    best = [float("inf")] * len(fns)
    for _ in range(repeat):
        for k, (fn, n) in enumerate(zip(fns, counts)):
            time.sleep(PAUSE)
            fn()  # wakes the worker threads the pause put to sleep
            t0 = time.perf_counter()
            for _ in range(n):
                fn()
            best[k] = min(best[k], (time.perf_counter() - t0) / n)
    return best


SCALE = {"us": 1e6, "ms": 1e3, "s": 1.0}


def fmt(w: Workload, seconds: float) -> str:
    if w.unit == "GFLOP/s":
        return f"{w.work / seconds / 1e9:9.1f}"
    return f"{seconds * SCALE[w.unit]:9.2f}"


def run(workloads: list[Workload], repeat: int = 7) -> None:
    """Time each workload (``repeat`` loops a side, each about as long as by default)."""
    def timed(*setups, number):
        return measure(*setups, number=number, repeat=repeat, budget=0.3 * repeat / 7)
    print(f"{'workload':<46} {'unit':>7} {'ember':>9} {'torch':>9} {'ratio':>7}  goal")
    for w in workloads:
        if w.torch:
            e, t = timed(w.ember, w.torch, number=w.number)
        else:
            (e,), t = timed(w.ember, number=w.number), None
        if t is None:
            ratio = ""
        elif w.unit == "GFLOP/s":
            ratio = f"{t / e:7.2f}"  # throughput: ember / reference
        else:
            ratio = f"{e / t:7.2f}"
        tcol = fmt(w, t) if t is not None else f"{'-':>9}"
        print(f"{w.key + ' ' + w.title:<46} {w.unit:>7} {fmt(w, e)} {tcol} {ratio}  {w.goal}",
              flush=True)
        for name, setup in (w.extra or {}).items():
            (x,) = timed(setup, number=w.number)
            r = f"{x / t:7.2f}" if t and w.unit != "GFLOP/s" else ""
            print(f"{'   ' + name:<46} {w.unit:>7} {fmt(w, x)} {'':>9} {r}", flush=True)


def main(argv=None) -> None:
    from workloads import ALL
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("names", nargs="*", help="groups or workload keys (default: all)")
    p.add_argument("--repeat", type=int, default=7,
                   help="timed loops a side (default 7); more steady the best on a noisy "
                        "machine")
    args = p.parse_args(argv)
    import numpy as np
    import torch
    try:
        from threadpoolctl import threadpool_info
        threads = max(i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas")
    except Exception:
        threads = os.cpu_count() or 1
    torch.set_num_threads(threads)
    print(f"numpy {np.__version__}, torch {torch.__version__}, {threads} BLAS/torch threads, "
          f"{os.cpu_count()} CPUs")
    chosen = [w for w in ALL if not args.names or w.key in args.names or w.group in args.names]
    if not chosen:
        raise SystemExit(f"no workload matches {args.names}; known: "
                         f"{sorted({w.group for w in ALL} | {w.key for w in ALL})}")
    run(chosen, args.repeat)


if __name__ == "__main__":
    main()
