/* test-flow.c: PftFlow routing, nesting, params, loops, errors
 *
 * SPDX-License-Identifier: MIT
 */

#include <string.h>

#include "test-util.h"

/* Appends the node's name to the store's "trace" and returns the action
 * held in the store under "<name>.action" (or default). */
static char *
post_trace (PftNode *node, PftContext *ctx, const GValue *prep, const GValue *exec, GError **error)
{
  PftStore *store = pft_context_get_store (ctx);
  g_autofree char *trace = pft_store_dup_string (store, "trace");
  g_autofree char *key = g_strdup_printf ("%s.action", pft_node_get_name (node));
  g_autofree char *joined = g_strconcat (trace != NULL ? trace : "", pft_node_get_name (node), NULL);

  pft_store_set_string (store, "trace", joined);
  return pft_store_dup_string (store, key);
}

static PftNode *
named (TestBehaviour *b, const char *name)
{
  PftNode *node = test_node_new (b);

  pft_node_set_name (node, name);
  return node;
}

static void
test_flow_routing (void)
{
  TestBehaviour b = { .post = post_trace };
  g_autoptr(PftNode) a = named (&b, "A");
  g_autoptr(PftNode) yes = named (&b, "Y");
  g_autoptr(PftNode) no = named (&b, "N");
  g_autoptr(PftNode) end = named (&b, "E");
  g_autoptr(PftFlow) flow = pft_flow_new (a);
  g_autoptr(PftStore) store = pft_store_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *action = NULL;
  g_autofree char *trace = NULL;
  g_autofree char *action2 = NULL;
  g_autofree char *trace2 = NULL;

  pft_node_add_successor (a, "yes", yes);
  pft_node_add_successor (a, "no", no);
  pft_node_add_successor (yes, NULL, end);
  pft_node_add_successor (no, NULL, end);

  pft_store_set_string (store, "A.action", "no");
  pft_store_set_string (store, "E.action", "finished");
  action = pft_node_run (PFT_NODE (flow), store, NULL, &error);
  g_assert_no_error (error);
  trace = pft_store_dup_string (store, "trace");
  g_assert_cmpstr (trace, ==, "ANE");
  /* A flow's default post returns its last node's action. */
  g_assert_cmpstr (action, ==, "finished");

  pft_store_remove (store, "trace");
  pft_store_set_string (store, "A.action", "yes");
  action2 = pft_node_run (PFT_NODE (flow), store, NULL, &error);
  g_assert_no_error (error);
  trace2 = pft_store_dup_string (store, "trace");
  g_assert_cmpstr (trace2, ==, "AYE");
}

static void
test_flow_dead_end_warns (void)
{
  TestBehaviour b = { .post = post_trace };
  g_autoptr(PftNode) a = named (&b, "A");
  g_autoptr(PftNode) n = named (&b, "N");
  g_autoptr(PftFlow) flow = pft_flow_new (a);
  g_autoptr(PftStore) store = pft_store_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *action = NULL;

  pft_node_add_successor (a, "known", n);
  pft_store_set_string (store, "A.action", "unknown");
  g_test_expect_message ("Pft", G_LOG_LEVEL_WARNING, "*action 'unknown' of A not found in ['known']*");
  action = pft_node_run (PFT_NODE (flow), store, NULL, &error);
  g_test_assert_expected_messages ();
  g_assert_no_error (error);
  g_assert_cmpstr (action, ==, "unknown");
}

static void
prep_params (PftNode *node, PftContext *ctx, GValue *result, GError **error)
{
  /* Record what the node saw: "who" and "level" params. */
  g_autofree char *who = pft_context_dup_param_string (ctx, "who");
  g_autofree char *key = g_strdup_printf ("%s.seen", pft_node_get_name (node));
  g_autofree char *seen = g_strdup_printf ("%s/%" G_GINT64_FORMAT, who ? who : "-",
                                           pft_context_get_param_int (ctx, "level", -1));

  pft_store_set_string (pft_context_get_store (ctx), key, seen);
}

static void
test_flow_nested_params (void)
{
  TestBehaviour b = { .prep = prep_params, .post = post_trace };
  g_autoptr(PftNode) inner_a = named (&b, "IA");
  g_autoptr(PftNode) inner_b = named (&b, "IB");
  g_autoptr(PftFlow) inner = pft_flow_new (inner_a);
  g_autoptr(PftNode) after = named (&b, "AFTER");
  g_autoptr(PftNode) other = named (&b, "OTHER");
  g_autoptr(PftFlow) outer = pft_flow_new (PFT_NODE (inner));
  g_autoptr(PftStore) store = pft_store_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *action = NULL;
  g_autofree char *trace = NULL;
  g_autofree char *s1 = NULL;
  g_autofree char *s2 = NULL;
  g_autofree char *s3 = NULL;

  pft_node_add_successor (inner_a, NULL, inner_b);
  /* The inner flow ends with IB's action, which routes the outer flow. */
  pft_node_add_successor (PFT_NODE (inner), "go-after", after);
  pft_node_add_successor (PFT_NODE (inner), NULL, other);
  pft_node_set_name (PFT_NODE (inner), "INNER");
  pft_store_set_string (store, "IB.action", "go-after");

  /* Node's own params are overridden by what the flows pass; the inner
   * flow's own params add "level"; the outer flow's "who" wins over the
   * inner node's own "who". */
  pft_node_set_params (inner_b, g_variant_new_parsed ("{'who': <'inner-own'>, 'level': <int64 9>}"));
  pft_node_set_params (PFT_NODE (inner), g_variant_new_parsed ("{'level': <int64 2>}"));
  pft_node_set_params (PFT_NODE (outer), g_variant_new_parsed ("{'who': <'outer'>}"));

  action = pft_node_run (PFT_NODE (outer), store, NULL, &error);
  g_assert_no_error (error);
  trace = pft_store_dup_string (store, "trace");
  g_assert_cmpstr (trace, ==, "IAIBAFTER");
  s1 = pft_store_dup_string (store, "IA.seen");
  s2 = pft_store_dup_string (store, "IB.seen");
  s3 = pft_store_dup_string (store, "AFTER.seen");
  g_assert_cmpstr (s1, ==, "outer/2");
  g_assert_cmpstr (s2, ==, "outer/2");
  g_assert_cmpstr (s3, ==, "outer/-1");
}

static char *
post_count_loop (PftNode *node, PftContext *ctx, const GValue *prep, const GValue *exec, GError **error)
{
  gint64 n = pft_store_add_int (pft_context_get_store (ctx), "loops", 1);

  return g_strdup (n < 5 ? "again" : "stop");
}

static void
test_flow_loop (void)
{
  TestBehaviour b = { .post = post_count_loop };
  g_autoptr(PftNode) think = named (&b, "THINK");
  g_autoptr(PftNode) act = named (&b, "ACT");
  g_autoptr(PftFlow) flow = pft_flow_new (think);
  g_autoptr(PftStore) store = pft_store_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *action = NULL;

  pft_node_add_successor (think, "again", act);
  pft_node_add_successor (act, "again", think);
  g_test_expect_message ("Pft", G_LOG_LEVEL_WARNING, "*action 'stop' of THINK not found in ['again']*");
  action = pft_node_run (PFT_NODE (flow), store, NULL, &error);
  g_test_assert_expected_messages ();
  g_assert_no_error (error);
  g_assert_cmpstr (action, ==, "stop");
  g_assert_cmpint (pft_store_get_int (store, "loops", 0), ==, 5);

  /* The loop holds references both ways: break it explicitly. */
  g_object_run_dispose (G_OBJECT (think));
  g_assert_null (pft_node_get_successor (think, "again"));
}

static char *
post_always_again (PftNode *node, PftContext *ctx, const GValue *prep, const GValue *exec, GError **error)
{
  pft_store_add_int (pft_context_get_store (ctx), "steps", 1);
  return g_strdup ("again");
}

static void
test_flow_max_steps (void)
{
  TestBehaviour b = { .post = post_always_again };
  g_autoptr(PftNode) spin = named (&b, "SPIN");
  g_autoptr(PftFlow) flow = pft_flow_new (spin);
  g_autoptr(PftStore) store = pft_store_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *action = NULL;

  pft_node_add_successor (spin, "again", spin);
  pft_flow_set_max_steps (flow, 100);
  action = pft_node_run (PFT_NODE (flow), store, NULL, &error);
  g_assert_error (error, PFT_ERROR, PFT_ERROR_MAX_STEPS);
  g_assert_nonnull (strstr (error->message, "100 steps"));
  g_assert_null (action);
  g_assert_cmpint (pft_store_get_int (store, "steps", 0), ==, 100);

  g_object_run_dispose (G_OBJECT (spin));
}

static void
test_flow_no_start (void)
{
  g_autoptr(PftFlow) flow = pft_flow_new (NULL);
  g_autoptr(PftStore) store = pft_store_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *action = pft_node_run (PFT_NODE (flow), store, NULL, &error);

  g_assert_error (error, PFT_ERROR, PFT_ERROR_NO_START);
  g_assert_null (action);
}

static void
exec_fail (PftNode *node, PftContext *ctx, const GValue *item, GValue *result, GError **error)
{
  g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "upstream timed out");
}

static void
test_flow_error_stops_walk (void)
{
  TestBehaviour ok = { .post = post_trace };
  TestBehaviour bad = { .exec = exec_fail, .post = post_trace };
  g_autoptr(PftNode) a = named (&ok, "A");
  g_autoptr(PftNode) f = named (&bad, "F");
  g_autoptr(PftNode) c = named (&ok, "C");
  g_autoptr(PftFlow) flow = pft_flow_new (a);
  g_autoptr(PftStore) store = pft_store_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *action = NULL;
  g_autofree char *trace = NULL;

  pft_node_add_successor (pft_node_add_successor (a, NULL, f), NULL, c);
  action = pft_node_run (PFT_NODE (flow), store, NULL, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  trace = pft_store_dup_string (store, "trace");
  g_assert_cmpstr (trace, ==, "A");
  g_assert_cmpint (ok.exec_calls, ==, 1);
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/pft/flow/routing", test_flow_routing);
  g_test_add_func ("/pft/flow/dead-end-warns", test_flow_dead_end_warns);
  g_test_add_func ("/pft/flow/nested-params", test_flow_nested_params);
  g_test_add_func ("/pft/flow/loop", test_flow_loop);
  g_test_add_func ("/pft/flow/max-steps", test_flow_max_steps);
  g_test_add_func ("/pft/flow/no-start", test_flow_no_start);
  g_test_add_func ("/pft/flow/error-stops-walk", test_flow_error_stops_walk);

  return g_test_run ();
}
