/*
 * fmt_autoit.c - AutoIt v3 compiled scripts: not read yet (the next commit).
 */
#include "formats/formats.h"

size_t khi_autoit_find(const uint8_t *data, size_t len)
{
    (void)data;
    (void)len;
    return SIZE_MAX;
}

kh_err khi_autoit_walk(const uint8_t *data, size_t len, const khi_parts_cb *cb)
{
    (void)data;
    (void)len;
    (void)cb;
    return KH_OK;
}
