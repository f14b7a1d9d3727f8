"""What every experiment shares around its run: where results and checkpoints
go, the command line, and how rank 0 writes and prints the results.

An experiment module defines `run`, `table` and `plot`, then its `main` is

    args = cli.arguments(__doc__).parse_args(argv)
    out, runs = cli.folders(args, NAME)
    results = run(settings, runs)
    cli.publish(results, out, NAME, {f"_{NAME}_table.md": table(results)}, plot)
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

from experiments import harness

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "assets" / "generated"  # what the pages show
RUNS = ROOT / ".cache" / "experiments" / "runs"  # checkpoints, metrics, --quick


def arguments(
    doc: str, *, steps_help: str = "override the training steps"
) -> argparse.ArgumentParser:
    """--quick, --steps, --out and --runs; add an experiment's own after."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="a small slice, in seconds"
    )
    parser.add_argument("--steps", type=int, help=steps_help)
    parser.add_argument("--out", type=Path, help=f"results folder (default {OUT})")
    parser.add_argument("--runs", type=Path, help="checkpoints and metrics folder")
    return parser


def runs_dir(stem: str, quick: bool) -> Path:
    """The default checkpoints folder of an experiment's runs."""
    return RUNS / (f"{stem}-quick" if quick else stem)


def folders(
    args: argparse.Namespace, name: str, stem: str | None = None
) -> tuple[Path, Path]:
    """(results folder, checkpoints folder): --out and --runs, or the defaults.
    A --quick run never writes over the results the pages show."""
    out = args.out or (RUNS / f"{name}-quick" if args.quick else OUT)
    return out, args.runs or runs_dir(stem or name, args.quick)


def pyplot(salt: str):
    """matplotlib's pyplot, headless, with the SVG element ids seeded by `salt`,
    so that the same results always give the same file."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams["svg.hashsalt"] = salt
    return plt


def save_svg(fig, path: Path) -> None:
    """Lay out, write without a date (reproducible files), and free `fig`."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    fig.savefig(path, format="svg", metadata={"Date": None})
    plt.close(fig)


def publish(
    results: dict,
    out: Path,
    stem: str,
    tables: dict[str, str],
    plot: Callable[[dict, Path], None],
) -> None:
    """On rank 0: write `stem.json`, each table under its file name and
    `stem.svg`, and print the tables; then leave the process group."""
    if harness.init_process().is_main:
        out.mkdir(parents=True, exist_ok=True)
        (out / f"{stem}.json").write_text(json.dumps(results, indent=1) + "\n")
        for file, text in tables.items():
            (out / file).write_text(text)
        plot(results, out / f"{stem}.svg")
        for text in tables.values():
            print(text, file=sys.stderr)
        print(f"wrote {out}/{stem}.json, .svg and {' and '.join(tables)}")
    harness.finish()
