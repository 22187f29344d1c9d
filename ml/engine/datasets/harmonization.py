"""Retailer export columns (header + sample values) -> the RMIS field they fill, or null for a column that fills none.

Training headers are the mapping suggester's own lexicon (harmonization/suggest/lexicon.py SYNONYMS, many languages)
written in export styles (camelCase, snake_case, Title Case, upper case, with day windows and currency suffixes), plus
English spellings written here (TRAIN_EXTRA_HEADERS) and the source columns of mappings stored in the database.
Held-out headers are spellings that are in none of these: the English wordings from the suggester's held-out
evaluation (harmonization/suggest/evaluation.py HELD_OUT) and more written here; ``heldout_spellings_unseen``
checks the split after normalising case, punctuation and word breaks.
Distractor columns (rates, budgets, orders, ad groups) teach the null answer, with their own held-out spellings.
Held-out rows also come from retailers the training rows never name.
"""

from __future__ import annotations

import random

from harmonization.suggest.lexicon import FIELDS, SYNONYMS, split_words
from ml.engine.datasets.common import rng_for, sft_row, split_retailers

TASK = "harmonization"

HELDOUT_HEADERS: dict[str, tuple[str, ...]] = {
    "date": ("Activity Day", "Day of Activity", "Stat Date", "Performance Date", "Calendar Day"),
    "campaign_id": ("Campaign Identifier", "Campaign Ref", "Campaign Code", "Cmpgn ID", "Campaign No"),
    "campaign_name": ("Campaign Title", "Campaign Label", "Campaign Description", "Cmpgn Name"),
    "placement_type": ("Ad Placement Kind", "Inventory Type", "Placement Category", "Ad Slot Type"),
    "retailer_item_id": ("Listing ID", "Catalog Item Number", "Retailer Product Ref", "Item Number"),
    "gtin": ("Item GTIN-13", "Global Trade Item Number", "Product Barcode No", "UPC Code"),
    "sku_code": ("Merchant SKU Ref", "Seller Item Code", "Vendor Part No", "Stock Keeping Unit"),
    "impressions": ("Ad Views", "Served Impr.", "Impressions Served", "Imps Delivered", "Total Views"),
    "clicks": ("Total Click-throughs", "Ad Clicks Count", "Click-through Events", "Clicks Total", "Click Count"),
    "spend": ("Media Spend Total", "Media Outlay", "Ad Cost Incurred", "Total Spent", "Spend (USD)"),
    "attributed_sales": ("Ad-driven Revenue {w}-day", "Gross Merchandise Sales {w}d", "Sales Value ({w} day window)",
                         "Attributed GMV", "Ad Revenue {w}d"),
    "attributed_units": ("Units Purchased ({w} day)", "Items Sold {w}d", "Unit Sales {w}-day", "Qty Sold",
                         "Units Attributed {w}d"),
    "currency": ("Currency ISO", "Money Unit", "Reporting Currency", "Curr.", "Currency Symbol Code"),
    None: ("Click-through %", "Cost per Click", "Return on Ad Spend {w}d", "Daily Budget", "Campaign Status",
           "Search Keyword", "Ad Group Title", "Advertising Cost of Sales {w}d", "Checkouts {w}d", "Max Bid"),
}  # fmt: skip

# More English spellings for training, written here (the lexicon is mostly other languages); never a held-out one.
TRAIN_EXTRA_HEADERS: dict[str, tuple[str, ...]] = {
    "date": ("report day", "day date", "event date", "date of report", "reporting date", "traffic date", "day"),
    "campaign_id": ("campaign identifier number", "campaign uid", "cid", "campaign key", "campaign id number"),
    "campaign_name": ("campaign title text", "name of campaign", "campaign display name", "campaign",
                      "campaign caption"),
    "placement_type": ("ad placement", "placement name", "ad unit type", "media type", "ad product", "ad format",
                       "placement group"),
    "retailer_item_id": ("retailer sku id", "marketplace item id", "platform product id", "item identifier", "asin",
                         "tcin", "retailer product code", "catalog id"),
    "gtin": ("upc 12", "ean 13 code", "gtin 14", "barcode id", "upc number", "ean", "barcode number"),
    "sku_code": ("sku id", "merchant part number", "product sku", "internal sku", "vendor sku", "advertised sku",
                 "seller sku"),
    "impressions": ("impr count", "total impressions", "ad impressions", "impression count", "times shown",
                    "viewable impressions", "impression volume", "times displayed", "ad displays", "views"),
    "clicks": ("total clicks", "click throughs", "ad clicks", "click total", "num clicks", "link clicks", "ad taps",
               "clicks received", "click volume"),
    "spend": ("ad cost", "total ad spend", "media spend", "cost usd", "amount spent usd", "spent", "ad spend total",
              "advertising spend", "total cost", "amount paid", "media expense", "cost of ads"),
    "attributed_sales": ("ad sales", "total sales", "gmv", "revenue attributed", "sales amount", "product sales",
                         "sales revenue", "attributed revenue", "order revenue", "purchase value"),
    "attributed_units": ("items purchased", "sold units", "units ordered", "unit count", "piece count",
                         "quantity ordered", "items ordered", "unit volume"),
    "currency": ("currency id", "iso code", "cur", "currency code", "iso currency", "denomination"),
}  # fmt: skip

TRAIN_DISTRACTORS = (
    "ctr", "cpc", "cpm", "roas {w}d", "acos {w}d", "orders {w}d", "purchases {w}d", "budget", "campaign budget",
    "ad group id", "ad group name", "status", "keyword", "bid", "new to brand orders {w}d", "conversion rate",
    "avg cpc", "target roas", "state", "match type", "click rate", "cost per acquisition", "bid amount", "max cpc",
    "budget amount", "daily cap", "roas target", "conversions {w}d", "add to carts {w}d", "ad group",
    "targeting", "serving status", "search term", "cost per mille", "roi", "cpc usd",
    "spend share %", "ntb sales %", "detail page views", "lifetime budget",
    "daily spend cap", "weekly budget", "budget remaining", "transactions {w}d", "orders placed {w}d",
    "cart adds {w}d", "return on spend", "bid price", "impression share %", "cost per order",
)  # fmt: skip
# The distractor each held-out distractor is a spelling of, so its sample values look right.
_DISTRACTOR_KIND = {
    "ctr": "rate", "click-through %": "rate", "conversion rate": "rate",
    "cpc": "cpc", "avg cpc": "cpc", "cost per click": "cpc", "cpm": "cpc", "max bid": "cpc", "bid": "cpc",
    "roas {w}d": "ratio", "acos {w}d": "rate", "return on ad spend {w}d": "ratio", "target roas": "ratio",
    "advertising cost of sales {w}d": "rate",
    "orders {w}d": "count", "purchases {w}d": "count", "new to brand orders {w}d": "count", "checkouts {w}d": "count",
    "budget": "budget", "campaign budget": "budget", "daily budget": "budget",
    "ad group id": "id", "ad group name": "group", "ad group title": "group",
    "status": "status", "campaign status": "status", "state": "status",
    "keyword": "keyword", "search keyword": "keyword", "match type": "match",
    "click rate": "rate", "cost per acquisition": "cpc", "bid amount": "cpc", "max cpc": "cpc",
    "budget amount": "budget", "daily cap": "budget", "roas target": "ratio", "conversions {w}d": "count",
    "add to carts {w}d": "count", "ad group": "group", "targeting": "keyword", "serving status": "status",
    "search term": "keyword", "cost per mille": "cpc", "roi": "ratio", "cpc usd": "cpc",
    "spend share %": "rate", "ntb sales %": "rate", "detail page views": "count", "lifetime budget": "budget",
    "daily spend cap": "budget", "weekly budget": "budget", "budget remaining": "budget", "transactions {w}d": "count",
    "orders placed {w}d": "count", "cart adds {w}d": "count", "return on spend": "ratio", "bid price": "cpc",
    "impression share %": "rate", "cost per order": "cpc",
}  # fmt: skip


def _normal(header: str) -> str:
    return " ".join(split_words(header.replace("{w}", "")))


def _style(header: str, rng: random.Random) -> str:
    words = header.split()
    style = rng.choice(["title", "title", "lower", "snake", "camel", "upper", "as_is"])
    if style == "title":
        return " ".join(w[:1].upper() + w[1:] for w in words)
    if style == "lower":
        return header.lower()
    if style == "snake":
        return "_".join(w.lower() for w in words)
    if style == "camel":
        return "".join(w.lower() if i == 0 else w[:1].upper() + w[1:].lower() for i, w in enumerate(words))
    if style == "upper":
        return header.upper()
    return header


def _train_header(field: str | None, rng: random.Random, extra: dict[str | None, list[str]]) -> tuple[str, str]:
    if field is None:
        base = rng.choice(TRAIN_DISTRACTORS)
        return _style(base.format(w=rng.choice([7, 14, 30])), rng), _DISTRACTOR_KIND[base]
    # English extras and the database's own spellings weigh more than one lexicon entry in another language.
    base = rng.choice([*SYNONYMS[field], *TRAIN_EXTRA_HEADERS[field] * 3, *extra.get(field, []) * 4])
    if "{w}" not in base and field in ("attributed_sales", "attributed_units") and rng.random() < 0.5:
        base += rng.choice([" {w}d", " ({w} days)", " {w} day"])
    if field in ("spend", "attributed_sales") and rng.random() < 0.15:
        base += rng.choice([" (USD)", " EUR", " usd"])
    return _style(base.format(w=rng.choice([7, 14, 30])), rng), field


def _heldout_header(field: str | None, rng: random.Random) -> tuple[str, str]:
    template = rng.choice(HELDOUT_HEADERS[field])
    header = template.format(w=rng.choice([7, 14, 30]))
    kind = field if field is not None else _DISTRACTOR_KIND[template.lower()]
    return (header if rng.random() < 0.6 else _style(header, rng)), kind


def _gtin(rng: random.Random) -> str:
    body = [rng.randint(0, 9) for _ in range(12)]
    total = sum(d * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return "".join(map(str, body)) + str((10 - total % 10) % 10)


def samples(kind: str | None, rng: random.Random) -> list[str]:
    """Three sample values of a column of ``kind`` (an RMIS field, or a distractor kind)."""
    dec = "," if rng.random() < 0.15 else "."

    def money(lo: float, hi: float) -> str:
        return f"{rng.uniform(lo, hi):.2f}".replace(".", dec)

    day = rng.randint(1, 25)
    date_style = rng.choice(["iso", "us", "eu", "ts"])
    numeric_ids, asins = rng.random() < 0.6, rng.random() < 0.5  # one id style per column, as in real exports
    gen = {
        "date": lambda i: {"iso": f"2025-03-{day + i:02d}", "us": f"03/{day + i:02d}/2025",
                           "eu": f"{day + i:02d}.03.2025",
                           "ts": f"2025-03-{day + i:02d}T{i + 8:02d}:00:00"}[date_style],
        "campaign_id": lambda i: str(rng.randint(10**8, 10**12)) if numeric_ids else f"cmp-{rng.randint(1000, 9999)}",
        "campaign_name": lambda i: f"{rng.choice(['Snacks', 'Holiday', 'Brand', 'Launch', 'Always On'])} "
                                   f"{rng.choice(['SP', 'Q3', '2025', 'Auto', 'Defense'])}",
        "placement_type": lambda i: rng.choice(["Sponsored Products", "Display", "Video", "sponsored_product",
                                                "Onsite Display", "Search"]),
        "retailer_item_id": lambda i: "B0" + "".join(rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ0123456789") for _ in range(8))
        if asins else str(rng.randint(10**7, 10**9)),
        "gtin": lambda i: _gtin(rng),
        "sku_code": lambda i: f"{rng.choice(['CH', 'MM', 'ACME', 'GLX'])}-{rng.choice(['BBQ', 'OAT', 'COLA', 'BAR'])}-"
                              f"{rng.randint(1, 99)}",
        "impressions": lambda i: str(rng.randint(300, 90000)),
        "clicks": lambda i: str(rng.randint(1, 900)),
        "spend": lambda i: money(5, 900),
        "attributed_sales": lambda i: money(10, 5000),
        "attributed_units": lambda i: str(rng.randint(0, 120)),
        "currency": lambda i: rng.choice(["USD", "EUR", "GBP", "CAD"]),
        "rate": lambda i: f"{rng.uniform(0.1, 9):.2f}".replace(".", dec) + rng.choice(["", " %", "%"]),
        "cpc": lambda i: money(0.2, 3),
        "ratio": lambda i: f"{rng.uniform(0.5, 9):.2f}".replace(".", dec),
        "count": lambda i: str(rng.randint(0, 80)),
        "budget": lambda i: money(50, 2000),
        "id": lambda i: str(rng.randint(10**9, 10**11)),
        "group": lambda i: f"Ad group {rng.randint(1, 9)}",
        "status": lambda i: rng.choice(["ENABLED", "PAUSED", "ARCHIVED", "active"]),
        "keyword": lambda i: rng.choice(["chips", "salty snacks", "granola", "cola zero", "oat cereal"]),
        "match": lambda i: rng.choice(["EXACT", "BROAD", "PHRASE"]),
    }[kind]  # fmt: skip
    return [gen(i) for i in range(3)]


def heldout_spellings_unseen(extra_train: dict[str | None, list[str]] | None = None) -> list[str]:
    """Held-out header spellings that normalise to a training spelling (should be none)."""
    seen = {_normal(h) for f in FIELDS for h in SYNONYMS[f]}
    seen |= {_normal(h) for h in TRAIN_DISTRACTORS}
    seen |= {_normal(h) for hs in TRAIN_EXTRA_HEADERS.values() for h in hs}
    seen |= {_normal(h) for hs in (extra_train or {}).values() for h in hs}
    return [h for hs in HELDOUT_HEADERS.values() for h in hs if _normal(h) in seen]


def _extra_from_source(source: dict | None) -> dict[str | None, list[str]]:
    """Source columns of stored mappings (``source["mappings"]``: ``[{"columns": {field: header}}]``) as more
    training spellings, leaving out any that is a held-out spelling."""
    held = {_normal(h) for hs in HELDOUT_HEADERS.values() for h in hs}
    extra: dict[str | None, list[str]] = {}
    for mapping in (source or {}).get("mappings") or []:
        for field, header in (mapping.get("columns") or {}).items():
            if field in FIELDS and isinstance(header, str) and header.strip() and _normal(header) not in held:
                extra.setdefault(field, []).append(header.strip())
    return extra


def build(*, seed: int = 0, n_train: int | None = None, n_heldout: int | None = None, source: dict | None = None):
    train_retailers, held_retailers = split_retailers(source)
    extra = _extra_from_source(source)
    out = []
    for split, n, pool in (("train", n_train or 520, train_retailers), ("heldout", n_heldout or 160, held_retailers)):
        # Three null columns for every thirteen fields in both splits (five in training made the adapter answer null
        # for real fields it was unsure of).
        fields: list[str | None] = [*FIELDS, None, None, None]
        rng = rng_for(TASK, split, seed)
        rows = []
        for i in range(n):
            field = fields[i % len(fields)]
            header, kind = _train_header(field, rng, extra) if split == "train" else _heldout_header(field, rng)
            retailer = rng.choice(pool)["code"]
            payload = {"retailer": retailer, "column": header, "samples": samples(kind, rng)}
            rows.append(sft_row(TASK, payload, {"field": field}, {"split": split, "kind": kind}))
        rng.shuffle(rows)
        out.append(rows)
    return out[0], out[1]
