#!/usr/bin/env python3
"""OpenMetrics text of the runs bench/report_bench.cc writes, for promtool's backfill.

    report_vs_prometheus_gen.py OUT_FILE

The health probe of component `carbon` as blackbox_exporter would expose it:
`probe_success{job="carbon"}` (1/0) and `probe_duration_seconds{job="carbon"}` at every second of
7 days from 2025-10-14T00:00:00Z (604,800 runs), down from in-day offset 36,000 s to 36,120 s,
durations from the same xorshift64 sequence as MakeRuns() in bench/report_bench.cc (keep them in
step). The hourly integration check has no Prometheus counterpart here: the report's integration
figures are not part of the comparison.
"""
import sys

FROM_S = 1_760_400_000  # 2025-10-14T00:00:00Z
DAY_S = 86_400
RUNS = 7 * DAY_S
DOWN_FROM_S, DOWN_TO_S = 36_000, 36_120  # in-day offset, [from, to)
MASK = (1 << 64) - 1


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    durations = []
    x = 88172645463325252
    for _ in range(RUNS):
        x ^= (x << 13) & MASK
        x ^= x >> 7
        x ^= (x << 17) & MASK
        # repr() is the shortest text that reads back as the same double the C++ computes.
        durations.append(repr(0.005 + (x % 20_000) / 1e6))
    with open(sys.argv[1], "w", encoding="ascii") as out:
        # OpenMetrics wants each family's samples together; timestamps are in seconds.
        out.write("# TYPE probe_success gauge\n")
        out.writelines(
            'probe_success{job="carbon"} %d %d\n'
            % (0 if DOWN_FROM_S <= i % DAY_S < DOWN_TO_S else 1, FROM_S + i)
            for i in range(RUNS))
        out.write("# TYPE probe_duration_seconds gauge\n")
        out.writelines('probe_duration_seconds{job="carbon"} %s %d\n' % (d, FROM_S + i)
                       for i, d in enumerate(durations))
        out.write("# EOF\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
