#define _GNU_SOURCE
#include <fcntl.h>
#include <link.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <unistd.h>
#include "CLoader.h"

struct walk {
    void (*visit)(const mw_segment *, size_t, void *);
    void *context;
};

/// The end of what may be given back of a read-only PT_LOAD segment: its memory image, or, when
/// the loader zero-filled part of it (p_memsz > p_filesz: that page was written, and the rest is
/// anonymous), only the whole pages before the file's part ends.
static uintptr_t releasable_end(const ElfW(Phdr) *header, uintptr_t start) {
    if (header->p_memsz <= header->p_filesz) return start + (uintptr_t)header->p_memsz;
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    return (start + (uintptr_t)header->p_filesz) & ~(page - 1);
}

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
            segments[count++] = (mw_segment){ start, releasable_end(header, start), 0 };
            // The zero-filled part, if any, is the object's own memory: reported as such.
            uintptr_t end = start + (uintptr_t)header->p_memsz, kept = releasable_end(header, start);
            if (kept < end && count < 64) segments[count++] = (mw_segment){ kept, end, 2 };
        } else if (header->p_type == PT_GNU_RELRO) {
            segments[count++] = (mw_segment){ start, start + (uintptr_t)header->p_memsz, 1 };
        } else if (header->p_type == PT_LOAD) {
            segments[count++] = (mw_segment){ start, start + (uintptr_t)header->p_memsz, 2 };
        }
    }
    walk->visit(segments, count, walk->context);
    return 0;
}

void mw_each_loaded_object(void (*visit)(const mw_segment *, size_t, void *), void *context) {
    struct walk walk = { visit, context };
    dl_iterate_phdr(each_object, &walk);
}

/// The Swift conformance records of the executable (the linker's bounds of the section the
/// runtime scans); absent (NULL) when nothing in the link has the section.
extern const int32_t __start_swift5_protocol_conformances[] __attribute__((weak));
extern const int32_t __stop_swift5_protocol_conformances[] __attribute__((weak));

static int compare_addresses(const void *a, const void *b) {
    uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;
    return x < y ? -1 : x > y;
}

/// The conformance pages, sorted, each once, in a block the caller frees (NULL and 0 when
/// there are none or no memory).
static uintptr_t *conformance_pages(size_t *unique) {
    *unique = 0;
    const int32_t *records = __start_swift5_protocol_conformances, *end = __stop_swift5_protocol_conformances;
    if (records == NULL || end == NULL || end <= records) return NULL;
    uintptr_t size = (uintptr_t)sysconf(_SC_PAGESIZE);
    size_t total = (size_t)(end - records) + ((uintptr_t)end - (uintptr_t)records) / size + 2;
    uintptr_t *all = malloc(total * sizeof *all);
    if (all == NULL) return NULL;
    size_t count = 0;
    // The records' own pages, then each record's descriptor (a 32-bit offset from the record).
    for (uintptr_t page = (uintptr_t)records & ~(size - 1); page < (uintptr_t)end; page += size) all[count++] = page;
    for (const int32_t *record = records; record < end; record++) {
        all[count++] = ((uintptr_t)record + (intptr_t)*record) & ~(size - 1);
    }
    qsort(all, count, sizeof *all, compare_addresses);
    for (size_t index = 0; index < count; index++) {
        if (*unique > 0 && all[index] == all[*unique - 1]) continue;
        all[(*unique)++] = all[index];
    }
    return all;
}

size_t mw_conformance_pages(uintptr_t *pages, size_t capacity) {
    size_t unique;
    uintptr_t *all = conformance_pages(&unique);
    for (size_t index = 0; index < unique && index < capacity; index++) pages[index] = all[index];
    free(all);
    return unique;
}

struct release {
    const mw_range *ranges;
    size_t count;
    /// The executable, opened for posix_fadvise; -1 when it could not be (or need not be).
    int executable;
    /// The release at readiness: advice given, the executable's constants uncached.
    int uncache;
    /// The pages of the executable's conformance records and descriptors (sorted), read back
    /// into the page cache after its constants are dropped from it.
    uintptr_t *conformances;
    size_t conformance_count;
    /// Room for one object's ranges (`count` of them at most).
    struct pending *pending;
    mw_release_result result;
};

/// Reads back into the page cache, a page at a time, the conformance pages in [start, end) of
/// the segment at file offset `base` (its first address `low`).
static void recache_conformances(struct release *release, uintptr_t start, uintptr_t end, uintptr_t low, off_t base) {
    uintptr_t size = (uintptr_t)sysconf(_SC_PAGESIZE);
    for (size_t index = 0; index < release->conformance_count; index++) {
        uintptr_t page = release->conformances[index];
        if (page < start || page + size > end) continue;
        // Adjacent pages in one call.
        uintptr_t last = page;
        while (index + 1 < release->conformance_count && release->conformances[index + 1] == last + size
               && release->conformances[index + 1] + size <= end) {
            last = release->conformances[++index];
        }
        if (posix_fadvise(release->executable, base + (off_t)(page - low), (off_t)(last + size - page), POSIX_FADV_WILLNEED) == 0) {
            release->result.recached_bytes += last + size - page;
        }
    }
}

/// The read-only PT_LOAD segment of this object whose pages hold all of [start, end) (the
/// segment's first and last pages included), or NULL when none does or a byte of any other
/// segment of the object (PT_LOAD, RELRO) lies in the range: a page shared with a segment that
/// is written, relocated or zero-filled is never given back.
static const ElfW(Phdr) *read_only_segment(struct dl_phdr_info *info, uintptr_t start, uintptr_t end) {
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    const ElfW(Phdr) *found = NULL;
    for (size_t index = 0; index < info->dlpi_phnum; index++) {
        const ElfW(Phdr) *header = &info->dlpi_phdr[index];
        if (header->p_memsz == 0 || (header->p_type != PT_LOAD && header->p_type != PT_GNU_RELRO)) continue;
        uintptr_t low = (uintptr_t)info->dlpi_addr + (uintptr_t)header->p_vaddr;
        uintptr_t high = low + (uintptr_t)header->p_memsz;
        if (found == NULL && header->p_type == PT_LOAD && !(header->p_flags & PF_W)) {
            uintptr_t kept = releasable_end(header, low);
            if ((low & ~(page - 1)) <= start && end <= ((kept + page - 1) & ~(page - 1))
                && (kept == high || end <= kept)) {
                found = header;
                continue;
            }
        }
        if (start < high && low < end) return NULL;
    }
    return found;
}

/// One range of an object to give back, with what the release needs of its segment: read
/// from the program headers before any page is given back, since the first segment's first
/// page holds them, and reading them after would map that page (and the 64 KB around it)
/// straight back.
struct pending {
    uintptr_t start, end;
    int code;
    uintptr_t low;
    off_t offset;
};

static int release_object(struct dl_phdr_info *info, size_t size, void *data) {
    (void)size;
    struct release *release = data;
    // The executable: the object whose program headers the kernel handed over (the vdso has no
    // name either; started through ld.so, /proc/self/exe is ld.so and nothing matches).
    int executable = (uintptr_t)info->dlpi_phdr == (uintptr_t)getauxval(AT_PHDR);
    size_t found = 0;
    for (size_t index = 0; index < release->count; index++) {
        uintptr_t start = release->ranges[index].start, end = release->ranges[index].end;
        const ElfW(Phdr) *segment = start < end ? read_only_segment(info, start, end) : NULL;
        if (segment == NULL) continue;
        release->pending[found++] = (struct pending){
            start, end, (segment->p_flags & PF_X) != 0,
            (uintptr_t)info->dlpi_addr + (uintptr_t)segment->p_vaddr, (off_t)segment->p_offset,
        };
    }
    // Nothing below reads the program headers.
    for (size_t index = 0; index < found; index++) {
        const struct pending *range = &release->pending[index];
        uintptr_t start = range->start, end = range->end;
        // Constants (not code): no read-around when one is read again, so that it brings back
        // its own page and not the 128 KB around it. (The kernel reads around code its own
        // way whatever the advice.)
        // (Once: the advice stays with the mapping, and each call costs a walk of the range.)
        if (!range->code && release->uncache) (void)madvise((void *)start, end - start, MADV_RANDOM);
        if (madvise((void *)start, end - start, MADV_DONTNEED) != 0) {
            release->result.failures += 1;
            continue;
        }
        release->result.advised_bytes += end - start;
        // The executable's constants are also dropped from the page cache where no process maps
        // them: pages cached in large blocks (as installing or linking the file left them) would
        // otherwise come back a block at a time. Its code's cache is kept: the next cycle runs
        // from it.
        if (executable && !range->code && release->executable >= 0) {
            off_t offset = (off_t)(start - range->low) + range->offset;
            (void)posix_fadvise(release->executable, offset, (off_t)(end - start), POSIX_FADV_DONTNEED);
            // Except the conformance records and descriptors: the Swift runtime reads all of them
            // (~300 pages scattered through the constants) at the first lookup of each new type's
            // conformance (the first alert that fires makes a dozen). Uncached, each page was a
            // read from the disk then (about 9 ms at the first firing); cached a page at a time,
            // a minor fault that maps only its own page and the cached ones beside it.
            recache_conformances(release, start, end, range->low, range->offset);
        }
    }
    return 0;
}

mw_release_result mw_release_ranges(const mw_range *ranges, size_t count, int uncache) {
    struct release release = { ranges, count, -1, uncache, NULL, 0, NULL, { 0, 0, 0 } };
    if (count == 0) return release.result;
    release.pending = malloc(count * sizeof *release.pending);
    if (release.pending == NULL) {
        release.result.failures = count;
        return release.result;
    }
    release.executable = uncache ? open("/proc/self/exe", O_RDONLY | O_CLOEXEC) : -1;
    if (release.executable >= 0) release.conformances = conformance_pages(&release.conformance_count);
    dl_iterate_phdr(release_object, &release);
    free(release.conformances);
    free(release.pending);
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
