/*
 * fuzz_mail.c - e-mail messages and mailboxes (lib/formats/fmt_mail.c).
 *
 * Mail is the most common way malware reaches an agency, and what arrives is whatever an
 * attacker wrote: headers, boundaries, encodings and uuencoded blocks all come from the input.
 * The input goes to the detector and the part walker; every part is touched so that a part
 * pointing outside the input would be caught by ASan.
 */
#include "fuzz_parts.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_sink += (size_t)khi_mail_detect(data, size);
    khi_mail_walk(data, size, fuzz_on_part, NULL);
    return 0;
}
