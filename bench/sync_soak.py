"""Soak of the model-based sync simulation: many seeds, longer runs, through one local stack.

`make test` runs three seeds (tests/integration/test_sync_simulation.py). This runs many more,
each a fresh user with 2 to 4 devices, and sums what the runs did: requests, lost answers and
their retries, duplicate deliveries, interrupted, resumed and abandoned pulls, REST writes.
Any broken rule or invariant fails the run and names its seed, which replays it exactly:

    .venv/bin/python bench/sync_soak.py --seeds 40 --steps 200 [--first-seed N]
    make soak

Usage with --json PATH writes the totals for bench/RESULTS.md (make bench).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
import time
import warnings
from collections import Counter

from local.stack import LocalStack, StackConfig
from tests.integration.conftest import new_user_token
from tests.support.sync_simulation import Simulation, SyncRuleViolationError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=40)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--first-seed", type=int, default=1)
    parser.add_argument("--json", help="write the totals here")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")
    totals: Counter[str] = Counter()
    failures: list[str] = []
    started = time.perf_counter()
    config = StackConfig(api_port=0, aws_port=0, stage_throttling=False, run_schedules=False, log=lambda _: None)
    with LocalStack(config) as stack:
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            simulation = Simulation(stack.api_url, new_user_token(stack), seed, steps=args.steps)
            try:
                with contextlib.redirect_stdout(io.StringIO()):  # the functions' log lines
                    totals += simulation.run()
                totals["devices"] += len(simulation.devices)
            except SyncRuleViolationError as failure:
                failures.append(str(failure))
                print(f"seed {seed}: FAILED\n{failure}", file=sys.stderr)
    seconds = time.perf_counter() - started
    print(f"{args.seeds} seeds x {args.steps} steps in {seconds:.0f} s: {len(failures)} failed")
    for name, count in sorted(totals.items()):
        print(f"  {name:32} {count:>7,}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump(
                {"seeds": args.seeds, "steps": args.steps, "failed": len(failures), "seconds": seconds, **totals},
                out,
            )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
