#include "pull/gitmem.h"

#include <git2.h>
#include <git2/sys/alloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#ifdef __APPLE__
#include <malloc/malloc.h>
#define usable_size malloc_size
#else
#include <malloc.h>
#define usable_size malloc_usable_size
#endif

/* Net bytes since gitmem_limit: blocks allocated before and freed after
 * count negative, which only leaves more room. */
static long long live;
static size_t limit;
static bool hit;

static bool fits(size_t more, size_t less)
{
	if ((long long)more - (long long)less + live <= (long long)limit)
		return true;
	hit = true;
	return false;
}

static void *counted(void *p)
{
	if (p)
		live += (long long)usable_size(p);
	return p;
}

static void *g_malloc(size_t n, const char *file, int line)
{
	(void)file;
	(void)line;
	return fits(n, 0) ? counted(malloc(n ? n : 1)) : NULL;
}

static void *g_calloc(size_t nelem, size_t elsize, const char *file, int line)
{
	(void)file;
	(void)line;
	if (elsize && nelem > SIZE_MAX / elsize)
		return NULL;
	return fits(nelem * elsize, 0) ? counted(calloc(nelem ? nelem : 1, elsize ? elsize : 1))
				       : NULL;
}

static char *g_substrdup(const char *str, size_t n, const char *file, int line)
{
	char *p = n < SIZE_MAX ? g_malloc(n + 1, file, line) : NULL;

	if (p) {
		memcpy(p, str, n);
		p[n] = '\0';
	}
	return p;
}

static char *g_strdup(const char *str, const char *file, int line)
{
	return g_substrdup(str, strlen(str), file, line);
}

static char *g_strndup(const char *str, size_t n, const char *file, int line)
{
	return g_substrdup(str, strnlen(str, n), file, line);
}

static void *g_realloc(void *ptr, size_t size, const char *file, int line)
{
	size_t old = ptr ? usable_size(ptr) : 0;
	void *p;

	(void)file;
	(void)line;
	if (!fits(size, old))
		return NULL;
	p = realloc(ptr, size ? size : 1);
	if (!p)
		return NULL;
	live -= (long long)old;
	return counted(p);
}

static void *g_reallocarray(void *ptr, size_t nelem, size_t elsize, const char *file, int line)
{
	if (elsize && nelem > SIZE_MAX / elsize)
		return NULL;
	return g_realloc(ptr, nelem * elsize, file, line);
}

static void *g_mallocarray(size_t nelem, size_t elsize, const char *file, int line)
{
	return g_reallocarray(NULL, nelem, elsize, file, line);
}

static void g_free(void *ptr)
{
	if (ptr)
		live -= (long long)usable_size(ptr);
	free(ptr);
}

int gitmem_limit(size_t cap)
{
	static git_allocator counting = {
	    .gmalloc = g_malloc,
	    .gcalloc = g_calloc,
	    .gstrdup = g_strdup,
	    .gstrndup = g_strndup,
	    .gsubstrdup = g_substrdup,
	    .grealloc = g_realloc,
	    .greallocarray = g_reallocarray,
	    .gmallocarray = g_mallocarray,
	    .gfree = g_free,
	};

	live = 0;
	limit = cap;
	hit = false;
	return git_libgit2_opts(GIT_OPT_SET_ALLOCATOR, &counting);
}

void gitmem_unlimit(void)
{
	git_libgit2_opts(GIT_OPT_SET_ALLOCATOR, NULL);
}

bool gitmem_cap_hit(void)
{
	return hit;
}
