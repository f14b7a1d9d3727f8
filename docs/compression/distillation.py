"""Computed figure of distillation.md: one set of logits softened by temperature."""

from __future__ import annotations


def softmax_temperature():
    import matplotlib.pyplot as plt
    import torch

    logits = torch.tensor([6.0, 3.5, 2.0, 1.0, 0.0, -1.0, -2.0, -3.0])
    classes = ["cat", "dog", "fox", "cow", "car", "bus", "cup", "pen"]
    fig, ax = plt.subplots(figsize=(7, 2.8))
    width = 0.2
    for k, T in enumerate((1.0, 2.0, 5.0, 20.0)):
        probs = torch.softmax(logits / T, -1)
        ax.bar(
            [i + (k - 1.5) * width for i in range(len(classes))],
            probs.tolist(),
            width,
            label=f"T = {T:g}",
        )
    ax.set_xticks(range(len(classes)), classes)
    ax.set_ylabel("softmax(z / T)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
