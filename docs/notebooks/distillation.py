# %% [markdown]
# # Distillation notebook: softmax at several temperatures, and the T² factor

# %%
import matplotlib.pyplot as plt
import torch

from snippets.distillation.kd_loss import soft_target_loss

logits = torch.tensor([6.0, 3.5, 2.0, 1.0, 0.0, -1.0, -2.0, -3.0])
plt.figure(figsize=(7, 3))
for T in (1, 2, 5, 20):
    plt.plot(torch.softmax(logits / T, -1), "o-", label=f"T = {T}")
plt.xlabel("class (sorted by teacher logit)")
plt.ylabel("probability")
plt.legend()
plt.show()

# %% [markdown]
# The gradient norm of the soft-target loss, with and without T², for the same
# student and teacher:

# %%
g = torch.Generator().manual_seed(0)
student, teacher = (
    torch.randn(32, 100, generator=g),
    torch.randn(32, 100, generator=g),
)
temperatures = [1, 2, 4, 8, 16]
norms = {"with T²": [], "without T²": []}
for T in temperatures:
    for name in norms:
        s = student.clone().requires_grad_()
        loss = soft_target_loss(s, teacher, temperature=T)
        (loss if name == "with T²" else loss / T**2).backward()
        norms[name].append(s.grad.norm().item())
plt.figure(figsize=(6, 3))
for name, values in norms.items():
    plt.loglog(temperatures, values, "o-", label=name)
plt.xlabel("temperature T")
plt.ylabel("gradient norm")
plt.legend()
plt.show()
