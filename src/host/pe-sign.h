/* The Authenticode signature table of a PE/COFF image (an EFI binary such
 * as a kernel with its EFI stub, shim, GRUB): the Security entry (index 4)
 * of the optional header's data directories, whose VirtualAddress is a file
 * offset and Size the bytes of WIN_CERTIFICATE structures. Size 0 (or no
 * such entry) is an unsigned image. This only tells whether a signature is
 * there; whose it is and whether it verifies is the firmware's business. */
#pragma once
#include <stddef.h>
#include <stdint.h>

/* From the first LEN bytes of an image: 0 and *RET_SIZE = the table's
 * size; -ENOEXEC when BUF is no PE image (no MZ/PE signatures, an unknown
 * optional header magic); -EBADMSG when the table lies beyond FILE_SIZE
 * bytes; -ENODATA when LEN is too short to tell (read more). */
int pe_signature_size_buf(const uint8_t *buf, size_t len, uint64_t file_size, uint32_t *ret_size);

/* The same for the file PATH (it reads the headers only). -errno when it
 * cannot be read. */
int pe_signature_size(const char *path, uint32_t *ret_size);
