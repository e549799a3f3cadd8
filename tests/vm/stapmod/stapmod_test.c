// SPDX-License-Identifier: GPL-2.0
/*
 * The DWARF test module of the VM tier: built with the kernel's Kbuild (so with -g), it
 * gives module("stapmod_test").function(...) probes a struct parameter to read and
 * statement("...@stapmod_test.c:N") probes a local, and an inlined copy of
 * stapmod_scale() for .inline probes.  Writing a number N to /proc/stapmod_test calls
 * stapmod_handle() with a request whose id is N, then stapmod_scale(N, bytes written).
 */
#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/proc_fs.h>
#include <linux/uaccess.h>

struct stapmod_req {
	int id;
	long len;
	char name[16];
};

static volatile long stapmod_result, stapmod_scaled;

static __always_inline long stapmod_scale(long v, long k)
{
	long r = v * k;

	return r + k;
}

static noinline long stapmod_handle(struct stapmod_req *req)
{
	long sum = 0;
	int i;

	for (i = 0; i < req->len; i++)
		sum += req->name[i];
	sum = sum * 1000 + req->id;
	stapmod_result = sum;		/* STAPMOD_LINE: sum holds the checksum here */
	return sum;
}

static ssize_t stapmod_write(struct file *file, const char __user *buf, size_t count,
			     loff_t *pos)
{
	struct stapmod_req req = { .len = 3, .name = "abc" };
	char tmp[16] = { 0 };

	if (copy_from_user(tmp, buf, min(count, sizeof(tmp) - 1)))
		return -EFAULT;
	if (kstrtoint(strim(tmp), 10, &req.id))
		return -EINVAL;
	stapmod_handle(&req);
	stapmod_scaled = stapmod_scale(req.id, (long)count);	/* STAPMOD_CALL */
	return count;
}

static const struct proc_ops stapmod_ops = {
	.proc_write = stapmod_write,
};

static int __init stapmod_init(void)
{
	return proc_create("stapmod_test", 0222, NULL, &stapmod_ops) ? 0 : -ENOMEM;
}

static void __exit stapmod_exit(void)
{
	remove_proc_entry("stapmod_test", NULL);
}

module_init(stapmod_init);
module_exit(stapmod_exit);
MODULE_LICENSE("GPL");
