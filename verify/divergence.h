/* The LazyAdam-vs-Adam divergence study: measures how far LazyAdam drifts from Adam on
 * sparse gradients and proves, row by row and bitwise, that the drift is exactly the
 * zero-gradient Adam steps LazyAdam skipped. */
#ifndef LAZYADAM_DIVERGENCE_H
#define LAZYADAM_DIVERGENCE_H

#include <stdint.h>

#include "h5store.h"
#include "harness.h"

/* Runs every scenario; failures of the proof are tallied (and printed with the inputs
 * that reproduce them). w may be NULL; else each scenario's per-step metrics are stored
 * as group divergence_<scenario>. */
void divergence_study(int quick, uint64_t seed, tally *t, h5w *w);

#endif
