"""The rule-based mapping suggester: header synonyms, token similarity and value evidence, then a one-to-one
assignment of columns to RMIS fields."""

from __future__ import annotations

import json
import re
import statistics
from difflib import SequenceMatcher
from functools import lru_cache

from harmonization.suggest.base import (
    AttributionGuess,
    ExportSample,
    FieldSuggestion,
    SourceGuess,
    Suggestion,
    assign_one_to_one,
)
from harmonization.suggest.lexicon import (
    AUX_FIELDS,
    FIELDS,
    HALO_TOKENS,
    NEGATIVE_TOKENS,
    OTHER_ENTITY_TOKENS,
    OTHER_PHRASES,
    PHRASES,
    QUALIFIER_TOKENS,
    SCOPE_TOKENS,
    WINDOWS,
    Header,
    normalise_header,
)
from harmonization.suggest.values import ColumnProfile, guess_number_format, profile_column

COUNT_FIELDS = ("impressions", "clicks", "attributed_units")
MONEY_FIELDS = ("spend", "attributed_sales")
WINDOWED_FIELDS = ("attributed_sales", "attributed_units")
PLACEMENT_VALUES = {
    "sponsored_product": ("sponsored product", "sponsored products", "sp", "product ads", "produktanzeigen",
                          "sponsored_product", "sponsoredproducts"),
    "search": ("search", "sponsored search", "sponsored brands", "sb", "keyword", "suche", "recherche", "busqueda"),
    "onsite_display": ("onsite display", "display", "sponsored display", "sd", "banner", "onsite_display", "onsite"),
    "offsite_display": ("offsite display", "offsite", "dsp", "programmatic", "offsite_display", "open web"),
    "ctv": ("ctv", "connected tv", "video", "streaming tv", "ott", "online video"),
    "audio": ("audio", "podcast", "radio"),
    "other": ("other", "sonstige", "autre", "otro", "altro"),
}  # fmt: skip
METRIC_FIELDS = ("impressions", "clicks", "spend", "attributed_sales", "attributed_units")
# One-word names of the other metrics: a header that adds one of them ("cost of sales") is a ratio of the two.
# ("unit sales" is units, so sales words do not count against units.)
OTHER_METRIC_WORDS = {
    f: frozenset(
        p[0]
        for g in METRIC_FIELDS
        if g != f and (f, g) != ("attributed_units", "attributed_sales")
        for p in PHRASES[g]
        if len(p) == 1
    )
    - frozenset(p[0] for p in PHRASES[f] if len(p) == 1)
    for f in METRIC_FIELDS
}
ENTITY_FIELDS = ("campaign_id", "campaign_name", "retailer_item_id", "gtin", "sku_code")
THRESHOLD = 0.3  # below this a field stays unmapped
REVIEW_BELOW = 0.7  # the YAML marks fields under this confidence with `# review:`


@lru_cache(maxsize=20000)
def token_match(a: str, b: str) -> float:
    """1 for equal words, about 0.9 for one word extending the other (plural, compound), else a damped character
    similarity for close spellings across languages (impressions / impresiones), 0 when far apart."""
    if a == b:
        return 1.0
    if len(a) < 4 or len(b) < 4:
        return 0.0
    if (a.startswith(b) or b.startswith(a)) and abs(len(a) - len(b)) <= 3:
        return 0.9
    ratio = SequenceMatcher(None, a, b).ratio()
    return ratio * 0.9 if ratio >= 0.8 else 0.0


def phrase_score(phrase: tuple[str, ...], tokens: tuple[str, ...]) -> tuple[float, set[int]]:
    """How well a lexicon phrase explains a header: every phrase word must match a distinct header word; header words
    the phrase leaves unexplained lower the score."""
    if not tokens:
        return 0.0, set()
    used: set[int] = set()
    matched = 0.0
    for p in phrase:
        best, best_j = 0.0, -1
        for j, t in enumerate(tokens):
            if j not in used:
                m = token_match(p, t)
                if m > best:
                    best, best_j = m, j
        if best == 0.0:
            return 0.0, set()
        matched += best
        used.add(best_j)
    coverage = len(used) / len(tokens)
    return (matched / len(phrase)) * (0.55 + 0.45 * coverage), used


def lexical_score(field: str, header: Header) -> tuple[float, str | None, set[str]]:
    """(score, the phrase that matched, header words it explained)."""
    best, best_phrase, best_used = 0.0, None, set()
    for phrase in PHRASES[field]:
        s, used = phrase_score(phrase, header.tokens)
        if s > best:
            best, best_phrase, best_used = s, " ".join(phrase), {header.tokens[j] for j in used}
    return best, best_phrase, best_used


def negative_words(tokens: set[str]) -> set[str]:
    """Header words that name a different quantity, allowing close spellings (budzet ~ budget)."""
    out = set()
    for t in tokens:
        if t in NEGATIVE_TOKENS or t in ("end", "ende", "fin"):
            out.add(t)
        elif any(len(n) >= 5 and n in t and len(t) - len(n) >= 4 for n in NEGATIVE_TOKENS):
            out.add(t)  # compounds: Tagesbudget, dagsbudget, Bestellungsanzahl
    return out


def is_other_concept(header: Header) -> bool:
    return any(phrase_score(p, header.tokens)[0] >= 0.95 for p in OTHER_PHRASES)


def value_fit(field: str, p: ColumnProfile) -> tuple[float, str]:
    """0 (impossible) .. 1 (typical) for the column's values as this field, with the reason."""
    if p.non_empty == 0:
        return 0.5, "no values in the sample"
    if field == "date":
        return (1.0, f"values parse as {p.date_formats[0]}") if p.is_date else (0.0, "values are not dates")
    if field in COUNT_FIELDS:
        if p.count_like:
            return 1.0, "non-negative whole numbers"
        if p.percent or not p.numeric:
            return 0.0, "values are not counts"
        if p.integer:
            return 0.2, "whole numbers that look like ids"
        return 0.1, "values have decimals"
    if field in MONEY_FIELDS:
        if not p.numeric or p.percent or p.is_date or any(n < 0 for n in p.numbers):
            return 0.0, "values are not amounts"
        return (0.6, "whole numbers (amounts usually have cents)") if p.integer else (1.0, "non-negative amounts")
    if field == "currency":
        return (1.0, "ISO 4217 codes") if p.currency_codes else (0.0, "values are not currency codes")
    if field == "gtin":
        if p.gtin:
            return 1.0, "GTINs with valid check digits"
        return (0.15, "digits without a valid GTIN check digit") if p.integer else (0.0, "values are not GTINs")
    if p.is_date or (p.numeric and not p.integer) or p.percent:
        return 0.0, "values are dates or decimals"
    if field == "retailer_item_id":
        if p.asin:
            return 1.0, "ASINs (B0 + 8 characters)"
        if p.id_like or p.integer:
            return 0.9, "id-like codes"
        return 0.2, "free text"
    if field == "campaign_id":
        if p.id_like or (p.integer and p.max_len >= 3):
            return 1.0, "id-like codes"
        return (0.3, "free text") if p.text else (0.6, "short codes")
    if field == "sku_code":
        if p.text and any(" " in v for v in p.values):
            return 0.3, "free text with spaces"
        return (0.6, "plain numbers") if p.integer else (0.9, "codes")
    if field in ("campaign_name", "attribution_model", "retailer"):
        if p.text:
            return 1.0, "text"
        return (0.1, "numbers") if p.numeric else (0.3, "codes")
    if field == "placement_type":
        if p.numeric:
            return 0.0, "numbers"
        return (1.0, "a few labels") if p.distinct <= 12 else (0.3, "many distinct values")
    if field == "attribution_window_days":
        ok = p.integer and all(int(n) in WINDOWS for n in p.numbers)
        return (1.0, "window lengths in days") if ok else (0.0, "not window lengths")
    return 0.5, ""


def placement_enum(values: list[str], *, exact: bool = False) -> tuple[dict[str, str], list[str]]:
    """Map distinct placement labels to RMIS enums; returns (map, values it could not place). Without ``exact``
    a label containing a known one ("Sponsored Products - Auto") is placed too."""
    out, unknown = {}, []
    for v in sorted(set(values)):
        key = " ".join(normalise_header(v).raw_tokens)
        hit = next((enum for enum, labels in PLACEMENT_VALUES.items() if key in labels or key == enum), None)
        if hit is None and not exact:
            hit = next((enum for enum, labels in PLACEMENT_VALUES.items() for lab in labels if lab in key), None)
        if hit is None:
            unknown.append(v)
        else:
            out[v] = hit
    return out, unknown


class RuleBasedSuggester:
    name = "rules"

    def __init__(self, *, preferred_window: int = 14) -> None:
        self.preferred_window = preferred_window

    def suggest(self, sample: ExportSample) -> Suggestion:
        decimal, thousands = sample.decimal, sample.thousands
        if sample.format in ("csv", "tsv", "jsonl", "json"):
            decimal, thousands = guess_number_format([v for row in sample.rows for v in row])
        headers = [normalise_header(h) for h in sample.headers]
        profiles = [profile_column(h, sample.column(h), decimal, thousands) for h in sample.headers]
        by_name = dict(zip(sample.headers, profiles, strict=False))
        fields = [*FIELDS, *AUX_FIELDS]

        lex: dict[str, dict[str, tuple[float, str | None, set[str]]]] = {
            f: {h.original: lexical_score(f, h) for h in headers} for f in fields
        }
        window = self._choose_window(headers, lex)
        scores: dict[str, dict[str, tuple[float, list[str]]]] = {f: {} for f in fields}
        for h, p in zip(headers, profiles, strict=False):
            for f in fields:
                scores[f][h.original] = self._score(f, h, p, lex[f][h.original], window, profiles)

        candidates = {
            f: sorted(((c, s) for c, (s, _) in cols.items() if s > 0), key=lambda t: -t[1])
            for f, cols in scores.items()
        }
        assigned = assign_one_to_one(candidates, THRESHOLD)
        result: dict[str, FieldSuggestion] = {}
        for f in fields:
            pick = assigned[f]
            alts = [(c, round(s, 3)) for c, s in candidates[f] if (not pick or c != pick[0]) and s >= 0.15][:3]
            if pick:
                col, conf = pick
                result[f] = FieldSuggestion(f, col, round(conf, 3), scores[f][col][1], alts)
            else:
                result[f] = FieldSuggestion(f, None, 0.0, ["no column fits"], alts)

        self._split_sales(result, headers, by_name, window)
        self._fill_by_structure(result, headers, profiles, lex)
        self._agree_scope(result, headers, candidates)
        self._units_and_constants(result, by_name, headers)
        attribution = self._attribution(result, headers, window)
        source = self._source_guess(sample, decimal, thousands, result, by_name)
        return Suggestion(sample.file_name, self.name, source, result, attribution, tuple(sample.headers))

    def _choose_window(self, headers: list[Header], lex) -> int | None:
        # Every window a non-rate column names counts, recognised or not: a 14-day column in an unknown language
        # still means the 7-day one beside it is the other window.
        windows = {h.window for h in headers if h.window and not negative_words(set(h.tokens))}
        if not windows:
            return None
        return min(windows, key=lambda w: (abs(w - self.preferred_window), -w))

    def _score(self, f, h: Header, p: ColumnProfile, lexical, window, profiles) -> tuple[float, list[str]]:
        lscore, phrase, explained = lexical
        reasons: list[str] = []
        if lscore > 0:
            reasons.append(f"header '{h.original}' matches '{phrase}' ({lscore:.2f})")
        tokens = set(h.tokens)
        if f not in ("currency", "attribution_window_days", "attribution_model"):
            negatives = negative_words(tokens - explained)
            if h.unit == "percent":
                negatives.add("%")
            if negatives and lscore > 0:
                lscore *= 0.15
                reasons.append(f"but names a different quantity ({', '.join(sorted(negatives))})")
        if f in WINDOWED_FIELDS or f in COUNT_FIELDS or f in MONEY_FIELDS:
            qualifiers = (tokens - explained) & QUALIFIER_TOKENS
            if qualifiers and lscore > 0:
                lscore *= 0.35
                reasons.append(f"narrowed by {', '.join(sorted(qualifiers))}")
        if f in METRIC_FIELDS and lscore > 0:
            others = {t for t in tokens - explained if any(token_match(t, w) >= 0.85 for w in OTHER_METRIC_WORDS[f])}
            if others:
                lscore *= 0.4
                reasons.append(f"also names {', '.join(sorted(others))}: a ratio?")
        if f in ENTITY_FIELDS and (tokens - explained) & OTHER_ENTITY_TOKENS and lscore > 0:
            lscore *= 0.3
            reasons.append("names another entity")
        if f in WINDOWED_FIELDS and window is not None and lscore > 0:
            if h.window is not None and h.window != window:
                lscore *= 0.25
                reasons.append(f"{h.window}-day window, {window}-day chosen")
            elif h.window == window:
                reasons.append(f"{window}-day window")
        if f not in WINDOWED_FIELDS and h.window is not None and lscore > 0 and f not in ("attribution_window_days",):
            lscore *= 0.7
        if f == "campaign_id" and (p.id_like or p.integer) and not p.text:
            # "Campaign", "Campaign Ref": a campaign column whose values are codes is the id.
            name_score = lexical_score("campaign_name", h)[0] * 0.8
            if name_score > lscore:
                lscore = name_score
                reasons.append(f"header names the campaign ({name_score:.2f}) and values are codes")
        fit, why = value_fit(f, p)
        if f in MONEY_FIELDS and fit > 0 and h.unit in ("micros", "cents"):
            fit, why = 1.0, f"whole numbers in {h.unit}"
        if f in COUNT_FIELDS and h.unit in ("micros", "cents"):
            fit, why = 0.0, f"amounts in {h.unit}"
        if fit == 0.0:
            return 0.0, [*reasons, why]
        conf = lscore * (0.5 + 0.5 * fit)
        if why:
            reasons.append(why)
        # Values that identify a field on their own.
        strong = 0.0
        if f == "date" and p.is_date:
            n_dates = sum(1 for q in profiles if q.is_date)
            strong = 0.8 if n_dates == 1 else 0.45
        elif (f == "retailer_item_id" and p.asin) or (f == "gtin" and p.gtin and p.max_len >= 12):
            strong = 0.85
        elif f == "currency" and p.currency_codes:
            strong = 0.75
        elif f == "placement_type" and p.text and p.distinct <= 8:
            mapped, unknown = placement_enum(p.values, exact=True)
            if mapped and len(unknown) <= len(mapped) / 2:
                strong = 0.7
        if strong > conf:
            conf = strong if lscore == 0 else max(strong, conf) + 0.1 * lscore
            reasons.append("values identify it")
        return min(conf, 1.0), reasons

    def _fill_by_structure(self, result, headers: list[Header], profiles: list[ColumnProfile], lex) -> None:
        """Fields no header named: place unexplained columns by how their values relate to the mapped ones
        (impressions > clicks > units row by row, sales above spend, a name column that follows the campaign id)."""
        used = {fs.source for fs in result.values() if fs.source}
        unknown = [
            p
            for h, p in zip(headers, profiles, strict=False)
            if h.original not in used
            and not is_other_concept(h)
            and not negative_words(set(h.tokens))
            and h.unit != "percent"
            and max(lex[f][h.original][0] for f in lex) < 0.5
        ]
        by_name = {p.name: p for p in profiles}
        hmap = {h.original: h for h in headers}
        window = self._choose_window(headers, lex)
        # Columns of another attribution window than the chosen one never fill a windowed field by structure.
        off_window = {h.original for h in headers if h.window and window and h.window != window}

        def take(f: str, p: ColumnProfile, conf: float, why: str) -> None:
            result[f] = FieldSuggestion(f, p.name, conf, [why, "header not recognised: review"], result[f].alternatives)
            unknown.remove(p)

        slots = list(COUNT_FIELDS)
        self._campaign_pair(result, unknown, hmap, take)
        if result["campaign_id"].source is None:
            ids = [p for p in unknown if p.id_like and not p.text and "id" in hmap[p.name].tokens]
            if ids:
                take("campaign_id", min(ids, key=lambda p: p.distinct), 0.35, "the coarsest unexplained id column")
        counts = [p for p in unknown if p.count_like and hmap[p.name].unit is None] + [
            by_name[result[f].source] for f in slots if result[f].source and by_name[result[f].source].count_like
        ]
        counts.sort(key=lambda p: -p.mean)
        pointer = 0
        for p in counts:
            known = next((i for i, f in enumerate(slots) if result[f].source == p.name), None)
            if known is not None:
                pointer = known + 1
                continue
            later_known = [i for i, f in enumerate(slots) if result[f].source and by_name[result[f].source] in counts]
            later_known = [i for i in later_known if counts.index(by_name[result[slots[i]].source]) > counts.index(p)]
            limit = min(later_known) if later_known else len(slots)
            free = [i for i in range(pointer, limit) if result[slots[i]].source is None]
            if p.name in off_window:
                free = [i for i in free if slots[i] not in WINDOWED_FIELDS]
            if free:
                i = free[0]
                take(slots[i], p, 0.4, f"whole numbers in rank {i + 1} of the count columns by size")
                pointer = i + 1

        def scaled(p: ColumnProfile) -> float:
            return p.mean / {"micros": 1e6, "cents": 100.0}.get(hmap[p.name].unit or "", 1.0)

        def per(p: ColumnProfile, f: str) -> float | None:
            """Median of this amount per unit of a mapped count column (cost per click, price per unit)."""
            other = result[f].source
            if other is None:
                return None
            div = {"micros": 1e6, "cents": 100.0}.get(hmap[p.name].unit or "", 1.0)
            ratios = [a / div / b for a, b in zip(p.numbers, by_name[other].numbers, strict=False) if b > 0]
            return statistics.median(ratios) if ratios else None

        def plausible(p: ColumnProfile, f: str) -> bool:
            # A cost per click between 1 cent and 50, a price per unit between 10 cents and 5000: ACoS, ROAS,
            # budgets and other amounts fall outside or do not vary.
            if p.distinct <= 1 and p.non_empty >= 5:
                return False
            if f == "spend" and hmap[p.name].window:
                return False  # spend carries no attribution window; ACoS 14d and the like do
            ratio = per(p, "clicks") if f == "spend" else per(p, "attributed_units")
            low, high = (0.01, 50.0) if f == "spend" else (0.1, 5000.0)
            return ratio is None or low <= ratio <= high

        money = [
            p
            for p in unknown
            if p.numeric
            and not p.percent
            and not p.is_date
            and (hmap[p.name].unit in ("micros", "cents") or (p.amount_like and not p.count_like))
            and p.name not in off_window
        ]
        spend, sales = result["spend"].source, result["attributed_sales"].source
        spend_ok = [p for p in money if plausible(p, "spend")]
        sales_ok = [p for p in money if plausible(p, "attributed_sales")]
        sales_expr = result["attributed_sales"].expr
        if spend is None and sales is None and not sales_expr and spend_ok and sales_ok:
            pairs = [(a, b) for a in spend_ok for b in sales_ok if a is not b and scaled(a) < scaled(b)]
            if pairs:
                low, high = min(pairs, key=lambda t: (abs(scaled(t[1]) - scaled(t[0]) * 4), t[0].name))
                take("spend", low, 0.35, "the smaller of two unexplained amount columns")
                take("attributed_sales", high, 0.35, "the larger of two unexplained amount columns")
        elif spend is None and sales is None and sales_expr and len(spend_ok) == 1:
            take("spend", spend_ok[0], 0.35, "the one unexplained amount column with a plausible cost per click")
        elif spend is None and sales is not None:
            below = [p for p in spend_ok if scaled(p) < scaled(by_name[sales])]
            if below:
                take("spend", max(below, key=scaled), 0.35, f"an amount column below {sales}")
        elif sales is None and spend is not None:
            above = [p for p in sales_ok if scaled(p) > scaled(by_name[spend])]
            if above:
                take("attributed_sales", min(above, key=scaled), 0.35, f"an amount column above {spend}")

        cid, cname = result["campaign_id"].source, result["campaign_name"].source
        if cid and cname is None:
            for p in [q for q in unknown if q.text]:
                if _follows(by_name[cid], p):
                    take("campaign_name", p, 0.45, f"text that follows {cid} one to one")
                    break
        elif cname and cid is None:
            for p in [q for q in unknown if q.id_like or q.integer]:
                if _follows(by_name[cname], p):
                    take("campaign_id", p, 0.45, f"codes that follow {cname} one to one")
                    break

    @staticmethod
    def _agree_scope(result, headers: list[Header], candidates: dict[str, list[tuple[str, float]]]) -> None:
        """Attributed sales and units must count the same products: promoted-product sales never go with brand-halo
        units (Amazon DSP's sales14d beside totalUnitsSold14d). When the chosen pair disagrees, the best pair that
        agrees replaces it (the promoted-product scope first); without one, the units stay unmapped."""
        sales, units = result["attributed_sales"], result["attributed_units"]
        if not (sales.source and units.source):
            return
        hmap = {h.original: h for h in headers}
        words = {frozenset(h.raw_tokens) for h in headers}
        contrasted = any("total" in w and w - {"total"} in words for w in words)

        def scope(header: Header) -> frozenset[str]:
            return attribution_scope(header, contrasted)

        if scope(hmap[sales.source]) == scope(hmap[units.source]):
            return
        used = {fs.source for f, fs in result.items() if fs.source and f not in WINDOWED_FIELDS}
        options = []
        for keep, swap in ((sales, units), (units, sales)):
            wanted = scope(hmap[keep.source])
            for col, conf in candidates[swap.field]:
                if conf >= THRESHOLD and col not in used and col != keep.source and scope(hmap[col]) == wanted:
                    halo = bool(wanted & HALO_TOKENS)
                    options.append((halo, -(keep.confidence + conf), swap.field, col, conf, keep.source))
                    break
        label = "brand halo" if scope(hmap[units.source]) & HALO_TOKENS else "promoted products"
        if not options:
            result["attributed_units"] = FieldSuggestion(
                "attributed_units", None, 0.0,
                [f"{units.source} counts {label}, {sales.source} does not: no units column of the sales' scope"],
                [(units.source, units.confidence)],
            )  # fmt: skip
            return
        _, _, field, col, conf, kept = min(options)
        before = result[field].source
        result[field] = FieldSuggestion(
            field, col, round(conf, 3),
            [f"same attribution scope as {kept}", f"{before} counts other products than {kept}"],
            [(before, result[field].confidence)],
        )  # fmt: skip

    @staticmethod
    def _split_sales(result, headers: list[Header], by_name, window: int | None) -> None:
        """No plain sales column, but the clicked item's and the other items' sales of one window (Walmart's
        direct + related): they are disjoint parts of the attributed sales, so the suggestion adds them."""
        if result["attributed_sales"].source is not None:
            return
        parts = {}
        for h in headers:
            words = set(h.tokens)
            if h.window not in (window, None) or not by_name[h.original].amount_like:
                continue
            if any(token_match(t, "sales") >= 0.9 or t == "revenue" for t in words):
                for part in ("direct", "related", "halo"):
                    if part in words and not words & {"brand", "ntb", "new"}:
                        parts.setdefault("direct" if part == "direct" else "other", h.original)
        if len(parts) == 2:
            cols = [parts["direct"], parts["other"]]
            fs = result["attributed_sales"]
            fs.expr = " + ".join(f"coalesce({expr_name(c)}, 0)" for c in cols)
            fs.confidence = 0.6
            fs.reasons = [f"no plain sales column: direct ({cols[0]}) plus related ({cols[1]}) sales"]

    @staticmethod
    def _campaign_pair(result, unknown: list[ColumnProfile], hmap: dict[str, Header], take) -> None:
        """Neither campaign column named: an id-like column and a text column whose values follow each other one to
        one and whose headers share a word ("Kampanya Kimliği" / "Kampanya Adı") are an entity's id and name; the
        coarsest such pair (fewest distinct values) is the campaign, ad groups and ads sit below it."""
        if result["campaign_id"].source or result["campaign_name"].source:
            return
        pairs = []
        for a in unknown:
            if not (a.id_like or a.integer) or (a.count_like and not a.id_like):
                continue
            for b in unknown:
                if b is a or not b.text or not _follows(a, b):
                    continue
                shared = set(hmap[a.name].tokens) & set(hmap[b.name].tokens)
                if shared:
                    pairs.append((a.distinct, a, b, shared))
        if pairs:
            _, a, b, shared = min(pairs, key=lambda t: t[0])
            why = f"id and name columns sharing '{' '.join(sorted(shared))}', the coarsest such pair"
            take("campaign_id", a, 0.4, why)
            take("campaign_name", b, 0.4, why)

    def _units_and_constants(self, result, by_name: dict[str, ColumnProfile], headers: list[Header]) -> None:
        hmap = {h.original: h for h in headers}
        clicks = result["clicks"].source
        for f in MONEY_FIELDS:
            fs = result[f]
            if fs.source is None:
                continue
            h, p = hmap[fs.source], by_name[fs.source]
            if h.unit in ("micros", "cents"):
                fs.unit = h.unit
                fs.reasons.append(f"header says {h.unit}")
            elif p.integer and p.median >= 1e5:
                cpc = None
                if clicks and by_name[clicks].median > 0:
                    cpc = p.median / by_name[clicks].median
                if (cpc is not None and cpc >= 1000) or (cpc is None and p.median >= 1e6):
                    fs.unit = "micros"
                    fs.reasons.append("whole numbers about a million times an amount: micros")
            elif p.percent:
                fs.unit = "percent"
        spend, sales = result["spend"], result["attributed_sales"]
        if sales.source and sales.unit is None and spend.unit == "micros" and by_name[sales.source].median >= 1e5:
            sales.unit = "micros"
            sales.reasons.append("same scale as spend in micros")

        pt = result["placement_type"]
        if pt.source:
            mapping, unknown = placement_enum(by_name[pt.source].values)
            if any(v not in PLACEMENT_VALUES for v in by_name[pt.source].values):
                pt.enum_map = mapping
                if unknown:
                    pt.reasons.append(f"labels not placed: {', '.join(unknown)}")
                    pt.confidence = min(pt.confidence, 0.6)
        else:
            has_item = any(result[f].source for f in ("retailer_item_id", "gtin", "sku_code"))
            tokens = {t for h in headers for t in h.tokens}
            if has_item:
                pt.constant, pt.confidence = "sponsored_product", 0.5
                pt.reasons = ["no placement column; rows are per product: sponsored products?"]
            elif tokens & {"creative", "line", "dsp", "viewability", "viewable"}:
                pt.constant, pt.confidence = "offsite_display", 0.4
                pt.reasons = ["no placement column; line items and creatives suggest programmatic display"]
            else:
                pt.constant, pt.confidence = "other", 0.2
                pt.reasons = ["no placement column and nothing to go by"]
        cur = result["currency"]
        if cur.source is None:
            named = {h.currency for h in headers if h.currency}
            if len(named) == 1:
                cur.constant, cur.confidence = named.pop(), 0.8
                cur.reasons = [f"headers name {cur.constant}"]
            else:
                comma = any(p.numeric and any("," in v for v in p.values) and not p.integer for p in by_name.values())
                cur.constant, cur.confidence = ("EUR", 0.3) if comma else ("USD", 0.3)
                cur.reasons = ["no currency column: a guess"]

    def _attribution(self, result, headers: list[Header], window: int | None) -> AttributionGuess:
        hmap = {h.original: h for h in headers}
        guess = AttributionGuess()
        windows = {hmap[result[f].source].window for f in WINDOWED_FIELDS if result[f].source} - {None}
        if result["attribution_window_days"].source:
            guess.window_source = result["attribution_window_days"].source
            guess.confidence = result["attribution_window_days"].confidence
            guess.reasons.append(f"per-row window column {guess.window_source}")
        elif len(windows) == 1:
            guess.window_days = windows.pop()
            guess.confidence = 0.9
            guess.reasons.append(f"the sales/units columns name a {guess.window_days}-day window")
        elif windows:
            guess.window_days, guess.confidence = window or self.preferred_window, 0.4
            guess.reasons.append(f"sales and units columns name different windows: {sorted(windows)}")
        else:
            guess.window_days, guess.confidence = self.preferred_window, 0.2
            guess.reasons.append("no window in the headers: the retailer's default?")
        if result["attribution_model"].source:
            guess.model_source = result["attribution_model"].source
            guess.reasons.append(f"per-row model column {guess.model_source}")
        return guess

    def _source_guess(self, sample, decimal, thousands, result, by_name) -> SourceGuess:
        g = SourceGuess(
            format=sample.format,
            encoding=sample.encoding,
            compression=sample.compression,
            delimiter=sample.delimiter,
            decimal=decimal,
            thousands=thousands,
            records_path=sample.records_path,
            header_row=sample.header_row,
        )
        date = result["date"].source
        if date:
            formats = by_name[date].date_formats
            g.date_format = formats[0]
            g.date_confidence = 0.95
            day_first = [f for f in formats if f.startswith("%d")]
            month_first = [f for f in formats if f.startswith("%m")]
            if day_first and month_first:
                g.date_format = day_first[0] if decimal == "," else month_first[0]
                g.date_confidence = 0.5
                g.reasons.append("day and month order ambiguous in the sample")
        percent_cols = [n for n, p in by_name.items() if p.percent]
        if percent_cols:
            g.reasons.append(f"percent strings in {', '.join(percent_cols)}")
        return g


def attribution_scope(header: Header, contrasted: bool) -> frozenset[str]:
    """The words of a header that narrow or widen the products an attributed metric counts (SCOPE_TOKENS).

    "Total" is the brand halo in API names (Amazon DSP's totalSales14d, totalUnitsSold14d; Amazon Attribution's
    total_units_sold_14d) and wherever the file has the same header without it (``contrasted``); in a person's header
    on its own ("Total Attributed Sales (14 Day)" in Walmart's console) it is the metric itself."""
    found = frozenset(header.raw_tokens) & SCOPE_TOKENS
    identifier = re.fullmatch(r"[A-Za-z0-9_]+", header.original) is not None
    if "total" in found and not (identifier or contrasted):
        found -= {"total"}
    return found


def expr_name(column: str) -> str:
    """A column as the expression language writes it: a bare identifier, or col("...") for other names."""
    return column if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", column) else f"col({json.dumps(column)})"


def _follows(a: ColumnProfile, b: ColumnProfile) -> bool:
    """Values of b are a function of a and vice versa (a campaign id and its name)."""
    pairs = set(zip(a.values, b.values, strict=False))
    return len(pairs) == len(set(a.values)) == len(set(b.values)) and len(pairs) >= 1 and a.non_empty == b.non_empty
