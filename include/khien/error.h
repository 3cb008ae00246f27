/*
 * error.h - the one error enum of libkhien.
 *
 * Every fallible call returns a kh_err; results travel through out-parameters. Values are
 * never renumbered: new codes are appended before KH_ERR_COUNT.
 */
#ifndef KHIEN_ERROR_H
#define KHIEN_ERROR_H

#if defined(KH_BUILDING_LIB)
#define KH_API __attribute__((visibility("default")))
#else
#define KH_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

typedef enum kh_err {
    KH_OK = 0,
    KH_ENOMEM = 1,     /* an allocation failed */
    KH_EINVAL = 2,     /* a caller passed an invalid argument */
    KH_EIO = 3,        /* reading or writing failed */
    KH_ENOENT = 4,     /* no such file or directory */
    KH_EACCES = 5,     /* permission denied */
    KH_EFORMAT = 6,    /* input bytes are not in the expected format */
    KH_ELIMIT = 7,     /* a configured limit was hit */
    KH_EMATCHER = 8,   /* the pattern matcher (Vectorscan) failed */
    KH_EARCHIVE = 9,   /* a container could not be read */
    KH_EENCRYPTED = 10,/* content is encrypted and could not be read */
    KH_ECANCELED = 11, /* the caller asked to stop */
    KH_EEXIST = 12,    /* the target exists already */
    KH_ECRYPTO = 13,   /* a hash or crypto primitive failed */
    KH_ENOTREG = 14,   /* not a regular file (device, socket, fifo) */
    KH_ESTATE = 15,    /* the object is not in the state this call needs */
    KH_ENOSIGS = 16,   /* no usable signature was loaded */
    KH_ERR_COUNT
} kh_err;

/* A short English description of err; never NULL, static storage. */
KH_API const char *kh_strerror(kh_err err);

#ifdef __cplusplus
}
#endif
#endif
