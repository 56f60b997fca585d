/* The "a|b|c" lists that the config's name checks use, built from a registry so that
 * the list and the registry never disagree. Private to src/optim/. */
#ifndef GDMPI_OPTIM_NAMES_H
#define GDMPI_OPTIM_NAMES_H

#include <stdio.h>
#include <string.h>

/* Appends name to the '|'-separated list in buf (len bytes). */
static inline void names_append(char *buf, size_t len, const char *name)
{
    size_t used = strlen(buf);
    snprintf(buf + used, len - used, "%s%s", used ? "|" : "", name);
}

#endif
