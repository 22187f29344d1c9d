"""Numeric core of the optimizer: plain Python and numpy, no Django (see docs/optimization.md)."""
