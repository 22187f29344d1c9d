"""Partner API of the optimizer app, one module per resource: plans, lift studies, experiments, bandit policies."""
