/* The one registry: see include/gdmpi/registry.h. */
#include "gdmpi/registry.h"

#include <stdio.h>
#include <string.h>

/* An entry's name: its first member (registry.h). */
static const char *name_of(const void *item) { return *(const char *const *)item; }

const void *gd_registry_find(gd_registry r, const char *name)
{
    for (size_t i = 0; i < r.n; i++)
        if (!strcmp(name_of(r.items[i]), name))
            return r.items[i];
    return NULL;
}

const char *gd_registry_names(gd_registry r, char *buf, size_t len)
{
    if (!buf[0])
        for (size_t i = 0; i < r.n; i++) {
            size_t used = strlen(buf);
            snprintf(buf + used, len - used, "%s%s", i ? "|" : "", name_of(r.items[i]));
        }
    return buf;
}
