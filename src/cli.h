/* cli.h - what the sub-commands of the khien program share. */
#ifndef KHIEN_CLI_H
#define KHIEN_CLI_H

#include <stdint.h>

int cmd_scan(int argc, char **argv);
int cmd_quarantine(int argc, char **argv);
int cmd_db(int argc, char **argv);
int cmd_dns(int argc, char **argv);
int cmd_version(int argc, char **argv);
int cmd_update(int argc, char **argv);
int cmd_mirror(int argc, char **argv);
int cmd_server(int argc, char **argv);
int cmd_console(int argc, char **argv);
int cmd_agent(int argc, char **argv);

/* Parse "123", "10K", "100M", "2G" into bytes. Returns 0 or -1. */
int cli_parse_size(const char *s, uint64_t *out);
/* Parse a non-negative integer. Returns 0 or -1. */
int cli_parse_uint(const char *s, uint64_t max, uint64_t *out);
/* The default signature database directory and compiled cache directory. */
const char *cli_default_db_dir(void);
const char *cli_default_cache_dir(char *buf, unsigned len);
/* The managed database directory updates install into: $KHIEN_DB_DIR or /var/lib/khien/db. */
const char *cli_default_update_dir(void);
/* A directory holding an installed database ("current" symlink) means DIR/current. The
 * returned string is path itself or buf. */
const char *cli_db_path(const char *path, char *buf, unsigned len);
/* Publisher keys: $KHIEN_TRUST_DIR, /etc/khien/trust, or the installed share/khien/trust. */
const char *cli_default_trust_dir(void);

/* Report texts (cli_text.c): cli_tr(english) is the text in the language chosen with
 * cli_lang_set ("en", "vi", also "vi_VN.UTF-8" and the like; -1 for another) or KHIEN_LANG
 * (cli_lang_from_env, called by main); English by default. Borrowed, static. */
int cli_lang_set(const char *name);
void cli_lang_from_env(void);
const char *cli_tr(const char *en) __attribute__((format_arg(1)));

/* A JSON string of s that keeps every byte: bytes that are not UTF-8 become the text \xNN. */
typedef struct json_t json_t;
json_t *cli_json_str(const char *s);

#endif
