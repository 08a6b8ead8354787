#!/usr/bin/env python3
"""CPU per transfer against concurrency: trickled 64 KiB transfers (nginx sends /slow/ at 16 KiB/s, ~4 s each).

For each concurrency C the clients run twice, with N1 = C and N2 = C + max(C, 100) transfers (C at once
throughout: at small C, more waves, so that the difference is not lost in run-to-run noise); the difference
of their CPU time (user+sys, from wait4) divided by N2 - N1 is the marginal CPU of one transfer, free of
start-up (curl_global_init, OpenSSL) and shut-down. A flat line from 10 to 10,000 is the design's
claim: nothing in the glue costs more per event as the number of sockets grows.

  bench/trickle_sweep.py --client build/release/bench/asiocurl_client            # 10 100 1000 10000, 3 reps
  bench/trickle_sweep.py --client ... --concurrency 10,1000 --reps 5

Uses ../shared/bench (compare.py builds the baselines and serve.sh starts nginx; BENCH_SHARED moves it) and
the same environment (BENCH_HTTP_PORT, BENCH_DIR, BENCH_BUILD, BENCH_CURL_PREFIX). Prints one line per
concurrency and client, which bench/plot.py reads:

  trickle concurrency=C client=NAME cpu_us_per_transfer=X runs=R
"""
import argparse, os, statistics, subprocess, sys

import side_by_side


def run(compare, exe, url, n, c):
    p = subprocess.Popen([exe, url, str(n), str(c)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         preexec_fn=compare.raise_fd_limit)
    out, err = p.stdout.read(), p.stderr.read()
    _, status, usage = os.wait4(p.pid, 0)
    fields = dict(kv.split("=", 1) for kv in out.split()[1:] if "=" in kv)
    if os.waitstatus_to_exitcode(status) != 0 or fields.get("failed") != "0":
        sys.exit(f"{os.path.basename(exe)} N={n} C={c} failed: {(err or out).strip()[-300:]}")
    return usage.ru_utime + usage.ru_stime


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--client", action="append", default=[], help="a client binary (repeatable)")
    ap.add_argument("--concurrency", default="10,100,1000,10000")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--no-serve", action="store_true", help="nginx is already running")
    a = ap.parse_args()
    compare = side_by_side.load_compare()
    clients = side_by_side.clients_beside_the_loop(compare, a.client)
    if not a.no_serve:
        side_by_side.serve()
    url = compare.H1 + "/slow/64k.bin"
    for c in (int(x) for x in a.concurrency.split(",")):
        marginal = {name: [] for name in clients}
        for _ in range(a.reps):
            for name, exe in clients.items():  # in rotation, as compare.py runs them
                extra = max(c, 100)
                one_wave = run(compare, exe, url, c, c)
                more_waves = run(compare, exe, url, c + extra, c)
                marginal[name].append((more_waves - one_wave) / extra * 1e6)
        for name, values in marginal.items():
            print(f"trickle concurrency={c} client={name} cpu_us_per_transfer={statistics.median(values):.1f} "
                  f"runs={len(values)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
