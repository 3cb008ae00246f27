/*
 * core_err.c - kh_strerror: one English line per kh_err value.
 *
 * Kept in step with include/khien/error.h by the static assertion below.
 */
#include "core.h"

static const char *const messages[] = {
    [KH_OK] = "success",
    [KH_ENOMEM] = "out of memory",
    [KH_EINVAL] = "invalid argument",
    [KH_EIO] = "input/output error",
    [KH_ENOENT] = "no such file or directory",
    [KH_EACCES] = "permission denied",
    [KH_EFORMAT] = "malformed input",
    [KH_ELIMIT] = "limit exceeded",
    [KH_EMATCHER] = "pattern matcher error",
    [KH_EARCHIVE] = "archive could not be read",
    [KH_EENCRYPTED] = "encrypted content",
    [KH_ECANCELED] = "canceled",
    [KH_EEXIST] = "already exists",
    [KH_ECRYPTO] = "cryptographic primitive failed",
    [KH_ENOTREG] = "not a regular file",
    [KH_ESTATE] = "object is in the wrong state for this call",
    [KH_ENOSIGS] = "no usable signatures loaded",
};

_Static_assert(KHI_ARRAY_LEN(messages) == KH_ERR_COUNT, "one message per kh_err");

const char *kh_strerror(kh_err err)
{
    if ((unsigned)err >= KH_ERR_COUNT || !messages[err])
        return "unknown error";
    return messages[err];
}
