"""Runnable, tested mechanisms of the BERT-era pre-trained language model papers."""
