/* The PE certificate table. See pe-sign.h; layout from the PE/COFF
 * specification ("Optional Header Data Directories", "The Attribute
 * Certificate Table"). */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "basic/util.h"
#include "host/pe-sign.h"

#define DOS_LFANEW 0x3c                 /* offset of the PE header's offset */
#define COFF_SIZE 20                    /* the COFF file header after "PE\0\0" */
#define COFF_OPT_SIZE 16                /* SizeOfOptionalHeader within it */
#define PE32_MAGIC 0x10b
#define PE32PLUS_MAGIC 0x20b
#define DIR_SECURITY 4
/* Headers of real images end well within this: the table offset only
 * needs the headers, never the image. */
#define HEADER_READ 4096

static uint16_t le16(const uint8_t *p) {
        return (uint16_t) (p[0] | p[1] << 8);
}

static uint32_t le32(const uint8_t *p) {
        return (uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16 | (uint32_t) p[3] << 24;
}

int pe_signature_size_buf(const uint8_t *buf, size_t len, uint64_t file_size, uint32_t *ret_size) {
        size_t pe, opt, n_dirs_at, dirs_at, entry;
        uint16_t opt_size, magic;
        uint32_t n_dirs, offset, size;

        if (len < DOS_LFANEW + 4)
                return len >= 2 && (buf[0] != 'M' || buf[1] != 'Z') ? -ENOEXEC : -ENODATA;
        if (buf[0] != 'M' || buf[1] != 'Z')
                return -ENOEXEC;
        pe = le32(buf + DOS_LFANEW);
        if (pe > HEADER_READ)
                return -ENOEXEC;        /* no real image puts its header there */
        if (len < pe + 4 + COFF_SIZE + 2)
                return -ENODATA;
        if (memcmp(buf + pe, "PE\0\0", 4) != 0)
                return -ENOEXEC;
        opt_size = le16(buf + pe + 4 + COFF_OPT_SIZE);
        opt = pe + 4 + COFF_SIZE;
        magic = le16(buf + opt);
        if (magic == PE32_MAGIC) {
                n_dirs_at = opt + 92;
                dirs_at = opt + 96;
        } else if (magic == PE32PLUS_MAGIC) {
                n_dirs_at = opt + 108;
                dirs_at = opt + 112;
        } else
                return -ENOEXEC;
        entry = dirs_at + DIR_SECURITY * 8;
        /* An optional header too short to hold the entry has no table. */
        if (n_dirs_at + 4 > opt + opt_size) {
                *ret_size = 0;
                return 0;
        }
        if (len < n_dirs_at + 4)
                return -ENODATA;
        n_dirs = le32(buf + n_dirs_at);
        if (n_dirs <= DIR_SECURITY || entry + 8 > opt + opt_size) {
                *ret_size = 0;
                return 0;
        }
        if (len < entry + 8)
                return -ENODATA;
        offset = le32(buf + entry);
        size = le32(buf + entry + 4);
        if (size > 0 && (uint64_t) offset + size > file_size)
                return -EBADMSG;
        *ret_size = size;
        return 0;
}

int pe_signature_size(const char *path, uint32_t *ret_size) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
        uint8_t buf[HEADER_READ + 512];
        struct stat st;
        ssize_t n;
        int r;

        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode))
                return -EINVAL;
        n = pread(fd, buf, sizeof(buf), 0);
        if (n < 0)
                return -errno;
        r = pe_signature_size_buf(buf, (size_t) n, (uint64_t) st.st_size, ret_size);
        /* All there is was read: too short is no image. */
        return r == -ENODATA ? -ENOEXEC : r;
}
