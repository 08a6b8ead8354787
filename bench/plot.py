#!/usr/bin/python3
"""The plots of docs/benchmarks.md, from the raw output that bench/measure.sh saves.

  bench/plot.py                          # docs/benchmarks/raw/*.txt -> docs/benchmarks/*.png
  bench/plot.py --raw DIR --out DIR

Reads compare-<curl>.txt (../shared/bench/compare.py's table) and trickle-<curl>.txt (bench/trickle_sweep.py's
lines), one of each per libcurl version, and writes:
  requests-per-second.png   req/s of each client relative to epoll_client, per workload, per curl
  cpu-per-request.png       client CPU time per request relative to epoll_client, per workload, per curl
  trickle-cpu.png           CPU per trickled transfer against concurrency (log scale), per client and curl
Debian's python3-matplotlib (hence /usr/bin/python3, not whichever python3 is first on PATH).
"""
import argparse, glob, os, re, sys

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ROW = re.compile(r"^(\S+)\s+(\S+)\s+(\d+)\s+([\d.]+)\s+([\d.]+)\s+(\S+)\s+(\S+)\s*$")
TRICKLE = re.compile(r"^trickle concurrency=(\d+) client=(\S+) cpu_us_per_transfer=([\d.]+)")


def curl_of(path, prefix):
    return os.path.basename(path)[len(prefix):-len(".txt")]


def read_compare(path):
    """{workload: {client: (req/s, cpu us/request)}}, in the file's order."""
    table = {}
    for line in open(path):
        m = ROW.match(line)
        if m and m.group(1) != "workload":
            table.setdefault(m.group(1), {})[m.group(2)] = (float(m.group(3)), float(m.group(4)))
    return table


def read_trickle(path):
    """{client: [(concurrency, cpu us/transfer)]}"""
    series = {}
    for line in open(path):
        m = TRICKLE.match(line)
        if m:
            series.setdefault(m.group(2), []).append((int(m.group(1)), float(m.group(3))))
    return series


def grouped_bars(ax, table, value, title, ylabel, reference=None):
    workloads = list(table)
    clients = []
    for w in workloads:
        clients += [c for c in table[w] if c not in clients]
    width = 0.8 / max(1, len(clients))
    for i, client in enumerate(clients):
        xs, ys = [], []
        for j, w in enumerate(workloads):
            if client in table[w]:
                xs.append(j + (i - (len(clients) - 1) / 2) * width)
                ys.append(value(table[w], client))
        ax.bar(xs, ys, width, label=client)
    if reference is not None:
        ax.axhline(reference, color="black", linewidth=0.8)
    ax.set_xticks(range(len(workloads)), workloads, rotation=30, ha="right")
    ax.set_title(title)
    ax.set_ylabel(ylabel)
    ax.grid(axis="y", alpha=0.3)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--raw", default=os.path.join(ROOT, "docs", "benchmarks", "raw"))
    ap.add_argument("--out", default=os.path.join(ROOT, "docs", "benchmarks"))
    a = ap.parse_args()
    compares = sorted(glob.glob(os.path.join(a.raw, "compare-*.txt")))
    trickles = sorted(glob.glob(os.path.join(a.raw, "trickle-*.txt")))
    if not compares:
        sys.exit(f"no compare-*.txt in {a.raw} (bench/measure.sh writes them)")
    os.makedirs(a.out, exist_ok=True)

    def relative(index):
        def value(row, client):
            return row[client][index] / row["epoll_client"][index] if "epoll_client" in row else float("nan")
        return value

    # CPU ratios span 0.5x to 6x (the Beast client on 64 KiB bodies): a log axis keeps 1.0 readable.
    for name, value, ylabel, log in (
            ("requests-per-second.png", relative(0), "req/s relative to epoll_client (higher is better)", False),
            ("cpu-per-request.png", relative(1), "client CPU per request relative to epoll_client (lower is better)",
             True)):
        fig, axes = plt.subplots(1, len(compares), figsize=(7 * len(compares), 5), squeeze=False)
        for ax, path in zip(axes[0], compares):
            grouped_bars(ax, read_compare(path), value, f"libcurl {curl_of(path, 'compare-')}", ylabel, 1.0)
            if log:
                ax.set_yscale("log")
        axes[0][0].legend(fontsize="small")
        fig.tight_layout()
        fig.savefig(os.path.join(a.out, name), dpi=100)
        plt.close(fig)

    if trickles:
        fig, ax = plt.subplots(figsize=(7, 5))
        for path in trickles:
            for client, points in read_trickle(path).items():
                points.sort()
                ax.plot([c for c, _ in points], [v for _, v in points], marker="o",
                        label=f"{client} (curl {curl_of(path, 'trickle-')})")
        ax.set_xscale("log")
        ax.set_ylim(bottom=0)
        ax.set_xlabel("concurrent trickled transfers (64 KiB at 16 KiB/s)")
        ax.set_ylabel("client CPU per transfer (us)")
        ax.set_title("CPU per transfer against concurrency")
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
        fig.tight_layout()
        fig.savefig(os.path.join(a.out, "trickle-cpu.png"), dpi=100)
        plt.close(fig)
    for png in sorted(glob.glob(os.path.join(a.out, "*.png"))):
        print(png)
    return 0


if __name__ == "__main__":
    sys.exit(main())
