/* plans_json.h - a pf_plan as nnU-Net's nnUNetPlans.json, both ways.
 *
 * Writing gives nnUNetPlans.json's layout and nnU-Net's own formatting (Python's
 * json.dump(indent=4): four-space indent, "," ending lines, floats as Python's repr, non-ASCII
 * escaped as \uXXXX, no final newline), so a plan equal to nnU-Net's is written byte for byte as
 * nnU-Net writes it, and `diff` against a real nnUNetPlans.json shows only real differences.
 * Key order is nnU-Net's; a key the plan does not have (pf_plan.keys, pf_plan_config.own_keys)
 * is left out.
 *
 * Reading accepts nnU-Net's files: configurations that inherit_from another are resolved as
 * PlansManager resolves them (the child's keys replace the parent's, "architecture" as a whole),
 * optional keys may be missing (their bit stays clear), unknown keys are ignored (and not
 * written back). Plans of the ResEnc planners keep their n_blocks_per_stage; plans of nnU-Net
 * before 2.3 (UNet_class_name, pool_op_kernel_sizes, ... instead of "architecture") are
 * converted as ConfigurationManager converts them. Required: transpose_forward,
 * transpose_backward, configurations, and per resolved configuration patch_size and spacing.
 * Errors name the file and the key
 * ("plans.json: configurations.3d_fullres.patch_size[1]: expected an integer").
 * write -> read -> write gives the same text. */
#ifndef PATCHFS_PLANS_JSON_H
#define PATCHFS_PLANS_JSON_H

#include <stddef.h>

#include "error.h"
#include "planner.h"

/* The plan as nnUNetPlans.json text: *text is malloc'd and NUL-terminated. */
int pf_plans_to_json(const pf_plan *plan, char **text, pf_error *err);
/* Writes that text to path. */
int pf_plans_write(const pf_plan *plan, const char *path, pf_error *err);

/* Parses nnUNetPlans.json text (len bytes; source names it in errors). *out is overwritten; on
 * success free it with pf_plan_free. */
int pf_plans_from_json(const char *text, size_t len, const char *source, pf_plan *out,
                       pf_error *err);
/* Reads and parses the file at path. */
int pf_plans_read(const char *path, pf_plan *out, pf_error *err);

/* A double as Python's repr() writes it (shortest text that reads back to the same double:
 * "1.0", "0.7949219942092896", "1e-05", "1e+16"; json's "NaN", "Infinity"). Returns the length,
 * or -1 when cap is too small (32 bytes always suffice). */
int pf_json_format_double(double x, char *buf, size_t cap);

#endif
