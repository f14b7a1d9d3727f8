"""One distillation-loss variant in a fresh process: prints {"seconds",
"peak_bytes", "peak_above_inputs_bytes"}.

python -m benchmarks.distill_worker {plain|chunked} N V H {cpu|cuda}
"""

from __future__ import annotations

import json
import resource
import sys
import time

import torch
import torch.nn.functional as F

from snippets.distillation.kd_loss import chunked_soft_target_loss


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize()


def main() -> None:
    variant, N, V, H, device = (
        sys.argv[1],
        int(sys.argv[2]),
        int(sys.argv[3]),
        int(sys.argv[4]),
        sys.argv[5],
    )
    g = torch.Generator(device=device).manual_seed(0)
    student_hidden = torch.randn(
        N, H, device=device, generator=g, requires_grad=True
    )
    student_weight = (
        torch.randn(V, H, device=device, generator=g) * 0.02
    ).requires_grad_()
    teacher_hidden = torch.randn(N, H, device=device, generator=g)
    teacher_weight = torch.randn(V, H, device=device, generator=g) * 0.02
    T = 2.0
    if device == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
    else:
        base = rss_bytes()
    start = time.perf_counter()
    if (
        variant == "plain"
    ):  # what DistilBERT's distiller does: both heads' full logits, then KLDivLoss
        s_logits = student_hidden @ student_weight.T
        with torch.no_grad():
            t_logits = teacher_hidden @ teacher_weight.T
        loss = (
            torch.nn.KLDivLoss(reduction="batchmean")(
                F.log_softmax(s_logits / T, -1), F.softmax(t_logits / T, -1)
            )
            * T**2
        )
    else:
        loss = chunked_soft_target_loss(
            student_hidden,
            student_weight,
            (teacher_hidden, teacher_weight),
            temperature=T,
            chunk_size=512,
        )
    loss.backward()
    if device == "cuda":
        torch.cuda.synchronize()
        peak = torch.cuda.max_memory_allocated()
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    seconds = time.perf_counter() - start
    print(
        json.dumps(
            {
                "seconds": seconds,
                "peak_bytes": peak,
                "peak_above_inputs_bytes": max(peak - base, 1),
                "loss": loss.item(),
            }
        )
    )


if __name__ == "__main__":
    main()
