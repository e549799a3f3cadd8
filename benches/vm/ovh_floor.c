// SPDX-License-Identifier: GPL-2.0
/*
 * The floor of the probe-overhead benchmark: a bare kprobe on ksys_write whose handler does
 * nothing.  What any kprobe-based tracer pays before running its own code.
 */
#include <linux/kprobes.h>
#include <linux/module.h>

static int ovh_floor_pre(struct kprobe *p, struct pt_regs *regs)
{
	return 0;
}

static struct kprobe ovh_floor_kp = {
	.symbol_name = "ksys_write",
	.pre_handler = ovh_floor_pre,
};

static int __init ovh_floor_init(void)
{
	return register_kprobe(&ovh_floor_kp);
}

static void __exit ovh_floor_exit(void)
{
	unregister_kprobe(&ovh_floor_kp);
}

module_init(ovh_floor_init);
module_exit(ovh_floor_exit);
MODULE_LICENSE("GPL");
