# %% [markdown]
# # SOP vs NSP notebook: example pairs
#
# Two toy documents, one about cooking and one about football. NSP negatives mix the
# two topics; SOP negatives only swap the order of two halves of the same passage.

# %%
import torch

from snippets.albert.sop import create_nsp_examples, create_sop_examples

cooking = [
    "Preheat the oven .",
    "Knead the dough .",
    "Shape the loaf .",
    "Bake for forty minutes .",
    "Let it cool .",
]
football = [
    "The whistle blew .",
    "The striker ran .",
    "She scored twice .",
    "The crowd cheered .",
    "The match ended .",
]
vocab = {
    w: i
    for i, w in enumerate(
        sorted({w for s in cooking + football for w in s.split()})
    )
}
words = {i: w for w, i in vocab.items()}
encode = lambda doc: [[vocab[w] for w in s.split()] for s in doc]
decode = lambda ids: " ".join(words[i] for i in ids)
docs = [encode(cooking), encode(football)]
g = torch.Generator().manual_seed(0)

print("SOP (label 1 = swapped)")
for e in create_sop_examples(docs[0], 16, short_seq_prob=0.0, generator=g):
    print(f"  {e.label}  A: {decode(e.tokens_a):40}  B: {decode(e.tokens_b)}")
print("NSP (label 1 = B from another document)")
for e in create_nsp_examples(docs, 0, 16, short_seq_prob=0.0, generator=g):
    print(f"  {e.label}  A: {decode(e.tokens_a):40}  B: {decode(e.tokens_b)}")

# %% [markdown]
# Every NSP negative pairs cooking with football: checking the topic is enough to
# solve it. Every SOP pair is about cooking, so only the order of the steps gives
# the label away.
