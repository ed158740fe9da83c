"""Every benchmark workload, by group."""

from . import overhead, train

ALL = [*overhead.WORKLOADS, *train.WORKLOADS]
