"""Runs every benchmark under bench/ and writes bench/RESULTS.md: each figure, its baseline from
the same run, their ratio, and the machine. `make bench` calls it.

Each benchmark keeps its own detailed table on stdout; this collects their --json outputs into
one place. A benchmark that misses its limit makes the run exit 1, after the file is written.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "RESULTS.md"
OUTPUTS = BENCH / ".outputs"  # the latest --json of each benchmark (not tracked)
Row = tuple[str, str, str, str, str]  # figure, value, baseline, ratio, limit


def _cold_start(data: dict[str, Any]) -> list[Row]:
    """The deployed package's figure (with bytecode) against the limit, the source-only one beside
    it, and the largest imports, so that a regression names its cause."""
    on = f", Python {data['python']}" if "python" in data else ""
    baseline = f"{data['baseline_ms']} ms (import boto3 + a client{on})"
    rows: list[Row] = []
    for floor in data.get("floors", {}).values():
        figure = f"cold start floor: {floor['what']}; no function's code"
        rows.append((figure, f"{floor['ms']} ms", baseline, f"{floor['ratio']:.2f}", ""))
    for row in data["functions"]:
        largest = ", ".join(f"{package} {ms:.0f}" for package, ms in list(row["imports_ms"].items())[:3])
        rows.append(
            (
                f"cold start: {row['function']} (largest imports, ms: {largest})",
                f"{row['ms']} ms",
                baseline,
                f"{row['ratio']:.2f}",
                f"≤ {data['limit']:.2f}",
            )
        )
        rows.append(
            (
                f"cold start: {row['function']}, source only (no bytecode step)",
                f"{row['source']['ms']} ms",
                baseline,
                f"{row['source']['ratio']:.2f}",
                "",
            )
        )
    return rows


def _local_stack(data: dict[str, Any]) -> list[Row]:
    return [
        (
            "local gateway p50, GET /receipts/{id}",
            f"{data['http_p50_ms']:.2f} ms",
            f"{data['direct_p50_ms']:.2f} ms (handler invoked directly)",
            f"{data['ratio']:.2f}",
            "< 3.00",
        ),
        *(
            (
                f"local stack throughput, {route}, {data['clients']} parallel clients",
                f"{rates['many']:.0f} requests/s",
                f"{rates['one']:.0f} requests/s (1 client)",
                f"{rates['many'] / rates['one']:.2f}",
                "> 1.00" if route == "GET /health" else "",
            )
            for route, rates in data["throughput"].items()
        ),
    ]


def _thumbnail(data: dict[str, Any]) -> list[Row]:
    naive, generator = data["naive"], data["generator"]
    return [
        (
            "thumbnail of a 12 MP JPEG: time",
            f"{generator['ms']:.0f} ms",
            f"{naive['ms']:.0f} ms (full decode)",
            f"{1 / data['speedup']:.2f}",
            "≤ 0.33",
        ),
        (
            "thumbnail of a 12 MP JPEG: peak memory",
            f"{generator['peak_mb']:.1f} MB",
            f"{naive['peak_mb']:.1f} MB (full decode)",
            f"{data['memory_ratio']:.2f}",
            "≤ 0.33",
        ),
    ]


def _sync(data: dict[str, Any]) -> list[Row]:
    rows: list[Row] = []
    for model, label, limits in (
        ("round_trip", f"{data['round_trip_ms']:g} ms round trip per call", ("≥ 2.00", "≥ 1.00")),
        ("cpu_only", "no round trip (CPU only)", ("", "")),
    ):
        figures = data[model]
        baseline = f"{figures['baseline']:.0f} items/s (PutItem loop)"
        for name, operation, limit in (
            ("push", "push, batches of 25", limits[0]),
            ("pull", "pull, pages of 100", limits[1]),
        ):
            rows.append(
                (
                    f"sync {operation}, {label}",
                    f"{figures[name]:.0f} items/s",
                    baseline,
                    f"{figures[name] / figures['baseline']:.2f}",
                    limit,
                )
            )
    return rows


def _refine_cost(data: dict[str, Any]) -> list[Row]:
    return [
        (
            "refinement cost, blended (5% fallback)",
            f"${data['blended_usd']:.4f}",
            f"${data['spec_usd']} (the spec's)",
            f"{data['blended_usd'] / data['spec_usd']:.2f}",
            "≤ 1.00",
        )
    ]


def _warranty_reads(data: list[dict[str, Any]]) -> list[Row]:
    return [
        (
            f"warranty run, {run['receipts']:,} receipts, {run['due']} due: items read",
            f"{run['index']['items_read']:,}",
            f"{run['scan']['items_read']:,} (the spec's full scan)",
            f"{run['index']['items_read'] / run['scan']['items_read']:.3f}",
            "flat as receipts grow",
        )
        for run in data
    ]


def _export(data: list[dict[str, Any]]) -> list[Row]:
    smallest = data[0]["streamed"]["peak_kb"]
    return [
        (
            f"export of {run['receipts']:,} receipts with 1 MB images: peak RSS",
            f"{run['streamed']['peak_kb'] / 1024:,.0f} MB",
            f"{run['naive']['peak_kb'] / 1024:,.0f} MB (ZIP in memory)",
            f"{run['streamed']['peak_kb'] / smallest:.2f} of the smallest",
            "≤ 1.20 of the smallest",
        )
        for run in data
    ]


def _image_memory(data: dict[str, Any]) -> list[Row]:
    reference = f"{data['reference_mb']:.1f} MB (refining a 12 MP photo)"
    return [
        (
            f"{path} of a 10000 x 10000 JPEG: peak memory",
            f"{data['results'][f'{path}-10000']['peak_mb']:.1f} MB",
            reference,
            f"{data['ratios'][path]:.2f}",
            f"≤ {data['limit']:.2f}",
        )
        for path in ("refinement", "thumbnail")
    ]


def _sync_soak(data: dict[str, Any]) -> list[Row]:
    """Counts, not ratios: what the runs did, and that no rule broke."""
    runs = f"{data['seeds']} seeds × {data['steps']} steps, {data['devices']} devices"
    counted = [
        ("HTTP requests", "requests"),
        ("pushes whose answer was lost", "pushes: response lost"),
        ("lost pushes resent as the same bytes", "pushes: identical retry"),
        ("pushes delivered twice", "pushes: duplicated"),
        ("push items answered duplicate", "outcomes: duplicate"),
        ("pulls interrupted by other writes", "pulls: interrupted"),
        ("pulls resumed from the saved cursor", "pulls: resumed"),
        ("pulls abandoned", "pulls: abandoned"),
        ("REST writes (PUT, status, delete, restore)", "rest writes"),
    ]
    data = {**data, "rest writes": sum(value for name, value in data.items() if name.startswith("rest: "))}
    rows = [(f"sync soak ({runs}): {label}", f"{data.get(key, 0):,}", "", "", "") for label, key in counted]
    rows.append((f"sync soak ({runs}): runs that broke a rule", str(data["failed"]), "", "", "0"))
    return rows


def _duplicates(data: dict[str, Any]) -> list[Row]:
    ours = data["methods"]["fingerprints"]
    rows: list[Row] = []
    for figure, key, limit in (
        ("precision", "rephoto_precision", "≥ 0.98"),
        ("recall on re-photos", "rephoto_recall", "≥ 0.90"),
        ("recall on exact copies", "copy_recall", "= 1.00"),
    ):
        for name, result in data["methods"].items():
            if name == "fingerprints":
                continue
            rows.append(
                (
                    f"duplicates, {data['captures']} captures: {figure} vs {name}",
                    f"{ours[key]:.3f}",
                    f"{result[key]:.3f}",
                    f"{ours[key] / result[key]:.2f}" if result[key] else "—",
                    limit if name.startswith("bytes") else "",
                )
            )
    return rows


def _calls_per_operation(data: dict[str, Any]) -> list[Row]:
    """One row here; the per-route table is a section of its own (TABLES)."""
    return [
        (
            "AWS calls per API operation: routes measured (table below)",
            str(len(data["routes"])),
            "",
            "",
            "within tests/bench/call_budget.json",
        )
    ]


def _calls_per_operation_table(data: dict[str, Any]) -> list[str]:
    from calls_per_operation import table_lines  # bench/ is on the path: run_all runs as a script

    return [
        "## AWS calls and DynamoDB capacity per API operation",
        "",
        "A warm execution environment's second request (bench/calls_per_operation.py: units computed from item",
        "sizes, not moto's placeholders; “first request only” is what the first request made besides).",
        "",
        *table_lines(data),
        "",
    ]


# Benchmarks whose output is a table of its own, written under the main one.
TABLES: dict[str, Callable[[Any], list[str]]] = {
    "calls_per_operation.py": _calls_per_operation_table,
}


BENCHMARKS: dict[str, Callable[[Any], list[Row]]] = {
    "cold_start.py": _cold_start,
    "local_stack.py": _local_stack,
    "thumbnail.py": _thumbnail,
    "image_memory.py": _image_memory,
    "sync.py": _sync,
    "refine_cost.py": _refine_cost,
    "warranty_reads.py": _warranty_reads,
    "export.py": _export,
    "sync_soak.py": _sync_soak,
    "duplicates.py": _duplicates,
    "calls_per_operation.py": _calls_per_operation,
}


def main() -> int:
    """Run the benchmarks named on the command line (all by default), then write RESULTS.md from
    the latest output of each: a noisy figure can be measured again without the hour of the rest."""
    chosen = sys.argv[1:] or list(BENCHMARKS)
    unknown = sorted(set(chosen) - set(BENCHMARKS))
    if unknown:
        print(f"no such benchmark: {', '.join(unknown)} (choose from {', '.join(BENCHMARKS)})", file=sys.stderr)
        return 2
    OUTPUTS.mkdir(exist_ok=True)
    for script in chosen:
        output = OUTPUTS / f"{script}.json"
        output.unlink(missing_ok=True)
        print(f"== {script}", flush=True)
        result = subprocess.run([sys.executable, str(BENCH / script), "--json", str(output)], check=False)
        missed = OUTPUTS / f"{script}.missed"  # it exited 1: a figure missed its limit
        missed.touch() if result.returncode else missed.unlink(missing_ok=True)
    rows: list[Row] = []
    failed: list[str] = []
    for script, to_rows in BENCHMARKS.items():
        output = OUTPUTS / f"{script}.json"
        if output.exists():
            rows += to_rows(json.loads(output.read_text()))
        if not output.exists() or (OUTPUTS / f"{script}.missed").exists():
            failed.append(script)
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, {platform.system()}"
    lines = [
        "# Benchmark results",
        "",
        f"Written by `make bench` on {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC. Machine: {machine}.",
        "Every baseline was measured in the same run as its figure; see each script for the method.",
        "",
        "| figure | value | baseline | ratio | limit |",
        "|---|---|---|---|---|",
        *(f"| {' | '.join(row)} |" for row in rows),
        "",
        f"Missed their limit: {', '.join(failed)}." if failed else "Every benchmark met its limit.",
        "",
    ]
    for script, to_table in TABLES.items():
        output = OUTPUTS / f"{script}.json"
        if output.exists():
            lines += to_table(json.loads(output.read_text()))
    RESULTS.write_text("\n".join(lines), encoding="utf-8")
    print(f"wrote {RESULTS.relative_to(BENCH.parent)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
