/* pft-presets.c: named rate-limit settings for popular providers
 *
 * SPDX-License-Identifier: MIT
 */

#include <glib/gi18n-lib.h>

#include "pft.h"
#include "pft-private.h"

/**
 * PftPreset:
 *
 * A named, immutable set of limits: how many calls may run at once
 * ([property@Pft.Preset:max-concurrent]) and how many may start per minute
 * ([property@Pft.Preset:max-per-minute], 0 for no limit), with a
 * human-readable description.
 *
 * The built-in presets are those of the Python original (pocketflow-throttled,
 * `presets.py`): OpenAI, Anthropic, Google, Cohere, Hugging Face, Mistral,
 * generic, web-scraping and flow presets. Look one up by name with
 * [func@Pft.presets_lookup], list them with [func@Pft.presets_list], and turn
 * one into a limiter with [ctor@Pft.RateLimiter.new_for_preset],
 * [method@Pft.Preset.new_limiter] or
 * [method@Pft.LimiterRegistry.register_preset].
 *
 * Provider limits change over time and vary by account and model: these are
 * starting points; check your own limits.
 *
 * All properties are construct-only, so a program can also describe its own
 * preset with `g_object_new (PFT_TYPE_PRESET, "name", ..., NULL)`.
 *
 * Since: 0.1
 */

/* The window every preset's per-minute figure refers to, in seconds. */
#define PRESET_WINDOW 60.0

/* Defaults of the original's adaptive node, used for the adaptive
 * properties of presets that are not adaptive-flow presets. */
#define DEFAULT_MIN_CONCURRENT      1
#define DEFAULT_BACKOFF_FACTOR      0.5
#define DEFAULT_RECOVERY_THRESHOLD  10
#define DEFAULT_RECOVERY_FACTOR     1.2

typedef struct {
  const char    *name;
  const char    *description;   /* N_(): translated when a preset is built */
  PftPresetKind  kind;
  guint          max_concurrent;
  guint          max_per_minute; /* 0 = no limit (the original's None) */
  /* Adaptive flow presets only (0 elsewhere: derived from the above). */
  guint          initial_concurrent;
  guint          min_concurrent;
  double         backoff_factor;
  guint          recovery_threshold;
  double         recovery_factor;
} PresetEntry;

#define NODE(n, d, c, m) { n, d, PFT_PRESET_KIND_NODE, c, m, 0, 0, 0, 0, 0 }
#define FLOW(n, d, c, m) { n, d, PFT_PRESET_KIND_FLOW, c, m, 0, 0, 0, 0, 0 }
#define ADAPTIVE(n, d, init, min, max, bf, rt, rf) \
  { n, d, PFT_PRESET_KIND_ADAPTIVE_FLOW, max, 0, init, min, bf, rt, rf }

/* The numbers follow the Python original's presets module
 * (pocketflow_throttled/presets.py: Presets, FlowPresets), so that a program
 * ported from it keeps its limits. Names are the Python attribute names in
 * lower case; flow presets carry a "flow_" prefix because the original
 * keeps them in a separate class whose names (CONSERVATIVE, ...) clash
 * with the node presets. The descriptions are the original's where it has
 * one (its CONFIGS), written in the same style where it has none. */
static const PresetEntry presets[] = {
  /* OpenAI (as of 2024) */
  NODE ("openai_free",           N_("OpenAI Free Tier"),                 3,     3),
  NODE ("openai_tier1",          N_("OpenAI Tier 1"),                    5,    60),
  NODE ("openai_tier2",          N_("OpenAI Tier 2"),                   10,   500),
  NODE ("openai_tier3",          N_("OpenAI Tier 3"),                   15,  5000),
  NODE ("openai_tier4",          N_("OpenAI Tier 4"),                   20, 10000),
  NODE ("openai_tier5",          N_("OpenAI Tier 5"),                   30, 30000),
  /* Anthropic */
  NODE ("anthropic_free",        N_("Anthropic Free Tier"),              2,     5),
  NODE ("anthropic_build_tier1", N_("Anthropic Build Tier 1"),           5,    50),
  NODE ("anthropic_build_tier2", N_("Anthropic Build Tier 2"),          10,  1000),
  NODE ("anthropic_build_tier3", N_("Anthropic Build Tier 3"),          15,  2000),
  NODE ("anthropic_build_tier4", N_("Anthropic Build Tier 4"),          20,  4000),
  NODE ("anthropic_standard",    N_("Anthropic Standard (same as Build Tier 1)"), 5, 50),
  NODE ("anthropic_scale",       N_("Anthropic Scale (same as Build Tier 3)"),   15, 2000),
  /* Google AI (Gemini) */
  NODE ("google_free",           N_("Google AI Free"),                   2,    15),
  NODE ("google_pay_as_you_go",  N_("Google AI Pay-as-you-go"),         10,  1000),
  /* Cohere */
  NODE ("cohere_trial",          N_("Cohere Trial"),                     2,    20),
  NODE ("cohere_production",     N_("Cohere Production"),               10, 10000),
  /* Hugging Face Inference API */
  NODE ("huggingface_free",      N_("Hugging Face Free"),                1,    30),
  NODE ("huggingface_pro",       N_("Hugging Face Pro"),                 5,  1000),
  /* Mistral AI */
  NODE ("mistral_free",          N_("Mistral AI Free"),                  2,    30),
  NODE ("mistral_standard",      N_("Mistral AI Standard"),             10,   500),
  /* Generic, when the exact limits are unknown */
  NODE ("conservative",          N_("Conservative - safe default"),      2,    20),
  NODE ("moderate",              N_("Moderate - balanced"),              5,    60),
  NODE ("aggressive",            N_("Aggressive - high throughput"),    10,   200),
  NODE ("unlimited_concurrent",  N_("50 at once, no rate limit"),       50,     0),
  /* Web scraping (be respectful to servers) */
  NODE ("scraping_polite",       N_("Web scraping - polite"),            2,    10),
  NODE ("scraping_moderate",     N_("Web scraping - moderate"),          5,    30),
  NODE ("scraping_aggressive",   N_("Web scraping - aggressive"),       10,    60),
  /* Flows: max-concurrent = max_concurrent_flows,
   * max-per-minute = max_flows_per_minute */
  FLOW ("flow_conservative",     N_("Conservative - safe default"),      3,    30),
  FLOW ("flow_moderate",         N_("Moderate - balanced"),             10,    60),
  FLOW ("flow_aggressive",       N_("Aggressive - high throughput"),    25,   200),
  FLOW ("flow_high_throughput",  N_("High throughput - for fast APIs"), 50,   500),
  FLOW ("flow_unlimited",        N_("100 flows at once, no rate limit"), 100,   0),
  FLOW ("flow_batch_processing", N_("Batch processing workloads"),      10,   100),
  FLOW ("flow_data_pipeline",    N_("Data pipeline processing"),        20,   200),
  FLOW ("flow_realtime",         N_("Real-time low latency"),            5,     0),
  FLOW ("flow_heavy_processing", N_("Heavy API usage per flow"),         5,    20),
  /* Adaptive flows: initial, min, max concurrent flows, backoff factor,
   * recovery threshold, recovery factor */
  ADAPTIVE ("flow_adaptive_conservative", N_("Adaptive flows - conservative"),
            5, 2, 15, 0.5, 20, 1.2),
  ADAPTIVE ("flow_adaptive_moderate",     N_("Adaptive flows - moderate"),
            10, 3, 30, 0.5, 15, 1.3),
  ADAPTIVE ("flow_adaptive_aggressive",   N_("Adaptive flows - aggressive"),
            20, 5, 50, 0.6, 10, 1.4),
};

/* Other names the original accepts for the same presets (the keys of its
 * Presets.CONFIGS), found by lookup but not listed. */
static const struct {
  const char *alias;
  const char *name;
} preset_aliases[] = {
  { "anthropic_tier1", "anthropic_build_tier1" },
  { "anthropic_tier2", "anthropic_build_tier2" },
  { "anthropic_tier3", "anthropic_build_tier3" },
  { "anthropic_tier4", "anthropic_build_tier4" },
  { "google_paid",     "google_pay_as_you_go" },
};

struct _PftPreset
{
  GObject        parent_instance;

  char          *name;
  char          *description;
  PftPresetKind  kind;
  guint          max_concurrent;
  guint          max_per_minute;
  guint          initial_concurrent;
  guint          min_concurrent;
  double         backoff_factor;
  guint          recovery_threshold;
  double         recovery_factor;
};

G_DEFINE_FINAL_TYPE (PftPreset, pft_preset, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_NAME,
  PROP_DESCRIPTION,
  PROP_KIND,
  PROP_MAX_CONCURRENT,
  PROP_MAX_PER_MINUTE,
  PROP_INITIAL_CONCURRENT,
  PROP_MIN_CONCURRENT,
  PROP_BACKOFF_FACTOR,
  PROP_RECOVERY_THRESHOLD,
  PROP_RECOVERY_FACTOR,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void
pft_preset_finalize (GObject *object)
{
  PftPreset *self = PFT_PRESET (object);

  g_free (self->name);
  g_free (self->description);

  G_OBJECT_CLASS (pft_preset_parent_class)->finalize (object);
}

static void
pft_preset_constructed (GObject *object)
{
  PftPreset *self = PFT_PRESET (object);

  G_OBJECT_CLASS (pft_preset_parent_class)->constructed (object);

  /* 0 means "derive from the other limits" for the adaptive bounds. */
  if (self->initial_concurrent == 0)
    self->initial_concurrent = self->max_concurrent;
  if (self->min_concurrent == 0)
    self->min_concurrent = MIN (DEFAULT_MIN_CONCURRENT, self->max_concurrent);
  if (self->name == NULL)
    self->name = g_strdup ("");
  if (self->description == NULL)
    self->description = g_strdup ("");
}

static void
pft_preset_get_property (GObject    *object,
                         guint       prop_id,
                         GValue     *value,
                         GParamSpec *pspec)
{
  PftPreset *self = PFT_PRESET (object);

  switch (prop_id)
    {
    case PROP_NAME:
      g_value_set_string (value, self->name);
      break;
    case PROP_DESCRIPTION:
      g_value_set_string (value, self->description);
      break;
    case PROP_KIND:
      g_value_set_enum (value, self->kind);
      break;
    case PROP_MAX_CONCURRENT:
      g_value_set_uint (value, self->max_concurrent);
      break;
    case PROP_MAX_PER_MINUTE:
      g_value_set_uint (value, self->max_per_minute);
      break;
    case PROP_INITIAL_CONCURRENT:
      g_value_set_uint (value, self->initial_concurrent);
      break;
    case PROP_MIN_CONCURRENT:
      g_value_set_uint (value, self->min_concurrent);
      break;
    case PROP_BACKOFF_FACTOR:
      g_value_set_double (value, self->backoff_factor);
      break;
    case PROP_RECOVERY_THRESHOLD:
      g_value_set_uint (value, self->recovery_threshold);
      break;
    case PROP_RECOVERY_FACTOR:
      g_value_set_double (value, self->recovery_factor);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
pft_preset_set_property (GObject      *object,
                         guint         prop_id,
                         const GValue *value,
                         GParamSpec   *pspec)
{
  PftPreset *self = PFT_PRESET (object);

  switch (prop_id)
    {
    case PROP_NAME:
      g_free (self->name);
      self->name = g_value_dup_string (value);
      break;
    case PROP_DESCRIPTION:
      g_free (self->description);
      self->description = g_value_dup_string (value);
      break;
    case PROP_KIND:
      self->kind = g_value_get_enum (value);
      break;
    case PROP_MAX_CONCURRENT:
      self->max_concurrent = g_value_get_uint (value);
      break;
    case PROP_MAX_PER_MINUTE:
      self->max_per_minute = g_value_get_uint (value);
      break;
    case PROP_INITIAL_CONCURRENT:
      self->initial_concurrent = g_value_get_uint (value);
      break;
    case PROP_MIN_CONCURRENT:
      self->min_concurrent = g_value_get_uint (value);
      break;
    case PROP_BACKOFF_FACTOR:
      self->backoff_factor = g_value_get_double (value);
      break;
    case PROP_RECOVERY_THRESHOLD:
      self->recovery_threshold = g_value_get_uint (value);
      break;
    case PROP_RECOVERY_FACTOR:
      self->recovery_factor = g_value_get_double (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
pft_preset_class_init (PftPresetClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GParamFlags flags = G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY |
                      G_PARAM_STATIC_STRINGS;

  _pft_init_i18n ();

  object_class->finalize = pft_preset_finalize;
  object_class->constructed = pft_preset_constructed;
  object_class->get_property = pft_preset_get_property;
  object_class->set_property = pft_preset_set_property;

  /**
   * PftPreset:name:
   *
   * The preset's canonical name, lower case with underscores, such as
   * `openai_tier1`.
   *
   * Since: 0.1
   */
  properties[PROP_NAME] =
    g_param_spec_string ("name", NULL, NULL, NULL, flags);

  /**
   * PftPreset:description:
   *
   * A short human-readable description, translated.
   *
   * Since: 0.1
   */
  properties[PROP_DESCRIPTION] =
    g_param_spec_string ("description", NULL, NULL, NULL, flags);

  /**
   * PftPreset:kind:
   *
   * Whether the preset is for node calls, flow instances or adaptive flows.
   *
   * Since: 0.1
   */
  properties[PROP_KIND] =
    g_param_spec_enum ("kind", NULL, NULL,
                       PFT_TYPE_PRESET_KIND, PFT_PRESET_KIND_NODE, flags);

  /**
   * PftPreset:max-concurrent:
   *
   * How many calls (or flow instances) may run at the same time; for an
   * adaptive-flow preset, the ceiling that recovery never exceeds.
   *
   * Since: 0.1
   */
  properties[PROP_MAX_CONCURRENT] =
    g_param_spec_uint ("max-concurrent", NULL, NULL,
                       1, G_MAXUINT, 1, flags);

  /**
   * PftPreset:max-per-minute:
   *
   * How many calls (or flow instances) may start in any 60-second window;
   * 0 means no rate limit.
   *
   * Since: 0.1
   */
  properties[PROP_MAX_PER_MINUTE] =
    g_param_spec_uint ("max-per-minute", NULL, NULL,
                       0, G_MAXUINT, 0, flags);

  /**
   * PftPreset:initial-concurrent:
   *
   * The concurrency an adaptive node or flow starts with. Set for
   * adaptive-flow presets; for the others it equals
   * [property@Pft.Preset:max-concurrent]. 0 at construction means the same.
   *
   * Since: 0.1
   */
  properties[PROP_INITIAL_CONCURRENT] =
    g_param_spec_uint ("initial-concurrent", NULL, NULL,
                       0, G_MAXUINT, 0, flags);

  /**
   * PftPreset:min-concurrent:
   *
   * The floor an adaptive node or flow never backs off below. Set for
   * adaptive-flow presets; 1 for the others. 0 at construction means 1.
   *
   * Since: 0.1
   */
  properties[PROP_MIN_CONCURRENT] =
    g_param_spec_uint ("min-concurrent", NULL, NULL,
                       0, G_MAXUINT, 0, flags);

  /**
   * PftPreset:backoff-factor:
   *
   * The factor (0..1) concurrency is multiplied by on a rate-limit error.
   *
   * Since: 0.1
   */
  properties[PROP_BACKOFF_FACTOR] =
    g_param_spec_double ("backoff-factor", NULL, NULL,
                         0.0, 1.0, DEFAULT_BACKOFF_FACTOR, flags);

  /**
   * PftPreset:recovery-threshold:
   *
   * How many consecutive successes an adaptive node or flow waits for
   * before it raises its concurrency again.
   *
   * Since: 0.1
   */
  properties[PROP_RECOVERY_THRESHOLD] =
    g_param_spec_uint ("recovery-threshold", NULL, NULL,
                       1, G_MAXUINT, DEFAULT_RECOVERY_THRESHOLD, flags);

  /**
   * PftPreset:recovery-factor:
   *
   * The factor (>= 1) concurrency is multiplied by on recovery.
   *
   * Since: 0.1
   */
  properties[PROP_RECOVERY_FACTOR] =
    g_param_spec_double ("recovery-factor", NULL, NULL,
                         1.0, G_MAXDOUBLE, DEFAULT_RECOVERY_FACTOR, flags);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
pft_preset_init (PftPreset *self)
{
  self->kind = PFT_PRESET_KIND_NODE;
  self->max_concurrent = 1;
  self->backoff_factor = DEFAULT_BACKOFF_FACTOR;
  self->recovery_threshold = DEFAULT_RECOVERY_THRESHOLD;
  self->recovery_factor = DEFAULT_RECOVERY_FACTOR;
}

static PftPreset *
pft_preset_new_from_entry (const PresetEntry *e)
{
  gboolean adaptive = e->kind == PFT_PRESET_KIND_ADAPTIVE_FLOW;

  return g_object_new (PFT_TYPE_PRESET,
                       "name", e->name,
                       "description", g_dgettext (GETTEXT_PACKAGE, e->description),
                       "kind", e->kind,
                       "max-concurrent", e->max_concurrent,
                       "max-per-minute", e->max_per_minute,
                       "initial-concurrent", e->initial_concurrent,
                       "min-concurrent", e->min_concurrent,
                       "backoff-factor", adaptive ? e->backoff_factor : DEFAULT_BACKOFF_FACTOR,
                       "recovery-threshold", adaptive ? e->recovery_threshold : DEFAULT_RECOVERY_THRESHOLD,
                       "recovery-factor", adaptive ? e->recovery_factor : DEFAULT_RECOVERY_FACTOR,
                       NULL);
}

/* "OpenAI-Tier1 " -> "openai_tier1" */
static char *
pft_presets_normalize_name (const char *name)
{
  char *norm = g_ascii_strdown (name, -1);

  g_strstrip (norm);
  for (char *p = norm; *p != '\0'; p++)
    if (*p == '-' || *p == ' ')
      *p = '_';

  return norm;
}

static const PresetEntry *
pft_presets_find_entry (const char *name)
{
  g_autofree char *norm = pft_presets_normalize_name (name);

  for (gsize i = 0; i < G_N_ELEMENTS (preset_aliases); i++)
    if (g_str_equal (norm, preset_aliases[i].alias))
      {
        g_free (norm);
        norm = g_strdup (preset_aliases[i].name);
        break;
      }

  for (gsize i = 0; i < G_N_ELEMENTS (presets); i++)
    if (g_str_equal (norm, presets[i].name))
      return &presets[i];

  return NULL;
}

/**
 * pft_presets_lookup:
 * @name: a preset name such as `openai_tier1`; case does not matter and `-`
 *   may stand for `_` (`OPENAI_TIER1`, `openai-tier1`)
 * @error: return location for a #GError
 *
 * Finds a built-in preset by name. Besides the names of
 * [func@Pft.presets_list], the original's alternative names
 * `anthropic_tier1` .. `anthropic_tier4` and `google_paid` are accepted.
 *
 * Returns: (transfer full): a new [class@Pft.Preset], or %NULL with
 *   @error set to %PFT_ERROR_NOT_FOUND (its message lists the valid names)
 *
 * Since: 0.1
 */
PftPreset *
pft_presets_lookup (const char  *name,
                    GError     **error)
{
  const PresetEntry *entry;

  g_return_val_if_fail (name != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  entry = pft_presets_find_entry (name);
  if (entry == NULL)
    {
      g_auto(GStrv) names = pft_presets_list ();
      g_autofree char *valid = g_strjoinv (", ", names);

      _pft_init_i18n ();
      g_set_error (error, PFT_ERROR, PFT_ERROR_NOT_FOUND,
                   _("Unknown preset “%s”; valid presets are: %s"),
                   name, valid);
      return NULL;
    }

  return pft_preset_new_from_entry (entry);
}

/**
 * pft_presets_list:
 *
 * The names of every built-in preset, in a stable order grouped by provider
 * (OpenAI, Anthropic, Google, Cohere, Hugging Face, Mistral, generic, web
 * scraping, then the flow presets, whose names start with `flow_`). Get a
 * preset's description and limits with [func@Pft.presets_lookup].
 *
 * Returns: (transfer full) (array zero-terminated=1): a %NULL-terminated
 *   array of names; free with g_strfreev()
 *
 * Since: 0.1
 */
char **
pft_presets_list (void)
{
  char **names = g_new0 (char *, G_N_ELEMENTS (presets) + 1);

  for (gsize i = 0; i < G_N_ELEMENTS (presets); i++)
    names[i] = g_strdup (presets[i].name);

  return names;
}

/**
 * pft_preset_get_name:
 * @self: a [class@Pft.Preset]
 *
 * Gets the name the preset is looked up by with [func@Pft.presets_lookup].
 *
 * Returns: the canonical name, such as `openai_tier1`
 *
 * Since: 0.1
 */
const char *
pft_preset_get_name (PftPreset *self)
{
  g_return_val_if_fail (PFT_IS_PRESET (self), NULL);
  return self->name;
}

/**
 * pft_preset_get_description:
 * @self: a [class@Pft.Preset]
 *
 * Gets the human-readable description of the preset, in the language of
 * the current locale when a translation is installed.
 *
 * Returns: a short, translated description such as "OpenAI Tier 1"
 *
 * Since: 0.1
 */
const char *
pft_preset_get_description (PftPreset *self)
{
  g_return_val_if_fail (PFT_IS_PRESET (self), NULL);
  return self->description;
}

/**
 * pft_preset_get_kind:
 * @self: a [class@Pft.Preset]
 *
 * Gets whether the preset configures a node, a flow or an adaptive flow.
 *
 * Returns: what the preset is meant to configure
 *
 * Since: 0.1
 */
PftPresetKind
pft_preset_get_kind (PftPreset *self)
{
  g_return_val_if_fail (PFT_IS_PRESET (self), PFT_PRESET_KIND_NODE);
  return self->kind;
}

/**
 * pft_preset_get_max_concurrent:
 * @self: a [class@Pft.Preset]
 *
 * Gets the concurrency limit the preset sets: calls at once for a node,
 * flow instances at once for a flow, the ceiling for adaptive ones.
 *
 * Returns: how many calls or flow instances may run at once (>= 1)
 *
 * Since: 0.1
 */
guint
pft_preset_get_max_concurrent (PftPreset *self)
{
  g_return_val_if_fail (PFT_IS_PRESET (self), 0);
  return self->max_concurrent;
}

/**
 * pft_preset_get_max_per_minute:
 * @self: a [class@Pft.Preset]
 *
 * Gets the rate limit the preset sets, in starts per minute.
 *
 * Returns: how many may start in any 60-second window; 0 for no limit
 *
 * Since: 0.1
 */
guint
pft_preset_get_max_per_minute (PftPreset *self)
{
  g_return_val_if_fail (PFT_IS_PRESET (self), 0);
  return self->max_per_minute;
}

/**
 * pft_preset_get_initial_concurrent:
 * @self: a [class@Pft.Preset]
 *
 * Gets the concurrency an adaptive node or flow starts with under this
 * preset; for presets of other kinds, their max-concurrent.
 *
 * Returns: the starting concurrency for adaptive nodes and flows
 *
 * Since: 0.1
 */
guint
pft_preset_get_initial_concurrent (PftPreset *self)
{
  g_return_val_if_fail (PFT_IS_PRESET (self), 0);
  return self->initial_concurrent;
}

/**
 * pft_preset_get_min_concurrent:
 * @self: a [class@Pft.Preset]
 *
 * Gets the lowest concurrency an adaptive node or flow backs off to under
 * this preset; for presets of other kinds, the original's default of 1.
 *
 * Returns: the concurrency floor for adaptive nodes and flows
 *
 * Since: 0.1
 */
guint
pft_preset_get_min_concurrent (PftPreset *self)
{
  g_return_val_if_fail (PFT_IS_PRESET (self), 0);
  return self->min_concurrent;
}

/**
 * pft_preset_get_backoff_factor:
 * @self: a [class@Pft.Preset]
 *
 * Gets the multiplier an adaptive node or flow applies to its concurrency
 * when a call is rate limited; for presets of other kinds, the original's
 * default of 0.5.
 *
 * Returns: the factor (0..1) applied to concurrency on a rate-limit error
 *
 * Since: 0.1
 */
double
pft_preset_get_backoff_factor (PftPreset *self)
{
  g_return_val_if_fail (PFT_IS_PRESET (self), 0.0);
  return self->backoff_factor;
}

/**
 * pft_preset_get_recovery_threshold:
 * @self: a [class@Pft.Preset]
 *
 * Gets how many successes in a row an adaptive node or flow waits for
 * before it raises its concurrency; for presets of other kinds, the
 * original's default of 10.
 *
 * Returns: consecutive successes needed before concurrency grows again
 *
 * Since: 0.1
 */
guint
pft_preset_get_recovery_threshold (PftPreset *self)
{
  g_return_val_if_fail (PFT_IS_PRESET (self), 0);
  return self->recovery_threshold;
}

/**
 * pft_preset_get_recovery_factor:
 * @self: a [class@Pft.Preset]
 *
 * Gets the multiplier an adaptive node or flow applies to its concurrency
 * when it recovers; for presets of other kinds, the original's default of 1.2.
 *
 * Returns: the factor (>= 1) applied to concurrency on recovery
 *
 * Since: 0.1
 */
double
pft_preset_get_recovery_factor (PftPreset *self)
{
  g_return_val_if_fail (PFT_IS_PRESET (self), 0.0);
  return self->recovery_factor;
}

/**
 * pft_preset_apply_to_limiter:
 * @self: a [class@Pft.Preset]
 * @limiter: the [class@Pft.RateLimiter] to change
 *
 * Sets @limiter's [property@Pft.RateLimiter:max-concurrent] to the preset's
 * (for an adaptive-flow preset, to its initial concurrency),
 * [property@Pft.RateLimiter:window] to 60 seconds and
 * [property@Pft.RateLimiter:max-per-window] to the preset's per-minute limit
 * (0, no limit, if it has none). The limiter is changed in place, keeping its
 * window history and waiters; its other limits (cost, mode, burst) are left
 * as they are.
 *
 * Since: 0.1
 */
void
pft_preset_apply_to_limiter (PftPreset      *self,
                             PftRateLimiter *limiter)
{
  guint concurrent;

  g_return_if_fail (PFT_IS_PRESET (self));
  g_return_if_fail (PFT_IS_RATE_LIMITER (limiter));

  concurrent = self->kind == PFT_PRESET_KIND_ADAPTIVE_FLOW
               ? self->initial_concurrent : self->max_concurrent;

  g_object_freeze_notify (G_OBJECT (limiter));
  pft_rate_limiter_set_window (limiter, PRESET_WINDOW);
  pft_rate_limiter_set_max_per_window (limiter, self->max_per_minute);
  pft_rate_limiter_set_max_concurrent (limiter, MAX (concurrent, 1));
  g_object_thaw_notify (G_OBJECT (limiter));
}

/**
 * pft_preset_new_limiter:
 * @self: a [class@Pft.Preset]
 *
 * Creates a limiter with the preset's limits, as
 * [method@Pft.Preset.apply_to_limiter] sets them: a 60-second window
 * admitting [property@Pft.Preset:max-per-minute] (0 for no limit), and
 * [property@Pft.Preset:max-concurrent] at once (the initial concurrency
 * for an adaptive-flow preset).
 *
 * Returns: (transfer full): a new [class@Pft.RateLimiter]
 *
 * Since: 0.1
 */
PftRateLimiter *
pft_preset_new_limiter (PftPreset *self)
{
  guint concurrent;

  g_return_val_if_fail (PFT_IS_PRESET (self), NULL);

  concurrent = self->kind == PFT_PRESET_KIND_ADAPTIVE_FLOW
               ? self->initial_concurrent : self->max_concurrent;

  return pft_rate_limiter_new (MAX (concurrent, 1), self->max_per_minute,
                               PRESET_WINDOW);
}

/**
 * pft_rate_limiter_new_for_preset:
 * @preset: a preset name, as for [func@Pft.presets_lookup]
 * @error: return location for a #GError
 *
 * Creates a limiter with the limits of a built-in preset: a window of 60
 * seconds admitting the preset's per-minute limit, and the preset's
 * concurrency. See [method@Pft.Preset.new_limiter].
 *
 * Returns: (transfer full): a new limiter, or %NULL with @error set to
 *   %PFT_ERROR_NOT_FOUND if there is no such preset
 *
 * Since: 0.1
 */
PftRateLimiter *
pft_rate_limiter_new_for_preset (const char  *preset,
                                 GError     **error)
{
  g_autoptr(PftPreset) p = NULL;

  g_return_val_if_fail (preset != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  p = pft_presets_lookup (preset, error);
  if (p == NULL)
    return NULL;

  return pft_preset_new_limiter (p);
}
