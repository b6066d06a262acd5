/* planner_norm.c - nnU-Net's normalisation scheme per channel name
 * (map_channel_name_to_normalization.py) and whether the scheme uses the nonzero mask. */
#include "planner.h"

#include <stddef.h>
#include <string.h>

/* Python's str.casefold() compared with ASCII keys: ASCII letters fold down, and of all other
 * characters only U+017F (long s) folds to a letter of the keys ('s'). */
static int casefold_equals(const char *name, const char *key)
{
    const unsigned char *p = (const unsigned char *)name;
    while (*p) {
        int ch;
        if (p[0] == 0xC5 && p[1] == 0xBF) {
            ch = 's';
            p += 2;
        } else if (*p >= 0x80) {
            return 0;
        } else {
            ch = (*p >= 'A' && *p <= 'Z') ? *p + 32 : *p;
            p++;
        }
        if (ch != *key++)
            return 0;
    }
    return *key == 0;
}

const char *pf_plan_norm_scheme(const char *channel_name)
{
    static const struct { const char *key, *scheme; } map[] = {
        {"ct", "CTNormalization"},
        {"nonorm", "NoNormalization"},
        {"zscore", "ZScoreNormalization"},
        {"rescale_to_0_1", "RescaleTo01Normalization"},
        {"rgb_to_0_1", "RGBTo01Normalization"},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (casefold_equals(channel_name, map[i].key))
            return map[i].scheme;
    return "ZScoreNormalization";
}

int pf_plan_norm_uses_mask(const char *scheme)
{
    return strcmp(scheme, "ZScoreNormalization") == 0;
}
