/* pft-http-chat-client.c: one chat completion over libsoup, OpenAI or
 * Anthropic style
 *
 * SPDX-License-Identifier: MIT
 */

#include <math.h>
#include <string.h>

#include "pft-http.h"
#include "pft-http-private.h"

/**
 * PftHttpChatClient:
 *
 * Sends chat completions to an OpenAI-compatible API (`POST
 * {base-url}/chat/completions`) or to Anthropic's Messages API (`POST
 * {base-url}/v1/messages`), asynchronously on the caller's thread-default
 * main context with libsoup (no thread per call).
 *
 * Failures are #GErrors: an HTTP 429 is [error@Pft.Error.RATE_LIMITED]
 * carrying the provider's retry-after (see [func@Pft.Error.get_retry_after]),
 * so that Pft's limiters and adaptive nodes react to it; other error
 * statuses are [error@PftHttp.Error.STATUS] with the status
 * ([func@PftHttp.Error.get_status]) and the provider's error message; a
 * 2xx that is not a chat reply is [error@PftHttp.Error.INVALID_REPLY]; a
 * configuration that cannot work is [error@PftHttp.Error.INVALID_CONFIG];
 * transport failures keep GIO's codes (`G_IO_ERROR_CONNECTION_REFUSED`,
 * `G_IO_ERROR_TIMED_OUT` for [property@PftHttp.ChatClient:timeout]).
 *
 * With a [property@PftHttp.ChatClient:limiter], every call first takes a
 * permit whose cost is the estimated tokens (prompt characters / 4 plus
 * [property@PftHttp.ChatClient:max-tokens]), then lets the reply's
 * rate-limit headers act on the limiter
 * ([method@PftHttp.RateHeaders.apply]) and settles the permit with the
 * reply's usage.
 *
 * The API key is a secret: the property is write-only, and the key never
 * appears in a log line, an error message or
 * [method@PftHttp.ChatClient.to_string] (a provider message that quotes it
 * has it replaced by `[REDACTED]`).
 *
 * One client may send from several threads at once (libsoup 3.2 allows
 * sending on one session from any thread that has a thread-default main
 * context); its settings are meant to be set before the first request.
 *
 * Since: 0.1
 */

#define DEFAULT_OPENAI_URL    "https://api.openai.com/v1"
#define DEFAULT_ANTHROPIC_URL "https://api.anthropic.com"
#define ANTHROPIC_VERSION     "2023-06-01"
#define DEFAULT_MAX_TOKENS    1024
#define DEFAULT_TIMEOUT       120.0
/* libsoup's defaults (2 per host) would queue a batch's requests inside
 * the session, out of the limiter's sight. */
#define MAX_CONNS             256

struct _PftHttpChatClient
{
  GObject          parent_instance;

  PftHttpProvider  provider;
  char            *base_url;
  char            *api_key;
  char            *model;
  guint            max_tokens;
  double           temperature;
  char            *system_prompt;
  double           timeout;
  PftRateLimiter  *limiter;

  GMutex           session_mutex;
  SoupSession     *session;
};

G_DEFINE_FINAL_TYPE (PftHttpChatClient, pft_http_chat_client, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_PROVIDER,
  PROP_BASE_URL,
  PROP_API_KEY,
  PROP_HAS_API_KEY,
  PROP_MODEL,
  PROP_MAX_TOKENS,
  PROP_TEMPERATURE,
  PROP_SYSTEM_PROMPT,
  PROP_TIMEOUT,
  PROP_LIMITER,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

/* g_set_str() is GLib 2.76. */
static gboolean
pft_http_chat_client_set_str (char       **ptr,
                              const char  *value)
{
  if (g_strcmp0 (*ptr, value) == 0)
    return FALSE;
  g_free (*ptr);
  *ptr = g_strdup (value);
  return TRUE;
}

/* ------------------------------------------------------------------ */
/* Secrets                                                              */

char *
_pft_http_redact (const char *text,
                  const char *secret)
{
  GString *s;
  const char *p, *hit;
  gsize len;

  if (text == NULL)
    return NULL;
  if (secret == NULL || *secret == '\0')
    return g_strdup (text);
  len = strlen (secret);
  s = g_string_new (NULL);
  for (p = text; (hit = strstr (p, secret)) != NULL; p = hit + len)
    {
      g_string_append_len (s, p, hit - p);
      g_string_append (s, "[REDACTED]");
    }
  g_string_append (s, p);
  return g_string_free (s, FALSE);
}

static void
pft_http_chat_client_wipe_key (PftHttpChatClient *self)
{
  /* Do not leave the key in freed heap memory for a core dump to show. */
  if (self->api_key != NULL)
    {
      explicit_bzero (self->api_key, strlen (self->api_key));
      g_clear_pointer (&self->api_key, g_free);
    }
}

/* ------------------------------------------------------------------ */
/* GObject                                                              */

static void
pft_http_chat_client_constructed (GObject *object)
{
  PftHttpChatClient *self = PFT_HTTP_CHAT_CLIENT (object);

  G_OBJECT_CLASS (pft_http_chat_client_parent_class)->constructed (object);

  if (self->base_url == NULL)
    self->base_url = g_strdup (self->provider == PFT_HTTP_PROVIDER_ANTHROPIC
                               ? DEFAULT_ANTHROPIC_URL : DEFAULT_OPENAI_URL);
  if (self->api_key == NULL)
    {
      const char *env = g_getenv (self->provider == PFT_HTTP_PROVIDER_ANTHROPIC
                                  ? "ANTHROPIC_API_KEY" : "OPENAI_API_KEY");
      if (env != NULL && *env != '\0')
        self->api_key = g_strdup (env);
    }
}

static void
pft_http_chat_client_finalize (GObject *object)
{
  PftHttpChatClient *self = PFT_HTTP_CHAT_CLIENT (object);

  pft_http_chat_client_wipe_key (self);
  g_free (self->base_url);
  g_free (self->model);
  g_free (self->system_prompt);
  g_clear_object (&self->limiter);
  g_clear_object (&self->session);
  g_mutex_clear (&self->session_mutex);

  G_OBJECT_CLASS (pft_http_chat_client_parent_class)->finalize (object);
}

static void
pft_http_chat_client_get_property (GObject    *object,
                                   guint       prop_id,
                                   GValue     *value,
                                   GParamSpec *pspec)
{
  PftHttpChatClient *self = PFT_HTTP_CHAT_CLIENT (object);

  switch (prop_id)
    {
    case PROP_PROVIDER: g_value_set_enum (value, self->provider); break;
    case PROP_BASE_URL: g_value_set_string (value, self->base_url); break;
    case PROP_HAS_API_KEY: g_value_set_boolean (value, pft_http_chat_client_has_api_key (self)); break;
    case PROP_MODEL: g_value_set_string (value, self->model); break;
    case PROP_MAX_TOKENS: g_value_set_uint (value, self->max_tokens); break;
    case PROP_TEMPERATURE: g_value_set_double (value, self->temperature); break;
    case PROP_SYSTEM_PROMPT: g_value_set_string (value, self->system_prompt); break;
    case PROP_TIMEOUT: g_value_set_double (value, self->timeout); break;
    case PROP_LIMITER: g_value_set_object (value, self->limiter); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
pft_http_chat_client_set_property (GObject      *object,
                                   guint         prop_id,
                                   const GValue *value,
                                   GParamSpec   *pspec)
{
  PftHttpChatClient *self = PFT_HTTP_CHAT_CLIENT (object);

  switch (prop_id)
    {
    case PROP_PROVIDER: self->provider = g_value_get_enum (value); break;
    case PROP_BASE_URL:
      /* NULL at construction means "the provider's official URL". */
      if (g_value_get_string (value) != NULL || self->base_url != NULL)
        pft_http_chat_client_set_base_url (self, g_value_get_string (value));
      break;
    case PROP_API_KEY: pft_http_chat_client_set_api_key (self, g_value_get_string (value)); break;
    case PROP_MODEL: pft_http_chat_client_set_model (self, g_value_get_string (value)); break;
    case PROP_MAX_TOKENS: pft_http_chat_client_set_max_tokens (self, g_value_get_uint (value)); break;
    case PROP_TEMPERATURE: pft_http_chat_client_set_temperature (self, g_value_get_double (value)); break;
    case PROP_SYSTEM_PROMPT: pft_http_chat_client_set_system_prompt (self, g_value_get_string (value)); break;
    case PROP_TIMEOUT: pft_http_chat_client_set_timeout (self, g_value_get_double (value)); break;
    case PROP_LIMITER: pft_http_chat_client_set_limiter (self, g_value_get_object (value)); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
pft_http_chat_client_class_init (PftHttpChatClientClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  const GParamFlags rw = G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS;

  object_class->constructed = pft_http_chat_client_constructed;
  object_class->finalize = pft_http_chat_client_finalize;
  object_class->get_property = pft_http_chat_client_get_property;
  object_class->set_property = pft_http_chat_client_set_property;

  /**
   * PftHttpChatClient:provider:
   *
   * The API style spoken: request and reply format, endpoint, auth header.
   *
   * Since: 0.1
   */
  properties[PROP_PROVIDER] =
    g_param_spec_enum ("provider", NULL, NULL, PFT_HTTP_TYPE_PROVIDER, PFT_HTTP_PROVIDER_OPENAI,
                       G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  /**
   * PftHttpChatClient:base-url:
   *
   * Where the API lives: `https://api.openai.com/v1` (OpenAI style, the
   * default) or `https://api.anthropic.com` (Anthropic style, the
   * default), or any compatible server, such as
   * [class@PftHttp.MockServer]. The endpoint path is appended to it.
   *
   * Since: 0.1
   */
  properties[PROP_BASE_URL] =
    g_param_spec_string ("base-url", NULL, NULL, NULL, rw | G_PARAM_CONSTRUCT);
  /**
   * PftHttpChatClient:api-key:
   *
   * The API key, sent as `Authorization: Bearer` (OpenAI) or `x-api-key`
   * (Anthropic). Write-only: a secret is never read back, printed or
   * logged. When not set, `OPENAI_API_KEY` or `ANTHROPIC_API_KEY` (per
   * provider) is read at construction. Without a key no auth header is
   * sent (enough for [class@PftHttp.MockServer] and local servers).
   *
   * Since: 0.1
   */
  properties[PROP_API_KEY] =
    g_param_spec_string ("api-key", NULL, NULL, NULL,
                         G_PARAM_WRITABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  /**
   * PftHttpChatClient:has-api-key:
   *
   * Whether a key is set (the key itself cannot be read).
   *
   * Since: 0.1
   */
  properties[PROP_HAS_API_KEY] =
    g_param_spec_boolean ("has-api-key", NULL, NULL, FALSE, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  /**
   * PftHttpChatClient:model:
   *
   * The model asked for (`gpt-4o-mini`, `claude-3-5-haiku-latest`, ...).
   * Required.
   *
   * Since: 0.1
   */
  properties[PROP_MODEL] = g_param_spec_string ("model", NULL, NULL, NULL, rw);
  /**
   * PftHttpChatClient:max-tokens:
   *
   * The most tokens an answer may have (`max_tokens`); also part of the
   * cost charged to a limiter before sending.
   *
   * Since: 0.1
   */
  properties[PROP_MAX_TOKENS] =
    g_param_spec_uint ("max-tokens", NULL, NULL, 1, G_MAXINT32, DEFAULT_MAX_TOKENS, rw);
  /**
   * PftHttpChatClient:temperature:
   *
   * The sampling temperature, 0 to 2; -1 (the default) sends none, so the
   * provider's default applies.
   *
   * Since: 0.1
   */
  properties[PROP_TEMPERATURE] =
    g_param_spec_double ("temperature", NULL, NULL, -1, 2, -1, rw);
  /**
   * PftHttpChatClient:system-prompt:
   *
   * A system message put before every conversation that has none.
   *
   * Since: 0.1
   */
  properties[PROP_SYSTEM_PROMPT] = g_param_spec_string ("system-prompt", NULL, NULL, NULL, rw);
  /**
   * PftHttpChatClient:timeout:
   *
   * Seconds a whole request may take, connection included, before it
   * fails with `G_IO_ERROR_TIMED_OUT`; 0 for no limit.
   *
   * Since: 0.1
   */
  properties[PROP_TIMEOUT] =
    g_param_spec_double ("timeout", NULL, NULL, 0, G_MAXDOUBLE, DEFAULT_TIMEOUT, rw);
  /**
   * PftHttpChatClient:limiter:
   *
   * A limiter every call of [method@PftHttp.ChatClient.complete_async]
   * goes through, or %NULL. A [class@PftHttp.ChatNode] does not use it: the
   * node's own limiter admits its requests.
   *
   * Since: 0.1
   */
  properties[PROP_LIMITER] =
    g_param_spec_object ("limiter", NULL, NULL, PFT_TYPE_RATE_LIMITER, rw);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
pft_http_chat_client_init (PftHttpChatClient *self)
{
  self->max_tokens = DEFAULT_MAX_TOKENS;
  self->temperature = -1;
  self->timeout = DEFAULT_TIMEOUT;
  g_mutex_init (&self->session_mutex);
}

/**
 * pft_http_chat_client_new:
 * @provider: the API style
 * @base_url: (nullable): where the API lives, or %NULL for the provider's
 *   official URL
 * @model: (nullable): the model
 *
 * Makes a client. The key comes from `OPENAI_API_KEY` or
 * `ANTHROPIC_API_KEY` unless [method@PftHttp.ChatClient.set_api_key] sets
 * one.
 *
 * Returns: (transfer full): a new client
 *
 * Since: 0.1
 */
PftHttpChatClient *
pft_http_chat_client_new (PftHttpProvider  provider,
                          const char      *base_url,
                          const char      *model)
{
  return g_object_new (PFT_HTTP_TYPE_CHAT_CLIENT,
                       "provider", provider,
                       "base-url", base_url,
                       "model", model,
                       NULL);
}

/* ------------------------------------------------------------------ */
/* Accessors                                                            */

/**
 * pft_http_chat_client_get_provider:
 * @self: a client
 *
 * Gets [property@PftHttp.ChatClient:provider], the request and reply
 * format the client speaks.
 *
 * Returns: the API style
 *
 * Since: 0.1
 */
PftHttpProvider
pft_http_chat_client_get_provider (PftHttpChatClient *self)
{
  g_return_val_if_fail (PFT_HTTP_IS_CHAT_CLIENT (self), PFT_HTTP_PROVIDER_OPENAI);
  return self->provider;
}

/**
 * pft_http_chat_client_get_base_url:
 * @self: a client
 *
 * Gets [property@PftHttp.ChatClient:base-url], the URL the endpoint path
 * is appended to.
 *
 * Returns: (nullable): the base URL
 *
 * Since: 0.1
 */
const char *
pft_http_chat_client_get_base_url (PftHttpChatClient *self)
{
  g_return_val_if_fail (PFT_HTTP_IS_CHAT_CLIENT (self), NULL);
  return self->base_url;
}

/**
 * pft_http_chat_client_set_base_url:
 * @self: a client
 * @base_url: (nullable): the base URL; checked when a request is sent
 *   (see [method@PftHttp.ChatClient.check_config])
 *
 * Sets [property@PftHttp.ChatClient:base-url].
 *
 * Since: 0.1
 */
void
pft_http_chat_client_set_base_url (PftHttpChatClient *self,
                                   const char        *base_url)
{
  g_return_if_fail (PFT_HTTP_IS_CHAT_CLIENT (self));
  if (pft_http_chat_client_set_str (&self->base_url, base_url))
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_BASE_URL]);
}

/**
 * pft_http_chat_client_set_api_key:
 * @self: a client
 * @api_key: (nullable): the key, or %NULL for none
 *
 * Sets the API key. There is no getter: see
 * [property@PftHttp.ChatClient:api-key].
 *
 * Since: 0.1
 */
void
pft_http_chat_client_set_api_key (PftHttpChatClient *self,
                                  const char        *api_key)
{
  g_return_if_fail (PFT_HTTP_IS_CHAT_CLIENT (self));

  if (g_strcmp0 (self->api_key, api_key) == 0)
    return;
  pft_http_chat_client_wipe_key (self);
  self->api_key = g_strdup (api_key);
  /* Listeners learn that it changed, never what it is. */
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_HAS_API_KEY]);
}

/**
 * pft_http_chat_client_has_api_key:
 * @self: a client
 *
 * Tells whether the client has an API key,
 * [property@PftHttp.ChatClient:has-api-key]. The key itself cannot be read
 * back.
 *
 * Returns: %TRUE if a key is set
 *
 * Since: 0.1
 */
gboolean
pft_http_chat_client_has_api_key (PftHttpChatClient *self)
{
  g_return_val_if_fail (PFT_HTTP_IS_CHAT_CLIENT (self), FALSE);
  return self->api_key != NULL && *self->api_key != '\0';
}

/**
 * pft_http_chat_client_get_model:
 * @self: a client
 *
 * Gets [property@PftHttp.ChatClient:model], the model every request names.
 *
 * Returns: (nullable): the model
 *
 * Since: 0.1
 */
const char *
pft_http_chat_client_get_model (PftHttpChatClient *self)
{
  g_return_val_if_fail (PFT_HTTP_IS_CHAT_CLIENT (self), NULL);
  return self->model;
}

/**
 * pft_http_chat_client_set_model:
 * @self: a client
 * @model: (nullable): the model
 *
 * Sets [property@PftHttp.ChatClient:model].
 *
 * Since: 0.1
 */
void
pft_http_chat_client_set_model (PftHttpChatClient *self,
                                const char        *model)
{
  g_return_if_fail (PFT_HTTP_IS_CHAT_CLIENT (self));
  if (pft_http_chat_client_set_str (&self->model, model))
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_MODEL]);
}

/**
 * pft_http_chat_client_get_max_tokens:
 * @self: a client
 *
 * Gets [property@PftHttp.ChatClient:max-tokens], the `max_tokens` of every
 * request.
 *
 * Returns: the most tokens an answer may have
 *
 * Since: 0.1
 */
guint
pft_http_chat_client_get_max_tokens (PftHttpChatClient *self)
{
  g_return_val_if_fail (PFT_HTTP_IS_CHAT_CLIENT (self), 0);
  return self->max_tokens;
}

/**
 * pft_http_chat_client_set_max_tokens:
 * @self: a client
 * @max_tokens: at least 1
 *
 * Sets [property@PftHttp.ChatClient:max-tokens].
 *
 * Since: 0.1
 */
void
pft_http_chat_client_set_max_tokens (PftHttpChatClient *self,
                                     guint              max_tokens)
{
  g_return_if_fail (PFT_HTTP_IS_CHAT_CLIENT (self));
  g_return_if_fail (max_tokens >= 1 && max_tokens <= G_MAXINT32);
  if (self->max_tokens != max_tokens)
    {
      self->max_tokens = max_tokens;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_MAX_TOKENS]);
    }
}

/**
 * pft_http_chat_client_get_temperature:
 * @self: a client
 *
 * Gets [property@PftHttp.ChatClient:temperature].
 *
 * Returns: the temperature, or -1 when none is sent
 *
 * Since: 0.1
 */
double
pft_http_chat_client_get_temperature (PftHttpChatClient *self)
{
  g_return_val_if_fail (PFT_HTTP_IS_CHAT_CLIENT (self), -1);
  return self->temperature;
}

/**
 * pft_http_chat_client_set_temperature:
 * @self: a client
 * @temperature: 0 to 2, or -1 to send none
 *
 * Sets [property@PftHttp.ChatClient:temperature].
 *
 * Since: 0.1
 */
void
pft_http_chat_client_set_temperature (PftHttpChatClient *self,
                                      double             temperature)
{
  g_return_if_fail (PFT_HTTP_IS_CHAT_CLIENT (self));
  g_return_if_fail (temperature == -1 || (temperature >= 0 && temperature <= 2));
  if (self->temperature != temperature)
    {
      self->temperature = temperature;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_TEMPERATURE]);
    }
}

/**
 * pft_http_chat_client_get_system_prompt:
 * @self: a client
 *
 * Gets [property@PftHttp.ChatClient:system-prompt], put before the
 * conversations that have none.
 *
 * Returns: (nullable): the system prompt
 *
 * Since: 0.1
 */
const char *
pft_http_chat_client_get_system_prompt (PftHttpChatClient *self)
{
  g_return_val_if_fail (PFT_HTTP_IS_CHAT_CLIENT (self), NULL);
  return self->system_prompt;
}

/**
 * pft_http_chat_client_set_system_prompt:
 * @self: a client
 * @system_prompt: (nullable): the system prompt
 *
 * Sets [property@PftHttp.ChatClient:system-prompt].
 *
 * Since: 0.1
 */
void
pft_http_chat_client_set_system_prompt (PftHttpChatClient *self,
                                        const char        *system_prompt)
{
  g_return_if_fail (PFT_HTTP_IS_CHAT_CLIENT (self));
  if (pft_http_chat_client_set_str (&self->system_prompt, system_prompt))
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SYSTEM_PROMPT]);
}

/**
 * pft_http_chat_client_get_timeout:
 * @self: a client
 *
 * Gets [property@PftHttp.ChatClient:timeout], the limit on a whole
 * request.
 *
 * Returns: the timeout of a request in seconds, 0 for none
 *
 * Since: 0.1
 */
double
pft_http_chat_client_get_timeout (PftHttpChatClient *self)
{
  g_return_val_if_fail (PFT_HTTP_IS_CHAT_CLIENT (self), 0);
  return self->timeout;
}

/**
 * pft_http_chat_client_set_timeout:
 * @self: a client
 * @timeout: seconds, 0 for none
 *
 * Sets [property@PftHttp.ChatClient:timeout].
 *
 * Since: 0.1
 */
void
pft_http_chat_client_set_timeout (PftHttpChatClient *self,
                                  double             timeout)
{
  g_return_if_fail (PFT_HTTP_IS_CHAT_CLIENT (self));
  g_return_if_fail (timeout >= 0 && !isnan (timeout));
  if (self->timeout != timeout)
    {
      self->timeout = timeout;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_TIMEOUT]);
    }
}

/**
 * pft_http_chat_client_get_limiter:
 * @self: a client
 *
 * Gets [property@PftHttp.ChatClient:limiter], the limiter every call goes
 * through.
 *
 * Returns: (transfer none) (nullable): the limiter
 *
 * Since: 0.1
 */
PftRateLimiter *
pft_http_chat_client_get_limiter (PftHttpChatClient *self)
{
  g_return_val_if_fail (PFT_HTTP_IS_CHAT_CLIENT (self), NULL);
  return self->limiter;
}

/**
 * pft_http_chat_client_set_limiter:
 * @self: a client
 * @limiter: (nullable): a limiter
 *
 * Sets [property@PftHttp.ChatClient:limiter].
 *
 * Since: 0.1
 */
void
pft_http_chat_client_set_limiter (PftHttpChatClient *self,
                                  PftRateLimiter    *limiter)
{
  g_return_if_fail (PFT_HTTP_IS_CHAT_CLIENT (self));
  g_return_if_fail (limiter == NULL || PFT_IS_RATE_LIMITER (limiter));
  if (g_set_object (&self->limiter, limiter))
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_LIMITER]);
}

/**
 * pft_http_chat_client_to_string:
 * @self: a client
 *
 * Describes the client for logs, without the key: for example
 * `ChatClient(openai https://api.openai.com/v1 model=gpt-4o-mini key=set)`.
 *
 * Returns: (transfer full): a string
 *
 * Since: 0.1
 */
char *
pft_http_chat_client_to_string (PftHttpChatClient *self)
{
  g_return_val_if_fail (PFT_HTTP_IS_CHAT_CLIENT (self), NULL);

  return g_strdup_printf ("ChatClient(%s %s model=%s max-tokens=%u key=%s)",
                          self->provider == PFT_HTTP_PROVIDER_ANTHROPIC ? "anthropic" : "openai",
                          self->base_url != NULL ? self->base_url : "(none)",
                          self->model != NULL ? self->model : "(none)",
                          self->max_tokens,
                          pft_http_chat_client_has_api_key (self) ? "set" : "none");
}

/* ------------------------------------------------------------------ */
/* Configuration and messages                                           */

/* The endpoint URL, or NULL with INVALID_CONFIG naming the problem. */
static char *
pft_http_chat_client_dup_endpoint (PftHttpChatClient  *self,
                                   GError            **error)
{
  g_autoptr(GUri) uri = NULL;
  g_autoptr(GError) local_error = NULL;
  g_autofree char *base = NULL;
  const char *scheme;

  if (self->base_url == NULL || *self->base_url == '\0')
    {
      g_set_error_literal (error, PFT_HTTP_ERROR, PFT_HTTP_ERROR_INVALID_CONFIG,
                           "No base URL: set base-url (for example https://api.openai.com/v1)");
      return NULL;
    }
  uri = g_uri_parse (self->base_url, G_URI_FLAGS_NONE, &local_error);
  scheme = uri != NULL ? g_uri_get_scheme (uri) : NULL;
  if (uri == NULL || scheme == NULL ||
      (g_ascii_strcasecmp (scheme, "http") != 0 && g_ascii_strcasecmp (scheme, "https") != 0) ||
      g_uri_get_host (uri) == NULL || *g_uri_get_host (uri) == '\0')
    {
      g_set_error (error, PFT_HTTP_ERROR, PFT_HTTP_ERROR_INVALID_CONFIG,
                   "Malformed base-url \"%s\": %s", self->base_url,
                   local_error != NULL ? local_error->message : "not an http:// or https:// URL with a host");
      return NULL;
    }
  if (self->model == NULL || *self->model == '\0')
    {
      g_set_error_literal (error, PFT_HTTP_ERROR, PFT_HTTP_ERROR_INVALID_CONFIG,
                           "No model: set model (for example gpt-4o-mini)");
      return NULL;
    }
  base = g_strdup (self->base_url);
  while (*base != '\0' && base[strlen (base) - 1] == '/')
    base[strlen (base) - 1] = '\0';
  return g_strconcat (base, self->provider == PFT_HTTP_PROVIDER_ANTHROPIC ? "/v1/messages"
                                                                          : "/chat/completions", NULL);
}

/**
 * pft_http_chat_client_check_config:
 * @self: a client
 * @error: return location for a #GError
 *
 * Checks that a request can be sent at all: a base URL that is an
 * `http://` or `https://` URL with a host, and a model. Nothing is sent.
 *
 * Returns: %TRUE if so, else %FALSE with [error@PftHttp.Error.INVALID_CONFIG]
 *   naming the problem
 *
 * Since: 0.1
 */
gboolean
pft_http_chat_client_check_config (PftHttpChatClient  *self,
                                   GError            **error)
{
  g_autofree char *url = NULL;

  g_return_val_if_fail (PFT_HTTP_IS_CHAT_CLIENT (self), FALSE);

  url = pft_http_chat_client_dup_endpoint (self, error);
  return url != NULL;
}

static JsonObject *
message_new (const char *role,
             const char *content)
{
  JsonObject *m = json_object_new ();

  json_object_set_string_member (m, "role", role);
  json_object_set_string_member (m, "content", content != NULL ? content : "");
  return m;
}

JsonArray *
_pft_http_chat_client_build_messages (PftHttpChatClient *self,
                                      const GValue      *value,
                                      GError           **error)
{
  g_autoptr(JsonArray) messages = json_array_new ();
  gboolean has_system = FALSE;
  GVariant *v = NULL;

  if (value != NULL && G_VALUE_HOLDS_STRING (value) && g_value_get_string (value) != NULL)
    json_array_add_object_element (messages, message_new ("user", g_value_get_string (value)));
  else if (value != NULL && G_VALUE_HOLDS_VARIANT (value) && (v = g_value_get_variant (value)) != NULL &&
           g_variant_is_of_type (v, G_VARIANT_TYPE_STRING))
    json_array_add_object_element (messages, message_new ("user", g_variant_get_string (v, NULL)));
  else if (v != NULL && (g_variant_is_of_type (v, G_VARIANT_TYPE ("a(ss)")) ||
                         g_variant_is_of_type (v, G_VARIANT_TYPE ("aa{ss}"))))
    {
      gboolean pairs = g_variant_is_of_type (v, G_VARIANT_TYPE ("a(ss)"));
      gsize n = g_variant_n_children (v);

      for (gsize i = 0; i < n; i++)
        {
          g_autoptr(GVariant) child = g_variant_get_child_value (v, i);
          const char *role = NULL, *content = NULL;

          if (pairs)
            g_variant_get (child, "(&s&s)", &role, &content);
          else if (!g_variant_lookup (child, "role", "&s", &role) ||
                   !g_variant_lookup (child, "content", "&s", &content))
            {
              g_set_error (error, PFT_ERROR, PFT_ERROR_INVALID_ARGUMENT,
                           "Message %" G_GSIZE_FORMAT " has no \"role\" or no \"content\"", i);
              return NULL;
            }
          if (g_strcmp0 (role, "system") == 0)
            has_system = TRUE;
          json_array_add_object_element (messages, message_new (role, content));
        }
    }
  else
    {
      g_set_error (error, PFT_ERROR, PFT_ERROR_INVALID_ARGUMENT,
                   "A chat item must be a prompt string or a GVariant of type a(ss) or aa{ss} "
                   "(role, content), not %s%s%s",
                   value != NULL ? G_VALUE_TYPE_NAME (value) : "nothing",
                   v != NULL ? " of type " : "", v != NULL ? g_variant_get_type_string (v) : "");
      return NULL;
    }

  if (json_array_get_length (messages) == 0)
    {
      g_set_error_literal (error, PFT_ERROR, PFT_ERROR_INVALID_ARGUMENT, "A chat item has no messages");
      return NULL;
    }
  if (!has_system && self->system_prompt != NULL && *self->system_prompt != '\0')
    {
      g_autoptr(JsonArray) with_system = json_array_new ();
      json_array_add_object_element (with_system, message_new ("system", self->system_prompt));
      for (guint i = 0; i < json_array_get_length (messages); i++)
        json_array_add_element (with_system, json_node_copy (json_array_get_element (messages, i)));
      return g_steal_pointer (&with_system);
    }
  return g_steal_pointer (&messages);
}

static guint64
pft_http_chat_client_estimate (PftHttpChatClient *self,
                               JsonArray         *messages)
{
  guint64 chars = 0;
  guint n = json_array_get_length (messages);

  /* About 4 characters a token in English, plus a few tokens of framing
   * a message; the answer may use all of max-tokens. */
  for (guint i = 0; i < n; i++)
    {
      JsonObject *m = json_array_get_object_element (messages, i);
      const char *content = json_object_get_string_member_with_default (m, "content", "");
      chars += g_utf8_strlen (content, -1);
    }
  return (chars + 3) / 4 + 4 * (guint64) n + self->max_tokens;
}

/**
 * pft_http_chat_client_estimate_tokens:
 * @self: a client
 * @messages: a prompt (`s`) or messages (`a(ss)` or `aa{ss}`)
 *
 * Estimates what a request will cost in tokens before it is sent: the
 * characters of the messages / 4, 4 per message, plus
 * [property@PftHttp.ChatClient:max-tokens] for the answer. This is the cost
 * charged to a limiter's `max-cost-per-window` before sending; the reply's
 * usage settles it.
 *
 * Returns: the estimate, or 0 if @messages has the wrong type
 *
 * Since: 0.1
 */
guint64
pft_http_chat_client_estimate_tokens (PftHttpChatClient *self,
                                      GVariant          *messages)
{
  g_auto(GValue) value = G_VALUE_INIT;
  g_autoptr(JsonArray) array = NULL;

  g_return_val_if_fail (PFT_HTTP_IS_CHAT_CLIENT (self), 0);
  g_return_val_if_fail (messages != NULL, 0);

  g_value_init (&value, G_TYPE_VARIANT);
  g_value_set_variant (&value, messages);
  array = _pft_http_chat_client_build_messages (self, &value, NULL);
  return array != NULL ? pft_http_chat_client_estimate (self, array) : 0;
}

void
_pft_http_chat_client_acquire_async (PftHttpChatClient   *self,
                                     JsonArray           *messages,
                                     PftRateLimiter      *limiter,
                                     GCancellable        *cancellable,
                                     GAsyncReadyCallback  callback,
                                     gpointer             user_data)
{
  guint64 cost = pft_http_chat_client_estimate (self, messages);
  guint64 max_cost = pft_rate_limiter_get_max_cost_per_window (limiter);

  /* A request bigger than the whole window still has to go, alone. */
  if (max_cost > 0)
    cost = MIN (cost, max_cost);
  pft_rate_limiter_acquire_async (limiter, cost, cancellable, callback, user_data);
}

void
_pft_http_chat_client_settle (PftPermit        *permit,
                              PftHttpChatReply *reply,
                              const GError     *error)
{
  if (reply != NULL && pft_http_chat_reply_has_usage (reply))
    pft_permit_settle (permit, pft_http_chat_reply_get_input_tokens (reply) +
                               pft_http_chat_reply_get_output_tokens (reply));
  else if (error != NULL && pft_http_error_get_status (error) != 0)
    pft_permit_settle (permit, 0);   /* refused: the provider counted nothing */
}

static JsonNode *
pft_http_chat_client_build_body (PftHttpChatClient *self,
                                 JsonArray         *messages)
{
  JsonObject *body = json_object_new ();
  JsonNode *node = json_node_new (JSON_NODE_OBJECT);

  json_object_set_string_member (body, "model", self->model);
  json_object_set_int_member (body, "max_tokens", self->max_tokens);
  if (self->temperature >= 0)
    json_object_set_double_member (body, "temperature", self->temperature);

  if (self->provider == PFT_HTTP_PROVIDER_ANTHROPIC)
    {
      /* Anthropic takes the system prompt beside the messages. */
      JsonArray *rest = json_array_new ();
      GString *system = NULL;

      for (guint i = 0; i < json_array_get_length (messages); i++)
        {
          JsonObject *m = json_array_get_object_element (messages, i);
          if (g_strcmp0 (json_object_get_string_member (m, "role"), "system") == 0)
            {
              if (system == NULL)
                system = g_string_new (NULL);
              else
                g_string_append (system, "\n\n");
              g_string_append (system, json_object_get_string_member (m, "content"));
            }
          else
            json_array_add_element (rest, json_node_copy (json_array_get_element (messages, i)));
        }
      if (system != NULL)
        json_object_set_string_member (body, "system", system->str);
      json_object_set_array_member (body, "messages", rest);
      if (system != NULL)
        g_string_free (system, TRUE);
    }
  else
    json_object_set_array_member (body, "messages", json_array_ref (messages));

  json_node_take_object (node, body);
  return node;
}

/* ------------------------------------------------------------------ */
/* Sending                                                              */

typedef struct
{
  SoupMessage        *msg;
  GCancellable       *cancellable;       /* ours: the user's or the timeout cancel it */
  GCancellable       *user_cancellable;
  gulong              cancel_id;
  GSource            *timeout_source;
  gboolean            timed_out;
  gint64              start_us;
  char               *url;
  PftHttpRateHeaders *headers;
} SendData;

static void
send_data_free (SendData *data)
{
  if (data->timeout_source != NULL)
    {
      g_source_destroy (data->timeout_source);
      g_source_unref (data->timeout_source);
    }
  if (data->cancel_id != 0)
    g_cancellable_disconnect (data->user_cancellable, data->cancel_id);
  g_clear_object (&data->user_cancellable);
  g_clear_object (&data->cancellable);
  g_clear_object (&data->msg);
  g_clear_object (&data->headers);
  g_free (data->url);
  g_free (data);
}

static void
send_data_user_cancelled (GCancellable *user_cancellable,
                          GCancellable *ours)
{
  g_cancellable_cancel (ours);
}

static gboolean
send_data_timed_out (gpointer user_data)
{
  SendData *data = user_data;

  data->timed_out = TRUE;
  g_cancellable_cancel (data->cancellable);
  return G_SOURCE_REMOVE;
}

static SoupSession *
pft_http_chat_client_get_session (PftHttpChatClient *self)
{
  SoupSession *session;

  g_mutex_lock (&self->session_mutex);
  if (self->session == NULL)
    self->session = g_object_new (SOUP_TYPE_SESSION,
                                  "max-conns", MAX_CONNS,
                                  "max-conns-per-host", MAX_CONNS,
                                  /* Not libsoup's 60 s I/O timeout: a long
                                   * answer can take longer; the client's
                                   * own timeout bounds the whole request. */
                                  "timeout", 0,
                                  "user-agent", "pft-http",
                                  NULL);
  session = g_object_ref (self->session);
  g_mutex_unlock (&self->session_mutex);
  return session;
}

/* The provider's message from an error body, or NULL: OpenAI
 * {"error":{"message":...}}, Anthropic {"type":"error","error":{...}},
 * or a bare {"message":...} / {"error":"..."}. */
static const char *
error_message_of (JsonNode *root)
{
  JsonObject *o, *e;

  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    return NULL;
  o = json_node_get_object (root);
  if (json_object_has_member (o, "error"))
    {
      JsonNode *en = json_object_get_member (o, "error");
      if (JSON_NODE_HOLDS_OBJECT (en))
        {
          e = json_node_get_object (en);
          return json_object_get_string_member_with_default (e, "message", NULL);
        }
      if (JSON_NODE_HOLDS_VALUE (en) && json_node_get_value_type (en) == G_TYPE_STRING)
        return json_node_get_string (en);
    }
  return json_object_get_string_member_with_default (o, "message", NULL);
}

/* The start of a body that is not what was expected, for error messages. */
static char *
body_excerpt (GBytes     *body,
              const char *secret)
{
  gsize len = 0;
  const char *data = body != NULL ? g_bytes_get_data (body, &len) : NULL;
  g_autofree char *valid = NULL;
  g_autofree char *cut = NULL;

  if (data == NULL || len == 0)
    return g_strdup ("(empty body)");
  valid = g_utf8_make_valid (data, MIN (len, 200));
  cut = g_strescape (valid, NULL);
  return _pft_http_redact (cut, secret);
}

static guint64
member_uint (JsonObject *o,
             const char *name,
             gboolean   *found)
{
  JsonNode *n = o != NULL ? json_object_get_member (o, name) : NULL;
  gint64 v;

  if (n == NULL || !JSON_NODE_HOLDS_VALUE (n) || json_node_get_value_type (n) != G_TYPE_INT64)
    return 0;
  v = json_node_get_int (n);
  if (v < 0)
    return 0;
  *found = TRUE;
  return (guint64) v;
}

static PftHttpChatReply *
pft_http_chat_client_parse_reply (PftHttpChatClient *self,
                                  SendData          *data,
                                  JsonNode          *root,
                                  guint              status,
                                  double             latency,
                                  GError           **error)
{
  JsonObject *o = JSON_NODE_HOLDS_OBJECT (root) ? json_node_get_object (root) : NULL;
  JsonObject *usage = NULL;
  g_autofree char *text = NULL;
  const char *finish = NULL;
  gboolean has_usage = FALSE;
  guint64 in, out;

  if (o == NULL)
    {
      g_set_error (error, PFT_HTTP_ERROR, PFT_HTTP_ERROR_INVALID_REPLY,
                   "Reply of POST %s (HTTP %u) is not a JSON object", data->url, status);
      return NULL;
    }

  if (self->provider == PFT_HTTP_PROVIDER_ANTHROPIC)
    {
      JsonNode *content = json_object_get_member (o, "content");
      GString *s;
      JsonArray *blocks;

      if (content == NULL || !JSON_NODE_HOLDS_ARRAY (content))
        {
          g_set_error (error, PFT_HTTP_ERROR, PFT_HTTP_ERROR_INVALID_REPLY,
                       "Reply of POST %s (HTTP %u) has no \"content\" array", data->url, status);
          return NULL;
        }
      blocks = json_node_get_array (content);
      s = g_string_new (NULL);
      for (guint i = 0; i < json_array_get_length (blocks); i++)
        {
          JsonNode *b = json_array_get_element (blocks, i);
          if (JSON_NODE_HOLDS_OBJECT (b))
            {
              JsonObject *bo = json_node_get_object (b);
              if (g_strcmp0 (json_object_get_string_member_with_default (bo, "type", ""), "text") == 0)
                g_string_append (s, json_object_get_string_member_with_default (bo, "text", ""));
            }
        }
      text = g_string_free (s, FALSE);
      finish = json_object_get_string_member_with_default (o, "stop_reason", NULL);
      if (json_object_has_member (o, "usage") && JSON_NODE_HOLDS_OBJECT (json_object_get_member (o, "usage")))
        usage = json_object_get_object_member (o, "usage");
      in = member_uint (usage, "input_tokens", &has_usage);
      out = member_uint (usage, "output_tokens", &has_usage);
    }
  else
    {
      JsonNode *choices = json_object_get_member (o, "choices");
      JsonNode *first, *message, *content;
      JsonObject *fo;

      if (choices == NULL || !JSON_NODE_HOLDS_ARRAY (choices) ||
          json_array_get_length (json_node_get_array (choices)) == 0)
        {
          g_set_error (error, PFT_HTTP_ERROR, PFT_HTTP_ERROR_INVALID_REPLY,
                       "Reply of POST %s (HTTP %u) has no \"choices\"", data->url, status);
          return NULL;
        }
      first = json_array_get_element (json_node_get_array (choices), 0);
      fo = JSON_NODE_HOLDS_OBJECT (first) ? json_node_get_object (first) : NULL;
      message = fo != NULL ? json_object_get_member (fo, "message") : NULL;
      content = message != NULL && JSON_NODE_HOLDS_OBJECT (message)
                ? json_object_get_member (json_node_get_object (message), "content") : NULL;
      if (content == NULL || !(JSON_NODE_HOLDS_NULL (content) ||
                               (JSON_NODE_HOLDS_VALUE (content) &&
                                json_node_get_value_type (content) == G_TYPE_STRING)))
        {
          g_set_error (error, PFT_HTTP_ERROR, PFT_HTTP_ERROR_INVALID_REPLY,
                       "Reply of POST %s (HTTP %u) has no choices[0].message.content", data->url, status);
          return NULL;
        }
      /* A null content (a refusal, a tool call) is an empty text. */
      text = g_strdup (JSON_NODE_HOLDS_NULL (content) ? "" : json_node_get_string (content));
      finish = json_object_get_string_member_with_default (fo, "finish_reason", NULL);
      if (json_object_has_member (o, "usage") && JSON_NODE_HOLDS_OBJECT (json_object_get_member (o, "usage")))
        usage = json_object_get_object_member (o, "usage");
      in = member_uint (usage, "prompt_tokens", &has_usage);
      out = member_uint (usage, "completion_tokens", &has_usage);
    }

  return _pft_http_chat_reply_new (text, json_object_get_string_member_with_default (o, "model", NULL),
                                   finish, has_usage, in, out, status, latency, root, data->headers);
}

static void
pft_http_chat_client_send_cb (GObject      *source,
                              GAsyncResult *result,
                              gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  PftHttpChatClient *self = g_task_get_source_object (task);
  SendData *data = g_task_get_task_data (task);
  g_autoptr(GBytes) body = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonParser) parser = NULL;
  g_autoptr(GError) parse_error = NULL;
  JsonNode *root = NULL;
  double latency;
  guint status;
  PftHttpChatReply *reply;

  body = soup_session_send_and_read_finish (SOUP_SESSION (source), result, &error);
  latency = (g_get_monotonic_time () - data->start_us) / 1e6;

  if (body == NULL)
    {
      if (data->timed_out)
        g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                                 "No answer from POST %s within %g s (timeout)", data->url, self->timeout);
      else if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        g_task_return_error (task, g_steal_pointer (&error));
      else
        {
          g_autofree char *msg = _pft_http_redact (error->message, self->api_key);
          g_task_return_new_error (task, error->domain, error->code, "POST %s failed: %s", data->url, msg);
        }
      return;
    }

  status = soup_message_get_status (data->msg);
  pft_http_rate_headers_add_soup (data->headers, soup_message_get_response_headers (data->msg));

  parser = json_parser_new_immutable ();
  if (json_parser_load_from_data (parser, g_bytes_get_data (body, NULL), g_bytes_get_size (body), &parse_error))
    root = json_parser_get_root (parser);

  if (status == 429)
    {
      g_autofree char *provider_msg = _pft_http_redact (error_message_of (root), self->api_key);
      g_autofree char *msg = g_strdup_printf ("HTTP 429 from POST %s: %s", data->url,
                                              provider_msg != NULL ? provider_msg : "Too Many Requests");
      g_task_return_error (task, pft_error_new_rate_limited (pft_http_rate_headers_get_retry_after (data->headers),
                                                             NULL, msg));
      return;
    }
  if (!SOUP_STATUS_IS_SUCCESSFUL (status))
    {
      g_autofree char *provider_msg = _pft_http_redact (error_message_of (root), self->api_key);
      g_autofree char *excerpt = provider_msg == NULL ? body_excerpt (body, self->api_key) : NULL;
      g_autofree char *msg = g_strdup_printf ("HTTP %u %s from POST %s: %s", status,
                                              soup_status_get_phrase (status) != NULL
                                              ? soup_status_get_phrase (status) : "",
                                              data->url, provider_msg != NULL ? provider_msg : excerpt);
      g_task_return_error (task, _pft_http_error_new_status (PFT_HTTP_ERROR_STATUS, status, msg));
      return;
    }
  if (root == NULL)
    {
      g_autofree char *excerpt = body_excerpt (body, self->api_key);
      g_autofree char *msg = g_strdup_printf ("Reply of POST %s (HTTP %u) is not JSON (%s): %s",
                                              data->url, status,
                                              parse_error != NULL ? parse_error->message : "empty", excerpt);
      g_task_return_error (task, _pft_http_error_new_status (PFT_HTTP_ERROR_INVALID_REPLY, status, msg));
      return;
    }

  reply = pft_http_chat_client_parse_reply (self, data, root, status, latency, &error);
  if (reply == NULL)
    {
      g_task_return_error (task, _pft_http_error_new_status (PFT_HTTP_ERROR_INVALID_REPLY, status, error->message));
      return;
    }
  g_task_return_pointer (task, reply, g_object_unref);
}

void
_pft_http_chat_client_send_async (PftHttpChatClient   *self,
                                  JsonArray           *messages,
                                  GCancellable        *cancellable,
                                  GAsyncReadyCallback  callback,
                                  gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(SoupSession) session = NULL;
  g_autoptr(JsonNode) body = NULL;
  g_autoptr(GBytes) request_body = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *json = NULL;
  g_autofree char *url = NULL;
  SoupMessageHeaders *request_headers;
  SendData *data;
  gsize len;

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, _pft_http_chat_client_send_async);
  data = g_new0 (SendData, 1);
  data->headers = pft_http_rate_headers_new ();
  g_task_set_task_data (task, data, (GDestroyNotify) send_data_free);

  url = pft_http_chat_client_dup_endpoint (self, &error);
  if (url == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  data->msg = soup_message_new (SOUP_METHOD_POST, url);
  if (data->msg == NULL)
    {
      g_task_return_new_error (task, PFT_HTTP_ERROR, PFT_HTTP_ERROR_INVALID_CONFIG,
                               "Malformed base-url \"%s\": libsoup cannot send to %s", self->base_url, url);
      return;
    }
  data->url = g_steal_pointer (&url);

  body = pft_http_chat_client_build_body (self, messages);
  json = json_to_string (body, FALSE);
  len = strlen (json);
  request_body = g_bytes_new_take (g_steal_pointer (&json), len);
  soup_message_set_request_body_from_bytes (data->msg, "application/json", request_body);
  request_headers = soup_message_get_request_headers (data->msg);
  if (self->provider == PFT_HTTP_PROVIDER_ANTHROPIC)
    {
      soup_message_headers_replace (request_headers, "anthropic-version", ANTHROPIC_VERSION);
      if (pft_http_chat_client_has_api_key (self))
        soup_message_headers_replace (request_headers, "x-api-key", self->api_key);
    }
  else if (pft_http_chat_client_has_api_key (self))
    {
      g_autofree char *auth = g_strconcat ("Bearer ", self->api_key, NULL);
      soup_message_headers_replace (request_headers, "Authorization", auth);
      explicit_bzero (auth, strlen (auth));
    }

  data->cancellable = g_cancellable_new ();
  if (cancellable != NULL)
    {
      data->user_cancellable = g_object_ref (cancellable);
      data->cancel_id = g_cancellable_connect (cancellable, G_CALLBACK (send_data_user_cancelled),
                                               data->cancellable, NULL);
    }
  if (self->timeout > 0)
    {
      data->timeout_source = g_timeout_source_new ((guint) MIN (ceil (self->timeout * 1000), G_MAXUINT));
      g_source_set_callback (data->timeout_source, send_data_timed_out, data, NULL);
      g_source_attach (data->timeout_source, g_task_get_context (task));
    }

  session = pft_http_chat_client_get_session (self);
  data->start_us = g_get_monotonic_time ();
  soup_session_send_and_read_async (session, data->msg, G_PRIORITY_DEFAULT, data->cancellable,
                                    pft_http_chat_client_send_cb, g_steal_pointer (&task));
}

PftHttpChatReply *
_pft_http_chat_client_send_finish (PftHttpChatClient   *self,
                                   GAsyncResult        *result,
                                   PftHttpRateHeaders **headers,
                                   GError             **error)
{
  SendData *data;

  g_return_val_if_fail (g_task_is_valid (result, self), NULL);

  data = g_task_get_task_data (G_TASK (result));
  if (headers != NULL)
    *headers = g_object_ref (data->headers);
  return g_task_propagate_pointer (G_TASK (result), error);
}

/* ------------------------------------------------------------------ */
/* The public calls: limiter, send, headers, settle                     */

typedef struct
{
  JsonArray *messages;
  PftPermit *permit;
} CompleteData;

static void
complete_data_free (CompleteData *data)
{
  g_clear_pointer (&data->messages, json_array_unref);
  g_clear_object (&data->permit);
  g_free (data);
}

static void
pft_http_chat_client_complete_sent_cb (GObject      *source,
                                       GAsyncResult *result,
                                       gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  PftHttpChatClient *self = PFT_HTTP_CHAT_CLIENT (source);
  CompleteData *data = g_task_get_task_data (task);
  g_autoptr(PftHttpRateHeaders) headers = NULL;
  g_autoptr(GError) error = NULL;
  PftHttpChatReply *reply;

  reply = _pft_http_chat_client_send_finish (self, result, &headers, &error);
  if (data->permit != NULL)
    {
      PftRateLimiter *limiter = pft_permit_get_limiter (data->permit);

      /* The retry-after of a 429 pauses through report_error below. */
      _pft_http_rate_headers_apply_requests (headers, limiter, error == NULL ||
                                             !g_error_matches (error, PFT_ERROR, PFT_ERROR_RATE_LIMITED));
      pft_http_rate_headers_apply_tokens (headers, limiter);
      _pft_http_chat_client_settle (data->permit, reply, error);
      /* Only a 429 is a rate limit: Pft's default test would also take a
       * "429" in the port of the URL of any other error. */
      if (g_error_matches (error, PFT_ERROR, PFT_ERROR_RATE_LIMITED))
        pft_rate_limiter_report_error (limiter, error);
      pft_permit_release (data->permit);
    }
  if (reply == NULL)
    g_task_return_error (task, g_steal_pointer (&error));
  else
    g_task_return_pointer (task, reply, g_object_unref);
}

static void
pft_http_chat_client_complete_send (GTask *task)
{
  PftHttpChatClient *self = g_task_get_source_object (task);
  CompleteData *data = g_task_get_task_data (task);

  _pft_http_chat_client_send_async (self, data->messages, g_task_get_cancellable (task),
                                    pft_http_chat_client_complete_sent_cb, task);
}

static void
pft_http_chat_client_complete_acquired_cb (GObject      *source,
                                           GAsyncResult *result,
                                           gpointer      user_data)
{
  GTask *task = user_data;
  CompleteData *data = g_task_get_task_data (task);
  GError *error = NULL;

  data->permit = pft_rate_limiter_acquire_finish (PFT_RATE_LIMITER (source), result, &error);
  if (data->permit == NULL)
    {
      g_task_return_error (task, error);
      g_object_unref (task);
      return;
    }
  pft_http_chat_client_complete_send (task);
}

static void
pft_http_chat_client_start (PftHttpChatClient   *self,
                            const GValue        *value,
                            gpointer             source_tag,
                            GCancellable        *cancellable,
                            GAsyncReadyCallback  callback,
                            gpointer             user_data)
{
  GTask *task = g_task_new (self, cancellable, callback, user_data);
  CompleteData *data = g_new0 (CompleteData, 1);
  GError *error = NULL;

  g_task_set_source_tag (task, source_tag);
  g_task_set_task_data (task, data, (GDestroyNotify) complete_data_free);

  data->messages = _pft_http_chat_client_build_messages (self, value, &error);
  if (data->messages == NULL || !pft_http_chat_client_check_config (self, &error))
    {
      g_task_return_error (task, error);
      g_object_unref (task);
      return;
    }
  if (self->limiter != NULL)
    _pft_http_chat_client_acquire_async (self, data->messages, self->limiter, cancellable,
                                         pft_http_chat_client_complete_acquired_cb, task);
  else
    pft_http_chat_client_complete_send (task);
}

/**
 * pft_http_chat_client_complete_async:
 * @self: a client
 * @prompt: the user's message (after [property@PftHttp.ChatClient:system-prompt])
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when the reply is there
 * @user_data: data for @callback
 *
 * Sends one chat completion. @callback runs on the thread-default main
 * context of the caller. With a [property@PftHttp.ChatClient:limiter],
 * waits for a permit first. See [class@PftHttp.ChatClient] for the errors.
 *
 * Since: 0.1
 */
void
pft_http_chat_client_complete_async (PftHttpChatClient   *self,
                                     const char          *prompt,
                                     GCancellable        *cancellable,
                                     GAsyncReadyCallback  callback,
                                     gpointer             user_data)
{
  g_auto(GValue) value = G_VALUE_INIT;

  g_return_if_fail (PFT_HTTP_IS_CHAT_CLIENT (self));
  g_return_if_fail (prompt != NULL);

  g_value_init (&value, G_TYPE_STRING);
  g_value_set_string (&value, prompt);
  pft_http_chat_client_start (self, &value, pft_http_chat_client_complete_async,
                              cancellable, callback, user_data);
}

/**
 * pft_http_chat_client_complete_finish:
 * @self: a client
 * @result: the result given to the callback
 * @error: return location for a #GError
 *
 * Completes [method@PftHttp.ChatClient.complete_async].
 *
 * Returns: (transfer full): the reply, or %NULL with @error set
 *
 * Since: 0.1
 */
PftHttpChatReply *
pft_http_chat_client_complete_finish (PftHttpChatClient  *self,
                                      GAsyncResult       *result,
                                      GError            **error)
{
  g_return_val_if_fail (PFT_HTTP_IS_CHAT_CLIENT (self), NULL);
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

/**
 * pft_http_chat_client_complete_messages_async:
 * @self: a client
 * @messages: the conversation: a #GVariant of type `a(ss)` (role, content)
 *   or `aa{ss}` (with `role` and `content` keys), or a plain prompt `s`
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when the reply is there
 * @user_data: data for @callback
 *
 * As [method@PftHttp.ChatClient.complete_async] for a whole conversation.
 * Roles are `system`, `user` and `assistant`; system messages go into
 * Anthropic's `system` field. A wrong type fails with
 * [error@Pft.Error.INVALID_ARGUMENT].
 *
 * Since: 0.1
 */
void
pft_http_chat_client_complete_messages_async (PftHttpChatClient   *self,
                                              GVariant            *messages,
                                              GCancellable        *cancellable,
                                              GAsyncReadyCallback  callback,
                                              gpointer             user_data)
{
  g_auto(GValue) value = G_VALUE_INIT;

  g_return_if_fail (PFT_HTTP_IS_CHAT_CLIENT (self));
  g_return_if_fail (messages != NULL);

  g_value_init (&value, G_TYPE_VARIANT);
  g_value_set_variant (&value, messages);
  pft_http_chat_client_start (self, &value, pft_http_chat_client_complete_messages_async,
                              cancellable, callback, user_data);
}

/**
 * pft_http_chat_client_complete_messages_finish:
 * @self: a client
 * @result: the result given to the callback
 * @error: return location for a #GError
 *
 * Completes [method@PftHttp.ChatClient.complete_messages_async].
 *
 * Returns: (transfer full): the reply, or %NULL with @error set
 *
 * Since: 0.1
 */
PftHttpChatReply *
pft_http_chat_client_complete_messages_finish (PftHttpChatClient  *self,
                                               GAsyncResult       *result,
                                               GError            **error)
{
  g_return_val_if_fail (PFT_HTTP_IS_CHAT_CLIENT (self), NULL);
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}
