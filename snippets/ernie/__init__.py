"""ERNIE 1.0 / 2.0 (Sun et al., 2019; AAAI 2020): knowledge masking and continual
multi-task pre-training."""
