/* restore_stream.h - the export's streaming path for logits or probabilities: each output
 * plane of the cropped grid is resampled (order 1, nearest along a separate z axis 0) channel
 * after channel and reduced to labels (argmax, or regions) at once, and the labels go straight
 * into the source-grid output at the crop box, transposed back. Nothing the size of a channel
 * is held: besides the output, a slab of planes' running maximum and winners and a few planes
 * of scratch; the prediction's pages are handed back to the kernel as they are consumed.
 *
 * The values are those of the core's resampler (src/ingest/resample.h) bit for bit, so the
 * labels are too: the same per-axis taps and weights in double, the same passes in the same
 * order (the axis-0 pass first when its intermediate is the smaller, as the core decides),
 * the same clip to the channel's (or, with separate z, the plane's) range, float32 storage
 * (float16 rounding for a float16 prediction), the same argmax and region rule (to_labels.h).
 * Planes are independent units, so the bytes do not depend on the thread count. */
#ifndef PATCHFS_RESTORE_STREAM_H
#define PATCHFS_RESTORE_STREAM_H

#include "resample.h"
#include "restore.h"

/* 1 if the streaming path handles this prediction: channels without --probabilities, order
 * 1 (order_z 0), in 3D or with separate z along axis 0. */
int pf_restore_stream_fits(const pf_restore_spec *s, const pf_prediction *p,
                           const pf_resample_geom *rg);

/* pf_restore for a prediction pf_restore_stream_fits accepts (checked by the caller). */
int pf_restore_stream(const pf_restore_spec *s, const pf_resample_geom *rg,
                      const pf_prediction *p, void *out, int out_bytes, pf_error *err);

#endif
