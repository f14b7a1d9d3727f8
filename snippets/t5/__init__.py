"""T5 (Raffel et al., JMLR 2020): the span-corruption pre-training objective."""
