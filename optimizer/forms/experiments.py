from __future__ import annotations

from django import forms

from campaigns.forms import DateInput
from campaigns.models import PlacementType
from core.bounds import SEED_MAX, validate_money
from optimizer.models import Experiment
from optimizer.services.experiments import experiment_params

# Service error fields -> the form field that shows them.
# The services name a channel by retailer and placement type; the forms have one channel field.
SERVICE_FIELDS = {"retailer": "channel", "placement_type": "channel"}


def channel_choices(channels: list[tuple[str, str, str]]) -> list[tuple[str, str]]:
    labels = dict(PlacementType.choices)
    return [
        (f"{code}|{placement}", f"{name} · {labels.get(placement, placement)}") for code, name, placement in channels
    ]


class ExperimentDesignForm(forms.Form):
    kind = forms.ChoiceField(choices=Experiment.Kind.choices, initial=Experiment.Kind.SWITCHBACK)
    channel = forms.ChoiceField(label="Retailer and placement")
    name = forms.CharField(max_length=200, required=False)
    start_date = forms.DateField(widget=DateInput)
    end_date = forms.DateField(widget=DateInput)
    # The statistical settings keep their usual names in docs/measurement.md; the page shows them under "Advanced".
    alpha = forms.FloatField(
        required=False,
        initial=0.10,
        label="False-alarm risk",
        help_text="How often the test may report a lift that is not there (0.10: 1 time in 10).",
    )
    power = forms.FloatField(
        required=False,
        initial=0.80,
        label="Chance to detect",
        help_text="How often the test should find a lift of the smallest size it is designed for (0.80: 8 in 10).",
    )
    seed = forms.IntegerField(
        required=False,
        min_value=0,
        max_value=SEED_MAX,
        help_text="A number that fixes the random assignment, to repeat a design; leave empty for a new one.",
    )
    # switchback
    block_days = forms.IntegerField(required=False, initial=7, label="Block (days)")
    washout_days = forms.IntegerField(
        required=False,
        initial=2,
        label="Washout (days)",
        help_text="Days left out after each switch, while the effect fades.",
    )
    outcome_history = forms.FileField(
        required=False, help_text="Optional CSV date,outcome; default: the channel's daily attributed sales."
    )
    # holdout
    audience_size = forms.IntegerField(required=False, help_text="Users the campaign can reach.")
    holdout_share = forms.FloatField(
        required=False, initial=0.10, help_text="Share of users who never see the ads (0.10: 1 in 10)."
    )
    outcome_sd = forms.FloatField(
        required=False, label="Spread per user", help_text="How much one user's sales vary (standard deviation)."
    )
    rho = forms.FloatField(
        required=False,
        label="Before/after similarity",
        help_text="0 to 1: how well a user's sales before the test predict them during it (higher: fewer users).",
    )
    users = forms.FileField(required=False, help_text="Or a CSV user_id,outcome[,pre_outcome] to compute them from.")
    mde = forms.FloatField(
        required=False,
        label="Smallest lift to detect, per user",
        help_text="Also report how many users the test needs to detect a lift this size.",
    )
    spend = forms.DecimalField(
        required=False,
        max_digits=18,
        decimal_places=2,
        validators=[validate_money],
        help_text="Planned spend (holdout).",
    )
    # geo
    panel = forms.FileField(
        required=False, label="Geo panel", help_text="CSV date,geo,outcome[,spend]; days before the start are history."
    )

    PARAMS = (
        "name", "alpha", "power", "seed", "block_days", "washout_days", "audience_size", "holdout_share",
        "outcome_sd", "rho", "mde", "spend",
    )  # fmt: skip
    FILES = ("outcome_history", "users", "panel")

    def __init__(self, *args, channels: list[tuple[str, str, str]] = (), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["channel"].choices = channel_choices(channels)

    def params(self) -> dict:
        """The design params of the chosen kind (the page shows every kind's fields; only these are sent)."""
        data = self.cleaned_data
        wanted = experiment_params(data.get("kind", ""))
        out = {k: data[k] for k in self.PARAMS if k in wanted and data.get(k) not in (None, "")}
        if "spend" in out:
            out["spend"] = float(out["spend"])
        for k in self.FILES:
            if k in wanted and data.get(k):
                out[k] = data[k].read()
        return out


class ReadoutForm(forms.Form):
    data = forms.FileField(label="Outcome data (CSV)")
