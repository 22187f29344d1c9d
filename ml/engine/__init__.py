"""The generative layer's Django-free core: base model, LoRA runtime, training, task prompts and data, policy checks,
metrics. Django modules of ml/ (registry, jobs, inference, pages, API) call it; it imports nothing from Django."""
