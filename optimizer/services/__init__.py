"""Writes of the optimizer app, one module per thing written: plans, lift studies, experiments, bandit policies."""
