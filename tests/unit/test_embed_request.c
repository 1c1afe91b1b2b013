/*
 * test_embed_request.c — the pure parts of the embedding provider layer,
 * without a server: the UTF-8 check, the request writer (exact size,
 * escaping), the answer decoder's verdicts, the provider error text
 * (one line, redacted, cut), the traceparent check, and the settings table
 * of docs/embedding-providers.md against AKIDB_EMBED_SETTINGS.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "akidb/embed.h"
#include "check.h"
#include "embed/embed_internal.h"

#ifndef AKIDB_SOURCE_DIR
#error "AKIDB_SOURCE_DIR must be defined by the build"
#endif

static void test_embed_utf8_check_refuses_overlongs_surrogates_and_truncation(void) {
  size_t bad = 99;
  ASSERT_TRUE(embed_utf8_valid("caf\xc3\xa9 \xf0\x9f\x98\x80", 10, NULL));
  ASSERT_TRUE(embed_utf8_valid("", 0, NULL));
  ASSERT_TRUE(!embed_utf8_valid("a\xc0\xaf", 3, &bad)); /* overlong '/' */
  ASSERT_EQ_INT(bad, 1);
  ASSERT_TRUE(!embed_utf8_valid("\xed\xa0\x80", 3, &bad)); /* surrogate */
  ASSERT_TRUE(!embed_utf8_valid("\xf4\x90\x80\x80", 4, &bad)); /* > U+10FFFF */
  ASSERT_TRUE(!embed_utf8_valid("ab\xe6\x97", 4, &bad)); /* cut */
  ASSERT_EQ_INT(bad, 2);
  ASSERT_TRUE(embed_utf8_valid("nul\0inside", 10, NULL));
}

static void test_embed_request_body_is_exact_and_parses_back(void) {
  const char *t[] = {"a \"q\" \\ /", "\x01\t\n\x1f\x7f", "\xe6\x97\xa5", ""};
  size_t l[] = {9, 5, 3, 0}, len = 0;
  char *body = embed_request_body("m\"x", 384, t, l, 4, &len);
  ASSERT_TRUE(body != NULL);
  size_t want = embed_request_overhead("m\"x", 384) + 3;
  for (size_t i = 0; i < 4; i++) want += embed_json_string_len(t[i], l[i]);
  ASSERT_EQ_INT(len, want);
  json_error_t je;
  json_t *j = json_loadb(body, len, 0, &je);
  if (!j) CHECK_FAIL("body does not parse: %s: %.*s", je.text, (int)len, body);
  ASSERT_STR_EQ(json_string_value(json_object_get(j, "model")), "m\"x");
  ASSERT_EQ_INT(json_integer_value(json_object_get(j, "dimensions")), 384);
  ASSERT_STR_EQ(json_string_value(json_object_get(j, "encoding_format")), "float");
  json_t *in = json_object_get(j, "input");
  ASSERT_EQ_INT(json_array_size(in), 4);
  for (size_t i = 0; i < 4; i++) ASSERT_STR_EQ(json_string_value(json_array_get(in, i)), t[i]);
  json_decref(j);
  free(body);
  body = embed_request_body("m", 0, t, l, 1, &len); /* no dimensions key */
  ASSERT_TRUE(memmem(body, len, "dimensions", 10) == NULL); /* not terminated */
  free(body);
}

static int decode(const char *body, size_t n, uint32_t dim, float *out, char *err) {
  return embed_decode_response(body, strlen(body), n, dim, out, err, 256);
}

static void test_embed_decoder_reads_by_index_and_names_each_fault(void) {
  float out[4];
  char err[256];
  ASSERT_OK(decode("{\"data\":[{\"index\":1,\"embedding\":[3,4]},{\"index\":0,\"embedding\":[1,2.5]}]}",
                   2, 2, out, err));
  ASSERT_TRUE(out[0] == 1 && out[1] == 2.5f && out[2] == 3 && out[3] == 4);
  const char *cases[][2] = {
      {"{\"data\":[{\"index\":0,\"embedding\":[1,2]}]}", "returned 1 embeddings for 2 inputs"},
      {"[1]", "returned JSON without a \"data\" array"},
      {"{\"data\":", "returned malformed JSON: "},
      {"{\"data\":[{\"index\":0,\"embedding\":[1,2]},{\"index\":0,\"embedding\":[1,2]}]}",
       "returned index 0 twice"},
      {"{\"data\":[{\"index\":0,\"embedding\":[1,2]},{\"index\":-1,\"embedding\":[1,2]}]}",
       "returned an embedding with index -1 for 2 inputs"},
      {"{\"data\":[{\"index\":0,\"embedding\":[1,2]},{\"index\":\"1\",\"embedding\":[1,2]}]}",
       "returned data[1] without an integer \"index\""},
      {"{\"data\":[{\"index\":0,\"embedding\":[1,2,3]},{\"index\":1,\"embedding\":[1,2]}]}",
       "returned a 3-dimensional embedding, the collection's model is configured for 2"},
      {"{\"data\":[{\"index\":0,\"embedding\":[1,null]},{\"index\":1,\"embedding\":[1,2]}]}",
       "returned a value that is not a number in data[0].embedding[1]"},
      {"{\"data\":[{\"index\":0,\"embedding\":\"AAAA\"},{\"index\":1,\"embedding\":[1,2]}]}",
       "as a string (base64?)"},
      {"{\"data\":[{\"index\":0,\"embedding\":[1,-1e300]},{\"index\":1,\"embedding\":[1,2]}]}",
       "returned a non-finite value"},
      {"{\"data\":[7,{\"index\":1,\"embedding\":[1,2]}]}", "returned data[0] that is not an object"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    err[0] = '\0';
    ASSERT_EQ_INT(decode(cases[i][0], 2, 2, out, err), AKIDB_EUNAVAILABLE);
    ASSERT_STR_CONTAINS(err, cases[i][1]);
  }
}

static void test_embed_fast_reader_takes_plain_answers_and_leaves_the_rest(void) {
  float a[4], b[4];
  char err[256];
  const char *plain =
      " {\"object\":\"list\",\"data\":[{\"object\":\"embedding\",\"embedding\":"
      "[0.1,-2e-3],\"index\":1},{\"index\":0,\"embedding\":[3, -0.0]}],"
      "\"model\":\"m\",\"usage\":{\"prompt_tokens\":4,\"total_tokens\":4},\"x\":[true,null]}\n";
  ASSERT_TRUE(embed_decode_fast(plain, strlen(plain), 2, 2, a));
  ASSERT_OK(embed_decode_jansson(plain, strlen(plain), 2, 2, b, err, sizeof err));
  ASSERT_TRUE(memcmp(a, b, sizeof a) == 0);
  ASSERT_TRUE(a[2] == 0.1f && a[0] == 3.0f);
  /* unusual but valid: left to jansson, which reads them */
  const char *left[] = {
      "{\"data\":[{\"index\":0,\"embedding\":[1,2]}],\"model\":\"caf\u00e9\"}",
      "{\"data\":[{\"index\":0,\"embedding\":[1,2]}],\"model\":\"caf\xc3\xa9\"}",
      "{\"data\":[{\"index\":0,\"embedding\":[1,2]}],\"data\":[{\"index\":0,\"embedding\":[1,2]}]}",
  };
  for (size_t i = 0; i < 3; i++) {
    ASSERT_TRUE(!embed_decode_fast(left[i], strlen(left[i]), 1, 2, a));
    ASSERT_OK(embed_decode_response(left[i], strlen(left[i]), 1, 2, a, err, sizeof err));
  }
  /* invalid JSON the fast reader must not accept */
  const char *bad[] = {
      "{\"data\":[{\"index\":0,\"embedding\":[01,2]}]}",
      "{\"data\":[{\"index\":0,\"embedding\":[1.,2]}]}",
      "{\"data\":[{\"index\":0,\"embedding\":[1,2]}]} x",
      "{\"data\":[{\"index\":0,\"embedding\":[1,2],}]}",
      "{\"data\":[{\"index\":0.0,\"embedding\":[1,2]}]}",
      "{\"data\":[{\"index\":0,\"embedding\":[1,1e400]}]}",
      "{\"data\":[{\"index\":0,\"embedding\":[1,99999999999999999999]}]}",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    if (embed_decode_fast(bad[i], strlen(bad[i]), 1, 2, a)) CHECK_FAIL("fast reader took %s", bad[i]);
    ASSERT_EQ_INT(embed_decode_response(bad[i], strlen(bad[i]), 1, 2, a, err, sizeof err),
                  AKIDB_EUNAVAILABLE);
  }
}

static void test_embed_error_text_is_one_redacted_line(void) {
  char out[200];
  const char *openai = "{\"error\":{\"message\":\"Incorrect API key provided: sk-abc.\",\"type\":\"x\"}}";
  embed_error_text(openai, strlen(openai), "sk-abc", out, sizeof out);
  ASSERT_STR_EQ(out, "Incorrect API key provided: [redacted].");
  const char *tei = "{\"error\":\"Input validation error\",\"error_type\":\"Validation\"}";
  embed_error_text(tei, strlen(tei), NULL, out, sizeof out);
  ASSERT_STR_EQ(out, "Input validation error");
  const char *vllm = "{\"object\":\"error\",\"message\":\"The model does not exist.\"}";
  embed_error_text(vllm, strlen(vllm), "", out, sizeof out);
  ASSERT_STR_EQ(out, "The model does not exist.");
  const char *raw = "  <html>\r\n  bad\tgateway \xff </html>\n";
  embed_error_text(raw, strlen(raw), NULL, out, sizeof out);
  ASSERT_STR_EQ(out, "<html> bad gateway ? </html>");
  char longtext[600];
  memset(longtext, 'x', sizeof longtext - 1);
  longtext[sizeof longtext - 1] = '\0';
  char small[32];
  embed_error_text(longtext, strlen(longtext), NULL, small, sizeof small);
  ASSERT_EQ_INT(strlen(small), 31);
  ASSERT_STR_CONTAINS(small, "xxx...");
}

static void test_embed_traceparent_check(void) {
  ASSERT_TRUE(embed_traceparent_valid("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"));
  ASSERT_TRUE(!embed_traceparent_valid("00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01"));
  ASSERT_TRUE(!embed_traceparent_valid("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0\n"));
  ASSERT_TRUE(!embed_traceparent_valid("ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"));
  ASSERT_TRUE(!embed_traceparent_valid(NULL));
  ASSERT_TRUE(!embed_traceparent_valid(""));
}

/* Reads the row "| `embedding.<name>` | def | min | max |" of the docs. */
static bool doc_row(const char *doc, const char *name, char *def, unsigned long long *min,
                    unsigned long long *max) {
  char key[80];
  snprintf(key, sizeof key, "| `embedding.%s` | ", name);
  const char *p = strstr(doc, key);
  if (!p) return false;
  return sscanf(p + strlen(key), "%31[^ |] | %llu | %llu |", def, min, max) == 3;
}

static void test_embed_docs_settings_table_matches_the_code(void) {
  char path[512];
  snprintf(path, sizeof path, "%s/docs/embedding-providers.md", AKIDB_SOURCE_DIR);
  FILE *f = fopen(path, "r");
  ASSERT_TRUE(f != NULL);
  static char doc[1 << 16];
  size_t n = fread(doc, 1, sizeof doc - 1, f);
  doc[n] = '\0';
  fclose(f);
  char def[32];
  unsigned long long min, max;
#define CHECK_ROW(field, NAME, d, mi, ma, unit)                                  \
  if (!doc_row(doc, #field, def, &min, &max))                                    \
    CHECK_FAIL("docs/embedding-providers.md has no row for embedding." #field);  \
  ASSERT_EQ_U64(min, (mi));                                                      \
  ASSERT_EQ_U64(max, (ma));                                                      \
  if ((d) != 0 && strtoull(def, NULL, 10) != (unsigned long long)(d))            \
    CHECK_FAIL("docs default of " #field " is %s, the code's %llu", def, (unsigned long long)(d));
  AKIDB_EMBED_SETTINGS(CHECK_ROW)
#undef CHECK_ROW
  char retry[64];
  snprintf(retry, sizeof retry, "AKIDB_EMBED_RETRY_AFTER_MAX_MS` = **%u s**",
           AKIDB_EMBED_RETRY_AFTER_MAX_MS / 1000);
  ASSERT_STR_CONTAINS(doc, retry);
}

static void test_embed_defaults_validate_once_given_the_required_fields(void) {
  akidb_embed_config_t c;
  akidb_embed_config_default(&c);
  ASSERT_EQ_INT(c.batch_size, AKIDB_EMBED_BATCH_SIZE_DEFAULT);
  ASSERT_EQ_INT(c.breaker_cooldown_ms, 30000);
  char err[256];
  ASSERT_EQ_INT(akidb_embed_config_validate(&c, err, sizeof err), AKIDB_EINVAL);
  c.dimension = 768;
  c.model = "nomic-embed-text";
  c.base_url = "http://127.0.0.1:11434/v1";
  ASSERT_OK(akidb_embed_config_validate(&c, err, sizeof err));
  ASSERT_EQ_INT(akidb_embed_provider_parse("builtin"), AKIDB_EMBED_BUILTIN);
  ASSERT_EQ_INT(akidb_embed_provider_parse("openai"), AKIDB_EMBED_OPENAI);
  ASSERT_EQ_INT(akidb_embed_provider_parse("cohere"), -1);
}

CHECK_MAIN(CHECK_CASE(test_embed_utf8_check_refuses_overlongs_surrogates_and_truncation),
           CHECK_CASE(test_embed_request_body_is_exact_and_parses_back),
           CHECK_CASE(test_embed_decoder_reads_by_index_and_names_each_fault),
           CHECK_CASE(test_embed_fast_reader_takes_plain_answers_and_leaves_the_rest),
           CHECK_CASE(test_embed_error_text_is_one_redacted_line),
           CHECK_CASE(test_embed_traceparent_check),
           CHECK_CASE(test_embed_docs_settings_table_matches_the_code),
           CHECK_CASE(test_embed_defaults_validate_once_given_the_required_fields))
