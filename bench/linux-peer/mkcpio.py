#!/usr/bin/env python3
"""Write a newc (SVR4, "070701") initramfs holding just /init and /dev/console.

Usage: mkcpio.py INIT_BINARY OUTPUT.cpio

Built by hand so neither the cpio tool nor root (for mknod) is needed: the
archive simply records dev/console as a character device 5:1, which the kernel
creates when it unpacks the initramfs.  Linux opens /dev/console as fds 0-2 of
init, so without it the benchmark would have no output.
"""
import stat
import sys


def entry(ino, name, mode, data=b"", rdev=(0, 0), nlink=1):
    name_b = name.encode() + b"\0"
    fields = [
        ino, mode, 0, 0, nlink, 0,  # ino mode uid gid nlink mtime
        len(data), 0, 0,            # filesize devmajor devminor
        rdev[0], rdev[1],           # rdevmajor rdevminor
        len(name_b), 0,             # namesize check
    ]
    hdr = b"070701" + b"".join(b"%08X" % f for f in fields)
    out = hdr + name_b
    out += b"\0" * (-len(out) % 4)  # header+name padded to 4 bytes
    out += data
    out += b"\0" * (-len(out) % 4)  # data padded to 4 bytes
    return out


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: mkcpio.py INIT_BINARY OUTPUT.cpio")
    with open(sys.argv[1], "rb") as f:
        init = f.read()
    archive = b"".join([
        entry(1, "dev", stat.S_IFDIR | 0o755, nlink=2),
        entry(2, "dev/console", stat.S_IFCHR | 0o600, rdev=(5, 1)),
        entry(3, "init", stat.S_IFREG | 0o755, init),
        entry(0, "TRAILER!!!", 0),
    ])
    archive += b"\0" * (-len(archive) % 512)
    with open(sys.argv[2], "wb") as f:
        f.write(archive)


if __name__ == "__main__":
    main()
