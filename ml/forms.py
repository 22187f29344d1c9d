"""Forms of the /models/ pages: start a training job, try a composition of adapters. Shapes and types only; the rules
(who may use which adapter, which names are free) live in ml.services, ml.selectors, ml.jobs and ml.inference, whose
errors the views put beside the field they name."""

from __future__ import annotations

import json
import re
from pathlib import Path

from django import forms
from django.conf import settings
from django.utils import timezone

from ml.models import Adapter, AdapterKind, TrainingJob
from ml.prompts import TASKS
from rmn_site.errors import DomainError

MODES = (
    ("stack", "Stack (activate together)"),
    ("linear", "Linear merge"),
    ("cat", "Concatenate (cat)"),
    ("ties", "TIES merge"),
)
MAX_STEPS_LIMIT = 2000
ADAPTER_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,99}$")

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


def default_adapter_name(*, kind: str, task: str, tenant_slug: str) -> str:
    return f"task_{task}" if kind == AdapterKind.TASK else f"brand_{tenant_slug.replace('-', '_')}"


class TrainingJobForm(forms.Form):
    kind = forms.ChoiceField(
        choices=[
            (AdapterKind.TASK, "Task adapter (shared by every tenant)"),
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


# --- starting a training job (shared by the page, the API and the demo command) ------------------------------------


def training_job_start(
    *,
    user,
    tenant,
    kind: str,
    task: str,
    method: str,
    adapter_name: str = "",
    max_steps: int = 40,
    seed: int = 0,
    n_train: int | None = None,
    n_heldout: int | None = None,
    params: dict | None = None,
    enqueue: bool = True,
):
    """Build the task's training data, write it under MODEL_STORAGE_DIR/datasets/ and queue a TrainingJob.

    A task adapter is shared (the job and its adapter have no tenant); a brand adapter belongs to ``tenant`` and learns
    creative copy from that tenant's brands and SKUs. DPO continues the active (else newest) SFT version of the same
    name, which is also its frozen reference (ml.jobs resolves it). The held-out split is written beside the training
    file (``heldout_path``) for evaluation.
    """
    # Imported here: the builders and the database sources load pandas, which pages that never train need not.
    from ml import datasets
    from ml.dataset_sources import dataset_source

    if kind not in (AdapterKind.TASK, AdapterKind.BRAND):
        raise DomainError(f"kind must be task or brand, not {kind!r}.", field="kind")
    if task not in TASKS:
        raise DomainError(f"task must be one of {', '.join(TASKS)}, not {task!r}.", field="task")
    owner = tenant if kind == AdapterKind.BRAND else None
    name = adapter_name or default_adapter_name(kind=kind, task=task, tenant_slug=tenant.slug if tenant else "")
    source = dataset_source(tenant=owner)
    if method == TrainingJob.Method.DPO:
        if task != "creative":
            raise DomainError(
                f"DPO needs preference pairs, which exist for the creative task only, not {task}.", field="method"
            )
        if not Adapter.objects.filter(name=name, tenant=owner).exclude(status=Adapter.Status.RETIRED).exists():
            raise DomainError(
                f"DPO starts from an SFT adapter: {name!r} has no version yet, so train one with SFT first.",
                field="method",
            )
        train, heldout = datasets.build_preference_pairs(seed=seed, n_train=n_train, n_heldout=n_heldout, source=source)
    else:
        train, heldout = datasets.build(task, seed=seed, n_train=n_train, n_heldout=n_heldout, source=source)
    folder = Path(settings.MODEL_STORAGE_DIR) / "datasets"
    stem = f"{name}-{method}-{timezone.now():%Y%m%d-%H%M%S-%f}"
    train_path = datasets.write_jsonl(train, folder / f"{stem}.jsonl")
    held_path = datasets.write_jsonl(heldout, heldout_path(str(train_path)))
    from ml.jobs import training_job_create  # imports the trainer: only when a job is started

    try:
        return training_job_create(
            user=user,
            tenant=owner,
            adapter_name=name,
            adapter_kind=kind,
            method=method,
            dataset_path=str(train_path),
            # Further TrainConfig fields in ``params`` (batch_size, threads, ...); seed 0 is TrainConfig's default.
            params={**(params or {}), "max_steps": int(max_steps), **({"seed": int(seed)} if seed else {})},
            enqueue=enqueue,
        )
    except DomainError:
        train_path.unlink(missing_ok=True)  # no job refers to them
        held_path.unlink(missing_ok=True)
        raise


def heldout_path(dataset_path: str) -> Path:
    path = Path(dataset_path)
    return path.with_name(path.name.removesuffix(".jsonl") + ".heldout.jsonl")
