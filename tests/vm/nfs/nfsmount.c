/* A mount(2) with the kernel's own text options, for the NFS test (tests/vm_nfs.rs): busybox
 * mount handles an "nfs*" type itself, with NFSv2/v3 only. */
#include <stdio.h>
#include <sys/mount.h>
int main(int argc, char **argv)
{
	if (argc != 5) {
		fprintf(stderr, "usage: nfsmount SOURCE TARGET TYPE OPTIONS\n");
		return 2;
	}
	if (mount(argv[1], argv[2], argv[3], 0, argv[4])) {
		perror("mount");
		return 1;
	}
	return 0;
}
