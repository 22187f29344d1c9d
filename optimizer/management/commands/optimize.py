import json
import math
import os
import sys
import tempfile
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from core.bounds import seed_argument
from optimizer.engine.allocate import DEFAULT_CHANCE, OBJECTIVES, ROAS_BASES, AllocationRequest
from optimizer.engine.errors import OptimizerInputError
from optimizer.engine.jsonsafe import json_safe


class Command(BaseCommand):
    help = (
        "Allocate a period budget across retail media channels from history files (H.csv, S.csv, optional L.csv "
        "and BOUNDS.json; docs/optimization.md) or a tenant's data, and write the plan as JSON."
    )

    def add_arguments(self, parser):
        parser.add_argument("--history", help="H.csv: daily performance history (file contract).")
        parser.add_argument("--skus", help="S.csv: sku_id, brand, category, product_name, price, unit_cost.")
        parser.add_argument("--lift-studies", help="L.csv: lift studies that calibrate incrementality.")
        parser.add_argument("--budget", type=float, required=True, help="Total spend for the period.")
        parser.add_argument("--period-days", type=int, required=True, help="Length of the period in days.")
        parser.add_argument("--min-roas", type=float, required=True, help="ROAS floor over the period (0: none).")
        parser.add_argument("--bounds", help='BOUNDS.json: {"retailer|placement_type": [min_spend, max_spend]}.')
        parser.add_argument("--objective", default="incremental_margin", choices=OBJECTIVES)
        parser.add_argument("--json", required=True, dest="out", help="Where to write the plan (OUT.json).")
        parser.add_argument("--roas-basis", default="attributed", choices=ROAS_BASES)
        parser.add_argument(
            "--chance",
            type=float,
            default=DEFAULT_CHANCE,
            help=f"Hold the ROAS floor with at least this probability over the curves' uncertainty (default "
            f"{DEFAULT_CHANCE:g}; 0: the floor on the expected ROAS only). Ignored without a floor.",
        )
        parser.add_argument("--spend-everything", action="store_true", help="Spend the whole budget.")
        parser.add_argument("--exclude", action="append", default=[], help="Channel key to leave out (repeatable).")
        parser.add_argument("--samples", type=int, default=200, help="Posterior samples per curve.")
        parser.add_argument("--seed", type=seed_argument, default=0)
        parser.add_argument("--tenant", help="Tenant slug: read history, SKUs and lift studies from the database.")
        parser.add_argument(
            "--exclude-skus", action="append", default=[], help="SKU ids not to sell this period (comma list)."
        )
        parser.add_argument(
            "--stock",
            help="STOCK.csv: sku_id,stock_units. SKUs likely to stock out within the period stop counting as sellable.",
        )
        parser.add_argument("--max-stockout-risk", type=float, default=0.5, help="Default 0.5.")

    def handle(self, *args, **opts):
        try:
            result = self._run(opts)
        except OptimizerInputError as exc:
            raise CommandError(exc.message) from None
        document = result.to_dict()
        _write_json(Path(opts["out"]), document)
        _print_table(result, sys.stderr if self.stderr is None else self.stderr)
        self.stdout.write(f"Wrote {opts['out']}.")

    def _run(self, opts):
        from optimizer.engine import files
        from optimizer.engine.pipeline import optimize_from_frames

        if opts["tenant"]:
            history, skus, lift = _tenant_frames(opts["tenant"])
        else:
            missing = [f"--{n}" for n in ("history", "skus") if not opts[n]]
            if missing:
                raise OptimizerInputError(f"Give {' and '.join(missing)} (or --tenant to read the database).")
            history = files.read_history(opts["history"])
            skus = files.read_skus(opts["skus"])
            lift = files.read_lift_studies(opts["lift_studies"]) if opts["lift_studies"] else None
        known = files.channel_keys(history) if len(history) else []
        bounds = files.read_bounds(opts["bounds"], known) if opts["bounds"] else {}
        min_roas = opts["min_roas"]
        chance = opts["chance"]
        if chance is None or not math.isfinite(chance) or not 0 <= chance < 1:
            raise OptimizerInputError(f"--chance must be 0 or more and below 1, got {chance}.", field="chance")
        has_floor = min_roas is not None and min_roas > 0
        request = AllocationRequest(
            budget=opts["budget"],
            period_days=opts["period_days"],
            min_roas=min_roas if min_roas is not None and min_roas > 0 else None,
            roas_basis=opts["roas_basis"],
            objective=opts["objective"],
            bounds=bounds,
            exclude_channels=frozenset(opts["exclude"]),
            chance=chance if chance > 0 and has_floor else None,
            spend_everything=opts["spend_everything"],
        )
        if min_roas is not None and min_roas < 0:
            raise OptimizerInputError(f"--min-roas must be 0 or more, got {min_roas:g}.", field="min_roas")
        if opts["samples"] < 1:
            raise OptimizerInputError(f"--samples must be at least 1, got {opts['samples']}.", field="samples")
        if history.empty:
            raise OptimizerInputError("The history is empty: there is nothing to learn response curves from.")
        excluded_skus = [s.strip() for chunk in opts["exclude_skus"] for s in chunk.split(",") if s.strip()]
        stock = _read_stock(opts["stock"]) if opts["stock"] else None
        forecast = None
        if excluded_skus or stock:
            from optimizer.engine.forecast import allocator_adjustments

            forecast = allocator_adjustments(
                history,
                skus,
                stock=stock,
                excluded_skus=excluded_skus,
                horizon_days=opts["period_days"],
                max_stockout_risk=opts["max_stockout_risk"],
            )
        return optimize_from_frames(
            history, skus, lift, request, samples=opts["samples"], seed=opts["seed"], forecast=forecast
        )


def _read_stock(path: str) -> dict[str, float]:
    """STOCK.csv: sku_id,stock_units (units on hand for the period)."""
    import csv

    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            missing = [c for c in ("sku_id", "stock_units") if c not in (reader.fieldnames or [])]
            if missing:
                raise OptimizerInputError(f"{path}: missing column(s) {', '.join(missing)}.", field="stock")
            stock = {}
            for line, row in enumerate(reader, start=2):
                try:
                    value = float(row["stock_units"])
                except (TypeError, ValueError):
                    raise OptimizerInputError(
                        f"{path} line {line}, column stock_units: {row['stock_units']!r} is not a number.",
                        field="stock",
                    ) from None
                if not math.isfinite(value) or value < 0:
                    raise OptimizerInputError(
                        f"{path} line {line}, column stock_units: must be 0 or more, got {row['stock_units']!r}.",
                        field="stock",
                    )
                stock[row["sku_id"].strip()] = value
    except OSError as exc:
        raise OptimizerInputError(f"{path}: cannot read the stock file ({exc.strerror}).", field="stock") from None
    return stock


def _tenant_frames(slug: str):
    from governance.models import Tenant
    from optimizer.selectors import tenant_frames

    tenant = Tenant.objects.filter(slug=slug).first()
    if tenant is None:
        known = ", ".join(Tenant.objects.order_by("slug").values_list("slug", flat=True)) or "none"
        raise OptimizerInputError(f"No tenant {slug!r} (known: {known}).", field="tenant")
    return tenant_frames(tenant)


def _write_json(path: Path, document: dict) -> None:
    # Written to a temporary file first, so a failure never leaves a half-written OUT.json.
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(json_safe(document), fh, indent=2, allow_nan=False)
            fh.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _fmt(value, pattern="{:,.0f}"):
    return "-" if value is None else pattern.format(value)


def _print_table(result, out) -> None:
    rows = [("channel", "spend", "daily", "incr. sales", "incr. margin", "attr. ROAS", "marg. ROAS", "binding")]
    for a in result.allocations:
        rows.append(
            (
                a.key,
                _fmt(a.spend),
                _fmt(a.daily_spend),
                _fmt(a.expected_incremental_sales),
                _fmt(a.expected_incremental_margin),
                _fmt(a.expected_attributed_roas, "{:.2f}"),
                _fmt(a.marginal_roas, "{:.2f}"),
                ",".join(a.binding) or "-",
            )
        )
    t = result.totals
    rows.append(
        (
            "total",
            _fmt(t["spend"]),
            "",
            _fmt(t["expected_incremental_sales"]),
            _fmt(t["expected_incremental_margin"]),
            _fmt(t["expected_attributed_roas"], "{:.2f}"),
            "",
            "",
        )
    )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        cells = (c.ljust(w) if i in (0, 7) else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True)))
        out.write("  ".join(cells).rstrip())
    roas = result.constraints["min_roas"]
    budget = result.constraints["budget"]
    out.write(
        f"budget {t['budget']:,.2f} ({'binding' if budget['binding'] else 'not binding'}; "
        f"unspent {t['unspent']:,.2f}); "
        f"min_roas {_fmt(roas['limit'], '{:g}')} {roas['basis']} "
        f"({'binding' if roas['binding'] else 'not binding'}; P(floor) {_fmt(roas['probability'], '{:.0%}')})"
    )
    if result.promise and result.promise["whole_budget_keeps_promise"]:
        out.write(f"promise: {result.promise['message']}")
    for warning in result.warnings:
        out.write(f"warning: {warning}")
