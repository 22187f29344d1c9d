"""Forms of the /models/ pages: start a training job, try a composition of adapters. Shapes and types only; the rules
(who may use which adapter, which names are free) live in ml.services, ml.selectors, ml.jobs and ml.inference, whose
errors the views put beside the field they name."""

from __future__ import annotations

import json

from django import forms

from ml.engine.prompts import TASKS
from ml.jobs import ADAPTER_NAME_RE
from ml.models import AdapterKind, TrainingJob

MODES = (
    ("stack", "Stack (activate together)"),
    ("linear", "Linear merge"),
    ("cat", "Concatenate (cat)"),
    ("ties", "TIES merge"),
)
MAX_STEPS_LIMIT = 2000

# What the "input" box holds for each task: plain text for the two tasks whose payload is one sentence, a JSON object
# (the payload of ml/prompts.py) for the others.
TEXT_PAYLOAD_KEY = {"budgeting": "text", "measurement": "question"}
EXAMPLES = {
    "budgeting": "Allocate $2.5M to maximize incremental margin with ROAS >= 3",
    "measurement": "Did the Instacart push lift sales in the Midwest?",
    "harmonization": json.dumps({"retailer": "amazon", "column": "Total Cost (USD)", "samples": ["12.30", "4.50"]}),
    "creative": json.dumps(
        {
            "retailer": "walmart",
            "brand": "Acme Foods",
            "product": "Crunchy Oat Bites 12oz",
            "brief": "Back-to-school snack push",
            "policy": {
                "headline_max_chars": 40,
                "banned_claims": ["best", "#1"],
                "required_disclosures": ["Sponsored"],
                "price_claims_allowed": False,
            },
        }
    ),
}


class TrainingJobForm(forms.Form):
    kind = forms.ChoiceField(
        choices=[
            (AdapterKind.TASK, "Task adapter (shared by every tenant; staff only)"),
            (AdapterKind.BRAND, "Brand adapter (this tenant only)"),
        ],
        label="Adapter",
    )
    task = forms.ChoiceField(
        choices=[(t, t.capitalize()) for t in TASKS],
        help_text="The training data: generated examples of this task (brand adapters learn creative copy from your "
        "brands and SKUs).",
    )
    method = forms.ChoiceField(
        choices=TrainingJob.Method.choices,
        help_text="DPO trains on creative preference pairs, starting from the active SFT adapter of the same name.",
    )
    adapter_name = forms.CharField(
        max_length=100,
        required=False,
        label="Adapter name",
        help_text="Default: task_<task> or brand_<tenant>.",
    )
    max_steps = forms.IntegerField(min_value=1, max_value=MAX_STEPS_LIMIT, initial=40, label="Steps")

    def __init__(self, *args, shared_allowed: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        if not shared_allowed:
            # Only staff train shared adapters: the choice is not offered (ml.jobs refuses a forged one with a 403).
            kind = self.fields["kind"]
            kind.widget.choices = [(value, label) for value, label in kind.choices if value != AdapterKind.TASK]
            kind.initial, self.fields["task"].initial = AdapterKind.BRAND, "creative"

    def clean_adapter_name(self) -> str:
        name = self.cleaned_data["adapter_name"].strip()
        if name and not ADAPTER_NAME_RE.match(name):
            raise forms.ValidationError(
                f"{name!r} is not a valid adapter name: use lower-case letters, digits, '_' and '-' (at most 100)."
            )
        return name

    def clean(self):
        data = super().clean()
        if data.get("method") == TrainingJob.Method.DPO and data.get("task") not in (None, "creative"):
            self.add_error(
                "method", f"DPO needs preference pairs, which exist for the creative task only, not {data['task']}."
            )
        if data.get("kind") == AdapterKind.BRAND and data.get("task") not in (None, "creative"):
            self.add_error("task", "A brand adapter learns creative copy: choose the creative task.")
        return data


class WeightsField(forms.CharField):
    def to_python(self, value):
        text = super().to_python(value).strip()
        if not text:
            return None
        weights = []
        for part in text.replace(";", ",").split(","):
            try:
                weights.append(float(part))
            except ValueError:
                raise forms.ValidationError(
                    f"{part.strip()!r} is not a number: give one weight per adapter, e.g. 0.7, 0.3."
                ) from None
        return weights


class AdapterNamesField(forms.MultipleChoiceField):
    # The choices are the adapters the tenant may use; any other name still passes here so that the one authorization
    # check (ml.selectors.authorize_composition, called by ml.inference) refuses it with its own message.
    def valid_value(self, value) -> bool:
        return bool(ADAPTER_NAME_RE.match(str(value)))


class GenerationForm(forms.Form):
    adapters = AdapterNamesField(
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="In composition order; none: the untuned base model.",
    )
    mode = forms.ChoiceField(choices=MODES, initial="stack")
    weights = WeightsField(required=False, help_text="For merges: one per adapter, comma-separated (e.g. 0.7, 0.3).")
    task = forms.ChoiceField(choices=[(t, t.capitalize()) for t in TASKS], initial="budgeting")
    input = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text="Budgeting: the objective in words. Measurement: the question. Harmonization and creative: the "
        "payload as a JSON object (examples below).",
    )

    def __init__(self, *args, adapter_choices: list[tuple[str, str]], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["adapters"].choices = adapter_choices

    def clean(self):
        data = super().clean()
        adapters, weights = data.get("adapters") or [], data.get("weights")
        if weights is not None and len(weights) != len(adapters):
            self.add_error("weights", f"{len(weights)} weight(s) for {len(adapters)} adapter(s): give one per adapter.")
        task, text = data.get("task"), (data.get("input") or "").strip()
        if task and text:
            try:
                data["payload"] = task_payload(task, text)
            except ValueError as exc:
                self.add_error("input", str(exc))
        return data


def task_payload(task: str, text: str) -> dict:
    """The task's payload from what a person typed: a JSON object as is, plain text for the one-sentence tasks."""
    if text.startswith("{"):
        try:
            payload = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(
                f"The input is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}."
            ) from None
        if not isinstance(payload, dict):
            raise ValueError("The input must be a JSON object.")
        return payload
    if task in TEXT_PAYLOAD_KEY:
        return {TEXT_PAYLOAD_KEY[task]: text}
    raise ValueError(f"The {task} task takes a JSON object, for example {EXAMPLES[task]}")
