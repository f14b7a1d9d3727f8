"""SpanBERT (Joshi et al., TACL 2020): span masking and the span boundary
objective."""
