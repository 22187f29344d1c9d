"""The review console's answer form: built per item (the task's criteria; a preference for a pair) and turned into
the keyword arguments of ``review_submit``. Validation of the answer itself is the service's; this form only reads
what was posted."""

from __future__ import annotations

from django import forms

from feedback.models import CREATIVE_FIELDS, Feedback, FeedbackDataset, ReviewItem

REASON_TAGS = ("off brand", "not compliant", "unclear", "not persuasive", "wrong facts", "tone")
RATING_CHOICES = [(str(n), str(n)) for n in range(1, 6)]
MAX_SECONDS = 3600.0


def criterion_label(name: str) -> str:
    return name.replace("_", "-").capitalize() if name == "on_brand" else name.replace("_", " ").capitalize()


class AnswerForm(forms.Form):
    item = forms.IntegerField(widget=forms.HiddenInput)
    guideline = forms.IntegerField(widget=forms.HiddenInput, required=False)
    seconds = forms.FloatField(widget=forms.HiddenInput, required=False, min_value=0)
    thumb = forms.ChoiceField(choices=Feedback.Thumb.choices, required=False, widget=forms.RadioSelect)
    reason_tags = forms.MultipleChoiceField(
        choices=[(t, t) for t in REASON_TAGS], required=False, widget=forms.CheckboxSelectMultiple
    )
    preference = forms.ChoiceField(choices=Feedback.Preference.choices, required=False, widget=forms.RadioSelect)
    reason = forms.CharField(required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, item: ReviewItem, **kwargs):
        super().__init__(*args, **kwargs)
        self.review_item = item
        self.criteria = item.task.criteria_list if item.kind != ReviewItem.Kind.PAIR else []
        for criterion in self.criteria:
            self.fields[f"rating_{criterion}"] = forms.ChoiceField(
                label=criterion_label(criterion), choices=RATING_CHOICES, required=False, widget=forms.RadioSelect
            )
        self.correctable = item.kind != ReviewItem.Kind.PLAN
        if self.correctable:
            original = self.original_fields()
            for name in CREATIVE_FIELDS:
                widget = forms.Textarea(attrs={"rows": 2}) if name == "body" else forms.TextInput()
                self.fields[f"correction_{name}"] = forms.CharField(
                    label=name.capitalize(), required=False, max_length=2000, widget=widget,
                    initial=original.get(name, ""),
                )  # fmt: skip

    def original_fields(self) -> dict:
        content = self.review_item.content or {}
        if self.review_item.kind == ReviewItem.Kind.PAIR:
            return dict(content.get("a") or {})
        return dict(content.get("fields") or {})

    def rating_fields(self):
        return [(c, self[f"rating_{c}"]) for c in self.criteria]

    # The queue renders its radios by hand from these (Django's widget templates cost ~20 ms per item).
    def rating_rows(self) -> list[dict]:
        return [
            {"name": c, "field": f"rating_{c}", "label": criterion_label(c), "value": str(bf.value() or ""),
             "errors": bf.errors, "choices": [n for n, _ in RATING_CHOICES]}
            for c, bf in self.rating_fields()
        ]  # fmt: skip

    def choice_rows(self, name: str) -> dict:
        bound = self[name]
        value = bound.value()
        chosen = {str(v) for v in value} if isinstance(value, list | tuple) else {str(value or "")}
        return {
            "name": name, "errors": bound.errors,
            "choices": [{"value": v, "label": label, "checked": str(v) in chosen} for v, label in bound.field.choices],
        }  # fmt: skip

    def thumb_rows(self) -> dict:
        return self.choice_rows("thumb")

    def tag_rows(self) -> dict:
        return self.choice_rows("reason_tags")

    def preference_rows(self) -> dict:
        return self.choice_rows("preference")

    def correction_fields(self):
        return [self[f"correction_{name}"] for name in CREATIVE_FIELDS] if self.correctable else []

    def answer(self) -> dict:
        """``review_submit`` keyword arguments from the cleaned data (a correction only where text was changed)."""
        data = self.cleaned_data
        original = self.original_fields()
        correction = {}
        for name in CREATIVE_FIELDS if self.correctable else ():
            text = (data.get(f"correction_{name}") or "").strip()
            if text and text != (original.get(name) or "").strip():
                correction[name] = text
        if correction:  # a better completion keeps the fields the reviewer did not change
            correction = {**{k: v for k, v in original.items() if k in CREATIVE_FIELDS and v}, **correction}
        seconds = data.get("seconds")
        return {
            "thumb": data.get("thumb") or "",
            "reason_tags": list(data.get("reason_tags") or []),
            "ratings": {c: data[f"rating_{c}"] for c in self.criteria if data.get(f"rating_{c}")},
            "preference": data.get("preference") or "",
            "reason": data.get("reason") or "",
            "correction": correction or None,
            "seconds_spent": min(seconds, MAX_SECONDS) if seconds is not None else None,
        }


class ResolveForm(forms.Form):
    thumb = forms.ChoiceField(choices=[("", "—"), *Feedback.Thumb.choices], required=False)
    preference = forms.ChoiceField(choices=[("", "—"), *Feedback.Preference.choices], required=False)
    note = forms.CharField(required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, item: ReviewItem, **kwargs):
        super().__init__(*args, **kwargs)
        self.criteria = item.task.criteria_list if item.kind != ReviewItem.Kind.PAIR else []
        for criterion in self.criteria:
            self.fields[f"rating_{criterion}"] = forms.ChoiceField(
                label=criterion_label(criterion), choices=[("", "—"), *RATING_CHOICES], required=False
            )

    def decision(self) -> dict:
        data = self.cleaned_data
        return {
            "thumb": data.get("thumb") or "",
            "preference": data.get("preference") or "",
            "ratings": {c: data[f"rating_{c}"] for c in self.criteria if data.get(f"rating_{c}")},
            "note": data.get("note") or "",
        }


# --- Closing the loop: the learning dashboard's forms -----------------------------------------------------------------

EXPORT_TASKS = (("creative", "Ad copy (creative)"), ("budgeting", "Budget plans (budgeting)"))


class DatasetExportForm(forms.Form):
    task = forms.ChoiceField(choices=EXPORT_TASKS)
    fmt = forms.ChoiceField(label="Format", choices=FeedbackDataset.Format.choices)
    # Off (unticked) means the default: rows whose chosen answer breaks the item's policy are dropped.
    keep_policy_violations = forms.BooleanField(
        required=False, label="Keep rows whose chosen answer breaks the retailer policy"
    )


class RetrainForm(forms.Form):
    adapter = forms.TypedChoiceField(coerce=int, label="Start from (SFT version)")
    dataset = forms.TypedChoiceField(coerce=int, label="Feedback dataset")
    method = forms.ChoiceField(choices=[("dpo", "DPO (pairs)"), ("kto", "KTO (thumbs)")])
    max_steps = forms.IntegerField(min_value=1, max_value=2000, required=False, label="Steps")

    def __init__(self, *args, adapters, datasets, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["adapter"].choices = [
            (a.pk, f"{a.name} v{a.version} ({a.get_status_display().lower()})") for a in adapters
        ]
        self.fields["dataset"].choices = [
            (d.pk, f"{d.task} {d.format} v{d.version} · {(d.counts or {}).get('train', 0)} train rows")
            for d in datasets
        ]
