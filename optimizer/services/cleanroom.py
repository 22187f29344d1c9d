"""The clean-room gateway's service: the tenant's harmonized tables beside a retailer's shopper-level data.

The gateway answers for whoever holds an API key of the tenant, and its answers leave the tenant, so they are always
released with differential privacy (``governance.clean_rooms``); the exact path is for the tenant's own pages.
"""

from __future__ import annotations

import pandas as pd

from campaigns.models import Campaign
from core.errors import DomainError
from governance.clean_rooms import CleanRoomAnswer, clean_room_query, epsilon_spent
from governance.models import APIKey, CleanRoomDataset, Tenant


def harmonized_frames(*, tenant: Tenant) -> dict[str, pd.DataFrame]:
    """The tenant's harmonized campaigns, joinable to exposures on ``campaign_id`` (the retailer's campaign id)."""
    rows = Campaign.objects.filter(tenant=tenant).values_list("external_id", "retailer__code", "placement_type")
    return {"campaigns": pd.DataFrame(list(rows), columns=["campaign_id", "retailer", "placement_type"])}


def clean_room_dataset_get(*, tenant: Tenant, slug: str) -> CleanRoomDataset:
    dataset = CleanRoomDataset.objects.filter(tenant=tenant, slug=slug).select_related("tenant").first()
    if dataset is None:
        raise DomainError(f"No clean-room dataset {slug!r} in this tenant.", field="dataset")
    return dataset


def clean_room_budget(*, dataset: CleanRoomDataset) -> dict:
    spent = epsilon_spent(dataset=dataset)
    return {
        "epsilon_budget": dataset.epsilon_budget,
        "epsilon_spent": spent,
        "epsilon_remaining": max(dataset.epsilon_budget - spent, 0.0),
    }


def gateway_query(
    *,
    dataset: CleanRoomDataset,
    sql: str,
    epsilon: float | None = None,
    release: bool = True,
    user=None,
    api_key: APIKey | None = None,
    request_key: str = "",
) -> CleanRoomAnswer:
    return clean_room_query(
        dataset=dataset,
        sql=sql,
        release=release,
        epsilon=epsilon,
        harmonized=harmonized_frames(tenant=dataset.tenant),
        user=user,
        api_key=api_key,
        request_key=request_key,
    )
