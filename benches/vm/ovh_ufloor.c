// SPDX-License-Identifier: GPL-2.0
/*
 * The floor of the uprobe-overhead benchmark: a bare uprobe whose handler does nothing, on
 * the instruction at file offset `offset` of the program at `path`.  What any uprobe-based
 * tracer pays before running its own code.
 */
#include <linux/module.h>
#include <linux/namei.h>
#include <linux/uprobes.h>
#include <linux/version.h>

static char *path;
module_param(path, charp, 0400);
static unsigned long offset;
module_param(offset, ulong, 0400);

static struct path ovh_path;
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 12, 0)
static struct uprobe *ovh_uprobe;
#endif

static int ovh_handler(struct uprobe_consumer *uc, struct pt_regs *regs)
{
	return 0;
}

static struct uprobe_consumer ovh_uc = {
	.handler = ovh_handler,
};

static int __init ovh_ufloor_init(void)
{
	int rc = kern_path(path, LOOKUP_FOLLOW, &ovh_path);

	if (rc)
		return rc;
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 12, 0)
	ovh_uprobe = uprobe_register(d_real_inode(ovh_path.dentry), offset, 0, &ovh_uc);
	rc = IS_ERR(ovh_uprobe) ? PTR_ERR(ovh_uprobe) : 0;
#else
	rc = uprobe_register(d_real_inode(ovh_path.dentry), offset, &ovh_uc);
#endif
	if (rc)
		path_put(&ovh_path);
	return rc;
}

static void __exit ovh_ufloor_exit(void)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 12, 0)
	uprobe_unregister_nosync(ovh_uprobe, &ovh_uc);
	uprobe_unregister_sync();
#else
	uprobe_unregister(d_real_inode(ovh_path.dentry), offset, &ovh_uc);
#endif
	path_put(&ovh_path);
}

module_init(ovh_ufloor_init);
module_exit(ovh_ufloor_exit);
MODULE_LICENSE("GPL");
