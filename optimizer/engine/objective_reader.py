"""A deterministic reader of a budget plan in words: the fields the budgeting adapter fills, read by rules. Django-free.

It is the cross-check of the adapter (optimizer/objective_text.py): a small language model reads "four weeks" as 4
days or "3:1 ROAS" as 3.1 without a word, and rules do not. What the rules cannot read stays None, and what they read
two ways is named in ``ambiguous``, so the page asks instead of guessing.

Conventions (docs/optimization.md): a week is 7 days, a month 30, a quarter 91, a year 365, a named quarter ("Q3",
"the third quarter") 92. A ROAS floor is read from "ROAS >= 3", "3:1 ROAS", "3x return", "at least 300%"; its basis is
incremental when the text says so (iROAS, incremental ROAS), else None (the form's default, attributed). Money is
read with its currency ($, US$, USD, dollars -> USD; £, GBP, pounds, quid -> GBP; €, EUR, euros -> EUR; ...) and
magnitudes k, K, M, MM, mn, mil, million, bn, billion, thousand, grand, and number words ("two and a half million").
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

WEEK, MONTH, QUARTER, YEAR, NAMED_QUARTER = 7, 30, 91, 365, 92

OBJECTIVE_WORDS = {
    # Checked in this order: "net revenue" is revenue, "net profit" and "profit" are profit, "gross margin" margin.
    "net_incremental_profit": (
        r"profit\w*|net(?!\s+(?:sales|revenue))|bottom[\s-]line|after\s+(?:ad\s+)?(?:spend|costs?)"
    ),
    "incremental_margin": r"margins?|contribution",
    "incremental_revenue": r"revenue|sales|top[\s-]line|turnover|gmv|volume",
}

# Currency markers before or after an amount -> ISO 4217.
_CURRENCY_BEFORE = {
    "$": "USD", "us$": "USD", "usd": "USD", "£": "GBP", "gbp": "GBP", "€": "EUR", "eur": "EUR", "c$": "CAD",
    "ca$": "CAD", "cad": "CAD", "a$": "AUD", "au$": "AUD", "aud": "AUD", "¥": "JPY", "jpy": "JPY", "chf": "CHF",
    "₹": "INR", "inr": "INR",
}  # fmt: skip
_CURRENCY_AFTER = {
    "dollars": "USD", "dollar": "USD", "bucks": "USD", "usd": "USD", "us dollars": "USD", "pounds": "GBP",
    "pound": "GBP", "quid": "GBP", "sterling": "GBP", "gbp": "GBP", "euros": "EUR", "euro": "EUR", "eur": "EUR",
    "€": "EUR", "£": "GBP", "cad": "CAD", "canadian dollars": "CAD", "aud": "AUD", "australian dollars": "AUD",
    "yen": "JPY", "jpy": "JPY", "chf": "CHF", "francs": "CHF", "rupees": "INR", "inr": "INR",
}  # fmt: skip
_SCALES = {
    "k": 1e3, "thousand": 1e3, "grand": 1e3, "m": 1e6, "mm": 1e6, "mn": 1e6, "mil": 1e6, "mio": 1e6,
    "million": 1e6, "millions": 1e6, "mln": 1e6, "b": 1e9, "bn": 1e9, "billion": 1e9,
}  # fmt: skip

_UNITS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
    "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16,
    "seventeen": 17, "eighteen": 18, "nineteen": 19,
}  # fmt: skip
_TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90}
_ORDINALS = {"first": 1, "1st": 1, "second": 2, "2nd": 2, "third": 3, "3rd": 3, "fourth": 4, "4th": 4, "last": 4}

_NUMBER_WORD = "|".join([*_UNITS, *_TENS, "hundred", "and", "a", "an", "half", "quarter", "point", "couple", "of"])
_WORD_RUN = re.compile(rf"\b(?:{_NUMBER_WORD})(?:[\s-]+(?:{_NUMBER_WORD}))*\b", re.IGNORECASE)


def _word_value(words: list[str]) -> float | None:
    """The number a run of number words says ("two and a half" 2.5, "five hundred" 500, "a couple of" 2), or None."""
    words = [w for w in words if w]
    if not words:
        return None
    if words[:2] in (["half", "a"], ["half", "an"]) and len(words) == 2:
        return 0.5
    if words in (["a", "half"], ["an", "half"]):
        return 0.5
    if words in (["a", "quarter", "of", "a"], ["a", "quarter"], ["quarter", "of", "a"]):
        return 0.25
    if words in (["a", "couple", "of"], ["couple", "of"], ["a", "couple"]):
        return 2
    if words in (["a"], ["an"]):
        return 1
    total, current, seen, decimals = 0.0, 0.0, False, None
    i = 0
    while i < len(words):
        w = words[i]
        if w in _UNITS or w in _TENS:
            value = _UNITS.get(w, _TENS.get(w))
            if decimals is not None:
                decimals += str(value)
            else:
                current += value
            seen = True
        elif w == "hundred" and seen:
            current *= 100
        elif w == "point" and seen and decimals is None:
            decimals = ""
        elif w == "and" and seen and words[i + 1 : i + 3] in (["a", "half"], ["an", "half"]):
            current += 0.5
            i += 2
        elif w == "and" and seen and words[i + 1 : i + 3] == ["a", "quarter"]:
            current += 0.25
            i += 2
        elif w == "a" and not seen and i + 1 < len(words) and words[i + 1] == "hundred":
            current, seen = 1, True
        elif w == "and" and seen:
            pass
        else:
            return None
        i += 1
    if not seen:
        return None
    value = total + current
    if decimals:
        value += float("0." + decimals)
    return value


def _digits(value: float) -> str:
    return f"{value:g}" if value != int(value) else str(int(value))


def words_to_digits(text: str) -> str:
    """Number words as digits: "two and a half million" -> "2.5 million", "four weeks" -> "4 weeks", "a month"
    stays (periods read "a"/"an" themselves), "half a million" -> "0.5 million"."""

    def swap(match: re.Match) -> str:
        raw = match[0]
        tokens = re.split(r"[\s-]+", raw.lower())
        # Trailing glue words belong to the sentence, not the number ("four weeks and a ..." keeps " and a").
        tail: list[str] = []
        while tokens and tokens[-1] in ("and", "a", "an", "of", "point") and _word_value(tokens) is None:
            tail.insert(0, tokens.pop())
        lead: list[str] = []
        while tokens and tokens[0] in ("and", "of", "point") and _word_value(tokens) is None:
            lead.append(tokens.pop(0))
        value = _word_value(tokens)
        rest = text[match.end() :].lstrip().lower()
        if tokens in (["a"], ["an"]) and re.match(r"(?:million|thousand|billion|grand)\b", rest):
            return " ".join([*lead, "1", *tail])
        if value is None or tokens in (["a"], ["an"]) or tokens == ["quarter"]:
            return raw
        if tokens in (["a", "quarter"],):  # "a quarter" is a period unless a magnitude follows
            rest = text[match.end() :].lstrip().lower()
            if not re.match(r"(?:of\s+an?\s+)?(?:million|thousand|billion|mil|mm|k)\b", rest):
                return raw
        out = _digits(value)
        return " ".join([*lead, out, *tail]) if (lead or tail) else out

    text = re.sub(r"\b(\d+)\s+and\s+an?\s+half\b", lambda m: f"{int(m[1])}.5", text, flags=re.IGNORECASE)
    return _WORD_RUN.sub(swap, text)


# --- amounts --------------------------------------------------------------------------------------------------------

_NUM = r"\d{1,3}(?:[,\s]\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+"
_PRE = r"(?:us\$|ca\$|au\$|c\$|a\$|\$|£|€|¥|₹|usd|gbp|eur|cad|aud|jpy|chf|inr)"
_SCALE = r"(?:thousand|millions?|billion|grand|mln|mil|mio|mm|mn|bn|[kmb])"
_POST = (
    r"(?:us\s+dollars|canadian\s+dollars|australian\s+dollars|dollars?|bucks|usd|pounds?(?:\s+sterling)?|quid|"
    r"sterling|gbp|euros?|eur|€|£|cad|aud|yen|jpy|chf|francs|rupees|inr)"
)
_AMOUNT = re.compile(
    rf"(?<![\w.])(?P<pre>{_PRE})?\s?(?P<num>{_NUM})(?:\s?(?P<scale>{_SCALE}))?(?![\w%])"
    rf"(?:\s?(?P<post>{_POST})\b)?|(?P<pre2>{_PRE})\s?(?P<num2>{_NUM})",
    re.IGNORECASE,
)
_YEAR = re.compile(r"(?:19|20)\d\d")


@dataclass(frozen=True)
class Amount:
    start: int
    end: int
    value: float
    currency: str | None


def _amounts(text: str) -> list[Amount]:
    """Money in ``text``: a number with a currency sign or word, or a magnitude (k, M, million), or a bare number of
    1,000 or more that is not a year. Counts of days, ratios and percentages are not money."""
    out = []
    for m in _AMOUNT.finditer(text):
        pre, num, scale, post = m["pre"] or m["pre2"], m["num"] or m["num2"], m["scale"], m["post"]
        if num is None:
            continue
        plain = num.replace(",", "").replace(" ", "")
        try:
            value = float(plain)
        except ValueError:
            continue
        after = text[m.end() :].lstrip().lower()
        if scale and scale.lower() == "b" and not (pre or post) and not re.search(r"\d\s?b$", m[0], re.I):
            continue
        if not (pre or scale or post):
            if value < 1000 or "." in plain or (_YEAR.fullmatch(plain) and not re.match(r"(?:budget|total)", after)):
                continue
            if re.match(r"(?:x|:|%|days?|weeks?|months?|years?|impressions|units|clicks)\b", after):
                continue
        value *= _SCALES.get((scale or "").lower(), 1)
        currency = None
        if pre:
            currency = _CURRENCY_BEFORE.get(pre.lower())
        elif post:
            currency = _CURRENCY_AFTER.get(re.sub(r"\s+", " ", post.lower()).replace(" sterling", ""))
        out.append(Amount(m.start(), m.end(), round(value, 2), currency))
    return out


# --- the reading ----------------------------------------------------------------------------------------------------


@dataclass
class Reading:
    """What the rules read. None: the text does not say (or says it two ways: then the field is in ``ambiguous``)."""

    budget: float | None = None
    currency: str | None = None
    period_days: int | None = None
    objective: str | None = None
    min_roas: float | None = None
    roas_basis: str | None = None
    retailer_caps: dict[str, float] = field(default_factory=dict)
    exclude_retailers: list[str] = field(default_factory=list)
    no_floor: bool = False  # the text says there is no ROAS floor
    ambiguous: list[str] = field(default_factory=list)
    budget_text: str = ""  # the budget as written ("£500k"), for the question the page asks

    def fields(self) -> dict:
        return {
            "budget": self.budget,
            "period_days": self.period_days,
            "objective": self.objective,
            "min_roas": self.min_roas,
            "roas_basis": self.roas_basis,
            "retailer_caps": dict(self.retailer_caps),
            "exclude_retailers": list(self.exclude_retailers),
        }


# Retailers everyone calls by a brand of their media arm.
RETAILER_ALIASES = {
    "roundel": "target", "walmart connect": "walmart", "amazon ads": "amazon", "amazon advertising": "amazon",
    "kroger precision marketing": "kroger", "kpm": "kroger", "instacart ads": "instacart", "sams club": "sams_club",
    "sam's club": "sams_club", "criteo retail media": "criteo",
}  # fmt: skip


def retailer_names(retailers: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Lower-case names a text may use -> retailer code, from (code, name) pairs: the code, the name, the name's first
    word ("Walmart Connect" -> walmart) and a name in brackets ("Roundel (Target)" -> target)."""
    names: dict[str, str] = {}
    for code, name in retailers:
        names[code.lower()] = code
        names[code.lower().replace("_", " ")] = code
        low = name.lower().strip()
        names[low] = code
        inner = re.findall(r"\(([^)]+)\)", low)
        outer = re.sub(r"\s*\([^)]*\)", "", low).strip()
        for variant in [outer, *inner]:
            if variant:
                names.setdefault(variant, code)
                first = variant.split()[0]
                if len(first) >= 4:
                    names.setdefault(first, code)
    for alias, code in RETAILER_ALIASES.items():
        if code in names.values():
            names.setdefault(alias, code)
    return names


@dataclass(frozen=True)
class _Span:
    start: int
    end: int
    kind: str  # "A" amount, "R" retailer
    index: int


def _retailer_spans(text: str, names: dict[str, str]) -> list[tuple[int, int, str]]:
    if not names:
        return []
    pattern = "|".join(re.escape(n).replace(r"\ ", r"[\s_-]?") for n in sorted(names, key=len, reverse=True))
    out = []
    for m in re.finditer(rf"(?<![\w-])(?:{pattern})(?:'s|’s)?(?![\w-])", text, re.IGNORECASE):
        raw = re.sub(r"(?:'s|’s)$", "", m[0])
        key = re.sub(r"[\s_-]+", " ", raw.lower())
        code = names.get(key) or names.get(key.replace(" ", "")) or names.get(key.replace(" ", "_"))
        if code is None:
            continue
        if key == "target" and not _is_target_the_retailer(text, m.start(), m.end(), raw):
            continue
        out.append((m.start(), m.end(), code))
    return out


_TARGET_WORD_AFTER = re.compile(
    r"\s*(?:i?roas|return|audience|segment|metric|margin|revenue|sales|profit|cpa|acos|for\s+(?:roas|return))\b",
    re.IGNORECASE,
)
# "target of 3", "target: 3x", "target is >= 2.5": a small number with no money sign or magnitude after it.
_TARGET_RATIO_AFTER = re.compile(
    r"\s*(?:of|is|=|:|>=|≥|>|at)?\s*(?:at\s+least\s+|a\s+)?(?P<n>\d+(?:\.\d+)?)(?!\d|,\d|\s*(?:k|m|mm|million|"
    r"thousand|bn|dollars|usd)\b)",
    re.IGNORECASE,
)
_TARGET_WORD_BEFORE = re.compile(r"(?:i?roas|return|a|an|our|my|your|hit|meet|minimum|min|revenue|sales)\s*$", re.I)


def _is_target_the_retailer(text: str, start: int, end: int, raw: str) -> bool:
    """ "Target" the retailer, not "a ROAS target of 3" or "target ROAS 3"."""
    after, before = text[end:], text[:start]
    if _TARGET_WORD_AFTER.match(after) or _TARGET_WORD_BEFORE.search(before):
        return False
    ratio = _TARGET_RATIO_AFTER.match(after)
    if ratio and float(ratio["n"]) <= 20 and not re.match(r"\s*(?:at|to)\s", after):
        return False
    if re.search(r"\bthe\s*$", before) and not raw[:1].isupper():
        return bool(re.search(r"(?:on|for|to|and|,|&|or|exclude|skip)\s+the\s*$", before, re.IGNORECASE))
    return True


_CAP_BEFORE_AMOUNT = (
    r"(?:capped\s+at|cap(?:\s+(?:it|them))?\s+at|a\s+cap\s+of|cap\s+of|caps?|max(?:imum)?(?:\s+of)?|at\s+most|"
    r"no\s+more\s+than|not\s+more\s+than|nothing\s+(?:more|over|above)\s+than|up\s+to|under|below|less\s+than|"
    r"limit(?:ed)?\s+(?:it\s+|them\s+)?to|limit\s+of|ceiling\s+of|not\s+(?:to\s+)?exceed(?:ing)?|"
    r"shouldn't\s+exceed|should\s+not\s+exceed|don't\s+exceed|never\s+(?:more\s+than|over|above)|<=|≤|<|"
    r"tops|no\s+higher\s+than|a\s+max(?:imum)?\s+of|at\s+a\s+max(?:imum)?\s+of|only|just)"
)
_EXCLUDE_BEFORE = (
    r"(?:exclud(?:e|ing)|excl\.?|skip(?:ping)?|leav(?:e|ing)\s+out|leave\s+off|without|except(?:\s+for)?|"
    r"avoid(?:ing)?|drop(?:ping)?|ignor(?:e|ing)|remove|removing|cut|minus|not\s+on|no\s+spend\s+(?:on|with|at|in|"
    r"for)|no\s+money\s+(?:on|to|for|in|into|with)|no\s+budget\s+(?:on|to|for|in|with)|no\s+dollars\s+(?:on|to|for|"
    r"in)|nothing\s+(?:on|for|to|in|into|with|at)|zero\s+(?:on|for|to|in|with)|(?:do\s+not|don't|dont|won't|not)\s+"
    r"(?:use|spend\s+(?:on|with|at|in)|touch|include|want|buy|run\s+on|go\s+(?:on|to))|pause|not\s+using|"
    r"keep\s+(?:off|away\s+from)|stay\s+(?:off|away\s+from)|no)"
)
_EXCLUDE_AFTER = (
    r"(?:excluded|is\s+out|are\s+out|out\s+of\s+(?:it|the\s+mix|scope|this|the\s+plan)|(?:is|are)\s+off(?:\s+the\s+"
    r"table)?|off\s+the\s+table|off-limits|off\s+limits|(?:is|are)\s+excluded|should\s+be\s+excluded|gets?\s+"
    r"(?:nothing|zero|none)|(?:is|are)\s+a\s+no(?:-|\s)go|not\s+included|stays?\s+out|left\s+out|should\s+get\s+"
    r"nothing|get\s+nothing)"
)
_LIST_GLUE = r"\s*(?:,\s*(?:and|or)?|and|or|&|\+|/|nor)\s*(?:the\s+)?"


def _tokens(text: str, amounts: list[Amount], retailers: list[tuple[int, int, str]]) -> str:
    """``text`` with every amount written ⟨A<i>⟩ and every retailer ⟨R<i>⟩, so the clause rules read as patterns."""
    spans = [_Span(a.start, a.end, "A", i) for i, a in enumerate(amounts)]
    taken = [(a.start, a.end) for a in amounts]
    for j, (s, e, _code) in enumerate(retailers):
        if not any(s < te and ts < e for ts, te in taken):
            spans.append(_Span(s, e, "R", j))
    out, pos = [], 0
    for span in sorted(spans, key=lambda s: s.start):
        out.append(text[pos : span.start])
        out.append(f"⟨{span.kind}{span.index}⟩")
        pos = span.end
    out.append(text[pos:])
    return "".join(out)


_R = r"⟨R\d+⟩"
_A = r"⟨A\d+⟩"
_RLIST = rf"(?:the\s+)?{_R}(?:{_LIST_GLUE}{_R})*"


def _indices(kind: str, text: str) -> list[int]:
    return [int(i) for i in re.findall(rf"⟨{kind}(\d+)⟩", text)]


def _read_caps(tokens: str) -> tuple[list[tuple[list[int], int, str]], set[int]]:
    """(retailer indices, amount index, how) per cap found; and the amount indices that are caps."""
    found: list[tuple[list[int], int, str]] = []
    used: set[int] = set()
    rules = [
        # "Cap Walmart at $50k", "limit Kroger to 40k", "keep Amazon under $200k", "hold Criteo to 10k"
        rf"\b(?:cap|caps|capping|capped|limit|limiting|restrict|keep|hold|max(?:imum)?)\s+({_RLIST})\s*(?:spend|"
        rf"budget|spending)?\s*(?:at|to|under|below|at\s+most|at\s+or\s+below|at\s+a\s+max(?:imum)?\s+of|<=|≤|<|:)"
        rf"\s*({_A})",
        # "no more than $50k on Walmart", "at most 100k for Target", "a $50k cap on Walmart", "max 20k to Kroger"
        rf"{_CAP_BEFORE_AMOUNT}\s*({_A})\s*(?:cap|max(?:imum)?|limit|ceiling)?\s*(?:on|for|to|in|into|at|with|through|"
        rf"via|going\s+to|in\s+total\s+on|total\s+on|of\s+that\s+(?:on|to|for|in))\s+({_RLIST})",
        rf"(?:an?\s+)?({_A})\s+(?:cap|max(?:imum)?|limit|ceiling)\s+(?:on|for|to|at)\s+({_RLIST})",
        # "Walmart capped at 50k", "Walmart max 50k", "Walmart: at most $50k", "Walmart (max $50k)", "Walmart <= 50k"
        rf"({_RLIST})\s*(?::|\(|-|–|—)?\s*(?:spend|budget|spending)?\s*(?:should|can|must|may|will)?\s*(?:be|get|"
        rf"gets|have|has|receive)?\s*(?:capped\s+at|cap(?:ped)?(?:\s+(?:at|of))?|limited\s+to|at\s+most|max(?:imum)?"
        rf"(?:\s+of)?|no\s+more\s+than|not\s+more\s+than|up\s+to|under|below|<=|≤|<|tops|only|just|not\s+(?:to\s+)?"
        rf"exceed(?:ing)?|shouldn't\s+exceed|at\s+a\s+max(?:imum)?\s+of|a\s+max(?:imum)?\s+of|no\s+higher\s+than|less"
        rf"\s+than|ceiling\s+of)\s*({_A})",
        rf"({_RLIST})\s*\(\s*({_A})\s*(?:max(?:imum)?|cap|tops)\s*\)",
        rf"({_RLIST})\s*(?:at|:|=)\s*({_A})\s*(?:max(?:imum)?|cap|tops|at\s+most)\b",
        # "cap on Target: $2M", "a limit for Walmart of 50k"
        rf"\b(?:cap|limit|ceiling|max(?:imum)?)\s+(?:on|for)\s+({_RLIST})\s*(?:of|at|is|:|=|-|–)?\s*({_A})",
        # Looser: a few words between ("Target should not get more than $2M", "no more than $50k of it going to Amazon")
        rf"({_RLIST})((?:\s+(?!⟨)[\w'’]+){{1,6}}?)\s+{_CAP_BEFORE_AMOUNT}\s*({_A})",
        rf"{_CAP_BEFORE_AMOUNT}\s*({_A})((?:\s+(?!⟨)[\w'’]+){{1,4}}?)\s+(?:on|for|to|in|into|at|with)\s+({_RLIST})",
    ]
    for n, rule in enumerate(rules):
        for m in re.finditer(rule, tokens, re.IGNORECASE):
            groups = [g for g in m.groups() if g]
            r_part = next(g for g in groups if "⟨R" in g)
            a_part = next(g for g in groups if "⟨A" in g)
            if re.search(r"[.;!?]", m[0]):
                continue  # a cap is said within one sentence
            a = _indices("A", a_part)[0]
            if a in used:
                continue
            found.append((_indices("R", r_part), a, str(n)))
            used.add(a)
            # "Cap Walmart at 50k and Target at 30k", "no more than 50k on Walmart and 30k on Target"
            rest = tokens[m.end() :]
            while True:
                more = re.match(
                    rf"\s*(?:,|;)?\s*(?:and|&|,)?\s*(?:({_RLIST})\s*(?:at|to|:|under|below|at\s+most|max)\s*({_A})|"
                    rf"({_A})\s*(?:on|for|to|in|at)\s+({_RLIST}))",
                    rest,
                    re.IGNORECASE,
                )
                if not more:
                    break
                g = [x for x in more.groups() if x]
                r2, a2 = next(x for x in g if "⟨R" in x), next(x for x in g if "⟨A" in x)
                a_idx = _indices("A", a2)[0]
                if a_idx not in used:
                    found.append((_indices("R", r2), a_idx, f"{n}+"))
                    used.add(a_idx)
                rest = rest[more.end() :]
    return found, used


def _read_percent_caps(tokens: str) -> list[tuple[list[int], float]]:
    """ "cap Walmart at 20% (of the budget)", "no more than 10% on Kroger" -> shares of the budget."""
    out = []
    pct = r"(\d+(?:\.\d+)?)\s*(?:%|percent)(?:\s+of\s+(?:the\s+)?(?:total\s+)?(?:budget|spend|it))?"
    for rule in (
        rf"\b(?:cap|capped|limit|keep|hold|max(?:imum)?)\s+({_RLIST})\s*(?:at|to|under|below|at\s+most)\s*{pct}",
        rf"{_CAP_BEFORE_AMOUNT}\s*{pct}\s*(?:on|for|to|in|into|at|with)\s+({_RLIST})",
        rf"({_RLIST})\s*(?::|\()?\s*(?:capped\s+at|cap(?:ped)?\s+at|at\s+most|max(?:imum)?|no\s+more\s+than|up\s+to|"
        rf"under|<=|≤)\s*{pct}",
    ):
        for m in re.finditer(rule, tokens, re.IGNORECASE):
            groups = [g for g in m.groups() if g]
            r_part = next(g for g in groups if "⟨R" in g)
            share = next(g for g in groups if "⟨R" not in g)
            out.append((_indices("R", r_part), float(share) / 100))
    return out


def _read_exclusions(tokens: str) -> set[int]:
    out: set[int] = set()
    for rule in (
        rf"\b{_EXCLUDE_BEFORE}\s+(?:any(?:thing)?\s+(?:on|with|at)\s+)?({_RLIST})(?!\s*(?:at|to|under|below)\s*{_A})",
        rf"\bleave\s+({_RLIST})\s+out\b",
        rf"\bkeep\s+({_RLIST})\s+out\b",
        rf"({_RLIST})\s*(?::|-|–|—)?\s*{_EXCLUDE_AFTER}",
        rf"({_RLIST})\s*(?::|=|at|gets?)\s*(?:\$|£|€)?\s*(?:0|zero|nothing|none)\b(?!\.\d)",
        rf"\b(?:everything|everywhere|all(?:\s+retailers)?|any\s+retailer)\s+(?:but|except(?:\s+for)?|other\s+than)\s+"
        rf"({_RLIST})",
    ):
        for m in re.finditer(rule, tokens, re.IGNORECASE):
            out.update(_indices("R", m.group(1)))
    return out


_ONLY_BEFORE = r"\b(?:only|just|solely|exclusively)\s+(?:(?:on|in|at|with|across|into|through|via|to|for)\s+)?"
# "Amazon only", but not "Amazon only gets $50k" (a cap).
_ONLY_AFTER = r"\s+(?:only|exclusively|alone)\b(?!\s*(?:gets?|receives?|takes?|needs?|has|at|up|to|for|with|⟨A))"
_BETWEEN = re.compile(
    r"\b(?:split|splitting|divide|divided|dividing|spread|spreading|share|shared|sharing|allocate|allocated|"
    r"distribute|distributed)\b[^.;]{0,40}?\bbetween\b(?P<rest>[^.;]*)",
    re.IGNORECASE,
)


def _read_only(tokens: str) -> set[int]:
    """Retailers the text keeps the plan to ("only on Amazon and Walmart", "Walmart only", "split it between Amazon
    and Target"): the others get nothing."""
    out: set[int] = set()
    for rule in (rf"{_ONLY_BEFORE}({_RLIST})", rf"({_RLIST}){_ONLY_AFTER}"):
        for m in re.finditer(rule, tokens, re.IGNORECASE):
            out.update(_indices("R", m.group(1)))
    for m in _BETWEEN.finditer(tokens):  # every retailer named in the rest of the clause, shares beside them or not
        named = _indices("R", m["rest"])
        if len(named) >= 2:
            out.update(named)
    return out


_RATE = re.compile(
    r"^\s*(?:/|per|a|an|each|every)\s*(?P<unit>day|week|wk|month|mo|quarter|year)\b|^\s*(?P<ly>daily|weekly|monthly|"
    r"quarterly|yearly|annually)\b",
    re.IGNORECASE,
)
_RATE_BEFORE = re.compile(
    r"(?:\b(?P<ly>daily|weekly|monthly|quarterly)|\bper\s+(?P<unit>day|week|month|quarter))\s+(?:budget|spend|"
    r"spending|investment)\s*(?:of|is|:|=|at|around|will\s+be|would\s+be)?\s*(?:about\s+|around\s+)?$",
    re.IGNORECASE,
)
_RATE_DAYS = {"day": 1, "daily": 1, "week": WEEK, "wk": WEEK, "weekly": WEEK, "month": MONTH, "mo": MONTH,
              "monthly": MONTH, "quarter": QUARTER, "quarterly": QUARTER, "year": YEAR, "yearly": YEAR,
              "annually": YEAR}  # fmt: skip


# --- periods --------------------------------------------------------------------------------------------------------

_PERIOD_UNITS = {
    "day": 1, "days": 1, "d": 1, "week": WEEK, "weeks": WEEK, "wk": WEEK, "wks": WEEK, "w": WEEK, "month": MONTH,
    "months": MONTH, "mo": MONTH, "mos": MONTH, "mth": MONTH, "mths": MONTH, "quarter": QUARTER, "quarters": QUARTER,
    "qtr": QUARTER, "qtrs": QUARTER, "year": YEAR, "years": YEAR, "yr": YEAR, "yrs": YEAR, "fortnight": 2 * WEEK,
    "fortnights": 2 * WEEK,
}  # fmt: skip
_UNIT_RE = r"days?|d|weeks?|wks?|w|months?|mos?|mths?|quarters?|qtrs?|years?|yrs?|fortnights?"
_COUNT_PERIOD = re.compile(
    rf"(?<![\w.$£€])(?P<n>\d+(?:\.\d+)?)\s?-?\s?(?P<unit>{_UNIT_RE})\b",
    re.IGNORECASE,
)
_ONE_PERIOD = re.compile(
    r"\b(?:an?|one|the\s+(?:next|coming|following|upcoming|whole|full|entire|current)|the|this|next|coming|"
    r"following|upcoming|whole|full|entire|over\s+the|for\s+the|per|each|every)\s+(?:(?:calendar|full|whole|fiscal|"
    r"entire|single|coming|next)\s+)?(?P<unit>day|week|wk|fortnight|month|quarter|year|yr|fy)\b|\b(?P<long>day|week|month|"
    r"year)[\s-]?long\b",
    re.IGNORECASE,
)
_NAMED_QUARTER = re.compile(
    r"\b(?:q-?[1-4]|[1-4]q(?:\d\d)?|(?:first|second|third|fourth|1st|2nd|3rd|4th)\s+quarter|fy\s?q[1-4]|q[1-4]\s?fy)\b",
    re.IGNORECASE,
)
_YEAR_WORDS = re.compile(
    r"\b(?:annual(?:ly)?|full[\s-]year|year[\s-]long|whole\s+year|entire\s+year|fy\s?\d{2,4}|calendar\s+year|"
    r"for\s+(?:all\s+of\s+)?(?:19|20)\d\d)\b",
    re.IGNORECASE,
)
_QUARTER_OF_YEAR = re.compile(r"\bfy\s?\d{2,4}|\bq[1-4]\s*(?:of\s+)?(?:19|20)\d\d", re.IGNORECASE)
_MONTHS = {m: i for i, ms in enumerate(
    [("jan", "january"), ("feb", "february"), ("mar", "march"), ("apr", "april"), ("may",), ("jun", "june"),
     ("jul", "july"), ("aug", "august"), ("sep", "sept", "september"), ("oct", "october"), ("nov", "november"),
     ("dec", "december")], start=1) for m in ms}  # fmt: skip
_MONTH = "|".join(sorted(_MONTHS, key=len, reverse=True))
_DAY = r"(?P<{0}>[0-3]?\d)(?:st|nd|rd|th)?"
_DATE_RANGE = re.compile(
    rf"\b(?:(?P<m1>{_MONTH})\.?\s+{_DAY.format('d1')}|{_DAY.format('e1')}\s+(?P<n1>{_MONTH})\.?)\s*(?:-|–|to|through|"
    rf"thru|until|till)\s*(?:(?P<m2>{_MONTH})\.?\s+{_DAY.format('d2')}|{_DAY.format('e2')}\s+(?P<n2>{_MONTH})\b|"
    rf"{_DAY.format('d3')}\b)",
    re.IGNORECASE,
)
_DAYS_IN_MONTH = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


# "days: 35", "weeks = 5", "duration: 35", "period (days): 30"
_LABELLED_PERIOD = re.compile(
    r"\b(?:(?P<unit>days|weeks|months)|period|duration|flight|timeframe|time\s+frame|length)\s*(?:\(\s*days\s*\))?\s*"
    r"(?:=|:|is)\s*(?P<n>\d+)\b(?!\s*(?:days?|weeks?|months?|%|x|k|m)\b)",
    re.IGNORECASE,
)
# "in June", "for the month of September", "during Feb": a named month is its days in a year without Feb 29.
_NAMED_MONTH = re.compile(
    rf"\b(?:in|for|during|throughout|through|across|over|month\s+of)\s+(?:all\s+of\s+|the\s+whole\s+of\s+)?"
    rf"(?P<month>{_MONTH})\b\.?(?!\s*[0-3]?\d\b)",
    re.IGNORECASE,
)


def _range_days(m: re.Match) -> int | None:
    """Days from one date to another, both included ("June 1 - June 30" 30); a year without Feb 29."""
    month1 = _MONTHS[(m["m1"] or m["n1"]).lower()]
    day1 = int(m["d1"] or m["e1"])
    month2 = _MONTHS[(m["m2"] or m["n2"] or m["m1"] or m["n1"]).lower()]
    day2 = int(m["d2"] or m["e2"] or m["d3"])
    if not (1 <= day1 <= _DAYS_IN_MONTH[month1 - 1] and 1 <= day2 <= _DAYS_IN_MONTH[month2 - 1]):
        return None
    start = sum(_DAYS_IN_MONTH[: month1 - 1]) + day1
    end = sum(_DAYS_IN_MONTH[: month2 - 1]) + day2
    if end < start:
        end += 365
    return end - start + 1


_UNIT_WORDS = ("days", "weeks", "months", "quarters", "years", "day", "week", "month", "quarter", "year")


def _squeeze(word: str) -> str:
    return re.sub(r"(.)\1+", r"\1", word)


def _unit_typo(word: str) -> str | None:
    """The time unit a misspelt word means ("weks", "monhts", "dyas", "qaurter"), or None. Only the slips of typing:
    a doubled or dropped letter, two letters swapped; "ways" is not "days"."""
    low = word.lower()
    if low in _UNIT_WORDS or len(low) < 3:
        return None
    for unit in _UNIT_WORDS:
        if _squeeze(low) == _squeeze(unit):
            return unit
        if (
            len(unit) >= 5
            and len(low) == len(unit) - 1
            and any(unit[:i] + unit[i + 1 :] == low for i in range(1, len(unit)))
        ):
            return unit
        if len(low) == len(unit) and low[0] == unit[0]:
            diff = [i for i in range(len(low)) if low[i] != unit[i]]
            if (
                len(diff) == 2
                and diff[1] == diff[0] + 1
                and low[diff[0]] == unit[diff[1]]
                and low[diff[1]] == unit[diff[0]]
            ):
                return unit
    return None


def _fix_unit_typos(text: str) -> str:
    """Misspelt units after a number or "a"/"the"/"next" ... written right, so the period rules read them."""
    return re.sub(
        r"(?<=\d)(\s?-?\s?)([a-z]{3,9})\b|\b(an?|the|one|next|this|coming|per|each|every)(\s+)([a-z]{3,9})\b",
        lambda m: (m[1] + (_unit_typo(m[2]) or m[2])) if m[2] else (m[3] + m[4] + (_unit_typo(m[5]) or m[5])),
        text,
        flags=re.IGNORECASE,
    )


def _read_period(text: str, rate_spans: list[tuple[int, int]]) -> tuple[int | None, bool]:
    """(days, ambiguous): every period the text names; two different ones are ambiguous."""
    found: list[tuple[int, int]] = []  # (position, days)

    def free(start: int, end: int) -> bool:
        return not any(s < end and start < e for s, e in rate_spans)

    for m in _COUNT_PERIOD.finditer(text):
        unit = m["unit"].lower()
        if unit in ("d", "w") and not re.fullmatch(r"\d+\s?-?\s?[dw]", m[0].strip(), re.IGNORECASE):
            continue
        before = text[: m.start()].rstrip().lower()
        if re.search(r"(?:last|past|previous|prior|lookback|history\s+of|trailing)\s*$", before):
            continue  # "the last 90 days of data" is history, not the plan's period
        if re.search(r"(?:attribution|window|lookback)", text[max(0, m.start() - 25) : m.start()].lower()):
            continue
        if not free(m.start(), m.end()):
            continue
        days = float(m["n"]) * _PERIOD_UNITS[unit]
        found.append((m.start(), round(days)))
    for m in _ONE_PERIOD.finditer(text):
        if not free(m.start(), m.end()):
            continue
        if m["long"]:
            found.append((m.start(), _PERIOD_UNITS[m["long"].lower()]))
            continue
        lead = m[0].lower().split()[0]
        if lead in ("per", "each", "every"):
            continue
        before = text[: m.start()].rstrip().lower()
        if re.search(r"(?:last|past|previous|prior)\s*$", before) or re.match(r"(?:last|past|previous)", m[0].lower()):
            continue
        unit = m["unit"].lower()
        if unit == "quarter" and re.match(r"\s*(?:of\s+an?\s+)?(?:million|thousand|billion|mil|mm|k)\b",
                                          text[m.end() :], re.IGNORECASE):  # fmt: skip
            continue
        if unit == "quarter" and "half" in before[-8:]:
            continue
        days = YEAR if unit == "fy" else _PERIOD_UNITS[unit]
        if unit == "day" and lead in ("the", "this"):
            continue  # "the day" is rarely a period
        found.append((m.start(), days))
    for m in _NAMED_QUARTER.finditer(text):
        found.append((m.start(), NAMED_QUARTER))
    for m in _YEAR_WORDS.finditer(text):
        found.append((m.start(), YEAR))
    for m in _LABELLED_PERIOD.finditer(text):
        found.append((m.start(), int(m["n"]) * _PERIOD_UNITS[(m["unit"] or "days").lower()]))
    for m in _NAMED_MONTH.finditer(text):
        name = m["month"]
        if name.lower() == "may" and not name[0].isupper():
            continue  # "may" the verb
        if len(name) <= 4 and name.lower() in ("mar", "jan", "jun", "jul", "aug", "oct", "nov", "dec", "sep", "sept",
                                               "feb", "apr") and not name[0].isupper():  # fmt: skip
            continue
        found.append((m.start(), _DAYS_IN_MONTH[_MONTHS[name.lower()] - 1]))
    for m in _DATE_RANGE.finditer(text):
        days = _range_days(m)
        if days:
            found.append((m.start(), days))
    # "for the year" is caught by _ONE_PERIOD; "Q3" and "the quarter" in one text are the named quarter.
    values = {d for _, d in found}
    if NAMED_QUARTER in values and QUARTER in values:
        values.discard(QUARTER)
    if NAMED_QUARTER in values and YEAR in values and _QUARTER_OF_YEAR.search(text):
        values.discard(YEAR)  # "Q3 FY26": the quarter of that year
    if not values:
        return None, False
    if len(values) == 1:
        return values.pop(), False
    return None, True


# --- ROAS -----------------------------------------------------------------------------------------------------------

_ROAS_WORD = (
    r"(?:i[\s-]?roas|incr?\.?\s+roas|incremental[\s-]+roas|rosa|raos|incremental[\s-]+return(?:[\s-]+on[\s-]+(?:ad[\s-]+)?spend)?|roas|"
    r"return[\s-]+on[\s-]+(?:ad(?:vertising)?[\s-]*)?spend|returns?|payback|roi)"
)
_ROAS_NUMBER = (
    r"(?P<num>\d+(?:\.\d+)?)\s*(?:(?P<x>x|×|times)(?!\w)|(?P<ratio>(?:\s*:\s*|\s*-?to-?\s*)(?P<den>\d+(?:\.\d+)?))(?!\s*"
    r"(?:days?|weeks?|months?))|(?P<pct>%|\s+percent))?\+?"
)
# Words between "ROAS" and its number: "ROAS needs to stay at or above 3", "a ROAS floor of no less than 2.5".
_ROAS_FILLER = (
    r"(?:target|floor|goal|minimum|min\.?|threshold|constraint|requirement|bar|of|at|least|no|not|less|lower|than|"
    r"below|above|over|greater|higher|must|should|needs?|has|have|to|be|stays?|remains?|kept|keep|keeping|it|is|"
    r"around|north|or|better|hold|holding|a|an|the|needed|required|we|want|with|equal|dip|dips|drop|drops|fall|falls|"
    r"go|goes|sink|slip|under|never|doesn't|don't|shouldn't|can't|cannot|won't|let|on|ad|ads|spend|investment|"
    r"attributed|incremental|comfortably|safely|always|still|consistently|hit|reach|achieve|get|maintain|deliver|"
    r"see|sit|sits|stay|set|being|are|need|level|bar|line|\(|\)|>=|≥|=>|>|=|:|@|-|–)"
)
_ROAS_PATTERNS = [
    # "ROAS >= 3", "iROAS of at least 2.5", "ROAS floor of 3x", "return on ad spend no lower than 4", "ROAS 3"
    re.compile(rf"{_ROAS_WORD}\s*(?:{_ROAS_FILLER}\s*){{0,6}}(?:\$\s*)?{_ROAS_NUMBER}", re.IGNORECASE),
    # "3:1 ROAS", "a 3x return", "3x ROAS", "300% ROAS", "at least 3x iROAS", "3.5 iROAS minimum", "3 to 1 return"
    re.compile(
        rf"(?<![\w.$£€]){_ROAS_NUMBER}\s*(?:or\s+(?:better|more|higher|above)\s+)?(?:minimum\s+|min\s+|floor\s+)?"
        rf"(?:on\s+)?(?P<word>{_ROAS_WORD})",
        re.IGNORECASE,
    ),
    # "$3 back for every $1", "4 dollars in sales per dollar spent"
    re.compile(
        r"(?:\$|£|€)?\s*(?P<num>\d+(?:\.\d+)?)\s*(?:dollars?|pounds?|euros?|bucks)?\s*(?:back\s+|in\s+(?:sales|revenue)"
        r"\s+|of\s+(?:sales|revenue)\s+|(?:sales|revenue)\s+)?(?:for|per|on)\s+(?:every|each|a|one)?\s*(?:(?:\$|£|€)\s*1"
        r"(?!\d)|(?:1\s+)?(?:dollar|pound|euro|buck))\s*(?:spent|of\s+spend|invested|in\s+ads?)?",
        re.IGNORECASE,
    ),
    # "every dollar should bring back 4", "each $1 of spend returning $3"
    re.compile(
        r"\b(?:every|each|per)\s+(?:ad\s+)?(?:dollar|\$\s*1(?!\d)|pound|£\s*1(?!\d)|euro|€\s*1(?!\d))\s+(?:\w+\s+){0,4}?"
        r"(?:return(?:s|ing)?|bring(?:s|ing)?(?:\s+back|\s+in)?|generat(?:e|es|ing)|mak(?:e|es|ing)|driv(?:e|es|ing)|"
        r"yield(?:s|ing)?|back)\s+(?:at\s+least\s+|a\s+minimum\s+of\s+|no\s+less\s+than\s+)?(?:\$|£|€)?\s*"
        r"(?P<num>\d+(?:\.\d+)?)",
        re.IGNORECASE,
    ),
    # "for every dollar we spend we want 4 back"
    re.compile(
        r"\b(?:every|each|per)\s+(?:ad\s+)?(?:dollar|\$\s*1(?!\d)|pound|euro)\b[^.;]{0,40}?(?:\$|£|€)?(?P<num>\d+(?:\.\d+)?)"
        r"\s*(?:dollars?\s+|pounds?\s+|euros?\s+)?(?:back|in\s+(?:sales|revenue)|of\s+(?:sales|revenue)|in\s+return)\b",
        re.IGNORECASE,
    ),
    # "at 4:1", "3-to-1": a ratio to one is a return on the spend
    re.compile(r"(?<![\w.:$£€])(?P<num>\d+(?:\.\d+)?)(?P<ratio>\s*(?::|-?to-?)\s*(?P<den>1))(?![\d:.])", re.IGNORECASE),
    # "return at least 4 times the spend"
    re.compile(
        r"(?<![\w.$£€])(?P<num>\d+(?:\.\d+)?)\s*(?P<x>x|×|times)\s+(?:the\s+|our\s+|what\s+we\s+)?(?:ad\s+|media\s+)?"
        r"(?:spend|spent|investment|cost|outlay)",
        re.IGNORECASE,
    ),
    # "ACoS under 20%": advertising cost of sales is the inverse of ROAS (a floor of 5)
    re.compile(
        r"\bacos\s*(?:target|goal|limit|cap|ceiling)?\s*(?:of|at|is|:|=)?\s*(?:under|below|at\s+most|no\s+more\s+than|"
        r"not\s+above|max(?:imum)?|<=|≤|<|of|at|around)?\s*(?P<acos>\d+(?:\.\d+)?)\s*(?:%|percent)",
        re.IGNORECASE,
    ),
    # "at least 3x", "3x or better", "hold 4x": a multiple on its own is a return on the spend.
    re.compile(
        r"(?<![\w.$£€])(?P<num>\d+(?:\.\d+)?)\s*(?P<x>x|×)(?!\w)(?!\s*(?:the|more|as|bigger|larger))", re.IGNORECASE
    ),
]
_NO_FLOOR = re.compile(
    r"\b(?:no|without(?:\s+an?)?|don't\s+need\s+an?|do\s+not\s+need\s+an?|not\s+worried\s+about|no\s+need\s+for\s+an?|"
    r"forget\s+(?:the\s+)?|ignore\s+(?:the\s+)?|drop\s+the|skip\s+the|any)\s+(?:specific\s+|particular\s+|hard\s+)?"
    r"(?:i?roas|return|roi)\s*(?:target|floor|goal|minimum|constraint|requirement|limit|threshold|bar)?s?\b"
    r"(?!\s*(?:of|>=|≥|>|at)\s*\d)|\b(?:i?roas|return)\s+(?:doesn't|does\s+not|don't)\s+matter|\bno\s+floor\b",
    re.IGNORECASE,
)
_INCREMENTAL_BASIS = re.compile(
    r"\b(?:i[\s-]?roas|incr?\.?\s+roas|incremental\s+(?:(?:\d+(?:\.\d+)?\s*(?:x|×|:\s*1|%)?|of|at|least|minimum|min|"
    r"floor|a|an)\s+){1,3}(?:roas|return)|(?:roas|return)[^.;]{0,30}\b(?:lift[\s-]+(?:tests?|studies|study|based|"
    r"measured)|incrementality)\b|incrementally[\s-]+(?:measured|based)|incremental(?:ity)?[\s-]+(?:based\s+)?(?:roas|return|basis)|roas\s*\(?\s*incremental|on\s+an?\s+"
    r"incremental\s+basis|measured\s+incrementally|lift[\s-]based\s+roas|incrementality[\s-]based|(?:roas|return)\s+"
    r"(?:\w+\s+){0,3}?(?:on|of|from|based\s+on|measured\s+on|using|against|in)\s+incremental|basis\s*(?::|=|is|-)\s*"
    r"incremental)|\(\s*(?:on\s+an?\s+)?incremental(?:\s+basis)?\s*\)",
    re.IGNORECASE,
)
_NOT_ATTRIBUTED = re.compile(r"\b(?:not|rather\s+than|instead\s+of|vs\.?|versus)\s+(?:the\s+)?attributed\b", re.I)
_ATTRIBUTED_BASIS = re.compile(
    r"\b(?:attributed\s+(?:roas|return|basis)|roas\s*\(?\s*attributed|platform[\s-]reported\s+roas|"
    r"reported\s+roas|as\s+(?:the\s+)?retailers?\s+reports?|attribution[\s-]based|(?:roas|return)\s+(?:\w+\s+){0,3}?"
    r"(?:on|of|from|based\s+on|measured\s+on|using|against|in)\s+attributed|basis\s*(?::|=|is|-)\s*attributed)|"
    r"\(\s*(?:on\s+an?\s+)?attributed(?:\s+basis)?\s*\)",
    re.IGNORECASE,
)


def _roas_value(m: re.Match) -> float | None:
    if m.groupdict().get("acos"):
        acos = float(m["acos"])
        return 100 / acos if acos else None
    value = float(m["num"])
    if m.groupdict().get("den"):
        den = float(m["den"])
        return value / den if den else None
    if m.groupdict().get("pct"):
        return value / 100
    return value


def _read_roas(
    text: str, amount_spans: list[tuple[int, int]]
) -> tuple[float | None, bool, bool, list[tuple[int, int]]]:
    """(floor, ambiguous, no floor said, spans read)."""
    values: list[float] = []
    spans: list[tuple[int, int]] = []
    for n, pattern in enumerate(_ROAS_PATTERNS):
        for m in pattern.finditer(text):
            num_start = m.start("num") if m.groupdict().get("num") else m.start()
            if n < 2 and any(s <= num_start < e for s, e in amount_spans):
                continue  # "$3M" right after "return": money, not a ratio
            if any(s < m.end() and m.start() < e for s, e in spans):
                continue
            if (
                n == 1
                and m["word"].lower() in ("return", "returns", "payback")
                and not (m["x"] or m["ratio"] or m["pct"])
            ):
                continue  # "3 return" is no ratio; "3x return" is
            plain = n == 1 and not (m["x"] or m["ratio"] or m["pct"])
            if plain and not re.fullmatch(r"\d+(?:\.\d+)?\s*", text[num_start : m.start("word")]):
                continue  # "3.5 ROAS" is a floor only with the number right before the word
            if n == 0:
                after = text[m.end() :].lstrip().lower()
                if re.match(r"(?:days?|weeks?|wks?|months?|quarters?|years?|k\b|m\b|mm\b|million|thousand|dollars|usd)",
                            after) and not m["x"]:  # fmt: skip
                    continue
                if m["num"] and re.match(r"(?:19|20)\d\d$", m["num"]):
                    continue
            value = _roas_value(m)
            if value is None or not 0 < value <= (20 if n == len(_ROAS_PATTERNS) - 1 else 100):
                continue
            values.append(round(value, 4))
            spans.append(m.span())
    no_floor = bool(_NO_FLOOR.search(text))
    distinct = sorted(set(values))
    if not distinct:
        return None, False, no_floor, spans
    if len(distinct) == 1 and not no_floor:
        return distinct[0], False, no_floor, spans
    return None, True, no_floor, spans


# --- objective ------------------------------------------------------------------------------------------------------

_OBJECTIVE_VERB = (
    r"(?:maximi[sz]e|maximi[sz]ing|max(?:\s+out)?|grow|growing|drive|driving|boost|boosting|increase|increasing|"
    r"optimi[sz]e\s+(?:for|towards?)|optimi[sz]ing\s+for|focus(?:ed)?\s+on|goal(?:\s+is)?|objective(?:\s+is)?|aim|"
    r"aiming|most|best|highest|more|lift|push|prioriti[sz]e|want|get|generate|deliver|improve|biggest|top\s+up)"
)


def _read_objective(text: str, mask: list[tuple[int, int]]) -> tuple[str | None, bool]:
    """The objective the text names; (None, True) when it names two and no verb says which is the goal."""
    low = text.lower()
    hits: list[tuple[int, str]] = []
    for objective, words in OBJECTIVE_WORDS.items():
        for m in re.finditer(rf"\b(?:{words})\b", low):
            if any(s <= m.start() < e for s, e in mask):
                continue
            context = low[max(0, m.start() - 30) : m.start()]
            if objective == "incremental_revenue" and re.search(
                r"(?:attributed|in|of|per)\s+$|return\s+on\s+\w*\s*$|(?:roas|return)\s+(?:on|of)\s+$", context
            ):
                continue  # "attributed sales", "$4 in sales": the ROAS clause, not the goal
            if (
                objective == "net_incremental_profit"
                and re.match(r"net\s+(?:of|new|\w*margin)", low[m.start() :])
                and not re.match(r"net\s+margin", low[m.start() :])
            ):
                continue  # "net of fees", "net new customers": not the net profit
            hits.append((m.start(), objective))
    kinds = {o for _, o in hits}
    if {"net_incremental_profit", "incremental_margin"} <= kinds and re.search(r"\b(?:net|profit)\s+margin", low):
        kinds.discard("incremental_margin")  # "net margin", "profit margin": the net figure is the goal
    if len(kinds) <= 1:
        return (kinds.pop() if kinds else None), False
    verbed = {
        o for pos, o in hits if re.search(rf"{_OBJECTIVE_VERB}\W+(?:\w+\W+){{0,3}}$", low[max(0, pos - 45) : pos])
    }
    if len(verbed) == 1:
        return verbed.pop(), False
    return None, True


# --- the reader -----------------------------------------------------------------------------------------------------


def read_objective(
    text: str, retailers: Iterable[tuple[str, str]] = (), *, planned: Iterable[str] | None = None
) -> Reading:
    """Read ``text`` (a plan in the marketer's words). ``retailers``: (code, name) pairs the text may name;
    ``planned``: the codes of those the plan can spend on (default: all of them), which a plan kept to some
    retailers ("only on Amazon") excludes but for the ones kept."""
    text = " ".join(str(text).split())
    digits = _fix_unit_typos(words_to_digits(text))
    reading = Reading()
    amounts = _amounts(digits)
    names = retailer_names(retailers)
    spans = _retailer_spans(digits, names)
    roas, roas_ambiguous, no_floor, roas_spans = _read_roas(digits, [(a.start, a.end) for a in amounts])
    # A "ROAS of $4 per $1" is a ratio, not money.
    amounts = [a for a in amounts if not any(s <= a.start < e for s, e in roas_spans)]
    tokens = _tokens(digits, amounts, spans)
    caps, cap_amounts = _read_caps(tokens)
    excluded_spans = _read_exclusions(tokens)

    rate_spans: list[tuple[int, int]] = []
    budget_candidates: list[tuple[Amount, int | None]] = []  # (amount, days per rate unit)
    for i, amount in enumerate(amounts):
        if i in cap_amounts:
            continue
        rate = _RATE.match(digits[amount.end :])
        before = _RATE_BEFORE.search(digits[max(0, amount.start - 40) : amount.start])
        if rate:
            unit = (rate["unit"] or rate["ly"]).lower()
            rate_spans.append((amount.end, amount.end + rate.end()))
            budget_candidates.append((amount, _RATE_DAYS[unit]))
        elif before:
            budget_candidates.append((amount, _RATE_DAYS[(before["unit"] or before["ly"]).lower()]))
        else:
            budget_candidates.append((amount, None))
    reading.period_days, period_ambiguous = _read_period(digits, rate_spans)
    if period_ambiguous:
        reading.ambiguous.append("period_days")
    rates = {days for _a, days in budget_candidates if days}
    if reading.period_days is None and not period_ambiguous and len(rates) == 1 and len(budget_candidates) == 1:
        # "$500k a month" and no other period: that month is the period.
        reading.period_days = rates.pop()

    # The budget: the amounts that are no retailer's cap. One, or one total and its parts, or a rate over the period.
    totals = []
    for amount, per_days in budget_candidates:
        if per_days is None:
            totals.append(amount)
        elif reading.period_days:
            totals.append(Amount(amount.start, amount.end, round(amount.value * reading.period_days / per_days, 2),
                                 amount.currency))  # fmt: skip
        else:
            reading.ambiguous.append("budget")
    values = sorted({a.value for a in totals})
    if len(values) == 1:
        chosen = totals[0]
    elif values:
        chosen = _pick_total(digits, totals)
        if chosen is None:
            reading.ambiguous.append("budget")
    else:
        chosen = None
    if chosen is not None and "budget" not in reading.ambiguous:
        reading.budget = chosen.value
        reading.budget_text = digits[chosen.start : chosen.end].strip()
    currencies = {a.currency for a in amounts if a.currency}
    if chosen is not None and chosen.currency:
        currencies.add(chosen.currency)
    if len(currencies) == 1:
        reading.currency = currencies.pop()
    elif len(currencies) > 1:
        reading.ambiguous.append("currency")

    reading.min_roas, reading.no_floor = roas, no_floor
    if roas_ambiguous:
        reading.ambiguous.append("min_roas")
    if _INCREMENTAL_BASIS.search(digits):
        reading.roas_basis = "incremental"
        if _ATTRIBUTED_BASIS.search(_NOT_ATTRIBUTED.sub(" ", digits)):
            reading.roas_basis = None
            reading.ambiguous.append("roas_basis")
    elif _ATTRIBUTED_BASIS.search(digits):
        reading.roas_basis = "attributed"
    mask = [*roas_spans]
    reading.objective, objective_ambiguous = _read_objective(digits, mask)
    if objective_ambiguous:
        reading.ambiguous.append("objective")

    codes = [code for _s, _e, code in spans]
    for r_indices, a, _how in caps:
        for j in r_indices:
            code = codes[j]
            value = amounts[a].value
            if value == 0:
                excluded_spans.add(j)
                continue
            if code in reading.retailer_caps and reading.retailer_caps[code] != value:
                reading.ambiguous.append("retailers")
            reading.retailer_caps[code] = value
    for r_indices, share in _read_percent_caps(tokens):
        for j in r_indices:
            if reading.budget is None:
                reading.ambiguous.append("retailers")
            else:
                reading.retailer_caps[codes[j]] = round(reading.budget * share, 2)
    for j in sorted(excluded_spans):
        code = codes[j]
        if code in reading.retailer_caps:
            reading.ambiguous.append("retailers")
        elif code not in reading.exclude_retailers:
            reading.exclude_retailers.append(code)
    kept = {codes[j] for j in _read_only(tokens)}
    if kept & set(reading.exclude_retailers):  # "only Amazon and Walmart ... skip Walmart"
        reading.ambiguous.append("retailers")
    elif kept:  # every other retailer the tenant has gets nothing, unless the text gives it a cap
        for code in dict.fromkeys(names.values() if planned is None else planned):
            if code not in kept and code not in reading.retailer_caps and code not in reading.exclude_retailers:
                reading.exclude_retailers.append(code)
    reading.ambiguous = list(dict.fromkeys(reading.ambiguous))
    return reading


_TOTAL_WORDS = re.compile(
    r"(?:budget|total|spend|allocate|invest|have|got|deploy|split|put|plan|place|divide|distribute|spread|use|"
    r"working\s+with|overall|pot|envelope)\b[^.;]{0,25}$",
    re.IGNORECASE,
)


def _pick_total(text: str, totals: list[Amount]) -> Amount | None:
    """Of several amounts none of which is a retailer's cap, the one the text calls the budget: the only one after a
    budget word ("budget", "spend", "total" ...) or the only one followed by "total"/"budget"; else None (ask)."""
    named = [a for a in totals if _TOTAL_WORDS.search(text[max(0, a.start - 40) : a.start])]
    named += [a for a in totals if re.match(r"\s*(?:total|budget|overall|in\s+total)\b", text[a.end :], re.IGNORECASE)]
    values = {a.value for a in named}
    if len(values) == 1:
        return named[0]
    return None
