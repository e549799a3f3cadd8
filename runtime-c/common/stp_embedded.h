/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * stap-rs runtime: the memory-access macros SystemTap documents for embedded C
 * (`%{ ... %}` function bodies, guru mode).
 *
 *   kread(ptr)                  the value *ptr, of its type, read without faulting
 *   kwrite(ptr, value)          stores value into *ptr without faulting
 *   kderef(size, addr)          the size-byte (1, 2, 4, 8) value at addr, as int64_t
 *   store_kderef(size, addr, v) stores v as a size-byte value at addr
 *   DEREF_FAULT(addr)           reports a read fault at addr and leaves the C
 *   STORE_DEREF_FAULT(addr)     reports a write fault at addr and leaves the C
 *   CATCH_DEREF_FAULT()         kept for SystemTap's scripts: the wrapper of every
 *                               embedded function catches the faults itself
 *
 * A bad address sets the probe's error (SystemTap's words: "read fault [man error::fault]
 * at 0x10") and jumps to `deref_fault`, a label the code
 * generator puts at the end of every embedded function (with CONTEXT defined there): the
 * rest of the C is skipped, and the error ends the probe as any runtime error does.
 * In the kernel the memory is the kernel's; in the user runtime, the program's own.
 */
#ifndef STP_EMBEDDED_H
#define STP_EMBEDDED_H

#define DEREF_FAULT(addr)                                                                  \
	do {                                                                               \
		stp_set_errorf(CONTEXT, "read fault [man error::fault] at 0x%llx",         \
			       (unsigned long long)(uintptr_t)(addr));                     \
		goto deref_fault;                                                          \
	} while (0)

#define STORE_DEREF_FAULT(addr)                                                            \
	do {                                                                               \
		stp_set_errorf(CONTEXT, "write fault [man error::fault] at 0x%llx",        \
			       (unsigned long long)(uintptr_t)(addr));                     \
		goto deref_fault;                                                          \
	} while (0)

#define CATCH_DEREF_FAULT() do { } while (0)

/* The bytes go through a union, so a const-qualified *ptr is read as well. */
#define kread(ptr)                                                                         \
	({                                                                                 \
		union {                                                                    \
			__typeof__(*(ptr)) v;                                              \
			unsigned char b[sizeof(*(ptr))];                                   \
		} stp_kread_u;                                                             \
		if (stp_embedded_copy(stp_kread_u.b, (ptr), sizeof(*(ptr))))               \
			DEREF_FAULT(ptr);                                                  \
		stp_kread_u.v;                                                             \
	})

#define kwrite(ptr, value)                                                                 \
	do {                                                                               \
		__typeof__(*(ptr)) stp_kwrite_v = (value);                                 \
		if (stp_embedded_store((ptr), &stp_kwrite_v, sizeof(stp_kwrite_v)))        \
			STORE_DEREF_FAULT(ptr);                                            \
	} while (0)

static inline int stp_kderef_sized(int64_t *out, int size, uintptr_t addr)
{
	union {
		uint8_t b;
		uint16_t h;
		uint32_t w;
		uint64_t d;
	} u = { 0 };

	if ((size != 1 && size != 2 && size != 4 && size != 8) ||
	    stp_embedded_copy(&u, (const void *)addr, (size_t)size))
		return -1;
	*out = size == 1 ? (int64_t)u.b : size == 2 ? (int64_t)u.h :
	       size == 4 ? (int64_t)u.w : (int64_t)u.d;
	return 0;
}

static inline int stp_store_kderef_sized(int size, uintptr_t addr, int64_t v)
{
	union {
		uint8_t b;
		uint16_t h;
		uint32_t w;
		uint64_t d;
	} u;

	if (size == 1)
		u.b = (uint8_t)v;
	else if (size == 2)
		u.h = (uint16_t)v;
	else if (size == 4)
		u.w = (uint32_t)v;
	else if (size == 8)
		u.d = (uint64_t)v;
	else
		return -1;
	return stp_embedded_store((void *)addr, &u, (size_t)size);
}

#define kderef(size, addr)                                                                 \
	({                                                                                 \
		int64_t stp_kderef_v = 0;                                                  \
		if (stp_kderef_sized(&stp_kderef_v, (size), (uintptr_t)(addr)))            \
			DEREF_FAULT(addr);                                                 \
		stp_kderef_v;                                                              \
	})

#define store_kderef(size, addr, value)                                                    \
	do {                                                                               \
		if (stp_store_kderef_sized((size), (uintptr_t)(addr), (int64_t)(value)))   \
			STORE_DEREF_FAULT(addr);                                           \
	} while (0)

/* User memory, for the tapsets' readers (user_string() and friends). */
/* Copies n bytes at user address addr into dst: 0, or -1 when they cannot be read. */
static __attribute__((unused)) int stp_user_copy(void *dst, uint64_t addr, size_t n)
{
#ifdef STP_KERNEL
	return copy_from_user_nofault(dst, (const void __user *)(uintptr_t)addr, n) ? -1 : 0;
#else
	(void)dst;
	(void)addr;
	(void)n;
	return -1;
#endif
}

/*
 * Copies the NUL-terminated string at user address addr into out (at most size - 1 bytes
 * and the NUL), in steps that never cross a page (strncpy_from_user_nofault() is not
 * exported to modules), so a string ending before an unmapped page reads.  Returns 0, or
 * -1 when the memory cannot be read (out is then "").  The user runtime has no other
 * process's memory: always -1 there.
 */
static __attribute__((unused)) int stp_user_string(char *out, uint64_t addr, size_t size)
{
#ifdef STP_KERNEL
	char *d = out;
	unsigned long a = (unsigned long)addr;
	size_t left = size - 1;

	while (left) {
		size_t n = min_t(size_t, min_t(size_t, left, 64), PAGE_SIZE - (a & (PAGE_SIZE - 1)));
		size_t i;

		if (copy_from_user_nofault(d, (const void __user *)a, n)) {
			out[0] = '\0';
			return -1;
		}
		for (i = 0; i < n && d[i]; i++)
			;
		if (i < n) {
			d += i;
			break;
		}
		d += n;
		a += n;
		left -= n;
	}
	*d = '\0';
	return 0;
#else
	(void)addr;
	(void)size;
	out[0] = '\0';
	return -1;
#endif
}

#endif /* STP_EMBEDDED_H */
