# %% [markdown]
# # T5 notebook: a sentence before and after span corruption

# %%
import torch
from IPython.display import HTML

from snippets.t5.span_corruption import span_corruption

words = (
    "Thank you for inviting me to your party last week , it was a wonderful evening"
).split()
vocab = {w: i + 10 for i, w in enumerate(dict.fromkeys(words))}
SENTINEL_0, EOS = 999, 1
names = (
    {i: w for w, i in vocab.items()}
    | {EOS: "</s>"}
    | {SENTINEL_0 - k: f"<extra_id_{k}>" for k in range(20)}
)
ids = torch.tensor([[vocab[w] for w in words]])
inputs, targets = span_corruption(
    ids,
    sentinel_start_id=SENTINEL_0,
    eos_token_id=EOS,
    noise_density=0.25,
    generator=torch.Generator().manual_seed(2),
)


def show(row):
    cells = []
    for i in row.tolist():
        text = names[i].replace("<", "&lt;").replace(">", "&gt;")
        style = (
            "background:#ffe082;border-radius:3px;padding:0 3px" if i > 900 else ""
        )
        cells.append(f'<span style="{style}">{text}</span>')
    return " ".join(cells)


HTML(
    f"<p><b>original</b>: {' '.join(words)}</p>"
    f"<p><b>inputs</b>: {show(inputs[0])}</p>"
    f"<p><b>targets</b>: {show(targets[0])}</p>"
)
