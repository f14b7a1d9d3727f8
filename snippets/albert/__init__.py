"""ALBERT (Lan et al., ICLR 2020): factorized embeddings, cross-layer sharing,
sentence-order prediction."""
