# %% [markdown]
# # XLNet notebook: the permutation mask and the target mapping
#
# This notebook imports `snippets.xlnet.permutation_lm`, the same file the
# [XLNet page](../../architecture/xlnet/) embeds. It draws the two masks for one
# short sequence.

# %%
import matplotlib.pyplot as plt
import torch

from snippets.xlnet.permutation_lm import (
    permutation_masks,
    plm_inputs,
    sample_factorization_order,
)

tokens = "the cat sat on the mat with a hat".split()
g = torch.Generator().manual_seed(3)
order = sample_factorization_order(1, len(tokens), generator=g)
is_target = torch.tensor(
    [[False, True, False, False, False, True, True, False, True]]
)
perm_mask, target_mapping = permutation_masks(order, is_target)
print(
    "rank of each position in the factorization order:",
    dict(zip(tokens, order[0].tolist())),
)

# %%
fig, axes = plt.subplots(
    1, 2, figsize=(11, 4.2), gridspec_kw={"width_ratios": [1.2, 1]}
)
axes[0].imshow(perm_mask[0], cmap="Reds", vmin=0, vmax=1.4)
axes[0].set_title("perm_mask: row i may NOT attend to column j (dark)")
for ax in axes:
    ax.set_xticks(range(len(tokens)), tokens, rotation=45)
axes[0].set_yticks(
    range(len(tokens)),
    [
        f"{t} ({'T' if is_target[0, i] else 'c'}{order[0, i].item()})"
        for i, t in enumerate(tokens)
    ],
)
axes[1].imshow(target_mapping[0], cmap="Blues", vmin=0, vmax=1.4)
axes[1].set_title(
    f"target_mapping: {target_mapping.shape[1]} one-hot rows, not {len(tokens)}"
)
axes[1].set_yticks(
    range(target_mapping.shape[1]),
    [f"target {k}" for k in range(target_mapping.shape[1])],
)
fig.tight_layout()
plt.show()

# %% [markdown]
# Rows labelled `T` are targets and `c` are context; the number is the rank in the
# factorization order. A target row is blank (may attend) at every context column
# and at targets of lower rank.
#
# `plm_inputs` does all of it for a batch, with targets chosen as spans:

# %%
batch = plm_inputs(torch.randint(5, 100, (4, 48), generator=g), generator=g)
print({name: tuple(t.shape) for name, t in batch.items()})
print("targets per row:", (batch["labels"] != -100).sum(1).tolist(), "of 48 tokens")
