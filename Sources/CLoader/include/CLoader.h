#ifndef CLOADER_H
#define CLOADER_H

#include <stddef.h>
#include <stdint.h>

/// One segment of a loaded object, as the dynamic loader mapped it.
typedef struct {
    uintptr_t start;
    uintptr_t end;
    /// 0: a PT_LOAD segment the object may not write (without a part the loader zero-filled);
    /// 1: its PT_GNU_RELRO range; 2: the rest of the object's memory (a writable PT_LOAD, the
    /// zero-filled part of a read-only one).
    int kind;
} mw_segment;

/// Calls `visit` once per loaded object (the executable first) with its PT_LOAD segments and its
/// RELRO range, from inside dl_iterate_phdr's callback: while `visit` runs,
/// the loader's lock keeps dlclose from unmapping any object. At most 64 segments per object.
void mw_each_loaded_object(void (*visit)(const mw_segment *segments, size_t count, void *context), void *context);

/// A range of addresses, [start, end).
typedef struct {
    uintptr_t start;
    uintptr_t end;
} mw_range;

typedef struct {
    /// The bytes of the ranges given back (MADV_DONTNEED) and the calls that failed.
    size_t advised_bytes;
    size_t failures;
    /// The bytes of the executable's conformance pages read back into the page cache.
    size_t recached_bytes;
} mw_release_result;

/// Gives back the pages of `ranges` (whole pages, computed beforehand) with MADV_DONTNEED, each
/// only if it still lies wholly inside the pages of a read-only PT_LOAD segment of a loaded
/// object and holds no byte of any other segment of it (RELRO, writable, zero-filled); a range in a segment that is not executable gets
/// MADV_RANDOM first (no read-around when touched again), and when it is the executable's, its
/// pages are dropped from the page cache too (POSIX_FADV_DONTNEED: those no process maps).
/// An object's program headers are read before any of its pages is given back (they are in its
/// first page). Everything runs in C inside dl_iterate_phdr's callback: the loader's lock keeps dlclose from
/// unmapping an object, and no Swift code runs between the first page given back and the last
/// (code that runs then is mapped again, with the pages around it, and stays).
/// `uncache`: advise MADV_RANDOM and drop the executable's constants from the page cache where
/// nothing maps them (the release once every group has run, after start-up or a reload; the
/// releases between find the advice in place and the constants cached a page at a time).
/// With `uncache`, the executable's Swift conformance records and descriptors are read back into
/// the page cache a page at a time (POSIX_FADV_WILLNEED) right after: the runtime reads all of
/// them at each first lookup of a type's conformance.
mw_release_result mw_release_ranges(const mw_range *ranges, size_t count, int uncache);

/// The pages (page-aligned addresses, sorted, each once) that hold the executable's Swift
/// conformance records and the descriptors they point to; writes at most `capacity` of them to
/// `pages` and returns how many there are (0 when the executable has no such section).
size_t mw_conformance_pages(uintptr_t *pages, size_t capacity);

/// The process's resident file-backed (and shared) kilobytes from /proc/self/statm; -1 when
/// it cannot be read.
long mw_resident_file_kb(void);

/// glibc's mallopt (malloc.h is not in Swift's Glibc module): 1 when the setting was taken.
int mw_mallopt(int parameter, int value);

/// glibc's parameter numbers, for the tests to compare with.
int mw_m_arena_max(void);
int mw_m_mmap_threshold(void);

#endif
