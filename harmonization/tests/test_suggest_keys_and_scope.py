"""The suggester never fills a required key with a constant, reads Amazon DSP orders as campaigns, and pairs sales
and units of one attribution scope (issue 16, point 9)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from harmonization.engine import MappingError, load_mapping
from harmonization.suggest import get_suggester, sample_from_bytes, suggestion_to_yaml
from harmonization.tests.test_suggest import with_suggest_url

# An Amazon DSP report by ORDER and LINE_ITEM (retail_reports.md): sales14d / unitsSold14d count the promoted
# products, totalSales14d / totalUnitsSold14d the brand halo as well.
DSP_ORDERS = b"""\
date,orderId,orderName,lineItemId,lineItemName,impressions,clickThroughs,totalCost,sales14d,unitsSold14d,\
totalSales14d,totalUnitsSold14d
2026-03-10,581234,Spring Snacks Q1,9911,Retargeting,120000,140,812.40,1510.20,61,2211.90,95
2026-03-10,581234,Spring Snacks Q1,9912,Prospecting,98000,90,640.10,820.00,33,1405.10,60
2026-03-10,581299,Drinks Always On,9931,Contextual,50000,41,301.55,410.45,17,702.00,30
2026-03-11,581234,Spring Snacks Q1,9911,Retargeting,110000,120,790.00,1302.00,52,2001.10,88
"""
# The same report by LINE_ITEM only: nothing names the campaign.
DSP_LINE_ITEMS = b"""\
date,lineItemId,lineItemName,impressions,clickThroughs,totalCost,sales14d,unitsSold14d
2026-03-10,9911,Retargeting,120000,140,812.40,1510.20,61
2026-03-10,9912,Prospecting,98000,90,640.10,820.00,33
"""


def suggest(data: bytes, name: str):
    return get_suggester().suggest(sample_from_bytes(data, name))


def test_it_reads_an_amazon_dsp_order_as_the_campaign():
    s = suggest(DSP_ORDERS, "dsp_orders.csv")
    assert (s.fields["campaign_id"].source, s.fields["campaign_name"].source) == ("orderId", "orderName")


def test_it_pairs_promoted_product_sales_with_promoted_product_units():
    s = suggest(DSP_ORDERS, "dsp_orders.csv")
    assert (s.fields["attributed_sales"].source, s.fields["attributed_units"].source) == ("sales14d", "unitsSold14d")


def test_it_pairs_halo_with_halo_when_only_halo_sales_are_given():
    only_halo = b"\n".join(
        b",".join(v for i, v in enumerate(line.split(b",")) if i != 8) for line in DSP_ORDERS.splitlines()
    )  # without sales14d
    s = suggest(only_halo + b"\n", "dsp_orders.csv")
    assert (s.fields["attributed_sales"].source, s.fields["attributed_units"].source) == (
        "totalSales14d",
        "totalUnitsSold14d",
    )


def test_units_of_another_scope_than_the_sales_stay_unmapped():
    text = b"date,orderId,orderName,impressions,clickThroughs,totalCost,sales14d,totalUnitsSold14d\n"
    text += b"2026-03-10,581234,Spring,120000,140,812.40,1510.20,95\n"
    text += b"2026-03-11,581299,Drinks,50000,41,301.55,410.45,30\n"
    s = suggest(text, "dsp_orders.csv")
    assert s.fields["attributed_sales"].source == "sales14d"
    assert s.fields["attributed_units"].source is None
    assert "totalUnitsSold14d" in s.fields["attributed_units"].reasons[0]


def test_a_campaign_key_it_cannot_find_is_left_unmapped_and_the_mapping_does_not_load():
    s = suggest(DSP_LINE_ITEMS, "dsp_line_items.csv")
    assert s.fields["campaign_id"].source is None and s.fields["campaign_id"].constant is None
    text = suggestion_to_yaml(s, retailer="amazon", name="dsp")
    assert "unknown" not in text and "constant" not in text.split("campaign_id:")[1].splitlines()[0]
    with pytest.raises(MappingError, match=r"columns\.campaign_id\.source: must be a non-empty string"):
        load_mapping(text, "dsp.yaml")


@with_suggest_url
def test_saving_is_blocked_until_a_person_maps_the_campaign(client, personas, retailers, tenants):
    from harmonization.models import Mapping

    client.force_login(personas["marketer"])
    text = suggestion_to_yaml(suggest(DSP_LINE_ITEMS, "dsp_line_items.csv"), retailer="amazon", name="dsp")
    response = client.post(reverse("mapping_suggest"), {"action": "save", "name": "dsp", "yaml_text": text})
    assert response.status_code == 400
    assert any("columns.campaign_id" in e for e in response.context["save_form"].errors["yaml_text"])
    assert not Mapping.objects.filter(name="dsp").exists()

    mapped = text.replace('campaign_id: {source: ""}', "campaign_id: {source: lineItemId}")
    response = client.post(reverse("mapping_suggest"), {"action": "save", "name": "dsp", "yaml_text": mapped})
    assert response.status_code == 302
    assert Mapping.objects.get(tenant=tenants["acme"], name="dsp").yaml_text == mapped


def test_a_total_in_a_persons_header_is_the_metric_not_the_brand_halo():
    # Walmart's console: "Total Attributed Sales" beside "Units Sold" count the same attributed orders
    text = (
        b"Date,Campaign ID,Campaign Name,Item ID,Impressions,Clicks,Ad Spend,Units Sold (14 Day),"
        b"Total Attributed Sales (14 Day)\n"
        b'11/10/2026,5262381,Household,581527061,"3,403",43,$65.59,6,$117.17\n'
        b'11/11/2026,4031959,Health,609461852,"3,725",52,$83.92,5,$67.58\n'
    )
    s = suggest(text, "Item Performance Report.csv")
    assert (s.fields["attributed_sales"].source, s.fields["attributed_units"].source) == (
        "Total Attributed Sales (14 Day)",
        "Units Sold (14 Day)",
    )
