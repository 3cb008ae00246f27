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
/* The policy an endpoint follows: stored (JSON text of the nearest unit's policy, or NULL)
 * over the default, member by member (new reference; NULL only without memory). */
json_t *khi_policy_effective(const char *stored);

#endif
