"""A plan's ``result`` as the API answers it: the optimizer's OUT.json (docs/optimization.md) with every money
amount a decimal string with 4 places, as everywhere in the API (docs/api.md, Conventions). ROAS, probabilities,
shadow prices and other ratios stay numbers. The stored result and the optimize command's file keep floats.

A key missing from a stored result (an older plan) is left out of the answer, not invented."""

from __future__ import annotations

import decimal
from decimal import Decimal

from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

_FOUR_PLACES = Decimal("0.0001")


class MoneyResultField(serializers.DecimalField):
    """An amount of the result as a 4-place decimal string; the schema's pattern is the API's money (18 digits), and
    a model's extreme interval end past it is still answered, not a 500."""

    def __init__(self, **kwargs):
        super().__init__(max_digits=18, decimal_places=4, read_only=True, allow_null=True, **kwargs)

    def quantize(self, value):
        try:
            return super().quantize(value)
        except decimal.InvalidOperation:
            return value.quantize(_FOUR_PLACES, rounding=decimal.ROUND_HALF_EVEN)


def _money(**kwargs) -> serializers.DecimalField:
    return MoneyResultField(**kwargs)


def _interval(**kwargs) -> serializers.ListField:
    return serializers.ListField(
        child=_money(), read_only=True, help_text=kwargs.pop("help_text", "[low, high]: the 90% interval."), **kwargs
    )


def _ratio(**kwargs) -> serializers.FloatField:
    return serializers.FloatField(read_only=True, allow_null=True, **kwargs)


class _Stored(serializers.Serializer):
    """A part of the stored result: the keys it has, converted; none added."""

    def to_representation(self, instance):
        data = super().to_representation(instance)
        return {key: value for key, value in data.items() if key in instance}


class _StoredSchema(OpenApiSerializerExtension):
    """In the schema a part of the stored result requires none of its keys: which ones it has depends on the plan (no
    floor, no promise, an older plan), and ``_Stored`` leaves missing ones out rather than inventing them."""

    target_class = _Stored
    match_subclasses = True

    def map_serializer(self, auto_schema, direction):
        schema = auto_schema._map_basic_serializer(self.target, direction)
        schema.pop("required", None)
        return schema


class PlanAllocationSerializer(_Stored):
    retailer = serializers.CharField(read_only=True)
    placement_type = serializers.CharField(read_only=True)
    spend = _money(help_text="Spend over the period.")
    daily_spend = _money()
    expected_incremental_sales = _money()
    incremental_sales_interval = _interval()
    expected_incremental_margin = _money()
    incremental_margin_interval = _interval()
    expected_attributed_sales = _money()
    expected_attributed_roas = _ratio()
    expected_incremental_roas = _ratio()
    marginal_roas = _ratio()
    binding = serializers.ListField(child=serializers.CharField(), read_only=True)
    marginal_objective = _ratio()
    marginal_attributed_roas = _ratio()


class PlanTotalsSerializer(_Stored):
    spend = _money()
    budget = _money()
    unspent = _money()
    period_days = serializers.IntegerField(read_only=True)
    currency = serializers.CharField(read_only=True, allow_null=True)
    expected_incremental_sales = _money()
    incremental_sales_interval = _interval()
    expected_incremental_margin = _money()
    incremental_margin_interval = _interval()
    expected_net_incremental_profit = _money()
    expected_attributed_sales = _money()
    attributed_sales_interval = _interval()
    expected_attributed_roas = _ratio()
    expected_incremental_roas = _ratio()
    p_roas_floor = _ratio(help_text="Probability that the period's ROAS holds the floor (with a floor).")


class BudgetConstraintSerializer(_Stored):
    limit = _money()
    used = _money()
    binding = serializers.BooleanField(read_only=True)
    shadow_price = _ratio()
    spend_everything = serializers.BooleanField(read_only=True)


class FloorConstraintSerializer(_Stored):
    limit = _ratio()
    basis = serializers.CharField(read_only=True)
    expected = _ratio()
    binding = serializers.BooleanField(read_only=True)
    shadow_price = _ratio()
    probability = _ratio()
    enforced_floor = _ratio()
    forecast_error_sd = _ratio()
    max_roas = _ratio()
    max_roas_spend = _money()


class BoundConstraintSerializer(_Stored):
    min = _money()
    max = _money()
    spend = _money()
    binding = serializers.JSONField(read_only=True)
    shadow_price = _ratio()


class MixAnchorSerializer(_Stored):
    strength = _ratio(help_text="PLAN_MIX_ANCHOR as the plan asked for it.")
    evidence = _ratio(help_text="0 to 1: how far the lift studies disagree with the priors; 0: no pull.")
    reference_spend = serializers.DictField(
        child=_money(), read_only=True, help_text="Per pulled channel: the last period's mix scaled to the budget."
    )
    marginal_pull = serializers.DictField(
        child=_ratio(), read_only=True, help_text="Per pulled channel: what the pull takes off its marginal return."
    )


class PlanConstraintsSerializer(_Stored):
    budget = BudgetConstraintSerializer(read_only=True)
    min_roas = FloorConstraintSerializer(read_only=True)
    bounds = serializers.DictField(child=BoundConstraintSerializer(), read_only=True)
    retailer_bounds = serializers.DictField(child=BoundConstraintSerializer(), read_only=True)
    chance = serializers.JSONField(read_only=True, allow_null=True)
    exclude_channels = serializers.ListField(child=serializers.CharField(), read_only=True)
    kkt_max_violation = _ratio()
    mix_anchor = MixAnchorSerializer(read_only=True, allow_null=True)


class PromiseSideSerializer(_Stored):
    spend = _money()
    probability = _ratio()
    expected_objective = _money()
    expected_incremental_margin = _money()
    incremental_margin_interval = _interval()
    expected_roas = _ratio()
    daily_spend = serializers.DictField(child=_money(), read_only=True)


class PromiseSerializer(_Stored):
    chance = _ratio()
    min_roas = _ratio()
    basis = serializers.CharField(read_only=True)
    whole_budget_keeps_promise = serializers.BooleanField(read_only=True)
    largest_promised_spend = PromiseSideSerializer(read_only=True)
    full_spend = PromiseSideSerializer(read_only=True, allow_null=True)
    message = serializers.CharField(read_only=True)


# The notice figures that are amounts of money (the rest are shares, days, ROAS or probabilities).
MONEY_FIGURES = frozenset({"unspent", "budget", "full_spend", "promised_spend", "daily_spend", "highest_daily_spend"})


@extend_schema_field(
    {
        "type": "object",
        "additionalProperties": {"oneOf": [{"type": "string"}, {"type": "number"}], "nullable": True},
        "description": "The notice's figures; amounts of money (unspent, budget, full_spend, promised_spend, "
        "daily_spend, highest_daily_spend) as decimal strings.",
    }
)
class NoticeFiguresField(serializers.Field):
    def __init__(self, **kwargs):
        super().__init__(read_only=True, **kwargs)

    def to_representation(self, value):
        out = {}
        for key, item in (value or {}).items():
            if key in MONEY_FIGURES and isinstance(item, int | float) and not isinstance(item, bool):
                out[key] = str(Decimal(str(item)).quantize(_FOUR_PLACES))
            else:
                out[key] = item
        return out


class NoticeSerializer(_Stored):
    kind = serializers.CharField(
        read_only=True,
        help_text="unspent, period_mismatch, promise_split, left_out, extrapolated, stock_out, skus_excluded, "
        "lift_other_currency.",
    )
    severity = serializers.CharField(read_only=True, help_text="critical, warning or info.")
    text = serializers.CharField(read_only=True)
    channels = serializers.ListField(child=serializers.CharField(), read_only=True)
    skus = serializers.ListField(child=serializers.CharField(), read_only=True)
    figures = NoticeFiguresField()
    details = serializers.ListField(child=serializers.CharField(), read_only=True)


class PlanResultSerializer(_Stored):
    allocations = PlanAllocationSerializer(many=True, read_only=True)
    totals = PlanTotalsSerializer(read_only=True)
    constraints = PlanConstraintsSerializer(read_only=True)
    objective = serializers.CharField(read_only=True)
    warnings = serializers.ListField(child=serializers.CharField(), read_only=True)
    promise = PromiseSerializer(read_only=True, allow_null=True)
    notices = NoticeSerializer(many=True, read_only=True, help_text="What the plan tells its reader, critical first.")
