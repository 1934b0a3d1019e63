"""The figures the benchmarks read from a `/usr/bin/time -v` report (alone in a file, or mixed
into a command's stderr): imported by the Python parts of benches/*.sh."""

import re


def time_v(path):
    """Peak RSS (MiB), wall seconds and CPU share ("195%") from a /usr/bin/time -v report."""
    text = open(path).read()
    field = lambda name: re.search(rf"{re.escape(name)}: (.*)", text).group(1).strip()
    wall = 0.0
    for part in field("Elapsed (wall clock) time (h:mm:ss or m:ss)").split(":"):
        wall = wall * 60 + float(part)
    return int(field("Maximum resident set size (kbytes)")) / 1024, wall, field("Percent of CPU this job got")
