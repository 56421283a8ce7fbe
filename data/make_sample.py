#!/usr/bin/env python3
"""Generate seqlab's small synthetic NER sample corpus.

Everything here is invented by the seqlab authors: templates, name lists and
sentences.  No real corpus is used.  The output is deterministic (seeded
``random.Random(13)``), so running the script twice gives byte-identical files.

Writes, next to this script:
  train.txt, dev.txt, test.txt   CoNLL-2003 style columns: token POS chunk NER
                                 (IOB2 tags, blank line after each sentence)
  sample_input.txt               20 raw tokenised sentences, one per line

Dev and test draw most person / organisation / location names from held-out
pools that never appear in train, so a model has to rely on context and word
shape rather than memorised names.

Usage:  python data/make_sample.py
"""

from __future__ import annotations

import random
import re
from pathlib import Path

OUT_DIR = Path(__file__).resolve().parent
SEED = 13
N_TRAIN, N_DEV, N_TEST, N_SAMPLE_INPUT = 400, 100, 100, 20
P_HELDOUT = 0.8  # dev/test: chance an entity is drawn from the held-out pool
P_SHORT, P_LONG = 0.08, 0.04

# --------------------------------------------------------------------------
# Name pools.  "train" pools feed train.txt; "heldout" pools feed mostly
# dev/test (and all of sample_input.txt).  The two never share a string.
# --------------------------------------------------------------------------
FIRST = {
    "train": """Anna Peter Lukas Sofia Marco Elena Tomas Ingrid Rafael Chloe Dmitri
        Hana Kwame Yusuf Aiko Liam Nadia Oskar Priya Mateo Greta Samuel Leila
        Viktor Amara Jonas Irene Felix Carmen Henrik Zora Daniel Olga Tariq
        Beatriz Emil Naomi Kenji Rosa Adrian Mira Stefan Lucia Omar Freya Pablo
        Yara Nikolai Clara Hugo""".split(),
    "heldout": """Maria Lars Ewa Joaquin Saskia Bruno Anouk Teodor Ines Malik Yuki
        Fiona Radek Selin Arjun Kasia Tobias Lena Emeka Astrid Gustavo Mei Ruben
        Noor Piotr Vera Idris Elif Marius Paola""".split(),
}
LAST = {
    "train": """Weber Novak Moreau Rossi Haddad Okafor Brennan Kowalski Tanaka Silva
        Jansen Lindgren Petrov Castillo Mwangi Fischer Dubois Horvat Nakamura
        Alvarez Kaplan Osei Varga Eriksen Costa Bauer Laurent Ferreira Ivanova
        Mendez Schultz Berg Sato Romano Kim Nieminen Adeyemi Hughes Vidal
        Kovac""".split(),
    "heldout": """Lindqvist Szabo Okonkwo Marchetti Hoffmann Delgado Takahashi Haugen
        Popescu Ferraro Kaminski Yilmaz Bergstrom Achterberg Quintero Nyberg Ruiz
        Dragomir Salonen Oyelaran Kristensen Morales Pavlidis Lachance Sorensen
        Bianchi Halvorsen Abara Castell Mikkelsen""".split(),
}
MIDDLE = {
    "train": ["J.", "A.", "van", "da", "de", "al"],
    "heldout": ["K.", "M.", "von", "dos", "del", "bin"],
}
MONONYM = {
    "train": ["Taviano", "Belinho", "Marquinho", "Dadinho", "Rivanto"],
    "heldout": ["Zeluco", "Pinheirinho", "Kaizo", "Tenorio"],
}
CITY = {
    "train": """Paris|Berlin|Madrid|Rome|Vienna|Prague|Warsaw|Cairo|Nairobi|Tokyo|
        Seoul|Sydney|Toronto|Chicago|Boston|Mumbai|Istanbul|Athens|Dublin|Geneva|
        Lyon|Munich|Hamburg|Milan|Naples|New York|Los Angeles|Buenos Aires|
        Cape Town|Hong Kong|Rio de Janeiro|Marseille|Glasgow""",
    "heldout": """Oslo|Lisbon|Helsinki|Bergen|Porto|Krakow|Riga|Tallinn|Zagreb|
        Valencia|Seville|Lagos|Accra|Lima|Quito|Osaka|Busan|Perth|Calgary|Denver|
        Montreal|San Diego|Kuala Lumpur|Addis Ababa|Santa Cruz|Abu Dhabi|
        Salvador da Bahia|Tromso""",
}
COUNTRY = {
    "train": """France|Germany|Spain|Italy|Japan|Brazil|Canada|Kenya|Egypt|India|
        Australia|Poland|United States|South Africa|New Zealand|Argentina|
        South Korea""",
    "heldout": """Norway|Portugal|Finland|Chile|Peru|Ghana|Vietnam|Costa Rica|
        Sri Lanka|Czech Republic|Croatia|Latvia|Estonia|Malaysia|
        Trinidad and Tobago""",
}
REGION = {  # regions and mountain ranges
    "train": "Bavaria|Tuscany|Siberia|Alps|Balkans|Provence|Catalonia|Outback",
    "heldout": "Patagonia|Andalusia|Scandinavia|Atacama|Lapland|Transylvania|Yucatan",
}
RIVER = {
    "train": "Danube|Rhine|Nile|Amazon|Seine",
    "heldout": "Mekong|Volga|Douro|Yukon|Orinoco",
}
ORG = {
    "train": """European Central Bank|Acme Holdings Ltd|Bluewater Energy|
        Kestrel Airlines|Atlas Motors|Meridian Bank|Silverline Telecom|
        Orion Pharmaceuticals|Greenfield University|National Farmers Union|
        Ministry of Finance|Central Statistics Office|Sunrise Media Group|
        Redwood Capital|Vantage Insurance Corp|Polaris Shipping|Alpine Rail|
        Global Health Alliance|Trident Steel Inc|Lakeshore Foods|Harper & Cole|
        Falcon Dynamics|Unity Party|Democratic Reform Party|United Nations|
        Vectra|Zentex|Halcyon|eVolt Mobility|City Symphony Orchestra|
        Museum of Modern Art""",
    "heldout": """Nordbank|Baltic Freight Lines|Stellar Mining Co|Union of Dockworkers|
        Aurora Biotech|Cobalt Systems|Pacific Trust Bank|Highland Water Authority|
        Institute of Marine Research|Solace Hospitals|Tern Aviation|
        Greenway Transport|Civic Alliance|Liberal Centre Party|Helix Labs|
        Copperfield Motors|Brightwater Mutual|Orca Logistics|
        Asian Development Bank|Ironbridge Partners LLP|Kvarta|Solvix|Tamarind|
        iKona Networks|Harbourside Philharmonic|Gallery of Northern Light""",
}
CLUB = {
    "train": """Harbour City FC|Northfield Rovers|Crestview Rangers|
        Riverside Athletic|Eastbrook United|Dynamo Kestrel|Westmoor Albion|
        Sporting Vale|Red Lions|Castleford Town""",
    "heldout": """Kingsport Wanderers|Marlow Rovers FC|Quarry Hill Athletic|
        Saltmarsh United|Real Montaro|Atletico Vela|Olympic Brava|Fernhill City|
        Blue Harriers""",
}
NAT = {  # nationalities / adjectives (MISC)
    "train": """German French Italian Spanish Japanese Brazilian Canadian Kenyan
        Egyptian Indian Australian Polish American British Russian Dutch Swiss
        Turkish Greek Irish""".split(),
    "heldout": """Norwegian Portuguese Finnish Chilean Peruvian Ghanaian Vietnamese
        Croatian Latvian Estonian Danish Swedish Hungarian Mexican""".split(),
}
LANG = {
    "train": "English|French|Spanish|German|Arabic|Mandarin|Italian",
    "heldout": "Portuguese|Swahili|Finnish|Hindi|Tagalog|Norwegian|Czech",
}
EVENT = {
    "train": """World Cup|Olympic Games|Davis Cup|Champions League|Winter Olympics|
        European Championship|City Marathon|Grand Prix""",
    "heldout": """Nordic Open|Asian Games|Copa Atlantica|Harbour Marathon|
        Pan Pacific Championships|Baltic Cup|Island Games""",
}
FEST = {
    "train": "Spring Film Festival|Lakeside Film Festival|Riviera Film Week",
    "heldout": "Autumn Film Festival|Northern Lights Film Festival|Harbour Screen Awards",
}
PROD = {
    "train": "Zenith X5|NovaPad 3|AeroLite 200|Strata One|Pulse Watch|iSense",
    "heldout": "Quill Reader|Orbis Phone 7|Tundra XL|Lumen Cam|eDrift 2",
}


def _split(spec):
    return {k: ([s.strip() for s in v.split("|") if s.strip()]
                if isinstance(v, str) else list(v)) for k, v in spec.items()}


CITY, COUNTRY, REGION, RIVER, ORG, CLUB, LANG, EVENT, FEST, PROD = (
    _split(p) for p in (CITY, COUNTRY, REGION, RIVER, ORG, CLUB, LANG, EVENT, FEST, PROD))

DAYS = "Monday Tuesday Wednesday Thursday Friday Saturday Sunday".split()
MONTHS = """January February March April May June July August September October
    November December""".split()
NUM_WORDS = "two three four five six seven eight ten".split()

# --------------------------------------------------------------------------
# Templates.  Tokens are separated by spaces.  A token is either a slot
# ({PER}, {LOC}, ...) or a literal, optionally "word|POS" or "word|POS|CHUNK".
# A leading "!" renders the whole sentence upper-case (headline style).
# --------------------------------------------------------------------------
TEMPLATES = [
    # sports
    "{CLUB} beat {CLUB} {SC} on {DAY} to move top of the {NAT} league .",
    "{PER} scored twice as {CLUB} won {SC} at {CLUB} on {DAY} .",
    "{NAT} striker {PER} has signed a {NYEAR} contract with {CLUB} , the club said on {DAY} .",
    "{PER} of {COUNTRY} won the {EVENT} title in {CITY} on {DAY} , beating {PER} in the final .",
    "!Soccer - {CLUB} sack|VBP coach|NN {PERS} .",
    "!Tennis|NN - {PER} advances|VBZ to|TO|B-PP {EVENT} quarter-finals|NNS .",
    "{PER} finished third behind {PER} and {PER} in the {EVENT} .",
    "{CLUB} manager {PER} said his side deserved the win .",
    "{NAT} {PER} set a course record of {TIME} at the {EVENT} in {CITY} .",
    "{PER} ( {CLUB} ) was sent|VBN off|RP in the {ORDMIN} minute for a second yellow card .",
    "{NAT} {EVENT} champion {PER} pulled|VBD out|RP of the {EVENT} on {DAY} with a back injury .",
    "{NAT} {PER} and {NAT} {PER} meet|VBP in the {EVENT} final on {DAY} .",
    "{PERS} , who joined {CLUB} from {CLUB} in {MONTH} , is out for {N} weeks with a knee injury .",
    # politics
    "{NAT} Prime Minister {PER} arrived in {CITY} on {DAY} for talks with {NAT} officials .",
    "{PER} , the foreign minister of {COUNTRY} , said the talks in {CITY} had been \" very constructive \" .",
    "\" We will not accept|VB these terms , \" {PER} told reporters in {CITY} .",
    "The {ORG} called on {COUNTRY} to release|VB the detained journalists by {MONTH} .",
    "Voters in {REGION} go|VBP to|TO|B-PP the polls on {DAY} , with the {ORG} expected to win|VB a majority .",
    "{PER} was elected|VBN mayor of {CITY} with {PCT} percent of the vote .",
    "Officials from {COUNTRY} and {COUNTRY} met in {CITY} to discuss|VB water rights along the {RIVER} .",
    "President {PER} told {ORG} that|IN|B-SBAR he would seek|VB a second term .",
    "{ORG} spokeswoman {PER} declined to comment|VB .",
    "{PER} said on {DAY} that|IN|B-SBAR {COUNTRY} would reopen|VB its embassy in {CITY} .",
    # business
    "{ORG} said on {DAY} its net profit rose {PCT} percent to {AMT} million euros in the first quarter .",
    "Shares in {ORG} fell {PCT} percent after the company cut|VBD its forecast .",
    "{ORG} agreed to buy|VB {ORG} for {AMT} million dollars , the two companies said in a statement .",
    "The {ORG} left interest rates unchanged|JJ at {PCT} percent on {DAY} .",
    "{ORG} will launch|VB the {PROD} in {COUNTRY} in {MONTH} , chief executive {PER} said .",
    "Analysts at {ORG} expect|VBP the {NAT} economy to grow|VB {PCT} percent this year .",
    "{PER} , chairman of {ORG} , will step|VB down|RP in {MONTH} after {N} years at the helm .",
    "The {PROD} sold {AMT} million units in its first month , according|VBG to|TO|B-PP {ORG} .",
    "{ORG} is to cut|VB {PCT} percent of the jobs at its plant near {CITY} , unions said .",
    # travel
    "{PER} flew from {CITY} to|TO|B-PP {CITY} on {DAY} to meet|VB {ORG} officials .",
    "Flights between {CITY} and {CITY} were cancelled|VBN on {DAY} because|IN of|IN|I-PP heavy snow .",
    "The new rail link will cut|VB travel time from {CITY} to|TO|B-PP {CITY} to|TO|B-PP {N} hours .",
    "Tourists flocked to|TO|B-PP {REGION} this summer , with visitor numbers up|RB {PCT} percent , {ORG} said .",
    "A cruise along the {RIVER} from {CITY} to|TO|B-PP {CITY} takes about {N} days .",
    # culture
    "The {LANG} translation of {PER} 's latest novel will be|VB published|VBN in {MONTH} .",
    "{NAT} director {PER} won the top prize at the {FEST} for her film about life in {CITY} .",
    "{PER} will perform|VB with the {ORG} in {CITY} next {MONTH} .",
    "The exhibition at the {ORG} in {CITY} features works by {PER} and {PER} .",
    "Born|VBN in {CITY} , {PER} speaks {LANG} , {LANG} and {LANG} .",
    "Critics praised the {NAT} film , which|WDT was shot|VBN entirely in {REGION} .",
    # quotes and other news
    "Police in {CITY} arrested {N} people on {DAY} after clashes outside the offices of {ORG} .",
    "{PERS} said : \" It was a difficult season but we never gave up|RP . \"",
    "\" {ORG} made a fair offer , \" {PERS} said .",
    "Rescue teams from {COUNTRY} arrived in {REGION} on {DAY} after floods along the {RIVER} .",
    "According|VBG to|TO|B-PP {ORG} , more|JJR than|IN {AMT} million people watched the {EVENT} final on television .",
    "{CITY} will host|VB the {EVENT} in {YEAR} , organisers announced .",
    "The {NAT} team arrived in {CITY} on {DAY} ahead of the {EVENT} .",
    "Researchers at {ORG} in {CITY} say|VBP the {PROD} uses far less energy than older models .",
]

RESULT_LINES = [  # table-style lines found in sports news (no final period)
    "{PER} ( {COUNTRY} ) {TIME}",
    "{PER} {COUNTRY} {TIME}",
    "{CLUB} {N} {CLUB} {N}",
]

SHORT_TEMPLATES = [
    "{PER} resigns|VBZ .",
    "{CLUB} win|VBP .",
    "{COUNTRY} beat|VBD {COUNTRY} .",
    "{ORG} denies|VBZ report .",
    "{CITY} ( {COUNTRY} )",
    "{EVENT} results|NNS",
    "{PERS} injured|VBN .",
    "{NAT} shares|NNS fall|VBP",
]

CONNECTORS = [
    [",|,", "while|IN|B-SBAR"],
    [",|,", "and|CC"],
    [";|:", "meanwhile|RB", ",|,"],
    [",|,", "although|IN|B-SBAR"],
]

# --------------------------------------------------------------------------
# Rough POS lexicon for literal words; unknown words fall back to suffix rules.
# --------------------------------------------------------------------------
_LEX_SRC = {
    "DT": "the a an this these those some all each every no another both",
    "PRP": "he she it they we i you",
    "PRP$": "its his her their our my",
    "IN": "of in on at from for with by after before about during between along "
          "against behind under over than because into since despite outside "
          "amid near as like while until whether ahead although",
    "TO": "to",
    "CC": "and but or",
    "MD": "will would could can may might should must",
    "VBD": "said won beat rose fell cut took made flew met told left came went "
           "gave held sold set was were had declined arrived praised announced "
           "flocked scored finished deserved called expected arrested joined "
           "watched signed agreed",
    "VBZ": "is has says takes features speaks expects uses",
    "VBP": "are have go expect",
    "VB": "be",
    "RB": "not never also entirely twice very still again far about down",
    "JJ": "new first second third final last latest top difficult fair "
          "constructive heavy net detained older yellow knee two-thirds less "
          "unchanged next",
    "CD": "million",
    "WDT": "which that",
    "WP": "who",
}
LEXICON = {w: t for t, ws in _LEX_SRC.items() for w in ws.split()}
PUNCT = {".": ".", ",": ",", ":": ":", ";": ":", "-": ":", "--": ":",
         "(": "(", ")": ")", '"': '"', "'s": "POS"}


def guess_pos(word: str, first: bool) -> str:
    if word in PUNCT:
        return PUNCT[word]
    low = word.lower()
    if word[0].isupper() and not first and low not in LEXICON:
        return "NNP"
    if low in LEXICON:
        return LEXICON[low]
    if re.fullmatch(r"[\d.,:-]+", word):
        return "CD"
    if low.endswith("ing"):
        return "VBG"
    if low.endswith("ed"):
        return "VBD"
    if low.endswith("ly"):
        return "RB"
    if low.endswith("s") and not low.endswith("ss") and len(low) > 3:
        return "NNS"
    return "NN"


NP_TAGS = {"DT", "PDT", "JJ", "JJR", "JJS", "NN", "NNS", "NNP", "NNPS", "CD",
           "PRP", "PRP$", "POS", "$", "WDT", "WP"}


def chunk_tags(words, pos, forced):
    """Derive plausible IOB2 chunk tags from POS tags (with forced overrides)."""
    types = []
    for i, p in enumerate(pos):
        nxt = pos[i + 1] if i + 1 < len(pos) else ""
        if forced[i]:
            types.append(forced[i])
        elif p in NP_TAGS:
            types.append("NP")
        elif p.startswith("VB") or p == "MD" or (p == "TO" and nxt.startswith("VB")):
            types.append("VP")
        elif p in ("IN", "TO"):
            types.append("PP")
        elif p == "RP":
            types.append("PRT")
        elif p in ("RB", "RBR"):
            prev = types[-1] if types else ""
            types.append("VP" if prev == "VP" and nxt.startswith("VB") else "ADVP")
        else:
            types.append("O")
    tags = []
    for i, t in enumerate(types):
        if t == "O" or (t.startswith("I-")):
            tags.append(t)
            continue
        prev = types[i - 1] if i else "O"
        prev_t = prev[2:] if prev.startswith("I-") else prev
        if t == prev_t and t not in ("PP", "SBAR", "PRT") and words[i - 1] != "'s":
            tags.append("I-" + t)
        else:
            tags.append("B-" + t)
    return tags


# --------------------------------------------------------------------------
# Slot fillers
# --------------------------------------------------------------------------
class Filler:
    def __init__(self, rng: random.Random, p_heldout: float):
        self.rng = rng
        self.p = p_heldout

    def pool(self, spec):
        return spec["heldout"] if self.rng.random() < self.p else spec["train"]

    def person(self, single=False):
        r = self.rng
        if single:
            if r.random() < 0.15:
                return r.choice(self.pool(MONONYM))
            return r.choice(self.pool(LAST))
        side = "heldout" if r.random() < self.p else "train"
        x = r.random()
        if x < 0.12:
            return r.choice(MONONYM[side])
        if x < 0.30:
            return r.choice(LAST[side])
        if x < 0.42:
            return " ".join([r.choice(FIRST[side]), r.choice(MIDDLE[side]),
                             r.choice(LAST[side])])
        return r.choice(FIRST[side]) + " " + r.choice(LAST[side])

    def fill(self, slot):
        """Return (tokens, pos_tags, entity_type or None)."""
        r = self.rng
        if slot == "PER":
            return self._ent(self.person(), "PER")
        if slot == "PERS":
            return self._ent(self.person(single=True), "PER")
        if slot in ("CITY", "COUNTRY", "REGION", "RIVER"):
            spec = {"CITY": CITY, "COUNTRY": COUNTRY, "REGION": REGION,
                    "RIVER": RIVER}[slot]
            return self._ent(r.choice(self.pool(spec)), "LOC")
        if slot in ("ORG", "CLUB"):
            return self._ent(r.choice(self.pool(ORG if slot == "ORG" else CLUB)), "ORG")
        if slot == "NAT":
            return [r.choice(self.pool(NAT))], ["JJ"], "MISC"
        if slot in ("LANG", "EVENT", "FEST", "PROD"):
            spec = {"LANG": LANG, "EVENT": EVENT, "FEST": FEST, "PROD": PROD}[slot]
            return self._ent(r.choice(self.pool(spec)), "MISC")
        if slot == "DAY":
            return [r.choice(DAYS)], ["NNP"], None
        if slot == "MONTH":
            return [r.choice(MONTHS)], ["NNP"], None
        if slot == "N":
            n = r.choice(NUM_WORDS) if r.random() < 0.3 else str(r.randint(2, 12))
            return [n], ["CD"], None
        if slot == "NYEAR":
            return [r.choice(["two", "three", "four", "five"]) + "-year"], ["JJ"], None
        if slot == "SC":
            return [f"{r.randint(0, 4)}-{r.randint(0, 3)}"], ["CD"], None
        if slot == "TIME":
            if r.random() < 0.5:
                return [f"{r.randint(9, 11)}.{r.randint(10, 99)}"], ["CD"], None
            return [f"2:{r.randint(4, 15):02d}:{r.randint(0, 59):02d}"], ["CD"], None
        if slot == "PCT":
            return [f"{r.randint(1, 19)}.{r.randint(0, 9)}"], ["CD"], None
        if slot == "AMT":
            return [str(r.choice([r.randint(12, 950), r.randint(2, 9)]))], ["CD"], None
        if slot == "YEAR":
            return [str(r.randint(2026, 2034))], ["CD"], None
        if slot == "ORDMIN":
            m = r.randint(11, 89)
            suf = "th" if 10 <= m % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(m % 10, "th")
            return [f"{m}{suf}"], ["JJ"], None
        raise KeyError(slot)

    @staticmethod
    def _ent(name, etype):
        toks = name.split()
        pos = []
        for t in toks:
            if t == "of":
                pos.append("IN")
            elif t == "and" or t == "&":
                pos.append("CC")
            elif re.fullmatch(r"\d+", t):
                pos.append("CD")
            else:
                pos.append("NNP")
        return toks, pos, etype


SLOT_RE = re.compile(r"^\{([A-Z]+)\}$")


def render(template, filler: Filler):
    """Return list of (token, pos, chunk, ner)."""
    upper = template.startswith("!")
    if upper:
        template = template[1:]
    words, pos, forced, ner = [], [], [], []
    used: set[str] = set()
    for i, tok in enumerate(template.split()):
        m = SLOT_RE.match(tok)
        if m:
            for _ in range(20):  # avoid repeating a name within a sentence
                toks, tags, etype = filler.fill(m.group(1))
                if etype is None or " ".join(toks) not in used:
                    break
            if etype is not None:
                used.add(" ".join(toks))
            for j, (t, p) in enumerate(zip(toks, tags)):
                words.append(t)
                pos.append(p)
                forced.append(None)
                ner.append("O" if etype is None else ("B-" if j == 0 else "I-") + etype)
            continue
        parts = tok.split("|")
        w = parts[0]
        p = parts[1] if len(parts) > 1 and parts[1] else guess_pos(w, first=(i == 0))
        c = parts[2] if len(parts) > 2 else None
        words.append(w)
        pos.append(p)
        # "B-X" forces a chunk of type X to start here; "I-X" is kept verbatim
        forced.append(c[2:] if c and c.startswith("B-") else c)
        ner.append("O")
    chunks = chunk_tags(words, pos, forced)
    if upper:
        words = [w.upper() for w in words]
    return list(zip(words, pos, chunks, ner))


def long_sentence(filler: Filler, rng: random.Random):
    """Join two clauses into one ~40-token sentence."""
    prose = [t for t in TEMPLATES if not t.startswith("!") and t.endswith(" .")]
    second = [t for t in prose if t.startswith("{") or t.startswith("The ")]
    best = None
    for _ in range(30):
        a, b = rng.choice(prose), rng.choice(second)
        if b.startswith("The "):
            b = "the|DT" + b[3:]
        conn = " ".join(rng.choice(CONNECTORS))
        sent = render(a[:-2] + " " + conn + " " + b, filler)
        if best is None or abs(len(sent) - 40) < abs(len(best) - 40):
            best = sent
        if 36 <= len(sent) <= 44:
            break
    return best


def make_sentence(filler: Filler, rng: random.Random):
    x = rng.random()
    if x < P_SHORT:
        return render(rng.choice(SHORT_TEMPLATES), filler)
    if x < P_SHORT + P_LONG:
        return long_sentence(filler, rng)
    if x < P_SHORT + P_LONG + 0.05:
        return render(rng.choice(RESULT_LINES), filler)
    return render(rng.choice(TEMPLATES), filler)


def write_conll(path: Path, sents):
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        for s in sents:
            for row in s:
                f.write(" ".join(row) + "\n")
            f.write("\n")


def entity_strings(sent):
    out, cur, typ = [], [], None
    for tok, _, _, tag in sent + [("", "", "", "O")]:
        if tag.startswith("I-") and cur:
            cur.append(tok)
            continue
        if cur:
            out.append((typ, " ".join(cur)))
            cur, typ = [], None
        if tag.startswith("B-"):
            cur, typ = [tok], tag[2:]
    return out


def main():
    rng = random.Random(SEED)
    # sanity: held-out pools must not share strings with train pools
    pools = (FIRST, LAST, MIDDLE, MONONYM, CITY, COUNTRY, REGION, RIVER, ORG,
             CLUB, NAT, LANG, EVENT, FEST, PROD)
    seen = {w for spec in pools for w in spec["train"]}
    held = {w for spec in pools for w in spec["heldout"]}
    assert not seen & held, sorted(seen & held)

    train_f = Filler(rng, 0.0)
    heldout_f = Filler(rng, P_HELDOUT)
    train = [make_sentence(train_f, rng) for _ in range(N_TRAIN)]
    dev = [make_sentence(heldout_f, rng) for _ in range(N_DEV)]
    test = [make_sentence(heldout_f, rng) for _ in range(N_TEST)]
    write_conll(OUT_DIR / "train.txt", train)
    write_conll(OUT_DIR / "dev.txt", dev)
    write_conll(OUT_DIR / "test.txt", test)

    # raw input for `seqlab predict`: only names never seen in train
    train_ents = {e for s in train for _, e in entity_strings(s)}
    unseen_f = Filler(rng, 1.0)
    lines = ["Maria Lindqvist flew from Oslo to Lisbon on Tuesday to meet "
             "Nordbank officials ."]
    prose = [t for t in TEMPLATES if not t.startswith("!")]
    order = rng.sample(prose, len(prose))  # each template at most once
    while len(lines) < N_SAMPLE_INPUT:
        s = render(order[len(lines) % len(order)], unseen_f)
        line = " ".join(tok for tok, *_ in s)
        if line in lines or any(e in train_ents for _, e in entity_strings(s)):
            continue
        lines.append(line)
    with open(OUT_DIR / "sample_input.txt", "w", encoding="utf-8", newline="\n") as f:
        f.write("\n".join(lines) + "\n")

    for name, sents in (("train", train), ("dev", dev), ("test", test)):
        print(f"{name}: {len(sents)} sentences, {sum(map(len, sents))} tokens")


if __name__ == "__main__":
    main()
