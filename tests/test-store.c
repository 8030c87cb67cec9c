/* test-store.c: PftStore, PftValues, PftContext params
 *
 * SPDX-License-Identifier: MIT
 */

#include "test-util.h"
#include "pft-private.h"
#include "pft-context-private.h"

static void
on_changed (PftStore *store, const char *key, gpointer data)
{
  GPtrArray *seen = data;

  g_ptr_array_add (seen, g_strdup (key));
}

static void
test_store_typed (void)
{
  g_autoptr(PftStore) store = pft_store_new ();
  g_autoptr(GPtrArray) seen = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(PftValues) values = pft_values_new ();
  g_autoptr(PftValues) back = NULL;
  g_autofree char *s = NULL;
  g_auto(GStrv) keys = NULL;

  g_signal_connect (store, "changed::count", G_CALLBACK (on_changed), seen);

  pft_store_set_string (store, "name", "pft");
  pft_store_set_int (store, "count", G_GINT64_CONSTANT (1) << 40);
  pft_store_set_double (store, "ratio", 0.25);
  pft_store_set_boolean (store, "flag", TRUE);
  pft_store_set_values (store, "list", values);

  s = pft_store_dup_string (store, "name");
  g_assert_cmpstr (s, ==, "pft");
  g_assert_cmpint (pft_store_get_int (store, "count", 0), ==, G_GINT64_CONSTANT (1) << 40);
  g_assert_cmpfloat (pft_store_get_double (store, "ratio", 0), ==, 0.25);
  /* integers read as doubles, not the other way round */
  g_assert_cmpfloat (pft_store_get_double (store, "count", 0), ==, (double) (G_GINT64_CONSTANT (1) << 40));
  g_assert_true (pft_store_get_boolean (store, "flag", FALSE));
  g_assert_cmpint (pft_store_get_int (store, "missing", -7), ==, -7);
  g_assert_null (pft_store_dup_string (store, "count"));
  back = pft_store_dup_values (store, "list");
  g_assert_true (back == values);
  g_assert_null (pft_store_dup_values (store, "name"));

  g_assert_cmpuint (pft_store_get_size (store), ==, 5);
  keys = pft_store_dup_keys (store);
  g_assert_cmpstrv (keys, ((const char *[]) { "count", "flag", "list", "name", "ratio", NULL }));

  /* The detail filters: only "count" changes were seen. */
  g_assert_cmpuint (seen->len, ==, 1);
  pft_store_add_int (store, "count", 1);
  g_assert_cmpuint (seen->len, ==, 2);
  g_assert_true (pft_store_remove (store, "count"));
  g_assert_false (pft_store_remove (store, "count"));
  g_assert_cmpuint (seen->len, ==, 3);
  g_assert_false (pft_store_contains (store, "count"));
}

static void
test_store_lookup (void)
{
  g_autoptr(PftStore) store = pft_store_new ();
  g_auto(GValue) v = G_VALUE_INIT;
  GValue in = G_VALUE_INIT;

  /* Absent keys read as a NULL pointer, always filled in. */
  pft_store_lookup (store, "nope", &v);
  g_assert_true (G_VALUE_HOLDS_POINTER (&v));
  g_assert_null (g_value_get_pointer (&v));

  g_value_init (&in, G_TYPE_STRING);
  g_value_set_string (&in, "copy me");
  pft_store_set_value (store, "k", &in);
  g_value_set_string (&in, "changed after");
  /* An initialized value is reused. */
  pft_store_lookup (store, "k", &v);
  g_assert_cmpstr (g_value_get_string (&v), ==, "copy me");
  g_value_unset (&in);
}

static gpointer
add_many (gpointer data)
{
  for (int i = 0; i < 10000; i++)
    pft_store_add_int (data, "n", 1);
  return NULL;
}

static void
test_store_threads (void)
{
  g_autoptr(PftStore) store = pft_store_new ();
  GThread *threads[4];

  for (guint i = 0; i < G_N_ELEMENTS (threads); i++)
    threads[i] = g_thread_new ("adder", add_many, store);
  for (guint i = 0; i < G_N_ELEMENTS (threads); i++)
    g_thread_join (threads[i]);
  g_assert_cmpint (pft_store_get_int (store, "n", 0), ==, 40000);
}

static void
test_values (void)
{
  const char *strv[] = { "a", "b", NULL };
  g_autoptr(PftValues) values = pft_values_new_from_strv (strv);
  g_autoptr(GObject) obj = g_object_new (G_TYPE_OBJECT, NULL);
  g_autoptr(GObject) obj_back = NULL;
  g_autoptr(GVariant) var_back = NULL;
  g_auto(GStrv) strings = NULL;
  g_auto(GValue) v = G_VALUE_INIT;
  GValue tmp = G_VALUE_INIT;

  pft_values_append_int (values, 3);
  pft_values_append_double (values, 1.5);
  pft_values_append_object (values, obj);
  pft_values_append_variant (values, g_variant_new ("a{sv}", NULL));
  g_value_init (&tmp, G_TYPE_UINT);
  g_value_set_uint (&tmp, 9);
  pft_values_take (values, &tmp);
  g_assert_false (G_IS_VALUE (&tmp));

  g_assert_cmpuint (pft_values_get_length (values), ==, 7);
  g_assert_cmpstr (pft_values_get_string (values, 1), ==, "b");
  g_assert_cmpint (pft_values_get_int (values, 2), ==, 3);
  g_assert_cmpfloat (pft_values_get_double (values, 3), ==, 1.5);
  g_assert_cmpint (pft_values_get_int (values, 6), ==, 9);
  obj_back = pft_values_dup_object (values, 4);
  g_assert_true (obj_back == obj);
  var_back = pft_values_dup_variant (values, 5);
  g_assert_true (g_variant_is_of_type (var_back, G_VARIANT_TYPE_VARDICT));
  g_assert_null (pft_values_get_string (values, 2));

  strings = pft_values_dup_strv (values);
  g_assert_cmpstrv (strings, ((const char *[]) { "a", "b", NULL }));

  /* set past the end grows with unset elements that read as NULL */
  g_value_init (&tmp, G_TYPE_STRING);
  g_value_set_string (&tmp, "far");
  pft_values_set (values, 9, &tmp);
  g_value_unset (&tmp);
  g_assert_cmpuint (pft_values_get_length (values), ==, 10);
  pft_values_get (values, 8, &v);
  g_assert_true (G_VALUE_HOLDS_POINTER (&v));
  pft_values_get (values, 9, &v);
  g_assert_cmpstr (g_value_get_string (&v), ==, "far");
}

static void
test_params_merge (void)
{
  g_autoptr(GVariant) base = g_variant_ref_sink (g_variant_new_parsed ("{'a': <1>, 'b': <'x'>}"));
  g_autoptr(GVariant) over = g_variant_ref_sink (g_variant_new_parsed ("{'b': <'y'>, 'c': <true>}"));
  g_autoptr(GVariant) merged = _pft_params_merge (base, over);
  g_autoptr(GVariant) none = _pft_params_merge (NULL, NULL);
  g_autoptr(GVariant) b = g_variant_lookup_value (merged, "b", G_VARIANT_TYPE_STRING);

  g_assert_cmpuint (g_variant_n_children (merged), ==, 3);
  g_assert_cmpstr (g_variant_get_string (b, NULL), ==, "y");
  g_assert_true (g_variant_is_of_type (none, G_VARIANT_TYPE_VARDICT));
  g_assert_cmpuint (g_variant_n_children (none), ==, 0);
}

static void
test_context_params (void)
{
  g_autoptr(PftStore) store = pft_store_new ();
  TestBehaviour b = { 0 };
  g_autoptr(PftNode) node = test_node_new (&b);
  g_autoptr(GVariant) params = g_variant_ref_sink (g_variant_new_parsed ("{'n': <int64 7>, 'u': <uint32 3>, 's': <'str'>}"));
  g_autoptr(PftContext) ctx = _pft_context_new (node, store, params, NULL);
  g_autoptr(PftContext) item = _pft_context_new_for_item (ctx, 4, NULL);
  g_autofree char *s = pft_context_dup_param_string (ctx, "s");
  g_autoptr(GVariant) n = pft_context_lookup_param (ctx, "n");

  g_assert_cmpint (pft_context_get_param_int (ctx, "n", 0), ==, 7);
  g_assert_cmpint (pft_context_get_param_int (ctx, "u", 0), ==, 3);
  g_assert_cmpint (pft_context_get_param_int (ctx, "s", -1), ==, -1);
  g_assert_cmpint (pft_context_get_param_int (ctx, "zz", -2), ==, -2);
  g_assert_cmpstr (s, ==, "str");
  g_assert_nonnull (n);
  g_assert_null (pft_context_dup_param_string (ctx, "n"));
  g_assert_true (pft_context_get_store (item) == store);
  g_assert_true (pft_context_get_node (item) == node);
  g_assert_cmpint (pft_context_get_index (ctx), ==, -1);
  g_assert_cmpint (pft_context_get_index (item), ==, 4);
  g_assert_true (pft_context_get_params (item) == pft_context_get_params (ctx));
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/pft/store/typed", test_store_typed);
  g_test_add_func ("/pft/store/lookup", test_store_lookup);
  g_test_add_func ("/pft/store/threads", test_store_threads);
  g_test_add_func ("/pft/values/basics", test_values);
  g_test_add_func ("/pft/context/params-merge", test_params_merge);
  g_test_add_func ("/pft/context/params", test_context_params);

  return g_test_run ();
}
