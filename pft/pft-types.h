/* pft-types.h: forward declarations and enumerations shared by every class
 *
 * SPDX-License-Identifier: MIT
 */

#pragma once

#if !defined(PFT_INSIDE) && !defined(PFT_COMPILATION)
# error "Only <pft.h> can be included directly."
#endif

#include <gio/gio.h>

#include "pft-version-macros.h"

G_BEGIN_DECLS

typedef struct _PftStore            PftStore;
typedef struct _PftValues           PftValues;
typedef struct _PftContext          PftContext;
typedef struct _PftNode             PftNode;
typedef struct _PftBatchNode        PftBatchNode;
typedef struct _PftFlow             PftFlow;
typedef struct _PftBatchFlow        PftBatchFlow;
typedef struct _PftRateLimiter      PftRateLimiter;
typedef struct _PftPermit           PftPermit;
typedef struct _PftLimiterRegistry  PftLimiterRegistry;

/**
 * PftThreadPolicy:
 * @PFT_THREAD_POLICY_AUTO: pick for the implementation language: worker
 *   threads for C, Vala and Python, the run's main context for types
 *   implemented in JavaScript (GJS cannot call into JS from another thread)
 * @PFT_THREAD_POLICY_THREAD: run the synchronous `exec` in a worker thread
 *   of GIO's thread pool, so that blocking calls overlap
 * @PFT_THREAD_POLICY_MAIN_CONTEXT: run the synchronous `exec` on the run's
 *   main context, in the thread that iterates it
 *
 * Where a node's synchronous [vfunc@Pft.Node.exec] runs. The asynchronous
 * shapes ([vfunc@Pft.Node.exec_async], [vfunc@Pft.Node.exec_task]) are always
 * started on the run's main context and are not affected.
 *
 * Since: 0.1
 */
typedef enum {
  PFT_THREAD_POLICY_AUTO,
  PFT_THREAD_POLICY_THREAD,
  PFT_THREAD_POLICY_MAIN_CONTEXT,
} PftThreadPolicy;

G_END_DECLS
