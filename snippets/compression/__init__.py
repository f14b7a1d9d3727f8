"""BERT compression beyond distillation: magnitude pruning, int8 dynamic
quantization, bf16 mixed precision."""
