"""Presidio, offline: pattern recognizers with checksums over a blank spaCy pipeline (a tokenizer, no model).

Nothing here downloads: the spaCy pipeline is ``spacy.blank``, and e-mail domains are checked against tldextract's
bundled public-suffix snapshot (its default would fetch the list over the network on first use). All recognizers
are registered under one language code, ``en``, because patterns and checksums do not depend on the language of the
text around them; the context words that raise a match's score are listed in the languages the product serves.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass

ENTITIES = (
    "EMAIL_ADDRESS",
    "PHONE_NUMBER",
    "CREDIT_CARD",
    "IBAN_CODE",
    "US_SSN",
    "IP_ADDRESS",
    "STREET_ADDRESS",
)
LANGUAGE = "en"
# Scores below this are dropped: Presidio's "very weak" SSN shapes (0.05: any 9 digits) would hit ids and zips.
MIN_SCORE = 0.3
# The countries whose national formats (no +country code) are read as phone numbers; an international number
# (+NN ...) is recognized whatever its country.
PHONE_REGIONS = (
    "US", "GB", "DE", "FR", "ES", "IT", "PT", "NL", "JP", "BR", "CA", "AU", "BE", "CH", "AT", "IE", "PL", "SE", "DK",
    "NO", "FI", "MX",
)  # fmt: skip

CONTEXT = {
    "PHONE_NUMBER": ["phone", "tel", "telephone", "mobile", "cell", "call", "telefon", "handy", "rufnummer", "anrufen",
                     "téléphone", "portable", "appelez", "teléfono", "móvil", "llámanos", "telefono", "cellulare",
                     "chiamaci", "telemóvel", "ligue", "telefoon", "bel", "mobiel", "電話", "携帯"],
    "CREDIT_CARD": ["card", "credit", "visa", "mastercard", "amex", "karte", "kreditkarte", "carte", "tarjeta",
                    "carta", "cartão", "kaart", "creditcard", "カード"],
    "US_SSN": ["ssn", "social security", "ss#", "w-9", "w9"],
    "IBAN_CODE": ["iban", "bank", "konto", "überweisung", "virement", "transferencia", "bonifico", "transferência",
                  "rekening", "振込"],
}  # fmt: skip

# A street line where a pattern can tell: a number and a street word (English, French: number first; German,
# Dutch, Spanish, Italian, Portuguese: street word first), or a Japanese prefecture/city/ward address with its
# block numbers. Bare city names, PO boxes and addresses without a street word are not found.
_EN_STREET = r"(?:street|st\.?|avenue|ave\.?|road|rd\.?|boulevard|blvd\.?|drive|dr\.?|lane|ln\.?|way|court|ct\.?|terrace|place|pl\.?|square|parkway|close|crescent|gardens|grove|mews|highway|hwy\.?)"  # noqa: E501
_FR_STREET = r"(?:rue|avenue|av\.|boulevard|bd|place|allée|chemin|impasse|quai|cours)"
_SOUTH_STREET = (
    r"(?:calle|c/|avenida|avda\.?|paseo|plaza|camino|carrer|via|viale|corso|piazza|largo|vicolo|rua|av\.|travessa"
    r"|praça|alameda|estrada)"
)
STREET_PATTERNS = [
    (r"\b\d{1,5}[A-Za-z]?,?\s+(?:[A-Z][\w'-]*\s+){1,3}" + _EN_STREET + r"(?=\W|$)", 0.5),
    # 2547 E 3rd Ave, 10 W 42nd Street: a compass letter and a numbered street
    (r"\b\d{1,5}\s+(?:[NSEW]\.?\s+)?\d{1,3}(?:st|nd|rd|th)\s+" + _EN_STREET + r"(?=\W|$)", 0.5),
    # Swedish and Danish streets (Storgatan 12, Sveavägen 3, Nørregade 7), Polish ones (ul. Piotrkowska 147/35)
    (
        r"\b[A-ZÅÄÖÆØ][a-zåäöæøé]+(?:gatan|vägen|gränd|torget|stigen|allén|gade|vej|veien|gata)\s+\d{1,4}\s?[A-Za-z]?\b",
        0.5,
    ),
    (r"\b(?:ul\.|ulica|al\.|aleja|pl\.)\s+(?:[A-ZĄĆĘŁŃÓŚŹŻ][\w-]+\s+){1,3}?\d{1,4}[A-Za-z]?(?:/\d{1,4})?\b", 0.5),
    (
        r"\b\d{1,4}(?:\s?(?:bis|ter))?,?\s+"
        + _FR_STREET
        + r"\s+(?:(?:de|du|des|la|le|l')\s*)*[A-ZÀ-Ý][\w'-]+(?:\s+[A-ZÀ-Ý][\w'-]+)*",
        0.5,
    ),
    (
        r"\b[A-ZÄÖÜ][a-zäöüß]+(?:straße|strasse|str\.|weg|allee|platz|gasse|ring|damm|ufer|straat|laan|plein|gracht|kade|singel|dijk)\s*\d{1,4}\s?[a-zA-Z]?\b",
        0.5,
    ),
    (r"\b(?:Am|An der|Auf dem|Im|Zum|Zur)\s+[A-ZÄÖÜ][a-zäöüß]+\s+\d{1,4}[a-z]?\b", 0.4),
    (r"\b[A-ZÄÖÜ][a-zäöüß]+ (?:Straße|Str\.|Weg|Allee|Platz)\s+\d{1,4}[a-z]?\b", 0.5),
    (
        r"(?i:\b"
        + _SOUTH_STREET
        + r")\s+(?:(?:de|del|de la|dos|das|do|da|di|della)\s+)*[A-ZÀ-Ý][\w'-]+"
        + r"(?:\s+(?:de|del|da|do|di)?\s*[A-ZÀ-Ý][\w'-]+)*,?\s+\d{1,4}\b",
        0.5,
    ),
    (
        r"(?:[一-龥]{2,3}[都道府県])?[一-龥ぁ-んァ-ン]{1,6}[市区町村郡][一-龥ぁ-んァ-ン]{0,8}\d{1,4}(?:[-−－丁目番地号]\d{1,4}){1,3}",
        0.6,
    ),
]
# An e-mail address whose local part and domain are ASCII, so that the letters of a language without spaces around
# it (メールはtaro@example.co.jpまで) are not read as part of it.
# Domain labels may carry Latin letters with accents (internationalized domain names: müller-feinkost.de, CAFÉ.FR).
_LABEL = "[A-Za-z0-9\u00c0-\u024f](?:[A-Za-z0-9\u00c0-\u024f-]*[A-Za-z0-9\u00c0-\u024f])?"
EMAIL_PATTERN = (
    r"(?<![A-Za-z0-9.%+-])[A-Za-z0-9._%+-]+@" + _LABEL + r"(?:\." + _LABEL + r")*\.[A-Za-z]{2,24}(?![A-Za-z0-9-])"
)
# The same address right before a file extension (an upload named jane.doe@example.com.csv): the greedy pattern
# above reads ".csv" as the top-level domain, which the suffix check then refuses.
FILE_EXTENSIONS = "csv|tsv|txt|json|jsonl|ndjson|parquet|gz|zip|xlsx?|pdf|ya?ml"
EMAIL_BEFORE_EXTENSION_PATTERN = (
    r"(?<![A-Za-z0-9.%+-])[A-Za-z0-9._%+-]+@" + _LABEL + r"(?:\." + _LABEL + r")*?\.[A-Za-z]{2,24}"
    r"(?=(?:\.(?:" + FILE_EXTENSIONS + r"))+(?![A-Za-z0-9-]))"
)
# Cards by IIN range (Visa, Mastercard with its 2-series that Presidio's pattern misses, Amex, Discover, JCB, Diners,
# UnionPay), 13 (old Visa numbers) to 19 digits run together or in groups split by spaces or dashes; the Luhn
# check decides.
CARD_PATTERN = (
    r"(?<![\d-])(?:4\d{3}|5[1-5]\d{2}|2(?:2[2-9]\d|[3-6]\d\d|7[01]\d|720)|3[47]\d{2}|6(?:011|[245]\d\d)|35\d{2}"
    r"|3(?:0[0-5]|[68]\d)\d)(?:[ -]?\d{2,6}){2,4}(?![\d-])"
)
# North American numbers written with separators ((415) 734-2291, 415.734.2291, +1-415-734-2291): phone numbers even
# where the area code is not assigned (phonenumbers only takes valid ones), and ids never carry these separators.
NANP_PATTERN = (
    r"(?<![A-Za-z0-9+.-])(?:\+?1[ .-]?)?(?:\([2-9]\d{2}\)\s?|[2-9]\d{2}[ .-])[2-9]\d{2}[ .-]\d{4}(?![A-Za-z0-9-]|\.\d)"
)
IPV4_PATTERN = r"(?<![\d.])(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?![\d]|\.\d)"
IPV6_PATTERN = r"(?<![0-9A-Fa-f:])(?:[0-9A-Fa-f]{1,4}:){7}[0-9A-Fa-f]{1,4}(?![0-9A-Fa-f:])|(?<![0-9A-Fa-f:])(?:[0-9A-Fa-f]{1,4}:){1,6}:(?:[0-9A-Fa-f]{1,4}:){0,5}[0-9A-Fa-f]{1,4}(?![0-9A-Fa-f:])"  # noqa: E501
# The SSA's shape with one kind of separator, bounded by non-digits rather than \b: in Japanese or Chinese text the
# letters around the number are word characters, so Presidio's \b patterns miss "（SSN）538-13-7702を".
SSN_PATTERN = r"(?<![\d-])(?!000|666|9\d\d)\d{3}([- .])(?!00)\d{2}\1(?!0000)\d{4}(?![\d-])"
_DATE = re.compile(r"\d{1,4}[./-]\d{1,2}[./-]\d{1,4}")
_IP = re.compile(IPV4_PATTERN)


def ean13_valid(digits: str) -> bool:
    """The GS1 check digit of a 13-digit barcode (weights 1 and 3)."""
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(digits[:12]))
    return (10 - total % 10) % 10 == int(digits[12])


# Order numbers, year and date ranges and postcodes that phonenumbers reads as numbers: 2026-688406 (a year and a
# serial), 2024-2025, 05/06-12/26, 3000-150 (a Portuguese postcode).
_YEAR_SERIAL = re.compile(r"(?:19|20)\d\d[-/]\d{5,}")
_YEAR_RANGE = re.compile(r"((?:19|20)\d\d)\s?[-–/]\s?((?:19|20)\d\d)")
_POSTCODE = re.compile(r"\d{4}-\d{3}")
_US_LOCAL = re.compile(r"\d{3}[-. ]\d{4}")
_DATE_RANGE = re.compile(r"\d{1,2}/\d{1,2}\s?[-–]\s?\d{1,2}/\d{1,2}")


def plausible_phone(text: str) -> bool:
    """phonenumbers also takes dates (30.04.2026), IPv4 addresses and bare 10-digit ids for numbers: a number in
    national format run together must start with its trunk 0 (0612345678), and dates and IPs are not phones."""
    if _DATE.fullmatch(text) or _IP.fullmatch(text.strip()) or " / " in text:  # "1327.90 / 16.83": two amounts
        return False
    compact = text.strip()
    if _YEAR_SERIAL.fullmatch(compact) or _DATE_RANGE.fullmatch(compact) or _POSTCODE.fullmatch(compact):
        return False
    years = _YEAR_RANGE.fullmatch(compact)
    if years and 0 <= int(years[2]) - int(years[1]) <= 10:
        return False
    digits = sum(ch.isdigit() for ch in compact)
    if digits == 7 and not compact.startswith("+") and not _US_LOCAL.fullmatch(compact):  # 16-82537: an id
        return False
    if digits < 7:  # 140.73, 1327.90: amounts that some countries' short numbers match
        return False
    if compact.isdigit():  # a national number run together: its trunk 0, and no longer than 13 digits with it
        return compact.startswith("0") and len(compact) <= 13
    return True


@dataclass(frozen=True)
class Finding:
    entity: str
    start: int
    end: int
    score: float


_lock = threading.Lock()
_analyzers: dict[bool, object] = {}


def _build_analyzer(stock: bool = False):
    """``stock``: Presidio's own e-mail and card patterns (for the benchmark's comparison), not ours."""
    import spacy
    import tldextract
    from presidio_analyzer import AnalyzerEngine, Pattern, PatternRecognizer, RecognizerRegistry
    from presidio_analyzer.nlp_engine import SpacyNlpEngine
    from presidio_analyzer.predefined_recognizers import (
        CreditCardRecognizer,
        EmailRecognizer,
        IbanRecognizer,
        IpRecognizer,
        PhoneRecognizer,
        UsSsnRecognizer,
    )

    class BlankSpacyNlpEngine(SpacyNlpEngine):
        """A tokenizer only: Presidio needs tokens for context words, not a trained model."""

        def load(self) -> None:
            self.nlp = {LANGUAGE: spacy.blank(LANGUAGE)}

    offline_tld = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)

    class PlausiblePhoneRecognizer(PhoneRecognizer):
        def analyze(self, text, entities, nlp_artifacts=None):
            results = super().analyze(text, entities, nlp_artifacts)
            return [r for r in results if plausible_phone(text[r.start : r.end])]

    class CardRecognizer(CreditCardRecognizer):
        def validate_result(self, pattern_text: str):
            # Amex has 15 digits, the others 16 to 19; 14-digit Diners numbers are left out: ids of that length
            # pass Luhn one time in ten
            digits = "".join(ch for ch in pattern_text if ch.isdigit())
            if len(digits) == 13:  # an old Visa number, unless it is also a valid EAN-13 barcode (a GTIN)
                return digits[0] == "4" and not ean13_valid(digits) and super().validate_result(pattern_text)
            length_ok = len(digits) == 15 if digits[:2] in ("34", "37") else 16 <= len(digits) <= 19
            return length_ok and super().validate_result(pattern_text)

    class OfflineEmailRecognizer(EmailRecognizer):
        def validate_result(self, pattern_text: str):
            return offline_tld(pattern_text.rsplit("@", 1)[-1]).suffix != ""

    nlp_engine = BlankSpacyNlpEngine(models=[{"lang_code": LANGUAGE, "model_name": "blank"}])
    nlp_engine.load()
    registry = RecognizerRegistry(supported_languages=[LANGUAGE])
    ssn_patterns = [p for p in UsSsnRecognizer.PATTERNS if p.score >= MIN_SCORE]
    for recognizer in (
        OfflineEmailRecognizer(
            patterns=None
            if stock
            else [
                Pattern("email (ascii)", EMAIL_PATTERN, 0.5),
                Pattern("email before a file extension", EMAIL_BEFORE_EXTENSION_PATTERN, 0.5),
            ]
        ),
        PlausiblePhoneRecognizer(context=CONTEXT["PHONE_NUMBER"], supported_regions=PHONE_REGIONS, leniency=1),
        PatternRecognizer(
            supported_entity="PHONE_NUMBER",
            patterns=[Pattern("north american number", NANP_PATTERN, 0.5)],
            context=CONTEXT["PHONE_NUMBER"],
            name="NanpPhoneRecognizer",
        ),
        (CreditCardRecognizer if stock else CardRecognizer)(
            patterns=None if stock else [Pattern("card (IIN ranges)", CARD_PATTERN, 0.3)],
            context=CONTEXT["CREDIT_CARD"],
        ),
        IbanRecognizer(context=CONTEXT["IBAN_CODE"]),
        UsSsnRecognizer(
            patterns=ssn_patterns + ([] if stock else [Pattern("ssn (non-digit bounds)", SSN_PATTERN, 0.5)]),
            context=CONTEXT["US_SSN"],
        ),
        IpRecognizer(
            patterns=None if stock else [Pattern("ipv4", IPV4_PATTERN, 0.6), Pattern("ipv6", IPV6_PATTERN, 0.6)]
        ),
        PatternRecognizer(
            supported_entity="STREET_ADDRESS",
            patterns=[Pattern(f"street {i}", regex, score) for i, (regex, score) in enumerate(STREET_PATTERNS)],
            name="StreetAddressRecognizer",
        ),
    ):
        registry.add_recognizer(recognizer)
    return AnalyzerEngine(registry=registry, nlp_engine=nlp_engine, supported_languages=[LANGUAGE])


def analyzer(*, stock: bool = False):
    """The process's analyzer (built on first use: about a second, mostly importing spaCy)."""
    with _lock:
        if stock not in _analyzers:
            _analyzers[stock] = _build_analyzer(stock)
        return _analyzers[stock]


# Every entity above needs a digit or an "@"; text without either is skipped without running the analyzer (log
# lines and most campaign names), which keeps the log filter and the upload path cheap.
_MAYBE = re.compile(r"[@\d]")


def detect(text: str, *, entities: tuple[str, ...] = ENTITIES, stock: bool = False) -> list[Finding]:
    """Personal data in ``text`` in the order of the text; of two overlapping findings the longer is kept."""
    if not text or not _MAYBE.search(text):
        return []
    results = analyzer(stock=stock).analyze(
        text=text, language=LANGUAGE, entities=list(entities), score_threshold=MIN_SCORE
    )
    findings = sorted(
        (Finding(r.entity_type, r.start, r.end, float(r.score)) for r in results), key=lambda f: (f.start, -f.end)
    )
    kept: list[Finding] = []
    for f in findings:  # drop a finding inside an earlier, longer one (a phone inside a card number)
        if kept and f.start < kept[-1].end:
            if f.end - f.start > kept[-1].end - kept[-1].start and f.score >= kept[-1].score:
                kept[-1] = f
            continue
        kept.append(f)
    return kept
