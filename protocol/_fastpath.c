/* The reader's fast path: msgpack frames to validated events and their SSE JSON, in C.
 *
 * A flood of events costs the server more in the interpreter (decode, validate, encode,
 * one object at a time) than on the pipe. This module does that work for the common
 * event, in one pass over its bytes: a flat map of ASCII text and numbers, at most one
 * level of maps or lists, nothing else. It is an accelerator and never the reference:
 * any frame it does not take (bytes, deeper nesting, non-ASCII text, a repeated key, an
 * unknown type, anything invalid, a truncated or oversized frame) is left to the Python
 * code in protocol/framing.py and protocol/events.py, which decides and names the error.
 * So it may only be stricter than `events._QUICK`, and what it builds must equal what
 * the Python path builds for the same frame: the same `Event` (fields in wire order) and
 * the same JSON text as `jsonlines.to_json` (tests/protocol/test_fastpath.py compares
 * them on generated frames).
 *
 * Memory safety: every read is checked against the end of the frame's body, which was
 * itself checked against the buffer; no length from the wire is trusted before that.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

/* What the Python side hands over once (`configure`). */
static PyObject *event_type;  /* protocol.events.Event */
static PyObject *specs;       /* dict: type name -> (type name, min_seq, field specs) */
/* The byte offsets of the Event's slots, in this order (found once, by `configure`). */
#define SLOTS 5
static const char *const slot_names[SLOTS] = {"type", "seq", "ts", "_fields", "json"};
static Py_ssize_t slot_offsets[SLOTS];

enum { KIND_STR, KIND_INT, KIND_NUMBER, KIND_BOOL, KIND_MAP, KIND_LIST, KIND_BYTES };

/* Outcomes of a step: done, not ours (the Python path decides), or a Python error set. */
enum { OK = 0, PASS = 1, ERR = -1 };

#define INT64_BOUND 9223372036854775807LL

/* ---- an output buffer for JSON text ------------------------------------------------ */

typedef struct {
    char *data;
    Py_ssize_t len;
    Py_ssize_t cap;
} Text;

static int text_reserve(Text *t, Py_ssize_t more) {
    if (t->len + more <= t->cap) return OK;
    Py_ssize_t cap = t->cap ? t->cap : 1024;
    while (cap < t->len + more) cap *= 2;
    char *data = PyMem_Realloc(t->data, (size_t)cap);
    if (data == NULL) {
        PyErr_NoMemory();
        return ERR;
    }
    t->data = data;
    t->cap = cap;
    return OK;
}

static int text_add(Text *t, const char *s, Py_ssize_t n) {
    if (text_reserve(t, n) != OK) return ERR;
    memcpy(t->data + t->len, s, (size_t)n);
    t->len += n;
    return OK;
}

/* Which ASCII bytes a JSON string escapes: the control characters, '"', '\\' and DEL. */
static int needs_escape(unsigned char c) { return c < ' ' || c == '"' || c == '\\' || c == 0x7f; }

/* Whether any of a word's 8 ASCII bytes needs escaping (bit tricks on all bytes at once:
 * a byte below 0x20, or equal to '"', '\\' or DEL). Exact for bytes below 0x80. */
#define BYTES(b) (0x0101010101010101ULL * (b))
static int word_needs_escape(uint64_t w) {
    uint64_t below_space = (w - BYTES(0x20)) & ~w;
    uint64_t quote = w ^ BYTES('"'), backslash = w ^ BYTES('\\'), del = w ^ BYTES(0x7f);
    uint64_t zero = ((quote - BYTES(1)) & ~quote) | ((backslash - BYTES(1)) & ~backslash) |
                    ((del - BYTES(1)) & ~del);
    return ((below_space | zero) & BYTES(0x80)) != 0;
}

/* ASCII text as a JSON string, escaped as the standard library's encoder does with
 * ensure_ascii: short escapes for the usual five, \u00xx (lowercase) for other control
 * characters and DEL. Runs between escapes are copied whole. */
static int text_add_string(Text *t, const unsigned char *s, Py_ssize_t n) {
    static const char hex[] = "0123456789abcdef";
    if (text_reserve(t, n * 6 + 2) != OK) return ERR;
    char *out = t->data + t->len;
    *out++ = '"';
    Py_ssize_t i = 0;
    while (i < n) {
        Py_ssize_t start = i;
        for (uint64_t w; i + 8 <= n && (memcpy(&w, s + i, 8), !word_needs_escape(w));) i += 8;
        while (i < n && !needs_escape(s[i])) i++;
        memcpy(out, s + start, (size_t)(i - start));
        out += i - start;
        if (i == n) break;
        unsigned char c = s[i++];
        *out++ = '\\';
        switch (c) {
        case '"': *out++ = '"'; break;
        case '\\': *out++ = '\\'; break;
        case '\n': *out++ = 'n'; break;
        case '\r': *out++ = 'r'; break;
        case '\t': *out++ = 't'; break;
        case '\b': *out++ = 'b'; break;
        case '\f': *out++ = 'f'; break;
        default:
            *out++ = 'u';
            *out++ = '0';
            *out++ = '0';
            *out++ = hex[c >> 4];
            *out++ = hex[c & 15];
        }
    }
    *out++ = '"';
    t->len = out - t->data;
    return OK;
}

/* `v` in decimal into `out` (at least 20 bytes); the number of characters. */
static int decimal(long long v, char *out) {
    char digits[24];
    char *end = digits + sizeof digits, *p = end;
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0) *--p = '-';
    memcpy(out, p, (size_t)(end - p));
    return (int)(end - p);
}

static int text_add_int(Text *t, long long v) {
    char digits[24];
    return text_add(t, digits, decimal(v, digits));
}

/* `c` / 10^f in fixed notation as repr writes it ("12.5", "0.001", "3.0"). */
static int write_fixed(int negative, uint64_t c, int f, char *out) {
    char digits[48];
    int n = 0;
    do {
        digits[n++] = (char)('0' + (int)(c % 10));
        c /= 10;
    } while (c);
    while (n <= f) digits[n++] = '0'; /* at least one digit before the point */
    int len = 0;
    if (negative) out[len++] = '-';
    for (int i = n - 1; i >= f; i--) out[len++] = digits[i];
    out[len++] = '.';
    if (f == 0) out[len++] = '0';
    for (int i = f - 1; i >= 0; i--) out[len++] = digits[i];
    return len;
}

/* repr(v) for 1e-4 <= |v| < 2**53, where repr writes fixed notation, by exact integer
 * arithmetic: of the decimals that read back as v, one with the fewest fractional digits,
 * the closest to v (a tie to the even one). -1 elsewhere, and for powers of two (whose
 * lower neighbour is nearer than the upper one): PyOS_double_to_string then decides. */
static int short_float(double v, char *out) {
    uint64_t bits;
    memcpy(&bits, &v, 8);
    int biased = (int)((bits >> 52) & 0x7ff);
    uint64_t fraction = bits & ((1ULL << 52) - 1);
    double size = fabs(v);
    if (fraction == 0 || size < 1e-4 || size >= 9007199254740992.0) return -1;
    uint64_t m = fraction | (1ULL << 52);
    int e = biased - 1075; /* v = m * 2^e, -66 <= e <= 0 in this range */
    /* In units of 2^(e-1): v is 2m, and reads back from anything in (2m-1, 2m+1), the
     * ends included when m is even (round half to even). */
    const int shift = 1 - e; /* one unit of v's last place is 2^shift units of this */
    const unsigned __int128 unit = (unsigned __int128)1 << shift, part = unit - 1;
    const unsigned __int128 lo = 2 * m - 1, hi = 2 * m + 1, mid = 2 * m;
    const int closed = (m & 1) == 0;
    /* lo, hi and mid times 10^f, for f = 0, 1, ...: below 2^54 * 10^21 < 2^125 */
    unsigned __int128 low = lo, high = hi, target = mid;
    for (int f = 0; f <= 21; f++, low *= 10, high *= 10, target *= 10) {
        /* 17 digits, 4 leading zeros at most */
        unsigned __int128 first = low >> shift, last = high >> shift;
        if ((low & part) != 0 || !closed) first++; /* above `low`, or at it when closed */
        if ((high & part) == 0 && !closed) last--;
        if (first > last) continue;
        unsigned __int128 c = target >> shift, rest = target & part;
        if (2 * rest > unit || (2 * rest == unit && (c & 1))) c++;
        c = c < first ? first : c > last ? last : c;
        /* The first f whose interval holds an integer is at most one past the f where the
         * interval's width reaches 1, so c < 10 m < 2^57: its digits in 64-bit arithmetic. */
        if (c >> 64) return -1;
        return write_fixed(v < 0, (uint64_t)c, f, out);
    }
    return -1;
}

/* A float as `repr` writes it, which is what the JSON encoder writes for a finite float. */
static int text_add_float(Text *t, double v) {
    char fixed[64];
    int n = short_float(v, fixed);
    if (n >= 0) return text_add(t, fixed, n);
    char *s = PyOS_double_to_string(v, 'r', 0, Py_DTSF_ADD_DOT_0, NULL);
    if (s == NULL) return ERR;
    int status = text_add(t, s, (Py_ssize_t)strlen(s));
    PyMem_Free(s);
    return status;
}

/* repr(v) through the fast path, for tests: None where it defers to the general one. */
static PyObject *float_repr(PyObject *self, PyObject *arg) {
    double v = PyFloat_AsDouble(arg);
    if (v == -1.0 && PyErr_Occurred()) return NULL;
    char fixed[64];
    int n = isfinite(v) ? short_float(v, fixed) : -1;
    if (n < 0) Py_RETURN_NONE;
    return PyUnicode_FromStringAndSize(fixed, n);
}

/* ---- reading msgpack ---------------------------------------------------------------- */

typedef struct {
    const unsigned char *p;
    const unsigned char *end;
} Reader;

static int take(Reader *r, Py_ssize_t n, const unsigned char **out) {
    if (r->end - r->p < n) return PASS;
    *out = r->p;
    r->p += n;
    return OK;
}

static uint64_t big_endian(const unsigned char *b, int n) {
    uint64_t v = 0;
    for (int i = 0; i < n; i++) v = (v << 8) | b[i];
    return v;
}

/* A map or array header of `family` (0x80 fixmap / 0x90 fixarray); PASS for anything else. */
static int read_count(Reader *r, int is_map, Py_ssize_t *count) {
    const unsigned char *b;
    if (take(r, 1, &b) != OK) return PASS;
    unsigned char c = b[0];
    unsigned char fix = is_map ? 0x80 : 0x90, sixteen = is_map ? 0xde : 0xdc;
    if ((c & 0xf0) == fix) {
        *count = c & 0x0f;
        return OK;
    }
    int width = c == sixteen ? 2 : c == sixteen + 1 ? 4 : 0;
    if (width == 0 || take(r, width, &b) != OK) return PASS;
    *count = (Py_ssize_t)big_endian(b, width);
    /* Every entry takes at least one byte per item: a larger count cannot be real. */
    return *count <= (r->end - r->p) ? OK : PASS;
}

/* ASCII text (str family only); PASS for other types or non-ASCII bytes. */
static int read_ascii(Reader *r, const unsigned char **s, Py_ssize_t *n) {
    const unsigned char *b;
    if (take(r, 1, &b) != OK) return PASS;
    unsigned char c = b[0];
    int width = 0;
    if ((c & 0xe0) == 0xa0) {
        *n = c & 0x1f;
    } else if (c >= 0xd9 && c <= 0xdb) {
        width = 1 << (c - 0xd9);
        if (take(r, width, &b) != OK) return PASS;
        *n = (Py_ssize_t)big_endian(b, width);
    } else {
        return PASS;
    }
    if (*n > r->end - r->p || take(r, *n, s) != OK) return PASS;
    const unsigned char *text = *s;
    Py_ssize_t i = 0;
    for (; i + 8 <= *n; i += 8) { /* a word at a time: any high bit is non-ASCII */
        uint64_t word;
        memcpy(&word, text + i, 8);
        if (word & 0x8080808080808080ULL) return PASS;
    }
    for (; i < *n; i++)
        if (text[i] & 0x80) return PASS;
    return OK;
}

/* Short keys and type names repeat in every event: one str object each, kept here, saves
 * building the text and hashing it again per event. Direct-mapped, bounded (KEYS slots). */
#define KEYS 512
#define KEY_MAX 32
static struct {
    Py_ssize_t n;
    unsigned char s[KEY_MAX];
    PyObject *o;
} keys[KEYS];

static PyObject *ascii_object(const unsigned char *s, Py_ssize_t n) {
    PyObject *o;
    size_t slot = 0;
    if (n <= KEY_MAX) {
        uint32_t h = 2166136261u; /* FNV-1a */
        for (Py_ssize_t i = 0; i < n; i++) h = (h ^ s[i]) * 16777619u;
        slot = h % KEYS;
        if (keys[slot].o != NULL && keys[slot].n == n && memcmp(keys[slot].s, s, (size_t)n) == 0) {
            Py_INCREF(keys[slot].o);
            return keys[slot].o;
        }
    }
    if ((o = PyUnicode_New(n, 127)) == NULL) return NULL;
    memcpy(PyUnicode_DATA(o), s, (size_t)n);
    if (n <= KEY_MAX) {
        if (PyObject_Hash(o) == -1) {
            Py_DECREF(o);
            return NULL;
        }
        Py_XSETREF(keys[slot].o, Py_NewRef(o));
        keys[slot].n = n;
        memcpy(keys[slot].s, s, (size_t)n);
    }
    return o;
}

/* What a msgpack value is, read without building anything. */
typedef enum { S_NONE, S_BOOL, S_INT, S_FLOAT, S_STR, S_MAP, S_LIST } Shape;

typedef struct {
    Shape shape;
    long long i;            /* S_INT, S_BOOL */
    double f;               /* S_FLOAT */
    const unsigned char *s; /* S_STR */
    Py_ssize_t n;           /* S_STR */
} Scalar;

static int read_int(const unsigned char *b, Reader *r, long long *v) {
    unsigned char c = b[0];
    if (c <= 0x7f) {
        *v = c;
        return OK;
    }
    if (c >= 0xe0) {
        *v = (signed char)c;
        return OK;
    }
    const unsigned char *d;
    int width = 1 << ((c - 0xcc) & 3);
    if (take(r, width, &d) != OK) return PASS;
    uint64_t u = big_endian(d, width);
    if (c <= 0xcf) { /* unsigned */
        if (u > (uint64_t)INT64_BOUND) return PASS;
        *v = (long long)u;
        return OK;
    }
    /* signed: sign-extend from `width` bytes */
    if (width < 8 && (u >> (width * 8 - 1)) & 1) u |= ~((uint64_t)0) << (width * 8);
    *v = (long long)u;
    return OK;
}

/* A scalar (nil, boolean, 64-bit signed integer, finite float, ASCII text) into `sc`; a
 * map or array header is left unread with its shape noted. PASS for anything else. */
static int read_scalar(Reader *r, Scalar *sc) {
    const unsigned char *b;
    if (take(r, 1, &b) != OK) return PASS;
    unsigned char c = b[0];
    if (c <= 0x7f || c >= 0xe0 || (c >= 0xcc && c <= 0xcf) || (c >= 0xd0 && c <= 0xd3)) {
        sc->shape = S_INT;
        return read_int(b, r, &sc->i);
    }
    if (c == 0xca || c == 0xcb) {
        const unsigned char *d;
        if (take(r, c == 0xca ? 4 : 8, &d) != OK) return PASS;
        if (c == 0xca) {
            uint32_t u = (uint32_t)big_endian(d, 4);
            float f;
            memcpy(&f, &u, 4);
            sc->f = f;
        } else {
            uint64_t u = big_endian(d, 8);
            memcpy(&sc->f, &u, 8);
        }
        sc->shape = S_FLOAT;
        return isfinite(sc->f) ? OK : PASS;
    }
    if (c == 0xc0 || c == 0xc2 || c == 0xc3) {
        sc->shape = c == 0xc0 ? S_NONE : S_BOOL;
        sc->i = c == 0xc3;
        return OK;
    }
    r->p--; /* the headers below are read again by their readers */
    if ((c & 0xe0) == 0xa0 || (c >= 0xd9 && c <= 0xdb)) {
        sc->shape = S_STR;
        return read_ascii(r, &sc->s, &sc->n);
    }
    if ((c & 0xf0) == 0x80 || c == 0xde || c == 0xdf) {
        sc->shape = S_MAP;
        return OK;
    }
    if ((c & 0xf0) == 0x90 || c == 0xdc || c == 0xdd) {
        sc->shape = S_LIST;
        return OK;
    }
    return PASS; /* bin, ext, the unused code */
}

static int scalar_json(Text *t, const Scalar *sc) {
    switch (sc->shape) {
    case S_INT: return text_add_int(t, sc->i);
    case S_FLOAT: return text_add_float(t, sc->f);
    case S_STR: return text_add_string(t, sc->s, sc->n);
    case S_BOOL: return sc->i ? text_add(t, "true", 4) : text_add(t, "false", 5);
    default: return text_add(t, "null", 4);
    }
}

/* ---- validation against the type's spec, as the bytes are read ----------------------- */

/* A field spec is (name, kind, choices, low, high, required): see events.fast_specs. */
#define SPEC_NAME(spec) PyTuple_GET_ITEM(spec, 0)
#define SPEC_KIND(spec) PyLong_AsLong(PyTuple_GET_ITEM(spec, 1))

/* The index in `field_specs` of the field named `key`, or -1. Names are ASCII. */
static Py_ssize_t find_spec(PyObject *field_specs, const unsigned char *key, Py_ssize_t n) {
    Py_ssize_t count = PyTuple_GET_SIZE(field_specs);
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *name = SPEC_NAME(PyTuple_GET_ITEM(field_specs, i));
        if (PyUnicode_GET_LENGTH(name) == n && memcmp(PyUnicode_DATA(name), key, (size_t)n) == 0)
            return i;
    }
    return -1;
}

static int within(double v, PyObject *spec) {
    double low = PyFloat_AsDouble(PyTuple_GET_ITEM(spec, 3));
    double high = PyFloat_AsDouble(PyTuple_GET_ITEM(spec, 4));
    if (PyErr_Occurred()) return ERR;
    return low <= v && v <= high ? OK : PASS;
}

/* A scalar against its field's spec: OK, or PASS for anything the spec does not take. */
static int check_scalar(const Scalar *sc, PyObject *spec) {
    switch (SPEC_KIND(spec)) {
    case KIND_STR: {
        if (sc->shape != S_STR) return PASS;
        PyObject *choices = PyTuple_GET_ITEM(spec, 2);
        if (choices == Py_None) return OK;
        PyObject *text = ascii_object(sc->s, sc->n);
        if (text == NULL) return ERR;
        int in = PySet_Contains(choices, text);
        Py_DECREF(text);
        return in == 1 ? OK : in < 0 ? ERR : PASS;
    }
    case KIND_INT:
        return sc->shape == S_INT ? within((double)sc->i, spec) : PASS;
    case KIND_NUMBER:
        if (sc->shape == S_INT) return within((double)sc->i, spec);
        return sc->shape == S_FLOAT ? within(sc->f, spec) : PASS;
    case KIND_BOOL:
        return sc->shape == S_BOOL ? OK : PASS;
    default: /* maps, lists and bytes are no scalars */
        return PASS;
    }
}

/* The keys of one map so far, to refuse a repeated one (msgpack allows it; the Python
 * path then decides). Maps with more keys than this are left to the Python path. */
#define MAX_KEYS 64
typedef struct {
    const unsigned char *s[MAX_KEYS];
    Py_ssize_t n[MAX_KEYS];
    int count;
} Keys;

static int new_key(Keys *keys, const unsigned char *s, Py_ssize_t n) {
    for (int i = 0; i < keys->count; i++)
        if (keys->n[i] == n && memcmp(keys->s[i], s, (size_t)n) == 0) return PASS;
    if (keys->count == MAX_KEYS) return PASS;
    keys->s[keys->count] = s;
    keys->n[keys->count++] = n;
    return OK;
}

/* A map of scalars (one that a field of kind map holds) or a list of scalars, its JSON
 * into `t`; a map's keys in `required` (field specs, or None) must all be there and fit. */
static int read_collection(Reader *r, int is_map, Text *t, PyObject *required) {
    Py_ssize_t count;
    if (read_count(r, is_map, &count) != OK) return PASS;
    Keys keys;
    keys.count = 0; /* only the count: zeroing the arrays would cost more than their use */
    uint64_t found = 0;
    Py_ssize_t wanted = required == Py_None ? 0 : PyTuple_GET_SIZE(required);
    if (wanted > 64) return PASS;
    int status = text_add(t, is_map ? "{" : "[", 1);
    for (Py_ssize_t i = 0; i < count && status == OK; i++) {
        Scalar sc;
        if (i > 0 && (status = text_add(t, ",", 1)) != OK) break;
        if (is_map) {
            const unsigned char *s;
            Py_ssize_t n;
            if ((status = read_ascii(r, &s, &n)) != OK || (status = new_key(&keys, s, n)) != OK)
                break;
            if ((status = text_add_string(t, s, n)) != OK || (status = text_add(t, ":", 1)) != OK)
                break;
            Py_ssize_t index = wanted ? find_spec(required, s, n) : -1;
            if ((status = read_scalar(r, &sc)) != OK) break;
            if (sc.shape == S_MAP || sc.shape == S_LIST) status = PASS; /* deeper: not ours */
            else if (index >= 0) {
                status = check_scalar(&sc, PyTuple_GET_ITEM(required, index));
                found |= (uint64_t)1 << index;
            }
        } else {
            status = read_scalar(r, &sc);
            if (status == OK && (sc.shape == S_MAP || sc.shape == S_LIST)) status = PASS;
        }
        if (status == OK) status = scalar_json(t, &sc);
    }
    if (status == OK && wanted && found != (wanted == 64 ? ~(uint64_t)0 : ((uint64_t)1 << wanted) - 1))
        status = PASS; /* a required key is missing */
    if (status == OK) status = text_add(t, is_map ? "}" : "]", 1);
    return status;
}

/* ---- one frame ---------------------------------------------------------------------- */

typedef struct {
    PyObject *spec; /* borrowed: (type name, min_seq, field specs) */
    long long seq;
    double ts;
} Head;

/* Which common key `key` is (a bit of `seen`), or 0 for a field of the type. */
static unsigned common_bit(const unsigned char *key, Py_ssize_t n) {
    if (n == 1 && key[0] == 'v') return 1;
    if (n == 4 && memcmp(key, "type", 4) == 0) return 2;
    if (n == 3 && memcmp(key, "seq", 3) == 0) return 4;
    if (n == 2 && memcmp(key, "ts", 2) == 0) return 8;
    return 0;
}

/* The value of common key `bit` into `h`. Nothing is written: the head's text is written
 * last, in the canonical order, whatever the order on the wire. */
static int read_common(Reader *r, unsigned bit, Head *h) {
    Scalar sc;
    int status = read_scalar(r, &sc);
    if (status != OK) return status;
    switch (bit) {
    case 1:
        return sc.shape == S_INT && sc.i == 1 ? OK : PASS;
    case 2: {
        if (sc.shape != S_STR) return PASS;
        PyObject *name = ascii_object(sc.s, sc.n);
        if (name == NULL) return ERR;
        h->spec = PyDict_GetItemWithError(specs, name);
        Py_DECREF(name);
        return h->spec != NULL ? OK : PyErr_Occurred() ? ERR : PASS;
    }
    case 4:
        h->seq = sc.i;
        return sc.shape == S_INT ? OK : PASS;
    default: /* ts: a finite float, or an integer whose absolute value fits 63 bits */
        h->ts = sc.shape == S_FLOAT ? sc.f : (double)sc.i;
        return sc.shape == S_FLOAT || (sc.shape == S_INT && sc.i >= -INT64_BOUND) ? OK : PASS;
    }
}

/* A field's value, its text (led by a comma and its name) into `t`. The type's fields are
 * checked against their specs (the spec's index is noted in `found`); other keys (a newer
 * peer's) are taken as scalars only, as the quick test takes them. */
static int read_field(Reader *r, const unsigned char *key, Py_ssize_t n, PyObject *field_specs,
                      uint64_t *found, Keys *others, Text *t) {
    /* A repeated key: a field of the type by its bit in `found`, any other by the list. */
    Py_ssize_t index = find_spec(field_specs, key, n);
    if (index >= 0 ? (*found >> index) & 1 : new_key(others, key, n) != OK) return PASS;
    int status = text_add(t, ",", 1);
    if (status == OK) status = text_add_string(t, key, n);
    if (status == OK) status = text_add(t, ":", 1);
    if (status != OK) return status;
    PyObject *spec = index >= 0 ? PyTuple_GET_ITEM(field_specs, index) : NULL;
    Scalar sc;
    if ((status = read_scalar(r, &sc)) != OK) return status;
    if (index >= 0) *found |= (uint64_t)1 << index;
    if (sc.shape == S_MAP || sc.shape == S_LIST) {
        long kind = spec == NULL ? -1 : SPEC_KIND(spec);
        if (kind != (sc.shape == S_MAP ? KIND_MAP : KIND_LIST)) return PASS;
        return read_collection(r, sc.shape == S_MAP, t, PyTuple_GET_ITEM(spec, 5));
    }
    if (spec != NULL && (status = check_scalar(&sc, spec)) != OK) return status;
    return scalar_json(t, &sc);
}

/* A new Event of `event_type`: its slots set as the slots' own descriptors would set them
 * (the class is frozen, so its __setattr__ refuses); `fields` stays None, to be decoded
 * from `json` when someone asks for it. */
static PyObject *new_event(PyObject *type_name, long long seq, double ts, PyObject *json) {
    PyObject *values[SLOTS] = {type_name, NULL, NULL, Py_None, json};
    if ((values[1] = PyLong_FromLongLong(seq)) == NULL) return NULL;
    if ((values[2] = PyFloat_FromDouble(ts)) == NULL) {
        Py_DECREF(values[1]);
        return NULL;
    }
    PyTypeObject *type = (PyTypeObject *)event_type;
    PyObject *event = type->tp_alloc(type, 0);
    for (int i = 0; event != NULL && i < SLOTS; i++)
        *(PyObject **)((char *)event + slot_offsets[i]) = Py_NewRef(values[i]);
    /* An event holds text and numbers, and later perhaps its fields decoded from JSON: it
     * can never be part of a reference cycle. Untracked, the thousands a read makes cost
     * the cyclic collector nothing. */
    if (event != NULL && PyObject_IS_GC(event)) PyObject_GC_UnTrack(event);
    Py_DECREF(values[1]);
    Py_DECREF(values[2]);
    return event;
}

static int read_event(const unsigned char *body, Py_ssize_t size, Text *t, Text *head,
                      PyObject **out) {
    Reader r = {body, body + size};
    Head h = {NULL, 0, 0.0};
    Keys keys;
    keys.count = 0; /* only the count: zeroing the arrays would cost more than their use */
    Py_ssize_t count;
    unsigned seen = 0;
    uint64_t found = 0;
    int status = read_count(&r, 1, &count);
    if (status != OK) return status;
    t->len = 0;
    /* The type's spec comes with its key, which may come late: the fields are checked
     * after it is known, so read `type` first wherever it stands. */
    Reader scan = r;
    for (Py_ssize_t i = 0; i < count && status == OK && h.spec == NULL; i++) {
        const unsigned char *key;
        Py_ssize_t n;
        Scalar skip;
        if ((status = read_ascii(&scan, &key, &n)) != OK) break;
        if (common_bit(key, n) == 2) {
            status = read_common(&scan, 2, &h);
        } else if ((status = read_scalar(&scan, &skip)) == OK && (skip.shape == S_MAP || skip.shape == S_LIST)) {
            status = PASS; /* a collection before `type`: rare, not ours */
        }
    }
    if (status != OK || h.spec == NULL) return status == OK ? PASS : status;
    PyObject *field_specs = PyTuple_GET_ITEM(h.spec, 2);
    if (PyTuple_GET_SIZE(field_specs) > 64) return PASS;
    for (Py_ssize_t i = 0; i < count && status == OK; i++) {
        const unsigned char *key;
        Py_ssize_t n;
        if ((status = read_ascii(&r, &key, &n)) != OK) break;
        unsigned bit = common_bit(key, n);
        if (bit == 0) {
            status = read_field(&r, key, n, field_specs, &found, &keys, t);
        } else if (seen & bit) {
            status = PASS; /* a repeated key */
        } else if (bit == 2) {
            seen |= bit; /* `type`: read and looked up by the scan above */
            Scalar skip;
            status = read_scalar(&r, &skip);
        } else {
            seen |= bit;
            status = read_common(&r, bit, &h);
        }
    }
    Py_ssize_t wanted = PyTuple_GET_SIZE(field_specs);
    if (status == OK && (r.p != r.end || seen != 15)) status = PASS;
    if (status == OK && found != (wanted == 64 ? ~(uint64_t)0 : ((uint64_t)1 << wanted) - 1))
        status = PASS; /* a field of the type is missing */
    if (status == OK && h.seq < PyLong_AsLongLong(PyTuple_GET_ITEM(h.spec, 1))) status = PASS;
    if (status != OK) return status;
    /* {"v":1,"type":T,"seq":N,"ts":F + the fields' text (each led by a comma) + } */
    PyObject *type_name = PyTuple_GET_ITEM(h.spec, 0);
    head->len = 0;
    status = text_add(head, "{\"v\":1,\"type\":", 14);
    if (status == OK)
        status = text_add_string(head, PyUnicode_DATA(type_name), PyUnicode_GET_LENGTH(type_name));
    if (status == OK) status = text_add(head, ",\"seq\":", 7);
    if (status == OK) status = text_add_int(head, h.seq);
    if (status == OK) status = text_add(head, ",\"ts\":", 6);
    if (status == OK) status = text_add_float(head, h.ts);
    if (status != OK) return status;
    PyObject *json = PyUnicode_New(head->len + t->len + 1, 127);
    if (json == NULL) return ERR;
    char *d = PyUnicode_DATA(json);
    memcpy(d, head->data, (size_t)head->len);
    memcpy(d + head->len, t->data, (size_t)t->len);
    d[head->len + t->len] = '}';
    *out = new_event(type_name, h.seq, h.ts, json);
    Py_DECREF(json);
    return *out == NULL ? ERR : OK;
}

/* ---- the module's functions --------------------------------------------------------- */

/* The offset of the writable object slot `name` of `type`; -1 with an error if it has none. */
static Py_ssize_t slot_offset(PyObject *type, const char *name) {
    PyObject *descr = PyObject_GetAttrString(type, name);
    if (descr == NULL) return -1;
    Py_ssize_t offset = -1;
    if (Py_IS_TYPE(descr, &PyMemberDescr_Type)) {
        PyMemberDef *member = ((PyMemberDescrObject *)descr)->d_member;
        if (member->type == T_OBJECT_EX && !(member->flags & READONLY)) offset = member->offset;
    }
    Py_DECREF(descr);
    if (offset < 0)
        PyErr_Format(PyExc_TypeError, "configure: %R has no object slot %s", type, name);
    return offset;
}

static PyObject *configure(PyObject *self, PyObject *args) {
    PyObject *type, *table;
    if (!PyArg_ParseTuple(args, "OO!:configure", &type, &PyDict_Type, &table)) return NULL;
    if (!PyType_Check(type)) {
        PyErr_SetString(PyExc_TypeError, "configure: the event type must be a class");
        return NULL;
    }
    Py_ssize_t offsets[SLOTS];
    for (int i = 0; i < SLOTS; i++)
        if ((offsets[i] = slot_offset(type, slot_names[i])) < 0) return NULL;
    memcpy(slot_offsets, offsets, sizeof offsets);
    Py_INCREF(type);
    Py_INCREF(table);
    Py_XSETREF(event_type, type);
    Py_XSETREF(specs, table);
    Py_RETURN_NONE;
}

static PyObject *decode_frames(PyObject *self, PyObject *args) {
    Py_buffer buffer;
    Py_ssize_t pos, limit;
    PyObject *events;
    if (!PyArg_ParseTuple(args, "y*nnO!:decode_frames", &buffer, &pos, &limit, &PyList_Type,
                          &events))
        return NULL;
    if (event_type == NULL) {
        PyBuffer_Release(&buffer);
        PyErr_SetString(PyExc_RuntimeError, "decode_frames: configure() was not called");
        return NULL;
    }
    const unsigned char *data = buffer.buf;
    Py_ssize_t end = buffer.len;
    Text text = {0}, head = {0};
    int status = OK;
    while (pos >= 0 && end - pos >= 4) {
        Py_ssize_t size = (Py_ssize_t)big_endian(data + pos, 4);
        if (size > limit || end - pos - 4 < size) break;
        PyObject *event = NULL;
        status = read_event(data + pos + 4, size, &text, &head, &event);
        if (status != OK) break;
        status = PyList_Append(events, event) < 0 ? ERR : OK;
        Py_DECREF(event);
        if (status != OK) break;
        pos += 4 + size;
    }
    PyMem_Free(text.data);
    PyMem_Free(head.data);
    PyBuffer_Release(&buffer);
    if (status == ERR) return NULL;
    return PyLong_FromSsize_t(pos);
}

/* The SSE messages of a log's entries: `id: P\nevent: T\ndata: D\n\n` for positions
 * first, first + 1, ... Types and data must be one-line ASCII (protocol type names and
 * `to_json` text are): anything else is a caller's bug, refused with ValueError. */
static PyObject *sse_entries(PyObject *self, PyObject *args) {
    long long first;
    PyObject *types, *datas;
    if (!PyArg_ParseTuple(args, "LO!O!:sse_entries", &first, &PyList_Type, &types,
                          &PyList_Type, &datas))
        return NULL;
    Py_ssize_t n = PyList_GET_SIZE(types);
    if (PyList_GET_SIZE(datas) != n) {
        PyErr_SetString(PyExc_ValueError, "sse_entries: types and data differ in length");
        return NULL;
    }
    PyObject *out = PyList_New(n);
    if (out == NULL) return NULL;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *type = PyList_GET_ITEM(types, i), *data = PyList_GET_ITEM(datas, i);
        if (!PyUnicode_Check(type) || !PyUnicode_Check(data) || !PyUnicode_IS_ASCII(type) ||
            !PyUnicode_IS_ASCII(data)) {
            PyErr_SetString(PyExc_ValueError, "sse_entries: types and data must be ASCII text");
            Py_DECREF(out);
            return NULL;
        }
        Py_ssize_t tn = PyUnicode_GET_LENGTH(type), dn = PyUnicode_GET_LENGTH(data);
        const char *t = (const char *)PyUnicode_DATA(type), *d = PyUnicode_DATA(data);
        if (memchr(t, '\n', tn) || memchr(t, '\r', tn) || memchr(t, '\0', tn) ||
            memchr(d, '\n', dn) || memchr(d, '\r', dn)) {
            PyErr_SetString(PyExc_ValueError, "sse_entries: a type or data spans lines");
            Py_DECREF(out);
            return NULL;
        }
        char id[48] = "id: ";
        int idn = 4 + decimal(first + i, id + 4);
        memcpy(id + idn, "\nevent: ", 8);
        idn += 8;
        PyObject *entry = PyBytes_FromStringAndSize(NULL, idn + tn + 7 + dn + 2);
        if (entry == NULL) {
            Py_DECREF(out);
            return NULL;
        }
        char *e = PyBytes_AS_STRING(entry);
        memcpy(e, id, (size_t)idn);
        e += idn;
        memcpy(e, t, (size_t)tn);
        e += tn;
        memcpy(e, "\ndata: ", 7);
        e += 7;
        memcpy(e, d, (size_t)dn);
        e += dn;
        memcpy(e, "\n\n", 2);
        PyList_SET_ITEM(out, i, entry);
    }
    return out;
}

static PyMethodDef methods[] = {
    {"configure", configure, METH_VARARGS,
     "configure(event_type, specs): the Event class and the spec table (events.fast_specs)."},
    {"decode_frames", decode_frames, METH_VARARGS,
     "decode_frames(buffer, pos, max_frame_size, events) -> pos: append the events of the "
     "complete frames from `pos` on that the fast path takes; stop at the first it does not "
     "(or an incomplete or oversized one) and return its position."},
    {"float_repr", float_repr, METH_O,
     "float_repr(x) -> repr(x) as the fast path writes it, or None where it defers."},
    {"sse_entries", sse_entries, METH_VARARGS,
     "sse_entries(first_id, types, datas) -> list of SSE messages, one per entry."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "protocol._fastpath",
    "The reader's fast path in C (see protocol/_fastpath.c).", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__fastpath(void) { return PyModule_Create(&module); }
