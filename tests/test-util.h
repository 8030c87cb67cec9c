/* test-util.h: configurable C nodes for the engine's tests
 *
 * SPDX-License-Identifier: MIT
 */

#pragma once

#include <pft.h>

G_BEGIN_DECLS

/* A node whose behaviour each test sets through function pointers, and
 * which measures what the engine does to it (calls, concurrency). */

typedef void  (*TestPrepFunc) (PftNode *node, PftContext *ctx, GValue *result, GError **error);
typedef void  (*TestExecFunc) (PftNode *node, PftContext *ctx, const GValue *item, GValue *result, GError **error);
typedef char *(*TestPostFunc) (PftNode *node, PftContext *ctx, const GValue *prep, const GValue *exec, GError **error);

typedef struct
{
  TestPrepFunc prep;
  TestExecFunc exec;
  TestPostFunc post;
  gboolean     fallback;        /* exec_fallback returns "fallback" */
  guint        delay_mod;       /* async node: item i completes after i % delay_mod ms */
  guint        return_now_mod;  /* async node: item i with i % return_now_mod == 0 completes
                                 * at once, through pft_context_return_value/_error (0: none) */
  gpointer     data;
  gint         exec_calls;      /* atomic */
  gint         in_flight;       /* atomic */
  gint         max_in_flight;   /* atomic */
} TestBehaviour;

#define TEST_TYPE_NODE (test_node_get_type ())
G_DECLARE_FINAL_TYPE (TestNode, test_node, TEST, NODE, PftNode)

#define TEST_TYPE_BATCH_NODE (test_batch_node_get_type ())
G_DECLARE_FINAL_TYPE (TestBatchNode, test_batch_node, TEST, BATCH_NODE, PftBatchNode)

#define TEST_TYPE_ASYNC_BATCH_NODE (test_async_batch_node_get_type ())
G_DECLARE_FINAL_TYPE (TestAsyncBatchNode, test_async_batch_node, TEST, ASYNC_BATCH_NODE, PftBatchNode)

PftNode       *test_node_new        (TestBehaviour *b);
PftNode       *test_batch_node_new  (TestBehaviour *b,
                                     guint          max_concurrent);
/* exec_async completes on the main context after (item % delay_mod) ms,
 * or at the next iteration when delay_mod is 0. */
PftNode       *test_async_batch_node_new (TestBehaviour *b,
                                          guint          max_concurrent);
TestBehaviour *test_node_get_behaviour (PftNode *node);

void           test_behaviour_enter (TestBehaviour *b);
void           test_behaviour_leave (TestBehaviour *b);
/* A cancelled run returns while blocking execs may still be running in
 * worker threads (by design: cancellation is prompt); tests whose
 * behaviour lives on the stack wait for them before returning. */
void           test_behaviour_wait_idle (TestBehaviour *b);

/* Runs @node with pft_node_run_async on a fresh thread-default context. */
char          *test_run_async       (PftNode       *node,
                                     PftStore      *store,
                                     GCancellable  *cancellable,
                                     GError       **error);

/* A prep returning the integers 0 .. n-1 as a PftValues, n being the
 * store's "n". */
void           test_prep_ints       (PftNode       *node,
                                     PftContext    *ctx,
                                     GValue        *result,
                                     GError       **error);

/* Runs a batch node of @n integers (test_prep_ints) whose exec is @exec,
 * @max_concurrent at once, asserts every item was executed and returns
 * how many execs ran at once at most, as they counted it. */
gint           test_run_int_batch   (TestExecFunc   exec,
                                     gint64         n,
                                     guint          max_concurrent);

G_END_DECLS
