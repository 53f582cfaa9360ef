#ifndef CLOADER_H
#define CLOADER_H

#include <stddef.h>
#include <stdint.h>

/// One segment of a loaded object, as the dynamic loader mapped it.
typedef struct {
    uintptr_t start;
    uintptr_t end;
    /// 0: a PT_LOAD segment the object may not write; 1: its PT_GNU_RELRO range.
    int kind;
} mw_segment;

/// Calls `visit` once per loaded object (the executable first) with its read-only PT_LOAD
/// segments and its RELRO range, from inside dl_iterate_phdr's callback: while `visit` runs,
/// the loader's lock keeps dlclose from unmapping any object. At most 64 segments per object.
void mw_each_loaded_object(void (*visit)(const mw_segment *segments, size_t count, void *context), void *context);

/// glibc's mallopt (malloc.h is not in Swift's Glibc module): 1 when the setting was taken.
int mw_mallopt(int parameter, int value);

/// glibc's parameter numbers, for the tests to compare with.
int mw_m_arena_max(void);
int mw_m_mmap_threshold(void);

#endif
