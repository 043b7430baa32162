/* md4c-reference: renders documents in-process with md4c-html, with the flags of the reference
 * worker (examples/markdown-worker/markdown.cpp: md_html(..., MD_DIALECT_GITHUB, 0)), so tests
 * can compare what a client gets through a transport with md4c's own output.
 * stdin and stdout: records of a 4-byte little-endian length and that many bytes. */
#include <md4c-html.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

struct out { char *data; size_t size, cap; };

static void append(const MD_CHAR *text, MD_SIZE size, void *userdata) {
  struct out *o = userdata;
  if (o->size + size > o->cap) {
    o->cap = (o->size + size) * 2;
    o->data = realloc(o->data, o->cap);
    if (!o->data) abort();
  }
  for (MD_SIZE i = 0; i < size; i++) o->data[o->size + i] = text[i];
  o->size += size;
}

int main(void) {
  unsigned char header[4];
  struct out o = {0};
  while (fread(header, 1, 4, stdin) == 4) {
    uint32_t length = header[0] | header[1] << 8 | header[2] << 16 | (uint32_t)header[3] << 24;
    char *doc = malloc(length ? length : 1);
    if (!doc || fread(doc, 1, length, stdin) != length) return 1;
    o.size = 0;
    if (md_html(doc, length, append, &o, MD_DIALECT_GITHUB, 0) != 0) return 1;
    free(doc);
    uint32_t n = (uint32_t)o.size;
    unsigned char prefix[4] = {n & 0xff, n >> 8 & 0xff, n >> 16 & 0xff, n >> 24};
    fwrite(prefix, 1, 4, stdout);
    fwrite(o.data, 1, o.size, stdout);
  }
  return 0;
}
