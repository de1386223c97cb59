/*
 * cli.h: the one-shot subcommands other than serve.
 */
#ifndef VD_CLI_H
#define VD_CLI_H

struct config;

/* `create-admin --login NAME [--password-stdin] [--if-missing]`: exit code. */
int cli_create_admin(const struct config *cfg, const char *login, int password_stdin,
                     int if_missing);
/* `migrate`: exit code. */
int cli_migrate(const struct config *cfg);
/* `rekey-ids [--batch N]`: every ID number rewritten under the current key, batch rows per
 * committed transaction; exit code 0 when none is left under another key or form. */
int cli_rekey_ids(const struct config *cfg, int batch);

#endif
