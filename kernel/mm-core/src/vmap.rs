//! The vmalloc area allocator (filled by the vmalloc work).
