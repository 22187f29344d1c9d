from __future__ import annotations

from django import forms

from campaigns.models import Campaign, PlacementType, Retailer
from campaigns.selectors import retailer_list


def retailer_choices(empty_label: str) -> list[tuple[str, str]]:
    # Retailers are shared reference data (not tenant-owned), so listing the active ones leaks nothing.
    return [("", empty_label), *retailer_list().values_list("code", "name")]


class DateInput(forms.DateInput):
    input_type = "date"


class DashboardFilterForm(forms.Form):
    date_from = forms.DateField(required=False, label="From", widget=DateInput)
    date_to = forms.DateField(required=False, label="To", widget=DateInput)
    retailer = forms.ChoiceField(required=False)
    placement = forms.ChoiceField(required=False, choices=[("", "All placements"), *PlacementType.choices])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["retailer"].choices = retailer_choices("All retailers")

    def clean(self):
        data = super().clean()
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and end < start:
            self.add_error("date_to", f"The end date {end} is before the start date {start}.")
        return data


class CampaignFilterForm(forms.Form):
    retailer = forms.ChoiceField(required=False)
    status = forms.ChoiceField(required=False, choices=[("", "Any status"), *Campaign.Status.choices])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["retailer"].choices = retailer_choices("All retailers")


# --- The retailer's creative policy, edited in the admin as fields and stored as Retailer.policy_specs ----------------

POLICY_LIMITS = (("headline", "headline_max_chars"), ("body", "body_max_chars"), ("cta", "cta_max_chars"))
POLICY_LISTS = ("banned_terms", "banned_claims", "required_disclosures")
POLICY_FIELDS = ("headline", "body", "cta", "disclosure")
PHRASE_MAX = 200


def _lines(text: str) -> list[tuple[int, str]]:
    return [(n, line.strip()) for n, line in enumerate((text or "").splitlines(), start=1) if line.strip()]


class RetailerPolicyForm(forms.ModelForm):
    """The creative policy (ml/engine/policy.py reads it) as separate, validated fields; saved into
    ``policy_specs``, whose other keys are kept as they are."""

    headline_max_chars = forms.IntegerField(required=False, min_value=1, max_value=5000, label="Headline limit")
    body_max_chars = forms.IntegerField(required=False, min_value=1, max_value=20000, label="Body limit")
    cta_max_chars = forms.IntegerField(required=False, min_value=1, max_value=500, label="CTA limit")
    banned_terms = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 3}), help_text="One word or phrase per line."
    )
    banned_claims = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="One claim per line, e.g. #1 or clinically proven.",
    )
    required_disclosures = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 2}), help_text="One per line, e.g. Sponsored."
    )
    trademark_rules = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="One per line: term -> required form (acme -> ACME®), or term -> with nothing after the arrow "
        "for a term that must not appear.",
    )
    price_claims_allowed = forms.BooleanField(required=False, initial=True, label="Price claims allowed")
    max_repairs = forms.IntegerField(
        min_value=0,
        max_value=5,
        initial=2,
        help_text="Times a failing variant is written again with its faults stated.",
    )
    export_headline = forms.CharField(required=False, max_length=100, label="Export column: headline")
    export_body = forms.CharField(required=False, max_length=100, label="Export column: body")
    export_cta = forms.CharField(required=False, max_length=100, label="Export column: CTA")
    export_disclosure = forms.CharField(required=False, max_length=100, label="Export column: disclosure")

    class Meta:
        model = Retailer
        fields = [
            "code",
            "name",
            "reporting_currency",
            "timezone",
            "default_attribution_window_days",
            "default_attribution_model",
            "is_active",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        policy = dict(self.instance.policy_specs or {}) if self.instance.pk else {}
        for _, key in POLICY_LIMITS:
            self.initial.setdefault(key, policy.get(key))
        for key in POLICY_LISTS:
            self.initial.setdefault(key, "\n".join(policy.get(key) or []))
        self.initial.setdefault(
            "trademark_rules",
            "\n".join(
                f"{r.get('term')} -> {r.get('form') or ''}".rstrip() for r in policy.get("trademark_rules") or []
            ),
        )
        self.initial.setdefault("price_claims_allowed", policy.get("price_claims_allowed", True))
        self.initial.setdefault("max_repairs", policy.get("max_repairs", 2))
        columns = policy.get("export_columns") or {}
        for name in POLICY_FIELDS:
            self.initial.setdefault(f"export_{name}", columns.get(name, ""))

    def _phrases(self, key: str) -> list[str]:
        seen: dict[str, int] = {}
        out = []
        for n, phrase in _lines(self.cleaned_data.get(key, "")):
            if len(phrase) > PHRASE_MAX:
                raise forms.ValidationError(f"Line {n} is {len(phrase)} characters; at most {PHRASE_MAX}.")
            if phrase.lower() in seen:
                raise forms.ValidationError(f"Line {n} repeats line {seen[phrase.lower()]} ({phrase!r}).")
            seen[phrase.lower()] = n
            out.append(phrase)
        return out

    def clean_banned_terms(self):
        return self._phrases("banned_terms")

    def clean_banned_claims(self):
        return self._phrases("banned_claims")

    def clean_required_disclosures(self):
        return self._phrases("required_disclosures")

    def clean_trademark_rules(self):
        rules, seen = [], {}
        for n, line in _lines(self.cleaned_data.get("trademark_rules", "")):
            if "->" not in line:
                raise forms.ValidationError(f"Line {n} ({line!r}) needs 'term -> form' (or 'term ->' to ban it).")
            term, form = (part.strip() for part in line.split("->", 1))
            if not term:
                raise forms.ValidationError(f"Line {n} has no term before the arrow.")
            if len(term) > PHRASE_MAX or len(form) > PHRASE_MAX:
                raise forms.ValidationError(f"Line {n}: a term or form is at most {PHRASE_MAX} characters.")
            if term.lower() in seen:
                raise forms.ValidationError(f"Line {n} repeats the term {term!r} of line {seen[term.lower()]}.")
            seen[term.lower()] = n
            rules.append({"term": term, "form": form})
        return rules

    def clean(self):
        data = super().clean()
        banned = {p.lower() for key in ("banned_terms", "banned_claims") for p in data.get(key) or []}
        for disclosure in data.get("required_disclosures") or []:
            if disclosure.lower() in banned:
                self.add_error("required_disclosures", f"{disclosure!r} is required and banned at once.")
        columns = [data.get(f"export_{name}", "").strip() for name in POLICY_FIELDS]
        named = [c.lower() for c in columns if c]
        if len(named) != len(set(named)):
            self.add_error("export_headline", "Two fields are exported under the same column name.")
        return data

    def save(self, commit=True):
        data = self.cleaned_data
        policy = dict(self.instance.policy_specs or {})
        for _, key in POLICY_LIMITS:
            if data.get(key):
                policy[key] = data[key]
            else:
                policy.pop(key, None)
        for key in (*POLICY_LISTS, "trademark_rules"):
            policy[key] = data.get(key) or []
        policy["price_claims_allowed"] = bool(data.get("price_claims_allowed"))
        policy["max_repairs"] = data.get("max_repairs", 2)
        columns = {
            name: data[f"export_{name}"].strip() for name in POLICY_FIELDS if data.get(f"export_{name}", "").strip()
        }
        if columns:
            policy["export_columns"] = columns
        else:
            policy.pop("export_columns", None)
        self.instance.policy_specs = policy
        return super().save(commit=commit)
