/* The one registry (core): find-by-name and the "a|b|c" name list over a table of
 * components. Strategies, models, optimizers and schedules each keep their table and
 * call these two; a new component is one table line.
 *
 * Design: a registry is an array of pointers to structs whose first member is
 * `const char *name` (gd_strategy_ops, gd_model_ops, gd_optim_ops, gd_schedule_ops). C11
 * lets a pointer to a struct, converted, point to its first member (6.7.2.1), so the
 * generic code reads the names without knowing the struct. GD_REGISTRY(table) builds the
 * view and checks at compile time that table[0]->name exists, is a `const char *` and is
 * the first member, so a table of the wrong type does not compile. gd_registry_find
 * returns `const void *`, which converts back to the caller's own type. */
#ifndef GDMPI_REGISTRY_H
#define GDMPI_REGISTRY_H

#include <stddef.h>

typedef struct gd_registry {
    const void *const *items; /* each points to a struct that starts with const char *name */
    size_t n;
} gd_registry;

/* The view of a static array of pointers `table` (checked: see above). */
#define GD_REGISTRY(table)                                                                   \
    ((gd_registry){(const void *const *)(table),                                           \
                   sizeof(table) / sizeof((table)[0]) +                                     \
                       0 * sizeof(char[offsetof(__typeof__(*(table)[0]), name) == 0 ? 1 : -1]) + \
                       0 * sizeof(_Generic((table)[0]->name, const char *: 1))})

/* The entry called name, or NULL. */
const void *gd_registry_find(gd_registry r, const char *name);
/* "a|b|c", the names in table order, built into buf (len bytes) the first time (buf empty)
 * and returned: callers keep a static buffer, so the list and the table never disagree. */
const char *gd_registry_names(gd_registry r, char *buf, size_t len);

#endif
