"""Stage ①: what a network is — the op vocabulary, architecture values, the YAML loader,
multipliers and their rounding, rewrites, the registry and reference parsing. Pure Python."""
