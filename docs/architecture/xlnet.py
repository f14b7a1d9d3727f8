"""Computed content of xlnet.md: the permutation mask of one sentence."""

from __future__ import annotations

import html


def xlnet_perm_mask() -> str:
    """An HTML grid of perm_mask for one 8-token example (row i attends to j)."""
    import torch

    from snippets.xlnet.permutation_lm import permutation_masks

    tokens = ["New", "York", "is", "a", "city", "that", "never", "sleeps"]
    # ranks in the factorization order: the 4 context words first, then the targets
    order = torch.tensor([[4, 6, 0, 1, 2, 3, 7, 5]])
    is_target = torch.tensor([[True, True, False, False, False, False, True, True]])
    perm_mask, target_mapping = permutation_masks(
        order, is_target, dtype=torch.bool
    )
    head = "".join(f"<th>{html.escape(t)}</th>" for t in tokens)
    body = []
    for i, token in enumerate(tokens):
        role = "target" if is_target[0, i] else "context"
        label = f"{html.escape(token)} ({role}, rank {int(order[0, i])})"
        cells = []
        for j, other in enumerate(tokens):
            blocked = bool(perm_mask[0, i, j])
            verb = "may not see" if blocked else "sees"
            cells.append(
                f'<td class="{"blocked" if blocked else "visible"}" '
                f'title="{html.escape(token)} {verb} {html.escape(other)}">'
                f"{'·' if blocked else '✓'}</td>"
            )
        body.append(f"<tr><th>{label}</th>{''.join(cells)}</tr>")
    K, L = target_mapping.shape[1], len(tokens)
    return (
        f'<div class="perm-grid"><table><thead><tr><th>i \\ j</th>{head}</tr>'
        f"</thead><tbody>{''.join(body)}</tbody></table></div>\n\n"
        f"`target_mapping` has K = {K} rows (one per target), so it is {K}×{L}, "
        f"not {L}×{L}.\n"
    )
