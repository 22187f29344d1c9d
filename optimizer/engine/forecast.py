"""SKU stock-out risk and price elasticity, and what they mean for the allocator (docs/optimization.md).

Three pieces, plain numpy/pandas/econml, no Django:

- :func:`stockout_risk`: per SKU, a day-of-week seasonal forecast with an exponentially smoothed local level and a
  negative-binomial predictive distribution; days of cover and ``P(demand over the horizon > stock)`` by Monte Carlo.
- :func:`price_elasticity`: double machine learning (econml ``LinearDML``, cross-fitted) of log units on log price
  with day-of-week, trend, promo and SKU fixed effects as controls, pooled and per category.
- :func:`allocator_adjustments`: excluded and likely out-of-stock SKUs turned into a per-channel margin rate and
  capacity factor that ``AllocationRequest`` accepts.

When only H.csv exists, a SKU's demand is its ad-attributed units (``attributed_units`` of the SKU-level rows,
summed over channels): a lower bound of true demand, since organic sales and campaign-level rows are missing. The
caller can scale it with ``demand_multiple`` (total units / attributed units, e.g. from the retailer's sales
report) or pass a ``demand`` frame (``sku_id,date,units``) of total units instead.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from optimizer.engine.errors import OptimizerInputError

SMOOTHING_GRID = (0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5)
SPLINE_KNOTS = 6
RIDGE_ALPHAS = tuple(np.logspace(-4, 2, 7))
INTERVAL = 0.90
_LOW, _HIGH = (1 - INTERVAL) / 2, 1 - (1 - INTERVAL) / 2


# --- Input checks -----------------------------------------------------------------------------------------------


def _sku_ids(skus: pd.DataFrame) -> list[str]:
    if "sku_id" not in skus.columns:
        raise OptimizerInputError("The SKU table has no sku_id column.", field="skus")
    return [str(s) for s in skus["sku_id"]]


def _check_prices(skus: pd.DataFrame) -> None:
    for column in ("price", "unit_cost"):
        if column not in skus.columns:
            raise OptimizerInputError(f"The SKU table has no {column} column.", field="skus")
    price = pd.to_numeric(skus["price"], errors="coerce")
    bad = skus.loc[~(price > 0), "sku_id"].astype(str).tolist()
    if bad:
        raise OptimizerInputError(
            f"SKU {bad[0]!r} has price {skus.loc[~(price > 0), 'price'].iloc[0]}; every price must be positive "
            f"to compute a margin rate ({len(bad)} SKU(s) affected: {', '.join(bad[:5])}).",
            field="skus.price",
            details={"skus": bad},
        )


def _unknown(names: Iterable[str], known: Sequence[str], what: str, field_name: str) -> None:
    known_set = set(known)
    missing = sorted({str(n) for n in names} - known_set)
    if missing:
        shown = ", ".join(sorted(known_set)[:10]) + (" ..." if len(known_set) > 10 else "")
        raise OptimizerInputError(
            f"Unknown SKU {missing[0]!r} in {what}"
            + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else "")
            + f"; the SKU file knows: {shown or '(none)'}.",
            field=field_name,
            details={"unknown": missing},
        )


def _check_stock(stock: Mapping[str, float] | None, known: Sequence[str]) -> dict[str, float]:
    if stock is None:
        return {}
    _unknown(stock.keys(), known, "stock", "stock")
    out = {}
    for sku, value in stock.items():
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise OptimizerInputError(f"Stock of SKU {sku!r} is {value!r}, not a number.", field="stock") from None
        if not math.isfinite(number) or number < 0:
            raise OptimizerInputError(
                f"Stock of SKU {sku!r} is {value}; stock must be a finite number of units >= 0.", field="stock"
            )
        out[str(sku)] = number
    return out


def _sku_level(history: pd.DataFrame) -> pd.Series:
    sku = history["sku_id"]
    return sku.notna() & (sku.astype(str).str.strip() != "")


# --- Stock-out risk ---------------------------------------------------------------------------------------------


def _daily_units(
    history: pd.DataFrame, known: Sequence[str], demand: pd.DataFrame | None
) -> tuple[pd.DatetimeIndex, np.ndarray, str]:
    """(dates, units[sku, day]) over the whole observed range, zero where a SKU has no row."""
    if demand is not None:
        missing = [c for c in ("sku_id", "date", "units") if c not in demand.columns]
        if missing:
            raise OptimizerInputError(f"The demand frame lacks column(s) {', '.join(missing)}.", field="demand")
        frame = pd.DataFrame(
            {
                "sku_id": demand["sku_id"].astype(str),
                "date": pd.to_datetime(demand["date"]),
                "units": pd.to_numeric(demand["units"], errors="coerce"),
            }
        )
        source = "demand"
        if "price" in demand.columns:
            _positive_prices(demand["price"], "demand.price")
    else:
        rows = history.loc[_sku_level(history)]
        frame = pd.DataFrame(
            {
                "sku_id": rows["sku_id"].astype(str),
                "date": pd.to_datetime(rows["date"]),
                "units": pd.to_numeric(rows["attributed_units"], errors="coerce"),
            }
        )
        source = "attributed_units"
    if frame["units"].isna().any() or (frame["units"] < 0).any():
        raise OptimizerInputError("Units must be non-negative numbers.", field=source)
    _unknown(frame["sku_id"].unique(), known, f"the {source} data (add it to the SKU file)", source)
    dates_source = pd.to_datetime(history["date"]) if demand is None else frame["date"]
    if len(dates_source) == 0:
        raise OptimizerInputError("There is no history to forecast demand from.", field=source)
    dates = pd.date_range(dates_source.min().normalize(), dates_source.max().normalize(), freq="D")
    table = frame.groupby(["sku_id", frame["date"].dt.normalize()])["units"].sum().astype(float).unstack(fill_value=0.0)
    table = table.reindex(index=list(known), columns=dates, fill_value=0.0)
    return dates, table.to_numpy(dtype=float), source


def _weekly_multipliers(dates: pd.DatetimeIndex, units: np.ndarray) -> np.ndarray:
    """Mon..Sun multipliers (mean 1) pooled over SKUs: one SKU's few units cannot pin down its own week."""
    total = units.sum(axis=0)
    dow = dates.day_of_week.to_numpy()
    means = np.array([total[dow == d].mean() if (dow == d).any() else np.nan for d in range(7)])
    if not np.isfinite(means).all() or means.mean() <= 0 or len(dates) < 14:
        return np.ones(7)
    weekly = means / means.mean()
    return np.clip(weekly, 0.2, 5.0) / np.clip(weekly, 0.2, 5.0).mean()


def _smooth(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Simple exponential smoothing per row, the smoothing weight picked per row from SMOOTHING_GRID by one-step
    squared error. Returns (final level, chosen alpha, one-step mean squared error)."""
    n, days = x.shape
    warm = min(14, days)
    init = x[:, :warm].mean(axis=1)
    best_level = init.copy()
    best_alpha = np.full(n, SMOOTHING_GRID[0])
    best_mse = np.full(n, np.inf)
    for alpha in SMOOTHING_GRID:
        level = init.copy()
        sse = np.zeros(n)
        for t in range(days):
            err = x[:, t] - level
            if t >= warm:
                sse += err * err
            level = level + alpha * err
        mse = sse / max(days - warm, 1) if days > warm else np.var(x, axis=1)
        better = mse < best_mse - 1e-12
        best_level[better], best_alpha[better], best_mse[better] = level[better], alpha, mse[better]
    return np.maximum(best_level, 0.0), best_alpha, best_mse


def stockout_risk(
    history: pd.DataFrame,
    skus: pd.DataFrame,
    stock: Mapping[str, float] | None,
    *,
    horizon_days: int,
    demand: pd.DataFrame | None = None,
    demand_multiple: float = 1.0,
    samples: int = 2000,
    seed: int = 0,
) -> pd.DataFrame:
    """Per SKU of ``skus``: expected daily units over the next ``horizon_days`` days, a 90% interval of the horizon's
    units, days of cover and ``p_stockout = P(units demanded over the horizon > stock)``.

    Model per SKU: units_t ~ NegBin(mean = level_t · weekly[dow(t)]), the level exponentially smoothed from the
    deseasonalized history (weight chosen by one-step error), its uncertainty (estimation error plus a random walk
    over the horizon, both from the one-step errors) and the negative-binomial overdispersion (method of moments)
    simulated by Monte Carlo with ``samples`` draws. The same draws serve every stock level, so ``p_stockout`` falls
    monotonically as stock grows. SKUs without a stock figure get ``NaN`` cover and risk.
    """
    if int(horizon_days) != horizon_days or horizon_days < 1:
        raise OptimizerInputError(f"horizon_days must be a whole number >= 1, got {horizon_days!r}.", field="horizon")
    horizon_days = int(horizon_days)
    if not (math.isfinite(demand_multiple) and demand_multiple > 0):
        raise OptimizerInputError(f"demand_multiple must be positive, got {demand_multiple!r}.", field="demand")
    known = _sku_ids(skus)
    stock_units = _check_stock(stock, known)
    dates, units, source = _daily_units(history, known, demand)
    units = units * demand_multiple
    weekly = _weekly_multipliers(dates, units)
    dow = dates.day_of_week.to_numpy()
    level, alpha, mse = _smooth(units / weekly[dow])

    future_dow = (dates[-1] + pd.to_timedelta(np.arange(1, horizon_days + 1), unit="D")).day_of_week.to_numpy()
    w_future = weekly[future_dow]
    # The local-level model for which SES with gain alpha is the steady-state Kalman filter splits the one-step error
    # variance mse into the level's filtered variance alpha(1-alpha)·mse, its daily random-walk variance alpha²·mse,
    # and observation noise (1-alpha)·mse.
    level_var = alpha * (1 - alpha) * mse
    walk_var = alpha**2 * mse
    obs_var = (1 - alpha) * mse
    rows = []
    for i, sku in enumerate(known):
        mu_level = level[i]
        history_units = float(units[i].sum())
        if history_units == 0 or mu_level <= 0:
            expected = np.zeros(horizon_days)
            totals = np.zeros(samples)
        else:
            rng = np.random.default_rng(np.random.SeedSequence([int(seed), i]))
            start = mu_level + math.sqrt(level_var[i]) * rng.standard_normal((samples, 1))
            walk = np.cumsum(math.sqrt(walk_var[i]) * rng.standard_normal((samples, horizon_days)), axis=1)
            path = np.maximum(start + walk, 0.0) * w_future
            extra = obs_var[i] - mu_level  # variance beyond Poisson, at the current level
            if extra > 1e-9 * max(mu_level, 1.0):
                shape = mu_level**2 / extra
                path = path * rng.gamma(shape, 1.0 / shape, size=path.shape)
            totals = rng.poisson(path).sum(axis=1).astype(float)
            expected = mu_level * w_future
        daily = float(expected.mean())
        on_hand = stock_units.get(sku)
        if on_hand is None:
            cover = p_out = np.nan
        else:
            cover = on_hand / daily if daily > 0 else np.inf
            p_out = float((totals > on_hand).mean())
        rows.append(
            {
                "sku_id": sku,
                "expected_daily_units": daily,
                "daily_units_low": float(np.quantile(totals, _LOW)) / horizon_days,
                "daily_units_high": float(np.quantile(totals, _HIGH)) / horizon_days,
                "horizon_units": float(expected.sum()),
                "horizon_units_low": float(np.quantile(totals, _LOW)),
                "horizon_units_high": float(np.quantile(totals, _HIGH)),
                "stock": np.nan if on_hand is None else on_hand,
                "days_of_cover": cover,
                "p_stockout": p_out,
                "smoothing": float(alpha[i]),
                "history_units": history_units,
                "demand_source": source if demand_multiple == 1 else f"{source} x {demand_multiple:g}",
            }
        )
    return pd.DataFrame(rows)


# --- Price elasticity -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Elasticity:
    estimate: float
    stderr: float
    interval: tuple[float, float]  # 90%
    n_obs: int


@dataclass(frozen=True)
class ElasticityResult:
    """Own-price elasticity d log(units) / d log(price): pooled, and per category when asked for."""

    pooled: Elasticity
    by_category: dict[str, Elasticity]
    naive_ols: float  # log-log OLS without controls: what ignoring confounding would report
    zero_unit_rows: int  # rows with 0 units (kept: the outcome is log(units + 0.5))
    controls: tuple[str, ...]
    method: str = "econml.dml.LinearDML (cross-fitted, 3 folds; spline + ridge nuisance models)"

    @property
    def elasticity(self) -> float:
        return self.pooled.estimate

    @property
    def interval(self) -> tuple[float, float]:
        return self.pooled.interval


def _positive_prices(price: pd.Series, field_name: str) -> None:
    values = pd.to_numeric(price, errors="coerce")
    bad = ~(values > 0)
    if bad.any():
        first = int(np.flatnonzero(bad.to_numpy())[0])
        raise OptimizerInputError(
            f"Price must be positive: row {first} has {price.iloc[first]} ({int(bad.sum())} such row(s)).",
            field=field_name,
        )


def _log_units(units: pd.Series) -> np.ndarray:
    return np.log(units.to_numpy(dtype=float) + 0.5)


def _controls_matrix(frame: pd.DataFrame, controls: Sequence[str]) -> np.ndarray:
    """Day-of-week and SKU fixed effects (one-hot), promo flag, and a spline basis of the trend and of each numeric
    control, so the linear nuisance models can follow smooth non-linear confounding."""
    from sklearn.preprocessing import SplineTransformer

    parts = [pd.get_dummies(frame["date"].dt.day_of_week, prefix="dow", drop_first=True, dtype=float).to_numpy()]
    if frame["sku_id"].nunique() > 1:
        parts.append(pd.get_dummies(frame["sku_id"], prefix="sku", drop_first=True, dtype=float).to_numpy())
    if "promo" in frame.columns:
        parts.append(frame[["promo"]].to_numpy(dtype=float))
    continuous = [(frame["date"] - frame["date"].min()).dt.days.to_numpy(dtype=float)]
    continuous += [frame[c].to_numpy(dtype=float) for c in controls]
    for values in continuous:
        if np.ptp(values) == 0:
            continue
        basis = SplineTransformer(n_knots=SPLINE_KNOTS, degree=3, extrapolation="linear").fit_transform(values[:, None])
        parts.append(basis[:, 1:])  # drop one column: the basis sums to one, like a constant
    return np.hstack(parts)


def _dml(y: np.ndarray, t: np.ndarray, w: np.ndarray, *, seed: int) -> Elasticity:
    from econml.dml import LinearDML
    from sklearn.linear_model import RidgeCV

    est = LinearDML(model_y=RidgeCV(alphas=RIDGE_ALPHAS), model_t=RidgeCV(alphas=RIDGE_ALPHAS), cv=3, random_state=seed)
    est.fit(y, t, X=None, W=w, inference="statsmodels")
    inference = est.intercept__inference()
    low, high = est.intercept__interval(alpha=1 - INTERVAL)
    return Elasticity(float(est.intercept_), float(inference.stderr), (float(low), float(high)), len(y))


def price_elasticity(
    demand: pd.DataFrame,
    *,
    skus: pd.DataFrame | None = None,
    controls: Sequence[str] = (),
    by_category: bool = False,
    min_rows_per_category: int = 200,
    seed: int = 0,
) -> ElasticityResult:
    """Own-price elasticity of units by double machine learning on log-log demand.

    ``demand``: one row per SKU and day, columns ``sku_id,date,units,price`` plus optional ``promo`` (0/1),
    ``category`` (or taken from ``skus``) and the numeric columns named in ``controls`` (observed demand shifters the
    price reacts to, such as traffic or a competitor's price). Controls: day-of-week, trend, promo, SKU fixed effects
    and ``controls``. The outcome is ``log(units + 0.5)``: it keeps days without sales and removes the first-order
    bias of the log of a count (``E log(Y + 0.5) = log E[Y] + O(1/E[Y]^2)`` for Poisson ``Y``). The CI assumes the price
    variation left after the controls is as good as random; prices reacting to demand shocks the controls do not
    capture still bias it.
    """
    missing = [c for c in ("sku_id", "date", "units", "price", *controls) if c not in demand.columns]
    if missing:
        raise OptimizerInputError(f"The demand frame lacks column(s) {', '.join(missing)}.", field="demand")
    _positive_prices(demand["price"], "demand.price")
    frame = demand.copy()
    frame["sku_id"] = frame["sku_id"].astype(str)
    frame["date"] = pd.to_datetime(frame["date"])
    frame["units"] = pd.to_numeric(frame["units"], errors="coerce")
    if frame["units"].isna().any() or (frame["units"] < 0).any():
        raise OptimizerInputError("Units must be non-negative numbers.", field="demand.units")
    for c in controls:
        frame[c] = pd.to_numeric(frame[c], errors="coerce")
        if frame[c].isna().any():
            raise OptimizerInputError(f"Control column {c!r} must be numeric with no gaps.", field=f"demand.{c}")
    if by_category and "category" not in frame.columns:
        if skus is None:
            raise OptimizerInputError("by_category needs a category column or the SKU table.", field="demand")
        frame = frame.merge(skus[["sku_id", "category"]].astype({"sku_id": str}), on="sku_id", how="left")
        if frame["category"].isna().any():
            unknown = frame.loc[frame["category"].isna(), "sku_id"].iloc[0]
            _unknown([unknown], _sku_ids(skus), "the demand frame", "demand.sku_id")
    zero = frame["units"] <= 0
    if len(frame) < 30:
        raise OptimizerInputError(
            f"Only {len(frame)} rows of demand; price elasticity needs at least 30.", field="demand"
        )
    y = _log_units(frame["units"])
    t = np.log(frame["price"].to_numpy(dtype=float))
    if np.std(t) < 1e-6:
        raise OptimizerInputError("Price never varies, so its effect on units cannot be learned.", field="demand")
    naive = float(np.polyfit(t, y, 1)[0])
    pooled = _dml(y, t, _controls_matrix(frame, controls), seed=seed)
    per_category = {}
    if by_category:
        for category, part in frame.groupby("category", sort=True):
            ln_price = np.log(part["price"].to_numpy(dtype=float))
            if len(part) < min_rows_per_category or np.std(ln_price) < 1e-6:
                continue
            part = part.reset_index(drop=True)
            per_category[str(category)] = _dml(
                _log_units(part["units"]), ln_price, _controls_matrix(part, controls), seed=seed
            )
    names = ("day_of_week", "trend", *(("promo",) if "promo" in frame.columns else ()), "sku_fixed_effects")
    return ElasticityResult(
        pooled=pooled,
        by_category=per_category,
        naive_ols=naive,
        zero_unit_rows=int(zero.sum()),
        controls=(*names, *controls),
    )


def simulate_confounded_demand(
    *,
    seed: int,
    n_skus: int = 12,
    days: int = 300,
    elasticity: float = -1.5,
    price_noise: float = 0.08,
    base_units: float = 400.0,
) -> pd.DataFrame:
    """Daily demand with a known constant elasticity and a confounded price (tests and bench/forecast_bench.py).

    An observed demand shifter ``traffic`` (AR(1)) raises units non-linearly, and the price reacts to it (dynamic
    pricing: dearer when demand is high); promos cut the price and lift units; pricier SKUs sell fewer units. So a
    naive log-log regression is biased towards zero or beyond, while controlling for traffic, promo, weekday and
    SKU recovers ``elasticity``. ``price_noise`` is the exogenous price variation that identifies it; ``base_units``
    the daily units of the cheapest SKU on an average day (small values give low counts and days without sales).
    """
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 7007]))
    dates = pd.date_range("2025-01-06", periods=days, freq="D")
    traffic = np.zeros(days)
    for t in range(1, days):
        traffic[t] = 0.8 * traffic[t - 1] + 0.6 * rng.standard_normal()
    weekly = np.log(np.array([0.93, 0.91, 0.93, 0.97, 1.04, 1.12, 1.10]))
    trend = np.arange(days) / 365.0 * 0.1
    rows = []
    for s in range(n_skus):
        base_price = float(rng.uniform(2.0, 9.0))
        base_log_units = math.log(base_units) - 0.8 * math.log(base_price / 2.0) + float(rng.normal(0, 0.2))
        promo = (rng.random(days) < 0.12).astype(float)
        log_price = (
            math.log(base_price) + 0.25 * np.tanh(traffic) - 0.2 * promo + price_noise * rng.standard_normal(days)
        )
        log_mu = (
            base_log_units
            + elasticity * (log_price - math.log(base_price))
            + 0.5 * traffic
            + 0.15 * traffic**2
            + weekly[dates.day_of_week]
            + trend
            + 0.25 * promo
        )
        units = rng.poisson(np.exp(log_mu + 0.1 * rng.standard_normal(days)))
        rows.append(
            pd.DataFrame(
                {
                    "sku_id": f"sku-{s:02d}",
                    "category": "snacks" if s % 2 == 0 else "cereal",
                    "date": dates,
                    "units": units,
                    "price": np.round(np.exp(log_price), 2),
                    "promo": promo,
                    "traffic": traffic,
                }
            )
        )
    return pd.concat(rows, ignore_index=True)


# --- Allocator adjustments --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Adjustments:
    channel_margin_override: dict[str, float]  # margin rate of the channel's remaining SKU mix
    channel_capacity_factor: dict[str, float]  # share of the channel's sales from SKUs still sellable
    excluded_skus: tuple[str, ...]  # excluded by request plus those likely out of stock
    reasons: dict[str, str]  # sku_id -> why it is not sellable
    channel_reasons: dict[str, str] = field(default_factory=dict)  # channel key -> what changed and why
    stockout: pd.DataFrame | None = None  # the stockout_risk table, when stock was given
    channel_lost: dict[str, tuple[str, ...]] = field(default_factory=dict)  # channel key -> its unsellable SKUs
    excluded_by_request: tuple[str, ...] = ()  # the SKUs of ``reasons`` the request excluded (the rest run out)


def allocator_adjustments(
    history: pd.DataFrame,
    skus: pd.DataFrame,
    *,
    stock: Mapping[str, float] | None = None,
    excluded_skus: Iterable[str] = (),
    horizon_days: int,
    max_stockout_risk: float = 0.5,
    demand: pd.DataFrame | None = None,
    demand_multiple: float = 1.0,
    seed: int = 0,
) -> Adjustments:
    """Per channel ("retailer|placement_type"), the margin rate and capacity left once excluded SKUs and SKUs with
    ``p_stockout > max_stockout_risk`` over ``horizon_days`` are not sellable.

    Weights are the channel's historical attributed sales by SKU (H.csv); SKU margin rates come from S.csv
    ``(price - unit_cost) / price``. Campaign-level rows (no sku_id) stay sellable at the channel's average margin.
    capacity = sellable sales / all sales; margin = sales-weighted margin of what is left. Only channels that sold an
    unsellable SKU get an entry; a channel with nothing left gets capacity 0, so the allocator gives it nothing.
    """
    if not (0.0 <= max_stockout_risk <= 1.0):
        raise OptimizerInputError(
            f"max_stockout_risk must be a probability in [0, 1], got {max_stockout_risk!r}.", field="max_stockout_risk"
        )
    known = _sku_ids(skus)
    _check_prices(skus)
    excluded = [str(s) for s in excluded_skus]
    _unknown(excluded, known, "the excluded SKUs", "excluded_skus")
    reasons = {sku: "excluded by request" for sku in excluded}
    # Share of the period each SKU can still sell: 0 when excluded, the days its stock covers when it will run out.
    share: dict[str, float] = dict.fromkeys(excluded, 0.0)
    table = None
    if stock:
        table = stockout_risk(
            history,
            skus,
            stock,
            horizon_days=horizon_days,
            demand=demand,
            demand_multiple=demand_multiple,
            seed=seed,
        )
        risky = table.loc[table["p_stockout"] > max_stockout_risk]
        for row in risky.itertuples():
            if row.sku_id in reasons:
                continue
            cover = float(row.days_of_cover) if math.isfinite(row.days_of_cover) else float(horizon_days)
            share[row.sku_id] = min(1.0, max(0.0, cover / horizon_days))
            reasons[row.sku_id] = (
                f"likely out of stock: P(stock-out within {horizon_days} days) = {row.p_stockout:.2f} > "
                f"{max_stockout_risk:.2f} (stock {row.stock:,.0f} units covers {row.days_of_cover:.1f} days at "
                f"{row.expected_daily_units:,.1f} units a day, so it sells on {share[row.sku_id]:.0%} of the period)"
            )
    elif stock is not None:
        _check_stock(stock, known)
    unsellable = set(reasons)

    prices = skus.assign(sku_id=skus["sku_id"].astype(str)).set_index("sku_id")
    margin_rate = ((prices["price"] - prices["unit_cost"]) / prices["price"]).astype(float)
    frame = history.assign(
        key=history["retailer"].astype(str) + "|" + history["placement_type"].astype(str),
        sales=pd.to_numeric(history["attributed_sales"], errors="coerce").fillna(0.0),
        sku_level=_sku_level(history),
    )
    sku_rows = frame.loc[frame["sku_level"]].assign(sku=lambda f: f["sku_id"].astype(str))
    _unknown(sku_rows["sku"].unique(), known, "the history (add it to the SKU file)", "history.sku_id")

    margins, capacity, channel_reasons, channel_lost = {}, {}, {}, {}
    by_sku = sku_rows.groupby(["key", "sku"])["sales"].sum()
    campaign_sales = frame.loc[~frame["sku_level"]].groupby("key")["sales"].sum()
    for key in sorted(frame["key"].unique()):
        if key not in by_sku.index.get_level_values(0):
            continue
        sales = by_sku.loc[key]
        sales = sales[sales > 0]
        lost = [s for s in sales.index if s in unsellable]
        if not lost or sales.sum() <= 0:
            continue
        channel_lost[key] = tuple(lost)
        rates = margin_rate.reindex(sales.index).to_numpy()
        average = float((sales.to_numpy() * rates).sum() / sales.sum())
        sellable = sales.to_numpy() * np.array([share.get(s, 1.0) for s in sales.index])
        other = float(campaign_sales.get(key, 0.0))
        kept = float(sellable.sum()) + other
        total = float(sales.sum()) + other
        capacity[key] = kept / total
        if kept > 0:
            margins[key] = float(((sellable * rates).sum() + other * average) / kept)
            channel_reasons[key] = (
                f"{len(lost)} of its {len(sales)} SKUs not sellable for all of the period ({', '.join(lost[:5])}"
                f"{' ...' if len(lost) > 5 else ''}): capacity {capacity[key]:.1%} of historical attributed sales, "
                f"margin rate {average:.1%} -> {margins[key]:.1%}"
            )
        else:
            margins[key] = average
            channel_reasons[key] = (
                f"every SKU it sold is not sellable ({', '.join(lost[:5])}{' ...' if len(lost) > 5 else ''}): "
                "capacity 0, so the allocator gives it nothing"
            )
    return Adjustments(
        channel_margin_override=margins,
        channel_capacity_factor=capacity,
        excluded_skus=tuple(sorted(sku for sku in unsellable if share.get(sku, 1.0) <= 0.0)),
        reasons=reasons,
        channel_reasons=channel_reasons,
        stockout=table,
        channel_lost=channel_lost,
        excluded_by_request=tuple(excluded),
    )
