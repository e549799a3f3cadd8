/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * stap-rs runtime: user stacks and user symbols (ubacktrace(), usymname() and their kin).
 *
 * The translator wrote a table for each user-space file the session knows (the probed
 * programs and libraries, -d objects, and with --ldd the libraries they load): its
 * loadable segments, its function symbols and its call frame rows (from .eh_frame, so
 * programs built without frame pointers unwind).  At load the files are looked up, and
 * each is known by its inode from then on.
 *
 * In a probe, an address of the current process is found in its mappings (find_vma under
 * mmap_read_trylock: a probe never waits for the lock; without it a stack is its first
 * frame only); the mapping's file and offset give the address in a known file, whose
 * rows say where the caller's frame is.  The return address and the saved frame pointer
 * are read with copy_from_user_nofault, so a bad stack ends the walk, never faults.  Where
 * interrupts are off (a kprobe, a timer) the lock is released from an irq_work when they
 * are on again, as the kernel's BPF stack maps do; the real-time kernel takes no lock
 * there at all.
 *
 * A frame is named "symbol+0xOFF/0xSIZE [path]" from the tables; an address in a file
 * without tables as "[path+0xOFF/0xSIZE]" (offset from where the file is mapped, size of
 * its mappings), and the walk stops there with a warning naming the -d option it needs.
 */
#ifndef STP_USTACK_H
#define STP_USTACK_H

#include <linux/mm.h>
#include <linux/mmap_lock.h>
#include <linux/namei.h>
#include <linux/dcache.h>
#include <linux/irq_work.h>
#include <linux/uaccess.h>
#include <linux/elf.h>
#include <linux/sched/task_stack.h>

/* How a row finds the canonical frame address (the caller's stack pointer). */
enum { STP_CFA_UNKNOWN, STP_CFA_RSP, STP_CFA_RBP, STP_CFA_OUTERMOST };

/* A PT_LOAD segment: file offset, address in the file, size in the file. */
struct stp_useg {
	uint64_t off, addr, size;
};

/* Symbols and rows start with their address: stp_ubelow() searches both. */
struct stp_usym {
	uint64_t addr, size;
	const char *name;
};

/* From start on: CFA = (rsp or rbp) + cfa_off; return address at CFA - 8; rbp saved at
 * CFA + rbp_off when has_rbp. */
struct stp_ucfi {
	uint64_t start;
	int32_t cfa_off;
	int32_t rbp_off;
	uint8_t cfa;
	uint8_t has_rbp;
};

struct stp_umod {
	const char *path;
	uint64_t size;		/* the file's size when the translator read it */
	const struct stp_useg *segs;
	unsigned int nsegs;
	const struct stp_usym *syms;
	unsigned int nsyms;
	const struct stp_ucfi *cfi;
	unsigned int ncfi;
	struct path p;
	struct inode *inode, *real;
	int held;
};

static struct stp_umod *stp_umod_list;
static unsigned int stp_umod_count;

/* The files of a warning "Missing unwind data", once each. */
static struct inode *stp_umod_warned[8];

struct stp_uunlock {
	struct irq_work work;
	struct mm_struct *mm;
};
static DEFINE_PER_CPU(struct stp_uunlock, stp_uunlock);

static void stp_uunlock_fn(struct irq_work *w)
{
	struct stp_uunlock *u = container_of(w, struct stp_uunlock, work);

	mmap_read_unlock_non_owner(u->mm);
}

/*
 * At load: each file looked up and held (a missing one, or one whose size is not what the
 * translator read, names no frame).  A path on a slow file system can make the load wait.
 */
static void stp_umods_init(struct stp_umod *mods, unsigned int n)
{
	unsigned int i;
	int cpu;

	for_each_possible_cpu(cpu)
		init_irq_work(&per_cpu(stp_uunlock, cpu).work, stp_uunlock_fn);
	for (i = 0; i < n; i++) {
		if (kern_path(mods[i].path, LOOKUP_FOLLOW, &mods[i].p))
			continue;
		if (!d_is_reg(mods[i].p.dentry) ||
		    i_size_read(d_inode(mods[i].p.dentry)) != (loff_t)mods[i].size) {
			char msg[320];

			snprintf(msg, sizeof(msg),
				 "%s changed since translation: its frames are not named", mods[i].path);
			stp_warn(msg);
			path_put(&mods[i].p);
			continue;
		}
		mods[i].inode = d_inode(mods[i].p.dentry);
		mods[i].real = d_real_inode(mods[i].p.dentry);
		mods[i].held = 1;
	}
	stp_umod_list = mods;
	stp_umod_count = n;
}

/* After every probe is gone. */
static void stp_umods_exit(void)
{
	unsigned int i;
	int cpu;

	for_each_possible_cpu(cpu)
		irq_work_sync(&per_cpu(stp_uunlock, cpu).work);
	for (i = 0; i < stp_umod_count; i++)
		if (stp_umod_list[i].held)
			path_put(&stp_umod_list[i].p);
	stp_umod_count = 0;
}

/*
 * Takes current's mmap lock for reading if it can without waiting; 1 if taken.  With
 * interrupts off (every probe but begin and end runs so) the release is left to this
 * CPU's irq_work, which runs once they are on again: until then this CPU holds the lock,
 * and a second use in the same probe finds it held (*how 2: nothing to release).
 */
static int stp_ulock(struct mm_struct *mm, int *how)
{
	struct stp_uunlock *u;

	*how = 0;
	if (!irqs_disabled())
		return mmap_read_trylock(mm);
	if (IS_ENABLED(CONFIG_PREEMPT_RT))
		return 0;
	u = this_cpu_ptr(&stp_uunlock);
	if (irq_work_is_pending(&u->work) && READ_ONCE(u->mm) == mm) {
		*how = 2;
		return 1;
	}
	if (irq_work_is_busy(&u->work) || !mmap_read_trylock(mm))
		return 0;
	*how = 1;
	return 1;
}

static void stp_uunlock_mm(struct mm_struct *mm, int how)
{
	struct stp_uunlock *u;

	if (how == 0) {
		mmap_read_unlock(mm);
	} else if (how == 1) {
		/* Queued only when not pending (stp_ulock), and no other probe runs on this
		   CPU before this one ends (the context is claimed): it cannot fail. */
		u = this_cpu_ptr(&stp_uunlock);
		WRITE_ONCE(u->mm, mm);
		rwsem_release(&mm->mmap_lock.dep_map, _RET_IP_);
		WARN_ON_ONCE(!irq_work_queue(&u->work));
	}
}

/* The known file vma maps, and pc as an address in it (0 for neither). */
static const struct stp_umod *stp_umod_of(struct vm_area_struct *vma, unsigned long pc,
					  unsigned long *addr)
{
	struct inode *ino;
	unsigned long off;
	unsigned int i, s;

	if (!vma->vm_file)
		return NULL;
	ino = file_inode(vma->vm_file);
	off = pc - vma->vm_start + (vma->vm_pgoff << PAGE_SHIFT);
	for (i = 0; i < stp_umod_count; i++) {
		const struct stp_umod *m = &stp_umod_list[i];

		if (!m->held || (m->inode != ino && m->real != ino))
			continue;
		for (s = 0; s < m->nsegs; s++) {
			if (off >= m->segs[s].off && off - m->segs[s].off < m->segs[s].size) {
				*addr = off - m->segs[s].off + m->segs[s].addr;
				return m;
			}
		}
	}
	return NULL;
}

/*
 * How many of the n entries at base (each size bytes, sorted by the address each starts
 * with) start at or below addr: the one holding addr is the one before.
 */
static unsigned int stp_ubelow(const void *base, unsigned int n, size_t size, unsigned long addr)
{
	unsigned int lo = 0, hi = n;

	while (lo < hi) {
		unsigned int mid = lo + (hi - lo) / 2;
		const uint64_t *start = (const uint64_t *)((const char *)base + (size_t)mid * size);

		if (*start <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* The row in force at addr, or NULL. */
static const struct stp_ucfi *stp_ucfi_at(const struct stp_umod *m, unsigned long addr)
{
	unsigned int i = stp_ubelow(m->cfi, m->ncfi, sizeof(*m->cfi), addr);

	return i ? &m->cfi[i - 1] : NULL;
}

/* The symbol holding addr, or NULL. */
static const struct stp_usym *stp_usym_at(const struct stp_umod *m, unsigned long addr)
{
	unsigned int i = stp_ubelow(m->syms, m->nsyms, sizeof(*m->syms), addr);

	if (!i || addr - m->syms[i - 1].addr >= m->syms[i - 1].size)
		return NULL;
	return &m->syms[i - 1];
}

/*
 * A file's path in buf, or NULL when paths may not be looked up here: d_path() waits out a
 * rename in progress, so only a probe that interrupted user space (its CPU holds no lock
 * of the kernel's) looks one up.
 */
static const char *stp_upath(struct file *f, char *buf, size_t size, int paths)
{
	char *p, *q;

	if (!paths || in_nmi())
		return NULL;
	p = d_path(&f->f_path, buf, (int)size);
	if (IS_ERR(p))
		return NULL;
	/* The user names files: no control character may start a line of our own. */
	for (q = p; *q; q++)
		if ((unsigned char)*q < ' ' || *q == 0x7f)
			*q = '?';
	return p;
}

/* Whether the probe interrupted user space: where stp_upath() may look paths up. */
static int stp_upaths_ok(const struct stp_ctx *c)
{
	return c->args && c->args->regs && user_mode(c->args->regs);
}

/* "Missing unwind data" for a file, once (for the first eight such files). */
static void stp_umod_missing(struct stp_ctx *c, struct vm_area_struct *vma)
{
	struct inode *ino = file_inode(vma->vm_file);
	const char *path = stp_upath(vma->vm_file, c->ustack_path, sizeof(c->ustack_path),
				     stp_upaths_ok(c));
	unsigned int i;

	if (!path)
		return;
	for (i = 0; i < ARRAY_SIZE(stp_umod_warned); i++) {
		struct inode *w = READ_ONCE(stp_umod_warned[i]);

		if (w == ino)
			return;
		if (!w && cmpxchg(&stp_umod_warned[i], NULL, ino) == NULL)
			break;
	}
	if (i == ARRAY_SIZE(stp_umod_warned))
		return;
	snprintf(c->ustack_msg, sizeof(c->ustack_msg),
		 "Missing unwind data for a module, rerun with 'stap -d %s'", path);
	stp_warn(c->ustack_msg);
}

/*
 * The user registers of the current task: a user-space probe's own, else those saved when
 * it last entered the kernel (a kernel probe in a process); NULL in a kernel thread.
 */
static struct pt_regs *stp_ustack_regs(const struct stp_ctx *c)
{
	if (c->args && c->args->regs && user_mode(c->args->regs))
		return c->args->regs;
	if (!current->mm || (current->flags & PF_KTHREAD))
		return NULL;
	return task_pt_regs(current);
}

/*
 * The user stack of the current task (from its user registers), innermost first: pc,
 * then each caller's return address, at most max.  A file without tables ends it, with a
 * warning where paths may be looked up.
 */
static unsigned int stp_ustack_pcs(struct stp_ctx *c, unsigned long *pcs, unsigned int max)
{
	struct pt_regs *regs = stp_ustack_regs(c);
	struct mm_struct *mm = current->mm;
	unsigned long pc, sp, bp;
	unsigned int n = 0;
	int deferred;

	if (!regs || !mm || !max || (current->flags & PF_KTHREAD))
		return 0;
	pc = regs->ip;
	sp = regs->sp;
	bp = regs->bp;
	pcs[n++] = pc;
	if (!stp_ulock(mm, &deferred))
		return n;
	while (n < max) {
		struct vm_area_struct *vma = find_vma(mm, pc);
		const struct stp_umod *m;
		const struct stp_ucfi *row;
		unsigned long addr, cfa, ra;

		if (!vma || vma->vm_start > pc)
			break;
		m = stp_umod_of(vma, pc, &addr);
		if (!m) {
			if (vma->vm_file)
				stp_umod_missing(c, vma);
			break;
		}
		/* A return address is just past its call: the call's row is the one before. */
		row = stp_ucfi_at(m, n == 1 ? addr : addr - 1);
		if (!row || (row->cfa != STP_CFA_RSP && row->cfa != STP_CFA_RBP))
			break;
		cfa = (row->cfa == STP_CFA_RSP ? sp : bp) + (long)row->cfa_off;
		if (cfa <= sp || copy_from_user_nofault(&ra, (void __user *)(cfa - 8), sizeof(ra)))
			break;
		if (row->has_rbp &&
		    copy_from_user_nofault(&bp, (void __user *)(cfa + (long)row->rbp_off), sizeof(bp)))
			break;
		if (!ra)
			break;
		sp = cfa;
		pc = ra;
		pcs[n++] = pc;
	}
	stp_uunlock_mm(mm, deferred);
	return n;
}

/* How stp_uname() writes an address. */
enum {
	STP_UNAME_FULL,		/* print_ubacktrace(): " 0xA : f+0xO/0xS [path]\n" */
	STP_UNAME_SYMS,		/* print_usyms(): the same, " 0xA : 0xA [...]" without a symbol */
	STP_UNAME_BRIEF,	/* print_ubacktrace_brief(): "f+0xO\n" */
	STP_UNAME_SHORT,	/* sprint_ubacktrace(): "f+0xO [file]\n" */
	STP_UNAME_DATA,		/* usymdata(): "f+0xO/0xS [path]" */
	STP_UNAME_SYMBOL,	/* usymname(): "f" */
	STP_UNAME_MODULE,	/* umodname(): "path", "" in no file */
};

/*
 * Where a file is mapped: its start (where its offset 0 is), and the end of its image as
 * its program headers (read from that first page) lay it out, bss included; the end of
 * the mapping when they cannot be read.
 */
static void stp_uextent(struct vm_area_struct *vma, unsigned long *start, unsigned long *end)
{
	Elf64_Ehdr eh;
	Elf64_Phdr ph;
	unsigned long lo = ~0UL, hi = 0;
	unsigned int i;

	*start = vma->vm_start - (vma->vm_pgoff << PAGE_SHIFT);
	*end = vma->vm_end;
	if (copy_from_user_nofault(&eh, (void __user *)*start, sizeof(eh)) ||
	    memcmp(eh.e_ident, ELFMAG, SELFMAG) || eh.e_phentsize != sizeof(ph) || eh.e_phnum > 32)
		return;
	for (i = 0; i < eh.e_phnum; i++) {
		if (copy_from_user_nofault(&ph, (void __user *)(*start + eh.e_phoff + i * sizeof(ph)),
					   sizeof(ph)))
			return;
		if (ph.p_type != PT_LOAD)
			continue;
		lo = min_t(unsigned long, lo, ph.p_vaddr & PAGE_MASK);
		hi = max_t(unsigned long, hi, PAGE_ALIGN(ph.p_vaddr + ph.p_memsz));
	}
	if (hi > lo)
		*end = *start + (hi - lo);
}

/* The last '/'-separated part of a path. */
static const char *stp_ubase(const char *path)
{
	const char *s = strrchr(path, '/');

	return s ? s + 1 : path;
}

/* pc, an address of the current task, named as style says, into out; a file without
 * tables by its path only where paths may be looked up. */
static void stp_uname(struct stp_ctx *c, unsigned long pc, int style, char *out, size_t size)
{
	struct mm_struct *mm = current->mm;
	struct vm_area_struct *vma;
	const struct stp_umod *m = NULL;
	const struct stp_usym *sym = NULL;
	const char *path = NULL;
	unsigned long addr = 0, start = 0, end = 0;
	int deferred = 0, locked;

	locked = mm && !(current->flags & PF_KTHREAD) && stp_ulock(mm, &deferred);
	vma = locked ? find_vma(mm, pc) : NULL;
	if (vma && vma->vm_start <= pc && vma->vm_file) {
		m = stp_umod_of(vma, pc, &addr);
		sym = m ? stp_usym_at(m, addr) : NULL;
		path = m ? m->path : stp_upath(vma->vm_file, c->ustack_path, sizeof(c->ustack_path),
						 stp_upaths_ok(c));
		if (!sym)
			stp_uextent(vma, &start, &end);
	}
	if (locked)
		stp_uunlock_mm(mm, deferred);
	switch (style) {
	case STP_UNAME_SYMBOL:
		if (sym)
			snprintf(out, size, "%s", sym->name);
		else
			snprintf(out, size, "0x%lx", pc);
		return;
	case STP_UNAME_MODULE:
		snprintf(out, size, "%s", path ? path : "");
		return;
	case STP_UNAME_BRIEF:
		if (sym)
			snprintf(out, size, "%s+0x%llx\n", sym->name, addr - sym->addr);
		else
			snprintf(out, size, "0x%lx\n", pc);
		return;
	case STP_UNAME_DATA:
		if (sym)
			snprintf(out, size, "%s+0x%llx/0x%llx [%s]", sym->name, addr - sym->addr,
				 sym->size, path);
		else
			snprintf(out, size, "0x%lx", pc);
		return;
	case STP_UNAME_SHORT:
		if (sym)
			snprintf(out, size, "%s+0x%llx [%s]\n", sym->name, addr - sym->addr,
				 stp_ubase(path));
		else if (path)
			snprintf(out, size, "0x%lx [%s+0x%lx]\n", pc, stp_ubase(path), pc - start);
		else
			snprintf(out, size, "0x%lx\n", pc);
		return;
	}
	if (sym)
		snprintf(out, size, " 0x%lx : %s+0x%llx/0x%llx [%s]\n", pc, sym->name,
			 addr - sym->addr, sym->size, path);
	else if (path && style == STP_UNAME_SYMS)
		snprintf(out, size, " 0x%lx : 0x%lx [%s+0x%lx/0x%lx]\n", pc, pc, path, pc - start,
			 end - start);
	else if (path)
		snprintf(out, size, " 0x%lx [%s+0x%lx/0x%lx]\n", pc, path, pc - start, end - start);
	else if (style == STP_UNAME_SYMS)
		snprintf(out, size, " 0x%lx : 0x%lx\n", pc, pc);
	else
		snprintf(out, size, " 0x%lx\n", pc);
}

#endif /* STP_USTACK_H */
