/* pft-limiter-registry-config.c: limiter definitions read from a key file
 *
 * GKeyFile does all the parsing; this file checks the values by the
 * limiter's own rules and says where a bad one is.
 *
 * SPDX-License-Identifier: MIT
 */

#include <string.h>

#include <glib/gi18n-lib.h>

#include "pft-enums.h"
#include "pft-error.h"
#include "pft-presets.h"
#include "pft-limiter-registry-config-private.h"
#include "pft-limits-private.h"
#include "pft-rate-limiter-private.h"
#include "pft-rate-limiter-redis-private.h"

/* A group that sets nothing: the registry's defaults for a limiter
 * registered without limits. */
#define PFT_LIMITER_REGISTRY_CONFIG_MAX_CONCURRENT 5
#define PFT_LIMITER_REGISTRY_CONFIG_MAX_PER_WINDOW 0
#define PFT_LIMITER_REGISTRY_CONFIG_WINDOW         60.0

typedef struct _PftLimiterRegistryConfigKey PftLimiterRegistryConfigKey;

/* Reads @value (stripped) into @config; on error, says what is wrong
 * with the value (the caller adds where). */
typedef gboolean (*PftLimiterRegistryConfigParseFunc) (const PftLimiterRegistryConfigKey  *key,
                                                       const char                         *value,
                                                       PftLimiterRegistryConfig           *config,
                                                       GError                            **error);

struct _PftLimiterRegistryConfigKey
{
  const char                        *name;
  PftLimiterRegistryConfigParseFunc  parse;
  gsize                              offset;   /* of the field @parse sets */
};

#define PFT_LIMITER_REGISTRY_CONFIG_SET(config, key, type) \
  (*(type *) G_STRUCT_MEMBER_P ((config), (key)->offset))

void
_pft_limiter_registry_config_free (gpointer data)
{
  PftLimiterRegistryConfig *config = data;

  g_free (config->name);
  g_free (config->redis_uri);
  g_free (config->redis_key);
  g_free (config);
}

/* -------------------------------------------------------------------- */
/* Values                                                                */

static gboolean
pft_limiter_registry_config_parse_preset (const PftLimiterRegistryConfigKey  *key,
                                          const char                         *value,
                                          PftLimiterRegistryConfig           *config,
                                          GError                            **error)
{
  g_autoptr(PftPreset) preset = pft_presets_lookup (value, error);

  if (preset == NULL)
    return FALSE;

  /* The limiter a preset describes: 60-second window, as
   * pft_preset_new_limiter() makes it. */
  config->max_concurrent = pft_preset_get_kind (preset) == PFT_PRESET_KIND_ADAPTIVE_FLOW
                           ? pft_preset_get_initial_concurrent (preset)
                           : pft_preset_get_max_concurrent (preset);
  config->max_per_window = pft_preset_get_max_per_minute (preset);
  config->window = 60.0;
  return TRUE;
}

/* Whole numbers are checked by the limiter's own rule for the key (the
 * one its constructor and setters use), so that the file accepts exactly
 * what the limiter allows. GKeyFile's integer getters would take "-1" as
 * 2^64 - 1. */
static gboolean
pft_limiter_registry_config_parse_unsigned (const char  *key,
                                            const char  *value,
                                            guint64     *out,
                                            GError     **error)
{
  if (!g_ascii_string_to_unsigned (value, 10, 0, G_MAXUINT64, out, NULL))
    {
      guint64 min = 0, max = G_MAXUINT64;
      /* Numbers pre-formatted: xgettext cannot see through
       * G_GUINT64_FORMAT. */
      g_autofree char *min_s = NULL, *max_s = NULL;

      _pft_limit_uint_range (key, &min, &max);
      min_s = g_strdup_printf ("%" G_GUINT64_FORMAT, min);
      max_s = g_strdup_printf ("%" G_GUINT64_FORMAT, max);
      g_set_error (error, PFT_ERROR, PFT_ERROR_PARSE,
                   _("“%s” is not a whole number from %s to %s"), value, min_s, max_s);
      return FALSE;
    }
  return _pft_limit_check_uint (key, *out, error);
}

static gboolean
pft_limiter_registry_config_parse_uint (const PftLimiterRegistryConfigKey  *key,
                                        const char                         *value,
                                        PftLimiterRegistryConfig           *config,
                                        GError                            **error)
{
  guint64 u;

  if (!pft_limiter_registry_config_parse_unsigned (key->name, value, &u, error))
    return FALSE;
  PFT_LIMITER_REGISTRY_CONFIG_SET (config, key, guint) = (guint) u;
  return TRUE;
}

static gboolean
pft_limiter_registry_config_parse_uint64 (const PftLimiterRegistryConfigKey  *key,
                                          const char                         *value,
                                          PftLimiterRegistryConfig           *config,
                                          GError                            **error)
{
  return pft_limiter_registry_config_parse_unsigned (key->name, value,
                                                     &PFT_LIMITER_REGISTRY_CONFIG_SET (config, key, guint64),
                                                     error);
}

static gboolean
pft_limiter_registry_config_parse_window (const PftLimiterRegistryConfigKey  *key,
                                          const char                         *value,
                                          PftLimiterRegistryConfig           *config,
                                          GError                            **error)
{
  char *end = NULL;
  double w = *value != '\0' ? g_ascii_strtod (value, &end) : 0.0;

  if (end == NULL || *end != '\0')
    {
      g_set_error (error, PFT_ERROR, PFT_ERROR_PARSE,
                   _("“%s” is not a number of seconds"), value);
      return FALSE;
    }
  if (!_pft_limit_check_window (w, error))
    return FALSE;
  PFT_LIMITER_REGISTRY_CONFIG_SET (config, key, double) = w;
  return TRUE;
}

static gboolean
pft_limiter_registry_config_parse_mode (const PftLimiterRegistryConfigKey  *key,
                                        const char                         *value,
                                        PftLimiterRegistryConfig           *config,
                                        GError                            **error)
{
  g_autofree char *nick = g_ascii_strdown (value, -1);
  g_autoptr(GEnumClass) klass = g_type_class_ref (PFT_TYPE_LIMITER_MODE);
  g_autoptr(GString) valid = NULL;
  GEnumValue *v;

  /* "SMOOTH" and "sliding_window" are meant as the nicks. */
  g_strdelimit (nick, "_", '-');
  v = g_enum_get_value_by_nick (klass, nick);
  if (v != NULL)
    {
      PFT_LIMITER_REGISTRY_CONFIG_SET (config, key, PftLimiterMode) = v->value;
      return TRUE;
    }

  valid = g_string_new (NULL);
  for (guint i = 0; i < klass->n_values; i++)
    g_string_append_printf (valid, "%s%s", i > 0 ? ", " : "", klass->values[i].value_nick);
  g_set_error (error, PFT_ERROR, PFT_ERROR_PARSE,
               _("unknown mode “%s” (valid modes: %s)"), value, valid->str);
  return FALSE;
}

static gboolean
pft_limiter_registry_config_parse_backend (const PftLimiterRegistryConfigKey  *key,
                                           const char                         *value,
                                           PftLimiterRegistryConfig           *config,
                                           GError                            **error)
{
  if (g_ascii_strcasecmp (value, "redis") != 0 && g_ascii_strcasecmp (value, "memory") != 0)
    {
      g_set_error (error, PFT_ERROR, PFT_ERROR_PARSE,
                   _("unknown backend “%s” (valid backends: memory, redis)"), value);
      return FALSE;
    }
  config->redis = g_ascii_strcasecmp (value, "redis") == 0;
  return TRUE;
}

static gboolean
pft_limiter_registry_config_parse_string (const PftLimiterRegistryConfigKey  *key,
                                          const char                         *value,
                                          PftLimiterRegistryConfig           *config,
                                          GError                            **error)
{
  char **field = &PFT_LIMITER_REGISTRY_CONFIG_SET (config, key, char *);

  /* The value is not quoted: a URI may hold a password. */
  if (*value == '\0')
    {
      g_set_error_literal (error, PFT_ERROR, PFT_ERROR_PARSE, _("the value is empty"));
      return FALSE;
    }
  g_free (*field);
  *field = g_strdup (value);
  return TRUE;
}

/* Seconds, as the property of the same name accepts them. */
static gboolean
pft_limiter_registry_config_parse_seconds (const PftLimiterRegistryConfigKey  *key,
                                           const char                         *value,
                                           PftLimiterRegistryConfig           *config,
                                           GError                            **error)
{
  g_autoptr(GTypeClass) klass = g_type_class_ref (PFT_TYPE_RATE_LIMITER);
  GParamSpecDouble *pspec = G_PARAM_SPEC_DOUBLE (g_object_class_find_property (G_OBJECT_CLASS (klass),
                                                                               key->name));
  char *end = NULL;
  double v = *value != '\0' ? g_ascii_strtod (value, &end) : 0.0;

  if (end == NULL || *end != '\0' || !(v >= pspec->minimum && v <= pspec->maximum))
    {
      g_set_error (error, PFT_ERROR, PFT_ERROR_PARSE,
                   _("“%s” is not a number of seconds from %g to %g"),
                   value, pspec->minimum, pspec->maximum);
      return FALSE;
    }
  PFT_LIMITER_REGISTRY_CONFIG_SET (config, key, double) = v;
  return TRUE;
}

static gboolean
pft_limiter_registry_config_parse_fallback (const PftLimiterRegistryConfigKey  *key,
                                            const char                         *value,
                                            PftLimiterRegistryConfig           *config,
                                            GError                            **error)
{
  g_autofree char *nick = g_ascii_strdown (value, -1);
  g_autoptr(GEnumClass) klass = g_type_class_ref (PFT_TYPE_LIMITER_FALLBACK);
  GEnumValue *v = g_enum_get_value_by_nick (klass, nick);

  if (v == NULL)
    {
      g_set_error (error, PFT_ERROR, PFT_ERROR_PARSE,
                   _("unknown fallback “%s” (valid fallbacks: fail, local)"), value);
      return FALSE;
    }
  config->fallback = v->value;
  return TRUE;
}

/* -------------------------------------------------------------------- */
/* The keys                                                              */

#define FIELD(member) G_STRUCT_OFFSET (PftLimiterRegistryConfig, member)

/* Every key a group may hold, read in this order: preset first, so that
 * the other keys override its values. A new key (a backend, its address,
 * a timeout) is a field of PftLimiterRegistryConfig and a row here. */
static const PftLimiterRegistryConfigKey pft_limiter_registry_config_keys[] = {
  { "preset",              pft_limiter_registry_config_parse_preset, 0 },
  { "max-concurrent",      pft_limiter_registry_config_parse_uint,   FIELD (max_concurrent) },
  { "max-per-window",      pft_limiter_registry_config_parse_uint,   FIELD (max_per_window) },
  { "window",              pft_limiter_registry_config_parse_window, FIELD (window) },
  { "max-cost-per-window", pft_limiter_registry_config_parse_uint64, FIELD (max_cost_per_window) },
  { "mode",                pft_limiter_registry_config_parse_mode,   FIELD (mode) },
  { "burst",               pft_limiter_registry_config_parse_uint,   FIELD (burst) },
  { "backend",             pft_limiter_registry_config_parse_backend, 0 },
  { "redis-uri",           pft_limiter_registry_config_parse_string, FIELD (redis_uri) },
  { "redis-key",           pft_limiter_registry_config_parse_string, FIELD (redis_key) },
  { "backend-timeout",     pft_limiter_registry_config_parse_seconds, FIELD (backend_timeout) },
  { "fallback",            pft_limiter_registry_config_parse_fallback, 0 },
  { "lease-ttl",           pft_limiter_registry_config_parse_seconds, FIELD (lease_ttl) },
};

#undef FIELD

/* -------------------------------------------------------------------- */
/* Where an error is                                                     */

typedef struct
{
  const char *text;     /* the key file's text, or NULL: no lines */
  gsize       length;
  const char *source;   /* a file name for messages, or NULL */
} PftLimiterRegistryConfigSource;

/* The line of @group's header (@key NULL) or of @key in @group (the last
 * one, whose value GKeyFile keeps); with @group NULL, the first line
 * GKeyFile rejects. 0 if there is none.
 *
 * GKeyFile's errors carry no line, and a parsed GKeyFile keeps none. A
 * key file is line by line, so each line is handed to GKeyFile alone: it
 * says whether the line is a group header, a key (read under a
 * placeholder group) or neither. Only error paths come here. */
static guint
pft_limiter_registry_config_find_line (const char *text,
                                       gsize       length,
                                       const char *group,
                                       const char *key)
{
  g_autofree char *current = NULL;
  const char *p = text, *end = text + length;
  guint lineno = 0, found = 0;

  while (p < end)
    {
      const char *nl = memchr (p, '\n', end - p);
      const char *next = nl != NULL ? nl + 1 : end;
      g_autoptr(GKeyFile) alone = g_key_file_new ();
      g_autoptr(GKeyFile) keyed = NULL;
      g_autofree char *keyed_text = NULL;
      g_auto(GStrv) keys = NULL;

      lineno++;
      if (g_key_file_load_from_data (alone, p, next - p, G_KEY_FILE_NONE, NULL))
        {
          char *header = g_key_file_get_start_group (alone);

          if (header != NULL)
            {
              g_free (current);
              current = header;
              if (group != NULL && key == NULL && found == 0 && g_str_equal (current, group))
                found = lineno;
            }
          /* Else a comment or a blank line. */
          p = next;
          continue;
        }

      /* "[+]" first so that "[-]" is not the start group, where GKeyFile
       * reads an Encoding key specially. */
      keyed = g_key_file_new ();
      keyed_text = g_strdup_printf ("[+]\n[-]\n%.*s", (int) (next - p), p);
      if (current == NULL ||
          !g_key_file_load_from_data (keyed, keyed_text, -1, G_KEY_FILE_NONE, NULL))
        {
          if (group == NULL)
            return lineno;
          p = next;
          continue;
        }

      keys = g_key_file_get_keys (keyed, "-", NULL, NULL);
      if (group != NULL && key != NULL && keys != NULL && keys[0] != NULL &&
          g_str_equal (current, group) && g_str_equal (keys[0], key))
        found = lineno;
      p = next;
    }

  return found;
}

/* "PATH:LINE: ", "line LINE: ", "PATH: " or "". */
static char *
pft_limiter_registry_config_dup_location (const PftLimiterRegistryConfigSource *src,
                                          guint                                 line)
{
  if (line > 0 && src->source != NULL)
    return g_strdup_printf ("%s:%u: ", src->source, line);
  if (line > 0)
    return g_strdup_printf (_("line %u: "), line);
  if (src->source != NULL)
    return g_strdup_printf ("%s: ", src->source);
  return g_strdup ("");
}

/* PFT_ERROR_PARSE: "LOCATION group “G”, key “K”: DETAIL". */
static void
pft_limiter_registry_config_set_error (GError                               **error,
                                       const PftLimiterRegistryConfigSource  *src,
                                       const char                            *group,
                                       const char                            *key,
                                       const char                            *detail)
{
  guint line = src->text != NULL
               ? pft_limiter_registry_config_find_line (src->text, src->length, group, key)
               : 0;
  g_autofree char *location = pft_limiter_registry_config_dup_location (src, line);
  /* A GKeyFile built in memory may hold names that are not UTF-8. */
  g_autofree char *group_shown = g_utf8_make_valid (group, -1);
  g_autofree char *key_shown = key != NULL ? g_utf8_make_valid (key, -1) : NULL;
  g_autofree char *where = NULL;

  if (key != NULL)
    where = g_strdup_printf (_("group “%s”, key “%s”"), group_shown, key_shown);
  else
    where = g_strdup_printf (_("group “%s”"), group_shown);

  g_set_error (error, PFT_ERROR, PFT_ERROR_PARSE, "%s%s: %s", location, where, detail);
}

/* -------------------------------------------------------------------- */
/* Groups                                                                */

static guint
pft_limiter_registry_config_default_uint (const char *property,
                                          guint       fallback)
{
  g_autoptr(GTypeClass) klass = g_type_class_ref (PFT_TYPE_RATE_LIMITER);
  GParamSpec *pspec = g_object_class_find_property (G_OBJECT_CLASS (klass), property);

  if (pspec != NULL && G_IS_PARAM_SPEC_UINT (pspec))
    return G_PARAM_SPEC_UINT (pspec)->default_value;
  return fallback;
}

static double
pft_limiter_registry_config_default_double (const char *property)
{
  g_autoptr(GTypeClass) klass = g_type_class_ref (PFT_TYPE_RATE_LIMITER);

  return G_PARAM_SPEC_DOUBLE (g_object_class_find_property (G_OBJECT_CLASS (klass), property))->default_value;
}

static const PftLimiterRegistryConfigKey *
pft_limiter_registry_config_find_key (const char *name)
{
  for (guint i = 0; i < G_N_ELEMENTS (pft_limiter_registry_config_keys); i++)
    if (g_str_equal (pft_limiter_registry_config_keys[i].name, name))
      return &pft_limiter_registry_config_keys[i];
  return NULL;
}

static PftLimiterRegistryConfig *
pft_limiter_registry_config_parse_group (GKeyFile                              *keyfile,
                                         const PftLimiterRegistryConfigSource  *src,
                                         const char                            *group,
                                         GError                               **error)
{
  g_autoptr(GError) local_error = NULL;
  g_auto(GStrv) keys = NULL;
  PftLimiterRegistryConfig *config;

  /* Names are shown as strings (statistics, the model, logs). Text loaded
   * by Pft was checked whole; a GKeyFile built in memory was not. */
  if (!g_utf8_validate (group, -1, NULL))
    {
      g_autofree char *shown = g_utf8_make_valid (group, -1);
      g_autofree char *detail =
        g_strdup_printf (_("A rate limiter name must be valid UTF-8, not “%s”"), shown);

      pft_limiter_registry_config_set_error (error, src, group, NULL, detail);
      return NULL;
    }

  keys = g_key_file_get_keys (keyfile, group, NULL, &local_error);
  if (keys == NULL)
    {
      pft_limiter_registry_config_set_error (error, src, group, NULL, local_error->message);
      return NULL;
    }

  for (guint i = 0; keys[i] != NULL; i++)
    if (pft_limiter_registry_config_find_key (keys[i]) == NULL)
      {
        g_autoptr(GString) known = g_string_new (NULL);
        g_autofree char *detail = NULL;

        for (guint k = 0; k < G_N_ELEMENTS (pft_limiter_registry_config_keys); k++)
          g_string_append_printf (known, "%s%s", k > 0 ? ", " : "",
                                  pft_limiter_registry_config_keys[k].name);
        detail = g_strdup_printf (_("unknown key (known keys: %s)"), known->str);
        pft_limiter_registry_config_set_error (error, src, group, keys[i], detail);
        return NULL;
      }

  config = g_new0 (PftLimiterRegistryConfig, 1);
  config->name = g_strdup (group);
  config->max_concurrent = PFT_LIMITER_REGISTRY_CONFIG_MAX_CONCURRENT;
  config->max_per_window = PFT_LIMITER_REGISTRY_CONFIG_MAX_PER_WINDOW;
  config->window = PFT_LIMITER_REGISTRY_CONFIG_WINDOW;
  config->max_cost_per_window = 0;
  config->mode = PFT_LIMITER_MODE_SLIDING_WINDOW;
  config->burst = pft_limiter_registry_config_default_uint ("burst", 1);
  config->backend_timeout = pft_limiter_registry_config_default_double ("backend-timeout");
  config->fallback = PFT_LIMITER_FALLBACK_FAIL;
  config->lease_ttl = pft_limiter_registry_config_default_double ("lease-ttl");

  for (guint k = 0; k < G_N_ELEMENTS (pft_limiter_registry_config_keys); k++)
    {
      const PftLimiterRegistryConfigKey *key = &pft_limiter_registry_config_keys[k];
      g_autofree char *value = g_key_file_get_value (keyfile, group, key->name, NULL);

      if (value == NULL)
        continue;
      /* GKeyFile keeps the spaces before a line's end; so did files
       * written for Pft. */
      g_strstrip (value);
      if (!key->parse (key, value, config, &local_error))
        {
          pft_limiter_registry_config_set_error (error, src, group, key->name, local_error->message);
          _pft_limiter_registry_config_free (config);
          return NULL;
        }
    }

  /* The Redis keys go together. */
  if (config->redis && config->redis_uri == NULL)
    {
      pft_limiter_registry_config_set_error (error, src, group, "backend",
                                             _("backend “redis” needs a redis-uri"));
      _pft_limiter_registry_config_free (config);
      return NULL;
    }
  if (!config->redis && (config->redis_uri != NULL || config->redis_key != NULL))
    {
      const char *key = config->redis_uri != NULL ? "redis-uri" : "redis-key";

      pft_limiter_registry_config_set_error (error, src, group, key, _("needs backend = redis"));
      _pft_limiter_registry_config_free (config);
      return NULL;
    }

  return config;
}

static GPtrArray *
pft_limiter_registry_config_parse (GKeyFile                              *keyfile,
                                   const PftLimiterRegistryConfigSource  *src,
                                   GError                               **error)
{
  g_autoptr(GPtrArray) configs = g_ptr_array_new_with_free_func (_pft_limiter_registry_config_free);
  g_auto(GStrv) groups = g_key_file_get_groups (keyfile, NULL);

  for (guint i = 0; groups[i] != NULL; i++)
    {
      PftLimiterRegistryConfig *config =
        pft_limiter_registry_config_parse_group (keyfile, src, groups[i], error);

      if (config == NULL)
        return NULL;
      g_ptr_array_add (configs, config);
    }

  return g_steal_pointer (&configs);
}

GPtrArray *
_pft_limiter_registry_config_parse_keyfile (GKeyFile  *keyfile,
                                            GError   **error)
{
  PftLimiterRegistryConfigSource src = { NULL, 0, NULL };

  return pft_limiter_registry_config_parse (keyfile, &src, error);
}

GPtrArray *
_pft_limiter_registry_config_parse_text (const char  *text,
                                         gsize        length,
                                         const char  *source,
                                         GError     **error)
{
  g_autoptr(GKeyFile) keyfile = g_key_file_new ();
  g_autoptr(GError) local_error = NULL;
  PftLimiterRegistryConfigSource src;
  const char *invalid;

  /* A byte-order mark, as some editors write, is not part of line 1
   * (GKeyFile would read it as part of the first line). */
  if (length >= 3 && memcmp (text, "\xef\xbb\xbf", 3) == 0)
    {
      text += 3;
      length -= 3;
    }

  /* Errors quote names and values, and a GError message must be UTF-8
   * (PyGObject cannot even convert one that is not). GKeyFile checks only
   * the values read as strings, not names or comments. */
  if (!g_utf8_validate_len (text, length, &invalid))
    {
      guint lineno = 1;

      for (const char *c = text; c < invalid; c++)
        lineno += *c == '\n';
      if (source != NULL)
        g_set_error (error, PFT_ERROR, PFT_ERROR_PARSE,
                     _("%s:%u: not UTF-8 text (a key file must be UTF-8)"), source, lineno);
      else
        g_set_error (error, PFT_ERROR, PFT_ERROR_PARSE,
                     _("line %u: not UTF-8 text (a key file must be UTF-8)"), lineno);
      return NULL;
    }

  src.text = text;
  src.length = length;
  src.source = source;

  if (!g_key_file_load_from_data (keyfile, text, length, G_KEY_FILE_NONE, &local_error))
    {
      guint line = pft_limiter_registry_config_find_line (text, length, NULL, NULL);
      g_autofree char *location = pft_limiter_registry_config_dup_location (&src, line);
      g_autofree char *quoted = NULL;

      /* GKeyFile quotes the line it rejects, except when it is a key
       * before any group. */
      if (line > 0)
        {
          const char *p = text;
          g_autofree char *bad = NULL;

          for (guint l = 1; l < line; l++)
            p = strchr (p, '\n') + 1;
          bad = g_strndup (p, strcspn (p, "\n"));
          g_strstrip (bad);
          if (strstr (local_error->message, bad) == NULL)
            {
              /* "Invalid group name: " names nothing when the name is empty. */
              g_autofree char *message = g_strchomp (g_strdup (local_error->message));

              if (g_str_has_suffix (message, ":"))
                message[strlen (message) - 1] = '\0';
              /* Translators: GKeyFile's error, then the line it is about. */
              quoted = g_strdup_printf (_("%s: “%s”"), message, bad);
            }
        }
      g_set_error (error, PFT_ERROR, PFT_ERROR_PARSE, "%s%s",
                   location, quoted != NULL ? quoted : local_error->message);
      return NULL;
    }

  return pft_limiter_registry_config_parse (keyfile, &src, error);
}

static const char *
pft_limiter_registry_config_redis_key (const PftLimiterRegistryConfig *config)
{
  return config->redis_key != NULL ? config->redis_key : config->name;
}

PftRateLimiter *
_pft_limiter_registry_config_new_limiter (const PftLimiterRegistryConfig  *config,
                                          GError                         **error)
{
  g_autoptr(GError) local_error = NULL;
  PftRateLimiter *limiter;

  if (!config->redis)
    limiter = pft_rate_limiter_new (config->max_concurrent, config->max_per_window, config->window);
  else
    {
      limiter = pft_rate_limiter_new_redis (config->redis_uri, pft_limiter_registry_config_redis_key (config),
                                            config->max_concurrent, config->max_per_window,
                                            config->window, &local_error);
      if (limiter == NULL)
        {
          /* Its message shows the URI without the password. */
          g_set_error (error, local_error->domain, local_error->code,
                       _("group “%s”: %s"), config->name, local_error->message);
          return NULL;
        }
    }

  _pft_limiter_registry_config_apply (config, limiter);
  return limiter;
}

gboolean
_pft_limiter_registry_config_check_update (const PftLimiterRegistryConfig  *config,
                                           PftRateLimiter                  *limiter,
                                           GError                         **error)
{
  const char *key = pft_rate_limiter_get_redis_key (limiter);

  if (config->redis == (key != NULL) &&
      (!config->redis ||
       (g_str_equal (key, pft_limiter_registry_config_redis_key (config)) &&
        _pft_rate_limiter_redis_has_uri (limiter, config->redis_uri))))
    return TRUE;
  g_set_error (error, PFT_ERROR, PFT_ERROR_PARSE,
               _("group “%s”: the limiter exists with another backend, Redis server or key, "
                 "which cannot change in place (unregister it first)"), config->name);
  return FALSE;
}

void
_pft_limiter_registry_config_apply (const PftLimiterRegistryConfig *config,
                                    PftRateLimiter                 *limiter)
{
  g_object_freeze_notify (G_OBJECT (limiter));
  pft_rate_limiter_set_window (limiter, config->window);
  pft_rate_limiter_set_max_per_window (limiter, config->max_per_window);
  pft_rate_limiter_set_max_cost_per_window (limiter, config->max_cost_per_window);
  pft_rate_limiter_set_mode (limiter, config->mode);
  pft_rate_limiter_set_burst (limiter, config->burst);
  pft_rate_limiter_set_max_concurrent (limiter, config->max_concurrent);
  pft_rate_limiter_set_backend_timeout (limiter, config->backend_timeout);
  pft_rate_limiter_set_fallback (limiter, config->fallback);
  pft_rate_limiter_set_lease_ttl (limiter, config->lease_ttl);
  g_object_thaw_notify (G_OBJECT (limiter));
}
