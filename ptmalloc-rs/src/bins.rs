//! Taking a free chunk out of its doubly linked bin (`unlink_chunk`), with the large-bin skip list.
//!
//! Large bins are sorted by decreasing size; the first chunk of each size is also linked on the
//! `fd_nextsize`/`bk_nextsize` ring, so a best-fit search skips runs of equal sizes.

use crate::allocator::Malloc;
use crate::arena::Av;
use crate::chunk::Chunk;
use crate::constants::in_smallbin_range;
use crate::system::{RawLock, SystemMemory};

impl<S: SystemMemory, L: RawLock> Malloc<S, L> {
    /// Unlinks free chunk `p` from its bin, checking its boundary tag and both list neighbours.
    pub(crate) fn unlink_chunk(&self, _av: Av, p: Chunk) {
        if p.size() != p.next().prev_size() {
            self.printerr("corrupted size vs. prev_size");
        }
        let fd = p.fd();
        let bk = p.bk();
        if fd.bk() != p || bk.fd() != p {
            self.printerr("corrupted double-linked list");
        }
        fd.set_bk(bk);
        bk.set_fd(fd);
        if !in_smallbin_range(p.size_nomask()) && !p.fd_nextsize().is_null() {
            if p.fd_nextsize().bk_nextsize() != p || p.bk_nextsize().fd_nextsize() != p {
                self.printerr("corrupted double-linked list (not small)");
            }
            if fd.fd_nextsize().is_null() {
                if p.fd_nextsize() == p {
                    fd.set_fd_nextsize(fd);
                    fd.set_bk_nextsize(fd);
                } else {
                    fd.set_fd_nextsize(p.fd_nextsize());
                    fd.set_bk_nextsize(p.bk_nextsize());
                    p.fd_nextsize().set_bk_nextsize(fd);
                    p.bk_nextsize().set_fd_nextsize(fd);
                }
            } else {
                p.fd_nextsize().set_bk_nextsize(p.bk_nextsize());
                p.bk_nextsize().set_fd_nextsize(p.fd_nextsize());
            }
        }
    }

    /// Puts `p` (size `size`, header not yet written) at the front of the unsorted bin, clearing the
    /// skip-list links of large chunks; `message` is the corruption message of the caller.
    pub(crate) fn link_unsorted_front(&self, av: Av, p: Chunk, size: usize, message: &str) {
        let bck = av.unsorted();
        let fwd = bck.fd();
        if fwd.bk() != bck {
            self.printerr(message);
        }
        p.set_fd(fwd);
        p.set_bk(bck);
        if !in_smallbin_range(size) {
            p.set_fd_nextsize(Chunk::NULL);
            p.set_bk_nextsize(Chunk::NULL);
        }
        bck.set_fd(p);
        fwd.set_bk(p);
    }
}
