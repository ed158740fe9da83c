"""Every benchmark workload, by group."""

from . import overhead, sequence, train

ALL = [*overhead.WORKLOADS, *train.WORKLOADS, *sequence.WORKLOADS]
