/*
 * console_int.h - what the parts of lib/console share (internal).
 */
#ifndef KHI_CONSOLE_INT_H
#define KHI_CONSOLE_INT_H

#include <jansson.h>
#include <khien/console.h>
#include "core/core.h"

/* The built-in default policy (new reference). */
json_t *khi_policy_default(void);
/* A validated copy of policy in (new reference), or NULL with the reason in why. */
json_t *khi_policy_check(json_t *in, char *why, size_t why_len);
/* Lay stored (JSON text of a policy) over p, member by member, scan_plan's members too: the
 * policies of the province, then of each unit down to the endpoint's, over the default. */
void khi_policy_overlay(json_t *p, const char *stored);

/* A validated copy {"kind", "args"} of a command for an agent (new reference), or NULL with the
 * reason in why (console_command.c). */
json_t *khi_command_check(json_t *in, char *why, size_t why_len);

/* The web console's files, compiled in (web_assets.c, made from web/ by cmake/embed_web.cmake);
 * the table ends with a NULL path. */
typedef struct khi_web_asset {
    const char *path, *type;
    const unsigned char *data;
    size_t len;
} khi_web_asset;
extern const khi_web_asset khi_web_assets[];

#endif
