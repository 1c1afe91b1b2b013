#!/usr/bin/python3
"""bench/text_bm25_ref.py — an independent BM25 on Cranfield, for comparison
with AkiDB's (src/text/bm25.c).

Written from docs/embeddings.md ("Tokenisation", "Terms", "BM25"), not from
the C code, and it does not call it: its own UTF-8 handling, character
classes, folding, stop words, Porter (1980) stemmer and BM25 with numpy.
Prints nDCG@10 and recall@100 with the evaluation rules of
bench/text_offline.c (queries numbered by position; gain 5 - relevance for
relevance 1..4, else 0; ideal DCG over all judged gains; ties by score
descending then document number ascending).

    /usr/bin/python3 bench/text_bm25_ref.py [--data datasets/cranfield] [--k1 1.2] [--b 0.75]

Needs Python 3 and numpy only (Debian: python3-numpy).
"""
import argparse
import math
import os
import sys

import numpy as np

TOKEN_MAX = 64

# ---------------------------------------------------------------- classes --
# (lo, hi, class) as listed in docs/embeddings.md; W word, I ideograph,
# M mark kept in the word, S diacritic dropped; anything else separates.
RANGES = [
    (0x30, 0x39, "W"), (0x41, 0x5A, "W"), (0x61, 0x7A, "W"),
    (0xAA, 0xAA, "W"), (0xB5, 0xB5, "W"), (0xBA, 0xBA, "W"),
    (0xC0, 0xD6, "W"), (0xD8, 0xF6, "W"), (0xF8, 0x2C1, "W"),
    (0x2C6, 0x2D1, "W"), (0x2E0, 0x2E4, "W"), (0x2EC, 0x2EC, "W"), (0x2EE, 0x2EE, "W"),
    (0x300, 0x36F, "S"),
    (0x370, 0x374, "W"), (0x376, 0x377, "W"), (0x37A, 0x37D, "W"), (0x37F, 0x37F, "W"),
    (0x386, 0x386, "W"), (0x388, 0x38A, "W"), (0x38C, 0x38C, "W"), (0x38E, 0x3A1, "W"),
    (0x3A3, 0x3F5, "W"), (0x3F7, 0x481, "W"), (0x483, 0x489, "M"), (0x48A, 0x52F, "W"),
    (0x531, 0x556, "W"), (0x559, 0x559, "W"), (0x560, 0x588, "W"),
    (0x591, 0x5BD, "M"), (0x5BF, 0x5BF, "M"), (0x5C1, 0x5C2, "M"), (0x5C4, 0x5C5, "M"),
    (0x5C7, 0x5C7, "M"), (0x5D0, 0x5EA, "W"), (0x5EF, 0x5F2, "W"),
    (0x610, 0x61A, "M"), (0x620, 0x64A, "W"), (0x64B, 0x65F, "M"), (0x660, 0x669, "W"),
    (0x66E, 0x66F, "W"), (0x670, 0x670, "M"), (0x671, 0x6D3, "W"), (0x6D5, 0x6D5, "W"),
    (0x6D6, 0x6DC, "M"), (0x6DF, 0x6E4, "M"), (0x6E5, 0x6E6, "W"), (0x6E7, 0x6E8, "M"),
    (0x6EA, 0x6ED, "M"), (0x6EE, 0x6FC, "W"), (0x6FF, 0x6FF, "W"),
    (0x710, 0x74A, "W"), (0x74D, 0x7B1, "W"), (0x7C0, 0x7F5, "W"),
    (0x900, 0x903, "M"), (0x904, 0x939, "W"), (0x93A, 0x93C, "M"), (0x93D, 0x93D, "W"),
    (0x93E, 0x94F, "M"), (0x950, 0x950, "W"), (0x951, 0x957, "M"), (0x958, 0x961, "W"),
    (0x962, 0x963, "M"), (0x966, 0x96F, "W"), (0x971, 0x97F, "W"),
    (0x980, 0xDFF, "W"),
    (0xE01, 0xE3A, "W"), (0xE40, 0xE4E, "W"), (0xE50, 0xE59, "W"), (0xE81, 0xEDF, "W"),
    (0xF00, 0xF00, "W"), (0xF20, 0xF29, "W"), (0xF40, 0xFBC, "W"),
    (0x1000, 0x1049, "W"), (0x1050, 0x109D, "W"), (0x10A0, 0x10FA, "W"),
    (0x10FC, 0x135A, "W"), (0x1369, 0x137C, "W"), (0x1380, 0x138F, "W"),
    (0x13A0, 0x13FD, "W"), (0x1401, 0x166C, "W"), (0x166F, 0x167F, "W"),
    (0x1681, 0x169A, "W"), (0x16A0, 0x16EA, "W"), (0x1780, 0x17D3, "W"),
    (0x17E0, 0x17E9, "W"), (0x1810, 0x1819, "W"), (0x1820, 0x1878, "W"),
    (0x1AB0, 0x1AFF, "S"), (0x1D00, 0x1DBF, "W"), (0x1DC0, 0x1DFF, "S"),
    (0x1E00, 0x1FBC, "W"), (0x1FBE, 0x1FBE, "W"), (0x1FC2, 0x1FCC, "W"),
    (0x1FD0, 0x1FDB, "W"), (0x1FE0, 0x1FEC, "W"), (0x1FF2, 0x1FFC, "W"),
    (0x20D0, 0x20FF, "S"), (0x2C00, 0x2CE4, "W"), (0x2CEB, 0x2CEE, "W"),
    (0x2D00, 0x2D25, "W"), (0x2D30, 0x2D67, "W"), (0x2DE0, 0x2DFF, "M"),
    (0x3005, 0x3007, "I"), (0x3021, 0x3029, "I"), (0x3031, 0x3035, "I"),
    (0x3041, 0x3096, "I"), (0x3099, 0x309A, "M"), (0x309D, 0x309F, "I"),
    (0x30A1, 0x30FA, "I"), (0x30FC, 0x30FF, "I"), (0x3105, 0x312F, "W"),
    (0x3131, 0x318E, "W"), (0x31A0, 0x31BF, "W"), (0x31F0, 0x31FF, "I"),
    (0x3400, 0x4DBF, "I"), (0x4E00, 0x9FFF, "I"), (0xA000, 0xA48C, "W"),
    (0xA4D0, 0xA4FD, "W"), (0xA500, 0xA60C, "W"), (0xA610, 0xA62B, "W"),
    (0xA640, 0xA66E, "W"), (0xA66F, 0xA672, "M"), (0xA674, 0xA67D, "M"),
    (0xA67F, 0xA69D, "W"), (0xA69E, 0xA69F, "M"), (0xA6A0, 0xA6EF, "W"),
    (0xA717, 0xA71F, "W"), (0xA722, 0xA788, "W"), (0xA78B, 0xA7FF, "W"),
    (0xA800, 0xA827, "W"), (0xA840, 0xA873, "W"), (0xA880, 0xA8C5, "W"),
    (0xA8D0, 0xA8D9, "W"), (0xA900, 0xA92D, "W"), (0xA930, 0xA953, "W"),
    (0xA960, 0xA97C, "W"), (0xA980, 0xA9C0, "W"), (0xA9CF, 0xA9D9, "W"),
    (0xA9E0, 0xA9FE, "W"), (0xAA00, 0xAA59, "W"), (0xAA60, 0xAADD, "W"),
    (0xAAE0, 0xAAEF, "W"), (0xAAF2, 0xAAF6, "W"), (0xAB01, 0xAB5A, "W"),
    (0xAB5C, 0xAB69, "W"), (0xAB70, 0xABEA, "W"), (0xABEC, 0xABED, "W"),
    (0xABF0, 0xABF9, "W"), (0xAC00, 0xD7A3, "W"), (0xD7B0, 0xD7FB, "W"),
    (0xF900, 0xFAFF, "I"), (0xFB00, 0xFB06, "W"), (0xFB13, 0xFB17, "W"),
    (0xFB1D, 0xFB28, "W"), (0xFB2A, 0xFBB1, "W"), (0xFBD3, 0xFD3D, "W"),
    (0xFD50, 0xFDC7, "W"), (0xFDF0, 0xFDFB, "W"), (0xFE00, 0xFE0F, "M"),
    (0xFE20, 0xFE2F, "S"), (0xFE70, 0xFEFC, "W"), (0xFF10, 0xFF19, "W"),
    (0xFF21, 0xFF3A, "W"), (0xFF41, 0xFF5A, "W"), (0xFF66, 0xFF9F, "I"),
    (0xFFA0, 0xFFDC, "W"), (0x10000, 0x1AFFF, "W"), (0x1B000, 0x1B16F, "I"),
    (0x1B170, 0x1CFFF, "W"), (0x1D165, 0x1D169, "M"), (0x1D16D, 0x1D172, "M"),
    (0x1D400, 0x1D7FF, "W"), (0x1D800, 0x1EFFF, "W"), (0x20000, 0x3FFFF, "I"),
    (0xE0000, 0xE007F, "M"), (0xE0100, 0xE01EF, "M"),
]
_LO = [r[0] for r in RANGES]


def char_class(cp):
    import bisect
    i = bisect.bisect_right(_LO, cp) - 1
    if i >= 0 and RANGES[i][0] <= cp <= RANGES[i][1]:
        return RANGES[i][2]
    return "."


# ---------------------------------------------------------------- folding --
LATIN1 = {}
for chars, base in [("ÀÁÂÃÄÅàáâãäå", "a"), ("Çç", "c"), ("ÈÉÊËèéêë", "e"),
                    ("ÌÍÎÏìíîï", "i"), ("Ðð", "d"), ("Ññ", "n"),
                    ("ÒÓÔÕÖØòóôõöø", "o"), ("ÙÚÛÜùúûü", "u"), ("ÝýÿŸ", "y"),
                    ("Ææ", "ae"), ("Þþ", "th"), ("ß", "ss")]:
    for ch in chars:
        LATIN1[ord(ch)] = base
EXT_A = ("aaaaaaccccccccdd" "ddeeeeeeeeeegggg" "gggghhhhiiiiiiii" "ii11jjkkklllllll"
         "lllnnnnnnnnnoooo" "oo22rrrrrrssssss" "ssttttttuuuuuuuu" "uuuuwwyyyzzzzzzs")


def fold(cp):
    """The folded UTF-8 bytes of a word character (docs: Folding)."""
    if cp < 0x80:
        return bytes([cp + 32 if 0x41 <= cp <= 0x5A else cp])
    if cp == 0xB5:
        cp = 0x3BC
    if cp in LATIN1:
        return LATIN1[cp].encode()
    if 0x100 <= cp <= 0x17F:
        c = EXT_A[cp - 0x100]
        return {"1": b"ij", "2": b"oe"}.get(c, c.encode())
    if 0x370 <= cp <= 0x52F:
        if cp == 0x386:
            cp = 0x3AC
        elif 0x388 <= cp <= 0x38A:
            cp += 37
        elif cp == 0x38C:
            cp = 0x3CC
        elif cp in (0x38E, 0x38F):
            cp += 63
        elif 0x391 <= cp <= 0x3AB and cp != 0x3A2:
            cp += 32
        elif cp == 0x3C2:
            cp = 0x3C3
        elif 0x400 <= cp <= 0x40F:
            cp += 80
        elif 0x410 <= cp <= 0x42F:
            cp += 32
        elif 0x460 <= cp <= 0x481 or 0x48A <= cp <= 0x4BF or 0x4D0 <= cp <= 0x52F:
            cp |= 1
        elif cp == 0x4C0:
            cp = 0x4CF
        elif 0x4C1 <= cp <= 0x4CE and cp % 2 == 1:
            cp += 1
    elif 0xFF10 <= cp <= 0xFF5A:
        a = cp - 0xFEE0
        return bytes([a + 32 if 0x41 <= a <= 0x5A else a])
    return chr(cp).encode()


def tokens(text):
    """Folded tokens of a str (docs: Tokenisation)."""
    out = []
    cur = bytearray()
    kind = None   # None, "W" or "I"
    full = False

    def add(b):
        nonlocal full
        if full:
            return
        if len(cur) + len(b) > TOKEN_MAX:
            full = True
            return
        cur.extend(b)

    def flush():
        nonlocal cur, kind, full
        if cur:
            out.append(bytes(cur).decode())
        cur = bytearray()
        kind = None
        full = False

    for ch in text:
        cp = ord(ch)
        c = char_class(cp)
        if c == "W":
            if kind == "I":
                flush()
            kind = "W"
            add(fold(cp))
        elif c == "I":
            flush()
            kind = "I"
            add(ch.encode())
        elif c == "M":
            if kind is not None:
                add(ch.encode())
        elif c == "S":
            pass
        else:
            flush()
    flush()
    return out


# ---------------------------------------------------- stop words, stemmer --
STOPWORDS = set("""a about above after again against all am an and any are as at
be because been before being below between both but by can could did do does
doing down during each few for from further had has have having he her here hers
herself him himself his how i if in into is it its itself just me more most my
myself no nor not now of off on once only or other our ours ourselves out over
own same she should so some such than that the their theirs them themselves then
there these they this those through to too under until up very was we were what
when where which while who whom why will with would you your yours yourself
yourselves""".split())


def is_consonant(w, i):
    if w[i] in "aeiou":
        return False
    if w[i] == "y":
        return i == 0 or not is_consonant(w, i - 1)
    return True


def m_of(stem):
    """Porter's m: the number of VC in [C](VC)^m[V]."""
    pattern = "".join("c" if is_consonant(stem, i) else "v" for i in range(len(stem)))
    collapsed = []
    for p in pattern:
        if not collapsed or collapsed[-1] != p:
            collapsed.append(p)
    return "".join(collapsed).count("vc")


def vowel_in(stem):
    return any(not is_consonant(stem, i) for i in range(len(stem)))


def double_c(w):
    return len(w) >= 2 and w[-1] == w[-2] and is_consonant(w, len(w) - 1)


def cvc(w):
    n = len(w)
    return (n >= 3 and is_consonant(w, n - 1) and not is_consonant(w, n - 2)
            and is_consonant(w, n - 3) and w[-1] not in "wxy")


def longest_rule(w, rules):
    best = None
    for suffix, repl in rules:
        if w.endswith(suffix) and (best is None or len(suffix) > len(best[0])):
            best = (suffix, repl)
    return best


def apply_m(w, rules, min_m):
    r = longest_rule(w, rules)
    if r is None:
        return w
    stem = w[: len(w) - len(r[0])]
    return stem + r[1] if m_of(stem) > min_m else w


STEP2 = [("ational", "ate"), ("tional", "tion"), ("enci", "ence"), ("anci", "ance"),
         ("izer", "ize"), ("abli", "able"), ("alli", "al"), ("entli", "ent"),
         ("eli", "e"), ("ousli", "ous"), ("ization", "ize"), ("ation", "ate"),
         ("ator", "ate"), ("alism", "al"), ("iveness", "ive"), ("fulness", "ful"),
         ("ousness", "ous"), ("aliti", "al"), ("iviti", "ive"), ("biliti", "ble")]
STEP3 = [("icate", "ic"), ("ative", ""), ("alize", "al"), ("iciti", "ic"),
         ("ical", "ic"), ("ful", ""), ("ness", "")]
STEP4 = [(s, "") for s in ("al ance ence er ic able ible ant ement ment ent ion ou "
                           "ism ate iti ous ive ize").split()]


def porter(w):
    if len(w) <= 2:
        return w
    # 1a
    if w.endswith("sses") or w.endswith("ies"):
        w = w[:-2]
    elif w.endswith("ss"):
        pass
    elif w.endswith("s"):
        w = w[:-1]
    # 1b
    if w.endswith("eed"):
        if m_of(w[:-3]) > 0:
            w = w[:-1]
    else:
        for suf in ("ed", "ing"):
            if w.endswith(suf) and vowel_in(w[: -len(suf)]):
                w = w[: -len(suf)]
                if w.endswith(("at", "bl", "iz")):
                    w += "e"
                elif double_c(w) and w[-1] not in "lsz":
                    w = w[:-1]
                elif m_of(w) == 1 and cvc(w):
                    w += "e"
                break
    # 1c
    if w.endswith("y") and vowel_in(w[:-1]):
        w = w[:-1] + "i"
    w = apply_m(w, STEP2, 0)
    w = apply_m(w, STEP3, 0)
    # 4, with ION only after s or t
    r = longest_rule(w, STEP4)
    if r is not None:
        stem = w[: len(w) - len(r[0])]
        if m_of(stem) > 1 and (r[0] != "ion" or stem.endswith(("s", "t"))):
            w = stem
    # 5a
    if w.endswith("e"):
        m = m_of(w[:-1])
        if m > 1 or (m == 1 and not cvc(w[:-1])):
            w = w[:-1]
    # 5b
    if m_of(w) > 1 and double_c(w) and w.endswith("l"):
        w = w[:-1]
    return w


def terms(text):
    out = []
    for t in tokens(text):
        if t in STOPWORDS:
            continue
        if all("a" <= ch <= "z" for ch in t):
            t = porter(t)
        out.append(t)
    return out


# ------------------------------------------------------------ Cranfield --
def parse_smart(path, keep):
    recs = []
    field = None
    with open(path, encoding="utf-8") as f:
        for line in f.read().split("\n"):
            if not line:
                continue
            if line.startswith(".") and len(line) >= 2 and (len(line) == 2 or line[2] in " \r"):
                if line[1] == "I":
                    recs.append("")
                    field = None
                    continue
                field = line[1] if line[1] in keep else None
                if field and recs[-1]:
                    recs[-1] += "\n"
                continue
            if field and recs:
                if recs[-1] and not recs[-1].endswith("\n"):
                    recs[-1] += "\n"
                recs[-1] += line
    return recs


def load(data):
    """(docs, queries, rel): texts by position, rel[q][d] = relevance 1..4
    (0-based query and document numbers)."""
    docs = parse_smart(os.path.join(data, "cran.all.1400"), "TW")
    queries = parse_smart(os.path.join(data, "cran.qry"), "W")
    rel = {}
    with open(os.path.join(data, "cranqrel")) as f:
        for line in f:
            p = line.split()
            if len(p) != 3:
                continue
            q, d, r = int(p[0]), int(p[1]), int(p[2])
            if 1 <= r <= 4 and 1 <= q <= len(queries) and 1 <= d <= len(docs):
                rel.setdefault(q - 1, {})[d - 1] = r
    return docs, queries, rel


def bm25_rankings(docs, queries, k1=1.2, b=0.75, depth=100):
    """Each query's top `depth` documents (0-based) by BM25, best first
    (score descending, then document number ascending); and the vocabulary
    size. A dense term x document tf matrix with numpy."""
    doc_terms = [terms(d) for d in docs]
    vocab = {}
    for ts in doc_terms:
        for t in ts:
            vocab.setdefault(t, len(vocab))
    tf = np.zeros((len(vocab), len(docs)), dtype=np.float64)
    for j, ts in enumerate(doc_terms):
        for t in ts:
            tf[vocab[t], j] += 1
    dl = np.array([len(ts) for ts in doc_terms], dtype=np.float64)
    n_docs = len(docs)
    avgdl = dl.sum() / n_docs
    df = (tf > 0).sum(axis=1).astype(np.float64)
    idf = np.log(1.0 + (n_docs - df + 0.5) / (df + 0.5))
    norm = k1 * (1.0 - b + b * dl / avgdl)
    out = []
    for qtext in queries:
        score = np.zeros(n_docs)
        for t in terms(qtext):        # repeated query terms count each time
            if t not in vocab:
                continue
            row = tf[vocab[t]]
            score += idf[vocab[t]] * row * (k1 + 1.0) / (row + norm)
        matched = np.nonzero(score > 0)[0]
        out.append([int(d) for d in sorted(matched, key=lambda d: (-score[d], d))[:depth]])
    return out, len(vocab)


def evaluate(rankings, rel):
    """Mean nDCG@10 and recall@100 over the queries with a judgement, and
    their count; rankings[q] lists 0-based documents, best first."""
    ndcg_sum = recall_sum = 0.0
    evaluated = 0
    for qi, order in enumerate(rankings):
        judged = rel.get(qi, {})
        if not judged:
            continue
        gains = sorted((5 - r for r in judged.values()), reverse=True)
        idcg = sum(g / math.log2(i + 2) for i, g in enumerate(gains[:10]))
        dcg = sum((5 - judged[d]) / math.log2(i + 2)
                  for i, d in enumerate(order[:10]) if d in judged)
        ndcg_sum += dcg / idcg
        recall_sum += sum(1 for d in order[:100] if d in judged) / len(judged)
        evaluated += 1
    return ndcg_sum / evaluated, recall_sum / evaluated, evaluated


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=os.path.join(here, "..", "datasets", "cranfield"))
    ap.add_argument("--k1", type=float, default=1.2)
    ap.add_argument("--b", type=float, default=0.75)
    args = ap.parse_args()
    docs, queries, rel = load(args.data)
    rankings, nvocab = bm25_rankings(docs, queries, args.k1, args.b)
    ndcg, recall, evaluated = evaluate(rankings, rel)
    print(f"reference BM25 (k1 {args.k1}, b {args.b}), Cranfield {len(docs)} docs, "
          f"{evaluated} queries: nDCG@10 {ndcg:.4f} "
          f"recall@100 {recall:.4f}  vocabulary {nvocab} terms")


if __name__ == "__main__":
    sys.exit(main())
