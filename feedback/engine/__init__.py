"""Django-free cores of the RLHF console: agreement between reviewers, disagreement on one item, gold checks
(agreement.py and beside it), and one creative variant written, verified and repaired (creative.py)."""
