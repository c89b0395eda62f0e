/* libFuzzer target: any bytes as a profile. profile_parse() must never
 * crash, leak or hang; a profile it accepts must free cleanly and answer
 * profile_line(), kinds_profile(), and every error must be one "fuzz.conf..." line. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kinds/kind.h"
#include "profile/profile.h"
#include "basic/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *buf = malloc(size + 1);
        char **errors = NULL;
        struct profile *p = NULL;
        if (!buf)
                return 0;
        memcpy(buf, data, size);
        buf[size] = 0;
        if (profile_parse("fuzz.conf", buf, kinds_profile(), &errors, &p) == 0) {
                if (!p || errors)
                        abort();
                (void) profile_line(p, "bridge.address");
                profile_free(p);
        } else {
                if (p || !errors || !errors[0])
                        abort();
                for (char **e = errors; *e; e++)
                        if (strncmp(*e, "fuzz.conf", 9) != 0 || strchr(*e, '\n'))
                                abort();
                strv_free(errors);
        }
        free(buf);
        return 0;
}
