#define _GNU_SOURCE
#include <fcntl.h>
#include <link.h>
#include <stdlib.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <unistd.h>
#include "CLoader.h"

struct walk {
    void (*visit)(const mw_segment *, size_t, void *);
    void *context;
};

static int each_object(struct dl_phdr_info *info, size_t size, void *data) {
    (void)size;
    struct walk *walk = data;
    mw_segment segments[64];
    size_t count = 0;
    for (size_t index = 0; index < info->dlpi_phnum && count < 64; index++) {
        const ElfW(Phdr) *header = &info->dlpi_phdr[index];
        if (header->p_memsz == 0) continue;
        uintptr_t start = (uintptr_t)info->dlpi_addr + (uintptr_t)header->p_vaddr;
        if (header->p_type == PT_LOAD && !(header->p_flags & PF_W)) {
            segments[count++] = (mw_segment){ start, start + (uintptr_t)header->p_memsz, 0 };
        } else if (header->p_type == PT_GNU_RELRO) {
            segments[count++] = (mw_segment){ start, start + (uintptr_t)header->p_memsz, 1 };
        }
    }
    walk->visit(segments, count, walk->context);
    return 0;
}

void mw_each_loaded_object(void (*visit)(const mw_segment *, size_t, void *), void *context) {
    struct walk walk = { visit, context };
    dl_iterate_phdr(each_object, &walk);
}

struct release {
    const mw_range *ranges;
    size_t count;
    /// The executable, opened for posix_fadvise; -1 when it could not be (or need not be).
    int executable;
    /// The release at readiness: advice given, the executable's constants uncached.
    int uncache;
    mw_release_result result;
};

/// The read-only PT_LOAD segment of this object that holds all of [start, end), or NULL when
/// none does or the range touches the object's RELRO range.
static const ElfW(Phdr) *read_only_segment(struct dl_phdr_info *info, uintptr_t start, uintptr_t end) {
    const ElfW(Phdr) *found = NULL;
    for (size_t index = 0; index < info->dlpi_phnum; index++) {
        const ElfW(Phdr) *header = &info->dlpi_phdr[index];
        if (header->p_memsz == 0) continue;
        uintptr_t low = (uintptr_t)info->dlpi_addr + (uintptr_t)header->p_vaddr;
        uintptr_t high = low + (uintptr_t)header->p_memsz;
        if (header->p_type == PT_GNU_RELRO && start < high && low < end) return NULL;
        if (header->p_type == PT_LOAD && !(header->p_flags & PF_W) && low <= start && end <= high) found = header;
    }
    return found;
}

static int release_object(struct dl_phdr_info *info, size_t size, void *data) {
    (void)size;
    struct release *release = data;
    // The executable: the object whose program headers the kernel handed over (the vdso has no
    // name either; started through ld.so, /proc/self/exe is ld.so and nothing matches).
    int executable = (uintptr_t)info->dlpi_phdr == (uintptr_t)getauxval(AT_PHDR);
    for (size_t index = 0; index < release->count; index++) {
        uintptr_t start = release->ranges[index].start, end = release->ranges[index].end;
        const ElfW(Phdr) *segment = start < end ? read_only_segment(info, start, end) : NULL;
        if (segment == NULL) continue;
        int code = (segment->p_flags & PF_X) != 0;
        // Constants (not code): no read-around when one is read again, so that it brings back
        // its own page and not the 128 KB around it. (The kernel reads around code its own
        // way whatever the advice.)
        // (Once: the advice stays with the mapping, and each call costs a walk of the range.)
        if (!code && release->uncache) (void)madvise((void *)start, end - start, MADV_RANDOM);
        if (madvise((void *)start, end - start, MADV_DONTNEED) != 0) {
            release->result.failures += 1;
            continue;
        }
        release->result.advised_bytes += end - start;
        // The executable's constants are also dropped from the page cache where no process maps
        // them: pages cached in large blocks (as installing or linking the file left them) would
        // otherwise come back a block at a time. Its code's cache is kept: the next cycle runs
        // from it.
        if (executable && !code && release->executable >= 0) {
            off_t offset = (off_t)(start - ((uintptr_t)info->dlpi_addr + (uintptr_t)segment->p_vaddr) + (uintptr_t)segment->p_offset);
            (void)posix_fadvise(release->executable, offset, (off_t)(end - start), POSIX_FADV_DONTNEED);
        }
    }
    return 0;
}

mw_release_result mw_release_ranges(const mw_range *ranges, size_t count, int uncache) {
    struct release release = { ranges, count, uncache ? open("/proc/self/exe", O_RDONLY | O_CLOEXEC) : -1, uncache, { 0, 0 } };
    dl_iterate_phdr(release_object, &release);
    if (release.executable >= 0) close(release.executable);
    return release.result;
}

long mw_resident_file_kb(void) {
    int descriptor = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    if (descriptor < 0) return -1;
    char text[256];
    ssize_t length = read(descriptor, text, sizeof text - 1);
    close(descriptor);
    if (length <= 0) return -1;
    text[length] = 0;
    // size resident shared text lib data dt: "shared" is the resident pages of files (and shmem).
    char *cursor = text, *end = NULL;
    for (int field = 0; field < 2; field++) {
        (void)strtol(cursor, &end, 10);
        if (end == cursor) return -1;
        cursor = end;
    }
    long shared = strtol(cursor, &end, 10);
    if (end == cursor || shared < 0) return -1;
    return shared * (sysconf(_SC_PAGESIZE) / 1024);
}

#include <malloc.h>

int mw_mallopt(int parameter, int value) { return mallopt(parameter, value); }
int mw_m_arena_max(void) { return M_ARENA_MAX; }
int mw_m_mmap_threshold(void) { return M_MMAP_THRESHOLD; }
