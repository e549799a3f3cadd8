# The NFS test's workload on the client (tests/vm_nfs.rs): a write of 2 pages, a read of a
# file the server wrote, a rename, a remove, a mkdir and a failed lookup.
dd if=/dev/zero of=/mnt/w.bin bs=4096 count=2 2>/dev/null
cat /mnt/file
mv /mnt/w.bin /mnt/w2.bin
rm /mnt/w2.bin
mkdir /mnt/dir
ls /mnt/nothere 2>/dev/null
sync
