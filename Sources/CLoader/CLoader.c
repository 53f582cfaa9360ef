#define _GNU_SOURCE
#include <link.h>
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

#include <malloc.h>

int mw_mallopt(int parameter, int value) { return mallopt(parameter, value); }
int mw_m_arena_max(void) { return M_ARENA_MAX; }
int mw_m_mmap_threshold(void) { return M_MMAP_THRESHOLD; }
