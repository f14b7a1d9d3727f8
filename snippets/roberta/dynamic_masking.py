"""Dynamic masking (RoBERTa, Liu et al. 2019, §4.1), against BERT's static
masking.

BERT masks its pre-training data once, in preprocessing: to see more than one mask
per sequence it duplicates the data `dupe_factor` times (10 in RoBERTa's
comparison), so over 40 epochs each sequence is seen with the same mask 4 times.
RoBERTa draws a fresh mask every time a sequence is fed to the model.

The mask itself is BERT's (§3.1 of Devlin et al.): each non-special token is chosen
with probability 0.15; of the chosen, 80% become [MASK], 10% a random token, 10%
stay unchanged.
"""

from __future__ import annotations

import torch

from snippets._checks import (
    check_bool_like,
    check_positive_int,
    check_probability,
    check_token_id,
    check_token_ids,
)
from snippets.masking import bert_replace


# --8<-- [start:core]
def mask_tokens(
    input_ids: torch.Tensor,
    *,
    mask_token_id: int,
    vocab_size: int,
    special_tokens_mask: torch.Tensor | None = None,
    mlm_probability: float = 0.15,
    mask_replace_prob: float = 0.8,
    random_replace_prob: float = 0.1,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """BERT's masking of a batch [B, L] of ids below `vocab_size`: returns new
    `(inputs, labels)`, labels int64 and -100 where not chosen."""
    check_positive_int(vocab_size, "vocab_size")
    check_token_id(mask_token_id, "mask_token_id", vocab_size)
    check_token_ids(input_ids, vocab_size=vocab_size, generator=generator)
    check_probability(mlm_probability, "mlm_probability", high_open=True)
    u = torch.rand(input_ids.shape, generator=generator, device=input_ids.device)
    selected = u < mlm_probability
    if special_tokens_mask is not None:
        selected &= ~check_bool_like(
            special_tokens_mask, input_ids, "special_tokens_mask"
        )
    # Given u < p, u / p is again U[0, 1): one draw decides both "chosen?" and
    # "how replaced?".
    return bert_replace(
        input_ids,
        selected,
        mask_token_id=mask_token_id,
        vocab_size=vocab_size,
        mask_replace_prob=mask_replace_prob,
        random_replace_prob=random_replace_prob,
        uniform=u / mlm_probability,
        generator=generator,
    )


# --8<-- [end:core]


# --8<-- [start:dynamic]
def example_seed(seed: int, epoch: int, index: int) -> int:
    """A stable 63-bit seed for one (seed, epoch, index) of non-negative ints:
    distinct triples give unrelated streams."""
    for name, value in (("seed", seed), ("epoch", epoch), ("index", index)):
        check_positive_int(value, name, minimum=0)
    mixed = (
        seed * 0x9E3779B97F4A7C15
        + epoch * 0xBF58476D1CE4E5B9
        + index * 0x94D049BB133111EB
    ) % 2**64
    return (mixed ^ (mixed >> 31)) & 0x7FFF_FFFF_FFFF_FFFF


class DynamicMasking(torch.utils.data.Dataset):
    """Wrap a tensor of sequences [N, L]; item i of epoch e is masked afresh, from
    seed (seed, e, i).

    Call `set_epoch(e)` at the start of each epoch (as with a DistributedSampler).
    The same (seed, epoch, index) always gives the same mask, whatever the batch or
    worker it lands in. Every argument is checked here, not at the first item.
    """

    def __init__(
        self,
        input_ids: torch.Tensor,
        *,
        mask_token_id: int,
        vocab_size: int,
        special_tokens_mask: torch.Tensor | None = None,
        mlm_probability: float = 0.15,
        seed: int = 0,
    ) -> None:
        check_positive_int(vocab_size, "vocab_size")
        check_token_id(mask_token_id, "mask_token_id", vocab_size)
        self.input_ids = check_token_ids(input_ids, vocab_size=vocab_size)
        self.special_tokens_mask = (
            None
            if special_tokens_mask is None
            else check_bool_like(
                special_tokens_mask, input_ids, "special_tokens_mask"
            )
        )
        check_probability(mlm_probability, "mlm_probability", high_open=True)
        check_positive_int(seed, "seed", minimum=0)
        self.mask_token_id, self.vocab_size = mask_token_id, vocab_size
        self.mlm_probability, self.seed, self.epoch = mlm_probability, seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = check_positive_int(epoch, "epoch", minimum=0)

    def __len__(self) -> int:
        return self.input_ids.shape[0]

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        index = self._position(index)
        generator = torch.Generator().manual_seed(
            example_seed(self.seed, self.epoch, index)
        )
        row = slice(index, index + 1)
        special = (
            None
            if self.special_tokens_mask is None
            else self.special_tokens_mask[row]
        )
        inputs, labels = mask_tokens(
            self.input_ids[row],
            mask_token_id=self.mask_token_id,
            vocab_size=self.vocab_size,
            special_tokens_mask=special,
            mlm_probability=self.mlm_probability,
            generator=generator,
        )
        return {"input_ids": inputs[0], "labels": labels[0]}

    def _position(self, index: int) -> int:
        """A sequence's index: -1 is the last item, as for a list."""
        if isinstance(index, bool) or not isinstance(index, int):
            raise TypeError(f"index must be an int, got {type(index).__name__}")
        n = len(self)
        if not -n <= index < n:
            # IndexError is the sequence protocol: `for item in dataset` stops on it
            raise IndexError(f"index {index} is out of range for {n} sequences")
        return index % n


# --8<-- [end:dynamic]


# --8<-- [start:static]
def static_masking(
    input_ids: torch.Tensor,
    *,
    mask_token_id: int,
    vocab_size: int,
    dupe_factor: int = 10,
    special_tokens_mask: torch.Tensor | None = None,
    mlm_probability: float = 0.15,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """BERT's preprocessing: `dupe_factor` copies of the data, each masked once,
    stacked [dupe_factor · N, L].

    Epoch e of training reads copy e mod dupe_factor, so every mask comes back
    again and again.
    """
    check_token_ids(input_ids, generator=generator)
    check_positive_int(dupe_factor, "dupe_factor")
    if special_tokens_mask is not None:
        special_tokens_mask = check_bool_like(
            special_tokens_mask, input_ids, "special_tokens_mask"
        ).repeat(dupe_factor, 1)
    return mask_tokens(
        input_ids.repeat(dupe_factor, 1),
        mask_token_id=mask_token_id,
        vocab_size=vocab_size,
        special_tokens_mask=special_tokens_mask,
        mlm_probability=mlm_probability,
        generator=generator,
    )


# --8<-- [end:static]
