/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * stap-rs runtime: procfs probes (procfs("path").read / .write).  Each path is a file
 * under /proc/systemtap/MODULE/ (directories made for a path's components): reading it
 * runs its read probe, whose $value is what the read returns; each write() to it runs
 * its write probe with what was written as $value.
 *
 * /proc/systemtap is shared by every session (SystemTap's too): it is made when missing
 * and left in place; a session removes only its own directory, and proc_remove() waits
 * until no reader or writer is inside this module's file operations.
 */
#ifndef STP_PROCFS_H
#define STP_PROCFS_H

#include <linux/proc_fs.h>
#include <linux/namei.h>
#include <linux/mm.h>
#include <linux/mutex.h>
#include <linux/uaccess.h>

/* $value's size when the probe gives no .maxsize: SystemTap's default. */
#define STP_PROCFS_SIZE MAXSTRINGLEN
/* The largest .maxsize taken (a buffer per open file). */
#define STP_PROCFS_MAX_SIZE (16 << 20)

/* One file: its path and the probes its reads and writes run. */
struct stp_procfs_file {
	const char *path;
	const struct stp_probe *read, *write;
	size_t size;		/* the buffer's size */
	umode_t mode;
	int umask;		/* a probe's .umask(N), or -1 */
};

/* One open file: what the read probe made, read out by offset. */
struct stp_procfs_open {
	const struct stp_procfs_file *file;
	struct mutex lock;
	struct stp_procfs_buf buf;
};

static struct stp_procfs_file *stp_procfs_files;
static int stp_nprocfs;
static char stp_procfs_name[96];	/* "systemtap/MODULE", once made */

/* Runs the file's probes of p's kind (the input probes' file has several write probes). */
static void stp_procfs_run(const struct stp_probe *p, struct stp_procfs_buf *b)
{
	struct stp_args a = { .procfs = b };
	int i;

	for (i = 0; i < STP_NPROBES; i++) {
		const struct stp_probe *q = &stp_probes[i];

		if (q->kind != p->kind || !q->symbol || !p->symbol || strcmp(q->symbol, p->symbol))
			continue;
		/* The probe's context is this CPU's: the CPU must not change under it. */
		preempt_disable();
		stp_run_probe_args(q, &a);
		preempt_enable();
	}
}

static int stp_procfs_open(struct inode *inode, struct file *f)
{
	struct stp_procfs_open *o = kzalloc(sizeof(*o), GFP_KERNEL);

	if (!o)
		return -ENOMEM;
	o->file = pde_data(inode);
	mutex_init(&o->lock);
	f->private_data = o;
	return 0;
}

static int stp_procfs_release(struct inode *inode, struct file *f)
{
	struct stp_procfs_open *o = f->private_data;

	kvfree(o->buf.data);
	kfree(o);
	return 0;
}

/* A read from offset 0 runs the read probe; the rest reads what it made. */
static ssize_t stp_procfs_read(struct file *f, char __user *ubuf, size_t count, loff_t *ppos)
{
	struct stp_procfs_open *o = f->private_data;
	ssize_t rc;

	if (!o->file->read)
		return -EINVAL;
	mutex_lock(&o->lock);
	if (*ppos == 0) {
		if (!o->buf.data) {
			o->buf.data = kvmalloc(o->file->size, GFP_KERNEL);
			o->buf.cap = o->buf.data ? o->file->size : 0;
		}
		if (!o->buf.data) {
			mutex_unlock(&o->lock);
			return -ENOMEM;
		}
		o->buf.len = 0;
		stp_procfs_run(o->file->read, &o->buf);
	}
	rc = simple_read_from_buffer(ubuf, count, ppos, o->buf.data, o->buf.len);
	mutex_unlock(&o->lock);
	return rc;
}

/* Each write runs the write probe with what was written (at most the file's size). */
static ssize_t stp_procfs_write(struct file *f, const char __user *ubuf, size_t count,
				loff_t *ppos)
{
	struct stp_procfs_open *o = f->private_data;
	size_t n = min(count, o->file->size - 1);
	struct stp_procfs_buf b;

	if (!o->file->write)
		return -EINVAL;
	b.data = kvmalloc(n ? n : 1, GFP_KERNEL);
	if (!b.data)
		return -ENOMEM;
	if (copy_from_user(b.data, ubuf, n)) {
		kvfree(b.data);
		return -EFAULT;
	}
	b.cap = n;
	b.len = n;
	stp_procfs_run(o->file->write, &b);
	kvfree(b.data);
	*ppos += count;
	return count;
}

static const struct proc_ops stp_procfs_ops = {
	.proc_open = stp_procfs_open,
	.proc_release = stp_procfs_release,
	.proc_read = stp_procfs_read,
	.proc_write = stp_procfs_write,
	.proc_lseek = default_llseek,
};

/* The file of a path, made on first sight. */
static struct stp_procfs_file *stp_procfs_file_of(const char *path)
{
	int i;

	for (i = 0; i < stp_nprocfs; i++)
		if (!strcmp(stp_procfs_files[i].path, path))
			return &stp_procfs_files[i];
	stp_procfs_files[stp_nprocfs].path = path;
	stp_procfs_files[stp_nprocfs].size = STP_PROCFS_SIZE;
	stp_procfs_files[stp_nprocfs].umask = -1;
	return &stp_procfs_files[stp_nprocfs++];
}

/* Whether an earlier file's path already made the directory path[0..len). */
static int stp_procfs_dir_made(int upto, const char *path, size_t len)
{
	int i;

	for (i = 0; i < upto; i++) {
		const char *q = stp_procfs_files[i].path;

		if (!strncmp(q, path, len) && q[len] == '/')
			return 1;
	}
	return 0;
}

/* Makes the directories of file i's path under dir, then the file. */
static int stp_procfs_make(struct proc_dir_entry *dir, int i)
{
	const struct stp_procfs_file *pf = &stp_procfs_files[i];
	const char *p;

	for (p = strchr(pf->path, '/'); p; p = strchr(p + 1, '/')) {
		size_t len = (size_t)(p - pf->path);
		char *rel;
		struct proc_dir_entry *made;

		if (stp_procfs_dir_made(i, pf->path, len))
			continue;
		rel = kstrndup(pf->path, len, GFP_KERNEL);
		if (!rel)
			return -ENOMEM;
		made = proc_mkdir(rel, dir);
		kfree(rel);
		if (!made)
			return -ENOMEM;
	}
	if (!proc_create_data(pf->path, pf->mode, dir, &stp_procfs_ops, (void *)pf))
		return -ENOMEM;
	return 0;
}

static int stp_procfs_root_exists(void)
{
	struct path p;

	if (kern_path("/proc/" STP_PROCFS_ROOT, LOOKUP_DIRECTORY, &p))
		return 0;
	path_put(&p);
	return 1;
}

/* Makes /proc/systemtap/MODULE and the script's files.  Returns 0 or -ENOMEM. */
static int stp_procfs_start(void)
{
	struct proc_dir_entry *dir;
	int i, n = 0;

	for (i = 0; i < STP_NPROBES; i++)
		if (stp_probes[i].kind == STP_PROBE_PROCFS_READ ||
		    stp_probes[i].kind == STP_PROBE_PROCFS_WRITE)
			n++;
	if (!n)
		return 0;
	stp_procfs_files = stp_alloc(sizeof(*stp_procfs_files) * (size_t)n);
	if (!stp_procfs_files)
		return -ENOMEM;
	for (i = 0; i < STP_NPROBES; i++) {
		const struct stp_probe *p = &stp_probes[i];
		struct stp_procfs_file *pf;
		int write = p->kind == STP_PROBE_PROCFS_WRITE;

		if (p->kind != STP_PROBE_PROCFS_READ && !write)
			continue;
		pf = stp_procfs_file_of(p->symbol);
		if (write && !pf->write)
			pf->write = p;
		else if (!write && !pf->read)
			pf->read = p;
		if (p->procfs_maxsize > 0)
			pf->size = (size_t)min_t(int64_t, p->procfs_maxsize, STP_PROCFS_MAX_SIZE);
		if (p->procfs_umask >= 0 && pf->umask < 0)
			pf->umask = p->procfs_umask;
	}
	/* As SystemTap: 0400 to read, 0200 to write; with a umask, 0444 and 0222 less it. */
	for (i = 0; i < stp_nprocfs; i++) {
		struct stp_procfs_file *pf = &stp_procfs_files[i];
		umode_t r = pf->umask >= 0 ? 0444 : 0400, w = pf->umask >= 0 ? 0222 : 0200;

		pf->mode = (pf->read ? r : 0) | (pf->write ? w : 0);
		if (pf->umask >= 0)
			pf->mode &= ~(umode_t)pf->umask;
	}
	if (!stp_procfs_root_exists() && !proc_mkdir(STP_PROCFS_ROOT, NULL))
		return -ENOMEM;
	snprintf(stp_procfs_name, sizeof(stp_procfs_name), STP_PROCFS_ROOT "/%s", KBUILD_MODNAME);
	dir = proc_mkdir(stp_procfs_name, NULL);
	if (!dir) {
		stp_procfs_name[0] = '\0';
		return -ENOMEM;
	}
	for (i = 0; i < stp_nprocfs; i++)
		if (stp_procfs_make(dir, i))
			return -ENOMEM;
	return 0;
}

/* Removes this session's directory, after its readers and writers have left. */
static void stp_procfs_stop(void)
{
	if (stp_procfs_name[0])
		remove_proc_subtree(stp_procfs_name, NULL);
	stp_procfs_name[0] = '\0';
}

static void stp_procfs_free(void)
{
	stp_free(stp_procfs_files);
	stp_procfs_files = NULL;
	stp_nprocfs = 0;
}

#endif /* STP_PROCFS_H */
