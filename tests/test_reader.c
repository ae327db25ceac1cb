/*
 * test_reader.c - TSV, fastText and JSONL readers: good input, every error path with its
 * FILE:LINE message, rollback, streaming of long lines and auto-detection.
 */
#include "tests.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static intent_dataset *fresh(void) {
    intent_dataset *ds;
    assert_int_equal(intent_dataset_new(&ds), INTENT_OK);
    return ds;
}

static void labels_of(const intent_dataset *ds, size_t i, char *out, size_t cap) {
    const uint32_t *ids;
    size_t n;
    intent_dataset_example(ds, i, NULL, &ids, &n);
    out[0] = '\0';
    for (size_t k = 0; k < n; k++) {
        size_t l = strlen(out);
        snprintf(out + l, cap - l, "%s%s", k ? "," : "", intent_dataset_label(ds, ids[k]));
    }
}

static void reads_three_formats(void **state) {
    (void)state;
    const char *tsv = "FILES,VISION\tread the screen\nMUSIC\tplay jazz\n\n   \nVISION\tlook\r\n";
    const char *ft = "__label__FILES __label__VISION read the screen\n__label__MUSIC play jazz\n__label__VISION look\n";
    const char *jl = "{\"text\": \"read the screen\", \"labels\": [\"FILES\", \"VISION\"]}\n"
                     "{\"labels\":[\"MUSIC\"],\"text\":\"play jazz\",\"id\":7,\"meta\":{\"a\":[1,2,{\"b\":null}]}}\n"
                     "  {\"text\": \"look\", \"labels\": [\"VISION\", \"VISION\"]}  \n";
    const char *srcs[] = {tsv, ft, jl};
    const char *names[] = {"a.tsv", "a.ft", "a.jsonl"};
    for (int f = 0; f < 3; f++) {
        for (int by_content = 0; by_content < 2; by_content++) {
            intent_dataset *ds = fresh();
            int rc = intent_dataset_read_mem(ds, by_content ? "noext" : names[f], srcs[f], strlen(srcs[f]), INTENT_FORMAT_AUTO);
            assert_int_equal(rc, INTENT_OK);
            assert_int_equal(intent_dataset_size(ds), 3);
            assert_int_equal(intent_dataset_n_labels(ds), 3);
            size_t len;
            char lab[64];
            assert_string_equal(intent_dataset_example(ds, 0, &len, NULL, NULL), "read the screen");
            labels_of(ds, 0, lab, sizeof lab);
            assert_string_equal(lab, "FILES,VISION");
            assert_string_equal(intent_dataset_example(ds, 2, &len, NULL, NULL), "look");
            labels_of(ds, 2, lab, sizeof lab);
            assert_string_equal(lab, "VISION"); /* repeats count once */
            intent_dataset_free(ds);
        }
    }
}

static void json_escapes(void **state) {
    (void)state;
    const char *jl = "{\"text\": \"caf\\u00e9 \\\"x\\\" \\ud83d\\ude00 a\\/b\\n\", \"labels\": [\"L\\u0031\"]}\n";
    intent_dataset *ds = fresh();
    assert_int_equal(intent_dataset_read_mem(ds, "x.jsonl", jl, strlen(jl), INTENT_FORMAT_AUTO), INTENT_OK);
    assert_string_equal(intent_dataset_example(ds, 0, NULL, NULL, NULL), "caf\xc3\xa9 \"x\" \xf0\x9f\x98\x80 a/b\n");
    assert_string_equal(intent_dataset_label(ds, 0), "L1");
    intent_dataset_free(ds);
}

typedef struct bad_case {
    int format;
    const char *data;
    const char *want; /* expected message, after "bad.x:" */
} bad_case;

static void errors_name_file_and_line(void **state) {
    (void)state;
    static const bad_case cases[] = {
        {INTENT_FORMAT_TSV, "A\tok\nno tab here\n", "2: no tab between labels and text"},
        {INTENT_FORMAT_TSV, "A\tok\nB\t   \n", "2: empty text"},
        {INTENT_FORMAT_TSV, "A\tok\n\tno labels\n", "2: no labels before the tab"},
        {INTENT_FORMAT_TSV, "A,\tempty label\n", "1: empty label"},
        {INTENT_FORMAT_TSV, "A, B\tspace in label\n", "1: label contains whitespace"},
        {INTENT_FORMAT_TSV, "A\tbad \xff utf8\n", "1: text is not valid UTF-8"},
        {INTENT_FORMAT_TSV, "A\xff\tbad label\n", "1: label is not valid UTF-8"},
        {INTENT_FORMAT_FASTTEXT, "__label__A ok\njust text\n", "2: no __label__ at the start of the line"},
        {INTENT_FORMAT_FASTTEXT, "__label__ empty\n", "1: empty label"},
        {INTENT_FORMAT_FASTTEXT, "__label__A   \n", "1: empty text"},
        {INTENT_FORMAT_JSONL, "{\"text\": \"a\", \"labels\": [\"A\"]}\n{\"text\": \"b\"\n", "2: expected ',' or '}'"},
        {INTENT_FORMAT_JSONL, "{\"text\": \"a\"}\n", "1: missing \"labels\""},
        {INTENT_FORMAT_JSONL, "{\"labels\": [\"A\"]}\n", "1: missing \"text\""},
        {INTENT_FORMAT_JSONL, "{\"text\": 5, \"labels\": [\"A\"]}\n", "1: \"text\" must be a string"},
        {INTENT_FORMAT_JSONL, "{\"text\": \"a\", \"labels\": \"A\"}\n", "1: \"labels\" must be an array of strings"},
        {INTENT_FORMAT_JSONL, "{\"text\": \"a\", \"labels\": []}\n", "1: \"labels\" is empty"},
        {INTENT_FORMAT_JSONL, "{\"text\": \"a\", \"labels\": [\"A B\"]}\n", "1: label contains whitespace"},
        {INTENT_FORMAT_JSONL, "{\"text\": \"a\\x\", \"labels\": [\"A\"]}\n", "1: bad escape in string"},
        {INTENT_FORMAT_JSONL, "{\"text\": \"\\ud800\", \"labels\": [\"A\"]}\n", "1: unpaired surrogate in \\u escape"},
        {INTENT_FORMAT_JSONL, "{\"text\": \"a\", \"labels\": [\"A\"]} x\n", "1: trailing characters after the JSON object"},
        {INTENT_FORMAT_JSONL, "{\"text\": \"a\", \"text\": \"b\", \"labels\": [\"A\"]}\n", "1: duplicate key \"text\""},
        {INTENT_FORMAT_JSONL, "[1]\n", "1: expected a JSON object"},
        {INTENT_FORMAT_JSONL, "{\"text\": \" \\n \", \"labels\": [\"A\"]}\n", "1: empty text"},
        {INTENT_FORMAT_JSONL, "{\"text\": \"a\", \"labels\": [\"A\"], \"x\": tru}\n", "1: invalid JSON value"},
        {INTENT_FORMAT_JSONL, "{\"text\": \"a\tb\", \"labels\": [\"A\"]}\n", "1: control character in string"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        intent_dataset *ds = fresh();
        assert_int_equal(intent_dataset_add(ds, "kept", 4, (const char *[]){"KEEP"}, 1), INTENT_OK);
        int rc = intent_dataset_read_mem(ds, "bad.x", cases[i].data, strlen(cases[i].data), cases[i].format);
        assert_int_equal(rc, INTENT_ERR_PARSE);
        char want[256];
        snprintf(want, sizeof want, "bad.x:%s", cases[i].want);
        if (strcmp(intent_dataset_errmsg(ds), want) != 0)
            fail_msg("case %zu: got \"%s\", want \"%s\"", i, intent_dataset_errmsg(ds), want);
        /* rolled back: only what was there before */
        assert_int_equal(intent_dataset_size(ds), 1);
        assert_int_equal(intent_dataset_n_labels(ds), 1);
        intent_dataset_free(ds);
    }
}

static void json_nesting_is_capped(void **state) {
    (void)state;
    char line[1024];
    size_t at = (size_t)snprintf(line, sizeof line, "{\"text\": \"a\", \"labels\": [\"A\"], \"x\": ");
    for (int i = 0; i < 100; i++)
        line[at++] = '[';
    for (int i = 0; i < 100; i++)
        line[at++] = ']';
    line[at++] = '}';
    line[at] = '\0';
    intent_dataset *ds = fresh();
    assert_int_equal(intent_dataset_read_mem(ds, "deep.jsonl", line, at, INTENT_FORMAT_JSONL), INTENT_ERR_PARSE);
    assert_string_equal(intent_dataset_errmsg(ds), "deep.jsonl:1: JSON nested too deeply");
    intent_dataset_free(ds);
}

static void long_lines_stream_from_files(void **state) {
    (void)state;
    char path[256];
    tmp_path(path, sizeof path, "long.tsv");
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    /* a 300 KB line between short ones crosses the reader's 64 KB chunks */
    fputs("\xef\xbb\xbfSHORT\tfirst\n", fp);
    fputs("LONG\t", fp);
    for (int i = 0; i < 60000; i++)
        fputs("word ", fp);
    fputs("end\nSHORT\tlast", fp); /* no final newline */
    fclose(fp);
    intent_dataset *ds = fresh();
    assert_int_equal(intent_dataset_read_file(ds, path, INTENT_FORMAT_AUTO), INTENT_OK);
    assert_int_equal(intent_dataset_size(ds), 3);
    size_t len;
    intent_dataset_example(ds, 1, &len, NULL, NULL);
    assert_int_equal(len, 60000 * 5 + 3);
    assert_string_equal(intent_dataset_example(ds, 2, NULL, NULL, NULL), "last");
    assert_string_equal(intent_dataset_label(ds, 0), "SHORT"); /* BOM skipped */
    intent_dataset_free(ds);
    remove(path);
}

static void missing_file_is_io_error(void **state) {
    (void)state;
    intent_dataset *ds = fresh();
    assert_int_equal(intent_dataset_read_file(ds, "/nonexistent/x.tsv", INTENT_FORMAT_AUTO), INTENT_ERR_IO);
    assert_non_null(strstr(intent_dataset_errmsg(ds), "/nonexistent/x.tsv: "));
    assert_int_equal(intent_dataset_read_file(ds, "/tmp", INTENT_FORMAT_AUTO) != INTENT_OK, 1);
    intent_dataset_free(ds);
}

static void add_validates(void **state) {
    (void)state;
    intent_dataset *ds = fresh();
    const char *ok[] = {"A"}, *sp[] = {"A B"}, *comma[] = {"A,B"}, *empty[] = {""};
    assert_int_equal(intent_dataset_add(ds, "text", 4, ok, 1), INTENT_OK);
    assert_int_equal(intent_dataset_add(ds, "text", 4, sp, 1), INTENT_ERR_ARG);
    assert_int_equal(intent_dataset_add(ds, "text", 4, comma, 1), INTENT_ERR_ARG);
    assert_int_equal(intent_dataset_add(ds, "text", 4, empty, 1), INTENT_ERR_ARG);
    assert_int_equal(intent_dataset_add(ds, "text", 4, ok, 0), INTENT_ERR_ARG);
    assert_int_equal(intent_dataset_add(ds, "  ", 2, ok, 1), INTENT_ERR_ARG);
    assert_int_equal(intent_dataset_add(ds, "a\0b", 3, ok, 1), INTENT_ERR_ARG);
    assert_int_equal(intent_dataset_add(NULL, "text", 4, ok, 1), INTENT_ERR_ARG);
    assert_int_equal(intent_dataset_size(ds), 1);
    assert_int_equal(intent_dataset_n_labels(ds), 1);
    assert_null(intent_dataset_example(ds, 1, NULL, NULL, NULL));
    assert_null(intent_dataset_label(ds, 1));
    intent_dataset_free(ds);
    intent_dataset_free(NULL);
}

static void many_labels(void **state) {
    (void)state;
    intent_dataset *ds = fresh();
    char name[32];
    for (int i = 0; i < 5000; i++) {
        snprintf(name, sizeof name, "L%d", i);
        const char *l[] = {name};
        assert_int_equal(intent_dataset_add(ds, "t", 1, l, 1), INTENT_OK);
    }
    assert_int_equal(intent_dataset_n_labels(ds), 5000);
    assert_string_equal(intent_dataset_label(ds, 4321), "L4321");
    assert_int_equal(intenti_dataset_find_label(ds, "L4321", 5), 4321);
    intent_dataset_free(ds);
}

int test_reader(int *total) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(reads_three_formats), cmocka_unit_test(json_escapes),
        cmocka_unit_test(errors_name_file_and_line), cmocka_unit_test(json_nesting_is_capped),
        cmocka_unit_test(long_lines_stream_from_files), cmocka_unit_test(missing_file_is_io_error),
        cmocka_unit_test(add_validates), cmocka_unit_test(many_labels),
    };
    return RUN("reader", tests, total);
}
