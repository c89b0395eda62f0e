/* Random secrets. See secret.h. */
#include <errno.h>
#include <stdint.h>
#include <sys/random.h>
#include <sys/types.h>

#include "basic/secret.h"

int secret_new(char *ret, size_t len) {
        static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        size_t n = 0;

        while (n < len) {
                uint8_t buf[64];
                ssize_t got = getrandom(buf, sizeof(buf), 0);
                if (got < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                /* 248 = 4 * 62: taking only bytes below it keeps every character equally likely. */
                for (ssize_t i = 0; i < got && n < len; i++)
                        if (buf[i] < 248)
                                ret[n++] = alphabet[buf[i] % 62];
        }
        ret[n] = 0;
        return 0;
}
