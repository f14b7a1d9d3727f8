"""Run one, several or all experiments: `python -m experiments [NAME] [--quick]`.

Without a name every experiment runs at its default size (what `make
experiments` does, rewriting docs/assets/generated/). Experiments trained with
`experiments.harness` also run under torchrun, one process per GPU or core:

    torchrun --nproc_per_node=4 -m experiments albert_sop
"""

from __future__ import annotations

import argparse
import importlib
import time

EXPERIMENTS = {
    "albert_sop": "ALBERT: sentence-order vs next-sentence prediction (Table 5)",
    "roberta_masking": "RoBERTa: static vs dynamic masking (Table 1)",
    # after roberta_masking: its teacher is that experiment's dynamic model
    "distillation": "DistilBERT: the triple loss and its ablations (Table 4)",
    "spanbert_masking": "SpanBERT: span vs token masking, and SBO (Tables 6-7)",
    "t5_objectives": "T5: BERT-style vs sentinel objectives (Tables 4, 5, 7)",
    "xlnet_plm": "XLNet: permutation LM vs masked LM on one backbone (Table 6)",
    "ernie_masking": "ERNIE 1.0: knowledge vs character masking (Table 2)",
    "ernie_continual": "ERNIE 2.0: continual multi-task learning, a toy",
    "compression_table": "pruning and quantization of a tiny BERT",
}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "names",
        nargs="*",
        metavar="NAME",
        help="experiments to run (default: all): " + ", ".join(EXPERIMENTS),
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a small slice, end to end in seconds; writes under .cache/",
    )
    args = parser.parse_args(argv)
    unknown = [n for n in args.names if n not in EXPERIMENTS]
    if unknown:
        parser.error(f"unknown experiment {unknown}; known: {list(EXPERIMENTS)}")
    for name in args.names or EXPERIMENTS:
        start = time.perf_counter()
        print(f"== {name}: {EXPERIMENTS[name]}", flush=True)
        module = importlib.import_module(f"experiments.{name}")
        module.main(["--quick"] if args.quick else [])
        print(f"== {name}: {time.perf_counter() - start:.0f} s", flush=True)


if __name__ == "__main__":
    main()
