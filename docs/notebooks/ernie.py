# %% [markdown]
# # ERNIE notebook: knowledge-masking levels and the continual multi-task experiment

# %%
import json

import matplotlib.pyplot as plt
import torch

from experiments.ernie_continual import OUT
from snippets.ernie.knowledge_masking import knowledge_mask, units_from_spans

chars = list("哈尔滨是黑龙江的省会")
levels = {
    "basic (characters)": [],
    "phrase": [(8, 10)],
    "entity": [(0, 3), (4, 7)],
}
ids = torch.arange(100, 110)[None]
for level, spans in levels.items():
    units = units_from_spans(10, spans)[None]
    inputs, labels = knowledge_mask(
        ids,
        units,
        mlm_probability=0.3,
        mask_token_id=4,
        vocab_size=200,
        generator=torch.Generator().manual_seed(1),
    )
    shown = "".join(
        "＿" if l != -100 else c for c, l in zip(chars, labels[0].tolist())
    )
    grouped = " | ".join(
        "".join(chars[i] for i in range(10) if units[0, i] == u)
        for u in units[0].unique().tolist()
    )
    print(f"{level:20} units: {grouped:32} one masking: {shown}")

# %% [markdown]
# The continual multi-task experiment (`python -m experiments.ernie_continual`); its
# committed results:

# %%
results = json.loads((OUT / "ernie_continual.json").read_text())
fig, axes = plt.subplots(1, 3, figsize=(12, 3.2), sharey=True)
for ax, (name, run) in zip(axes, results["runs"].items()):
    for task, acc in run["accuracy"].items():
        ax.plot(run["steps"], acc, label=task)
    ax.set_title(name, fontsize=9)
axes[0].set_ylabel("held-out accuracy")
axes[-1].legend(fontsize=7)
fig.tight_layout()
plt.show()
