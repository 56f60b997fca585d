/* Files: directories, the atomic write of an output (temporary name, fsync, rename, directory
 * sync) and JSON strings. Core: every layer that writes a file uses them (h5util.c's HDF5
 * commit, the run outputs, traces, checkpoints). */
#include "gdmpi/fs.h"

#include "gdmpi/config.h"
#include "gdmpi/error.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int gd_mkdir_p(const char *dir)
{
    char path[GD_PATH_MAX];
    snprintf(path, sizeof path, "%s", dir);
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(path, 0755) && errno != EEXIST)
            return -1;
        *p = '/';
    }
    if (mkdir(path, 0755) && errno != EEXIST)
        return -1;
    return access(path, W_OK) == 0 ? 0 : -1;
}

/* fsync of path's directory (best effort: some file systems refuse it). */
static void sync_dir(const char *path)
{
    char dir[GD_PATH_MAX + 32];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    int fd = open(slash ? dir : ".", O_RDONLY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

int gd_commit_file(const char *tmp, const char *path)
{
    int fd = open(tmp, O_RDONLY);
    if (fd < 0 || fsync(fd) != 0) {
        if (fd >= 0)
            close(fd);
        return gd_fail(GD_ERR, "%s: cannot sync: %s", tmp, strerror(errno));
    }
    close(fd);
    if (rename(tmp, path) != 0)
        return gd_fail(GD_ERR, "%s: cannot rename into place: %s", path, strerror(errno));
    sync_dir(path); /* the rename is durable only once its directory is synced too */
    return GD_OK;
}

FILE *gd_open_tmp(const char *dir, const char *name, char *tmp, char *path, size_t len)
{
    snprintf(path, len, "%s/%s", dir, name);
    snprintf(tmp, len, "%s/%s.tmp", dir, name);
    FILE *f = fopen(tmp, "w");
    if (!f)
        gd_fail(GD_ERR, "%s: cannot write: %s", tmp, strerror(errno));
    return f;
}

int gd_close_and_commit(FILE *f, const char *tmp, const char *path)
{
    int bad = ferror(f);
    if (fclose(f) != 0 || bad) {
        remove(tmp);
        return gd_fail(GD_ERR, "%s: write failed", tmp);
    }
    return gd_commit_file(tmp, path);
}

void gd_json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            fprintf(f, "\\%c", *s);
        else if ((unsigned char)*s < 0x20)
            fprintf(f, "\\u%04x", *s);
        else
            fputc(*s, f);
    }
    fputc('"', f);
}
