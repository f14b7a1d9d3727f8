"""Knowledge distillation (Hinton et al., 2015) and DistilBERT (Sanh et al.,
2019)."""
