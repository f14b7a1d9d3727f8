"""`python -m benchmarks [--quick] [--out FILE] [--only NAME ...]`: the comparisons.

Each comparison runs ours and the peer in the same process, alternating which goes
first, after a warm-up. It reports the median and the min–max of each, and the ratio
of the medians: absolute times on a shared machine are noise, while ratios taken in
one run are not. Peak memory is read from a fresh subprocess per variant (peak RSS
on CPU, max allocated on CUDA). `--only NAME` updates those comparisons in the
results file and keeps the others.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from experiments.machine import machine_info

OUT = Path(__file__).resolve().parent / "results.json"


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def _stats(times: list[float]) -> dict:
    return {
        "median_ms": round(statistics.median(times) * 1e3, 3),
        "min_ms": round(min(times) * 1e3, 3),
        "max_ms": round(max(times) * 1e3, 3),
        "runs": len(times),
    }


def compare(ours, peer, *, repeats: int, device: str, warmup: int = 2) -> dict:
    """Time `ours` and `peer` interleaved (the order alternates each round)."""
    for _ in range(warmup):
        ours(), peer()
    _sync(device)
    times = {"ours": [], "peer": []}
    for i in range(repeats):
        for name in ("ours", "peer") if i % 2 == 0 else ("peer", "ours"):
            fn = ours if name == "ours" else peer
            start = time.perf_counter()
            fn()
            _sync(device)
            times[name].append(time.perf_counter() - start)
    result = {name: _stats(t) for name, t in times.items()}
    result["speedup"] = round(
        statistics.median(times["peer"]) / statistics.median(times["ours"]), 2
    )
    return result


# -------------------------------------------------- 1. XLNet permutation-LM inputs


def bench_xlnet(quick: bool, device: str, tokenizer) -> dict:
    from transformers import DataCollatorForPermutationLanguageModeling

    from snippets.xlnet.permutation_lm import plm_inputs

    B, L = (4, 64) if quick else (32, 512)
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(5, len(tokenizer), (B, L), generator=g)
    ids[:, 0], ids[:, -1] = tokenizer.cls_token_id, tokenizer.sep_token_id
    special_ids = torch.tensor(tokenizer.all_special_ids)
    collator = DataCollatorForPermutationLanguageModeling(
        tokenizer, plm_probability=1 / 6, max_span_length=5
    )
    gen = torch.Generator(device=device).manual_seed(1)
    ids_dev = ids.to(device)

    def ours():
        return plm_inputs(
            ids_dev,
            special_tokens_mask=torch.isin(ids_dev, special_ids.to(device)),
            generator=gen,
        )

    # the collator works on CPU tensors and asks the tokenizer for special tokens
    # row by row
    def peer():
        return collator.torch_mask_tokens(ids.clone())

    result = compare(ours, peer, repeats=3 if quick else 10, device=device)
    mine, theirs = ours(), peer()

    def nbytes(t):
        return t.numel() * t.element_size()

    result["memory_bytes"] = {
        "ours_target_mapping": nbytes(mine["target_mapping"]),
        "peer_target_mapping": nbytes(theirs[2]),
        "ours_perm_mask": nbytes(mine["perm_mask"]),
        "peer_perm_mask": nbytes(theirs[1]),
    }
    result.update(
        setup=f"batch {B} × length {L}, plm_probability 1/6, max_span_length 5",
        target="≥ 20× faster",
        peer_name="transformers DataCollatorForPermutationLanguageModeling",
    )
    return result


# ------------------------------------------------------ 2. RoBERTa dynamic masking


def bench_roberta(quick: bool, device: str, tokenizer) -> dict:
    from transformers import DataCollatorForLanguageModeling

    from snippets.roberta.dynamic_masking import mask_tokens

    B, L = (4, 64) if quick else (32, 512)
    ids = torch.randint(
        5, len(tokenizer), (B, L), generator=torch.Generator().manual_seed(0)
    )
    ids[:, 0], ids[:, -1] = tokenizer.cls_token_id, tokenizer.sep_token_id
    special = torch.isin(ids, torch.tensor(tokenizer.all_special_ids))
    collator = DataCollatorForLanguageModeling(tokenizer, mlm_probability=0.15)
    ids_dev, special_dev = ids.to(device), special.to(device)
    special_ids = torch.tensor(tokenizer.all_special_ids, device=device)
    gen = torch.Generator(device=device).manual_seed(1)
    repeats = 5 if quick else 50
    kwargs = dict(
        mask_token_id=tokenizer.mask_token_id,
        vocab_size=len(tokenizer),
        generator=gen,
    )

    with_mask = compare(
        lambda: mask_tokens(ids_dev, special_tokens_mask=special_dev, **kwargs),
        lambda: collator.torch_mask_tokens(
            ids.clone(), special_tokens_mask=special.long()
        ),
        repeats=repeats,
        device=device,
    )
    without_mask = compare(
        lambda: mask_tokens(
            ids_dev, special_tokens_mask=torch.isin(ids_dev, special_ids), **kwargs
        ),
        lambda: collator.torch_mask_tokens(ids.clone()),
        repeats=repeats,
        device=device,
    )
    floor = compare(
        lambda: mask_tokens(ids_dev, special_tokens_mask=special_dev, **kwargs),
        lambda: torch.rand(B, L, generator=gen, device=device),
        repeats=repeats,
        device=device,
    )
    peer_floor = compare(
        lambda: collator.torch_mask_tokens(
            ids.clone(), special_tokens_mask=special.long()
        ),
        lambda: torch.rand(B, L, generator=gen, device=device),
        repeats=repeats,
        device=device,
    )
    return {
        "with_special_tokens_mask": with_mask,
        "without_special_tokens_mask": without_mask,
        "ours_over_floor": round(1 / floor["speedup"], 2),
        "peer_over_floor": round(1 / peer_floor["speedup"], 2),
        "setup": f"batch {B} × length {L}; floor = torch.rand(B, L)",
        "target": "≥ 2× faster with the mask, ≥ 10× without; ≤ 3× the floor",
        "peer_name": "transformers DataCollatorForLanguageModeling "
        "(a local WordPiece tokenizer)",
        "speedup": with_mask["speedup"],
    }


# ----------------------------------------------------------- 3. T5 span corruption


def bench_t5(quick: bool, device: str) -> dict:
    from benchmarks.baselines import t5_numpy_baseline
    from snippets.t5.span_corruption import span_corruption

    B, L = (8, 568) if quick else (64, 568)
    ids = torch.randint(
        10, 32000, (B, L), generator=torch.Generator().manual_seed(0)
    )
    ids_np, ids_dev = ids.numpy(), ids.to(device)
    rng, gen = (
        np.random.default_rng(0),
        torch.Generator(device=device).manual_seed(0),
    )
    result = compare(
        lambda: span_corruption(
            ids_dev, sentinel_start_id=32099, eos_token_id=1, generator=gen
        ),
        lambda: t5_numpy_baseline(ids_np, rng, 32099, 1),
        repeats=5 if quick else 30,
        device=device,
    )
    result.update(
        setup=f"batch {B} × {L} raw tokens (→ 512 inputs)",
        target="≥ 10× faster",
        peer_name="per-example NumPy noise mask + vectorized sentinels "
        "(our code, shaped like the Flax T5 collator)",
    )
    return result


# -------------------------------------------------------- 4. SpanBERT span masking


def bench_spanbert(quick: bool, device: str) -> dict:
    from benchmarks.baselines import spanbert_loop_baseline
    from snippets.spanbert.span_masking import span_length_distribution, span_mask

    B, L = (4, 128) if quick else (32, 512)
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(5, 30000, (B, L), generator=g)
    word_starts = torch.rand(B, L, generator=g) < 0.75
    word_starts[:, 0] = True
    probs = span_length_distribution().double().numpy()
    probs /= probs.sum()
    ids_np, ws_np, rng = ids.numpy(), word_starts.numpy(), np.random.default_rng(0)
    ids_dev, ws_dev = ids.to(device), word_starts.to(device)
    gen = torch.Generator(device=device).manual_seed(0)
    result = compare(
        lambda: span_mask(
            ids_dev, ws_dev, mask_token_id=4, vocab_size=30000, generator=gen
        ),
        lambda: spanbert_loop_baseline(ids_np, ws_np, rng, 4, 30000, probs),
        repeats=3 if quick else 20,
        device=device,
    )
    result.update(
        setup=f"batch {B} × length {L}",
        target="≥ 10× faster",
        peer_name="per-span Python loop with anchor redraws "
        "(our code, shaped like the reference)",
    )
    return result


# -------------------------------------------- 5. distillation loss memory and time


def bench_distillation(quick: bool, device: str) -> dict:
    N, V, H = (512, 3000, 64) if quick else (8192, 30522, 768)
    runs = {}
    for variant in ("plain", "chunked"):
        samples = []
        for _ in range(1 if quick else 3):
            out = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "benchmarks.distill_worker",
                    variant,
                    str(N),
                    str(V),
                    str(H),
                    device,
                ],
                capture_output=True,
                text=True,
                check=True,
            )
            samples.append(json.loads(out.stdout.strip().splitlines()[-1]))
        runs[variant] = {
            "median_ms": round(
                statistics.median(s["seconds"] for s in samples) * 1e3, 1
            ),
            "min_ms": round(min(s["seconds"] for s in samples) * 1e3, 1),
            "max_ms": round(max(s["seconds"] for s in samples) * 1e3, 1),
            "peak_bytes": max(s["peak_bytes"] for s in samples),
            "peak_above_inputs_bytes": max(
                s["peak_above_inputs_bytes"] for s in samples
            ),
        }
    return {
        "ours": runs["chunked"],
        "peer": runs["plain"],
        "speedup": round(
            runs["plain"]["median_ms"] / runs["chunked"]["median_ms"], 2
        ),
        "memory_ratio": round(
            runs["chunked"]["peak_above_inputs_bytes"]
            / runs["plain"]["peak_above_inputs_bytes"],
            3,
        ),
        "setup": f"N = {N} positions, V = {V}, H = {H}; forward + backward; "
        "each variant in its own subprocess",
        "target": "peak memory ≤ 25% of the plain loss; time ≤ 1.5× the plain loss",
        "peer_name": "both heads' full logits + KLDivLoss (DistilBERT style)",
    }


# ----------------------------------------------------------- 6. site build scaling


def bench_site(quick: bool) -> dict:
    from benchmarks.site_scaling import run

    result = (
        run((10, 40), execute_notebooks=False) if quick else run((100, 400, 1600))
    )
    result.update(
        target="≤ 0.02 s per added page at 1600, growth within 1.5× of linear; "
        "the real site ≤ 60 s",
        setup="mkdocs build --strict of a temporary copy; "
        "synthetic pages in the categories",
    )
    return result


# --------------------------------------------------------------- 7. site edit loop


def bench_editloop(quick: bool) -> dict:
    from benchmarks.editloop import run

    return run(quick=quick)


BENCHES = {
    "xlnet": bench_xlnet,
    "roberta": bench_roberta,
    "t5": bench_t5,
    "spanbert": bench_spanbert,
    "distillation": bench_distillation,
    "site": bench_site,
    "editloop": bench_editloop,
}


# the figures printed after each comparison
HEADLINE = (
    "speedup",
    "memory_ratio",
    "ours_over_floor",
    "peer_over_floor",
    "seconds_per_added_page",
    "growth_vs_linear",
    "first_page_cold_seconds",
    "markdown_edit_median_seconds",
)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="tiny sizes, under a minute (a smoke run, not a result)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help=f"where to write the JSON (default {OUT}; "
        "--quick: not written unless given)",
    )
    parser.add_argument(
        "--only",
        nargs="*",
        choices=sorted(BENCHES),
        help="run only these comparisons",
    )
    parser.add_argument(
        "--device", default="cuda" if torch.cuda.is_available() else "cpu"
    )
    args = parser.parse_args(argv)
    from benchmarks.local_tokenizer import tiny_wordpiece_tokenizer

    tokenizer = tiny_wordpiece_tokenizer(Path(tempfile.mkdtemp()), n_words=30000)
    results = {
        "machine": machine_info(),
        "quick": args.quick,
        "device": args.device,
        "comparisons": {},
    }
    for name in args.only or BENCHES:
        print(f"[{name}]", flush=True)
        fn = BENCHES[name]
        kwargs = {"quick": args.quick}
        if name not in ("site", "editloop"):
            kwargs["device"] = args.device
        if name in ("xlnet", "roberta"):
            kwargs["tokenizer"] = tokenizer
        results["comparisons"][name] = fn(**kwargs)
        if (
            args.out or not args.quick
        ):  # keep what is done so far, should a later comparison fail
            (args.out or OUT).with_suffix(".partial.json").write_text(
                json.dumps(results, indent=1, ensure_ascii=False)
            )
        headline = {
            k: v for k, v in results["comparisons"][name].items() if k in HEADLINE
        }
        print(f"  speedup/ratio: {json.dumps(headline)}", flush=True)
    out = args.out or (None if args.quick else OUT)
    if out and args.only and out.is_file():  # --only: keep the other comparisons
        merged = json.loads(out.read_text(encoding="utf-8"))
        if merged.get("quick") == results["quick"]:
            for name, result in results["comparisons"].items():
                machine = {"machine": results["machine"]}
                merged["comparisons"][name] = result | machine
            results = merged
    if out:
        out.write_text(json.dumps(results, indent=1, ensure_ascii=False) + "\n")
        out.with_suffix(".partial.json").unlink(missing_ok=True)
        print(f"wrote {out}")
    return results


if __name__ == "__main__":
    main()
