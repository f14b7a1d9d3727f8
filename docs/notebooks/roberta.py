# %% [markdown]
# # RoBERTa notebook: static vs dynamic masks across epochs
#
# One sequence of 40 tokens, seen for 12 epochs. Static masking (BERT,
# `dupe_factor = 4` here so the repetition is visible) cycles through 4 fixed masks.
# Dynamic masking (RoBERTa) draws a new one each epoch.

# %%
import matplotlib.pyplot as plt
import torch

from snippets.roberta.dynamic_masking import DynamicMasking, static_masking

sequence = torch.randint(
    5, 1000, (1, 40), generator=torch.Generator().manual_seed(0)
)
_, static_labels = static_masking(
    sequence,
    mask_token_id=4,
    vocab_size=1000,
    dupe_factor=4,
    generator=torch.Generator().manual_seed(1),
)
static = torch.stack([static_labels[epoch % 4] != -100 for epoch in range(12)])
dataset = DynamicMasking(sequence, mask_token_id=4, vocab_size=1000, seed=1)
dynamic = []
for epoch in range(12):
    dataset.set_epoch(epoch)
    dynamic.append(dataset[0]["labels"] != -100)
dynamic = torch.stack(dynamic)

fig, axes = plt.subplots(1, 2, figsize=(12, 3.6), sharey=True)
for ax, masks, title in (
    (axes[0], static, "static (dupe_factor = 4)"),
    (axes[1], dynamic, "dynamic"),
):
    ax.imshow(masks, cmap="Greys", aspect="auto")
    ax.set_title(title)
    ax.set_xlabel("token position")
axes[0].set_ylabel("epoch")
fig.tight_layout()
plt.show()
print(
    "distinct masks in 12 epochs: static",
    len({tuple(m.tolist()) for m in static}),
    "/ dynamic",
    len({tuple(m.tolist()) for m in dynamic}),
)
