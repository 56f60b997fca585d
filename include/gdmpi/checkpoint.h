/* Checkpoints, the part other components see: the file's name and which config keys a
 * resume checks (the config hash). The hooks the trainer calls (setup, resume, after a step
 * or an epoch, the end) are private to src/train/ (ckpt.h); what a checkpoint holds and
 * what is exact in each mode: docs/outputs.md and docs/checkpoints.md. */
#ifndef GDMPI_CHECKPOINT_H
#define GDMPI_CHECKPOINT_H

#include "gdmpi/config.h"

#include <stdint.h>
#include <stdio.h>

#define GD_CHECKPOINT_FILE "checkpoint.h5"

/* 1 for the keys that may change between a checkpoint and its resume (they are left out
 * of the config hash): train.epochs, max_steps, max_seconds, resume, threads,
 * data.train and data.val (paths: the data may move; rows and width are checked instead),
 * parallel.stall_timeout and the straggler / delay injection keys, and all of [output]. */
int gd_checkpoint_key_may_change(const char *section, const char *name);
/* The checked keys as "section.key = value" lines, and their 64-bit FNV-1a hash. */
size_t gd_checkpoint_config_text(const gd_config *c, char *buf, size_t len);
uint64_t gd_checkpoint_hash(const char *text);

#endif
