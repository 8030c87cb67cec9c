/* test-presets.c: the built-in presets
 *
 * SPDX-License-Identifier: MIT
 */

#include <pft.h>

typedef struct {
  const char    *name;
  PftPresetKind  kind;
  guint          max_concurrent;
  guint          max_per_minute;
} Expected;

/* The numbers of pocketflow-throttled's presets.py, written out again here
 * so that an accidental edit of the library's table shows up. */
static const Expected expected[] = {
  { "openai_free",           PFT_PRESET_KIND_NODE,   3,     3 },
  { "openai_tier1",          PFT_PRESET_KIND_NODE,   5,    60 },
  { "openai_tier2",          PFT_PRESET_KIND_NODE,  10,   500 },
  { "openai_tier3",          PFT_PRESET_KIND_NODE,  15,  5000 },
  { "openai_tier4",          PFT_PRESET_KIND_NODE,  20, 10000 },
  { "openai_tier5",          PFT_PRESET_KIND_NODE,  30, 30000 },
  { "anthropic_free",        PFT_PRESET_KIND_NODE,   2,     5 },
  { "anthropic_build_tier1", PFT_PRESET_KIND_NODE,   5,    50 },
  { "anthropic_build_tier2", PFT_PRESET_KIND_NODE,  10,  1000 },
  { "anthropic_build_tier3", PFT_PRESET_KIND_NODE,  15,  2000 },
  { "anthropic_build_tier4", PFT_PRESET_KIND_NODE,  20,  4000 },
  { "anthropic_standard",    PFT_PRESET_KIND_NODE,   5,    50 },
  { "anthropic_scale",       PFT_PRESET_KIND_NODE,  15,  2000 },
  { "google_free",           PFT_PRESET_KIND_NODE,   2,    15 },
  { "google_pay_as_you_go",  PFT_PRESET_KIND_NODE,  10,  1000 },
  { "cohere_trial",          PFT_PRESET_KIND_NODE,   2,    20 },
  { "cohere_production",     PFT_PRESET_KIND_NODE,  10, 10000 },
  { "huggingface_free",      PFT_PRESET_KIND_NODE,   1,    30 },
  { "huggingface_pro",       PFT_PRESET_KIND_NODE,   5,  1000 },
  { "mistral_free",          PFT_PRESET_KIND_NODE,   2,    30 },
  { "mistral_standard",      PFT_PRESET_KIND_NODE,  10,   500 },
  { "conservative",          PFT_PRESET_KIND_NODE,   2,    20 },
  { "moderate",              PFT_PRESET_KIND_NODE,   5,    60 },
  { "aggressive",            PFT_PRESET_KIND_NODE,  10,   200 },
  { "unlimited_concurrent",  PFT_PRESET_KIND_NODE,  50,     0 },
  { "scraping_polite",       PFT_PRESET_KIND_NODE,   2,    10 },
  { "scraping_moderate",     PFT_PRESET_KIND_NODE,   5,    30 },
  { "scraping_aggressive",   PFT_PRESET_KIND_NODE,  10,    60 },
  { "flow_conservative",     PFT_PRESET_KIND_FLOW,   3,    30 },
  { "flow_moderate",         PFT_PRESET_KIND_FLOW,  10,    60 },
  { "flow_aggressive",       PFT_PRESET_KIND_FLOW,  25,   200 },
  { "flow_high_throughput",  PFT_PRESET_KIND_FLOW,  50,   500 },
  { "flow_unlimited",        PFT_PRESET_KIND_FLOW, 100,     0 },
  { "flow_batch_processing", PFT_PRESET_KIND_FLOW,  10,   100 },
  { "flow_data_pipeline",    PFT_PRESET_KIND_FLOW,  20,   200 },
  { "flow_realtime",         PFT_PRESET_KIND_FLOW,   5,     0 },
  { "flow_heavy_processing", PFT_PRESET_KIND_FLOW,   5,    20 },
  { "flow_adaptive_conservative", PFT_PRESET_KIND_ADAPTIVE_FLOW, 15, 0 },
  { "flow_adaptive_moderate",     PFT_PRESET_KIND_ADAPTIVE_FLOW, 30, 0 },
  { "flow_adaptive_aggressive",   PFT_PRESET_KIND_ADAPTIVE_FLOW, 50, 0 },
};

static void
test_table (void)
{
  g_auto(GStrv) names = pft_presets_list ();

  g_assert_cmpuint (g_strv_length (names), ==, G_N_ELEMENTS (expected));

  for (gsize i = 0; i < G_N_ELEMENTS (expected); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(PftPreset) p = pft_presets_lookup (expected[i].name, &error);

      g_test_message ("%s", expected[i].name);
      g_assert_no_error (error);
      g_assert_nonnull (p);
      g_assert_cmpstr (names[i], ==, expected[i].name);
      g_assert_cmpstr (pft_preset_get_name (p), ==, expected[i].name);
      g_assert_cmpint (pft_preset_get_kind (p), ==, expected[i].kind);
      g_assert_cmpuint (pft_preset_get_max_concurrent (p), ==, expected[i].max_concurrent);
      g_assert_cmpuint (pft_preset_get_max_per_minute (p), ==, expected[i].max_per_minute);
      g_assert_nonnull (pft_preset_get_description (p));
      g_assert_cmpstr (pft_preset_get_description (p), !=, "");
      g_assert_cmpuint (pft_preset_get_min_concurrent (p), >=, 1);
      g_assert_cmpuint (pft_preset_get_min_concurrent (p), <=,
                        pft_preset_get_initial_concurrent (p));
      g_assert_cmpuint (pft_preset_get_initial_concurrent (p), <=,
                        pft_preset_get_max_concurrent (p));
    }
}

static void
test_descriptions (void)
{
  g_autoptr(PftPreset) tier1 = pft_presets_lookup ("openai_tier1", NULL);
  g_autoptr(PftPreset) build2 = pft_presets_lookup ("anthropic_build_tier2", NULL);
  g_autoptr(PftPreset) google = pft_presets_lookup ("google_pay_as_you_go", NULL);
  g_autofree char *desc = NULL;

  g_assert_cmpstr (pft_preset_get_description (tier1), ==, "OpenAI Tier 1");
  g_assert_cmpstr (pft_preset_get_description (build2), ==, "Anthropic Build Tier 2");
  g_assert_cmpstr (pft_preset_get_description (google), ==, "Google AI Pay-as-you-go");

  g_object_get (tier1, "description", &desc, NULL);
  g_assert_cmpstr (desc, ==, "OpenAI Tier 1");
}

static void
test_adaptive_values (void)
{
  g_autoptr(PftPreset) c = pft_presets_lookup ("flow_adaptive_conservative", NULL);
  g_autoptr(PftPreset) m = pft_presets_lookup ("flow_adaptive_moderate", NULL);
  g_autoptr(PftPreset) a = pft_presets_lookup ("flow_adaptive_aggressive", NULL);
  g_autoptr(PftPreset) node = pft_presets_lookup ("openai_tier2", NULL);

  g_assert_cmpuint (pft_preset_get_initial_concurrent (c), ==, 5);
  g_assert_cmpuint (pft_preset_get_min_concurrent (c), ==, 2);
  g_assert_cmpuint (pft_preset_get_max_concurrent (c), ==, 15);
  g_assert_cmpfloat (pft_preset_get_backoff_factor (c), ==, 0.5);
  g_assert_cmpuint (pft_preset_get_recovery_threshold (c), ==, 20);
  g_assert_cmpfloat (pft_preset_get_recovery_factor (c), ==, 1.2);

  g_assert_cmpuint (pft_preset_get_initial_concurrent (m), ==, 10);
  g_assert_cmpuint (pft_preset_get_min_concurrent (m), ==, 3);
  g_assert_cmpuint (pft_preset_get_max_concurrent (m), ==, 30);
  g_assert_cmpfloat (pft_preset_get_backoff_factor (m), ==, 0.5);
  g_assert_cmpuint (pft_preset_get_recovery_threshold (m), ==, 15);
  g_assert_cmpfloat (pft_preset_get_recovery_factor (m), ==, 1.3);

  g_assert_cmpuint (pft_preset_get_initial_concurrent (a), ==, 20);
  g_assert_cmpuint (pft_preset_get_min_concurrent (a), ==, 5);
  g_assert_cmpuint (pft_preset_get_max_concurrent (a), ==, 50);
  g_assert_cmpfloat (pft_preset_get_backoff_factor (a), ==, 0.6);
  g_assert_cmpuint (pft_preset_get_recovery_threshold (a), ==, 10);
  g_assert_cmpfloat (pft_preset_get_recovery_factor (a), ==, 1.4);

  /* Non-adaptive presets: start at their maximum, pocketflow-throttled's
   * adaptive defaults otherwise. */
  g_assert_cmpuint (pft_preset_get_initial_concurrent (node), ==, 10);
  g_assert_cmpuint (pft_preset_get_min_concurrent (node), ==, 1);
  g_assert_cmpfloat (pft_preset_get_backoff_factor (node), ==, 0.5);
  g_assert_cmpuint (pft_preset_get_recovery_threshold (node), ==, 10);
  g_assert_cmpfloat (pft_preset_get_recovery_factor (node), ==, 1.2);
}

static void
test_case_insensitive (void)
{
  const char *spellings[] = {
    "openai_tier1", "OPENAI_TIER1", "OpenAI_Tier1", "openai-tier1",
    "OPENAI-TIER1", " openai_tier1 ",
  };

  for (gsize i = 0; i < G_N_ELEMENTS (spellings); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(PftPreset) p = pft_presets_lookup (spellings[i], &error);

      g_assert_no_error (error);
      g_assert_cmpstr (pft_preset_get_name (p), ==, "openai_tier1");
      g_assert_cmpuint (pft_preset_get_max_concurrent (p), ==, 5);
      g_assert_cmpuint (pft_preset_get_max_per_minute (p), ==, 60);
    }
}

static void
test_aliases (void)
{
  g_autoptr(PftPreset) standard = pft_presets_lookup ("ANTHROPIC_STANDARD", NULL);
  g_autoptr(PftPreset) scale = pft_presets_lookup ("anthropic_scale", NULL);
  g_autoptr(PftPreset) tier2 = pft_presets_lookup ("anthropic_tier2", NULL);
  g_autoptr(PftPreset) paid = pft_presets_lookup ("google_paid", NULL);

  g_assert_cmpuint (pft_preset_get_max_concurrent (standard), ==, 5);
  g_assert_cmpuint (pft_preset_get_max_per_minute (standard), ==, 50);
  g_assert_cmpuint (pft_preset_get_max_concurrent (scale), ==, 15);
  g_assert_cmpuint (pft_preset_get_max_per_minute (scale), ==, 2000);

  /* pocketflow-throttled's CONFIGS keys resolve to the canonical preset. */
  g_assert_cmpstr (pft_preset_get_name (tier2), ==, "anthropic_build_tier2");
  g_assert_cmpstr (pft_preset_get_name (paid), ==, "google_pay_as_you_go");
}

static void
test_unknown (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PftPreset) p = pft_presets_lookup ("openai_tier9", &error);

  g_assert_null (p);
  g_assert_error (error, PFT_ERROR, PFT_ERROR_NOT_FOUND);
  g_assert_nonnull (strstr (error->message, "openai_tier9"));
  /* The message lists every valid name. */
  {
    g_auto(GStrv) names = pft_presets_list ();
    for (guint i = 0; names[i] != NULL; i++)
      g_assert_nonnull (strstr (error->message, names[i]));
  }

  g_clear_error (&error);
  g_assert_null (pft_presets_lookup ("", &error));
  g_assert_error (error, PFT_ERROR, PFT_ERROR_NOT_FOUND);
}

static void
test_new_limiter (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PftRateLimiter) l = pft_rate_limiter_new_for_preset ("OPENAI_TIER1", &error);
  g_autoptr(PftRateLimiter) u = pft_rate_limiter_new_for_preset ("unlimited_concurrent", &error);
  g_autoptr(PftRateLimiter) a = pft_rate_limiter_new_for_preset ("flow_adaptive_moderate", &error);

  g_assert_no_error (error);
  g_assert_cmpuint (pft_rate_limiter_get_max_concurrent (l), ==, 5);
  g_assert_cmpuint (pft_rate_limiter_get_max_per_window (l), ==, 60);
  g_assert_cmpfloat (pft_rate_limiter_get_window (l), ==, 60.0);

  g_assert_cmpuint (pft_rate_limiter_get_max_concurrent (u), ==, 50);
  g_assert_cmpuint (pft_rate_limiter_get_max_per_window (u), ==, 0);

  /* An adaptive preset's limiter starts at the initial concurrency. */
  g_assert_cmpuint (pft_rate_limiter_get_max_concurrent (a), ==, 10);
}

static void
test_new_limiter_unknown (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PftRateLimiter) l = pft_rate_limiter_new_for_preset ("nope", &error);

  g_assert_null (l);
  g_assert_error (error, PFT_ERROR, PFT_ERROR_NOT_FOUND);
  g_assert_nonnull (strstr (error->message, "nope"));
}

static void
count_notify (GObject    *object,
              GParamSpec *pspec,
              gpointer    user_data)
{
  (*(guint *) user_data)++;
}

static void
test_apply (void)
{
  g_autoptr(PftRateLimiter) l = pft_rate_limiter_new (1, 0, 5.0);
  g_autoptr(PftPreset) p = pft_presets_lookup ("scraping_moderate", NULL);
  guint notifies = 0;

  pft_rate_limiter_set_max_cost_per_window (l, 1000);
  g_signal_connect (l, "notify::max-concurrent", G_CALLBACK (count_notify), &notifies);

  pft_preset_apply_to_limiter (p, l);

  g_assert_cmpuint (pft_rate_limiter_get_max_concurrent (l), ==, 5);
  g_assert_cmpuint (pft_rate_limiter_get_max_per_window (l), ==, 30);
  g_assert_cmpfloat (pft_rate_limiter_get_window (l), ==, 60.0);
  /* Limits the preset does not describe are left alone. */
  g_assert_cmpuint (pft_rate_limiter_get_max_cost_per_window (l), ==, 1000);
  g_assert_cmpuint (notifies, ==, 1);
}

static void
test_custom (void)
{
  g_autoptr(PftPreset) p = g_object_new (PFT_TYPE_PRESET,
                                         "name", "internal_api",
                                         "description", "Our own API",
                                         "max-concurrent", 7,
                                         "max-per-minute", 70,
                                         NULL);
  g_autoptr(PftRateLimiter) l = pft_preset_new_limiter (p);

  g_assert_cmpint (pft_preset_get_kind (p), ==, PFT_PRESET_KIND_NODE);
  g_assert_cmpuint (pft_preset_get_initial_concurrent (p), ==, 7);
  g_assert_cmpuint (pft_preset_get_min_concurrent (p), ==, 1);
  g_assert_cmpuint (pft_rate_limiter_get_max_concurrent (l), ==, 7);
  g_assert_cmpuint (pft_rate_limiter_get_max_per_window (l), ==, 70);
}

static void
test_kind_enum (void)
{
  g_autoptr(GEnumClass) klass = g_type_class_ref (PFT_TYPE_PRESET_KIND);

  g_assert_cmpstr (g_enum_get_value (klass, PFT_PRESET_KIND_FLOW)->value_nick, ==, "flow");
  g_assert_cmpstr (g_enum_get_value (klass, PFT_PRESET_KIND_ADAPTIVE_FLOW)->value_nick,
                   ==, "adaptive-flow");
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/pft/presets/table", test_table);
  g_test_add_func ("/pft/presets/descriptions", test_descriptions);
  g_test_add_func ("/pft/presets/adaptive-values", test_adaptive_values);
  g_test_add_func ("/pft/presets/case-insensitive", test_case_insensitive);
  g_test_add_func ("/pft/presets/aliases", test_aliases);
  g_test_add_func ("/pft/presets/unknown", test_unknown);
  g_test_add_func ("/pft/presets/new-limiter", test_new_limiter);
  g_test_add_func ("/pft/presets/new-limiter-unknown", test_new_limiter_unknown);
  g_test_add_func ("/pft/presets/apply", test_apply);
  g_test_add_func ("/pft/presets/custom", test_custom);
  g_test_add_func ("/pft/presets/kind-enum", test_kind_enum);

  return g_test_run ();
}
