"""What bench/paired.py and bench/trickle_sweep.py share: ../shared/bench's compare.py (its workloads, its way
of running a client, the baselines it builds; BENCH_SHARED moves the folder), the clients to run beside its
epoll_client, and its nginx."""
import importlib.util, os, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.environ.get("BENCH_SHARED", os.path.join(os.path.dirname(ROOT), "shared", "bench"))


def load_compare():
    spec = importlib.util.spec_from_file_location("compare", os.path.join(SHARED, "compare.py"))
    if spec is None or not os.path.exists(spec.origin):
        sys.exit(f"{SHARED}/compare.py not found (BENCH_SHARED names the folder)")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def clients_beside_the_loop(compare, paths):
    """{name: executable}: epoll_client (built by compare.py in BENCH_BUILD) first, then each of `paths`."""
    build_dir = os.environ.get("BENCH_BUILD", os.path.join(tempfile.gettempdir(), "asiocurl-bench-baselines"))
    clients = {"epoll_client": compare.build_baselines(build_dir)["epoll_client"]}
    for path in paths:
        if not os.access(path, os.X_OK):
            sys.exit(f"client {path} is missing or not executable")
        clients[os.path.basename(path)] = os.path.abspath(path)
    return clients


def serve():
    """(Re)starts the loopback nginx of ../shared/bench."""
    subprocess.run(["sh", os.path.join(SHARED, "serve.sh")], check=True)
    time.sleep(0.5)
