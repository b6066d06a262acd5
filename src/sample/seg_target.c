/* seg_target.c - the training target made from a sample's label map: one channel per region
 * for a region dataset (nnU-Net's ConvertSegmentationToRegionsTransform: 1 inside, 0 outside,
 * and a last channel marking the ignore label when there is one), and the value outside the
 * case (-1, or 0 as nnU-Net's RemoveLabelTansform(-1, 0) makes it).
 *
 * nnU-Net converts to regions before it downsamples for deep supervision; its downsampling is
 * nearest-exact, which picks the same source voxel for every channel, so converting the
 * downsampled label map (what patchfs does, R times less work) gives the same targets. */
#include "seg_target.h"

void pf_seg_target(int16_t *buf, size_t n, const uint64_t *masks, int channels, int16_t outside)
{
    if (!masks) {
        if (outside != -1)
            for (size_t i = 0; i < n; i++)
                if (buf[i] == -1)
                    buf[i] = outside;
        return;
    }
    /* in place: the label map is channel 0's span; channel r >= 1 is written at r n + i,
     * beyond that span, and channel 0 at i only once buf[i] has been read */
    for (size_t i = 0; i < n; i++) {
        const int16_t v = buf[i];
        const uint64_t m = v < 0 ? 0 : masks[v + 1];
        for (int r = channels - 1; r >= 0; r--)
            buf[(size_t)r * n + i] = v < 0 ? outside : (int16_t)((m >> r) & 1);
    }
}
