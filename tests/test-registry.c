/* test-registry.c: PftLimiterRegistry
 *
 * SPDX-License-Identifier: MIT
 */

#include <glib/gstdio.h>

#include <pft.h>

#include "pft-rate-limiter-private.h"

/* Every test gets its own registry, so that they stay independent; the
 * default one is tested separately. */
typedef struct {
  PftLimiterRegistry *registry;
} Fixture;

static void
drain (void)
{
  while (g_main_context_iteration (NULL, FALSE))
    ;
}

static void
fixture_set_up (Fixture       *f,
                gconstpointer  data)
{
  f->registry = pft_limiter_registry_new ();
}

static void
fixture_tear_down (Fixture       *f,
                   gconstpointer  data)
{
  /* Pending model updates hold a reference: run them, then the registry
   * must go away. */
  drain ();
  g_assert_finalize_object (f->registry);
}

static void
test_register (Fixture       *f,
               gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PftRateLimiter) limiter = pft_rate_limiter_new (3, 30, 60.0);
  g_autoptr(PftRateLimiter) found = NULL;

  g_assert_false (pft_limiter_registry_contains (f->registry, "api"));
  g_assert_true (pft_limiter_registry_register (f->registry, "api", limiter, FALSE, &error));
  g_assert_no_error (error);
  g_assert_true (pft_limiter_registry_contains (f->registry, "api"));

  found = pft_limiter_registry_lookup (f->registry, "api", &error);
  g_assert_no_error (error);
  g_assert_true (found == limiter);

  /* Registering the same object again under its name is a no-op. */
  g_assert_true (pft_limiter_registry_register (f->registry, "api", limiter, TRUE, &error));
  g_assert_no_error (error);
}

static void
test_exists (Fixture       *f,
             gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PftRateLimiter) a = pft_rate_limiter_new (1, 0, 60.0);
  g_autoptr(PftRateLimiter) b = pft_rate_limiter_new (2, 0, 60.0);
  g_autoptr(PftRateLimiter) found = NULL;
  PftRateLimiter *c;

  g_assert_true (pft_limiter_registry_register (f->registry, "api", a, FALSE, NULL));
  g_assert_false (pft_limiter_registry_register (f->registry, "api", b, FALSE, &error));
  g_assert_error (error, PFT_ERROR, PFT_ERROR_EXISTS);
  g_assert_nonnull (strstr (error->message, "“api”"));
  g_clear_error (&error);

  c = pft_limiter_registry_register_new (f->registry, "api", 4, 0, 60.0, &error);
  g_assert_null (c);
  g_assert_error (error, PFT_ERROR, PFT_ERROR_EXISTS);
  g_clear_error (&error);

  c = pft_limiter_registry_register_preset (f->registry, "api", "openai_tier1", &error);
  g_assert_null (c);
  g_assert_error (error, PFT_ERROR, PFT_ERROR_EXISTS);
  g_clear_error (&error);

  found = pft_limiter_registry_lookup (f->registry, "api", NULL);
  g_assert_true (found == a);
}

static void
test_replace (Fixture       *f,
              gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PftRateLimiter) a = pft_rate_limiter_new (1, 0, 60.0);
  g_autoptr(PftRateLimiter) b = pft_rate_limiter_new (2, 0, 60.0);
  g_autoptr(PftRateLimiter) found = NULL;

  g_assert_true (pft_limiter_registry_register (f->registry, "api", a, FALSE, NULL));
  g_assert_true (pft_limiter_registry_register (f->registry, "api", b, TRUE, &error));
  g_assert_no_error (error);

  found = pft_limiter_registry_lookup (f->registry, "api", NULL);
  g_assert_true (found == b);
  /* The old limiter is untouched for whoever still holds it. */
  g_assert_cmpuint (pft_rate_limiter_get_max_concurrent (a), ==, 1);
}

static void
test_register_new (Fixture       *f,
                   gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PftRateLimiter) found = NULL;
  PftRateLimiter *l;

  l = pft_limiter_registry_register_new (f->registry, "openai", 10, 60, 30.0, &error);
  g_assert_no_error (error);
  g_assert_nonnull (l);
  g_assert_cmpuint (pft_rate_limiter_get_max_concurrent (l), ==, 10);
  g_assert_cmpuint (pft_rate_limiter_get_max_per_window (l), ==, 60);
  g_assert_cmpfloat (pft_rate_limiter_get_window (l), ==, 30.0);

  found = pft_limiter_registry_lookup (f->registry, "openai", NULL);
  g_assert_true (found == l);
}

static void
test_register_preset (Fixture       *f,
                      gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  PftRateLimiter *l;

  l = pft_limiter_registry_register_preset (f->registry, "claude", "ANTHROPIC_BUILD_TIER2", &error);
  g_assert_no_error (error);
  g_assert_cmpuint (pft_rate_limiter_get_max_concurrent (l), ==, 10);
  g_assert_cmpuint (pft_rate_limiter_get_max_per_window (l), ==, 1000);
  g_assert_cmpfloat (pft_rate_limiter_get_window (l), ==, 60.0);

  l = pft_limiter_registry_register_preset (f->registry, "other", "anthropic_tier9", &error);
  g_assert_null (l);
  g_assert_error (error, PFT_ERROR, PFT_ERROR_NOT_FOUND);
  g_assert_false (pft_limiter_registry_contains (f->registry, "other"));
}

static void
test_lookup_not_found (Fixture       *f,
                       gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PftRateLimiter) l = pft_limiter_registry_lookup (f->registry, "missing-api", &error);

  g_assert_null (l);
  g_assert_error (error, PFT_ERROR, PFT_ERROR_NOT_FOUND);
  /* Names the limiter and says how to register it. */
  g_assert_nonnull (strstr (error->message, "“missing-api”"));
  g_assert_nonnull (strstr (error->message, "register"));
}

static void
test_get_or_create (Fixture       *f,
                    gconstpointer  data)
{
  g_autoptr(PftRateLimiter) a = NULL;
  g_autoptr(PftRateLimiter) b = NULL;

  a = pft_limiter_registry_get_or_create (f->registry, "api", 3, 10, 1.0);
  g_assert_cmpuint (pft_rate_limiter_get_max_concurrent (a), ==, 3);
  g_assert_cmpuint (pft_rate_limiter_get_max_per_window (a), ==, 10);
  g_assert_cmpfloat (pft_rate_limiter_get_window (a), ==, 1.0);

  /* Existing: the limits given are ignored. */
  b = pft_limiter_registry_get_or_create (f->registry, "api", 99, 99, 99.0);
  g_assert_true (a == b);
  g_assert_cmpuint (pft_rate_limiter_get_max_concurrent (b), ==, 3);
}

static void
test_remove (Fixture       *f,
             gconstpointer  data)
{
  g_autoptr(PftRateLimiter) l = pft_limiter_registry_get_or_create (f->registry, "api", 1, 0, 60.0);

  g_assert_true (pft_limiter_registry_remove (f->registry, "api"));
  g_assert_false (pft_limiter_registry_contains (f->registry, "api"));
  g_assert_false (pft_limiter_registry_remove (f->registry, "api"));
  /* Holders keep a working limiter. */
  g_assert_cmpuint (pft_rate_limiter_get_max_concurrent (l), ==, 1);
}

static void
test_clear (Fixture       *f,
            gconstpointer  data)
{
  g_auto(GStrv) names = NULL;

  pft_limiter_registry_register_new (f->registry, "a", 1, 0, 60.0, NULL);
  pft_limiter_registry_register_new (f->registry, "b", 1, 0, 60.0, NULL);
  pft_limiter_registry_clear (f->registry);

  names = pft_limiter_registry_dup_names (f->registry);
  g_assert_cmpuint (g_strv_length (names), ==, 0);
  g_assert_false (pft_limiter_registry_contains (f->registry, "a"));

  pft_limiter_registry_clear (f->registry);
}

static void
test_names (Fixture       *f,
            gconstpointer  data)
{
  g_auto(GStrv) names = NULL;
  g_autofree char *name = NULL;
  PftRateLimiter *b;

  pft_limiter_registry_register_new (f->registry, "zeta", 1, 0, 60.0, NULL);
  pft_limiter_registry_register_new (f->registry, "alpha", 1, 0, 60.0, NULL);
  b = pft_limiter_registry_register_new (f->registry, "Mid", 1, 0, 60.0, NULL);
  pft_limiter_registry_register_new (f->registry, "beta", 1, 0, 60.0, NULL);

  names = pft_limiter_registry_dup_names (f->registry);
  g_assert_cmpstrv (names, ((const char *[]) { "Mid", "alpha", "beta", "zeta", NULL }));

  name = pft_limiter_registry_dup_name_of (f->registry, b);
  g_assert_cmpstr (name, ==, "Mid");
  g_clear_pointer (&name, g_free);

  {
    g_autoptr(PftRateLimiter) stray = pft_rate_limiter_new (1, 0, 1.0);
    g_assert_null (pft_limiter_registry_dup_name_of (f->registry, stray));
  }
}

static void
test_stats (Fixture       *f,
            gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) stats = NULL;
  g_autoptr(GVariant) all = NULL;
  g_autoptr(PftPermit) p1 = NULL;
  g_autoptr(PftPermit) p2 = NULL;
  PftRateLimiter *l;
  guint32 u;
  guint64 t;
  double d;
  const char *s;

  l = pft_limiter_registry_register_new (f->registry, "api", 4, 10, 60.0, &error);
  p1 = pft_rate_limiter_try_acquire (l, 1, &error);
  g_assert_no_error (error);
  p2 = pft_rate_limiter_try_acquire (l, 1, &error);
  g_assert_no_error (error);

  stats = pft_limiter_registry_get_stats (f->registry, "api", &error);
  g_assert_no_error (error);
  g_assert_true (g_variant_is_of_type (stats, G_VARIANT_TYPE_VARDICT));
  g_assert_false (g_variant_is_floating (stats));

  g_assert_true (g_variant_lookup (stats, "max_concurrent", "u", &u));
  g_assert_cmpuint (u, ==, 4);
  g_assert_true (g_variant_lookup (stats, "max_per_window", "u", &u));
  g_assert_cmpuint (u, ==, 10);
  g_assert_true (g_variant_lookup (stats, "window", "d", &d));
  g_assert_cmpfloat (d, ==, 60.0);
  g_assert_true (g_variant_lookup (stats, "in_flight", "u", &u));
  g_assert_cmpuint (u, ==, 2);
  g_assert_true (g_variant_lookup (stats, "waiting", "u", &u));
  g_assert_cmpuint (u, ==, 0);
  g_assert_true (g_variant_lookup (stats, "window_count", "u", &u));
  g_assert_cmpuint (u, ==, 2);
  g_assert_true (g_variant_lookup (stats, "mode", "&s", &s));
  g_assert_cmpstr (s, ==, "sliding-window");
  g_assert_true (g_variant_lookup (stats, "total_admitted", "t", &t));
  g_assert_cmpuint (t, ==, 2);

  g_clear_pointer (&stats, g_variant_unref);
  stats = pft_limiter_registry_get_stats (f->registry, "nope", &error);
  g_assert_null (stats);
  g_assert_error (error, PFT_ERROR, PFT_ERROR_NOT_FOUND);

  all = pft_limiter_registry_get_all_stats (f->registry);
  g_assert_true (g_variant_is_of_type (all, G_VARIANT_TYPE ("a{sa{sv}}")));
  g_assert_cmpuint (g_variant_n_children (all), ==, 1);
}

/* Defect 9 of pocketflow-throttled (docs/throttling.md): stats counted
 * expired window entries. */
static void
test_stats_live_only (Fixture       *f,
                      gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) stats = NULL;
  PftRateLimiter *l;
  guint32 count = 99;

  /* A real 100 ms window: the wiring with the system clock. (The exact
   * expiry is checked on the fake clock below.) */
  gint64 start = g_get_monotonic_time ();

  l = pft_limiter_registry_register_new (f->registry, "fast", 5, 10, 0.1, &error);
  for (int i = 0; i < 3; i++)
    {
      g_autoptr(PftPermit) p = pft_rate_limiter_try_acquire (l, 1, &error);
      g_assert_no_error (error);
      g_assert_nonnull (p);
    }

  stats = pft_limiter_registry_get_stats (f->registry, "fast", &error);
  g_assert_true (g_variant_lookup (stats, "window_count", "u", &count));
  /* Only meaningful if this machine was not stalled for a whole window. */
  if (g_get_monotonic_time () - start < 100 * G_TIME_SPAN_MILLISECOND)
    g_assert_cmpuint (count, ==, 3);
  else
    g_assert_cmpuint (count, <=, 3);
  g_clear_pointer (&stats, g_variant_unref);

  g_usleep (250 * G_TIME_SPAN_MILLISECOND);

  /* Nothing has touched the limiter since: the entries are stale, yet must
   * not be counted. */
  stats = pft_limiter_registry_get_stats (f->registry, "fast", &error);
  g_assert_no_error (error);
  g_assert_true (g_variant_lookup (stats, "window_count", "u", &count));
  g_assert_cmpuint (count, ==, 0);
  g_assert_true (g_variant_lookup (stats, "in_flight", "u", &count));
  g_assert_cmpuint (count, ==, 0);
}

/* The same on the fake clock, with a real 60-second window: entries
 * leave the count exactly when they expire, one batch at a time. */
static void
test_stats_live_only_fake_clock (Fixture       *f,
                                 gconstpointer  data)
{
  g_autoptr(PftClock) clock = _pft_fake_clock_new (0);
  g_autoptr(GError) error = NULL;
  PftRateLimiter *l;
  guint32 count = 99;

  l = pft_limiter_registry_register_new (f->registry, "minute", 10, 60, 60.0, &error);
  g_assert_no_error (error);
  _pft_rate_limiter_set_clock (l, clock);

#define STATS_COUNT(expected) G_STMT_START { \
    g_autoptr(GVariant) stats = pft_limiter_registry_get_stats (f->registry, "minute", &error); \
    g_assert_no_error (error); \
    g_assert_true (g_variant_lookup (stats, "window_count", "u", &count)); \
    g_assert_cmpuint (count, ==, (expected)); \
  } G_STMT_END

  for (int i = 0; i < 3; i++)
    {
      g_autoptr(PftPermit) p = pft_rate_limiter_try_acquire (l, 1, &error);
      g_assert_nonnull (p);
    }
  g_assert_no_error (error);
  STATS_COUNT (3);

  _pft_fake_clock_advance (clock, 30 * G_USEC_PER_SEC);
  for (int i = 0; i < 2; i++)
    {
      g_autoptr(PftPermit) p = pft_rate_limiter_try_acquire (l, 1, &error);
      g_assert_nonnull (p);
    }
  g_assert_no_error (error);
  STATS_COUNT (5);

  /* 60 s after the first three: only the later two are live. */
  _pft_fake_clock_advance (clock, 30 * G_USEC_PER_SEC + 1);
  STATS_COUNT (2);

  _pft_fake_clock_advance (clock, 30 * G_USEC_PER_SEC);
  STATS_COUNT (0);

#undef STATS_COUNT
}

/* ------------------------------------------------------------------ */
/* The list model                                                       */

typedef struct {
  guint    emissions;
  guint    position, removed, added;
  GThread *thread;
} Changes;

static void
items_changed_cb (GListModel *model,
                  guint       position,
                  guint       removed,
                  guint       added,
                  gpointer    user_data)
{
  Changes *c = user_data;

  c->emissions++;
  c->position = position;
  c->removed = removed;
  c->added = added;
  c->thread = g_thread_self ();
}

static char *
model_name (Fixture *f,
            guint    i)
{
  g_autoptr(PftRateLimiter) l = g_list_model_get_item (pft_limiter_registry_get_model (f->registry), i);
  return pft_limiter_registry_dup_name_of (f->registry, l);
}

static void
test_model (Fixture       *f,
            gconstpointer  data)
{
  GListModel *model = pft_limiter_registry_get_model (f->registry);
  Changes c = { 0 };
  g_autofree char *n0 = NULL, *n1 = NULL, *n2 = NULL;

  g_assert_true (g_list_model_get_item_type (model) == PFT_TYPE_RATE_LIMITER);
  g_assert_cmpuint (g_list_model_get_n_items (model), ==, 0);
  g_signal_connect (model, "items-changed", G_CALLBACK (items_changed_cb), &c);

  /* In the thread that created the registry, with nobody iterating its
   * context: the model is up to date when register returns. */
  pft_limiter_registry_register_new (f->registry, "b", 1, 0, 60.0, NULL);
  g_assert_cmpuint (c.emissions, ==, 1);
  g_assert_cmpuint (g_list_model_get_n_items (model), ==, 1);
  pft_limiter_registry_register_new (f->registry, "a", 1, 0, 60.0, NULL);
  g_assert_cmpuint (c.emissions, ==, 2);
  g_assert_cmpuint (c.position, ==, 0);
  g_assert_cmpuint (c.removed, ==, 0);
  g_assert_cmpuint (c.added, ==, 1);
  g_assert_cmpuint (g_list_model_get_n_items (model), ==, 2);
  drain ();
  g_assert_cmpuint (c.emissions, ==, 2);

  /* Inserted in sorted position. */
  pft_limiter_registry_register_new (f->registry, "aa", 1, 0, 60.0, NULL);
  g_assert_cmpuint (c.emissions, ==, 3);
  g_assert_cmpuint (c.position, ==, 1);
  g_assert_cmpuint (c.removed, ==, 0);
  g_assert_cmpuint (c.added, ==, 1);

  n0 = model_name (f, 0);
  n1 = model_name (f, 1);
  n2 = model_name (f, 2);
  g_assert_cmpstr (n0, ==, "a");
  g_assert_cmpstr (n1, ==, "aa");
  g_assert_cmpstr (n2, ==, "b");

  /* Replacing an object: one item swapped. */
  {
    g_autoptr(PftRateLimiter) other = pft_rate_limiter_new (7, 0, 60.0);
    g_autoptr(PftRateLimiter) item = NULL;

    pft_limiter_registry_register (f->registry, "aa", other, TRUE, NULL);
    g_assert_cmpuint (c.emissions, ==, 4);
    g_assert_cmpuint (c.position, ==, 1);
    g_assert_cmpuint (c.removed, ==, 1);
    g_assert_cmpuint (c.added, ==, 1);
    item = g_list_model_get_item (model, 1);
    g_assert_true (item == other);
  }

  pft_limiter_registry_remove (f->registry, "a");
  g_assert_cmpuint (c.emissions, ==, 5);
  g_assert_cmpuint (c.position, ==, 0);
  g_assert_cmpuint (c.removed, ==, 1);
  g_assert_cmpuint (c.added, ==, 0);

  pft_limiter_registry_clear (f->registry);
  g_assert_cmpuint (c.emissions, ==, 6);
  g_assert_cmpuint (c.removed, ==, 2);
  g_assert_cmpuint (g_list_model_get_n_items (model), ==, 0);

  g_signal_handlers_disconnect_by_data (model, &c);
}

typedef struct {
  Fixture *f;
  Changes *c;
  gboolean done;
} InDispatch;

static gboolean
register_in_dispatch (gpointer user_data)
{
  InDispatch *d = user_data;

  pft_limiter_registry_register_new (d->f->registry, "now", 1, 0, 60.0, NULL);
  /* We run inside the registry's context: the model changed already. */
  g_assert_cmpuint (d->c->emissions, ==, 1);
  g_assert_cmpuint (g_list_model_get_n_items (pft_limiter_registry_get_model (d->f->registry)), ==, 1);
  d->done = TRUE;

  return G_SOURCE_REMOVE;
}

static void
test_model_in_dispatch (Fixture       *f,
                        gconstpointer  data)
{
  GListModel *model = pft_limiter_registry_get_model (f->registry);
  Changes c = { 0 };
  InDispatch d = { f, &c, FALSE };

  g_signal_connect (model, "items-changed", G_CALLBACK (items_changed_cb), &c);
  g_idle_add (register_in_dispatch, &d);
  while (!d.done)
    g_main_context_iteration (NULL, TRUE);
  drain ();
  g_assert_cmpuint (c.emissions, ==, 1);
  g_signal_handlers_disconnect_by_data (model, &c);
}

static gpointer
register_from_thread (gpointer user_data)
{
  Fixture *f = user_data;

  for (int i = 0; i < 20; i++)
    {
      g_autofree char *name = g_strdup_printf ("t%02d", i);
      pft_limiter_registry_register_new (f->registry, name, 1, 0, 60.0, NULL);
    }
  return NULL;
}

static void
test_model_other_thread (Fixture       *f,
                         gconstpointer  data)
{
  GListModel *model = pft_limiter_registry_get_model (f->registry);
  Changes c = { 0 };
  GThread *t;

  g_signal_connect (model, "items-changed", G_CALLBACK (items_changed_cb), &c);

  t = g_thread_new ("registrar", register_from_thread, f);
  g_thread_join (t);
  g_assert_cmpuint (c.emissions, ==, 0);

  drain ();
  g_assert_cmpuint (c.emissions, >=, 1);
  g_assert_true (c.thread == g_thread_self ());
  g_assert_cmpuint (g_list_model_get_n_items (model), ==, 20);
  g_signal_handlers_disconnect_by_data (model, &c);
}

/* ------------------------------------------------------------------ */
/* Key files                                                            */

static void
test_keyfile (Fixture       *f,
              gconstpointer  data)
{
  const char *text =
    "# Limits for our services\n"
    "[openai]\n"
    "preset = openai_tier1\n"
    "max-concurrent = 8\n"
    "\n"
    "[search]\n"
    "max-concurrent = 4\n"
    "max-per-window = 100\n"
    "window = 1.5\n"
    "mode = smooth\n"
    "burst = 10\n"
    "\n"
    "[embeddings]\n"
    "max-per-window=3000\n"
    "max-cost-per-window = 1000000\n"
    "\n"
    "[defaults]\n";
  g_autoptr(GError) error = NULL;
  g_autoptr(PftRateLimiter) openai = NULL;
  g_autoptr(PftRateLimiter) search = NULL;
  g_autoptr(PftRateLimiter) emb = NULL;
  g_autoptr(PftRateLimiter) def = NULL;

  g_assert_true (pft_limiter_registry_load_from_data (f->registry, text, -1, &error));
  g_assert_no_error (error);

  openai = pft_limiter_registry_lookup (f->registry, "openai", &error);
  g_assert_no_error (error);
  g_assert_cmpuint (pft_rate_limiter_get_max_concurrent (openai), ==, 8);   /* overridden */
  g_assert_cmpuint (pft_rate_limiter_get_max_per_window (openai), ==, 60);  /* preset */
  g_assert_cmpfloat (pft_rate_limiter_get_window (openai), ==, 60.0);

  search = pft_limiter_registry_lookup (f->registry, "search", &error);
  g_assert_cmpuint (pft_rate_limiter_get_max_concurrent (search), ==, 4);
  g_assert_cmpuint (pft_rate_limiter_get_max_per_window (search), ==, 100);
  g_assert_cmpfloat (pft_rate_limiter_get_window (search), ==, 1.5);
  g_assert_cmpint (pft_rate_limiter_get_mode (search), ==, PFT_LIMITER_MODE_SMOOTH);
  g_assert_cmpuint (pft_rate_limiter_get_burst (search), ==, 10);

  emb = pft_limiter_registry_lookup (f->registry, "embeddings", &error);
  g_assert_cmpuint (pft_rate_limiter_get_max_concurrent (emb), ==, 5);
  g_assert_cmpuint (pft_rate_limiter_get_max_per_window (emb), ==, 3000);
  g_assert_cmpuint (pft_rate_limiter_get_max_cost_per_window (emb), ==, 1000000);
  g_assert_cmpint (pft_rate_limiter_get_mode (emb), ==, PFT_LIMITER_MODE_SLIDING_WINDOW);

  /* An empty group is a limiter with the registry's defaults. */
  def = pft_limiter_registry_lookup (f->registry, "defaults", &error);
  g_assert_no_error (error);
  g_assert_cmpuint (pft_rate_limiter_get_max_concurrent (def), ==, 5);
  g_assert_cmpuint (pft_rate_limiter_get_max_per_window (def), ==, 0);
  g_assert_cmpfloat (pft_rate_limiter_get_window (def), ==, 60.0);
}

static void
count_notify (GObject    *object,
              GParamSpec *pspec,
              gpointer    user_data)
{
  (*(guint *) user_data)++;
}

static void
test_keyfile_reload_in_place (Fixture       *f,
                              gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PftRateLimiter) before = NULL;
  g_autoptr(PftRateLimiter) after = NULL;
  g_autoptr(PftPermit) permit = NULL;
  guint notifies = 0;

  g_assert_true (pft_limiter_registry_load_from_data (f->registry,
                   "[api]\nmax-concurrent = 2\nmax-per-window = 10\n"
                   "max-cost-per-window = 500\n", -1, &error));
  g_assert_no_error (error);
  before = pft_limiter_registry_lookup (f->registry, "api", NULL);
  permit = pft_rate_limiter_try_acquire (before, 1, &error);
  g_assert_no_error (error);
  g_signal_connect (before, "notify::max-concurrent", G_CALLBACK (count_notify), &notifies);

  g_assert_true (pft_limiter_registry_load_from_data (f->registry,
                   "[api]\nmax-concurrent = 9\nmax-per-window = 100\n"
                   "[new]\npreset = moderate\n", -1, &error));
  g_assert_no_error (error);

  after = pft_limiter_registry_lookup (f->registry, "api", NULL);
  g_assert_true (before == after);                 /* same object ... */
  g_assert_cmpuint (pft_rate_limiter_get_max_concurrent (after), ==, 9);  /* ... new limits */
  g_assert_cmpuint (pft_rate_limiter_get_max_per_window (after), ==, 100);
  /* A key left out takes its default again. */
  g_assert_cmpuint (pft_rate_limiter_get_max_cost_per_window (after), ==, 0);
  g_assert_cmpuint (notifies, ==, 1);
  /* History and in-flight permits are kept. */
  g_assert_cmpuint (pft_rate_limiter_get_in_flight (after), ==, 1);
  g_assert_cmpuint (pft_rate_limiter_get_window_count (after), ==, 1);
  g_assert_true (pft_limiter_registry_contains (f->registry, "new"));
}

typedef struct {
  const char *text;
  guint       line;
  const char *needles[4];
} BadFile;

static const BadFile bad_files[] = {
  { "[a]\nmax-concurrent = 2\n\n[b]\nmax-concurent = 3\n", 5,
    { "“b”", "max-concurent", "max-concurrent", NULL } },
  { "[a]\nmax-per-window = ten\n", 2, { "“a”", "max-per-window", "ten", NULL } },
  { "[a]\nmax-concurrent = -1\n", 2, { "max-concurrent", "-1", NULL } },
  { "[a]\nmax-concurrent = 0\n", 2, { "max-concurrent = 0", "out of range", NULL } },
  { "[a]\nmax-concurrent = 2x\n", 2, { "2x", NULL } },
  { "[a]\nwindow = 0\n", 2, { "window", "seconds", NULL } },
  { "[a]\nwindow = 1s\n", 2, { "window", "1s", NULL } },
  { "[a]\n# comment\n\npreset = openai_tier9\n", 4,
    { "preset", "openai_tier9", "openai_tier1", NULL } },
  { "[a]\nmax-concurrent = 1\n[b]\nmode = bursty\n", 4,
    { "“b”", "bursty", "sliding-window", "smooth" } },
  { "[a]\nthis line is wrong\n", 2, { "this line is wrong", NULL } },
  { "max-concurrent = 1\n[a]\n", 1, { "max-concurrent", NULL } },
  { "[a]\r\nmax-concurrent = 1\r\n[b]\r\nburst = many\r\n", 4, { "burst", "many", NULL } },
  /* Not UTF-8 (Latin-1, a stray byte): refused before any message quotes it. */
  { "[a]\nmax-concurrent = 2\nwindow = \xff\n", 3, { "UTF-8", NULL } },
  { "[caf\xe9]\nmax-concurrent = 1\n", 1, { "UTF-8", NULL } },
  { "[a]\n# r\xe9sum\xe9\nmax-concurrent = 1\n", 2, { "UTF-8", NULL } },
};

static void
test_keyfile_errors (Fixture       *f,
                     gconstpointer  data)
{
  for (gsize i = 0; i < G_N_ELEMENTS (bad_files); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *line = g_strdup_printf ("line %u:", bad_files[i].line);
      g_auto(GStrv) names = NULL;

      g_test_message ("case %" G_GSIZE_FORMAT, i);
      g_assert_false (pft_limiter_registry_load_from_data (f->registry, bad_files[i].text, -1, &error));
      g_assert_error (error, PFT_ERROR, PFT_ERROR_PARSE);
      g_assert_true (g_utf8_validate (error->message, -1, NULL));
      g_test_message ("%s", error->message);
      g_assert_nonnull (strstr (error->message, line));
      for (guint j = 0; j < G_N_ELEMENTS (bad_files[i].needles) && bad_files[i].needles[j]; j++)
        g_assert_nonnull (strstr (error->message, bad_files[i].needles[j]));

      /* Atomic: nothing registered. */
      names = pft_limiter_registry_dup_names (f->registry);
      g_assert_cmpuint (g_strv_length (names), ==, 0);
    }
}

/* A byte-order mark (some editors write one) is not part of line 1. */
static void
test_keyfile_bom (Fixture       *f,
                  gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PftRateLimiter) a = NULL;

  g_assert_true (pft_limiter_registry_load_from_data (f->registry,
                   "\xef\xbb\xbf[a]\nmax-concurrent = 2\n", -1, &error));
  g_assert_no_error (error);
  a = pft_limiter_registry_lookup (f->registry, "a", &error);
  g_assert_no_error (error);
  g_assert_cmpuint (pft_rate_limiter_get_max_concurrent (a), ==, 2);

  g_assert_false (pft_limiter_registry_load_from_data (f->registry,
                    "\xef\xbb\xbfoops\n", -1, &error));
  g_assert_error (error, PFT_ERROR, PFT_ERROR_PARSE);
  g_assert_nonnull (strstr (error->message, "line 1:"));
  g_assert_nonnull (strstr (error->message, "“oops”"));
}

static void
test_keyfile_atomic (Fixture       *f,
                     gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PftRateLimiter) a = NULL;
  g_auto(GStrv) names = NULL;

  a = pft_limiter_registry_get_or_create (f->registry, "a", 3, 0, 60.0);

  g_assert_false (pft_limiter_registry_load_from_data (f->registry,
                    "[a]\nmax-concurrent = 7\n"
                    "[b]\nmax-concurrent = 2\n"
                    "[c]\nwindow = soon\n", -1, &error));
  g_assert_error (error, PFT_ERROR, PFT_ERROR_PARSE);
  g_assert_nonnull (strstr (error->message, "line 6:"));

  g_assert_cmpuint (pft_rate_limiter_get_max_concurrent (a), ==, 3);
  names = pft_limiter_registry_dup_names (f->registry);
  g_assert_cmpstrv (names, ((const char *[]) { "a", NULL }));
}

static void
test_keyfile_parsed (Fixture       *f,
                     gconstpointer  data)
{
  g_autoptr(GKeyFile) kf = g_key_file_new ();
  g_autoptr(GError) error = NULL;

  g_assert_true (g_key_file_load_from_data (kf, "[ok]\nmax-concurrent=2\n[bad]\nmode=fast\n",
                                            -1, G_KEY_FILE_NONE, NULL));
  g_assert_false (pft_limiter_registry_load_keyfile (f->registry, kf, &error));
  g_assert_error (error, PFT_ERROR, PFT_ERROR_PARSE);
  /* No line numbers from a parsed key file: group and key instead. */
  g_assert_nonnull (strstr (error->message, "“bad”"));
  g_assert_nonnull (strstr (error->message, "“mode”"));
  g_assert_false (pft_limiter_registry_contains (f->registry, "ok"));

  g_clear_error (&error);
  g_key_file_set_string (kf, "bad", "mode", "sliding-window");
  g_assert_true (pft_limiter_registry_load_keyfile (f->registry, kf, &error));
  g_assert_no_error (error);
  g_assert_true (pft_limiter_registry_contains (f->registry, "ok"));
  g_assert_true (pft_limiter_registry_contains (f->registry, "bad"));
}

/* GKeyFile keeps the last value of a repeated key and merges a repeated
 * group: an error points at the line whose value was read. */
static const BadFile bad_lines[] = {
  { "[a]\nwindow = 1\nmax-concurrent = 2\nwindow = soon\n", 4, { "“window”", "soon", NULL } },
  { "[a]\nmax-concurrent = 2\n[b]\n[a]\nburst = x\n", 5, { "“a”", "“burst”", NULL } },
  { "[a]\nburst = 2\n[b]\nburst = x\n", 4, { "“b”", "“burst”", NULL } },
  { "# limits\r\n[a]\r\n\r\n[b\r\n", 4, { "[b", NULL } },
  { "[a]\n[]\n", 2, { NULL } },
};

static void
test_keyfile_error_lines (Fixture       *f,
                          gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PftRateLimiter) a = NULL;

  for (gsize i = 0; i < G_N_ELEMENTS (bad_lines); i++)
    {
      g_autofree char *line = g_strdup_printf ("line %u:", bad_lines[i].line);

      g_test_message ("case %" G_GSIZE_FORMAT, i);
      g_assert_false (pft_limiter_registry_load_from_data (f->registry, bad_lines[i].text, -1, &error));
      g_assert_error (error, PFT_ERROR, PFT_ERROR_PARSE);
      g_test_message ("%s", error->message);
      g_assert_true (g_str_has_prefix (error->message, line));
      for (guint j = 0; j < G_N_ELEMENTS (bad_lines[i].needles) && bad_lines[i].needles[j]; j++)
        g_assert_nonnull (strstr (error->message, bad_lines[i].needles[j]));
      g_clear_error (&error);
    }

  /* Spaces before the end of a line are not part of the value. */
  g_assert_true (pft_limiter_registry_load_from_data (f->registry, "[a]\nwindow = 1.5  \nburst = 3\t\n", -1, &error));
  g_assert_no_error (error);
  a = pft_limiter_registry_lookup (f->registry, "a", &error);
  g_assert_cmpfloat (pft_rate_limiter_get_window (a), ==, 1.5);
  g_assert_cmpuint (pft_rate_limiter_get_burst (a), ==, 3);
}

/* A GKeyFile built in memory is not checked for UTF-8 by GKeyFile: the
 * error still names the group, in a message that is UTF-8. */
static void
test_keyfile_parsed_not_utf8 (Fixture       *f,
                              gconstpointer  data)
{
  g_autoptr(GKeyFile) kf = g_key_file_new ();
  g_autoptr(GError) error = NULL;

  g_assert_true (g_key_file_load_from_data (kf, "[ok]\n[caf\xe9]\nmax-concurrent = 2\n",
                                            -1, G_KEY_FILE_NONE, NULL));
  g_assert_false (pft_limiter_registry_load_keyfile (f->registry, kf, &error));
  g_assert_error (error, PFT_ERROR, PFT_ERROR_PARSE);
  g_assert_true (g_utf8_validate (error->message, -1, NULL));
  g_assert_nonnull (strstr (error->message, "UTF-8"));
  g_assert_nonnull (strstr (error->message, "“caf"));
  g_assert_false (pft_limiter_registry_contains (f->registry, "ok"));
}

static void
test_load_file (Fixture       *f,
                gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("pft-registry-XXXXXX", &error);
  g_autofree char *good = g_build_filename (dir, "good.conf", NULL);
  g_autofree char *bad = g_build_filename (dir, "bad.conf", NULL);
  g_autofree char *missing = g_build_filename (dir, "missing.conf", NULL);
  g_autofree char *expected = NULL;

  g_assert_no_error (error);
  g_assert_true (g_file_set_contents (good, "[svc]\npreset = Scraping-Polite\n", -1, NULL));
  g_assert_true (g_file_set_contents (bad, "[svc]\n\n\nwindoww = 3\n", -1, NULL));

  g_assert_true (pft_limiter_registry_load_from_file (f->registry, good, &error));
  g_assert_no_error (error);
  {
    g_autoptr(PftRateLimiter) l = pft_limiter_registry_lookup (f->registry, "svc", NULL);
    g_assert_cmpuint (pft_rate_limiter_get_max_concurrent (l), ==, 2);
    g_assert_cmpuint (pft_rate_limiter_get_max_per_window (l), ==, 10);
  }

  g_assert_false (pft_limiter_registry_load_from_file (f->registry, bad, &error));
  g_assert_error (error, PFT_ERROR, PFT_ERROR_PARSE);
  expected = g_strdup_printf ("%s:4: ", bad);
  g_assert_true (g_str_has_prefix (error->message, expected));
  g_assert_nonnull (strstr (error->message, "windoww"));
  g_clear_error (&error);

  /* A Latin-1 file: the path and the line, in a message that is UTF-8. */
  g_free (expected);
  g_assert_true (g_file_set_contents (bad, "[svc]\nmax-concurrent = 2\n# \xe9t\xe9\n", -1, NULL));
  g_assert_false (pft_limiter_registry_load_from_file (f->registry, bad, &error));
  g_assert_error (error, PFT_ERROR, PFT_ERROR_PARSE);
  expected = g_strdup_printf ("%s:3: ", bad);
  g_assert_true (g_str_has_prefix (error->message, expected));
  g_assert_true (g_utf8_validate (error->message, -1, NULL));
  g_clear_error (&error);

  g_assert_false (pft_limiter_registry_load_from_file (f->registry, missing, &error));
  g_assert_error (error, G_FILE_ERROR, G_FILE_ERROR_NOENT);

  g_unlink (good);
  g_unlink (bad);
  g_rmdir (dir);
}

/* ------------------------------------------------------------------ */
/* Threads                                                              */

#define N_THREADS 8
#define N_ROUNDS  500

typedef struct {
  PftLimiterRegistry *registry;
  PftRateLimiter     *seen[N_ROUNDS];
} Racer;

static gpointer
racer_thread (gpointer user_data)
{
  Racer *r = user_data;

  for (int i = 0; i < N_ROUNDS; i++)
    {
      g_autofree char *name = g_strdup_printf ("n%d", i);
      PftRateLimiter *l = pft_limiter_registry_get_or_create (r->registry, name, 1, 0, 60.0);

      r->seen[i] = l;
      g_object_unref (l);    /* the registry keeps it alive */
      if (i % 50 == 0)
        {
          g_auto(GStrv) names = pft_limiter_registry_dup_names (r->registry);
          g_autoptr(GVariant) stats = pft_limiter_registry_get_stats (r->registry, name, NULL);
          g_assert_nonnull (stats);
        }
    }
  return NULL;
}

static void
test_threads (Fixture       *f,
              gconstpointer  data)
{
  Racer *racers = g_new0 (Racer, N_THREADS);
  GThread *threads[N_THREADS];
  g_auto(GStrv) names = NULL;

  for (int t = 0; t < N_THREADS; t++)
    {
      racers[t].registry = f->registry;
      threads[t] = g_thread_new ("racer", racer_thread, &racers[t]);
    }
  for (int t = 0; t < N_THREADS; t++)
    g_thread_join (threads[t]);

  /* Every thread got the same object for each name. */
  for (int i = 0; i < N_ROUNDS; i++)
    for (int t = 1; t < N_THREADS; t++)
      g_assert_true (racers[t].seen[i] == racers[0].seen[i]);

  names = pft_limiter_registry_dup_names (f->registry);
  g_assert_cmpuint (g_strv_length (names), ==, N_ROUNDS);
  drain ();
  g_assert_cmpuint (g_list_model_get_n_items (pft_limiter_registry_get_model (f->registry)), ==, N_ROUNDS);

  g_free (racers);
}

static gpointer
get_default_thread (gpointer user_data)
{
  return pft_limiter_registry_get_default ();
}

static void
test_default (void)
{
  GThread *threads[4];
  PftLimiterRegistry *def = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(PftRateLimiter) l = NULL;

  for (int t = 0; t < 4; t++)
    threads[t] = g_thread_new ("default", get_default_thread, NULL);
  for (int t = 0; t < 4; t++)
    {
      PftLimiterRegistry *r = g_thread_join (threads[t]);
      if (def == NULL)
        def = r;
      g_assert_true (r == def);
    }
  g_assert_true (pft_limiter_registry_get_default () == def);

  g_assert_nonnull (pft_limiter_registry_register_preset (def, "shared", "openai_tier1", &error));
  l = pft_limiter_registry_lookup (pft_limiter_registry_get_default (), "shared", &error);
  g_assert_no_error (error);
  g_assert_cmpuint (pft_rate_limiter_get_max_per_window (l), ==, 60);

  pft_limiter_registry_clear (def);
  drain ();
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, func) \
  g_test_add ("/pft/registry/" path, Fixture, NULL, fixture_set_up, func, fixture_tear_down)

  ADD ("register", test_register);
  ADD ("exists", test_exists);
  ADD ("replace", test_replace);
  ADD ("register-new", test_register_new);
  ADD ("register-preset", test_register_preset);
  ADD ("lookup-not-found", test_lookup_not_found);
  ADD ("get-or-create", test_get_or_create);
  ADD ("remove", test_remove);
  ADD ("clear", test_clear);
  ADD ("names", test_names);
  ADD ("stats", test_stats);
  ADD ("stats-live-only", test_stats_live_only);
  ADD ("stats-live-only-fake-clock", test_stats_live_only_fake_clock);
  ADD ("model", test_model);
  ADD ("model-in-dispatch", test_model_in_dispatch);
  ADD ("model-other-thread", test_model_other_thread);
  ADD ("keyfile", test_keyfile);
  ADD ("keyfile-reload-in-place", test_keyfile_reload_in_place);
  ADD ("keyfile-errors", test_keyfile_errors);
  ADD ("keyfile-bom", test_keyfile_bom);
  ADD ("keyfile-atomic", test_keyfile_atomic);
  ADD ("keyfile-parsed", test_keyfile_parsed);
  ADD ("keyfile-parsed-not-utf8", test_keyfile_parsed_not_utf8);
  ADD ("keyfile-error-lines", test_keyfile_error_lines);
  ADD ("load-file", test_load_file);
  ADD ("threads", test_threads);
  g_test_add_func ("/pft/registry/default", test_default);

#undef ADD

  return g_test_run ();
}
