#!/usr/bin/env python3
"""How far a side-by-side ratio scatters: ratios taken within each round, then their quartiles.

compare.py gives the median req/s and CPU of each client over its repetitions and divides the medians. On a
shared machine whose speed drifts by ±10% from one minute to the next, that one ratio moves between runs
by as much as the gaps it is meant to show. This script runs the same workload in rounds: each round runs
every client once, in an order that rotates from round to round, and divides each client's figures by
epoll_client's of the same round, so a drift slower than a round cancels out. It prints the first quartile,
the median and the third quartile of those per-round ratios: where the middle half of the rounds fell.

  bench/paired.py --client build/release/bench/asiocurl_fetch_client --workload h2-1k-c16
  bench/paired.py --client ... --client ... --workload h1-1k-c16 --rounds 25

Uses ../shared/bench's compare.py (its workloads, its way of running a client, the baselines it builds;
BENCH_SHARED moves it) and the same environment (BENCH_HTTP_PORT, BENCH_HTTPS_PORT, BENCH_DIR, BENCH_BUILD,
BENCH_CURL_PREFIX). Starts nginx unless --no-serve. One line per client:

  paired workload=W client=NAME rounds=R rps=MEDIAN rps_ratio=Q1/MEDIAN/Q3 cpu_us=MEDIAN cpu_ratio=Q1/MEDIAN/Q3
"""
import argparse, statistics, sys

import side_by_side


def quartiles(values):
    ordered = sorted(values)
    return ordered[len(ordered) // 4], statistics.median(ordered), ordered[(3 * len(ordered)) // 4]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--client", action="append", default=[], help="a client binary (repeatable)")
    ap.add_argument("--workload", default="h1-1k-c16", help="one of compare.py's workloads")
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--no-serve", action="store_true", help="nginx is already running")
    a = ap.parse_args()
    compare = side_by_side.load_compare()
    if a.workload not in compare.WORKLOADS:
        sys.exit(f"unknown workload {a.workload}: {', '.join(compare.WORKLOADS)}")
    clients = side_by_side.clients_beside_the_loop(compare, a.client)
    if not a.no_serve:
        side_by_side.serve()
    names = list(clients)
    runs = {name: [] for name in names}
    for r in range(a.rounds):
        shift = r % len(names)
        for name in names[shift:] + names[:shift]:
            result = compare.run_one(clients[name], name, a.workload)
            if not result or not result["ok"] or result["failed"]:
                sys.exit(f"{name} failed {a.workload}: {result and result.get('why')}")
            runs[name].append((result["rps"], result["cpu"] / result["n"] * 1e6))
    base = runs["epoll_client"]
    for name in names:
        rps_ratio = quartiles([mine[0] / theirs[0] for mine, theirs in zip(runs[name], base)])
        cpu_ratio = quartiles([mine[1] / theirs[1] for mine, theirs in zip(runs[name], base)])
        print(f"paired workload={a.workload} client={name} rounds={a.rounds} "
              f"rps={statistics.median(r[0] for r in runs[name]):.0f} "
              f"rps_ratio={'/'.join(f'{x:.3f}' for x in rps_ratio)} "
              f"cpu_us={statistics.median(r[1] for r in runs[name]):.2f} "
              f"cpu_ratio={'/'.join(f'{x:.3f}' for x in cpu_ratio)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
