/*
 * unicode.c — owns the code point classes and the folding of the tokeniser:
 * which characters make words (letters and digits of alphabetic scripts),
 * which are tokens of their own (CJK ideographs and kana), which marks stay
 * in a word and which diacritics are dropped, and lower-casing with Latin
 * diacritic stripping. Tables written by hand from the Unicode block and
 * general-category facts (Unicode 15); ranges not listed are separators.
 * docs/embeddings.md lists the same classes in prose. Pure functions and
 * constant tables: no locking, no durability.
 */
#include "text/text.h"

typedef struct {
  uint32_t lo, hi; /* inclusive */
  uint8_t cls;     /* text_class_t */
} cp_range_t;

#define W TEXT_WORD
#define I TEXT_IDEO
#define M TEXT_MARK
#define S TEXT_STRIP

/* Sorted, disjoint; a code point in no range is TEXT_SEP. */
static const cp_range_t ranges[] = {
    {0x0030, 0x0039, W}, {0x0041, 0x005A, W}, {0x0061, 0x007A, W},
    /* Latin-1: ª µ º and the letters, not × ÷ */
    {0x00AA, 0x00AA, W}, {0x00B5, 0x00B5, W}, {0x00BA, 0x00BA, W},
    {0x00C0, 0x00D6, W}, {0x00D8, 0x00F6, W}, {0x00F8, 0x02C1, W},
    /* Latin Extended-A/B, IPA, modifier letters ʰ..ˁ */
    {0x02C6, 0x02D1, W}, {0x02E0, 0x02E4, W}, {0x02EC, 0x02EC, W},
    {0x02EE, 0x02EE, W},
    {0x0300, 0x036F, S}, /* combining diacritical marks */
    /* Greek and Coptic */
    {0x0370, 0x0374, W}, {0x0376, 0x0377, W}, {0x037A, 0x037D, W},
    {0x037F, 0x037F, W}, {0x0386, 0x0386, W}, {0x0388, 0x038A, W},
    {0x038C, 0x038C, W}, {0x038E, 0x03A1, W}, {0x03A3, 0x03F5, W},
    {0x03F7, 0x0481, W}, /* and Cyrillic up to the thousands sign ҂ */
    {0x0483, 0x0489, M}, {0x048A, 0x052F, W},
    /* Armenian */
    {0x0531, 0x0556, W}, {0x0559, 0x0559, W}, {0x0560, 0x0588, W},
    /* Hebrew: points and accents are marks; ־ ׀ ׃ ׆ are punctuation */
    {0x0591, 0x05BD, M}, {0x05BF, 0x05BF, M}, {0x05C1, 0x05C2, M},
    {0x05C4, 0x05C5, M}, {0x05C7, 0x05C7, M}, {0x05D0, 0x05EA, W},
    {0x05EF, 0x05F2, W},
    /* Arabic */
    {0x0610, 0x061A, M}, {0x0620, 0x064A, W}, {0x064B, 0x065F, M},
    {0x0660, 0x0669, W}, {0x066E, 0x066F, W}, {0x0670, 0x0670, M},
    {0x0671, 0x06D3, W}, {0x06D5, 0x06D5, W}, {0x06D6, 0x06DC, M},
    {0x06DF, 0x06E4, M}, {0x06E5, 0x06E6, W}, {0x06E7, 0x06E8, M},
    {0x06EA, 0x06ED, M}, {0x06EE, 0x06FC, W}, {0x06FF, 0x06FF, W},
    /* Syriac, Arabic Supplement, Thaana, NKo (letters; marks inside words) */
    {0x0710, 0x074A, W}, {0x074D, 0x07B1, W}, {0x07C0, 0x07F5, W},
    /* Devanagari: signs are marks, dandas । ॥ and ॰ are punctuation */
    {0x0900, 0x0903, M}, {0x0904, 0x0939, W}, {0x093A, 0x093C, M},
    {0x093D, 0x093D, W}, {0x093E, 0x094F, M}, {0x0950, 0x0950, W},
    {0x0951, 0x0957, M}, {0x0958, 0x0961, W}, {0x0962, 0x0963, M},
    {0x0966, 0x096F, W}, {0x0971, 0x097F, W},
    /* Bengali .. Sinhala: letters, digits and signs all join the word */
    {0x0980, 0x0DFF, W},
    /* Thai, Lao (no spaces between words: a run is one token), Tibetan */
    {0x0E01, 0x0E3A, W}, {0x0E40, 0x0E4E, W}, {0x0E50, 0x0E59, W},
    {0x0E81, 0x0EDF, W}, {0x0F00, 0x0F00, W}, {0x0F20, 0x0F29, W},
    {0x0F40, 0x0FBC, W},
    /* Myanmar, Georgian, Hangul Jamo, Ethiopic, Cherokee, Canadian
       syllabics (not ᐀), Ogham and Runic letters, Khmer, Mongolian */
    {0x1000, 0x1049, W}, {0x1050, 0x109D, W}, {0x10A0, 0x10FA, W},
    {0x10FC, 0x135A, W}, {0x1369, 0x137C, W}, {0x1380, 0x138F, W},
    {0x13A0, 0x13FD, W}, {0x1401, 0x166C, W}, {0x166F, 0x167F, W},
    {0x1681, 0x169A, W}, {0x16A0, 0x16EA, W}, {0x1780, 0x17D3, W},
    {0x17E0, 0x17E9, W}, {0x1810, 0x1819, W}, {0x1820, 0x1878, W},
    {0x1AB0, 0x1AFF, S}, /* combining diacritical marks extended */
    {0x1D00, 0x1DBF, W}, /* phonetic extensions */
    {0x1DC0, 0x1DFF, S}, /* combining diacritical marks supplement */
    {0x1E00, 0x1FBC, W}, /* Latin Extended Additional, Greek Extended… */
    {0x1FBE, 0x1FBE, W}, {0x1FC2, 0x1FCC, W}, {0x1FD0, 0x1FDB, W},
    {0x1FE0, 0x1FEC, W}, {0x1FF2, 0x1FFC, W},
    {0x20D0, 0x20FF, S}, /* combining marks for symbols */
    {0x2C00, 0x2CE4, W}, /* Glagolitic, Latin Extended-C, Coptic */
    {0x2CEB, 0x2CEE, W}, {0x2D00, 0x2D25, W}, {0x2D30, 0x2D67, W},
    {0x2DE0, 0x2DFF, M}, /* Cyrillic Extended-A (combining) */
    /* CJK: iteration marks 々 〆 〇, kana, ideographs */
    {0x3005, 0x3007, I}, {0x3021, 0x3029, I}, {0x3031, 0x3035, I},
    {0x3041, 0x3096, I}, {0x3099, 0x309A, M}, {0x309D, 0x309F, I},
    {0x30A1, 0x30FA, I}, {0x30FC, 0x30FF, I},
    {0x3105, 0x312F, W}, /* Bopomofo */
    {0x3131, 0x318E, W}, /* Hangul compatibility jamo */
    {0x31A0, 0x31BF, W}, {0x31F0, 0x31FF, I}, {0x3400, 0x4DBF, I},
    {0x4E00, 0x9FFF, I}, {0xA000, 0xA48C, W}, /* Yi */
    {0xA4D0, 0xA4FD, W}, {0xA500, 0xA60C, W}, {0xA610, 0xA62B, W},
    {0xA640, 0xA66E, W}, {0xA66F, 0xA672, M}, {0xA674, 0xA67D, M},
    {0xA67F, 0xA69D, W}, {0xA69E, 0xA69F, M}, {0xA6A0, 0xA6EF, W},
    {0xA717, 0xA71F, W}, {0xA722, 0xA788, W}, {0xA78B, 0xA7FF, W},
    {0xA800, 0xA827, W}, {0xA840, 0xA873, W}, {0xA880, 0xA8C5, W},
    {0xA8D0, 0xA8D9, W}, {0xA900, 0xA92D, W}, {0xA930, 0xA953, W},
    {0xA960, 0xA97C, W}, {0xA980, 0xA9C0, W}, {0xA9CF, 0xA9D9, W},
    {0xA9E0, 0xA9FE, W}, {0xAA00, 0xAA59, W}, {0xAA60, 0xAADD, W},
    {0xAAE0, 0xAAEF, W}, {0xAAF2, 0xAAF6, W}, {0xAB01, 0xAB5A, W},
    {0xAB5C, 0xAB69, W}, {0xAB70, 0xABEA, W}, {0xABEC, 0xABED, W},
    {0xABF0, 0xABF9, W},
    {0xAC00, 0xD7A3, W}, /* Hangul syllables (Korean has spaces) */
    {0xD7B0, 0xD7FB, W},
    {0xF900, 0xFAFF, I}, /* CJK compatibility ideographs */
    {0xFB00, 0xFB06, W}, {0xFB13, 0xFB17, W}, {0xFB1D, 0xFB28, W},
    {0xFB2A, 0xFBB1, W}, {0xFBD3, 0xFD3D, W}, {0xFD50, 0xFDC7, W},
    {0xFDF0, 0xFDFB, W},
    {0xFE00, 0xFE0F, M}, /* variation selectors */
    {0xFE20, 0xFE2F, S}, /* combining half marks */
    {0xFE70, 0xFEFC, W}, /* Arabic presentation forms-B (not the BOM) */
    {0xFF10, 0xFF19, W}, {0xFF21, 0xFF3A, W}, {0xFF41, 0xFF5A, W},
    {0xFF66, 0xFF9F, I}, /* halfwidth katakana */
    {0xFFA0, 0xFFDC, W}, /* halfwidth Hangul */
    /* Supplementary planes: historic scripts are letters; musical
       symbols, emoji and pictographs separate; ideographs stand alone. */
    {0x10000, 0x1AFFF, W}, {0x1B000, 0x1B16F, I}, /* kana supplement */
    {0x1B170, 0x1CFFF, W}, {0x1D165, 0x1D169, M}, {0x1D16D, 0x1D172, M},
    {0x1D400, 0x1D7FF, W}, {0x1D800, 0x1EFFF, W},
    {0x20000, 0x3FFFF, I},
    {0xE0000, 0xE007F, M}, /* tags (emoji flag sequences) */
    {0xE0100, 0xE01EF, M}, /* variation selectors supplement */
};

#undef W
#undef I
#undef M
#undef S

bool text_classify_table_ok(void) {
  size_t n = sizeof ranges / sizeof ranges[0];
  for (size_t i = 0; i < n; i++) {
    if (ranges[i].lo > ranges[i].hi) return false;
    if (i > 0 && ranges[i].lo <= ranges[i - 1].hi) return false;
  }
  return true;
}

text_class_t text_classify(uint32_t cp) {
  if (cp < 0x80) {
    if ((cp | 0x20) >= 'a' && (cp | 0x20) <= 'z') return TEXT_WORD;
    return cp >= '0' && cp <= '9' ? TEXT_WORD : TEXT_SEP;
  }
  size_t lo = 0, hi = sizeof ranges / sizeof ranges[0];
  while (lo < hi) { /* first range whose hi >= cp */
    size_t mid = (lo + hi) / 2;
    if (ranges[mid].hi < cp) lo = mid + 1;
    else hi = mid;
  }
  if (lo < sizeof ranges / sizeof ranges[0] && ranges[lo].lo <= cp)
    return (text_class_t)ranges[lo].cls;
  return TEXT_SEP;
}

/* ------------------------------------------------------------ folding -- */

/*
 * Latin-1 U+00C0..U+00FF: the ASCII letters each folds to. '1' = æ/Æ
 * ("ae"), '2' = þ/Þ ("th"), '3' = ß ("ss"); '.' = × ÷ (not letters).
 */
static const char latin1_base[64 + 1] =
    "aaaaaa1ceeeeiiii" /* C0..CF: À..Å Æ Ç È..Ë Ì..Ï */
    "dnooooo.ouuuuy23" /* D0..DF: Ð Ñ Ò..Ö × Ø Ù..Ü Ý Þ ß */
    "aaaaaa1ceeeeiiii" /* E0..EF */
    "dnooooo.ouuuuy2y"; /* F0..FF: ð ñ ò..ö ÷ ø ù..ü ý þ ÿ */

/*
 * Latin Extended-A U+0100..U+017F: the ASCII letter of each (upper and
 * lower case alike); '1' = Ĳ/ĳ ("ij"), '2' = Œ/œ ("oe").
 */
static const char latin_ext_a_base[128 + 1] =
    "aaaaaaccccccccdd" /* 0100..010F */
    "ddeeeeeeeeeegggg" /* 0110..011F */
    "gggghhhhiiiiiiii" /* 0120..012F */
    "ii11jjkkklllllll" /* 0130..013F */
    "lllnnnnnnnnnoooo" /* 0140..014F */
    "oo22rrrrrrssssss" /* 0150..015F */
    "ssttttttuuuuuuuu" /* 0160..016F */
    "uuuuwwyyyzzzzzzs"; /* 0170..017F */

/* Writes the ASCII letter(s) behind a table entry; returns the length. */
static size_t put_base(char c, char *out) {
  static const char *const pairs[] = {"ae", "th", "ss"};
  if (c >= '1' && c <= '3') {
    out[0] = pairs[c - '1'][0];
    out[1] = pairs[c - '1'][1];
    return 2;
  }
  out[0] = c;
  return 1;
}

/* Lower case of a Greek or Cyrillic code point (U+0370..U+052F). */
static uint32_t lower_greek_cyrillic(uint32_t cp) {
  if (cp == 0x0386) return 0x03AC;                       /* Ά */
  if (cp >= 0x0388 && cp <= 0x038A) return cp + 37;     /* Έ Ή Ί */
  if (cp == 0x038C) return 0x03CC;                       /* Ό */
  if (cp == 0x038E || cp == 0x038F) return cp + 63;      /* Ύ Ώ */
  if (cp >= 0x0391 && cp <= 0x03AB && cp != 0x03A2) return cp + 32;
  if (cp == 0x03C2) return 0x03C3;                       /* final ς → σ */
  if (cp >= 0x0400 && cp <= 0x040F) return cp + 80;      /* Ѐ..Џ */
  if (cp >= 0x0410 && cp <= 0x042F) return cp + 32;      /* А..Я */
  if ((cp >= 0x0460 && cp <= 0x0481) || (cp >= 0x048A && cp <= 0x04BF) ||
      (cp >= 0x04D0 && cp <= 0x052F))
    return cp | 1;                                       /* even upper, odd lower */
  if (cp == 0x04C0) return 0x04CF;                       /* Ӏ */
  if (cp >= 0x04C1 && cp <= 0x04CE && (cp & 1)) return cp + 1;
  return cp;
}

size_t text_fold(uint32_t cp, char *out) {
  if (cp < 0x80) {
    out[0] = (char)(cp >= 'A' && cp <= 'Z' ? cp + 32 : cp);
    return 1;
  }
  if (cp == 0x00B5) cp = 0x03BC; /* micro sign → Greek mu */
  if (cp >= 0x00C0 && cp <= 0x00FF && latin1_base[cp - 0xC0] != '.')
    return put_base(latin1_base[cp - 0xC0], out);
  if (cp >= 0x0100 && cp <= 0x017F) {
    char c = latin_ext_a_base[cp - 0x100];
    if (c == '1' || c == '2') {
      out[0] = c == '1' ? 'i' : 'o';
      out[1] = c == '1' ? 'j' : 'e';
      return 2;
    }
    out[0] = c;
    return 1;
  }
  if (cp >= 0x0370 && cp <= 0x052F) cp = lower_greek_cyrillic(cp);
  else if (cp >= 0xFF10 && cp <= 0xFF5A) {
    /* fullwidth digits and letters → ASCII (only WORD ones get here) */
    uint32_t a = cp - 0xFEE0;
    out[0] = (char)(a >= 'A' && a <= 'Z' ? a + 32 : a);
    return 1;
  }
  return text_utf8_encode(cp, out);
}
