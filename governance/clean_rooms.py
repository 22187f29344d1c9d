"""The clean-room service: every query over a retailer's shopper-level data goes through ``clean_room_query``.

It checks the query against the dataset's rules, runs it on a private in-memory copy of the tables, and for an answer
released outside the tenant adds Laplace noise and spends the dataset's privacy budget. Each refusal, each answer
and each epsilon spent is an audit entry (``cleanroom.refused``, ``cleanroom.answered``, ``cleanroom.epsilon_spent``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from decimal import Decimal

import pandas as pd
from django.db import transaction
from django.db.models import Sum

from governance.cleanroom import QueryResult, RuleViolation, check_query, policy_from_dict, run_query
from governance.models import (
    APIKey,
    CleanRoomDataset,
    CleanRoomExposure,
    CleanRoomPurchase,
    CleanRoomShopper,
    PrivacySpend,
)
from governance.services import audit_record

SQL_IN_AUDIT_CHARS = 2000
# Slack for float sums in the ledger: a budget of 1.0 spent in ten 0.1s must not refuse the tenth.
BUDGET_TOLERANCE = 1e-9


class CleanRoomRefused(Exception):
    """A query refused before anything was released; ``rule`` names the rule (docs/governance.md)."""

    def __init__(self, rule: str, message: str):
        super().__init__(f"{rule}: {message}")
        self.rule = rule
        self.message = message


@dataclass
class CleanRoomAnswer:
    result: QueryResult | None
    released: bool
    epsilon_spent: float
    epsilon_remaining: float
    # A retry of a request already answered (same Idempotency-Key): the stored answer, nothing spent again.
    replayed: dict | None = None

    def released_part(self) -> dict:
        """What was released: kept with the ledger entry so a retry gets the same numbers."""
        if self.replayed is not None:
            return dict(self.replayed)
        noise = self.result.noise
        return {
            "columns": self.result.columns,
            "rows": self.result.rows,
            "suppressed_rows": self.result.suppressed,
            "differential_privacy": self.released,
            "noise": {name: info.as_dict() for name, info in noise.items()} if noise else {},
        }

    def as_dict(self) -> dict:
        return {
            **self.released_part(),
            "epsilon_spent": self.epsilon_spent,
            "epsilon_remaining": self.epsilon_remaining,
            "replayed": self.replayed is not None,
        }


# The shopper-level tables a dataset holds: table -> (related name on the dataset, columns).
SHOPPER_TABLES = {
    "shoppers": ("shoppers", ["shopper_id", "region", "age_band", "loyalty_tier"]),
    "exposures": ("exposures", ["shopper_id", "campaign_id", "impressions"]),
    "purchases": ("purchases", ["shopper_id", "category", "amount", "units"]),
}


def clean_room_frames(*, dataset: CleanRoomDataset, tables=SHOPPER_TABLES) -> dict[str, pd.DataFrame]:
    """The dataset's shopper-level tables (those named) as frames; money as float: the answers are statistics."""
    frames = {}
    for table in tables:
        related, columns = SHOPPER_TABLES[table]
        rows = getattr(dataset, related).values_list(*columns)
        frames[table] = pd.DataFrame.from_records(list(rows), columns=columns)
    if "purchases" in frames:
        frames["purchases"]["amount"] = frames["purchases"]["amount"].astype(float)
    return frames


def epsilon_spent(*, dataset: CleanRoomDataset) -> float:
    return float(PrivacySpend.objects.filter(dataset=dataset).aggregate(total=Sum("epsilon"))["total"] or 0.0)


def clean_room_query(
    *,
    dataset: CleanRoomDataset,
    sql: str,
    release: bool,
    epsilon: float | None = None,
    harmonized: dict[str, pd.DataFrame] | None = None,
    user=None,
    api_key: APIKey | None = None,
    request_key: str = "",
) -> CleanRoomAnswer:
    """Answer ``sql`` over the dataset's tables plus ``harmonized`` ones (the tenant's own, given by the caller).

    ``release=True`` is for answers that leave the tenant (the gateway, partners): Laplace noise, ``epsilon`` (the
    dataset's per-query default when None) spent from the budget, refused once the budget cannot cover it.
    ``release=False`` answers exactly, for the tenant's own pages, and spends nothing.

    ``request_key`` (the gateway's Idempotency-Key) makes a released answer repeatable: a request whose key this
    dataset has answered gets that answer again (``replayed``) and spends nothing, so a client that timed out and
    retried does not pay twice, nor get a second, independent draw of the noise (two draws averaged would leak more
    than the epsilon charged). The same key with another query is refused (rule ``idempotency_key``).
    """
    sql_hash = hashlib.sha256(sql.encode()).hexdigest()
    who = {"tenant": dataset.tenant, "user": user, "api_key": api_key}
    base_detail = {"dataset": dataset.slug, "sql_sha256": sql_hash, "sql": sql[:SQL_IN_AUDIT_CHARS]}
    base_detail["released"] = release

    def refuse(rule: str, message: str, **extra):
        audit_record(
            action="cleanroom.refused",
            obj=dataset,
            detail={**base_detail, "rule": rule, "message": message, **extra},
            **who,
        )
        raise CleanRoomRefused(rule, message)

    harmonized = {name: f for name, f in (harmonized or {}).items() if name not in SHOPPER_TABLES}
    schemas = {name: list(f.columns) for name, f in harmonized.items()}
    schemas |= {name: columns for name, (_, columns) in SHOPPER_TABLES.items()}
    try:
        policy = policy_from_dict(dataset.rules)
    except ValueError as exc:
        refuse("rules_invalid", f"the dataset's rules cannot be read: {exc}")
    if release:
        epsilon = dataset.epsilon_per_query if epsilon is None else float(epsilon)
        if not epsilon > 0:
            refuse("privacy_budget", "epsilon must be positive")
        if request_key:
            earlier = PrivacySpend.objects.filter(dataset=dataset, request_key=request_key).first()
            if earlier is not None:
                return _replay(earlier, dataset=dataset, sql_hash=sql_hash, base_detail=base_detail, refuse=refuse,
                               who=who)  # fmt: skip
    try:
        checked = check_query(sql, policy=policy, schemas=schemas)
        # Only the tables the query reads are loaded (a query over shoppers does not pay for purchases).
        needed = set(checked.tables.values())
        frames = {name: f for name, f in harmonized.items() if name in needed}
        frames |= clean_room_frames(dataset=dataset, tables=[t for t in SHOPPER_TABLES if t in needed])
        result = run_query(checked, policy=policy, frames=frames, epsilon=epsilon if release else None)
    except RuleViolation as exc:
        refuse(exc.rule, exc.message)

    if not release:
        audit_record(
            action="cleanroom.answered",
            obj=dataset,
            detail={**base_detail, "rows": len(result.rows), "suppressed": result.suppressed},
            **who,
        )
        return CleanRoomAnswer(
            result,
            released=False,
            epsilon_spent=0.0,
            epsilon_remaining=dataset.epsilon_budget - epsilon_spent(dataset=dataset),
        )
    with transaction.atomic():
        # The dataset row is the lock: two answers cannot both pass the check on the same remaining budget.
        locked = CleanRoomDataset.objects.select_for_update().get(pk=dataset.pk)
        # The same request, answered while this one ran: its answer, not a second draw of the noise.
        replay = PrivacySpend.objects.filter(dataset=locked, request_key=request_key).first() if request_key else None
        spent = epsilon_spent(dataset=locked)
        over = replay is None and spent + epsilon > locked.epsilon_budget + BUDGET_TOLERANCE
        answer = CleanRoomAnswer(
            result, released=True, epsilon_spent=epsilon, epsilon_remaining=locked.epsilon_budget - spent - epsilon
        )
        if replay is None and not over:
            entry = audit_record(
                action="cleanroom.epsilon_spent",
                obj=locked,
                detail={
                    **base_detail,
                    "epsilon": epsilon,
                    "epsilon_spent_before": spent,
                    "epsilon_budget": locked.epsilon_budget,
                    "rows": len(result.rows),
                    "suppressed": result.suppressed,
                    "noise": {name: info.as_dict() for name, info in (result.noise or {}).items()},
                },
                **who,
            )
            PrivacySpend.objects.create(
                tenant=locked.tenant,
                dataset=locked,
                epsilon=epsilon,
                query_sha256=sql_hash,
                actor_label=entry.actor_label,
                request_key=request_key,
                answer=answer.released_part() if request_key else None,
            )
    if replay is not None:
        return _replay(replay, dataset=dataset, sql_hash=sql_hash, base_detail=base_detail, refuse=refuse, who=who)
    if over:  # outside the transaction, so the refusal's audit entry is kept
        refuse(
            "privacy_budget",
            f"this answer needs ε {epsilon:g} but only {max(locked.epsilon_budget - spent, 0):g} of the "
            f"dataset's {locked.epsilon_budget:g} is left",
            epsilon_requested=epsilon,
            epsilon_spent=spent,
        )
    return answer


def _replay(earlier: PrivacySpend, *, dataset, sql_hash: str, base_detail: dict, refuse, who) -> CleanRoomAnswer:
    """A request already answered under its Idempotency-Key: that answer again, nothing spent."""
    if earlier.query_sha256 != sql_hash or earlier.answer is None:
        refuse(
            "idempotency_key",
            "this Idempotency-Key was used for another query on this dataset; use a new key for a new query",
        )
    audit_record(
        action="cleanroom.replayed",
        obj=dataset,
        detail={**base_detail, "epsilon_charged": 0.0, "first_answered_at": earlier.created_at.isoformat()},
        **who,
    )
    return CleanRoomAnswer(
        None,
        released=True,
        epsilon_spent=earlier.epsilon,  # what this answer cost, once, when first released
        epsilon_remaining=dataset.epsilon_budget - epsilon_spent(dataset=dataset),
        replayed=earlier.answer,
    )


def clean_room_dataset_load(
    *,
    tenant,
    slug: str,
    name: str,
    retailer_code: str,
    rules: dict,
    shoppers: pd.DataFrame,
    exposures: pd.DataFrame,
    purchases: pd.DataFrame,
    epsilon_budget: float = 10.0,
    epsilon_per_query: float = 0.5,
    user=None,
) -> CleanRoomDataset:
    """Create the dataset, or replace its shopper tables (its rules, budget and ledger stay), in one transaction."""
    try:
        policy_from_dict(rules)
    except ValueError as exc:
        raise CleanRoomRefused("rules_invalid", str(exc)) from None
    with transaction.atomic():
        dataset, created = CleanRoomDataset.objects.get_or_create(
            tenant=tenant,
            slug=slug,
            defaults={
                "name": name,
                "retailer_code": retailer_code,
                "rules": rules,
                "epsilon_budget": epsilon_budget,
                "epsilon_per_query": epsilon_per_query,
            },
        )
        for related in (dataset.shoppers, dataset.exposures, dataset.purchases):
            related.all().delete()
        CleanRoomShopper.objects.bulk_create(
            [CleanRoomShopper(dataset=dataset, **row) for row in shoppers.to_dict("records")], batch_size=2000
        )
        CleanRoomExposure.objects.bulk_create(
            [CleanRoomExposure(dataset=dataset, **row) for row in exposures.to_dict("records")], batch_size=2000
        )
        CleanRoomPurchase.objects.bulk_create(
            [
                CleanRoomPurchase(dataset=dataset, **{**row, "amount": Decimal(str(row["amount"]))})
                for row in purchases.to_dict("records")
            ],
            batch_size=2000,
        )
        audit_record(
            action="cleanroom.dataset_loaded",
            tenant=tenant,
            user=user,
            obj=dataset,
            detail={
                "created": created,
                "shoppers": len(shoppers),
                "exposures": len(exposures),
                "purchases": len(purchases),
            },
        )
    return dataset
