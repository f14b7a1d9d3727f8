"""Computed table of ernie2.md, from `make experiments`' output."""

from __future__ import annotations

import json
from pathlib import Path

GENERATED = Path(__file__).resolve().parents[1] / "assets" / "generated"


def ernie_continual_table() -> str:
    path = GENERATED / "ernie_continual.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing; run `make experiments`")
    results = json.loads(path.read_text(encoding="utf-8"))
    tasks = results["tasks"]
    rows = [
        "| Training | "
        + " | ".join(f"task {i}: {t}" for i, t in enumerate(tasks))
        + " |",
        "|---|" + "---:|" * len(tasks),
    ]
    for name, run in results["runs"].items():
        acc = run["accuracy"]
        cells = " | ".join(
            f"{acc[t][-1]:.2f} (peak {max(acc[t]):.2f})" for t in tasks
        )
        rows.append(f"| {name} | {cells} |")
    return (
        "\n".join(rows) + "\n\nFinal held-out accuracy (peak in brackets), "
        f"{results['steps_per_task']} steps per task, seed {results['seed']}.\n"
    )
