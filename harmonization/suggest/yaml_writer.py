"""Write a Suggestion as a mapping in the pinned format (docs/mapping_guide.md), with confidences as comments."""

from __future__ import annotations

import datetime as dt
import json
import re

from harmonization.suggest.base import Suggestion
from harmonization.suggest.rules import REVIEW_BELOW, expr_name

INTEGER_FIELDS = ("impressions", "clicks", "attributed_units")
DECIMAL_FIELDS = ("spend", "attributed_sales")
COLUMN_ORDER = (
    "retailer", "campaign_id", "campaign_name", "placement_type", "retailer_item_id", "gtin", "sku_code",
    "impressions", "clicks", "spend", "attributed_sales", "attributed_units", "currency",
)  # fmt: skip
OPTIONAL = ("campaign_name",)
# Metrics a file may lack: a visible 0 keeps the document loadable for review. A key is never a constant (every
# row would merge into one campaign): REQUIRED_KEYS stay empty, so the mapping cannot be saved until a person maps
# them.
REQUIRED_DEFAULTS = {"impressions": 0, "clicks": 0, "spend": 0, "attributed_sales": 0, "attributed_units": 0}
REQUIRED_KEYS = ("campaign_id",)


def q(value) -> str:
    """A YAML scalar: JSON's quoting is valid YAML and keeps names with spaces, colons or '#' intact."""
    if value is None:
        return "null"
    return json.dumps(value, ensure_ascii=False)


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_") or "suggested_mapping"


def _comment(confidence: float, reasons: list[str]) -> str:
    why = "; ".join(r for r in reasons[:2] if r)
    if confidence < REVIEW_BELOW:
        return f"  # review: confidence {confidence:.2f}" + (f" ({why})" if why else "")
    return f"  # confidence {confidence:.2f}"


def suggestion_to_yaml(s: Suggestion, *, retailer: str | None, name: str) -> str:
    src = s.source
    fields = s.fields
    lines = [
        f"# Suggested by the {s.suggester} mapping suggester from {s.sample_name} on {dt.date.today().isoformat()}.",
        "# Check every line marked `review:` against the file before saving.",
        "version: 1",
        f"name: {slug(name)}",
    ]
    retailer_col = fields.get("retailer")
    if retailer and not (retailer_col and retailer_col.source):
        lines.append(f"retailer: {q(retailer)}")
    lines.append(f"description: {q(f'Suggested from {s.sample_name}')}")
    lines += ["", "source:", f"  format: {src.format}", f"  compression: {src.compression}"]
    lines.append(f"  encoding: {q(src.encoding)}")
    if src.format == "csv":
        lines.append(f"  delimiter: {q(src.delimiter or ',')}")
    if src.format in ("csv", "tsv", "jsonl", "json"):
        lines.append(f"  decimal: {q(src.decimal)}")
        lines.append(f"  thousands: {q(src.thousands)}")
    if src.format == "json":
        lines.append(f"  records_path: {q(src.records_path)}")
    if src.format in ("csv", "tsv") and src.header_row != 1:
        lines.append(f"  header_row: {src.header_row}")
    if src.date_format and "%H" in src.date_format and "%z" not in src.date_format:
        lines.append("  # review: timestamps without an offset are read in source.timezone (the retailer's by default)")

    date = fields["date"]
    lines += ["", "date:"]
    if date.source:
        lines.append(f"  column: {q(date.source)}" + _comment(date.confidence, date.reasons))
        lines.append(f"  format: {q(src.date_format)}" + _comment(src.date_confidence, src.reasons))
    else:
        lines.append('  column: ""  # review: no date column found')
        lines.append('  format: "%Y-%m-%d"')

    lines += ["", "columns:"]
    for f in COLUMN_ORDER:
        fs = fields.get(f)
        if fs is None:
            continue
        parts: list[str] = []
        if fs.source is not None:
            parts.append(f"source: {q(fs.source)}")
            if f in INTEGER_FIELDS:
                parts.append("type: integer")
            elif f in DECIMAL_FIELDS:
                parts.append("type: decimal")
            if fs.unit:
                parts.append(f"unit: {fs.unit}")
            if fs.enum_map:
                pairs = ", ".join(f"{q(k)}: {v}" for k, v in fs.enum_map.items())
                parts.append(f"enum: {{map: {{{pairs}}}, unknown: quarantine}}")
            if f in OPTIONAL:
                parts.append("required: false")
        elif fs.expr is not None:
            parts.append(f"expr: {q(fs.expr)}")
            if f in DECIMAL_FIELDS:
                parts.append("type: decimal")
        elif fs.constant is not None:
            parts.append(f"constant: {q(fs.constant)}")
        elif f in REQUIRED_KEYS:
            lines.append(f'  {f}: {{source: ""}}  # required: no column found; name the source column before saving')
            continue
        elif f in REQUIRED_DEFAULTS:
            # The engine needs these; a visible placeholder keeps the document loadable for review.
            lines.append(f"  {f}: {{constant: {q(REQUIRED_DEFAULTS[f])}}}  # review: no column found")
            continue
        else:
            continue
        lines.append(f"  {f}: {{{', '.join(parts)}}}" + _comment(fs.confidence, fs.reasons))

    att = s.attribution
    metrics = [f for f in ("attributed_sales", "attributed_units") if fields[f].source or fields[f].expr]
    if metrics:
        lines += ["", "attribution:"]
        if att.window_source:
            lines.append(f"  window_days: {{source: {q(att.window_source)}}}" + _comment(att.confidence, att.reasons))
        else:
            lines.append(f"  window_days: {att.window_days}" + _comment(att.confidence, att.reasons))
        if att.model_source:
            lines.append(f"  model: {{source: {q(att.model_source)}}}")
        else:
            lines.append(f"  model: {att.model}  # review: the file does not say; check the retailer's documentation")
        lines.append(f"  metrics: [{', '.join(metrics)}]")

    match = next((f for f in ("retailer_item_id", "gtin", "sku_code") if fields[f].source), None)
    if match:
        lines += ["", "sku:", f"  match: {match}", "  unknown: quarantine"]

    used = {fs.source for fs in fields.values() if fs.source}
    used |= {x for x in (att.window_source, att.model_source) if x}
    used |= {h for h in s.headers for fs in fields.values() if fs.expr and expr_name(h) in fs.expr}
    rest = [h for h in s.headers if h not in used]
    if rest:
        lines += ["", f"ignore: [{', '.join(q(h) for h in rest)}]  # review: columns the suggestion does not use"]
    return "\n".join(lines) + "\n"
