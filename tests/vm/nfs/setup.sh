# The guest's NFS server and client, for tests/vm_nfs.rs: loads the modules in /extra (in
# the order of /extra/modules.order), exports a tmpfs at /exp as the NFSv4 root without
# nfs-utils (the export and the client's address go straight into the kernel's caches),
# starts one nfsd thread and mounts the export at /mnt over loopback.
for m in $(cat /extra/modules.order); do
	insmod "/extra/$m.ko" || echo "nfs setup: insmod $m failed"
done
ip link set lo up
mount -t nfsd nfsd /proc/fs/nfsd || echo "nfs setup: no nfsd file system"
mkdir -p /exp /mnt
mount -t tmpfs tmpfs /exp
echo hello > /exp/file
# NFSv4 only: v2/v3 would need rpcbind (and lockd).
echo "-2 -3 +4 +4.1 +4.2" > /proc/fs/nfsd/versions || echo "nfs setup: versions"
echo 10 > /proc/fs/nfsd/nfsv4leasetime
echo 10 > /proc/fs/nfsd/nfsv4gracetime
# The client 127.0.0.1 is in the domain "localhost"; /exp is exported to it read-write, with
# no root squashing, NFSEXP_FSID|NFSEXP_NOSUBTREECHECK (0x2400) and fsid 0 (the v4 root).
echo "nfsd 127.0.0.1 2147483647 localhost" > /proc/net/rpc/auth.unix.ip/channel || echo "nfs setup: client"
echo "localhost /exp 2147483647 9216 65534 65534 0" > /proc/net/rpc/nfsd.export/channel || echo "nfs setup: export"
echo 'localhost 1 \x00000000 2147483647 /exp' > /proc/net/rpc/nfsd.fh/channel || echo "nfs setup: fsid"
echo 1 > /proc/fs/nfsd/threads || echo "nfs setup: nfsd threads"
/extra/nfsmount 127.0.0.1:/ /mnt nfs4 vers=4.1,addr=127.0.0.1,clientaddr=127.0.0.1 || echo "nfs setup: mount"
