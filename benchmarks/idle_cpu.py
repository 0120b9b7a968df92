"""What an idle `stellwerk serve` costs: CPU per process over a quiet minute, no traffic at all.

Starts `stellwerk serve --models MODEL` in its own session, waits until it is ready and has settled,
then reads every process of that session twice, `--seconds` apart, from /proc, and prints each
process's share of one core (and the total). Results: JSON under benchmarks/results/.

    python -m benchmarks.idle_cpu --seconds 60
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import time

from benchmarks.first_numbers import DEFAULT_MODEL, RESULTS, _free_port, _server
from benchmarks.proc_cpu import session_labels, snapshot

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--seconds", type=float, default=60.0, help="the measured idle window")
    parser.add_argument("--settle", type=float, default=30.0, help="wait after ready before measuring")
    parser.add_argument("--label", default="", help="a name for this run in the results file")
    args = parser.parse_args(argv)

    RESULTS.mkdir(exist_ok=True)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    port = _free_port()
    command = [sys.executable, "-m", "stellwerk_cli.main", "serve", "--port", str(port),
               "--models", args.model]
    log = RESULTS / f"{stamp}-idle.log"
    with _server(command, f"http://127.0.0.1:{port}/ready", log, dict(os.environ)) as session:
        time.sleep(args.settle)
        before, started = snapshot(), time.monotonic()
        time.sleep(args.seconds)
        after, wall = snapshot(), time.monotonic() - started
        # Named while they still run: once the server stops, their command lines are gone and only
        # the kernel's 15-character names are left ("python" for the router and Ray's helpers alike).
        labels = session_labels(after, session)
    shares: dict[str, float] = {}
    processes: list[dict[str, object]] = []
    for pid, proc in after.items():
        if pid not in labels or pid not in before:
            continue
        label = labels[pid]
        share = 100 * (proc.cpu_s - before[pid].cpu_s) / wall
        shares[label] = shares.get(label, 0.0) + share
        processes.append({"pid": pid, "label": label, "pct_of_a_core": round(share, 2)})
    ranked = dict(sorted(((k, round(v, 2)) for k, v in shares.items()), key=lambda kv: -kv[1]))
    report = {"label": args.label, "model": args.model, "seconds": round(wall, 1),
              "total_pct_of_a_core": round(sum(shares.values()), 2), "per_process_pct": ranked,
              "processes": sorted(processes, key=lambda p: -float(str(p["pct_of_a_core"])))}
    (RESULTS / f"{stamp}-idle-cpu.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
