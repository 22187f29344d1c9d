"""Pages of the optimizer app, one module per thing shown: plans, lift studies, experiments, bandit policies."""
