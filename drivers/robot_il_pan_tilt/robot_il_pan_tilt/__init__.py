"""Driver for FLIR / Directed Perception pan-tilt units (ASCII protocol over serial)."""
