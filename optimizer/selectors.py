import datetime as dt

import pandas as pd
from django.db.models import Count, Max, OuterRef, Q, QuerySet, Subquery
from django.db.models.fields.json import KeyTransform
from django.db.models.functions import Coalesce

from campaigns.models import SKU, PerformanceFact, Retailer
from core.bounds import DATE_MAX, DATE_MIN
from governance.models import Tenant
from optimizer.engine import files
from optimizer.engine.errors import OptimizerInputError
from optimizer.models import AllocationPlan, BanditPolicy, LiftStudy


def lift_study_list(*, tenant: Tenant) -> QuerySet[LiftStudy]:
    return LiftStudy.objects.filter(tenant=tenant).select_related("retailer")


def plan_list(*, tenant: Tenant) -> QuerySet[AllocationPlan]:
    return AllocationPlan.objects.filter(tenant=tenant).select_related("created_by", "created_by_key__created_by")


def sku_groups(*, tenant: Tenant, codes) -> dict[str, dict[str, str]]:
    """sku_code -> {"brand", "category"} of the tenant's SKUs among ``codes``: the brand's name and the category's
    last level ("Snacks > Chips" -> "Chips"), "" where there is none."""
    if not codes:
        return {}
    rows = SKU.objects.filter(tenant=tenant, sku_code__in=list(codes)).values_list(
        "sku_code", "brand__name", "category"
    )
    return {
        code: {"brand": brand or "", "category": (category or "").split(">")[-1].strip()}
        for code, brand, category in rows
    }


def plan_get(*, tenant: Tenant, pk: int) -> AllocationPlan:
    """The tenant's plan; another tenant's plan raises AllocationPlan.DoesNotExist like a missing one."""
    return plan_list(tenant=tenant).get(pk=pk)


# Versions: every version of a plan shares ``root``, the first version, which points at itself (plan_create sets
# it, migration 0006 set it on older plans). A plan saved without the services (root NULL) counts as its own root.
LINEAGE = Coalesce("root_id", "id")


def plan_latest_list(*, tenant: Tenant) -> QuerySet[AllocationPlan]:
    """One row per plan: its latest version, with ``version_count`` (how many versions it has), newest first."""
    plans = AllocationPlan.objects.filter(tenant=tenant).annotate(lineage=LINEAGE)
    latest = plans.filter(lineage=OuterRef("lineage")).order_by("-version", "-id").values("id")[:1]
    count = (
        AllocationPlan.objects.annotate(lineage=LINEAGE)
        .filter(lineage=OuterRef("lineage"))
        .order_by()
        .values("lineage")
        .annotate(n=Count("id"))
        .values("n")
    )
    return (
        plans.filter(id=Subquery(latest))
        .annotate(version_count=Subquery(count))
        .select_related("created_by", "created_by_key__created_by")
        .order_by("-created_at", "-id")
    )


def plan_versions(*, plan: AllocationPlan) -> QuerySet[AllocationPlan]:
    """Every version of ``plan``'s lineage (its own tenant's only), oldest first, with ``result_totals`` (the
    result's totals) and without the whole result, which a plan of hundreds of channels makes large."""
    root_id = plan.root_id or plan.pk
    return (
        AllocationPlan.objects.filter(tenant_id=plan.tenant_id)
        .filter(Q(root_id=root_id) | Q(pk=root_id))
        .defer("result", "request")
        .annotate(result_totals=KeyTransform("totals", "result"))
        .select_related("created_by", "created_by_key__created_by")
        .order_by("version", "id")
    )


def tenant_channels(tenant: Tenant) -> list[tuple[str, str]]:
    """(retailer code, placement type) of every channel the tenant has performance facts for, sorted."""
    return sorted(
        PerformanceFact.objects.filter(tenant=tenant)
        .values_list("retailer__code", "placement_type")
        .distinct()
        .order_by()
    )


def tenant_channel_choices(tenant: Tenant) -> list[tuple[str, str, str]]:
    """(retailer code, retailer name, placement type) of the tenant's channels, for the plan form."""
    channels = tenant_channels(tenant)
    names = dict(Retailer.objects.filter(code__in={c for c, _ in channels}).values_list("code", "name"))
    return [(code, names.get(code, code), placement) for code, placement in channels]


# The file contract's columns (optimizer.engine.files), as lists: tenant_frames builds the same tables.
HISTORY_COLUMNS = list(files.HISTORY_COLUMNS)
SKU_COLUMNS = list(files.SKU_COLUMNS)
LIFT_COLUMNS = list(files.LIFT_COLUMNS)


def tenant_frames(tenant: Tenant, *, days: int | None = None) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The tenant's performance facts, catalog and lift studies as the optimizer's file contract reads them
    (H.csv, S.csv, L.csv of ``python manage.py optimize``; optimizer.engine.files). ``days`` keeps the last
    ``days`` days of history (ending on the tenant's latest fact).

    A history that read_history would refuse in H.csv is refused the same way (OptimizerInputError): mixed
    currencies, or mixed attribution windows within a channel. Lift studies recorded in another currency than the
    history are left out (the optimizer compares money in one currency); their count is in
    ``lift.attrs["skipped_other_currency"]``."""
    facts = PerformanceFact.objects.filter(tenant=tenant)
    if days is not None:
        last = facts.aggregate(last=Max("date"))["last"]
        if last is not None:
            facts = facts.filter(date__gt=last - dt.timedelta(days=days))
    rows = facts.order_by("date", "retailer__code", "placement_type", "campaign_id", "sku_id").values_list(
        "date",
        "retailer__code",
        "placement_type",
        "campaign__external_id",
        "sku__sku_code",
        "impressions",
        "clicks",
        "spend",
        "attributed_sales",
        "attributed_units",
        "attribution_window_days",
        "currency",
    )
    history = pd.DataFrame.from_records(list(rows.iterator(chunk_size=5000)), columns=HISTORY_COLUMNS)
    history["date"] = pd.to_datetime(history["date"]).astype("datetime64[ns]")
    history["sku_id"] = history["sku_id"].fillna("").astype(str)
    for column in ("retailer", "placement_type", "campaign_id", "currency"):
        history[column] = history[column].astype(str)
    for column in ("spend", "attributed_sales"):
        history[column] = history[column].astype(float)
    for column in ("impressions", "clicks", "attributed_units", "attribution_window_days"):
        history[column] = history[column].astype("int64")
    if not history.empty:
        _check_history(history)

    sku_rows = (
        SKU.objects.filter(tenant=tenant)
        .order_by("sku_code")
        .values_list("sku_code", "brand__name", "category", "name", "price", "unit_cost")
    )
    skus = pd.DataFrame.from_records(list(sku_rows), columns=SKU_COLUMNS)
    for column in ("price", "unit_cost"):
        skus[column] = skus[column].astype(float)
    for column in ("sku_id", "brand", "category", "product_name"):
        skus[column] = skus[column].astype(str)

    currencies = set(history["currency"].unique())
    # A study dated outside what pandas can hold (stored before dates were bounded) is left out, not a failure.
    studies = LiftStudy.objects.filter(tenant=tenant, start_date__gte=DATE_MIN, end_date__lte=DATE_MAX)
    studies = studies.order_by("start_date", "id")
    skipped = 0
    if currencies:
        skipped = studies.exclude(currency__in=currencies).count()
        studies = studies.filter(currency__in=currencies)
    lift_rows = studies.values_list(
        "retailer__code",
        "placement_type",
        "start_date",
        "end_date",
        "spend",
        "incremental_sales",
        "incremental_sales_se",
    )
    lift = pd.DataFrame.from_records(list(lift_rows), columns=LIFT_COLUMNS)
    for column in ("start_date", "end_date"):
        lift[column] = pd.to_datetime(lift[column]).astype("datetime64[ns]")
    for column in ("spend", "incremental_sales", "incremental_sales_se"):
        lift[column] = lift[column].astype(float)
    for column in ("retailer", "placement_type"):
        lift[column] = lift[column].astype(str)
    lift.attrs["skipped_other_currency"] = skipped
    return history, skus, lift


def _check_history(history: pd.DataFrame) -> None:
    """What optimizer.engine.files.read_history refuses in H.csv, refused for a tenant's facts too: one currency,
    and one attribution window per channel (sales counted over 7 and 14 days do not add up to one curve)."""

    currencies = sorted(history["currency"].unique())
    if len(currencies) > 1:
        raise OptimizerInputError(
            f"The performance history mixes currencies ({', '.join(currencies)}); the budget is one amount, so "
            "re-import the facts in the tenant's reporting currency.",
            field="history",
        )
    key = history["retailer"] + "|" + history["placement_type"]
    windows = history.groupby(key)["attribution_window_days"].unique()
    mixed = windows[windows.map(len) > 1]
    if len(mixed):
        values = ", ".join(f"{v} days" for v in sorted(mixed.iloc[0]))
        raise OptimizerInputError(
            f"Channel {mixed.index[0]} mixes attribution windows ({values}); its attributed sales cannot be read "
            "as one response curve. Plan on a history with one window per channel (history_days) or re-import.",
            field="history",
        )


def policy_list(*, tenant: Tenant):
    return BanditPolicy.objects.filter(tenant=tenant)


def policy_get(*, tenant: Tenant, pk: int) -> BanditPolicy:
    """The tenant's policy; another tenant's raises BanditPolicy.DoesNotExist like a missing one."""
    return policy_list(tenant=tenant).get(pk=pk)
