# %% [markdown]
# # SpanBERT notebook: span lengths against the clipped geometric distribution

# %%
import matplotlib.pyplot as plt
import torch

from snippets.spanbert.span_masking import sample_spans, span_length_distribution

g = torch.Generator().manual_seed(0)
word_starts = torch.rand(400, 512, generator=g) < 0.75
# the sampled spans, before span_mask merges the ones that touch
_, spans = sample_spans(word_starts, generator=g)
# span lengths in words: count word starts inside each span
words_per_span = torch.tensor(
    [int(word_starts[b, s:e].sum()) for b, s, e in spans.tolist()]
)
observed = torch.bincount(words_per_span, minlength=11)[1:11].float()
observed /= observed.sum()
expected = span_length_distribution()

plt.figure(figsize=(7, 3.5))
plt.bar(range(1, 11), observed, label="sampled spans", alpha=0.7)
plt.plot(
    range(1, 11), expected, "o-", color="black", label="Geo(0.2), clipped at 10"
)
plt.xlabel("span length (words)")
plt.ylabel("share of spans")
plt.legend()
plt.show()
print(
    f"{len(spans)} spans; mean length {words_per_span.float().mean():.2f} words "
    f"(distribution mean {(expected * torch.arange(1, 11)).sum():.2f})"
)
