/* Files (core): directories, the atomic write of an output and JSON strings. Every file
 * gdmpi writes goes to a temporary name, is fsynced and renamed over the real one, so a
 * reader (or a crash) only ever sees a whole old or a whole new file. */
#ifndef GDMPI_FS_H
#define GDMPI_FS_H

#include <stddef.h>
#include <stdio.h>

/* Creates dir and its parents; 0 on success. */
int gd_mkdir_p(const char *dir);
/* The atomic way to write an output: gd_open_tmp opens dir/name.tmp for writing (tmp and
 * path get the two names; NULL with a message on failure); gd_close_and_commit closes it
 * and, if every write went through, puts it in place with gd_commit_file (else removes it). */
FILE *gd_open_tmp(const char *dir, const char *name, char *tmp, char *path, size_t len);
int gd_close_and_commit(FILE *f, const char *tmp, const char *path);
/* Writes s as a JSON string (quotes, escapes). */
void gd_json_string(FILE *f, const char *s);
/* Renames tmp over path after an fsync, so readers see the old file or the whole new one;
 * then syncs the directory, so that the rename survives a crash. */
int gd_commit_file(const char *tmp, const char *path);

#endif
