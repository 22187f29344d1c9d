from __future__ import annotations

from decimal import Decimal

from django import forms

from campaigns.models import PlacementType
from core.bounds import validate_money
from core.forms import MoneyField
from optimizer.models import AllocationPlan
from optimizer.services.plans import DEFAULT


class PlanForm(forms.Form):
    """A budget allocation request. Shapes and types only: optimizer.services.plans.plan_create checks the rules
    (positive budget, known channels, min below max, ...) and its errors go beside the field they name.

    One optional min/max pair per channel the tenant has history for (``channels``: (retailer code, retailer
    name, placement type) triples)."""

    name = forms.CharField(
        max_length=200,
        required=False,
        label="Plan name",
        help_text="In your words, e.g. “Q3 push for the new flavours”.",
    )
    budget = MoneyField(
        max_digits=18, decimal_places=2, validators=[validate_money], help_text="Total spend over the period."
    )
    period_days = forms.IntegerField(initial=28, label="Period (days)")
    min_roas = forms.DecimalField(
        max_digits=8, decimal_places=3, required=False, label="Minimum ROAS", help_text="Leave empty for no floor."
    )
    roas_basis = forms.ChoiceField(
        choices=AllocationPlan.RoasBasis.choices,
        label="ROAS basis",
        help_text="Which sales the floor counts: those retailers report, or only those the ads caused.",
    )
    objective = forms.ChoiceField(choices=AllocationPlan.Objective.choices, label="Maximize")
    chance = forms.BooleanField(
        required=False,
        initial=True,
        label="Hold the floor with 90% probability",
        help_text="On by default: the plan keeps ROAS at or above the floor in 9 of 10 likely outcomes. Off: the "
        "floor holds on average only (about a coin flip where the floor is tight).",
    )

    def __init__(self, *args, channels: list[tuple[str, str, str]] = (), **kwargs):
        super().__init__(*args, **kwargs)
        placement_labels = dict(PlacementType.choices)
        self.channel_rows = []
        for i, (code, retailer_name, placement) in enumerate(channels):
            label = f"{retailer_name} · {placement_labels.get(placement, placement)}"
            low = MoneyField(
                max_digits=18, decimal_places=2, validators=[validate_money], required=False, label=f"{label} minimum"
            )
            high = MoneyField(
                max_digits=18, decimal_places=2, validators=[validate_money], required=False, label=f"{label} maximum"
            )
            self.fields[f"ch{i}_min"] = low
            self.fields[f"ch{i}_max"] = high
            self.channel_rows.append(
                {"key": f"{code}|{placement}", "label": label, "min": self[f"ch{i}_min"], "max": self[f"ch{i}_max"]}
            )

    def clean(self):
        # The service says the same with the channel's key (for the API); the page names the channel in words.
        data = super().clean()
        for i, row in enumerate(self.channel_rows):
            low, high = data.get(f"ch{i}_min"), data.get(f"ch{i}_max")
            for side, value in (("min", low), ("max", high)):
                if value is not None and value < 0:
                    self.add_error(f"ch{i}_{side}", f"{row['label']}: a limit cannot be negative.")
            if low is not None and high is not None and 0 <= high < low:
                self.add_error(f"ch{i}_max", f"{row['label']}: the maximum ({high:,}) is below the minimum ({low:,}).")
        return data

    def bounds(self) -> dict[str, list]:
        """Channel key -> [min, max] for every channel with a min or a max given (a missing side is open)."""
        out = {}
        for i, row in enumerate(self.channel_rows):
            low, high = self.cleaned_data.get(f"ch{i}_min"), self.cleaned_data.get(f"ch{i}_max")
            if low is None and high is None:
                continue
            budget = self.cleaned_data.get("budget") or 0
            out[row["key"]] = [low if low is not None else 0, high if high is not None else max(budget, low or 0)]
        return out

    def field_for_bound(self, key: str, side: str = "min") -> str | None:
        for i, row in enumerate(self.channel_rows):
            if row["key"] == key:
                return f"ch{i}_{side}"
        return None


class PlanWhatIfForm(PlanForm):
    """A what-if edit of a finished plan: budget, ROAS floor and channel limits; the rest of the request is the
    edited version's (optimizer.services.plans.plan_version_create)."""

    KEPT = ("budget", "min_roas", "chance")
    # Sent with the form so that an unticked box (which a browser does not send) means "hold the floor on average",
    # while a post without the box keeps the edited version's promise.
    CHANCE_SHOWN = "chance_shown"

    def __init__(self, *args, plan: AllocationPlan | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        for name in [name for name in self.fields if name not in self.KEPT and not name.startswith("ch")]:
            del self.fields[name]
        self.fields["min_roas"].help_text = "Leave empty to drop the floor."
        asked = (plan.request or {}).get("chance") if plan is not None and plan.min_roas is not None else None
        self._had_promise = plan is None or plan.min_roas is None or bool(asked)
        if asked:
            self.fields["chance"].label = f"Hold the floor with {round(100 * float(asked))}% probability"
        self.fields["chance"].help_text = (
            "Untick to hold the floor on average only: the plan may spend more, but where the floor is tight it "
            "misses about half the time."
        )
        if plan is not None and not self.is_bound:
            cents = Decimal("0.01")
            floor = None if plan.min_roas is None else plan.min_roas.normalize()
            self.initial.update({"budget": plan.budget.quantize(cents), "min_roas": floor})
            self.initial["chance"] = self._had_promise
            given = (plan.request or {}).get("bounds") or {}
            for i, row in enumerate(self.channel_rows):
                if row["key"] in given:
                    low, high = given[row["key"]]
                    self.initial[f"ch{i}_min"], self.initial[f"ch{i}_max"] = low, high

    def promise(self) -> dict:
        """plan_version_create's ``chance`` as the page asked: nothing where the box was not on the page (the
        edited version's promise kept), None where it was unticked (the floor on average only), the default promise
        where it was ticked on a version that held its floor on average only."""
        if self.CHANCE_SHOWN not in self.data:
            return {}
        if not self.cleaned_data.get("chance"):
            return {"chance": None}
        return {} if self._had_promise else {"chance": DEFAULT}
