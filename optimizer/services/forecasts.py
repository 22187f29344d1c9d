"""Stock-out risk and price elasticity per SKU from the tenant's own data, outside any plan (docs/optimization.md,
"Forecasting": "Per SKU, on a page and in the API").

Stock-out risk is optimizer.engine.forecast.stockout_risk, the engine tenant plans use (through
allocator_adjustments), on the same history (optimizer.selectors.tenant_frames) and the same stock rule: a tenant
tracks stock when some active SKU has units on hand; otherwise no SKU gets a risk. Demand is the SKU's ad-attributed
units, a lower bound of its true demand.

Price elasticity is engine.forecast.price_elasticity (double machine learning) per SKU, on the SKU's daily average
selling price seen in the history (attributed sales / attributed units, on days it sold through ads; other days have
no observed price). A SKU whose price never moved, or with fewer than 30 such days, gets no elasticity and the reason.
Results are cached for a few minutes per tenant, horizon and data state, since the fits take a second or more.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
from django.core.cache import cache
from django.db.models import Count, Max

from campaigns.models import SKU, PerformanceFact
from core.errors import DomainError
from governance.models import Tenant
from optimizer.engine.errors import OptimizerInputError
from optimizer.engine.forecast import price_elasticity, stockout_risk
from optimizer.engine.jsonsafe import json_safe
from optimizer.selectors import tenant_frames

HORIZON_DAYS = (1, 366)
CACHE_SECONDS = 600
MIN_PRICE_DAYS = 30


def _stock(tenant: Tenant, known: set[str]) -> dict[str, float] | None:
    """Units on hand per SKU, or None when the tenant does not track stock (the rule of tenant plans)."""
    stock = dict(SKU.objects.filter(tenant=tenant, is_active=True).values_list("sku_code", "stock_units"))
    if not any(units > 0 for units in stock.values()):
        return None
    return {code: float(units) for code, units in stock.items() if code in known}


def _daily_prices(history: pd.DataFrame) -> pd.DataFrame:
    rows = history[(history["sku_id"] != "") & (history["attributed_units"] > 0)]
    daily = rows.groupby(["sku_id", "date"], as_index=False)[["attributed_units", "attributed_sales"]].sum()
    daily = daily[daily["attributed_sales"] > 0]
    return pd.DataFrame(
        {
            "sku_id": daily["sku_id"].astype(str),
            "date": daily["date"],
            "units": daily["attributed_units"].astype(float),
            "price": daily["attributed_sales"] / daily["attributed_units"],
        }
    )


def _elasticity(demand: pd.DataFrame, seed: int) -> dict:
    if len(demand) < MIN_PRICE_DAYS:
        return {"estimate": None, "reason": f"only {len(demand)} day(s) with an observed price; needs {MIN_PRICE_DAYS}"}
    try:
        result = price_elasticity(demand.reset_index(drop=True), seed=seed)
    except OptimizerInputError as exc:
        return {"estimate": None, "reason": exc.message}
    pooled = result.pooled
    return {
        "estimate": pooled.estimate,
        "stderr": pooled.stderr,
        "interval": list(pooled.interval),
        "days": pooled.n_obs,
        "naive_ols": result.naive_ols,
        "reason": "",
    }


def _price_moves_within_skus(prices: pd.DataFrame) -> bool:
    """Whether some SKU's own price moved. Prices that differ only between SKUs (each SKU at its one price) say
    nothing of how a price change moves units: a pooled fit on them reads the SKUs' other differences as price."""
    if prices.empty or prices["sku_id"].nunique() < 2:
        return False
    log_price = np.log(prices["price"].astype(float))
    within = log_price - log_price.groupby(prices["sku_id"]).transform("mean")
    return float(np.std(within)) >= 1e-6


def _risk_or(value: float, default: float) -> float:
    return default if value != value else value  # NaN: no stock figure


def _cache_key(tenant: Tenant, horizon_days: int, seed: int) -> str:
    facts = PerformanceFact.objects.filter(tenant=tenant).aggregate(last=Max("id"), n=Count("id"))
    skus = SKU.objects.filter(tenant=tenant).order_by("pk").values_list("pk", "sku_code", "stock_units", "is_active")
    state = hashlib.sha256(repr((facts, list(skus))).encode()).hexdigest()[:16]
    return f"optimizer:sku-forecast:{tenant.pk}:{horizon_days}:{seed}:{state}"


def sku_forecast(*, tenant: Tenant, horizon_days: int = 28, seed: int = 0) -> dict:
    """Per SKU: expected daily units with a 90% interval, stock, days of cover and P(stock-out within
    ``horizon_days``), and the own-price elasticity with its 90% interval; plus the pooled elasticity.

    Keys: ``horizon_days``, ``currency``, ``tracks_stock``, ``history_start``, ``history_end``, ``demand_source``,
    ``pooled_elasticity`` and ``skus`` (a list, highest stock-out risk first, then by expected units)."""
    if isinstance(horizon_days, bool) or not isinstance(horizon_days, int):
        raise DomainError(f"horizon_days must be a whole number of days, got {horizon_days!r}.", field="horizon_days")
    low, high = HORIZON_DAYS
    if not low <= horizon_days <= high:
        raise DomainError(f"horizon_days must be from {low} to {high}, got {horizon_days}.", field="horizon_days")
    key = _cache_key(tenant, horizon_days, seed)
    cached = cache.get(key)
    if cached is not None:
        return cached
    try:
        history, skus, _ = tenant_frames(tenant)
    except OptimizerInputError as exc:
        raise DomainError(exc.message, field="history") from None
    out = {
        "horizon_days": horizon_days,
        "currency": str(history["currency"].iloc[0]) if len(history) else tenant.reporting_currency,
        "tracks_stock": False,
        "history_start": None,
        "history_end": None,
        "demand_source": "attributed_units",
        "pooled_elasticity": None,
        "skus": [],
    }
    if history.empty or skus.empty:
        return out
    known = set(skus["sku_id"])
    stock = _stock(tenant, known)
    try:
        risk = stockout_risk(history, skus, stock, horizon_days=horizon_days, seed=seed)
    except OptimizerInputError as exc:
        raise DomainError(exc.message, field="history") from None
    prices = _daily_prices(history)
    names = dict(zip(skus["sku_id"], skus["product_name"], strict=True))
    rows = []
    for record in risk.to_dict("records"):
        sku = record["sku_id"]
        rows.append(
            {
                "sku_id": sku,
                "product_name": names.get(sku, ""),
                **{k: record[k] for k in ("expected_daily_units", "daily_units_low", "daily_units_high")},
                **{k: record[k] for k in ("horizon_units", "horizon_units_low", "horizon_units_high", "history_units")},
                "stock": record["stock"],
                "days_of_cover": record["days_of_cover"],
                "p_stockout": record["p_stockout"],
                "elasticity": _elasticity(prices[prices["sku_id"] == sku], seed),
            }
        )
    rows.sort(key=lambda r: (-_risk_or(r["p_stockout"], -1.0), -r["horizon_units"], r["sku_id"]))
    out.update(
        tracks_stock=stock is not None,
        history_start=history["date"].min().date(),
        history_end=history["date"].max().date(),
        pooled_elasticity=_elasticity(prices, seed) if _price_moves_within_skus(prices) else None,
        skus=rows,
    )
    out = json_safe(out)
    cache.set(key, out, CACHE_SECONDS)
    return out
