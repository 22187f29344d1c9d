#!/usr/bin/env python3
"""Generate an independent, labeled PII evaluation set for retail-media text.

Standard library only, fixed seed: running it twice gives byte-identical output.

    python bench/independent/pii/generate.py            # writes pii_set.jsonl next to this file
    python bench/independent/pii/generate.py --check    # re-reads the file and verifies every label

Each line: {"id", "text", "lang", "kind", "entities": [{"type", "start", "end", "value"}]}
with text[start:end] == value. See README.md for the label rules.
"""

# ruff: noqa: E501  (natural-language templates and data tables are kept one per line)
from __future__ import annotations

import argparse
import json
import random
import re
import sys
from collections import Counter
from pathlib import Path

SEED = 20261207
TOTAL = 1000
NEG_SHARE = 0.45
HERE = Path(__file__).resolve().parent
OUT = HERE / "pii_set.jsonl"

TYPES = (
    "EMAIL_ADDRESS",
    "PHONE_NUMBER",
    "CREDIT_CARD",
    "IBAN_CODE",
    "US_SSN",
    "IP_ADDRESS",
    "STREET_ADDRESS",
)
LANGS = ("en", "de", "fr", "es", "it", "pt", "nl", "ja", "pl", "sv")
LANG_WEIGHTS = (22, 10, 10, 9, 8, 8, 8, 8, 8, 9)

# ---------------------------------------------------------------------------
# checksums
# ---------------------------------------------------------------------------


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def luhn_complete(prefix_digits: str) -> str:
    for c in "0123456789":
        if luhn_ok(prefix_digits + c):
            return prefix_digits + c
    raise AssertionError("unreachable")


def iban_numeric(s: str) -> int:
    return int("".join(str(int(ch, 36)) for ch in s))


def iban_ok(iban: str) -> bool:
    s = iban.replace(" ", "").upper()
    if not re.fullmatch(r"[A-Z]{2}\d{2}[A-Z0-9]{8,30}", s):
        return False
    return iban_numeric(s[4:] + s[:4]) % 97 == 1


def iban_make(country: str, bban: str) -> str:
    check = 98 - iban_numeric(bban + country + "00") % 97
    return f"{country}{check:02d}{bban}"


def gtin_check(body: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(body)):
        total += int(ch) * (3 if i % 2 == 0 else 1)
    return str((10 - total % 10) % 10)


# ---------------------------------------------------------------------------
# value generators (R is the seeded RNG)
# ---------------------------------------------------------------------------

R = random.Random(SEED)


def digits(n: int, first_nonzero: bool = False) -> str:
    s = "".join(R.choice("0123456789") for _ in range(n))
    if first_nonzero:
        s = R.choice("123456789") + s[1:]
    return s


def digits_not_luhn(n: int) -> str:
    while True:
        s = digits(n, first_nonzero=True)
        if not luhn_ok(s):
            return s


NAMES = {
    "en": (
        ["James", "Emily", "Michael", "Sarah", "David", "Olivia", "Daniel", "Grace", "Ryan", "Megan", "Chris", "Priya"],
        [
            "Carter",
            "Nguyen",
            "Thompson",
            "Patel",
            "O'Brien",
            "Walker",
            "Hughes",
            "Brooks",
            "Reyes",
            "Foster",
            "Kim",
            "Bennett",
        ],
    ),
    "de": (
        ["Jürgen", "Anna", "Lukas", "Katrin", "Stefan", "Lena", "Tobias", "Sabine", "Jonas", "Miriam"],
        ["Müller", "Schröder", "Becker", "Hoffmann", "Weiß", "Krüger", "Schäfer", "Braun", "Vogel", "Lange"],
    ),
    "fr": (
        ["Camille", "Julien", "Léa", "Mathieu", "Élodie", "Nicolas", "Chloé", "Antoine", "Inès", "Hugo"],
        ["Lefèvre", "Martin", "Dubois", "Moreau", "Girard", "Roux", "Fournier", "Lambert", "Bonnet", "Mercier"],
    ),
    "es": (
        ["Lucía", "Javier", "María", "Alejandro", "Carmen", "Pablo", "Sofía", "Diego", "Marta", "Andrés"],
        ["García", "Fernández", "López", "Martínez", "Sánchez", "Romero", "Navarro", "Torres", "Ruiz", "Jiménez"],
    ),
    "it": (
        ["Giulia", "Marco", "Francesca", "Luca", "Chiara", "Alessandro", "Sara", "Matteo", "Elena", "Davide"],
        ["Rossi", "Bianchi", "Ferrari", "Esposito", "Romano", "Colombo", "Ricci", "Marino", "Greco", "Conti"],
    ),
    "pt": (
        ["João", "Ana", "Pedro", "Beatriz", "Tiago", "Inês", "Rui", "Mariana", "Carlos", "Sofia"],
        ["Silva", "Santos", "Ferreira", "Pereira", "Oliveira", "Costa", "Rodrigues", "Martins", "Sousa", "Gonçalves"],
    ),
    "nl": (
        ["Daan", "Sanne", "Bram", "Lotte", "Thijs", "Femke", "Jeroen", "Eva", "Ruben", "Noor"],
        ["de Vries", "Jansen", "Bakker", "Visser", "Smit", "Meijer", "de Boer", "Mulder", "Bos", "Vos"],
    ),
    "ja": (
        ["Yuki", "Haruto", "Aoi", "Ren", "Sakura", "Kenta", "Misaki", "Daiki", "Yui", "Takumi"],
        ["Tanaka", "Suzuki", "Takahashi", "Watanabe", "Ito", "Yamamoto", "Nakamura", "Kobayashi", "Sato", "Kato"],
    ),
    "pl": (
        ["Katarzyna", "Piotr", "Agnieszka", "Tomasz", "Magdalena", "Paweł", "Joanna", "Michał", "Ewa", "Łukasz"],
        [
            "Kowalski",
            "Nowak",
            "Wiśniewska",
            "Wójcik",
            "Kamińska",
            "Lewandowski",
            "Zielińska",
            "Szymański",
            "Dąbrowska",
            "Kozłowski",
        ],
    ),
    "sv": (
        ["Erik", "Anna", "Lars", "Karin", "Johan", "Emma", "Oskar", "Maja", "Nils", "Elin"],
        [
            "Andersson",
            "Johansson",
            "Karlsson",
            "Nilsson",
            "Eriksson",
            "Larsson",
            "Olsson",
            "Persson",
            "Svensson",
            "Lindqvist",
        ],
    ),
}
JA_NAMES_KANJI = ["田中", "鈴木", "高橋", "渡辺", "伊藤", "山本", "中村", "小林", "佐藤", "加藤"]

FREEMAIL = {
    "en": ["gmail.com", "outlook.com", "yahoo.com", "icloud.com", "hotmail.co.uk", "btinternet.com"],
    "de": ["web.de", "gmx.de", "gmail.com", "t-online.de", "posteo.de"],
    "fr": ["orange.fr", "free.fr", "gmail.com", "laposte.net", "sfr.fr"],
    "es": ["gmail.com", "yahoo.es", "hotmail.es", "telefonica.net"],
    "it": ["libero.it", "gmail.com", "virgilio.it", "tiscali.it"],
    "pt": ["sapo.pt", "gmail.com", "hotmail.com", "clix.pt"],
    "nl": ["ziggo.nl", "kpnmail.nl", "gmail.com", "hotmail.nl"],
    "ja": ["docomo.ne.jp", "ezweb.ne.jp", "yahoo.co.jp", "gmail.com", "i.softbank.jp"],
    "pl": ["wp.pl", "onet.pl", "o2.pl", "gmail.com", "interia.pl"],
    "sv": ["telia.com", "gmail.com", "hotmail.se", "bredband.net"],
}
CORP_DOMAINS = [
    "brightfoods.com",
    "eu.brightfoods.com",
    "nordicgrocer.se",
    "mail.nordicgrocer.se",
    "acme-snacks.co.uk",
    "retailmedia.example.com",
    "agency-blau.de",
    "kaffeehaus-gruppe.de",
    "maison-biscuit.fr",
    "fresco-mercado.es",
    "pasta-buona.it",
    "mercearia-lusa.pt",
    "groenteboer.nl",
    "sakura-foods.co.jp",
    "polmarket.pl",
    "ads.megamart.com",
    "partners.shopline.io",
    "marketing.granolaco.com",
]
IDN_DOMAINS = ["müller-feinkost.de", "bäckerei-schön.de", "café-lumière.fr", "señor-snacks.es"]
ROLES = ["support", "billing", "orders", "marketing-team", "rmn-ops", "ads", "kundenservice", "service.client", "info"]

TRANSLIT = str.maketrans(
    {
        "ä": "ae",
        "ö": "oe",
        "ü": "ue",
        "ß": "ss",
        "é": "e",
        "è": "e",
        "ê": "e",
        "ë": "e",
        "É": "E",
        "à": "a",
        "á": "a",
        "í": "i",
        "ó": "o",
        "ú": "u",
        "ñ": "n",
        "ç": "c",
        "ã": "a",
        "õ": "o",
        "ł": "l",
        "Ł": "L",
        "ś": "s",
        "ń": "n",
        "ą": "a",
        "ę": "e",
        "ż": "z",
        "ź": "z",
        "ć": "c",
        "ø": "o",
        "å": "a",
        "'": "",
        " ": "",
    }
)


def ascii_name(s: str) -> str:
    return s.translate(TRANSLIT).lower()


def person(lang: str) -> tuple[str, str]:
    firsts, lasts = NAMES[lang]
    return R.choice(firsts), R.choice(lasts)


# the person a string is about: {FIRST}/{LAST}/{NAME} and most {EMAIL}s of one string refer to the same person
CTX: dict[str, tuple[str, str]] = {}


def ctx_person(lang: str) -> tuple[str, str]:
    if "person" not in CTX:
        CTX["person"] = person(lang)
    return CTX["person"]


def email(lang: str, same_person: bool = True) -> str:
    first, last = ctx_person(lang) if same_person and R.random() < 0.85 else person(lang)
    f, la = ascii_name(first), ascii_name(last)
    style = R.random()
    if style < 0.30:
        local = f"{f}.{la}"
    elif style < 0.42:
        local = f"{f[0]}.{la}"
    elif style < 0.52:
        local = f"{f}{la}{R.randint(1, 99)}"
    elif style < 0.60:
        local = f"{f}_{la}"
    elif style < 0.72:
        local = f"{f}.{la}+{R.choice(['rmn', 'ads', 'q3', 'newsletter', 'amazon', 'test'])}"
    elif style < 0.84:
        local = R.choice(ROLES)
    else:
        local = f"{la}{f[0]}"
    r = R.random()
    if local in ROLES:  # role mailboxes live on company domains
        r = 1.0
    if r < 0.03 and lang in ("de", "fr", "es", "en"):
        domain = R.choice(IDN_DOMAINS)
    elif r < 0.50:
        domain = R.choice(FREEMAIL[lang])
    else:
        domain = R.choice(CORP_DOMAINS)
    addr = f"{local}@{domain}"
    if R.random() < 0.07:
        addr = addr.upper()
    return addr


# ---- phones -----------------------------------------------------------------

US_AREAS = [
    "212",
    "213",
    "206",
    "303",
    "305",
    "312",
    "404",
    "415",
    "503",
    "512",
    "617",
    "646",
    "702",
    "718",
    "773",
    "858",
    "919",
    "972",
]


def _us_parts() -> tuple[str, str, str]:
    area = R.choice(US_AREAS)
    while True:
        exch = R.choice("23456789") + digits(2)
        if exch[1:] != "11" and exch != "555":
            break
    return area, exch, digits(4)


def phone_us(style: int | None = None) -> str:
    a, e, n = _us_parts()
    style = R.randrange(8) if style is None else style
    return [
        f"({a}) {e}-{n}",
        f"{a}-{e}-{n}",
        f"{a}.{e}.{n}",
        f"+1 {a} {e} {n}",
        f"+1-{a}-{e}-{n}",
        f"+1 ({a}) {e}-{n}",
        f"1-{R.choice(['800', '888', '877'])}-{e}-{n}",
        f"{a} {e} {n}",
    ][style]


def phone_uk(intl: bool | None = None) -> str:
    intl = R.random() < 0.5 if intl is None else intl
    kind = R.randrange(3)
    if kind == 0:  # London 020
        sub = R.choice("378") + digits(3)
        rest = digits(4)
        return R.choice([f"+44 20 {sub} {rest}", f"+44 (0)20 {sub} {rest}"]) if intl else f"020 {sub} {rest}"
    if kind == 1:  # Manchester 0161
        a, b = R.choice("2345789") + digits(2), digits(4)
        return f"+44 161 {a} {b}" if intl else f"0161 {a} {b}"
    m = "7" + R.choice("4579") + digits(2)
    rest = digits(6)
    return f"+44 {m} {rest}" if intl else f"0{m} {rest}"


def phone_de(intl: bool | None = None) -> str:
    intl = R.random() < 0.45 if intl is None else intl
    kind = R.randrange(4)
    if kind == 0:
        sub = digits(8, True)
        return (
            R.choice([f"+49 30 {sub}", f"+49 (0)30 {sub}"])
            if intl
            else R.choice([f"030 {sub}", f"030/{sub}", f"030-{sub}"])
        )
    if kind == 1:
        sub = digits(7, True)
        return f"+49 89 {sub}" if intl else R.choice([f"089 {sub}", f"089/{sub}"])
    if kind == 2:
        sub = digits(7, True)
        return f"+49 40 {sub}" if intl else f"040-{sub}"
    pre = R.choice(["151", "157", "160", "170", "171", "172", "176"])
    sub = digits(8 if pre.startswith("15") else R.choice([7, 8]), True)
    return f"+49 {pre} {sub}" if intl else R.choice([f"0{pre} {sub}", f"0{pre}/{sub}", f"0{pre}-{sub}"])


def _pairs(n: int) -> list[str]:
    return [digits(2) for _ in range(n)]


def phone_fr(intl: bool | None = None) -> str:
    intl = R.random() < 0.4 if intl is None else intl
    first = R.choice("1234567")
    p = _pairs(4)
    if first == "6":
        p[0] = R.choice(["12", "20", "45", "61", "70", "78", "82", "07"])
    elif first == "7":
        p[0] = R.choice("3456789") + digits(1)
    else:  # metropolitan fixed lines (02 62 / 05 9x are overseas departments)
        p[0] = str(R.randint(10, 58))
    if intl:
        return R.choice([f"+33 {first} {' '.join(p)}", f"+33 (0){first} {' '.join(p)}", f"+33{first}{''.join(p)}"])
    sep = R.choice([" ", " ", ".", "-", ""])
    return sep.join([f"0{first}", *p])


def phone_es(intl: bool | None = None) -> str:
    intl = R.random() < 0.45 if intl is None else intl
    if R.random() < 0.5:
        n = R.choice(["6" + digits(2), "7" + R.choice("1234") + digits(1)])
        body = f"{n} {digits(3)} {digits(3)}"
    else:
        n = R.choice(["91", "93", "96", "95"])
        body = R.choice([f"{n} {digits(3)} {digits(2)} {digits(2)}", f"{n}{digits(1)} {digits(3)} {digits(3)}"])
    return f"+34 {body}" if intl else body


def phone_it(intl: bool | None = None) -> str:
    intl = R.random() < 0.45 if intl is None else intl
    if R.random() < 0.5:
        body = f"3{R.choice('234589')}{digits(1)} {digits(3)} {digits(4)}"
    else:
        body = R.choice(
            [
                f"{R.choice(['02', '06'])} {digits(4, True)} {digits(4)}",
                f"{R.choice(['011', '055'])} {digits(3, True)} {digits(4)}",
            ]
        )
    return f"+39 {body}" if intl else body


def phone_pt(intl: bool | None = None) -> str:
    intl = R.random() < 0.45 if intl is None else intl
    if R.random() < 0.5:
        body = f"9{R.choice('1236')}{digits(1)} {digits(3)} {digits(3)}"
    else:
        body = f"{R.choice(['21', '22'])} {digits(3, True)} {digits(4)}"
    return f"+351 {body}" if intl else body


def phone_nl(intl: bool | None = None) -> str:
    intl = R.random() < 0.45 if intl is None else intl
    if R.random() < 0.5:
        sub = R.choice("12345") + digits(7)
        return R.choice([f"+31 6 {sub}", f"+31 (0)6 {sub}"]) if intl else R.choice([f"06-{sub}", f"06 {sub}"])
    area = R.choice(["20", "10", "30", "70"])
    a, b = digits(3, True), digits(4)
    return f"+31 {area} {a} {b}" if intl else f"0{area}-{a} {b}"


def phone_pl(intl: bool | None = None) -> str:
    intl = R.random() < 0.45 if intl is None else intl
    if R.random() < 0.55:
        a = R.choice(["50", "51", "53", "57", "60", "66", "69", "72", "73", "78", "79", "88"]) + digits(1)
        sep = R.choice([" ", "-"])
        body = sep.join([a, digits(3), digits(3)])
    else:
        body = f"{R.choice(['22', '12', '61', '71'])} {digits(3, True)} {digits(2)} {digits(2)}"
    return f"+48 {body}" if intl else body


def phone_se(intl: bool | None = None) -> str:
    intl = R.random() < 0.45 if intl is None else intl
    if R.random() < 0.5:
        m = R.choice(["70", "72", "73", "76"])
        rest = f"{digits(3)} {digits(2)} {digits(2)}"
        return f"+46 {m} {rest}" if intl else f"0{m}-{rest}"
    rest = f"{digits(3, True)} {digits(3)} {digits(2)}"
    return f"+46 8 {rest}" if intl else R.choice([f"08-{rest}", f"08 {rest}"])


def phone_jp(intl: bool | None = None) -> str:
    intl = R.random() < 0.4 if intl is None else intl
    k = R.randrange(4)
    if k == 0:
        body_area, rest = "3", f"{digits(4, True)}-{digits(4)}"
    elif k == 1:
        body_area, rest = "6", f"{digits(4, True)}-{digits(4)}"
    elif k == 2:
        body_area, rest = R.choice(["90", "80", "70"]), f"{digits(4, True)}-{digits(4)}"
    else:
        body_area, rest = "45", f"{digits(3, True)}-{digits(4)}"
    if intl:
        return f"+81 {body_area}-{rest}"
    if R.random() < 0.1:
        return f"0120-{digits(3)}-{digits(3)}"
    return f"0{body_area}-{rest}"


PHONE_BY_LANG = {
    "en": lambda intl=None: phone_us() if R.random() < 0.6 else phone_uk(intl),
    "de": phone_de,
    "fr": phone_fr,
    "es": phone_es,
    "it": phone_it,
    "pt": phone_pt,
    "nl": phone_nl,
    "ja": phone_jp,
    "pl": phone_pl,
    "sv": phone_se,
}
EXT_WORD = {
    "en": ["ext. ", "x", "ext ", "Ext. "],
    "de": ["Durchwahl ", "App. "],
    "fr": ["poste "],
    "es": ["ext. "],
    "it": ["int. "],
    "pt": ["ramal "],
    "nl": ["toestel "],
    "ja": ["内線"],
    "pl": ["wew. "],
    "sv": ["anknytning "],
}


def phone(lang: str) -> str:
    return PHONE_BY_LANG[lang]()


def phone_intl(lang: str) -> str:
    if R.random() < 0.5:
        return (
            PHONE_BY_LANG[lang](intl=True)
            if lang != "en"
            else R.choice([phone_us(R.choice([3, 4, 5])), phone_uk(True)])
        )
    g = R.choice(
        [
            lambda: phone_us(R.choice([3, 4, 5])),
            phone_uk,
            phone_de,
            phone_fr,
            phone_es,
            phone_it,
            phone_pt,
            phone_nl,
            phone_jp,
            phone_pl,
            phone_se,
        ]
    )
    return g(intl=True) if g.__name__ != "<lambda>" else g()


# ---- cards ------------------------------------------------------------------


def card() -> str:
    brand = R.choices(["visa", "mc", "mc2", "amex", "discover", "visa13"], weights=[34, 22, 8, 18, 15, 3])[0]
    if brand == "visa":
        num = luhn_complete("4" + digits(14))
    elif brand == "visa13":
        num = luhn_complete("4" + digits(11))
    elif brand == "mc":
        num = luhn_complete("5" + R.choice("12345") + digits(13))
    elif brand == "mc2":
        num = luhn_complete(str(R.randint(2221, 2720)) + digits(11))
    elif brand == "amex":
        num = luhn_complete("3" + R.choice("47") + digits(12))
    else:
        num = luhn_complete(R.choice(["6011", "65" + digits(2), "64" + R.choice("456789") + digits(1)]) + digits(11))
    assert luhn_ok(num)
    sep = R.choices([" ", "-", ""], weights=[50, 20, 30])[0]
    if len(num) == 15:
        groups = [num[:4], num[4:10], num[10:]]
    elif len(num) == 13:
        return num
    else:
        groups = [num[i : i + 4] for i in range(0, 16, 4)]
    return sep.join(groups)


def bad_card16() -> str:
    num = R.choice("3456") + digits(15)
    while luhn_ok(num):
        num = num[:-1] + str((int(num[-1]) + 1) % 10)
    sep = R.choice([" ", "-", ""])
    return sep.join(num[i : i + 4] for i in range(0, 16, 4))


# ---- IBAN -------------------------------------------------------------------


def _alpha(n: int) -> str:
    return "".join(R.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ") for _ in range(n))


def _be_bban() -> str:
    first10 = digits(10)
    chk = int(first10) % 97 or 97
    return f"{first10}{chk:02d}"


BBAN = {
    "DE": lambda: digits(8, True) + digits(10),
    "FR": lambda: digits(10) + digits(11) + digits(2),
    "GB": lambda: R.choice(["NWBK", "BARC", "LOYD", "HBUK", "MIDL"]) + digits(6) + digits(8),
    "IE": lambda: R.choice(["AIBK", "BOFI"]) + digits(6) + digits(8),
    "ES": lambda: digits(20),
    "IT": lambda: _alpha(1) + digits(10) + digits(12),
    "PT": lambda: digits(21),
    "NL": lambda: R.choice(["ABNA", "INGB", "RABO", "SNSB", "TRIO"]) + digits(10),
    "BE": _be_bban,
    "PL": lambda: digits(24),
    "SE": lambda: digits(20),
    "AT": lambda: digits(16),
    "CH": lambda: digits(17),
}
IBAN_BY_LANG = {
    "en": ["GB", "GB", "IE", "DE"],
    "de": ["DE", "DE", "AT", "CH"],
    "fr": ["FR", "FR", "BE"],
    "es": ["ES"],
    "it": ["IT"],
    "pt": ["PT"],
    "nl": ["NL", "NL", "BE"],
    "ja": ["DE", "GB", "FR"],
    "pl": ["PL"],
    "sv": ["SE"],
}


def iban(lang: str, compact: bool | None = None) -> str:
    country = R.choice(IBAN_BY_LANG[lang]) if R.random() < 0.85 else R.choice(list(BBAN))
    s = iban_make(country, BBAN[country]())
    assert iban_ok(s)
    compact = R.random() < 0.35 if compact is None else compact
    return s if compact else " ".join(s[i : i + 4] for i in range(0, len(s), 4))


# ---- SSN / IP ---------------------------------------------------------------


def ssn() -> str:
    while True:
        area = R.randint(1, 899)
        if area != 666:
            break
    return f"{area:03d}-{R.randint(1, 99):02d}-{R.randint(1, 9999):04d}"


def ipv4() -> str:
    k = R.random()
    if k < 0.25:
        return f"10.{R.randint(0, 255)}.{R.randint(0, 255)}.{R.randint(1, 254)}"
    if k < 0.40:
        return f"192.168.{R.randint(0, 255)}.{R.randint(1, 254)}"
    while True:
        a = R.randint(1, 223)
        if a not in (10, 127, 192):
            break
    return f"{a}.{R.randint(0, 255)}.{R.randint(0, 255)}.{R.randint(1, 254)}"


def ipv6() -> str:
    groups = [R.choice(["2001", "2a02", "2600", "2a00", "2c0f", "fe80"])] + [
        f"{R.randint(0, 0xFFFF):x}" for _ in range(7)
    ]
    k = R.randrange(3)
    if k == 0:  # full, zero padded
        return ":".join(g.zfill(4) for g in groups)
    if k == 1:  # compressed middle
        return ":".join(groups[:3]) + "::" + ":".join(groups[6:])
    if groups[0] == "fe80":
        return "fe80::" + ":".join(groups[4:])
    return ":".join(groups[:4]) + "::" + groups[7]


# ---- street addresses: (street line, locality tail) -------------------------

US_STREETS = [
    "Oak",
    "Maple",
    "Cedar",
    "Pine",
    "Elm",
    "Washington",
    "Lake",
    "Hill",
    "Park",
    "Sunset",
    "Lincoln",
    "Market",
    "Mission",
    "Madison",
    "Jefferson",
    "Riverside",
]
US_TYPES = ["Street", "St", "Avenue", "Ave", "Boulevard", "Blvd", "Road", "Rd", "Drive", "Dr", "Lane", "Way", "Court"]
US_CITIES = [
    "Portland, OR 972",
    "Austin, TX 787",
    "Seattle, WA 981",
    "Denver, CO 802",
    "Chicago, IL 606",
    "San Francisco, CA 941",
    "Columbus, OH 432",
    "Atlanta, GA 303",
]
UK_STREETS = ["High", "Station", "Church", "Victoria", "Mill", "Queen's", "Kingsley", "Albert", "Park", "Cavendish"]
UK_TYPES = ["Street", "Road", "Lane", "Avenue", "Close", "Gardens", "Crescent", "Place"]
UK_TOWNS = [("London", "SW1A 2"), ("Manchester", "M1 4"), ("Leeds", "LS1 5"), ("Bristol", "BS1 6"), ("London", "E2 7")]
DE_STREETS = [
    "Haupt",
    "Bahnhof",
    "Garten",
    "Schiller",
    "Goethe",
    "Linden",
    "Berg",
    "Kirch",
    "Wald",
    "Friedrich",
    "Mozart",
    "Rosen",
]
DE_CITIES = [
    ("10115", "Berlin"),
    ("80331", "München"),
    ("20095", "Hamburg"),
    ("50667", "Köln"),
    ("60311", "Frankfurt am Main"),
    ("70173", "Stuttgart"),
]
FR_STREETS = [
    "rue de la Paix",
    "avenue Victor Hugo",
    "boulevard Haussmann",
    "rue du Faubourg Saint-Antoine",
    "place de la République",
    "rue des Lilas",
    "allée des Tilleuls",
    "avenue Jean Jaurès",
    "rue Nationale",
    "quai de la Tournelle",
]
FR_CITIES = [
    ("75002", "Paris"),
    ("69003", "Lyon"),
    ("13001", "Marseille"),
    ("31000", "Toulouse"),
    ("33000", "Bordeaux"),
]
ES_STREETS = [
    "Calle Mayor",
    "Calle de Alcalá",
    "Avenida de la Constitución",
    "Calle Gran Vía",
    "Paseo de Gracia",
    "Calle Serrano",
    "C/ Sol",
]
ES_CITIES = [("28013", "Madrid"), ("08007", "Barcelona"), ("41001", "Sevilla"), ("46002", "Valencia")]
IT_STREETS = [
    "Via Roma",
    "Via Garibaldi",
    "Corso Buenos Aires",
    "Piazza Garibaldi",
    "Via Dante",
    "Corso Vittorio Emanuele II",
    "Viale Monza",
]
IT_CITIES = [("20121", "Milano"), ("00184", "Roma"), ("10121", "Torino"), ("50123", "Firenze")]
PT_STREETS = [
    "Rua Augusta",
    "Avenida da Liberdade",
    "Rua de Santa Catarina",
    "Rua do Ouro",
    "Avenida da República",
    "Travessa do Carmo",
]
PT_CITIES = [("1100-048", "Lisboa"), ("4000-447", "Porto"), ("3000-150", "Coimbra")]
NL_STREETS = [
    "Keizersgracht",
    "Stationsweg",
    "Kerkstraat",
    "Damrak",
    "Hoofdstraat",
    "Dorpsstraat",
    "Prinsengracht",
    "Molenweg",
]
NL_CITIES = [("1015 CJ", "Amsterdam"), ("3011 AD", "Rotterdam"), ("3511 LX", "Utrecht"), ("2511 BT", "Den Haag")]
PL_STREETS = [
    "ul. Marszałkowska",
    "ul. Długa",
    "ul. Piotrkowska",
    "al. Jerozolimskie",
    "ul. Floriańska",
    "ul. Mickiewicza",
]
PL_CITIES = [("00-624", "Warszawa"), ("80-831", "Gdańsk"), ("90-001", "Łódź"), ("31-019", "Kraków")]
SE_STREETS = ["Drottninggatan", "Storgatan", "Kungsgatan", "Sveavägen", "Götgatan", "Vasagatan", "Linnégatan"]
SE_CITIES = [("111 51", "Stockholm"), ("411 03", "Göteborg"), ("211 22", "Malmö"), ("753 20", "Uppsala")]
JA_WARDS = [
    "東京都渋谷区神南",
    "東京都港区六本木",
    "東京都新宿区西新宿",
    "大阪府大阪市北区梅田",
    "神奈川県横浜市西区みなとみらい",
    "京都府京都市中京区河原町",
]


def _hn() -> str:
    return str(R.randint(1, 240)) + (R.choice(["", "", "", "a", "b"]))


def addr_us() -> tuple[str, str]:
    num = str(R.randint(10, 9899))
    d = R.choice(["", "", "", "N ", "W ", "E ", "S "])
    if R.random() < 0.15:
        street = f"{num} {d}{R.randint(2, 99)}{R.choice(['th', 'th', 'rd', 'nd'])} {R.choice(['St', 'Street', 'Ave'])}"
        street = re.sub(r"\b(\d*1)th\b", r"\1st", street)
        street = re.sub(r"\b1(\d)(st|nd|rd)\b", r"1\1th", street)
    else:
        street = f"{num} {d}{R.choice(US_STREETS)} {R.choice(US_TYPES)}"
    unit = R.choice(
        [
            "",
            "",
            f", Apt {R.randint(1, 40)}{R.choice('ABCD')}",
            f", Suite {R.randint(100, 900)}",
            f", Unit {R.randint(1, 30)}",
        ]
    )
    city = R.choice(US_CITIES) + digits(2)
    return street, f"{unit}, {city}"


def addr_uk() -> tuple[str, str]:
    street = f"{R.randint(1, 180)}{R.choice(['', '', '', 'A', 'B'])} {R.choice(UK_STREETS)} {R.choice(UK_TYPES)}"
    town, pc = R.choice(UK_TOWNS)
    return street, f", {town} {pc}{_alpha(2)}"


def addr_de() -> tuple[str, str]:
    k = R.randrange(4)
    base = R.choice(DE_STREETS)
    if k == 0:
        street = f"{base}straße {_hn()}"
    elif k == 1:
        street = f"{base}str. {_hn()}"
    elif k == 2:
        street = f"{base}weg {_hn()}"
    else:
        street = f"{R.choice(['Berliner Allee', 'Am Markt', 'Kaiserplatz', 'Lange Reihe', 'Unter den Eichen'])} {_hn()}"
    plz, city = R.choice(DE_CITIES)
    return street, f", {plz} {city}"


def addr_fr() -> tuple[str, str]:
    num = str(R.randint(1, 160))
    bis = R.choice(["", "", "", " bis", " ter"])
    street = f"{num}{bis}{R.choice([' ', ', '])}{R.choice(FR_STREETS)}"
    cp, city = R.choice(FR_CITIES)
    return street, f", {cp} {city}"


def _num_after(streets: list[str], cities: list[tuple[str, str]], comma: bool = True) -> tuple[str, str]:
    s = R.choice(streets)
    sep = R.choice([" ", ", "]) if comma else " "
    street = f"{s}{sep}{R.randint(1, 250)}"
    pc, city = R.choice(cities)
    return street, f", {pc} {city}"


def addr_ja() -> tuple[str, str]:
    return f"{R.choice(JA_WARDS)}{R.randint(1, 6)}-{R.randint(1, 20)}-{R.randint(1, 30)}", ""


ADDR_BY_LANG = {
    "en": lambda: addr_us() if R.random() < 0.65 else addr_uk(),
    "de": addr_de,
    "fr": addr_fr,
    "es": lambda: _num_after(ES_STREETS, ES_CITIES),
    "it": lambda: _num_after(IT_STREETS, IT_CITIES),
    "pt": lambda: _num_after(PT_STREETS, PT_CITIES),
    "nl": lambda: _num_after(NL_STREETS, NL_CITIES, comma=False),
    "pl": lambda: (lambda s: (s[0] + (f"/{R.randint(1, 40)}" if R.random() < 0.3 else ""), s[1]))(
        _num_after(PL_STREETS, PL_CITIES, comma=False)
    ),
    "sv": lambda: _num_after(SE_STREETS, SE_CITIES, comma=False),
    "ja": addr_ja,
}
# "ja" addresses are prefixed by a postal mark in templates where used.

# ---- non-PII fillers ----------------------------------------------------------

BRANDS = [
    "Bright Foods",
    "Nordic Grocer",
    "Acme Snacks",
    "Maison Biscuit",
    "Sakura Foods",
    "GranolaCo",
    "Fresco",
    "Polmarket",
    "Kaffeehaus",
    "Groenteboer",
]
PRODUCTS = {
    "en": [
        "Honey Almond Granola",
        "Oat Bars 6-pack",
        "Cold Brew Coffee",
        "Dark Chocolate Muesli",
        "Sparkling Water 12x330ml",
    ],
    "de": ["Knuspermüsli Honig", "Haferriegel 6er", "Bio-Kaffee ganze Bohne", "Schoko-Müsli", "Mineralwasser 12x0,5 l"],
    "fr": [
        "Granola miel amandes",
        "Barres d'avoine x6",
        "Café en grains bio",
        "Muesli chocolat noir",
        "Eau pétillante 6x1 L",
    ],
    "es": ["Granola de miel y almendras", "Barritas de avena x6", "Café en grano ecológico", "Muesli de chocolate"],
    "it": ["Granola miele e mandorle", "Barrette d'avena x6", "Caffè in grani bio", "Muesli al cioccolato"],
    "pt": ["Granola de mel e amêndoa", "Barras de aveia x6", "Café em grão biológico", "Muesli de chocolate"],
    "nl": ["Honing-amandel granola", "Haverrepen 6-pack", "Biologische koffiebonen", "Chocolademuesli"],
    "ja": ["はちみつアーモンドグラノーラ", "オーツバー6本入り", "有機コーヒー豆", "抹茶ラテ"],
    "pl": ["Granola miodowo-migdałowa", "Batony owsiane 6 szt.", "Kawa ziarnista bio", "Musli czekoladowe"],
    "sv": ["Granola honung & mandel", "Havrebars 6-pack", "Ekologiskt kaffe hela bönor", "Chokladmüsli"],
}
CAMP_PRODUCTS = [
    "Granola",
    "OatBars",
    "ColdBrew",
    "Muesli",
    "Water",
    "Coffee",
    "Matcha",
    "Kawa",
    "Kaffe",
    "Cafe",
    "Biscuit",
]
CAMP_TYPES = ["SP", "SB", "SD", "SBV", "DSP"]
MATCH = ["Exact", "Phrase", "Broad", "Auto", "ASIN", "Category", "Retargeting_30d", "Audiences", "Video", "Brand"]
MARKETS = {
    "en": ["US", "UK"],
    "de": ["DE", "AT"],
    "fr": ["FR", "BE"],
    "es": ["ES", "MX"],
    "it": ["IT"],
    "pt": ["PT", "BR"],
    "nl": ["NL", "BE"],
    "ja": ["JP"],
    "pl": ["PL"],
    "sv": ["SE"],
}


def asin() -> str:
    return "B0" + "".join(R.choice("ABCDEFGHJKLMNPQRSTUVWXYZ0123456789") for _ in range(8))


def gtin() -> str:
    n = R.choice([13, 14])
    while True:
        body = digits(n - 1, first_nonzero=(n == 13))
        if n == 14:
            body = R.choice("0123") + body[1:]
        code = body + gtin_check(body)
        if not luhn_ok(code):
            return code


def campaign(lang: str) -> str:
    k = R.randrange(5)
    m = R.choice(MARKETS[lang])
    p = R.choice(CAMP_PRODUCTS)
    if k == 0:
        return f"Q{R.randint(1, 4)}_{p}_{R.choice(CAMP_TYPES)}_{R.choice(MATCH)}"
    if k == 1:
        return f"{m}_{p}_{R.choice(CAMP_TYPES)}_{R.choice(MATCH)}_{R.choice(['2024', '2025', '2026'])}"
    if k == 2:
        return f"{R.choice(['2025', '2026'])}-{R.randint(1, 12):02d}_{R.choice(['BlackFriday', 'PrimeDay', 'BackToSchool', 'Easter', 'Summer'])}_{R.choice(CAMP_TYPES)}_{p}"
    if k == 3:
        return f"{m}-{p}-{R.choice(CAMP_TYPES)}-{R.choice(MATCH)}-ASIN-{asin()}"
    return f"AlwaysOn_{m}_{R.choice(CAMP_TYPES)}_{p}_{R.choice(['lookback-30d', 'top-of-search', 'bid+20%', 'v2'])}"


def order_no() -> str:
    k = R.randrange(4)
    if k == 0:  # marketplace style 3-7-7 (17 digits, never Luhn-valid here)
        d = digits_not_luhn(17)
        return f"{d[:3]}-{d[3:10]}-{d[10:]}"
    if k == 1:
        return f"#{digits(8, True)}"
    if k == 2:
        return f"ORD-{R.randint(2024, 2026)}-{digits(6)}"
    return f"{digits(2, True)}-{digits(5)}"


def date(lang: str) -> str:
    y, m, d = R.randint(2024, 2026), R.randint(1, 12), R.randint(1, 28)
    if lang == "en":
        return R.choice(
            [
                f"{m:02d}/{d:02d}/{y}",
                f"{y}-{m:02d}-{d:02d}",
                f"{d} {['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'][m - 1]} {y}",
            ]
        )
    if lang == "ja":
        return R.choice([f"{y}年{m}月{d}日", f"{y}/{m:02d}/{d:02d}"])
    if lang in ("de", "pl"):
        return R.choice([f"{d:02d}.{m:02d}.{y}", f"{y}-{m:02d}-{d:02d}"])
    if lang in ("sv",):
        return f"{y}-{m:02d}-{d:02d}"
    return R.choice([f"{d:02d}/{m:02d}/{y}", f"{y}-{m:02d}-{d:02d}", f"{d:02d}-{m:02d}-{y}"])


def price(lang: str) -> str:
    v = R.choice([R.randint(1, 99) + R.randint(0, 99) / 100, R.randint(100, 250000)])
    if lang == "en":
        return f"${v:,.2f}" if R.random() < 0.6 else f"£{v:,.2f}"
    if lang == "ja":
        return R.choice([f"¥{int(v):,}", f"{int(v):,}円"])
    cur = {"pl": "zł", "sv": "kr"}.get(lang, "€")
    s = f"{v:,.2f}".replace(",", "X").replace(".", ",").replace("X", ".")
    return f"{s} {cur}" if R.random() < 0.7 else (f"€{s}" if cur == "€" else f"{s} {cur}")


def pct(lang: str) -> str:
    v = R.choice([f"{R.randint(1, 60)}", f"{R.randint(0, 40)}.{R.randint(0, 9)}"])
    if lang not in ("en", "ja"):
        v = v.replace(".", ",")
        return f"{v} %" if lang in ("de", "fr", "sv") and R.random() < 0.6 else f"{v}%"
    return f"{v}%"


def ad_id() -> str:
    return digits_not_luhn(R.randint(15, 18))


def tracking() -> str:
    k = R.randrange(3)
    if k == 0:
        return "1Z" + "".join(R.choice("0123456789ABCDEFGHJKLMNPRSTUVWXYZ") for _ in range(6)) + digits_not_luhn(10)
    if k == 1:
        return "JJD" + digits_not_luhn(18)
    return f"{_alpha(2)}{digits(9)}{R.choice(['DE', 'GB', 'FR', 'SE', 'NL'])}"


def version() -> str:
    return R.choice(
        [
            f"v{R.randint(1, 4)}.{R.randint(0, 20)}.{R.randint(0, 30)}",
            f"{R.randint(1, 9)}.{R.randint(0, 12)}",
            f"v{R.randint(1, 3)}.{R.randint(0, 9)}.{R.randint(0, 9)}-rc{R.randint(1, 3)}",
            f"{R.randint(2024, 2026)}.{R.randint(1, 12)}.{R.randint(0, 5)}",
        ]
    )


def rng_text(lang: str) -> str:
    k = R.randrange(5)
    if k == 0:
        y = R.randint(2023, 2026)
        return f"{y}-{y + 1}"
    if k == 1:
        return f"{R.randint(1, 6):02d}/{R.randint(1, 28):02d}-{R.randint(7, 12):02d}/{R.randint(1, 28):02d}"
    if k == 2:
        return f"{R.randint(5, 15)}-{R.randint(16, 40)}%"
    if k == 3:
        return f"Q{R.randint(1, 2)}-Q{R.randint(3, 4)} {R.randint(2025, 2026)}"
    return f"{R.randint(1, 9)},000-{R.randint(10, 50)},000"


def url(lang: str) -> str:
    dom = R.choice(
        [
            "www.brightfoods.com",
            "shop.nordicgrocer.se",
            "www.acme-snacks.co.uk",
            "maison-biscuit.fr",
            "www.amazon.de",
            "www.amazon.co.jp",
            "allegro.pl",
            "www.bol.com",
        ]
    )
    path = R.choice(["/granola", "/dp/" + asin(), "/p/oat-bars", "/campaigns/q3", "/lp/summer"])
    q = R.choice(
        [
            "",
            f"?utm_source=rmn&utm_medium=sp&utm_campaign=q{R.randint(1, 4)}",
            f"?ref=sr_1_{R.randint(1, 9)}&tag=brand-21",
        ]
    )
    return f"https://{dom}{path}{q}"


def url_at() -> str:
    return R.choice(
        [
            f"https://medium.com/@brightfoods/{R.choice(['launch', 'q3-recap', 'new-granola'])}",
            f"https://www.tiktok.com/@acmesnacks/video/{digits_not_luhn(19)}",
            f"https://mastodon.social/@nordicgrocer/{digits_not_luhn(18)}",
        ]
    )


def handle() -> str:
    return "@" + R.choice(
        ["BrightFoods", "AcmeSnacksUK", "NordicGrocer", "maisonbiscuit", "SakuraFoodsJP", "granolaco_de"]
    )


def domain_word() -> str:
    return R.choice(["brightfoods.com", "nordicgrocer.se", "acme-snacks.co.uk", "maison-biscuit.fr", "polmarket.pl"])


def sku() -> str:
    return f"SKU-{digits(4, True)}-{R.choice(['BLK', 'WHT', 'RED', 'NAT'])}-{R.choice(['S', 'M', 'L', 'XL', '500G', '1KG'])}"


def invoice() -> str:
    return R.choice(
        [f"INV-{R.randint(2024, 2026)}-{digits(5)}", f"RE{R.randint(2024, 2026)}/{digits(4)}", f"F-{digits(6, True)}"]
    )


def partno() -> str:
    return f"{R.choice(['000', '666', str(R.randint(900, 999))])}-{digits(2)}-{digits(4)}"


def masked() -> str:
    return R.choice(
        [
            f"**** **** **** {digits(4)}",
            f"XXXX-XXXX-XXXX-{digits(4)}",
            f"•••• {digits(4)}",
            f"{R.choice('45')}{digits(3)} **** **** {digits(4)}",
        ]
    )


def coupon() -> str:
    return f"{R.choice(['SAVE', 'SPRING', 'RMN', 'WELCOME'])}{R.randint(5, 50)}-{R.choice(CAMP_PRODUCTS).upper()}"


def time_s() -> str:
    return f"{R.randint(0, 23):02d}:{R.choice(['00', '15', '30', '45'])}"


def dims() -> str:
    return f"{R.randint(10, 60)} x {R.randint(10, 60)} x {R.randint(5, 30)} cm"


def aisle(lang: str) -> str:
    return {
        "en": "Aisle ",
        "de": "Gang ",
        "fr": "allée ",
        "es": "pasillo ",
        "it": "corsia ",
        "pt": "corredor ",
        "nl": "gangpad ",
        "ja": "通路",
        "pl": "alejka ",
        "sv": "gång ",
    }[lang] + str(R.randint(1, 30))


def last4() -> str:
    return digits(4)


def small_num() -> str:
    return str(R.randint(2, 4800))


# ---------------------------------------------------------------------------
# rendering
# ---------------------------------------------------------------------------

ENTITY_PH = {
    "EMAIL": "EMAIL_ADDRESS",
    "EMAIL2": "EMAIL_ADDRESS",
    "PHONE": "PHONE_NUMBER",
    "PHONE2": "PHONE_NUMBER",
    "PHONE_INTL": "PHONE_NUMBER",
    "PHONE_EXT": "PHONE_NUMBER",
    "PHONE_US": "PHONE_NUMBER",
    "PHONE_UK": "PHONE_NUMBER",
    "CARD": "CREDIT_CARD",
    "IBAN": "IBAN_CODE",
    "IBAN_C": "IBAN_CODE",
    "SSN": "US_SSN",
    "IP": "IP_ADDRESS",
    "IP2": "IP_ADDRESS",
    "IP6": "IP_ADDRESS",
    "ADDR": "STREET_ADDRESS",
    "ADDR_FULL": "STREET_ADDRESS",
    "ADDR_US": "STREET_ADDRESS",
    "ADDR_UK": "STREET_ADDRESS",
    "ADDR_DE": "STREET_ADDRESS",
    "ADDR_FR": "STREET_ADDRESS",
}


def fill(ph: str, lang: str) -> list[tuple[str, str | None]]:
    """Return segments (text, entity type or None) for one placeholder."""
    t = ENTITY_PH.get(ph)
    if ph in ("EMAIL", "EMAIL2"):
        return [(email(lang, same_person=(ph == "EMAIL")), t)]
    if ph in ("PHONE", "PHONE2"):
        return [(phone(lang), t)]
    if ph == "PHONE_INTL":
        return [(phone_intl(lang), t)]
    if ph == "PHONE_EXT":
        return [
            (phone(lang), t),
            (R.choice([", ", " ", " / "]) + R.choice(EXT_WORD[lang]) + str(R.randint(10, 4999)), None),
        ]
    if ph == "PHONE_US":
        return [(phone_us(), t)]
    if ph == "PHONE_UK":
        return [(phone_uk(), t)]
    if ph == "CARD":
        return [(card(), t)]
    if ph == "IBAN":
        return [(iban(lang), t)]
    if ph == "IBAN_C":
        return [(iban(lang, compact=True), t)]
    if ph == "SSN":
        return [(ssn(), t)]
    if ph in ("IP", "IP2"):
        return [(ipv4(), t)]
    if ph == "IP6":
        return [(ipv6(), t)]
    if ph == "ADDR":
        return [(ADDR_BY_LANG[lang]()[0], t)]
    if ph == "ADDR_FULL":
        street, tail = ADDR_BY_LANG[lang]()
        return [(street, t), (tail, None)]
    if ph in ("ADDR_US", "ADDR_UK", "ADDR_DE", "ADDR_FR"):
        street, tail = {"ADDR_US": addr_us, "ADDR_UK": addr_uk, "ADDR_DE": addr_de, "ADDR_FR": addr_fr}[ph]()
        return [(street, t), (tail, None)]
    plain = {
        "FIRST": lambda: ctx_person(lang)[0],
        "LAST": lambda: ctx_person(lang)[1],
        "NAME": lambda: " ".join(ctx_person(lang)),
        "JNAME": lambda: R.choice(JA_NAMES_KANJI),
        "JPZIP": lambda: f"{R.randint(100, 999)}-{digits(4)}",
        "BRAND": lambda: R.choice(BRANDS),
        "PRODUCT": lambda: R.choice(PRODUCTS[lang]),
        "CAMPAIGN": lambda: campaign(lang),
        "ORDER": order_no,
        "DATE": lambda: date(lang),
        "PRICE": lambda: price(lang),
        "PCT": lambda: pct(lang),
        "ASIN": asin,
        "GTIN": gtin,
        "ADID": ad_id,
        "TRACK": tracking,
        "VERSION": version,
        "RANGE": lambda: rng_text(lang),
        "URL": lambda: url(lang),
        "URL_AT": url_at,
        "HANDLE": handle,
        "DOMAIN": domain_word,
        "SKU": sku,
        "INVOICE": invoice,
        "MASKED": masked,
        "BADCARD": bad_card16,
        "PARTNO": partno,
        "AISLE": lambda: aisle(lang),
        "NUM": small_num,
        "TIME": time_s,
        "COUPON": coupon,
        "DIM": dims,
        "LAST4": last4,
    }
    if ph not in plain:
        raise KeyError(f"unknown placeholder {ph}")
    return [(plain[ph](), None)]


PH_RE = re.compile(r"\{([A-Z][A-Z0-9_]*)\}")


def render(template: str, lang: str) -> tuple[str, list[dict]]:
    CTX.clear()
    out: list[str] = []
    ents: list[dict] = []
    pos = 0
    cur = 0
    for m in PH_RE.finditer(template):
        lit = template[pos : m.start()]
        out.append(lit)
        cur += len(lit)
        for seg, typ in fill(m.group(1), lang):
            if typ:
                ents.append({"type": typ, "start": cur, "end": cur + len(seg), "value": seg})
            out.append(seg)
            cur += len(seg)
        pos = m.end()
    out.append(template[pos:])
    return "".join(out), ents


# ---------------------------------------------------------------------------
# templates: (kind, template).  POS templates hold at least one entity placeholder.
# ---------------------------------------------------------------------------

POS: dict[str, list[tuple[str, str]]] = {
    "en": [
        (
            "support_email",
            "Hi team, the invoice for order {ORDER} went to the wrong contact. Please update it to {EMAIL} and call me on {PHONE_US} if anything is unclear. Thanks, {FIRST}",
        ),
        (
            "support_email",
            "Hello, I'm {NAME} from {BRAND}. My direct line is {PHONE_EXT}; for urgent matters use {PHONE_INTL}.",
        ),
        ("support_email", "Please charge the Q3 sponsorship to card {CARD}, expiry 09/27, billing contact {EMAIL}."),
        (
            "support_email",
            "Refund request: the shopper paid with {CARD} and asked for the refund to go to {IBAN} instead.",
        ),
        ("support_email", "Our new billing address is {ADDR_FULL}. Remittance to {IBAN}, reference {INVOICE}."),
        ("support_email", "Please send the sample kit to {ADDR_FULL}, attention {NAME}, phone {PHONE}."),
        (
            "support_email",
            "Hi, my SSN is {SSN} and I need to update the W-9 for the payout. You can reach me at {PHONE_US}.",
        ),
        (
            "support_email",
            "Webhook calls from {IP} are rejected with 403, our other server {IP2} works. Contact: {EMAIL}",
        ),
        ("support_email", "Please wire the rebate to {IBAN_C} (BIC NWBKGB2L) and confirm to <{EMAIL}>."),
        ("support_email", "Ring {NAME} on {PHONE_UK} or post the contract to {ADDR_UK}."),
        ("support_email", "Dear support, I can't log in since {DATE}. My account e-mail is {EMAIL}, my IP was {IP}."),
        ("support_email", "The agency contact changed: new contact {NAME}, {EMAIL}, mobile {PHONE}, desk {PHONE_EXT}."),
        ("reviewer_note", "Reviewer note: generated copy contains the shopper's e-mail {EMAIL}; must not ship."),
        ("reviewer_note", "Flagged: output echoed an SSN ({SSN}) from upload row {NUM}. Reject and re-run."),
        ("reviewer_note", "QA: login spikes from {IP} and {IP6} on {DATE}, probably the agency VPN."),
        ("reviewer_note", "Headline is fine, but the footer leaks {FIRST}'s mobile {PHONE}. Remove before export."),
        (
            "reviewer_note",
            "Shopper quote in the review text: 'my number is {PHONE}, call me back'. Redact before training.",
        ),
        ("reviewer_note", "Audit: API key used from {IP6} at {TIME} UTC, then from {IP}."),
        ("reviewer_note", "Model output included a full card number ({CARD}) copied from the notes field. Blocker."),
        (
            "reviewer_note",
            "The CSV row for {NAME} has SSN {SSN} and lives at {ADDR_US}; none of this belongs in the prompt.",
        ),
        (
            "correction",
            'Correction: replace "call {PHONE}" with "visit our store page"; that number belongs to a store manager.',
        ),
        ("correction", "Corrected contact: {EMAIL} (was {EMAIL2})."),
        ("correction", "Fix the address in the creative to {ADDR}; the old one pointed to a private home."),
        ("correction", "Use {PHONE_INTL} in the UK version, not {PHONE_US}."),
        ("correction", "Please remove {EMAIL} from the ad copy and keep only the brand handle."),
        ("marketing_copy", "Visit our flagship at {ADDR_FULL} and get 20% off all granola this weekend!"),
        ("marketing_copy", "Questions about your order? Call {PHONE_US} (Mon-Fri, 9am-5pm) or email {EMAIL}."),
        ("marketing_copy", "Free samples while stocks last. Text us at {PHONE} or write to {EMAIL}."),
        ("marketing_copy", "Win a year of {PRODUCT}! Send your entry to {EMAIL} by {DATE}."),
        ("marketing_copy", "Pop-up store opening at {ADDR_US}, come by from 10am."),
        ("campaign_name", "{CAMPAIGN} | owner: {EMAIL}"),
        ("campaign_name", "{CAMPAIGN} (paused, ask {EMAIL})"),
        ("campaign_name", "{CAMPAIGN} - hotline {PHONE}"),
        ("csv_cell", '"{LAST}, {FIRST}",{EMAIL},{PHONE},"{ADDR}"'),
        ("csv_cell", "{NAME};{SSN};{ADDR}"),
        ("csv_cell", "{EMAIL}"),
        ("csv_cell", "{PHONE}"),
        ("csv_cell", "{CARD}"),
        ("csv_cell", "{IP}"),
        ("csv_cell", "{SSN}"),
        ("csv_cell", "{IP6}"),
        ("csv_cell", "{ORDER},{EMAIL},{PRICE},{DATE}"),
        ("csv_cell", "client_ip={IP}; session={ADID}; ua=Mozilla/5.0"),
        ("csv_cell", "{DATE},{NAME},{CARD},{PRICE}"),
        ("csv_cell", '"{ADDR_US}"'),
        ("csv_cell", "{IBAN}"),
        ("csv_cell", "{SSN},{LAST},{FIRST},{DATE}"),
        ("support_email", "For the 1099 we need the contractor's SSN: {SSN}. Mail the form to {ADDR_FULL}."),
        ("reviewer_note", "Applicant note pasted into the prompt: 'SSN {SSN}, DOB {DATE}'. Remove the whole note."),
        ("correction", "Correction: the SSN in row {NUM} should read {SSN}; it must be stored hashed, not in clear."),
        ("log_line", "2026-03-02T10:15:22Z WARN upload row {NUM}: email={EMAIL} phone={PHONE}"),
        ("log_line", 'INFO gateway request from {IP} user_agent="curl/8.4" status=200'),
        ("log_line", "ERROR payment retry card={CARD} amount={PRICE} ref={INVOICE}"),
        ("log_line", "DEBUG prompt_vars={name: {NAME}, ssn: {SSN}}"),
        ("log_line", "WARN login failed for {EMAIL} from {IP6}"),
    ],
    "de": [
        (
            "support_email",
            "Hallo zusammen, bitte die Rechnung an {EMAIL} schicken. Bei Rückfragen erreichen Sie mich unter {PHONE}. Viele Grüße, {FIRST} {LAST}",
        ),
        (
            "support_email",
            "Sehr geehrte Damen und Herren, unsere neue Anschrift lautet {ADDR_FULL}. Bankverbindung: {IBAN}.",
        ),
        ("support_email", "Die Gutschrift bitte auf {IBAN} überweisen, Verwendungszweck {INVOICE}."),
        ("support_email", "Bitte rufen Sie mich unter {PHONE_EXT} zurück, mobil bin ich unter {PHONE2} erreichbar."),
        ("support_email", "Die Zahlung erfolgte mit der Kreditkarte {CARD}; bitte prüfen Sie die doppelte Abbuchung."),
        ("support_email", "Unser Server {IP} bekommt seit {DATE} Timeouts, Ansprechpartner ist {EMAIL}."),
        (
            "reviewer_note",
            "Prüfhinweis: Der generierte Text enthält die Telefonnummer {PHONE} eines Kunden. Nicht freigeben.",
        ),
        ("reviewer_note", "Achtung: In der Ausgabe steht die E-Mail {EMAIL} aus der Upload-Zeile {NUM}."),
        ("reviewer_note", "Im Freitext steht die Adresse {ADDR_FULL}, bitte schwärzen."),
        ("reviewer_note", "Zugriff von {IP} und {IP6} im Audit-Log, bitte klären."),
        ("correction", "Korrektur: Kontakt ist {EMAIL}, nicht {EMAIL2}."),
        (
            "correction",
            "Bitte die Nummer {PHONE} aus dem Anzeigentext entfernen, das ist die private Nummer von {FIRST}.",
        ),
        ("correction", "Statt {ADDR} bitte die Filialadresse verwenden."),
        ("marketing_copy", "Jetzt im Laden: {PRODUCT}! Besuchen Sie uns in der {ADDR_FULL}."),
        ("marketing_copy", "Fragen? Rufen Sie uns an unter {PHONE} oder schreiben Sie an {EMAIL}."),
        ("campaign_name", "{CAMPAIGN} | Verantwortlich: {EMAIL}"),
        ("csv_cell", "{LAST};{FIRST};{EMAIL};{PHONE};{ADDR}"),
        ("csv_cell", "{IBAN}"),
        ("csv_cell", "{EMAIL}"),
        ("csv_cell", "{PHONE}"),
        ("csv_cell", "{ADDR_DE}"),
        ("csv_cell", "{CARD}"),
        ("log_line", "WARN Zeile {NUM}: E-Mail={EMAIL} Telefon={PHONE}"),
        ("support_email", "Für das US-Steuerformular W-9: meine SSN ist {SSN}."),
    ],
    "fr": [
        (
            "support_email",
            "Bonjour, merci d'envoyer la facture à {EMAIL}. Vous pouvez me joindre au {PHONE}. Cordialement, {NAME}",
        ),
        ("support_email", "Notre nouvelle adresse : {ADDR_FULL}. Merci de mettre à jour le RIB : {IBAN}."),
        ("support_email", "Le remboursement doit être versé sur {IBAN}, référence {INVOICE}."),
        ("support_email", "J'ai payé avec la carte {CARD} et le montant a été débité deux fois."),
        ("support_email", "Merci de rappeler {FIRST} au {PHONE_EXT} ou sur son portable {PHONE2}."),
        ("support_email", "Les requêtes depuis {IP} sont bloquées depuis le {DATE}. Contact technique : {EMAIL}"),
        ("reviewer_note", "Remarque : le texte généré contient l'adresse e-mail {EMAIL} d'un client. À corriger."),
        ("reviewer_note", "La sortie reprend le numéro {PHONE} du champ commentaire ; refuser."),
        ("reviewer_note", "Adresse personnelle dans la note : {ADDR_FULL}. Supprimer avant export."),
        ("correction", "Correction : le contact est {EMAIL} et non {EMAIL2}."),
        ("correction", "Remplacer {PHONE} par le numéro du service client."),
        ("marketing_copy", "Retrouvez-nous au {ADDR_FULL} : dégustation gratuite de {PRODUCT} samedi !"),
        ("marketing_copy", "Une question ? Appelez le {PHONE} ou écrivez-nous à {EMAIL}."),
        ("campaign_name", "{CAMPAIGN} | responsable : {EMAIL}"),
        ("csv_cell", "{LAST};{FIRST};{EMAIL};{PHONE};{ADDR}"),
        ("csv_cell", "{IBAN}"),
        ("csv_cell", "{PHONE}"),
        ("csv_cell", "{ADDR_FR}"),
        ("csv_cell", "{CARD}"),
        ("csv_cell", "{IP}"),
        ("log_line", "ERREUR paiement refusé carte={CARD} ip={IP}"),
    ],
    "es": [
        ("support_email", "Hola, por favor enviad la factura a {EMAIL}. Mi teléfono es {PHONE}. Saludos, {NAME}"),
        ("support_email", "Nuestra nueva dirección es {ADDR_FULL}. Cuenta para el abono: {IBAN}."),
        ("support_email", "Pagué con la tarjeta {CARD} y me cobraron dos veces el pedido {ORDER}."),
        ("support_email", "Puede llamarme al {PHONE_EXT} o al móvil {PHONE2}."),
        ("support_email", "Mi número de Seguro Social es {SSN}, lo necesitan para el formulario W-9 de EE. UU."),
        ("reviewer_note", "Nota de revisión: el texto generado incluye el correo {EMAIL} de una clienta. No publicar."),
        ("reviewer_note", "La salida copia el teléfono {PHONE} de la reseña; rechazar."),
        ("reviewer_note", "Accesos desde {IP} y {IP6} en el registro de auditoría."),
        ("correction", "Corrección: el contacto correcto es {EMAIL}, no {EMAIL2}."),
        ("correction", "Cambiar la dirección a {ADDR}; la anterior era un domicilio particular."),
        ("marketing_copy", "¡Visítanos en {ADDR_FULL} y prueba {PRODUCT} gratis!"),
        ("marketing_copy", "¿Dudas? Llámanos al {PHONE} o escríbenos a {EMAIL}."),
        ("campaign_name", "{CAMPAIGN} | responsable: {EMAIL}"),
        ("csv_cell", "{LAST};{FIRST};{EMAIL};{PHONE};{IBAN}"),
        ("csv_cell", "{PHONE}"),
        ("csv_cell", "{CARD}"),
        ("csv_cell", "{EMAIL}"),
    ],
    "it": [
        (
            "support_email",
            "Buongiorno, vi prego di inviare la fattura a {EMAIL}. Il mio numero è {PHONE}. Cordiali saluti, {NAME}",
        ),
        ("support_email", "Il nuovo indirizzo è {ADDR_FULL}. IBAN per il rimborso: {IBAN}."),
        ("support_email", "Ho pagato con la carta {CARD}, ma l'ordine {ORDER} risulta annullato."),
        ("support_email", "Potete richiamarmi al {PHONE_EXT} oppure sul cellulare {PHONE2}."),
        ("reviewer_note", "Nota: il testo generato contiene l'email {EMAIL} di un cliente. Non approvare."),
        ("reviewer_note", "Nel commento c'è il numero {PHONE}; da oscurare prima dell'esportazione."),
        ("reviewer_note", "Accessi sospetti da {IP} il {DATE}."),
        ("correction", "Correzione: il referente è {EMAIL}, non {EMAIL2}."),
        ("correction", "Sostituire {ADDR} con l'indirizzo del punto vendita."),
        ("marketing_copy", "Vieni a trovarci in {ADDR_FULL}: degustazione di {PRODUCT}!"),
        ("marketing_copy", "Domande? Chiama il {PHONE} o scrivi a {EMAIL}."),
        ("campaign_name", "{CAMPAIGN} | referente: {EMAIL}"),
        ("csv_cell", "{LAST};{FIRST};{EMAIL};{PHONE};{ADDR}"),
        ("csv_cell", "{IBAN}"),
        ("csv_cell", "{CARD}"),
        ("csv_cell", "{PHONE}"),
    ],
    "pt": [
        (
            "support_email",
            "Olá, por favor enviem a fatura para {EMAIL}. O meu telefone é {PHONE}. Cumprimentos, {NAME}",
        ),
        ("support_email", "A nossa nova morada é {ADDR_FULL}. IBAN para o reembolso: {IBAN}."),
        ("support_email", "Paguei com o cartão {CARD} e fui cobrado duas vezes."),
        ("support_email", "Podem ligar-me para o {PHONE_EXT} ou para o telemóvel {PHONE2}."),
        ("reviewer_note", "Nota de revisão: o texto gerado inclui o email {EMAIL} de um cliente. Não aprovar."),
        ("reviewer_note", "A resposta copia o número {PHONE} do comentário; rejeitar."),
        ("reviewer_note", "Acessos a partir de {IP} e {IP6} no registo de auditoria."),
        ("correction", "Correção: o contacto certo é {EMAIL}, não {EMAIL2}."),
        ("correction", "Trocar a morada para {ADDR}."),
        ("marketing_copy", "Visite-nos na {ADDR_FULL} e prove {PRODUCT}!"),
        ("marketing_copy", "Dúvidas? Ligue {PHONE} ou escreva para {EMAIL}."),
        ("campaign_name", "{CAMPAIGN} | responsável: {EMAIL}"),
        ("csv_cell", "{LAST};{FIRST};{EMAIL};{PHONE};{IBAN}"),
        ("csv_cell", "{CARD}"),
        ("csv_cell", "{PHONE}"),
    ],
    "nl": [
        (
            "support_email",
            "Hallo, wilt u de factuur naar {EMAIL} sturen? U kunt mij bereiken op {PHONE}. Groet, {NAME}",
        ),
        ("support_email", "Ons nieuwe adres is {ADDR_FULL}. Rekeningnummer voor de creditnota: {IBAN}."),
        ("support_email", "Ik heb betaald met creditcard {CARD} en het bedrag is twee keer afgeschreven."),
        ("support_email", "Bel me terug op {PHONE_EXT} of mobiel {PHONE2}."),
        (
            "reviewer_note",
            "Reviewnotitie: de gegenereerde tekst bevat het e-mailadres {EMAIL} van een klant. Afkeuren.",
        ),
        ("reviewer_note", "Output bevat telefoonnummer {PHONE} uit de opmerkingen; verwijderen."),
        ("reviewer_note", "Inlogpogingen vanaf {IP} en {IP6} op {DATE}."),
        ("correction", "Correctie: contactpersoon is {EMAIL}, niet {EMAIL2}."),
        ("correction", "Vervang {ADDR} door het winkeladres."),
        ("marketing_copy", "Kom langs op {ADDR_FULL} en proef {PRODUCT}!"),
        ("marketing_copy", "Vragen? Bel {PHONE} of mail naar {EMAIL}."),
        ("campaign_name", "{CAMPAIGN} | eigenaar: {EMAIL}"),
        ("csv_cell", "{LAST};{FIRST};{EMAIL};{PHONE};{ADDR}"),
        ("csv_cell", "{IBAN}"),
        ("csv_cell", "{PHONE}"),
        ("csv_cell", "{CARD}"),
    ],
    "ja": [
        (
            "support_email",
            "お世話になっております。請求書は{EMAIL}宛にお送りください。ご不明点は{PHONE}までご連絡ください。{JNAME}",
        ),
        ("support_email", "新しい住所は〒{JPZIP} {ADDR}です。電話番号は{PHONE}です。"),
        ("support_email", "カード番号 {CARD} で決済しましたが、二重に請求されています。"),
        ("support_email", "担当の{JNAME}（{EMAIL}）へ転送してください。直通は{PHONE_EXT}です。"),
        ("support_email", "返金は {IBAN} へお願いします。"),
        ("reviewer_note", "レビュー: 生成文に顧客のメールアドレス {EMAIL} が含まれています。差し戻し。"),
        ("reviewer_note", "出力にコメント欄の電話番号 {PHONE} が残っています。削除してください。"),
        ("reviewer_note", "監査ログ: {IP} と {IP6} からのアクセスを確認。"),
        ("correction", "修正: 連絡先は {EMAIL} です（{EMAIL2} ではありません）。"),
        ("correction", "海外向けは {PHONE_INTL} に差し替え。"),
        ("marketing_copy", "新発売の{PRODUCT}！お問い合わせは{PHONE}まで。"),
        ("marketing_copy", "ご質問は {EMAIL} までお気軽にどうぞ。"),
        ("campaign_name", "{CAMPAIGN} | 担当: {EMAIL}"),
        ("csv_cell", "{JNAME},{EMAIL},{PHONE}"),
        ("csv_cell", "{PHONE}"),
        ("csv_cell", "{ADDR}"),
        ("csv_cell", "{CARD}"),
        ("support_email", "米国の税務書類用に社会保障番号（SSN）{SSN}を登録してください。"),
    ],
    "pl": [
        (
            "support_email",
            "Dzień dobry, proszę wysłać fakturę na {EMAIL}. Mój numer telefonu to {PHONE}. Pozdrawiam, {NAME}",
        ),
        ("support_email", "Nasz nowy adres: {ADDR_FULL}. Numer konta do zwrotu: {IBAN}."),
        ("support_email", "Zapłaciłem kartą {CARD} i kwota została pobrana dwa razy."),
        ("support_email", "Proszę o kontakt pod numerem {PHONE_EXT} lub komórkowym {PHONE2}."),
        ("reviewer_note", "Uwaga recenzenta: wygenerowany tekst zawiera e-mail klienta {EMAIL}. Odrzucić."),
        ("reviewer_note", "W wyniku pojawił się numer {PHONE} z komentarza; usunąć."),
        ("reviewer_note", "Logowania z {IP} oraz {IP6} w dniu {DATE}."),
        ("correction", "Poprawka: kontakt to {EMAIL}, a nie {EMAIL2}."),
        ("correction", "Zamienić adres {ADDR} na adres sklepu."),
        ("marketing_copy", "Odwiedź nas: {ADDR_FULL}. Degustacja {PRODUCT} w sobotę!"),
        ("marketing_copy", "Pytania? Zadzwoń {PHONE} lub napisz na {EMAIL}."),
        ("campaign_name", "{CAMPAIGN} | właściciel: {EMAIL}"),
        ("csv_cell", "{LAST};{FIRST};{EMAIL};{PHONE};{IBAN}"),
        ("csv_cell", "{IBAN}"),
        ("csv_cell", "{PHONE}"),
        ("csv_cell", "{CARD}"),
    ],
    "sv": [
        ("support_email", "Hej, skicka fakturan till {EMAIL}. Du når mig på {PHONE}. Vänliga hälsningar, {NAME}"),
        ("support_email", "Vår nya adress är {ADDR_FULL}. Konto för återbetalningen: {IBAN}."),
        ("support_email", "Jag betalade med kortet {CARD} och blev debiterad två gånger."),
        ("support_email", "Ring mig på {PHONE_EXT} eller mobil {PHONE2}."),
        ("reviewer_note", "Granskning: den genererade texten innehåller kundens e-post {EMAIL}. Avvisa."),
        ("reviewer_note", "Utdata innehåller telefonnumret {PHONE} från kommentaren; ta bort."),
        ("reviewer_note", "Inloggningar från {IP} och {IP6} den {DATE}."),
        ("correction", "Rättelse: kontakten är {EMAIL}, inte {EMAIL2}."),
        ("correction", "Byt adressen {ADDR} mot butikens adress."),
        ("marketing_copy", "Besök oss på {ADDR_FULL} och smaka {PRODUCT}!"),
        ("marketing_copy", "Frågor? Ring {PHONE} eller mejla {EMAIL}."),
        ("campaign_name", "{CAMPAIGN} | ägare: {EMAIL}"),
        ("csv_cell", "{LAST};{FIRST};{EMAIL};{PHONE};{ADDR}"),
        ("csv_cell", "{IBAN}"),
        ("csv_cell", "{PHONE}"),
        ("csv_cell", "{CARD}"),
    ],
}

NEG: dict[str, list[tuple[str, str]]] = {
    "en": [
        ("campaign_name", "{CAMPAIGN}"),
        ("campaign_name", "{CAMPAIGN}"),
        ("campaign_name", "{CAMPAIGN} | ad group {CAMPAIGN}"),
        ("campaign_name", "{CAMPAIGN} ({RANGE})"),
        ("marketing_copy", "Save {PCT} on {PRODUCT} this week only - now {PRICE}."),
        ("marketing_copy", "New {PRODUCT}: {NUM} g of crunch for {PRICE}. Available {RANGE}."),
        ("marketing_copy", "Our Main Street collection is back: {PRODUCT} from {PRICE}."),
        ("marketing_copy", "Follow {HANDLE} for weekly deals and use code {COUPON} at checkout."),
        ("marketing_copy", "Shop the range at {URL}"),
        ("reviewer_note", "Order {ORDER} shipped on {DATE}, tracking {TRACK}."),
        ("reviewer_note", "Ad ID {ADID} underdelivered by {PCT}; raise the bid to {PRICE}."),
        ("reviewer_note", "GTIN {GTIN} maps to ASIN {ASIN}; please fix the catalog row."),
        ("reviewer_note", "Reference {BADCARD} from the finance export is a booking number, not a card."),
        ("reviewer_note", "Copy only mentions 'Visa ending in {LAST4}', that's fine to keep."),
        ("reviewer_note", "Payment shows as {MASKED} in the export, already masked."),
        ("reviewer_note", "Model {VERSION} improved CTR by {PCT} over baseline (n = {NUM})."),
        ("reviewer_note", "Part no. {PARTNO} is the shelf-strip template, not an ID."),
        ("reviewer_note", "Place the display in {AISLE}, next to the cereal end cap."),
        ("reviewer_note", "Dimensions {DIM}, case pack {NUM}, GTIN {GTIN}."),
        ("reviewer_note", "Build {VERSION} went to staging on {DATE} at {TIME}."),
        ("reviewer_note", "Flight dates {RANGE}, daily cap {PRICE}, pacing {PCT}."),
        ("correction", "Correction: the budget for {RANGE} is {PRICE}, not {PRICE}."),
        ("correction", "Replace '{VERSION}' with the current model version in the footer."),
        ("correction", "Use ASIN {ASIN} instead of {ASIN} for the hero image."),
        ("correction", "Change the claim from {PCT} to {PCT} less sugar."),
        (
            "support_email",
            "Hi, you can reach our brand team at {DOMAIN} or on {HANDLE}; please don't use personal addresses.",
        ),
        ("support_email", "See {URL} for the landing page; the UTM tags are set."),
        ("support_email", "The post is live at {URL_AT}."),
        ("support_email", "Contact {FIRST} at {BRAND} about the Q4 plan, she prefers Slack."),
        ("support_email", "Invoice {INVOICE} over {PRICE} is due on {DATE}; PO {ORDER}."),
        ("support_email", "Ticket {ORDER}: the report for ad {ADID} is missing {NUM} rows."),
        ("csv_cell", "{SKU},{GTIN},{PRICE},{PCT}"),
        ("csv_cell", "{DATE},{ADID},{NUM},{PCT}"),
        ("csv_cell", "{ORDER}"),
        ("csv_cell", "{INVOICE};{PRICE};{DATE}"),
        ("csv_cell", "{GTIN}"),
        ("csv_cell", "{ADID}"),
        ("csv_cell", "{BADCARD}"),
        ("csv_cell", "{TRACK}"),
        ("csv_cell", "{VERSION}"),
        ("csv_cell", "{RANGE}"),
    ],
    "de": [
        ("campaign_name", "{CAMPAIGN}"),
        ("campaign_name", "{CAMPAIGN} | Anzeigengruppe {CAMPAIGN}"),
        ("marketing_copy", "Jetzt {PCT} sparen: {PRODUCT} für nur {PRICE}."),
        ("marketing_copy", "Neu im Sortiment: {PRODUCT}, gültig {RANGE}. Mehr unter {URL}"),
        ("reviewer_note", "Bestellung {ORDER} am {DATE} versendet, Sendungsnummer {TRACK}."),
        ("reviewer_note", "Anzeigen-ID {ADID} liefert {PCT} unter Plan aus."),
        ("reviewer_note", "EAN {GTIN} gehört zu ASIN {ASIN}, bitte Katalog korrigieren."),
        ("reviewer_note", "Die Referenz {BADCARD} ist eine Buchungsnummer, keine Kartennummer."),
        ("reviewer_note", "Modell {VERSION} verbessert die CTR um {PCT}."),
        ("reviewer_note", "Display in {AISLE} aufstellen, Maße {DIM}."),
        ("correction", "Korrektur: Budget {RANGE} beträgt {PRICE}, nicht {PRICE}."),
        ("correction", "Bitte ASIN {ASIN} statt {ASIN} verwenden."),
        ("support_email", "Unser Markenteam erreichen Sie über {DOMAIN} oder {HANDLE}."),
        ("support_email", "Rechnung {INVOICE} über {PRICE} ist am {DATE} fällig."),
        ("csv_cell", "{SKU};{GTIN};{PRICE};{PCT}"),
        ("csv_cell", "{DATE};{ADID};{NUM};{PCT}"),
        ("csv_cell", "{ORDER}"),
        ("csv_cell", "{GTIN}"),
    ],
    "fr": [
        ("campaign_name", "{CAMPAIGN}"),
        ("campaign_name", "{CAMPAIGN} | groupe {CAMPAIGN}"),
        ("marketing_copy", "Économisez {PCT} sur {PRODUCT}, maintenant {PRICE}."),
        ("marketing_copy", "Nouveau : {PRODUCT}, disponible {RANGE}. Plus d'infos sur {URL}"),
        ("reviewer_note", "Commande {ORDER} expédiée le {DATE}, suivi {TRACK}."),
        ("reviewer_note", "L'annonce {ADID} sous-délivre de {PCT}."),
        ("reviewer_note", "Le GTIN {GTIN} correspond à l'ASIN {ASIN}."),
        ("reviewer_note", "La référence {BADCARD} est un numéro de réservation, pas une carte."),
        ("reviewer_note", "Modèle {VERSION} : CTR +{PCT}, paiement affiché {MASKED}."),
        ("correction", "Correction : budget {RANGE} = {PRICE} et non {PRICE}."),
        ("correction", "Remplacer l'ASIN {ASIN} par {ASIN}."),
        ("support_email", "Contactez l'équipe marque via {DOMAIN} ou {HANDLE}."),
        ("support_email", "Facture {INVOICE} de {PRICE}, échéance le {DATE}."),
        ("csv_cell", "{SKU};{GTIN};{PRICE};{PCT}"),
        ("csv_cell", "{DATE};{ADID};{NUM}"),
        ("csv_cell", "{ORDER}"),
    ],
    "es": [
        ("campaign_name", "{CAMPAIGN}"),
        ("campaign_name", "{CAMPAIGN} | grupo {CAMPAIGN}"),
        ("marketing_copy", "Ahorra un {PCT} en {PRODUCT}, ahora {PRICE}."),
        ("marketing_copy", "Nuevo {PRODUCT}, disponible {RANGE}. Más en {URL}"),
        ("reviewer_note", "Pedido {ORDER} enviado el {DATE}, seguimiento {TRACK}."),
        ("reviewer_note", "El anuncio {ADID} entrega un {PCT} menos de lo previsto."),
        ("reviewer_note", "GTIN {GTIN} corresponde al ASIN {ASIN}."),
        ("reviewer_note", "La referencia {BADCARD} es un localizador, no una tarjeta."),
        ("correction", "Corrección: el presupuesto {RANGE} es {PRICE}, no {PRICE}."),
        ("correction", "Usar la versión {VERSION} del modelo."),
        ("support_email", "Podéis contactar con el equipo de marca en {DOMAIN} o {HANDLE}."),
        ("support_email", "La factura {INVOICE} de {PRICE} vence el {DATE}."),
        ("csv_cell", "{SKU};{GTIN};{PRICE};{PCT}"),
        ("csv_cell", "{DATE};{ADID};{NUM}"),
        ("csv_cell", "{ORDER}"),
    ],
    "it": [
        ("campaign_name", "{CAMPAIGN}"),
        ("campaign_name", "{CAMPAIGN} | gruppo {CAMPAIGN}"),
        ("marketing_copy", "Risparmia il {PCT} su {PRODUCT}, ora a {PRICE}."),
        ("marketing_copy", "Novità: {PRODUCT}, disponibile {RANGE}. Scopri di più su {URL}"),
        ("reviewer_note", "Ordine {ORDER} spedito il {DATE}, tracking {TRACK}."),
        ("reviewer_note", "L'annuncio {ADID} è sotto del {PCT}."),
        ("reviewer_note", "Il GTIN {GTIN} corrisponde all'ASIN {ASIN}."),
        ("reviewer_note", "Il riferimento {BADCARD} è un codice prenotazione, non una carta."),
        ("correction", "Correzione: budget {RANGE} pari a {PRICE}, non {PRICE}."),
        ("support_email", "Il team del marchio è raggiungibile su {DOMAIN} o {HANDLE}."),
        ("support_email", "Fattura {INVOICE} di {PRICE} in scadenza il {DATE}."),
        ("csv_cell", "{SKU};{GTIN};{PRICE};{PCT}"),
        ("csv_cell", "{DATE};{ADID};{NUM}"),
        ("csv_cell", "{ORDER}"),
    ],
    "pt": [
        ("campaign_name", "{CAMPAIGN}"),
        ("campaign_name", "{CAMPAIGN} | grupo {CAMPAIGN}"),
        ("marketing_copy", "Poupe {PCT} em {PRODUCT}, agora por {PRICE}."),
        ("marketing_copy", "Novidade: {PRODUCT}, disponível {RANGE}. Saiba mais em {URL}"),
        ("reviewer_note", "Encomenda {ORDER} enviada a {DATE}, seguimento {TRACK}."),
        ("reviewer_note", "O anúncio {ADID} está {PCT} abaixo do plano."),
        ("reviewer_note", "O GTIN {GTIN} corresponde ao ASIN {ASIN}."),
        ("reviewer_note", "A referência {BADCARD} é um código de reserva, não um cartão."),
        ("correction", "Correção: orçamento {RANGE} é {PRICE}, não {PRICE}."),
        ("support_email", "A equipa da marca está em {DOMAIN} ou {HANDLE}."),
        ("support_email", "Fatura {INVOICE} de {PRICE} vence a {DATE}."),
        ("csv_cell", "{SKU};{GTIN};{PRICE};{PCT}"),
        ("csv_cell", "{DATE};{ADID};{NUM}"),
        ("csv_cell", "{ORDER}"),
    ],
    "nl": [
        ("campaign_name", "{CAMPAIGN}"),
        ("campaign_name", "{CAMPAIGN} | advertentiegroep {CAMPAIGN}"),
        ("marketing_copy", "Bespaar {PCT} op {PRODUCT}, nu {PRICE}."),
        ("marketing_copy", "Nieuw: {PRODUCT}, verkrijgbaar {RANGE}. Meer op {URL}"),
        ("reviewer_note", "Bestelling {ORDER} verzonden op {DATE}, track & trace {TRACK}."),
        ("reviewer_note", "Advertentie {ADID} levert {PCT} onder plan."),
        ("reviewer_note", "GTIN {GTIN} hoort bij ASIN {ASIN}."),
        ("reviewer_note", "Referentie {BADCARD} is een boekingsnummer, geen kaart."),
        ("correction", "Correctie: budget {RANGE} is {PRICE}, niet {PRICE}."),
        ("support_email", "Het merkteam is bereikbaar via {DOMAIN} of {HANDLE}."),
        ("support_email", "Factuur {INVOICE} van {PRICE} vervalt op {DATE}."),
        ("csv_cell", "{SKU};{GTIN};{PRICE};{PCT}"),
        ("csv_cell", "{DATE};{ADID};{NUM}"),
        ("csv_cell", "{ORDER}"),
    ],
    "ja": [
        ("campaign_name", "{CAMPAIGN}"),
        ("campaign_name", "JP_抹茶_SP_Phrase_{RANGE}"),
        ("marketing_copy", "{PRODUCT}が今だけ{PCT}オフ、{PRICE}！"),
        ("marketing_copy", "詳しくは {URL} をご覧ください。"),
        ("reviewer_note", "注文{ORDER}は{DATE}に発送済み、追跡番号{TRACK}。"),
        ("reviewer_note", "広告ID {ADID} の配信が計画比{PCT}不足。"),
        ("reviewer_note", "GTIN {GTIN} は ASIN {ASIN} に対応。"),
        ("reviewer_note", "参照番号 {BADCARD} は予約番号であり、カード番号ではありません。"),
        ("correction", "修正: 予算は{PRICE}ではなく{PRICE}です（期間 {RANGE}）。"),
        ("support_email", "ブランドチームへは {DOMAIN} または {HANDLE} からご連絡ください。"),
        ("support_email", "請求書{INVOICE}、金額{PRICE}、支払期限{DATE}。"),
        ("csv_cell", "{SKU},{GTIN},{PRICE},{PCT}"),
        ("csv_cell", "{DATE},{ADID},{NUM}"),
        ("csv_cell", "{ORDER}"),
    ],
    "pl": [
        ("campaign_name", "{CAMPAIGN}"),
        ("campaign_name", "{CAMPAIGN} | grupa {CAMPAIGN}"),
        ("marketing_copy", "Oszczędź {PCT} na {PRODUCT}, teraz {PRICE}."),
        ("marketing_copy", "Nowość: {PRODUCT}, dostępne {RANGE}. Więcej na {URL}"),
        ("reviewer_note", "Zamówienie {ORDER} wysłane {DATE}, numer przesyłki {TRACK}."),
        ("reviewer_note", "Reklama {ADID} jest {PCT} poniżej planu."),
        ("reviewer_note", "GTIN {GTIN} odpowiada ASIN {ASIN}."),
        ("reviewer_note", "Numer {BADCARD} to numer rezerwacji, nie karta."),
        ("correction", "Poprawka: budżet {RANGE} to {PRICE}, nie {PRICE}."),
        ("support_email", "Z zespołem marki skontaktujesz się przez {DOMAIN} lub {HANDLE}."),
        ("support_email", "Faktura {INVOICE} na {PRICE}, termin {DATE}."),
        ("csv_cell", "{SKU};{GTIN};{PRICE};{PCT}"),
        ("csv_cell", "{DATE};{ADID};{NUM}"),
        ("csv_cell", "{ORDER}"),
    ],
    "sv": [
        ("campaign_name", "{CAMPAIGN}"),
        ("campaign_name", "{CAMPAIGN} | annonsgrupp {CAMPAIGN}"),
        ("marketing_copy", "Spara {PCT} på {PRODUCT}, nu {PRICE}."),
        ("marketing_copy", "Nyhet: {PRODUCT}, finns {RANGE}. Läs mer på {URL}"),
        ("reviewer_note", "Order {ORDER} skickad {DATE}, spårningsnummer {TRACK}."),
        ("reviewer_note", "Annons {ADID} levererar {PCT} under plan."),
        ("reviewer_note", "GTIN {GTIN} motsvarar ASIN {ASIN}."),
        ("reviewer_note", "Referensen {BADCARD} är ett bokningsnummer, inte ett kort."),
        ("correction", "Rättelse: budgeten {RANGE} är {PRICE}, inte {PRICE}."),
        ("support_email", "Varumärkesteamet nås via {DOMAIN} eller {HANDLE}."),
        ("support_email", "Faktura {INVOICE} på {PRICE} förfaller {DATE}."),
        ("csv_cell", "{SKU};{GTIN};{PRICE};{PCT}"),
        ("csv_cell", "{DATE};{ADID};{NUM}"),
        ("csv_cell", "{ORDER}"),
    ],
}

# primary entity type of a positive string and the placeholders that realise it
PRIMARY = {
    "EMAIL_ADDRESS": ("EMAIL",),
    "PHONE_NUMBER": ("PHONE", "PHONE_INTL", "PHONE_EXT", "PHONE_US", "PHONE_UK"),
    "CREDIT_CARD": ("CARD",),
    "IBAN_CODE": ("IBAN", "IBAN_C"),
    "US_SSN": ("SSN",),
    "IP_ADDRESS": ("IP", "IP6"),
    "STREET_ADDRESS": ("ADDR", "ADDR_FULL", "ADDR_US", "ADDR_UK", "ADDR_DE", "ADDR_FR"),
}
PRIMARY_WEIGHTS = {
    "EMAIL_ADDRESS": 19,
    "PHONE_NUMBER": 22,
    "CREDIT_CARD": 21,
    "IBAN_CODE": 10,
    "US_SSN": 7,
    "IP_ADDRESS": 10,
    "STREET_ADDRESS": 11,
}


def templates_with(lang: str, etype: str) -> list[tuple[str, str]]:
    names = PRIMARY[etype]
    return [t for t in POS[lang] if any("{" + n + "}" in t[1] for n in names)]


# ---------------------------------------------------------------------------
# independent sanity scan: any obvious PII the labels do not cover is a bug in the generator
# ---------------------------------------------------------------------------

EMAIL_SCAN = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", re.UNICODE)
DIGITRUN_SCAN = re.compile(r"(?<![\w])\d(?:[ -]?\d){12,18}(?![\w])")
IBAN_SCAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){10,30}\b")
IPV4_SCAN = re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d.])")


def covered(ents: list[dict], s: int, e: int) -> bool:
    return any(x["start"] < e and s < x["end"] for x in ents)


def check_records(records: list[dict]) -> list[str]:
    errors: list[str] = []
    ids = set()
    for rec in records:
        rid, text, ents = rec["id"], rec["text"], rec["entities"]
        if rid in ids:
            errors.append(f"{rid}: duplicate id")
        ids.add(rid)
        if set(rec) != {"id", "text", "lang", "kind", "entities"}:
            errors.append(f"{rid}: bad keys {sorted(rec)}")
        if rec["lang"] not in LANGS:
            errors.append(f"{rid}: bad lang")
        prev_end = -1
        for x in sorted(ents, key=lambda y: y["start"]):
            if set(x) != {"type", "start", "end", "value"} or x["type"] not in TYPES:
                errors.append(f"{rid}: bad entity {x}")
                continue
            if text[x["start"] : x["end"]] != x["value"]:
                errors.append(f"{rid}: span mismatch {x}")
            if x["value"] != x["value"].strip() or not x["value"]:
                errors.append(f"{rid}: span has outer whitespace {x}")
            if x["start"] < prev_end:
                errors.append(f"{rid}: overlapping spans")
            prev_end = x["end"]
            v = x["value"]
            if x["type"] == "CREDIT_CARD":
                d = re.sub(r"[ -]", "", v)
                if not (d.isdigit() and 13 <= len(d) <= 19 and luhn_ok(d)):
                    errors.append(f"{rid}: card fails Luhn {v}")
            elif x["type"] == "IBAN_CODE":
                if not iban_ok(v):
                    errors.append(f"{rid}: IBAN check digits wrong {v}")
            elif x["type"] == "US_SSN":
                m = re.fullmatch(r"(\d{3})-(\d{2})-(\d{4})", v)
                if (
                    not m
                    or m.group(1) in ("000", "666")
                    or int(m.group(1)) >= 900
                    or m.group(2) == "00"
                    or m.group(3) == "0000"
                ):
                    errors.append(f"{rid}: invalid SSN {v}")
            elif x["type"] == "EMAIL_ADDRESS":
                if not re.fullmatch(r"[^\s@]+@[^\s@]+\.[^\s@]+", v) or v[-1] in ".,;:)>":
                    errors.append(f"{rid}: bad email {v}")
            elif (
                x["type"] == "IP_ADDRESS"
                and ":" not in v
                and not (re.fullmatch(r"(\d{1,3}\.){3}\d{1,3}", v) and all(int(p) < 256 for p in v.split(".")))
            ):
                errors.append(f"{rid}: bad IPv4 {v}")
        # unlabeled look-alikes that ARE valid PII would make the set wrong
        for m in EMAIL_SCAN.finditer(text):
            if m.group().endswith((".", "-")):
                continue
            if not covered(ents, m.start(), m.end()) and "/@" not in text[max(0, m.start() - 1) : m.end()]:
                errors.append(f"{rid}: unlabeled e-mail-like {m.group()!r}")
        for m in DIGITRUN_SCAN.finditer(text):
            d = re.sub(r"[ -]", "", m.group())
            if luhn_ok(d) and not covered(ents, m.start(), m.end()):
                # a Luhn-valid run in a hard negative (GTIN, ad ID, tracking) is forbidden by construction
                errors.append(f"{rid}: unlabeled Luhn-valid digit run {m.group()!r}")
        for m in IBAN_SCAN.finditer(text):
            if iban_ok(m.group()) and not covered(ents, m.start(), m.end()):
                errors.append(f"{rid}: unlabeled valid IBAN {m.group()!r}")
        for m in IPV4_SCAN.finditer(text):
            if all(int(p) < 256 for p in m.group().split(".")) and not covered(ents, m.start(), m.end()):
                errors.append(f"{rid}: unlabeled IPv4 {m.group()!r}")
    return errors


# ---------------------------------------------------------------------------
# main
# ---------------------------------------------------------------------------


def build() -> list[dict]:
    records = []
    n_neg = round(TOTAL * NEG_SHARE)
    flags = [False] * n_neg + [True] * (TOTAL - n_neg)
    R.shuffle(flags)
    etypes = list(PRIMARY_WEIGHTS)
    weights = [PRIMARY_WEIGHTS[t] for t in etypes]
    for i, positive in enumerate(flags):
        if positive:
            etype = R.choices(etypes, weights=weights)[0]
            langs = [(lg, w) for lg, w in zip(LANGS, LANG_WEIGHTS, strict=False) if templates_with(lg, etype)]
            lang = R.choices([lg for lg, _ in langs], weights=[w for _, w in langs])[0]
            kind, tpl = R.choice(templates_with(lang, etype))
        else:
            lang = R.choices(LANGS, weights=LANG_WEIGHTS)[0]
            kind, tpl = R.choice(NEG[lang])
        text, ents = render(tpl, lang)
        assert bool(ents) == positive, (tpl, text)
        records.append({"id": f"pii-{i + 1:04d}", "text": text, "lang": lang, "kind": kind, "entities": ents})
    return records


def summary(records: list[dict]) -> str:
    by_type = Counter(x["type"] for r in records for x in r["entities"])
    strings_by_lang = Counter(r["lang"] for r in records)
    neg_by_lang = Counter(r["lang"] for r in records if not r["entities"])
    ent_by_lang_type = Counter((r["lang"], x["type"]) for r in records for x in r["entities"])
    kinds = Counter(r["kind"] for r in records)
    n_neg = sum(1 for r in records if not r["entities"])
    lines = [
        f"strings: {len(records)}, without PII: {n_neg} ({n_neg / len(records):.1%}), "
        f"with several entities: {sum(1 for r in records if len(r['entities']) > 1)}",
        "entities: " + ", ".join(f"{t}={by_type[t]}" for t in TYPES),
        "kinds: " + ", ".join(f"{k}={v}" for k, v in sorted(kinds.items())),
        "",
        "| lang | strings | no PII | " + " | ".join(TYPES) + " |",
        "|---" * (3 + len(TYPES)) + "|",
    ]
    for lang in LANGS:
        lines.append(
            f"| {lang} | {strings_by_lang[lang]} | {neg_by_lang[lang]} | "
            + " | ".join(str(ent_by_lang_type[(lang, t)]) for t in TYPES)
            + " |"
        )
    lines.append(f"| all | {len(records)} | {n_neg} | " + " | ".join(str(by_type[t]) for t in TYPES) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="verify the existing pii_set.jsonl instead of writing it")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)
    if args.check:
        records = [json.loads(line) for line in args.out.read_text(encoding="utf-8").splitlines() if line.strip()]
    else:
        records = build()
    errors = check_records(records)
    if errors:
        print("\n".join(errors[:50]), file=sys.stderr)
        print(f"{len(errors)} errors", file=sys.stderr)
        return 1
    if not args.check:
        with args.out.open("w", encoding="utf-8", newline="\n") as fh:
            for rec in records:
                fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
    print(summary(records))
    return 0


if __name__ == "__main__":
    sys.exit(main())
