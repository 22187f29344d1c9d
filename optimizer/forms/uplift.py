from __future__ import annotations

from django import forms

from core.bounds import SEED_MAX
from optimizer.engine.uplift import LEARNERS

LEARNER_LABELS = {"t": "T-learner", "x": "X-learner", "dr": "DR-learner"}


class UpliftUploadForm(forms.Form):
    """Shapes only: the file's rules (columns, values, arms) live in optimizer.services.uplift.uplift_study_create,
    whose errors the view puts beside the field they name."""

    file = forms.FileField(
        label="Exposure test (CSV)",
        help_text="One line per shopper (or store): treatment (1 saw the ads, 0 did not), outcome (sales, units or "
        "0/1 bought), optional unit_id, and the columns that describe them (audience, region, past spend ...).",
    )
    name = forms.CharField(max_length=200, required=False, help_text="Leave empty to name it after the file.")
    randomized = forms.BooleanField(
        required=False,
        label="Exposure was assigned at random (a holdout test)",
        help_text="Tick only if everybody had the same chance of seeing the ads.",
    )
    learners = forms.MultipleChoiceField(
        choices=[(name, LEARNER_LABELS[name]) for name in LEARNERS],
        initial=list(LEARNERS),
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text="Models to try (none ticked: all); each is compared with one effect for everybody on rows it did "
        "not see.",
    )
    seed = forms.IntegerField(min_value=0, max_value=SEED_MAX, initial=0, required=False)
