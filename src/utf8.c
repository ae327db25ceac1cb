/*
 * utf8.c - strict UTF-8 decoding and label-name validation.
 */
#include "intent_impl.h"

size_t intenti_utf8_next(const uint8_t *s, size_t n, int32_t *cp) {
    if (n == 0)
        return 0;
    uint8_t c = s[0];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    size_t len;
    int32_t v, min;
    if (c >= 0xC2 && c <= 0xDF) { len = 2; v = c & 0x1F; min = 0x80; }
    else if (c >= 0xE0 && c <= 0xEF) { len = 3; v = c & 0x0F; min = 0x800; }
    else if (c >= 0xF0 && c <= 0xF4) { len = 4; v = c & 0x07; min = 0x10000; }
    else return 0;
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        v = (v << 6) | (s[i] & 0x3F);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
        return 0;
    *cp = v;
    return len;
}

size_t intenti_utf8_check(const char *s, size_t n) {
    const uint8_t *p = (const uint8_t *)s;
    size_t i = 0;
    while (i < n) {
        if (p[i] < 0x80) {
            i++;
            continue;
        }
        int32_t cp;
        size_t k = intenti_utf8_next(p + i, n - i, &cp);
        if (!k)
            return i;
        i += k;
    }
    return n;
}

static bool is_space(int32_t c) {
    return c == ' ' || (c >= 0x09 && c <= 0x0D) || c == 0x85 || c == 0xA0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F ||
           c == 0x205F || c == 0x3000 || c == 0xFEFF;
}

const char *intenti_label_problem(const char *s, size_t n) {
    if (n == 0)
        return "empty label";
    if (n > INTENT_MAX_LABEL_LEN)
        return "label longer than 128 bytes";
    const uint8_t *p = (const uint8_t *)s;
    size_t i = 0;
    while (i < n) {
        int32_t cp;
        size_t k = intenti_utf8_next(p + i, n - i, &cp);
        if (!k)
            return "label is not valid UTF-8";
        if (is_space(cp))
            return "label contains whitespace";
        if (cp == ',')
            return "label contains ','";
        if (cp < 0x20 || cp == 0x7F)
            return "label contains a control character";
        i += k;
    }
    return NULL;
}
