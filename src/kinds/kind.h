/* Boot kinds: one file each (src/kinds/KIND.c) plus its template
 * (templates/entry-KIND.ipxe.mustache), in the style of iproute2's struct
 * link_util. A kind is
 *   - its profile part (profile/kind.h): name, keys, value rules, file checks;
 *   - its render part (render/model.h): its members of the entry's model
 *     object and the files it serves, a lab-wide model member, files it
 *     renders beyond its script;
 *   - the lab services it needs besides dnsmasq and nginx (smbd).
 * The layers below define those types and know no kind; this table hands
 * them down (profile_parse(..., kinds_profile(), ...), render_lab(p,
 * kinds_render(), ...)).
 *
 * Each kind keeps an entry's values in a struct of its own (the entry's
 * kind_data: build() makes it, done() frees it), so its keys are known in
 * its file only.
 *
 * Adding a kind: write src/kinds/KIND.c defining `const struct kind
 * kind_KIND`, its template, and add KIND to KIND_LIST below. */
#pragma once
#include <stdbool.h>

#include "profile/profile.h"
#include "render/model.h"

struct iscsi_entry;

struct kind {
        struct profile_kind profile;
        struct render_kind render;
        /* The services the lab runs for an entry of this kind, besides
         * dnsmasq and nginx; NULL-terminated, or NULL for none. */
        const char *const *services;
        /* The iSCSI disk an entry of this kind attaches (kinds/iscsi.h),
         * or NULL; NULL: the kind attaches none. */
        const struct iscsi_entry *(*iscsi)(const struct boot_entry *b);
};

/* The kinds, in the order messages list them ("one of: linux, chain, ..."). */
#define KIND_LIST(X) X(linux) X(chain) X(local) X(shell) X(wimboot) X(windows) X(iso) X(iscsi)

#define KIND_DECLARE(n) extern const struct kind kind_##n;
KIND_LIST(KIND_DECLARE)
#undef KIND_DECLARE

/* The table, NULL-terminated, as each layer below takes it. */
const struct kind *const *kinds_all(void);
const struct profile_kind *const *kinds_profile(void);
const struct render_kind *const *kinds_render(void);

/* The kind of a parsed entry (its profile part is one of kinds_profile()). */
const struct kind *kind_of(const struct boot_entry *b);

/* Whether some entry of P needs SERVICE ("smbd"): the one question the lab
 * asks the kinds. */
bool kinds_need(const struct profile *p, const char *service);
