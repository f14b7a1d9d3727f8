# %% [markdown]
# # ALBERT notebook: where the parameters go
#
# The counts come from `snippets.albert.cross_layer_sharing.albert_parameter_count`,
# which the tests check against transformers' `AlbertModel` and `BertModel`.

# %%
import matplotlib.pyplot as plt

from snippets.albert.cross_layer_sharing import (
    PAPER_CONFIGS,
    PAPER_VOCAB_SIZE,
    SHARING_MODES,
    albert_parameter_count,
)

counts = {
    name: albert_parameter_count(
        PAPER_VOCAB_SIZE, E, H, L, H // 64, 4 * H, sharing=s
    )
    / 1e6
    for name, (L, H, E, s, _) in PAPER_CONFIGS.items()
}
sharing = {
    (E, mode): albert_parameter_count(
        PAPER_VOCAB_SIZE, E, 768, 12, 12, 3072, sharing=mode
    )
    / 1e6
    for E in (768, 128)
    for mode in SHARING_MODES
}

fig, axes = plt.subplots(1, 2, figsize=(12, 4))
axes[0].bar(
    list(counts), list(counts.values()), color=["grey", "grey"] + ["tab:blue"] * 4
)
axes[0].set_yscale("log")
axes[0].set_ylabel("parameters (millions, log scale)")
axes[0].set_title("Table 1 configurations")
axes[0].tick_params(axis="x", rotation=30)
for E, offset, color in ((768, -0.2, "tab:orange"), (128, 0.2, "tab:blue")):
    axes[1].bar(
        [i + offset for i in range(4)],
        [sharing[E, m] for m in SHARING_MODES],
        0.4,
        label=f"E = {E}",
        color=color,
    )
axes[1].set_xticks(range(4), SHARING_MODES)
axes[1].set_title("ALBERT-base by sharing mode (Table 4)")
axes[1].legend()
fig.tight_layout()
plt.show()

# %%
for name, millions in counts.items():
    print(f"{name:15} {millions:8.1f}M   (paper: {PAPER_CONFIGS[name][4]})")
