# ruff: noqa: E501
"""Write the labeled PII set (bench/pii_set/pii_set_v1.jsonl): marketing copy, campaign names and reviewer notes in
en, de, fr, es, it, pt, nl and ja, with and without personal data, every personal value labeled by its span.

The values follow the countries' numbering plans and the card and IBAN check digits as people write them (national
and international phone formats, cards in groups or run together, IBANs grouped by four or not), and the strings
without personal data carry the numbers that retail media text is full of (budgets, SKUs, EAN barcodes, long
campaign ids, dates, ROAS), so that precision means something. Written before the recognizers were tuned; the
generator is seeded, so the file is reproducible:

    python bench/pii_set/make_set.py            # rewrites bench/pii_set/pii_set_v1.jsonl

Each line: {"id", "lang", "kind", "text", "spans": [{"start", "end", "entity"}]}; entities are EMAIL_ADDRESS,
PHONE_NUMBER, CREDIT_CARD, IBAN_CODE, US_SSN, IP_ADDRESS and STREET_ADDRESS.
"""

from __future__ import annotations

import json
import random
import re
import string
from pathlib import Path

OUT = Path(__file__).with_name("pii_set_v1.jsonl")
LANGS = ("en", "de", "fr", "es", "it", "pt", "nl", "ja")

FIRST = ["anna", "john", "maria", "lukas", "chloe", "javier", "giulia", "joao", "sanne", "taro", "emma", "pierre",
         "sofia", "jan", "lucia", "hiroshi", "olivia", "max", "ines", "marco"]  # fmt: skip
LAST = ["smith", "mueller", "dubois", "garcia", "rossi", "silva", "devries", "tanaka", "brown", "schmidt", "martin",
        "lopez", "bianchi", "santos", "jansen", "suzuki"]  # fmt: skip
DOMAINS = {
    "en": ["gmail.com", "outlook.com", "acmefoods.com", "agency.co.uk", "yahoo.com", "brand-team.io"],
    "de": ["web.de", "gmx.de", "t-online.de", "acme-lebensmittel.de", "firma.com"],
    "fr": ["orange.fr", "free.fr", "laposte.net", "marque-exemple.fr"],
    "es": ["gmail.com", "telefonica.es", "empresa.es", "hotmail.es"],
    "it": ["libero.it", "tiscali.it", "azienda.it", "gmail.com"],
    "pt": ["sapo.pt", "gmail.com", "empresa.com.br", "uol.com.br"],
    "nl": ["ziggo.nl", "kpnmail.nl", "bedrijf.nl", "hotmail.nl"],
    "ja": ["yahoo.co.jp", "gmail.com", "docomo.ne.jp", "example.co.jp"],
}


def email(rng: random.Random, lang: str) -> str:
    f, last = rng.choice(FIRST), rng.choice(LAST)
    local = rng.choice([f"{f}.{last}", f"{f[0]}{last}", f"{f}_{last}{rng.randint(1, 99)}", f"{f}+promo",
                        f"{f}.{last}{rng.randint(70, 99)}", f"{last}.{f[0]}", f"{f.capitalize()}.{last.capitalize()}"])  # fmt: skip
    return f"{local}@{rng.choice(DOMAINS[lang])}"


def _d(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(string.digits) for _ in range(n))


def _us(rng):
    area = f"{rng.randint(2, 9)}{rng.randint(0, 8)}{rng.randint(0, 9)}"
    while area[1:] == "11":
        area = f"{rng.randint(2, 9)}{rng.randint(0, 8)}{rng.randint(0, 9)}"
    exch = f"{rng.randint(2, 9)}{_d(rng, 2)}"
    while exch[1:] == "11" or exch == "555":
        exch = f"{rng.randint(2, 9)}{_d(rng, 2)}"
    line = _d(rng, 4)
    return rng.choice([f"({area}) {exch}-{line}", f"{area}-{exch}-{line}", f"{area}.{exch}.{line}",
                       f"+1 {area} {exch} {line}", f"+1-{area}-{exch}-{line}", f"1-{area}-{exch}-{line}"])  # fmt: skip


def _gb(rng):
    mob = f"7{rng.choice('4579')}{_d(rng, 2)}"
    rest = _d(rng, 6)
    london = f"20 7{_d(rng, 3)} {_d(rng, 4)}"
    return rng.choice([f"0{mob} {rest}", f"+44 {mob} {rest}", f"+44 (0){mob} {rest}", f"0{london}", f"+44 {london}"])


def _de(rng):
    mob = f"1{rng.choice(['51', '52', '57', '60', '62', '70', '71', '72', '76'])}"
    sub = _d(rng, 8) if mob != "160" else _d(rng, 7)
    city = rng.choice([("30", 8), ("89", 7), ("40", 8), ("221", 7), ("69", 8)])
    num = _d(rng, city[1])
    num = str(rng.randint(2, 9)) + num[1:]
    return rng.choice([f"0{mob} {sub}", f"+49 {mob} {sub}", f"0{mob}-{sub}", f"+49 (0){city[0]} {num}",
                       f"0{city[0]} {num}", f"0{city[0]}/{num}", f"+49 {city[0]} {num}"])  # fmt: skip


def _fr(rng):
    first = rng.choice(["6", "7", "1", "2", "3", "4", "5", "9"])
    if first == "7":
        first += rng.choice("3456789")
    else:
        first += str(rng.randint(1, 9))
    pairs = [first[1] + _d(rng, 1), _d(rng, 2), _d(rng, 2), _d(rng, 2)]
    return rng.choice([f"0{first[0]} {' '.join(pairs)}", f"+33 {first[0]} {' '.join(pairs)}",
                       f"0{first[0]}.{'.'.join(pairs)}", f"+33 (0){first[0]} {' '.join(pairs)}",
                       f"0{first[0]}{''.join(pairs)}"])  # fmt: skip


def _es(rng):
    mob = f"6{_d(rng, 2)}"
    land = f"9{rng.choice('1345')}"
    return rng.choice([f"{mob} {_d(rng, 3)} {_d(rng, 3)}", f"+34 {mob} {_d(rng, 2)} {_d(rng, 2)} {_d(rng, 2)}",
                       f"+34 {mob}{_d(rng, 6)}", f"{land} {_d(rng, 3)} {_d(rng, 2)} {_d(rng, 2)}"])  # fmt: skip


def _it(rng):
    mob = f"3{rng.choice(['20', '28', '33', '35', '38', '40', '47', '49', '66', '88', '91'])}"
    return rng.choice([f"{mob} {_d(rng, 3)} {_d(rng, 4)}", f"+39 {mob} {_d(rng, 7)}", f"+39 02 {_d(rng, 4)} {_d(rng, 4)}",
                       f"06 {_d(rng, 4)} {_d(rng, 4)}", f"+39 {mob}{_d(rng, 7)}"])  # fmt: skip


def _pt(rng):
    mob = f"9{rng.choice('1236')}{_d(rng, 1)}"
    br = f"{rng.choice(['11', '21', '31', '41', '51'])} 9{_d(rng, 4)}-{_d(rng, 4)}"
    return rng.choice([f"{mob} {_d(rng, 3)} {_d(rng, 3)}", f"+351 {mob} {_d(rng, 3)} {_d(rng, 3)}",
                       f"21 {_d(rng, 3)} {_d(rng, 4)}", f"+55 {br}", f"({br[:2]}) {br[3:]}"])  # fmt: skip


def _nl(rng):
    return rng.choice([f"06-{_d(rng, 8)}", f"+31 6 {_d(rng, 8)}", f"06 {_d(rng, 2)} {_d(rng, 2)} {_d(rng, 2)} {_d(rng, 2)}",
                       f"020 {rng.randint(2, 9)}{_d(rng, 2)} {_d(rng, 4)}", f"+31 20 {rng.randint(2, 9)}{_d(rng, 2)} {_d(rng, 4)}",
                       f"010-{rng.randint(2, 9)}{_d(rng, 6)}"])  # fmt: skip


def _jp(rng):
    mob = rng.choice(["090", "080", "070"])
    return rng.choice([f"{mob}-{rng.randint(1, 9)}{_d(rng, 3)}-{_d(rng, 4)}", f"+81 {mob[1:]}-{rng.randint(1, 9)}{_d(rng, 3)}-{_d(rng, 4)}",
                       f"03-{rng.randint(3, 6)}{_d(rng, 3)}-{_d(rng, 4)}", f"+81 3 {rng.randint(3, 6)}{_d(rng, 3)} {_d(rng, 4)}",
                       f"06-{rng.randint(6, 6)}{_d(rng, 3)}-{_d(rng, 4)}"])  # fmt: skip


PHONES = {"en": [_us, _us, _gb], "de": [_de], "fr": [_fr], "es": [_es], "it": [_it], "pt": [_pt], "nl": [_nl],
          "ja": [_jp]}  # fmt: skip


def _luhn_complete(prefix: str, length: int, rng: random.Random) -> str:
    body = prefix + _d(rng, length - len(prefix) - 1)
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            d -= 9 if d > 9 else 0
        total += d
    return body + str((10 - total % 10) % 10)


def card(rng: random.Random) -> str:
    kind = rng.choice(["visa", "visa", "mc", "mc2", "amex", "discover", "jcb"])
    if kind == "amex":
        n = _luhn_complete(rng.choice(["34", "37"]), 15, rng)
        return rng.choice([f"{n[:4]} {n[4:10]} {n[10:]}", f"{n[:4]}-{n[4:10]}-{n[10:]}", n])
    prefix = {"visa": "4", "mc": str(rng.randint(51, 55)), "mc2": str(rng.randint(2221, 2720)), "discover": "6011",
              "jcb": str(rng.randint(3528, 3589))}[kind]  # fmt: skip
    n = _luhn_complete(prefix, 16, rng)
    groups = [n[i : i + 4] for i in range(0, 16, 4)]
    return rng.choice([" ".join(groups), "-".join(groups), n])


IBAN_BBAN = {"DE": lambda r: _d(r, 18), "FR": lambda r: _d(r, 23), "ES": lambda r: _d(r, 20),
             "IT": lambda r: r.choice(string.ascii_uppercase) + _d(r, 22), "NL": lambda r: "".join(
                 r.choice(string.ascii_uppercase) for _ in range(4)) + _d(r, 10),
             "PT": lambda r: _d(r, 21), "GB": lambda r: "".join(r.choice(string.ascii_uppercase) for _ in range(4))
             + _d(r, 14), "BE": lambda r: _d(r, 12)}  # fmt: skip
IBAN_COUNTRY = {"en": ["GB", "DE", "BE"], "de": ["DE"], "fr": ["FR", "BE"], "es": ["ES"], "it": ["IT"], "pt": ["PT"],
                "nl": ["NL", "BE"], "ja": ["DE", "GB"]}  # fmt: skip


def iban(rng: random.Random, lang: str) -> str:
    country = rng.choice(IBAN_COUNTRY[lang])
    bban = IBAN_BBAN[country](rng)
    rearranged = bban + country + "00"
    number = int("".join(str(int(c, 36)) for c in rearranged))
    check = 98 - number % 97
    value = f"{country}{check:02d}{bban}"
    return " ".join(value[i : i + 4] for i in range(0, len(value), 4)) if rng.random() < 0.6 else value


def ssn(rng: random.Random) -> str:
    area = rng.choice([a for a in range(1, 900) if (a != 666 and a < 666) or 667 <= a < 900])
    s = f"{area:03d}-{rng.randint(1, 99):02d}-{rng.randint(1, 9999):04d}"
    return s if rng.random() < 0.8 else s.replace("-", " ")


def ip(rng: random.Random) -> str:
    if rng.random() < 0.75:
        return ".".join(str(x) for x in (rng.choice([23, 45, 62, 81, 93, 104, 151, 172, 185, 203]), rng.randint(0, 255),
                                           rng.randint(0, 255), rng.randint(1, 254)))  # fmt: skip
    return "2001:db8:" + ":".join(f"{rng.randint(0, 65535):x}" for _ in range(6))


STREETS = {
    "en": ["{n} Maple Avenue", "{n} Oak Street", "{n} Sunset Boulevard", "{n} Elm St.", "{n} Market Road",
           "{n} Baker Street", "{n} Kings Road", "{n} Lakeview Drive"],
    "de": ["Hauptstraße {n}", "Berliner Str. {n}", "Lindenallee {n}", "Goethestraße {n}a", "Am Markt {n}",
           "Schillerweg {n}"],
    "fr": ["{n} rue de la Paix", "{n} avenue Victor Hugo", "{n} boulevard Haussmann", "{n} rue des Lilas",
           "{n}, place Bellecour"],
    "es": ["Calle Mayor {n}", "Avenida de América {n}", "Calle de Alcalá {n}", "Paseo de Gracia {n}",
           "C/ Serrano {n}"],
    "it": ["Via Roma {n}", "Via Garibaldi {n}", "Corso Vittorio Emanuele {n}", "Piazza Duomo {n}",
           "Viale Monza {n}"],
    "pt": ["Rua Augusta {n}", "Avenida da Liberdade {n}", "Rua das Flores {n}", "Av. Paulista {n}",
           "Travessa do Carmo {n}"],
    "nl": ["Kerkstraat {n}", "Prinsengracht {n}", "Dorpsweg {n}", "Stationsplein {n}", "Julianalaan {n}"],
    "ja": ["東京都渋谷区神南{a}-{b}-{c}", "大阪府大阪市北区梅田{a}-{b}-{c}", "東京都千代田区丸の内{a}-{b}-{c}",
           "神奈川県横浜市中区山下町{n}"],
}


def street(rng: random.Random, lang: str) -> str:
    return rng.choice(STREETS[lang]).format(n=rng.randint(1, 400), a=rng.randint(1, 9), b=rng.randint(1, 30),
                                            c=rng.randint(1, 20))  # fmt: skip


# Templates: {EMAIL} {PHONE} {CARD} {IBAN} {SSN} {IP} {ADDRESS} become labeled values; {NUM:...} fillers are not PII.
TEMPLATES: dict[str, dict[str, list[str]]] = {
    "en": {
        "copy": [
            "Crunchy granola, now 20% off! Questions? Call us at {PHONE} or write to {EMAIL}.",
            "Fresh picks every week. Visit our flagship store at {ADDRESS} and save $5 on orders over $40.",
            "New Acme oat bars: 12 g protein, 190 kcal. Order by phone: {PHONE}.",
            "Spring sale: buy 2 get 1 free on all cereals through 2026-04-30.",
            "Try the new cold brew, only $3.99 per can, available at 1,250 stores nationwide.",
            "Win a year of snacks! Enter by texting SNACK to 40404 before May 31.",
            "Family size 24 oz box, SKU {EAN}, now in the value aisle.",
        ],
        "campaign": [
            "SP_Granola_Q3_2026_{EMAIL}",
            "acme-brand-exact-2026Q2-{CID}",
            "Roundel_Display_Offsite_Video_CTV_0415",
            "CMP-2026-0415-001 | Walmart SBA | budget {AMT}",
            "retarget_list_{PHONE}_lookalike",
            "Kroger PM Onsite - campaign {CID}",
            "Instacart_Featured_{IP}_test",
        ],
        "note": [
            "Customer {EMAIL} complained the coupon failed; card on file {CARD}, refund issued.",
            "Reviewer: headline violates policy (health claim). Contact the brand manager at {PHONE}.",
            "Shopper gave SSN {SSN} by mistake in the survey free text; please purge.",
            "Request from IP {IP} flagged for bot traffic; clicks excluded from the 2026-03 report.",
            "Invoice paid to IBAN {IBAN}; amount $12,480.00, PO {CID}.",
            "ROAS 3.2 vs target 3.0; raise bids 15% on the top 40 SKUs.",
            "Approved. Minor edit: replace 'best' with 'great' (claim substantiation pending).",
            "Ship the sample to {ADDRESS}, attention Anna, phone {PHONE}.",
            "Paid with {CARD} exp 09/28; receipt sent to {EMAIL}.",
            "Chargeback on card {CARD}; shopper SSN {SSN} must not be stored.",
            "W-9 on file for the influencer, SSN {SSN}, paid $1,200.",
            "Order {ORDER} shipped; tracking 1Z999AA1{CID}.",
        ],
    },
    "de": {
        "copy": [
            "Knuspriges Müsli jetzt 20 % günstiger! Fragen? Rufen Sie uns an unter {PHONE}.",
            "Besuchen Sie unseren Laden in der {ADDRESS}, 10115 Berlin – jeden Samstag Verkostung.",
            "Neu: Hafer-Riegel mit 12 g Eiweiß, nur 1,99 € im Angebot bis 30.04.2026.",
            "Schreiben Sie uns: {EMAIL} – wir antworten innerhalb von 24 Stunden.",
            "Familienpackung 750 g, Artikelnummer {EAN}, ab sofort im Regal.",
        ],
        "campaign": [
            "SP_Muesli_DE_Q3_2026_exakt",
            "Kampagne_{EMAIL}_Newsletter",
            "Otto_Display_Retargeting_2026-05 Budget 12.500 €",
            "Rewe_Onsite_{PHONE}_Rückruf",
            "Kaufland SB 2026 KW18 ID {CID}",
        ],
        "note": [
            "Kundin {EMAIL} meldet fehlerhaften Gutschein, Karte {CARD} wurde belastet.",
            "Bitte Rückruf an {PHONE}, Frau Müller, wegen der Reklamation.",
            "Überweisung auf IBAN {IBAN} erfolgt, Betrag 8.450,00 €.",
            "Anfrage von {IP} als Bot markiert, Klicks aus dem Bericht entfernt.",
            "Freigegeben, aber 'gesündeste' streichen (Health Claim).",
            "ROAS 2,8 statt Ziel 3,0 – Gebote für die Top-50-Artikel um 10 % senken.",
            "Muster bitte an {ADDRESS} senden, Tel. {PHONE}.",
            "Rückbuchung auf Kreditkarte {CARD}, Kunde informiert.",
        ],
    },
    "fr": {
        "copy": [
            "Granola croustillant à -20 % ! Une question ? Appelez le {PHONE}.",
            "Retrouvez-nous au {ADDRESS}, 75002 Paris, dégustation le samedi.",
            "Nouvelle barre d'avoine : 12 g de protéines, 1,99 € seulement jusqu'au 30/04/2026.",
            "Écrivez-nous à {EMAIL}, réponse sous 24 h.",
            "Format familial 750 g, code EAN {EAN}, en rayon dès maintenant.",
        ],
        "campaign": [
            "SP_Granola_FR_T3_2026",
            "Carrefour_Links_{EMAIL}_CRM",
            "Fnac_Display_Retargeting budget 15 000 €",
            "Leclerc_{PHONE}_rappel",
            "Campagne Monoprix S18 ID {CID}",
        ],
        "note": [
            "La cliente {EMAIL} signale un bon de réduction refusé ; carte {CARD} débitée.",
            "Merci de rappeler le {PHONE} au sujet de la réclamation.",
            "Virement effectué sur l'IBAN {IBAN}, montant 8 450,00 €.",
            "Requête depuis {IP} marquée comme robot.",
            "Validé, mais retirer « le plus sain » (allégation santé).",
            "ROAS de 2,8 contre un objectif de 3,0 : baisser les enchères de 10 %.",
            "Envoyer l'échantillon au {ADDRESS}, tél. {PHONE}.",
            "Rétrofacturation sur la carte {CARD}, client prévenu.",
        ],
    },
    "es": {
        "copy": [
            "¡Granola crujiente con un 20 % de descuento! ¿Dudas? Llámanos al {PHONE}.",
            "Visítanos en {ADDRESS}, 28013 Madrid, degustación los sábados.",
            "Nueva barrita de avena: 12 g de proteína, solo 1,99 € hasta el 30/04/2026.",
            "Escríbenos a {EMAIL} y te respondemos en 24 horas.",
            "Formato familiar 750 g, código {EAN}, ya en tienda.",
        ],
        "campaign": [
            "SP_Granola_ES_T3_2026",
            "Mercadona_{EMAIL}_boletin",
            "ElCorteIngles_Display presupuesto 12.000 €",
            "Dia_{PHONE}_llamada",
            "Campaña Carrefour ES S18 ID {CID}",
        ],
        "note": [
            "La clienta {EMAIL} dice que el cupón falló; se cargó la tarjeta {CARD}.",
            "Por favor, devolver la llamada al {PHONE} por la reclamación.",
            "Transferencia a la IBAN {IBAN}, importe 8.450,00 €.",
            "Petición desde {IP} marcada como bot.",
            "Aprobado, pero quitar 'el más sano' (alegación de salud).",
            "ROAS 2,8 frente a objetivo 3,0: bajar pujas un 10 %.",
            "Enviar la muestra a {ADDRESS}, tel. {PHONE}.",
            "Contracargo en la tarjeta {CARD}, cliente avisado.",
        ],
    },
    "it": {
        "copy": [
            "Granola croccante al 20 % di sconto! Domande? Chiamaci al {PHONE}.",
            "Vieni a trovarci in {ADDRESS}, 20121 Milano, degustazione il sabato.",
            "Nuova barretta d'avena: 12 g di proteine, solo 1,99 € fino al 30/04/2026.",
            "Scrivici a {EMAIL}, rispondiamo entro 24 ore.",
            "Formato famiglia 750 g, codice {EAN}, ora a scaffale.",
        ],
        "campaign": [
            "SP_Granola_IT_T3_2026",
            "Esselunga_{EMAIL}_newsletter",
            "Coop_Display budget 12.000 €",
            "Conad_{PHONE}_richiamata",
            "Campagna Carrefour IT S18 ID {CID}",
        ],
        "note": [
            "La cliente {EMAIL} segnala un coupon rifiutato; addebitata la carta {CARD}.",
            "Richiamare il {PHONE} per il reclamo, grazie.",
            "Bonifico sull'IBAN {IBAN}, importo 8.450,00 €.",
            "Richiesta da {IP} segnalata come bot.",
            "Approvato, ma togliere 'il più sano' (claim salutistico).",
            "ROAS 2,8 contro obiettivo 3,0: abbassare le offerte del 10 %.",
            "Spedire il campione in {ADDRESS}, tel. {PHONE}.",
            "Storno sulla carta {CARD}, cliente avvisato.",
        ],
    },
    "pt": {
        "copy": [
            "Granola crocante com 20 % de desconto! Dúvidas? Ligue para {PHONE}.",
            "Visite-nos na {ADDRESS}, 1100-048 Lisboa, degustação aos sábados.",
            "Nova barra de aveia: 12 g de proteína, só 1,99 € até 30/04/2026.",
            "Escreva-nos para {EMAIL}, respondemos em 24 horas.",
            "Embalagem familiar 750 g, código {EAN}, já na loja.",
        ],
        "campaign": [
            "SP_Granola_PT_T3_2026",
            "Continente_{EMAIL}_newsletter",
            "PingoDoce_Display orçamento 12.000 €",
            "Worten_{PHONE}_chamada",
            "Campanha Auchan PT S18 ID {CID}",
        ],
        "note": [
            "A cliente {EMAIL} diz que o cupão falhou; cartão {CARD} debitado.",
            "Por favor ligar de volta para {PHONE} sobre a reclamação.",
            "Transferência para o IBAN {IBAN}, valor 8.450,00 €.",
            "Pedido de {IP} marcado como bot.",
            "Aprovado, mas retirar 'o mais saudável' (alegação de saúde).",
            "ROAS 2,8 contra meta 3,0: baixar lances em 10 %.",
            "Enviar a amostra para {ADDRESS}, tel. {PHONE}.",
            "Estorno no cartão {CARD}, cliente avisado.",
        ],
    },
    "nl": {
        "copy": [
            "Knapperige granola nu 20 % korting! Vragen? Bel ons op {PHONE}.",
            "Kom langs op de {ADDRESS}, 1015 Amsterdam, proeverij op zaterdag.",
            "Nieuwe haverreep: 12 g eiwit, slechts € 1,99 tot 30-04-2026.",
            "Mail ons op {EMAIL}, we reageren binnen 24 uur.",
            "Familieverpakking 750 g, artikelcode {EAN}, nu in het schap.",
        ],
        "campaign": [
            "SP_Granola_NL_Q3_2026",
            "AlbertHeijn_{EMAIL}_nieuwsbrief",
            "Bol_Display budget € 12.000",
            "Jumbo_{PHONE}_terugbellen",
            "Campagne Plus NL W18 ID {CID}",
        ],
        "note": [
            "Klant {EMAIL} meldt dat de coupon niet werkte; kaart {CARD} is belast.",
            "Graag terugbellen naar {PHONE} over de klacht.",
            "Overgemaakt naar IBAN {IBAN}, bedrag € 8.450,00.",
            "Verzoek van {IP} gemarkeerd als bot.",
            "Goedgekeurd, maar 'de gezondste' schrappen (gezondheidsclaim).",
            "ROAS 2,8 tegen doel 3,0: biedingen 10 % omlaag.",
            "Stuur het monster naar {ADDRESS}, tel. {PHONE}.",
            "Terugboeking op creditcard {CARD}, klant ingelicht.",
        ],
    },
    "ja": {
        "copy": [
            "サクサクグラノーラが20%オフ！お問い合わせは{PHONE}まで。",
            "旗艦店：{ADDRESS}。毎週土曜日に試食会を開催。",
            "新発売のオーツバー、たんぱく質12g、2026年4月30日まで198円。",
            "ご質問は {EMAIL} までメールでどうぞ。",
            "ファミリーサイズ750g、JANコード{EAN}、好評発売中。",
        ],
        "campaign": [
            "SP_グラノーラ_JP_2026Q3",
            "楽天_{EMAIL}_メルマガ",
            "イオン_ディスプレイ_予算120万円",
            "ヨドバシ_{PHONE}_折り返し",
            "キャンペーン セブン 2026年18週 ID {CID}",
        ],
        "note": [
            "お客様（{EMAIL}）からクーポンが使えないとの連絡。カード{CARD}に請求済み。",
            "クレームの件で {PHONE} に折り返しお願いします。",
            "振込先IBAN {IBAN}、金額 845,000円。",
            "{IP} からのアクセスをボットとして除外。",
            "承認。ただし「一番健康的」は削除（健康表示）。",
            "ROAS 2.8、目標 3.0。上位50SKUの入札を10%下げる。",
            "サンプルの送付先：{ADDRESS}、電話 {PHONE}。",
            "カード番号{CARD}でチャージバック発生、顧客に連絡済み。",
        ],
    },
}
SLOT = re.compile(r"\{(EMAIL|PHONE|CARD|IBAN|SSN|IP|ADDRESS)\}")
FILLER = re.compile(r"\{(EAN|CID|AMT|ORDER)\}")


def ean13(rng: random.Random) -> str:
    body = rng.choice(["40", "30", "84", "80", "56", "87", "49", "00", "50"]) + _d(rng, 10)
    total = sum(int(c) * (3 if i % 2 else 1) for i, c in enumerate(body))
    return body + str((10 - total % 10) % 10)


def filler(kind: str, rng: random.Random) -> str:
    """Numbers that are not personal data: barcodes, campaign and order ids, budgets."""
    if kind == "EAN":
        return ean13(rng)
    if kind == "CID":
        return _d(rng, rng.choice([8, 10, 12, 14, 15, 16])).lstrip("0") or "1"
    if kind == "AMT":
        return rng.choice([f"{rng.randint(1, 500) * 500}", f"{rng.randint(1, 90)},{rng.randint(0, 999):03d}",
                           f"${rng.randint(1, 90)},{rng.randint(0, 999):03d}.00"])  # fmt: skip
    return f"{rng.randint(100, 999)}-{_d(rng, 7)}-{_d(rng, 7)}"
ENTITY = {"EMAIL": "EMAIL_ADDRESS", "PHONE": "PHONE_NUMBER", "CARD": "CREDIT_CARD", "IBAN": "IBAN_CODE",
          "SSN": "US_SSN", "IP": "IP_ADDRESS", "ADDRESS": "STREET_ADDRESS"}  # fmt: skip


def fill(template: str, lang: str, rng: random.Random) -> tuple[str, list[dict]]:
    template = FILLER.sub(lambda m: filler(m.group(1), rng), template)
    out, spans, pos = [], [], 0
    length = 0
    for m in SLOT.finditer(template):
        before = template[pos : m.start()]
        out.append(before)
        length += len(before)
        slot = m.group(1)
        value = {
            "EMAIL": lambda: email(rng, lang),
            "PHONE": lambda: rng.choice(PHONES[lang])(rng),
            "CARD": lambda: card(rng),
            "IBAN": lambda: iban(rng, lang),
            "SSN": lambda: ssn(rng),
            "IP": lambda: ip(rng),
            "ADDRESS": lambda: street(rng, lang),
        }[slot]()
        spans.append({"start": length, "end": length + len(value), "entity": ENTITY[slot]})
        out.append(value)
        length += len(value)
        pos = m.end()
    out.append(template[pos:])
    return "".join(out), spans


def build(seed: int = 19, per_template: int = 5) -> list[dict]:
    rng = random.Random(seed)
    rows = []
    for lang in LANGS:
        for kind, templates in TEMPLATES[lang].items():
            for template in templates:
                # a template without slots is written once: its copies would be the same string
                copies = per_template if SLOT.search(template) or FILLER.search(template) else 1
                for _ in range(copies):
                    text, spans = fill(template, lang, rng)
                    rows.append({"id": f"{lang}-{len(rows):04d}", "lang": lang, "kind": kind, "text": text,
                                 "spans": spans})  # fmt: skip
    return rows


def main() -> None:
    rows = build()
    with OUT.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    with_pii = sum(1 for r in rows if r["spans"])
    print(f"wrote {len(rows)} strings ({with_pii} with personal data) to {OUT}")


if __name__ == "__main__":
    main()
