"""Every benchmark workload, by group."""

from . import jit, overhead, sequence, train

ALL = [*overhead.WORKLOADS, *train.WORKLOADS, *sequence.WORKLOADS, *jit.WORKLOADS]
