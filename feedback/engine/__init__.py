"""Django-free cores of the RLHF console."""
