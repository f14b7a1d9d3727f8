"""XLNet (Yang et al., NeurIPS 2019): permutation language modeling and
two-stream attention."""
