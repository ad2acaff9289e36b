"""The lvs.cluster lab: a qemu guest with Debian's kernel (it has IPVS) holding systemd-nspawn lab hosts."""
