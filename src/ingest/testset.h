/* testset.h - the images a trained model is to predict: the dataset's own test images
 * (nnU-Net raw imagesTs/{ID}_{CCCC}{ending}, the Decathlon dataset.json "test" list) or a
 * folder given with infer=DIR, named as imagesTr. Listed as a pf_dataset whose cases have no
 * label (pf_case_src.label NULL), sharing the training set's channels and labels, so that the
 * cache preprocesses them exactly as training cases. Its root and name give it a cache folder
 * of its own (<dataset>-test or <dataset>-infer), which the training set's gc never touches. */
#ifndef PATCHFS_TESTSET_H
#define PATCHFS_TESTSET_H

#include "dataset.h"
#include "error.h"

/* The test set of train: infer_dir's images when given (refused when it is not a folder or
 * holds no image), else the dataset's own (none: zero cases). A file naming a channel beyond
 * dataset.json's, or a case missing a channel file, is refused naming the file. */
int pf_testset_open(const pf_dataset *train, const char *infer_dir, pf_dataset *test,
                    pf_error *err);

#endif
