/*
 * fuzz_dns_wire.c - libFuzzer target: the wire-format DNS message parser behind dnstap
 * (lib/dns/dns_wire.c) on arbitrary bytes: the question of the whole input, and the name at
 * every offset, so that compression pointers into any part of the message are tried. A name
 * must come back NUL-terminated, within its buffer, and its end inside the message.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "dns/dns_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char name[KHI_DNS_WIRE_NAME_CAP];
    const char *why = NULL;
    khi_dns_wire_q q;
    if (khi_dns_wire_question(data, size, name, sizeof(name), &q, &why) == 0) {
        if (q.name_len >= sizeof(name) || strlen(name) != q.name_len)
            __builtin_trap();
        char t[16];
        if (khi_dns_qtype_name(q.qtype, t, sizeof(t)) >= sizeof(t))
            __builtin_trap();
    }
    for (size_t off = 0; off < size && off < 512; off++) {
        size_t len = 0, end = 0;
        if (khi_dns_wire_name(data, size, off, name, sizeof(name), &len, &end, &why) == 0 &&
            (len >= sizeof(name) || strlen(name) != len || end > size || end <= off))
            __builtin_trap();
    }
    return 0;
}
