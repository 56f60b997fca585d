/* The config checks that need the components (train layer, above core): what core's
 * config.c cannot know without naming the model, optimizer, schedule and strategy
 * registries. The command layer (src/main.c), the tests and the fuzz harness read a
 * config through gd_config_from_args. */
#ifndef GDMPI_CONFIG_CHECK_H
#define GDMPI_CONFIG_CHECK_H

#include "gdmpi/config.h"

/* The rules that need the components, after all values are in: optimizer.lr = 0 becomes
 * the optimizer's default; a testfn's model.start must be two finite numbers. */
int gd_config_check(gd_config *c);

/* What streaming the training data cannot do, refused by name: why says what asked for it
 * ("data.stream = true", or auto above data.memory_mb). */
int gd_stream_check(const gd_config *c, const char *why);

/* The whole sequence for a command line: defaults, file, overrides, gd_config_check, then
 * core's gd_config_finish (the order in which errors were always reported). */
int gd_config_from_args(gd_config *c, const char *path, int nset, char **sets);

#endif
