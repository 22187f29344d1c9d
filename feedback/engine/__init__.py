"""Django-free numbers of the review console: agreement between reviewers, disagreement on one item, gold checks."""
