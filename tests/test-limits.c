/* test-limits.c: bad numbers from every door
 *
 * The same values go through every way a number reaches a limiter: the
 * constructor, the setter, the GObject property, the key-file loader and
 * the registry (the Python suite does the same from Python). Each value
 * has one behaviour: accepted everywhere, or rejected everywhere, leaving
 * nothing changed and telling the caller in the door's own way: a GError
 * naming the key and the value (INVALID_ARGUMENT from the registry, PARSE
 * from a key file), a critical from a C call (a programmer error), a
 * warning from a property set.
 *
 * SPDX-License-Identifier: MIT
 */

#include <math.h>
#include <string.h>

#include <pft.h>

#include "pft-rate-limiter-private.h"

typedef struct
{
  const char *text;       /* as written in a key file */
  double      value;
  gboolean    accepted;
} WindowCase;

static const WindowCase window_cases[] = {
  { "0",                     0,                    FALSE },
  { "-1",                    -1,                   FALSE },
  { "nan",                   NAN,                  FALSE },
  { "inf",                   INFINITY,             FALSE },
  { "-inf",                  -INFINITY,            FALSE },
  { "1e-9",                  1e-9,                 FALSE },
  { "1e-7",                  1e-7,                 FALSE },
  { "1e300",                 1e300,                FALSE },
  { "18446744073709551615",  18446744073709551615.0, FALSE },
  { "0.000001",              1e-6,                 TRUE },
  { "60",                    60,                   TRUE },
  { "1e9",                   1e9,                  TRUE },
};

static void
expect_critical (const char *key)
{
  g_autofree char *pattern = g_strdup_printf ("*%s = *out of range*", key);

  g_test_expect_message ("Pft", G_LOG_LEVEL_CRITICAL, pattern);
}

static void
test_window_every_door (void)
{
  PftLimiterRegistry *registry = pft_limiter_registry_get_default ();

  for (guint i = 0; i < G_N_ELEMENTS (window_cases); i++)
    {
      const WindowCase *c = &window_cases[i];
      g_autoptr(PftRateLimiter) limiter = pft_rate_limiter_new (1, 1, 30);
      g_autoptr(PftRateLimiter) made = NULL;
      g_autoptr(PftRateLimiter) got = NULL;
      g_autoptr(GError) error = NULL;
      g_autofree char *file = g_strdup_printf ("[limits-test]\nwindow = %s\n", c->text);
      PftRateLimiter *registered;

      g_test_message ("window = %s", c->text);
      pft_limiter_registry_remove (registry, "limits-test");

      /* The constructor. */
      if (!c->accepted)
        expect_critical ("window");
      made = pft_rate_limiter_new (1, 1, c->value);
      g_test_assert_expected_messages ();
      g_assert_true ((made != NULL) == c->accepted);

      /* The setter. */
      if (!c->accepted)
        expect_critical ("window");
      pft_rate_limiter_set_window (limiter, c->value);
      g_test_assert_expected_messages ();
      g_assert_cmpfloat (pft_rate_limiter_get_window (limiter), ==, c->accepted ? c->value : 30);

      /* The property: GObject's range check, from the same bounds. */
      pft_rate_limiter_set_window (limiter, 30);
      if (!c->accepted)
        g_test_expect_message ("GLib-GObject", G_LOG_LEVEL_WARNING, "*out of range*window*");
      g_object_set (limiter, "window", c->value, NULL);
      g_test_assert_expected_messages ();
      g_assert_cmpfloat (pft_rate_limiter_get_window (limiter), ==, c->accepted ? c->value : 30);

      /* The key file. */
      g_assert_true (pft_limiter_registry_load_from_data (registry, file, -1, &error) == c->accepted);
      if (c->accepted)
        {
          g_assert_no_error (error);
          got = pft_limiter_registry_lookup (registry, "limits-test", &error);
          g_assert_no_error (error);
          g_assert_cmpfloat (pft_rate_limiter_get_window (got), ==, c->value);
          g_clear_object (&got);
          pft_limiter_registry_remove (registry, "limits-test");
        }
      else
        {
          g_assert_error (error, PFT_ERROR, PFT_ERROR_PARSE);
          g_assert_nonnull (strstr (error->message, "“window”"));
          g_assert_nonnull (strstr (error->message, "out of range"));
          g_assert_false (pft_limiter_registry_contains (registry, "limits-test"));
          g_clear_error (&error);
        }

      /* The registry: register_new reports, get_or_create is a C call. */
      registered = pft_limiter_registry_register_new (registry, "limits-test", 1, 1, c->value, &error);
      g_assert_true ((registered != NULL) == c->accepted);
      if (c->accepted)
        pft_limiter_registry_remove (registry, "limits-test");
      else
        {
          g_assert_error (error, PFT_ERROR, PFT_ERROR_INVALID_ARGUMENT);
          g_assert_nonnull (strstr (error->message, "window = "));
          g_assert_false (pft_limiter_registry_contains (registry, "limits-test"));
          g_clear_error (&error);
        }

      if (!c->accepted)
        expect_critical ("window");
      got = pft_limiter_registry_get_or_create (registry, "limits-test", 1, 1, c->value);
      g_test_assert_expected_messages ();
      g_assert_true ((got != NULL) == c->accepted);
      g_assert_true (pft_limiter_registry_contains (registry, "limits-test") == c->accepted);
      pft_limiter_registry_remove (registry, "limits-test");
    }
}

/* Whole numbers: 0, negative, 2^32 (one past a guint), 2^64 - 1 and
 * more, per key. What C cannot express (a negative guint) goes through
 * the doors that can (a key file). */
typedef struct
{
  const char *key;
  const char *text;
  guint64     value;        /* when representable in the key's C type */
  gboolean    representable;
  gboolean    accepted;
} UintCase;

static const UintCase uint_cases[] = {
  { "max-concurrent",      "0",                    0,           TRUE,  FALSE },
  { "max-concurrent",      "-1",                   0,           FALSE, FALSE },
  { "max-concurrent",      "4294967296",           0,           FALSE, FALSE },
  { "max-concurrent",      "18446744073709551615", 0,           FALSE, FALSE },
  { "max-concurrent",      "4294967295",           G_MAXUINT,   TRUE,  TRUE },
  { "burst",               "0",                    0,           TRUE,  FALSE },
  { "burst",               "-1",                   0,           FALSE, FALSE },
  { "burst",               "4294967296",           0,           FALSE, FALSE },
  { "burst",               "4294967295",           G_MAXUINT,   TRUE,  TRUE },
  { "max-per-window",      "0",                    0,           TRUE,  TRUE },
  { "max-per-window",      "-1",                   0,           FALSE, FALSE },
  { "max-per-window",      "18446744073709551615", 0,           FALSE, FALSE },
  { "max-cost-per-window", "0",                    0,           TRUE,  TRUE },
  { "max-cost-per-window", "-1",                   0,           FALSE, FALSE },
  { "max-cost-per-window", "18446744073709551615", G_MAXUINT64, TRUE,  TRUE },
  { "max-cost-per-window", "18446744073709551616", 0,           FALSE, FALSE },
};

static guint64
get_uint (PftRateLimiter *limiter,
          const char     *key)
{
  GValue v = G_VALUE_INIT;
  GParamSpec *pspec = g_object_class_find_property (G_OBJECT_GET_CLASS (limiter), key);
  guint64 ret;

  g_value_init (&v, pspec->value_type);
  g_object_get_property (G_OBJECT (limiter), key, &v);
  ret = G_VALUE_HOLDS_UINT (&v) ? g_value_get_uint (&v) : g_value_get_uint64 (&v);
  g_value_unset (&v);
  return ret;
}

static void
set_with_setter (PftRateLimiter *limiter,
                 const char     *key,
                 guint64         value)
{
  if (g_str_equal (key, "max-concurrent"))
    pft_rate_limiter_set_max_concurrent (limiter, (guint) value);
  else if (g_str_equal (key, "burst"))
    pft_rate_limiter_set_burst (limiter, (guint) value);
  else if (g_str_equal (key, "max-per-window"))
    pft_rate_limiter_set_max_per_window (limiter, (guint) value);
  else
    pft_rate_limiter_set_max_cost_per_window (limiter, value);
}

static void
test_whole_numbers_every_door (void)
{
  PftLimiterRegistry *registry = pft_limiter_registry_get_default ();

  for (guint i = 0; i < G_N_ELEMENTS (uint_cases); i++)
    {
      const UintCase *c = &uint_cases[i];
      g_autoptr(PftRateLimiter) limiter = pft_rate_limiter_new (3, 3, 30);
      g_autoptr(GError) error = NULL;
      g_autofree char *file = g_strdup_printf ("[limits-test]\n%s = %s\n", c->key, c->text);
      guint64 before = get_uint (limiter, c->key);

      g_test_message ("%s = %s", c->key, c->text);
      pft_limiter_registry_remove (registry, "limits-test");

      if (c->representable)
        {
          GParamSpec *pspec = g_object_class_find_property (G_OBJECT_GET_CLASS (limiter), c->key);
          GValue v = G_VALUE_INIT;

          /* The setter. */
          if (!c->accepted)
            expect_critical (c->key);
          set_with_setter (limiter, c->key, c->value);
          g_test_assert_expected_messages ();
          g_assert_cmpuint (get_uint (limiter, c->key), ==, c->accepted ? c->value : before);

          /* The property. */
          set_with_setter (limiter, c->key, before);
          g_value_init (&v, pspec->value_type);
          if (G_VALUE_HOLDS_UINT (&v))
            g_value_set_uint (&v, (guint) c->value);
          else
            g_value_set_uint64 (&v, c->value);
          if (!c->accepted)
            g_test_expect_message ("GLib-GObject", G_LOG_LEVEL_WARNING, "*out of range*");
          g_object_set_property (G_OBJECT (limiter), c->key, &v);
          g_test_assert_expected_messages ();
          g_value_unset (&v);
          g_assert_cmpuint (get_uint (limiter, c->key), ==, c->accepted ? c->value : before);

          /* The constructor and the registry, for the limit they take. */
          if (g_str_equal (c->key, "max-concurrent"))
            {
              g_autoptr(PftRateLimiter) made = NULL;
              PftRateLimiter *registered;

              if (!c->accepted)
                expect_critical (c->key);
              made = pft_rate_limiter_new ((guint) c->value, 1, 1);
              g_test_assert_expected_messages ();
              g_assert_true ((made != NULL) == c->accepted);

              registered = pft_limiter_registry_register_new (registry, "limits-test", (guint) c->value,
                                                              1, 1, &error);
              g_assert_true ((registered != NULL) == c->accepted);
              if (!c->accepted)
                {
                  g_assert_error (error, PFT_ERROR, PFT_ERROR_INVALID_ARGUMENT);
                  g_assert_nonnull (strstr (error->message, "max-concurrent = 0"));
                  g_clear_error (&error);
                }
              pft_limiter_registry_remove (registry, "limits-test");
            }
        }

      /* The key file. */
      g_assert_true (pft_limiter_registry_load_from_data (registry, file, -1, &error) == c->accepted);
      if (c->accepted)
        {
          g_autoptr(PftRateLimiter) got = pft_limiter_registry_lookup (registry, "limits-test", &error);

          g_assert_no_error (error);
          g_assert_cmpuint (get_uint (got, c->key), ==, c->value);
        }
      else
        {
          g_autofree char *key = g_strdup_printf ("“%s”", c->key);

          g_assert_error (error, PFT_ERROR, PFT_ERROR_PARSE);
          g_assert_nonnull (strstr (error->message, key));
          g_assert_nonnull (strstr (error->message, c->text));
          g_assert_false (pft_limiter_registry_contains (registry, "limits-test"));
        }
      pft_limiter_registry_remove (registry, "limits-test");
    }
}

/* A registry name must be valid UTF-8 wherever it comes from: it is shown
 * as a string (statistics, the model, logs). */
static void
test_names_are_utf8 (void)
{
  PftLimiterRegistry *registry = pft_limiter_registry_get_default ();
  const char *bad = "caf\xe9";
  g_autoptr(GError) error = NULL;
  g_autoptr(PftRateLimiter) limiter = pft_rate_limiter_new (1, 0, 1);
  g_autoptr(GVariant) stats = NULL;
  g_autofree char *file = g_strdup_printf ("[%s]\nmax-concurrent = 2\n", bad);

  g_assert_false (pft_limiter_registry_load_from_data (registry, file, -1, &error));
  g_assert_error (error, PFT_ERROR, PFT_ERROR_PARSE);
  g_assert_nonnull (strstr (error->message, "UTF-8"));
  g_clear_error (&error);
  g_assert_false (pft_limiter_registry_contains (registry, bad));

  g_assert_null (pft_limiter_registry_register_new (registry, bad, 1, 0, 1, &error));
  g_assert_error (error, PFT_ERROR, PFT_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_false (pft_limiter_registry_register (registry, bad, limiter, FALSE, &error));
  g_assert_error (error, PFT_ERROR, PFT_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_test_expect_message ("Pft", G_LOG_LEVEL_CRITICAL, "*UTF-8*");
  g_assert_null (pft_limiter_registry_get_or_create (registry, bad, 1, 0, 1));
  g_test_assert_expected_messages ();
  g_assert_false (pft_limiter_registry_contains (registry, bad));

  /* Nothing broken is left for the statistics to trip on. */
  stats = pft_limiter_registry_get_all_stats (registry);
  g_assert_nonnull (stats);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/limits/window-every-door", test_window_every_door);
  g_test_add_func ("/limits/whole-numbers-every-door", test_whole_numbers_every_door);
  g_test_add_func ("/limits/names-are-utf8", test_names_are_utf8);

  return g_test_run ();
}
