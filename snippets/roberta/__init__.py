"""RoBERTa (Liu et al., 2019): BERT pre-training, robustly re-tuned; here its
dynamic masking."""
