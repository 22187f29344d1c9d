"""Header normalisation and the synonym lexicon the rule-based suggester is tuned on (the "dev" lexicon).

The evaluation (harmonization/suggest/evaluation.py) renames columns with a separate, held-out list of phrasings
that is not in this file; docs/mapping_guide.md ("Mapping suggestions") states the split. Phrases are written
already normalised: lower case, no accents, words separated by single spaces.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

# RMIS fields a suggestion fills (docs/mapping_guide.md). `retailer`, `attribution_window_days` and
# `attribution_model` are columns only native RMIS files carry; they are suggested but not scored by the evaluation.
FIELDS = (
    "date",
    "campaign_id",
    "campaign_name",
    "placement_type",
    "retailer_item_id",
    "gtin",
    "sku_code",
    "impressions",
    "clicks",
    "spend",
    "attributed_sales",
    "attributed_units",
    "currency",
)
AUX_FIELDS = ("retailer", "attribution_window_days", "attribution_model")

SYNONYMS: dict[str, tuple[str, ...]] = {
    "date": (
        "date", "day", "date day", "report date", "reporting date", "datum", "tag", "berichtsdatum", "jour",
        "date du rapport", "fecha", "dia", "data", "giorno", "data report", "dag", "rapportdatum", "timestamp",
        "time", "event time", "hour", "datetime", "zeitstempel", "horodatage", "start date",
    ),
    "campaign_id": (
        "campaign id", "campaign key", "campaign number", "kampagnen id", "kampagne id", "id kampagne",
        "campagne id", "id campagne", "identifiant campagne", "id campana", "campana id", "id campagna",
        "campagna id", "id campanha", "campanha id", "kampagnennummer", "campagnenummer", "campaign ext id",
        "external campaign id",
        # Amazon DSP and other programmatic reports: an order (insertion order) is the campaign, line items sit
        # below it
        "order id", "insertion order id", "io id",
    ),
    "campaign_name": (
        "campaign name", "campaign", "kampagnenname", "kampagnen name", "kampagne", "nom campagne",
        "nom de la campagne", "campagne", "nombre campana", "nombre de campana", "campana", "nome campagna",
        "campagna", "campagnenaam", "campagne naam", "nome campanha", "nome da campanha", "campanha",
        "order name", "insertion order name", "insertion order",
    ),
    "placement_type": (
        "placement type", "placement", "ad type", "ad product", "ad format", "campaign type", "ad program",
        "inventory", "platzierung", "anzeigentyp", "werbeform", "emplacement", "type d annonce", "format",
        "ubicacion", "tipo de anuncio", "posizionamento", "tipo di annuncio", "plaatsing", "advertentietype",
        "posicionamento", "tipo anuncio", "channel type",
    ),
    "retailer_item_id": (
        "advertised asin", "asin", "item id", "retailer item id", "product id", "retailer product id",
        "advertised item id", "artikel id", "produkt id", "id produit", "reference produit", "id producto",
        "id articulo", "id prodotto", "id articolo", "product id", "id produto", "id item", "offer id",
    ),
    "gtin": (
        "gtin", "ean", "upc", "barcode", "ean code", "gtin code", "strichcode", "code barre", "code ean",
        "codigo de barras", "codice a barre", "streepjescode", "codigo ean", "codice ean",
    ),
    "sku_code": (
        "sku", "advertised sku", "seller sku", "merchant sku", "sku code", "artikelnummer", "reference",
        "referencia", "codice articolo", "code article", "codigo sku", "artikelcode", "codigo do produto",
        "product code", "item code",
    ),
    "impressions": (
        "impressions", "impression", "impr", "imps", "ads shown", "num ads shown", "impressionen",
        "einblendungen", "sichtkontakte", "affichages", "impresiones", "impressioni", "visualizzazioni",
        "vertoningen", "weergaven", "impressies", "impressoes", "exibicoes",
    ),
    "clicks": (
        "clicks", "click", "num ads clicks", "ads clicks", "klicks", "klick", "clics", "clic", "klikken",
        "kliks", "cliques", "clique",
    ),
    "spend": (
        "spend", "cost", "ad spend", "media cost", "spend amount", "kosten", "ausgaben", "werbekosten", "cout",
        "depenses", "gasto", "coste", "costo", "spesa", "uitgaven", "custo", "investimento", "amount spent",
        "total cost", "costs",
    ),
    "attributed_sales": (
        "sales", "attributed sales", "revenue", "conversion value", "conversions value", "umsatz", "ventes",
        "chiffre d affaires", "ventas", "ingresos", "vendite", "fatturato", "ricavi", "omzet", "verkopen",
        "vendas", "receita", "faturamento", "attributed revenue",
    ),
    "attributed_units": (
        "units", "attributed units", "units sold", "units sold clicks", "einheiten", "verkaufte einheiten",
        "stuck", "unites", "unites vendues", "unidades", "unidades vendidas", "unita", "unita vendute", "pezzi",
        "eenheden", "verkochte eenheden", "stuks", "quantity", "menge", "quantite", "cantidad", "quantita",
        "aantal stuks", "quantidade",
    ),
    "currency": (
        "currency", "currency code", "budget currency code", "campaign budget currency code", "wahrung",
        "waehrung", "devise", "monnaie", "moneda", "divisa", "valuta", "munt", "moeda", "iso currency",
    ),
    "retailer": ("retailer", "retailer code", "handler", "detaillant", "minorista", "rivenditore", "retailer id"),
    "attribution_window_days": ("attribution window days", "attribution window", "lookback window", "lookback days"),
    "attribution_model": ("attribution model", "attribution", "attributionsmodell", "modele d attribution"),
}  # fmt: skip

# Words that make a header a different quantity (a rate, a ratio, a budget, orders instead of units ...). A header
# with one of them is never one of the base metrics, whatever else it says.
NEGATIVE_TOKENS = frozenset(
    [
        "ctr",
        "cpc",
        "cpm",
        "cpa",
        "cpo",
        "cpv",
        "acos",
        "roas",
        "roi",
        "rate",
        "ratio",
        "share",
        "per",
        "pct",
        "percent",
        "percentage",
        "average",
        "avg",
        "mean",
        "budget",
        "bid",
        "bids",
        "target",
        "ntb",
        "new",
        "orders",
        "order",
        "purchases",
        "purchase",
        "conversions",
        "conversion",
        "status",
        "quote",
        "durchschnitt",
        "durchschnittlich",
        "gebot",
        "anteil",
        "bestellungen",
        "bestellung",
        "taux",
        "moyen",
        "moyenne",
        "enchere",
        "commandes",
        "commande",
        "tasa",
        "promedio",
        "puja",
        "pedidos",
        "pedido",
        "tasso",
        "medio",
        "offerta",
        "ordini",
        "ordine",
        "percentuale",
        "gemiddeld",
        "gemiddelde",
        "bod",
        "bestellingen",
        "bestelling",
        "encomendas",
        "taxa",
        "lance",
        "return",
        "returns",
    ]
)
# Qualifiers of attributed metrics that narrow them (same SKU, halo, brand, view-through, channel splits): the plain
# column is the one to map when it exists.
QUALIFIER_TOKENS = frozenset(
    [
        "same",
        "other",
        "halo",
        "brand",
        "related",
        "direct",
        "assisted",
        "view",
        "views",
        "store",
        "pickup",
        "delivery",
        "online",
        "offline",
        "advertised",
        "promoted",
    ]
)
# Words that name an attributed metric's scope. Brand halo ("total" in Amazon DSP's totalSales14d /
# totalUnitsSold14d, "halo", "brand") counts every product of the brand, the promoted products' figures only those
# advertised; sales and units paired in one mapping must have the same scope (both read before stop words drop
# "total").
SCOPE_TOKENS = frozenset(["total", "halo", "brand", "same", "sku", "other", "advertised", "promoted", "direct",
                          "related", "assisted", "view", "views"])  # fmt: skip
HALO_TOKENS = frozenset(["total", "halo", "brand"])
# Ids of other entities: a header naming one of these is not the campaign.
OTHER_ENTITY_TOKENS = frozenset(
    [
        "group",
        "gruppe",
        "groupe",
        "grupo",
        "gruppo",
        "groep",
        "keyword",
        "keywords",
        "portfolio",
        "line",
        "creative",
        "advertiser",
        "account",
        "profile",
        "targeting",
        "search",
        "term",
        "match",
    ]
)
# Distractor concepts: headers that are recognisably something else. Such a column is never assigned by value
# evidence alone.
OTHER_CONCEPTS = (
    "ad group id", "ad group name", "ad id", "keyword id", "keyword", "match type", "search term", "targeting",
    "portfolio id", "campaign status", "campaign budget amount", "campaign budget type", "bidding strategy",
    "end date", "line item id", "line item name", "creative id", "advertiser id", "account id", "bid",
    "sales channel", "unique visitors", "frequency", "viewability", "notes", "comment", "status", "budget",
    "top of search impression share", "orders", "purchases", "conversions",
)  # fmt: skip
# Filler words dropped before matching (articles, prepositions, "number of").
STOPWORDS = frozenset(
    [
        "the",
        "of",
        "a",
        "an",
        "and",
        "for",
        "in",
        "by",
        "total",
        "sum",
        "num",
        "number",
        "count",
        "no",
        "nr",
        "anzahl",
        "der",
        "die",
        "das",
        "des",
        "von",
        "im",
        "fur",
        "nombre",
        "de",
        "la",
        "le",
        "les",
        "du",
        "d",
        "l",
        "el",
        "los",
        "las",
        "del",
        "en",
        "numero",
        "di",
        "il",
        "lo",
        "gli",
        "dei",
        "della",
        "delle",
        "het",
        "van",
        "op",
        "aantal",
        "o",
        "os",
        "as",
        "do",
        "da",
        "dos",
        "das",
        "em",
    ]
)
DAY_UNITS = frozenset(
    [
        "d",
        "day",
        "days",
        "dd",
        "tag",
        "tage",
        "tagen",
        "tg",
        "jour",
        "jours",
        "j",
        "dia",
        "dias",
        "giorno",
        "giorni",
        "gg",
        "dag",
        "dagen",
    ]
)
WINDOWS = frozenset({1, 3, 7, 14, 28, 30, 60, 90})
UNIT_TOKENS = {"micros": "micros", "micro": "micros", "cents": "cents", "cent": "cents", "pct": "percent"}


@dataclass(frozen=True)
class Header:
    original: str
    tokens: tuple[str, ...]  # content words, normalised
    window: int | None  # attribution window named in the header (sales14d, "Umsatz (14 Tage)")
    unit: str | None  # micros | cents | percent named in the header
    currency: str | None  # an ISO code in the header ("Spend (EUR)")
    raw_tokens: tuple[str, ...]  # all words before stop-word removal


def strip_accents(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def split_words(text: str) -> list[str]:
    """camelCase, snake_case, kebab, spaces, punctuation and digit runs into lower-case ASCII words."""
    text = strip_accents(text).replace("ß", "ss")
    text = re.sub(r"([a-z])([A-Z])", r"\1 \2", text)
    text = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1 \2", text)
    text = re.sub(r"([A-Za-z])(\d)", r"\1 \2", text)
    text = re.sub(r"(\d)([A-Za-z])", r"\1 \2", text)
    return [w for w in re.split(r"[^A-Za-z0-9%]+|(%)", text.lower()) if w]


def normalise_header(header: str) -> Header:
    from harmonization.suggest.values import ISO_CURRENCIES

    words = [piece for w in split_words(header) for piece in segment(w)]
    window = None
    unit = "percent" if "%" in header else None
    currency = None
    tokens: list[str] = []
    skip_next = False
    for i, w in enumerate(words):
        if skip_next:
            skip_next = False
            continue
        if w.isdigit():
            n = int(w)
            nxt = words[i + 1] if i + 1 < len(words) else ""
            if n in WINDOWS and (nxt in DAY_UNITS or nxt == ""):
                window, skip_next = n, nxt in DAY_UNITS
            elif n in WINDOWS and window is None and len(nxt) <= 5 and nxt not in STOPWORDS:
                # "14 dagar", "14 gun": a small unknown word after a window-sized number is its day unit.
                window, skip_next = n, bool(nxt)
            continue
        if w in UNIT_TOKENS:
            unit = UNIT_TOKENS[w]
            continue
        if w == "%":
            continue
        if w.upper() in ISO_CURRENCIES and len(words) > 1 and w not in {"cad", "top", "all", "try"}:
            currency = w.upper()
            continue
        tokens.append(w)
    content = tuple(t for t in tokens if t not in STOPWORDS) or tuple(tokens)
    return Header(header, content, window, unit, currency, tuple(words))


# Pre-split phrase tokens per field, and one flat list for "is this header something else".
PHRASES: dict[str, tuple[tuple[str, ...], ...]] = {
    f: tuple(tuple(p.split()) for p in phrases) for f, phrases in SYNONYMS.items()
}
OTHER_PHRASES: tuple[tuple[str, ...], ...] = tuple(tuple(p.split()) for p in OTHER_CONCEPTS)


VOCABULARY = frozenset(
    {t for phrases in SYNONYMS.values() for p in phrases for t in p.split()}
    | {t for p in OTHER_CONCEPTS for t in p.split()}
    | NEGATIVE_TOKENS
    | QUALIFIER_TOKENS
    | OTHER_ENTITY_TOKENS
    | {w for w in STOPWORDS if len(w) > 2}
    | {"through", "sold", "shown", "ads", "ad", "code", "id", "name", "type", "amount", "value", "window"}
)


@lru_cache(maxsize=4096)
def segment(word: str) -> tuple[str, ...]:
    """Split a run-together word into known words when it is entirely made of them ("CLICKTHROUGHRATE" ->
    click through rate, "campaignid" -> campaign id); other words stay whole."""
    if word in VOCABULARY or len(word) < 5 or not word.isalpha():
        return (word,)
    best: list[tuple[str, ...] | None] = [None] * (len(word) + 1)
    best[0] = ()
    for end in range(2, len(word) + 1):
        for start in range(end - 2, -1, -1):
            piece = word[start:end]
            prev = best[start]
            if prev is not None and piece in VOCABULARY and (len(piece) > 2 or piece in {"id", "ad"}):
                cand = (*prev, piece)
                if best[end] is None or len(cand) < len(best[end]):
                    best[end] = cand
    return best[len(word)] or (word,)
