"""Imitation learning algorithms, one file each, each with a config dataclass."""
