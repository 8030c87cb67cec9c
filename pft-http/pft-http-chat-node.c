/* pft-http-chat-node.c: an adaptive batch node that sends chat completions
 *
 * SPDX-License-Identifier: MIT
 */

#include <math.h>
#include <string.h>

#include "pft-http.h"
#include "pft-http-private.h"

/**
 * PftHttpChatNode:
 *
 * A ready [class@Pft.AdaptiveNode] whose items are prompts and whose
 * results are the replies: `prep` reads the items from the store under
 * [property@PftHttp.ChatNode:input-key] (a [class@Pft.Values] of prompt
 * strings or `a(ss)` / `aa{ss}` conversations, or a string array), `exec`
 * sends one chat completion per item with its
 * [property@PftHttp.ChatNode:client], asynchronously (libsoup, no thread
 * per request), and `post` stores the results, in input order, under
 * [property@PftHttp.ChatNode:output-key].
 *
 * The provider's headers drive the limiter: after every answer (429s
 * included) its rate-limit headers act on the node's limiter
 * ([method@PftHttp.RateHeaders.apply_requests]: `remaining` 0 pauses it
 * until the reset, a lower limit calibrates it, never above what was
 * configured) and on the [property@PftHttp.ChatNode:token-limiter]. A 429
 * is [error@Pft.Error.RATE_LIMITED] with the retry-after: the limiter
 * pauses for everyone and the adaptive controller backs off, as for any
 * rate limit.
 *
 * Tokens: before sending, the request's estimated tokens
 * ([method@PftHttp.ChatClient.estimate_tokens]) are charged to the token
 * limiter's `max-cost-per-window`; the reply's usage settles the charge
 * (a refused request is settled at 0). The token limiter is a limiter of
 * its own (no concurrency or request limit, a 60 s window) rather than the
 * request limiter's cost window, because the batch machinery charges a
 * fixed cost per attempt there and the node can only know an item's cost
 * once it runs.
 *
 * Every item ends with a result or an error: server errors (5xx), dropped
 * connections and timeouts are ordinary failed attempts, retried up to
 * [property@Pft.Node:max-retries] with [property@Pft.Node:wait] between;
 * [property@Pft.ThrottledBatchNode:continue-on-error] is on by default, so
 * one failed item leaves a #GError at its place in the results instead of
 * cancelling the batch. A configuration that cannot work (no base URL, a
 * malformed one, no model) fails the run at once, in `prep`.
 *
 * Subclasses (in C, Python, JavaScript, Vala) override
 * [vfunc@PftHttp.ChatNode.build_messages] (how an item becomes a prompt)
 * and [vfunc@PftHttp.ChatNode.handle_reply] (what is kept of a reply).
 *
 * Since: 0.1
 */

typedef struct
{
  PftHttpChatClient *client;
  PftRateLimiter    *token_limiter;
  gboolean           own_token_limiter;   /* made by the node, not set by the user */
  char              *input_key;
  char              *output_key;
  double             provider_window;
  double             arrival_margin;

  GMutex             mutex;
  guint64            requests_sent;
  guint64            rate_limited;
  guint64            retries;
} PftHttpChatNodePrivate;

G_DEFINE_TYPE_WITH_PRIVATE (PftHttpChatNode, pft_http_chat_node, PFT_TYPE_ADAPTIVE_NODE)

enum {
  PROP_0,
  PROP_CLIENT,
  PROP_TOKEN_LIMITER,
  PROP_INPUT_KEY,
  PROP_OUTPUT_KEY,
  PROP_PROVIDER_WINDOW,
  PROP_ARRIVAL_MARGIN,
  PROP_REQUESTS_SENT,
  PROP_RATE_LIMITED_REPLIES,
  PROP_RETRIES,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

enum {
  SIGNAL_RATE_HEADERS,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

#define DEFAULT_INPUT_KEY  "prompts"
#define DEFAULT_OUTPUT_KEY "replies"

/* ------------------------------------------------------------------ */
/* GObject                                                              */

static void
pft_http_chat_node_finalize (GObject *object)
{
  PftHttpChatNode *self = PFT_HTTP_CHAT_NODE (object);
  PftHttpChatNodePrivate *priv = pft_http_chat_node_get_instance_private (self);

  g_clear_object (&priv->client);
  g_clear_object (&priv->token_limiter);
  g_free (priv->input_key);
  g_free (priv->output_key);
  g_mutex_clear (&priv->mutex);

  G_OBJECT_CLASS (pft_http_chat_node_parent_class)->finalize (object);
}

static guint64
pft_http_chat_node_read_counter (PftHttpChatNode *self,
                                 const guint64   *counter)
{
  PftHttpChatNodePrivate *priv = pft_http_chat_node_get_instance_private (self);
  guint64 v;

  g_mutex_lock (&priv->mutex);
  v = *counter;
  g_mutex_unlock (&priv->mutex);
  return v;
}

static void
pft_http_chat_node_get_property (GObject    *object,
                                 guint       prop_id,
                                 GValue     *value,
                                 GParamSpec *pspec)
{
  PftHttpChatNode *self = PFT_HTTP_CHAT_NODE (object);
  PftHttpChatNodePrivate *priv = pft_http_chat_node_get_instance_private (self);

  switch (prop_id)
    {
    case PROP_CLIENT: g_value_set_object (value, priv->client); break;
    case PROP_TOKEN_LIMITER: g_value_set_object (value, priv->token_limiter); break;
    case PROP_INPUT_KEY: g_value_set_string (value, priv->input_key); break;
    case PROP_OUTPUT_KEY: g_value_set_string (value, priv->output_key); break;
    case PROP_PROVIDER_WINDOW: g_value_set_double (value, priv->provider_window); break;
    case PROP_ARRIVAL_MARGIN: g_value_set_double (value, priv->arrival_margin); break;
    case PROP_REQUESTS_SENT: g_value_set_uint64 (value, pft_http_chat_node_get_requests_sent (self)); break;
    case PROP_RATE_LIMITED_REPLIES: g_value_set_uint64 (value, pft_http_chat_node_get_rate_limited_replies (self)); break;
    case PROP_RETRIES: g_value_set_uint64 (value, pft_http_chat_node_get_retries (self)); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
pft_http_chat_node_set_property (GObject      *object,
                                 guint         prop_id,
                                 const GValue *value,
                                 GParamSpec   *pspec)
{
  PftHttpChatNode *self = PFT_HTTP_CHAT_NODE (object);

  switch (prop_id)
    {
    case PROP_CLIENT: pft_http_chat_node_set_client (self, g_value_get_object (value)); break;
    case PROP_TOKEN_LIMITER: pft_http_chat_node_set_token_limiter (self, g_value_get_object (value)); break;
    case PROP_INPUT_KEY: pft_http_chat_node_set_input_key (self, g_value_get_string (value)); break;
    case PROP_OUTPUT_KEY: pft_http_chat_node_set_output_key (self, g_value_get_string (value)); break;
    case PROP_PROVIDER_WINDOW: pft_http_chat_node_set_provider_window (self, g_value_get_double (value)); break;
    case PROP_ARRIVAL_MARGIN:
      {
        PftHttpChatNodePrivate *priv = pft_http_chat_node_get_instance_private (self);

        if (priv->arrival_margin != g_value_get_double (value))
          {
            priv->arrival_margin = g_value_get_double (value);
            g_object_notify_by_pspec (object, pspec);
          }
      }
      break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
pft_http_chat_node_constructed (GObject *object)
{
  G_OBJECT_CLASS (pft_http_chat_node_parent_class)->constructed (object);

  /* A batch of API calls keeps going past one failed item. Properties
   * given to g_object_new() are set after this, so they still win. */
  pft_throttled_batch_node_set_continue_on_error (PFT_THROTTLED_BATCH_NODE (object), TRUE);
}

/* ------------------------------------------------------------------ */
/* prep and post: the store                                             */

static void
pft_http_chat_node_prep (PftNode     *node,
                         PftContext  *ctx,
                         GValue      *result,
                         GError     **error)
{
  PftHttpChatNode *self = PFT_HTTP_CHAT_NODE (node);
  PftHttpChatNodePrivate *priv = pft_http_chat_node_get_instance_private (self);
  g_auto(GValue) stored = G_VALUE_INIT;
  g_autoptr(PftValues) items = NULL;

  /* A configuration that cannot work fails the run now, not once per
   * item after all their retries. */
  if (!pft_http_chat_client_check_config (priv->client, error))
    return;

  pft_store_lookup (pft_context_get_store (ctx), priv->input_key, &stored);
  if (G_VALUE_HOLDS (&stored, PFT_TYPE_VALUES) && g_value_get_object (&stored) != NULL)
    items = g_value_dup_object (&stored);
  else if (G_VALUE_HOLDS (&stored, G_TYPE_STRV) && g_value_get_boxed (&stored) != NULL)
    items = pft_values_new_from_strv (g_value_get_boxed (&stored));
  else if (G_VALUE_HOLDS_VARIANT (&stored) && g_value_get_variant (&stored) != NULL &&
           g_variant_is_of_type (g_value_get_variant (&stored), G_VARIANT_TYPE_STRING_ARRAY))
    {
      g_autofree const char **strv = g_variant_get_strv (g_value_get_variant (&stored), NULL);
      items = pft_values_new_from_strv (strv);
    }
  else
    {
      /* An absent key reads as a NULL gpointer: say so, not "gpointer". */
      g_set_error (error, PFT_ERROR, PFT_ERROR_INVALID_ARGUMENT,
                   "The store has no prompts under \"%s\" (a Pft.Values or a string array; found %s)",
                   priv->input_key,
                   !pft_store_contains (pft_context_get_store (ctx), priv->input_key) ? "no such key"
                   : G_VALUE_HOLDS_POINTER (&stored) && g_value_get_pointer (&stored) == NULL ? "None/NULL"
                   : G_VALUE_TYPE_NAME (&stored));
      return;
    }
  g_value_init (result, PFT_TYPE_VALUES);
  g_value_take_object (result, g_steal_pointer (&items));
}

static char *
pft_http_chat_node_post (PftNode       *node,
                         PftContext    *ctx,
                         const GValue  *prep_result,
                         const GValue  *exec_result,
                         GError       **error)
{
  PftHttpChatNode *self = PFT_HTTP_CHAT_NODE (node);
  PftHttpChatNodePrivate *priv = pft_http_chat_node_get_instance_private (self);

  if (G_VALUE_HOLDS (exec_result, PFT_TYPE_VALUES))
    pft_store_set_values (pft_context_get_store (ctx), priv->output_key, g_value_get_object (exec_result));
  return NULL;
}

/* ------------------------------------------------------------------ */
/* The default vfuncs                                                   */

static void
pft_http_chat_node_real_build_messages (PftHttpChatNode  *self,
                                        PftContext       *ctx,
                                        const GValue     *item,
                                        GValue           *messages,
                                        GError          **error)
{
  g_value_init (messages, G_VALUE_TYPE (item));
  g_value_copy (item, messages);
}

static void
pft_http_chat_node_real_handle_reply (PftHttpChatNode   *self,
                                      PftContext        *ctx,
                                      const GValue      *item,
                                      PftHttpChatReply  *reply,
                                      GValue            *result,
                                      GError           **error)
{
  g_value_init (result, PFT_HTTP_TYPE_CHAT_REPLY);
  g_value_set_object (result, reply);
}

/**
 * pft_http_chat_node_build_messages: (virtual build_messages)
 * @self: a chat node
 * @ctx: the context of this attempt
 * @item: one item of the batch
 * @messages: (out caller-allocates): what to send: a prompt string, or a
 *   #GVariant of type `a(ss)` or `aa{ss}` (role, content)
 * @error: return location for a #GError
 *
 * Turns @item into the messages of its request. The default passes a
 * prompt string or a conversation variant through. Override it to build
 * prompts from structured items (a template, a few-shot conversation);
 * an error fails the attempt.
 *
 * Since: 0.1
 */
void
pft_http_chat_node_build_messages (PftHttpChatNode  *self,
                                   PftContext       *ctx,
                                   const GValue     *item,
                                   GValue           *messages,
                                   GError          **error)
{
  g_return_if_fail (PFT_HTTP_IS_CHAT_NODE (self));
  g_return_if_fail (item != NULL);
  g_return_if_fail (messages != NULL);

  PFT_HTTP_CHAT_NODE_GET_CLASS (self)->build_messages (self, ctx, item, messages, error);
}

/**
 * pft_http_chat_node_handle_reply: (virtual handle_reply)
 * @self: a chat node
 * @ctx: the context of this attempt
 * @item: the item the reply answers
 * @reply: the reply
 * @result: (out caller-allocates): the item's result
 * @error: return location for a #GError
 *
 * Turns a reply into the item's result. The default makes @reply itself
 * the result. Override it to keep only the text, parse it, or refuse it:
 * an error fails the attempt, which is retried like a failed request (for
 * example when the answer does not parse). A handler that sets no result
 * (an exception in a binding that did not become an error) fails too.
 *
 * Since: 0.1
 */
void
pft_http_chat_node_handle_reply (PftHttpChatNode   *self,
                                 PftContext        *ctx,
                                 const GValue      *item,
                                 PftHttpChatReply  *reply,
                                 GValue            *result,
                                 GError           **error)
{
  g_return_if_fail (PFT_HTTP_IS_CHAT_NODE (self));
  g_return_if_fail (PFT_HTTP_IS_CHAT_REPLY (reply));
  g_return_if_fail (result != NULL);

  PFT_HTTP_CHAT_NODE_GET_CLASS (self)->handle_reply (self, ctx, item, reply, result, error);
}

/* ------------------------------------------------------------------ */
/* exec: token permit, send, headers, settle, handle                    */

typedef struct
{
  PftContext *ctx;
  GValue      item;
  JsonArray  *messages;
  PftPermit  *token_permit;
} ExecData;

static void
exec_data_free (ExecData *data)
{
  g_clear_object (&data->ctx);
  if (G_IS_VALUE (&data->item))
    g_value_unset (&data->item);
  g_clear_pointer (&data->messages, json_array_unref);
  if (data->token_permit != NULL)
    pft_permit_release (data->token_permit);
  g_clear_object (&data->token_permit);
  g_free (data);
}

static void
result_value_free (GValue *value)
{
  if (G_IS_VALUE (value))
    g_value_unset (value);
  g_free (value);
}

static void
pft_http_chat_node_count (PftHttpChatNode *self,
                          guint64         *counter)
{
  PftHttpChatNodePrivate *priv = pft_http_chat_node_get_instance_private (self);

  g_mutex_lock (&priv->mutex);
  (*counter)++;
  g_mutex_unlock (&priv->mutex);
}

/* The answer's headers act on the node's limiters; the retry-after of a
 * 429 is left to the batch machinery, which pauses the limiter with the
 * error (doing it here too would count the pause twice). */
static void
pft_http_chat_node_apply_headers (PftHttpChatNode    *self,
                                  PftHttpRateHeaders *headers,
                                  gboolean            rate_limited)
{
  PftHttpChatNodePrivate *priv = pft_http_chat_node_get_instance_private (self);
  PftRateLimiter *limiter = pft_throttled_batch_node_get_limiter (PFT_THROTTLED_BATCH_NODE (self));
  PftHttpRateAction actions;

  if (pft_http_rate_headers_is_empty (headers))
    return;
  if (!pft_http_rate_headers_get_window_stated (headers))
    pft_http_rate_headers_set_default_window (headers, priv->provider_window);
  pft_http_rate_headers_set_arrival_margin (headers, priv->arrival_margin);
  actions = _pft_http_rate_headers_apply_requests (headers, limiter, !rate_limited);
  if (priv->token_limiter != NULL)
    {
      /* The node's own token limiter counts over the provider's window:
       * converted to a longer window, a token limit would let a burst
       * through that the provider refuses. */
      if (priv->own_token_limiter && pft_http_rate_headers_get_token_limit (headers) > 0 &&
          pft_rate_limiter_get_window (priv->token_limiter) != pft_http_rate_headers_get_window (headers))
        pft_rate_limiter_set_window (priv->token_limiter, pft_http_rate_headers_get_window (headers));
      actions |= pft_http_rate_headers_apply_tokens (headers, priv->token_limiter);
    }
  g_signal_emit (self, signals[SIGNAL_RATE_HEADERS], 0, headers, actions);
}

static void
pft_http_chat_node_sent_cb (GObject      *source,
                            GAsyncResult *res,
                            gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  PftHttpChatNode *self = g_task_get_source_object (task);
  ExecData *data = g_task_get_task_data (task);
  g_autoptr(PftHttpRateHeaders) headers = NULL;
  g_autoptr(PftHttpChatReply) reply = NULL;
  g_autoptr(GError) error = NULL;
  PftHttpChatNodePrivate *priv = pft_http_chat_node_get_instance_private (self);
  GValue *result;
  gboolean rate_limited;

  reply = _pft_http_chat_client_send_finish (PFT_HTTP_CHAT_CLIENT (source), res, &headers, &error);
  rate_limited = g_error_matches (error, PFT_ERROR, PFT_ERROR_RATE_LIMITED);
  if (rate_limited)
    pft_http_chat_node_count (self, &priv->rate_limited);
  pft_http_chat_node_apply_headers (self, headers, rate_limited);

  if (data->token_permit != NULL)
    {
      _pft_http_chat_client_settle (data->token_permit, reply, error);
      pft_permit_release (data->token_permit);
      g_clear_object (&data->token_permit);
    }

  if (reply == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  result = g_new0 (GValue, 1);
  pft_http_chat_node_handle_reply (self, data->ctx, &data->item, reply, result, &error);
  if (error == NULL && !G_IS_VALUE (result))
    g_set_error (&error, PFT_ERROR, PFT_ERROR_FAILED,
                 "%s.handle_reply() set no result (did it raise an exception?)", G_OBJECT_TYPE_NAME (self));
  if (error != NULL)
    {
      result_value_free (result);
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  g_task_return_pointer (task, result, (GDestroyNotify) result_value_free);
}

static void
pft_http_chat_node_send (GTask *task)
{
  PftHttpChatNode *self = g_task_get_source_object (task);
  PftHttpChatNodePrivate *priv = pft_http_chat_node_get_instance_private (self);
  ExecData *data = g_task_get_task_data (task);

  pft_http_chat_node_count (self, &priv->requests_sent);
  /* The provider counts the request from here, after the wait for
   * tokens: so does the window of the request limiter. */
  pft_context_begin_request (data->ctx);
  _pft_http_chat_client_send_async (priv->client, data->messages, g_task_get_cancellable (task),
                                    pft_http_chat_node_sent_cb, task);
}

static void
pft_http_chat_node_tokens_cb (GObject      *source,
                              GAsyncResult *res,
                              gpointer      user_data)
{
  GTask *task = user_data;
  ExecData *data = g_task_get_task_data (task);
  GError *error = NULL;

  data->token_permit = pft_rate_limiter_acquire_finish (PFT_RATE_LIMITER (source), res, &error);
  if (data->token_permit == NULL)
    {
      g_task_return_error (task, error);
      g_object_unref (task);
      return;
    }
  pft_http_chat_node_send (task);
}

static void
pft_http_chat_node_exec_async (PftNode             *node,
                               PftContext          *ctx,
                               const GValue        *item,
                               GCancellable        *cancellable,
                               GAsyncReadyCallback  callback,
                               gpointer             user_data)
{
  PftHttpChatNode *self = PFT_HTTP_CHAT_NODE (node);
  PftHttpChatNodePrivate *priv = pft_http_chat_node_get_instance_private (self);
  GTask *task = g_task_new (self, cancellable, callback, user_data);
  ExecData *data = g_new0 (ExecData, 1);
  g_auto(GValue) messages = G_VALUE_INIT;
  GError *error = NULL;

  g_task_set_source_tag (task, pft_http_chat_node_exec_async);
  g_task_set_task_data (task, data, (GDestroyNotify) exec_data_free);
  data->ctx = g_object_ref (ctx);
  g_value_init (&data->item, G_VALUE_TYPE (item));
  g_value_copy (item, &data->item);

  if (pft_context_get_attempt (ctx) > 1)
    pft_http_chat_node_count (self, &priv->retries);

  pft_http_chat_node_build_messages (self, ctx, item, &messages, &error);
  if (error == NULL && !G_IS_VALUE (&messages))
    g_set_error (&error, PFT_ERROR, PFT_ERROR_FAILED,
                 "%s.build_messages() set no messages (did it raise an exception?)", G_OBJECT_TYPE_NAME (self));
  if (error == NULL)
    data->messages = _pft_http_chat_client_build_messages (priv->client, &messages, &error);
  if (error != NULL)
    {
      g_task_return_error (task, error);
      g_object_unref (task);
      return;
    }

  if (priv->token_limiter != NULL)
    _pft_http_chat_client_acquire_async (priv->client, data->messages, priv->token_limiter, cancellable,
                                         pft_http_chat_node_tokens_cb, task);
  else
    pft_http_chat_node_send (task);
}

static void
pft_http_chat_node_exec_finish (PftNode       *node,
                                GAsyncResult  *result,
                                GValue        *value,
                                GError       **error)
{
  GValue *v;

  g_return_if_fail (g_task_is_valid (result, node));

  v = g_task_propagate_pointer (G_TASK (result), error);
  if (v == NULL)
    return;
  g_value_init (value, G_VALUE_TYPE (v));
  g_value_copy (v, value);
  result_value_free (v);
}

/* Only PFT_ERROR_RATE_LIMITED is a rate limit here. Pft's default also
 * matches "429" in any message, and a URL on port 42913 has that. */
static gboolean
pft_http_chat_node_is_rate_limit (PftNode      *node,
                                  const GError *error)
{
  if (error->domain == PFT_HTTP_ERROR || error->domain == G_IO_ERROR)
    return FALSE;
  return PFT_NODE_CLASS (pft_http_chat_node_parent_class)->is_rate_limit (node, error);
}

/* ------------------------------------------------------------------ */
/* Class                                                                */

static void
pft_http_chat_node_class_init (PftHttpChatNodeClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  PftNodeClass *node_class = PFT_NODE_CLASS (klass);
  const GParamFlags rw = G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS;
  const GParamFlags ro = G_PARAM_READABLE | G_PARAM_STATIC_STRINGS;

  object_class->constructed = pft_http_chat_node_constructed;
  object_class->finalize = pft_http_chat_node_finalize;
  object_class->get_property = pft_http_chat_node_get_property;
  object_class->set_property = pft_http_chat_node_set_property;

  node_class->prep = pft_http_chat_node_prep;
  node_class->exec_async = pft_http_chat_node_exec_async;
  /* pft_http_chat_node_send() marks the start. */
  pft_node_class_set_begins_requests (node_class, TRUE);
  node_class->exec_finish = pft_http_chat_node_exec_finish;
  node_class->post = pft_http_chat_node_post;
  node_class->is_rate_limit = pft_http_chat_node_is_rate_limit;

  klass->build_messages = pft_http_chat_node_real_build_messages;
  klass->handle_reply = pft_http_chat_node_real_handle_reply;

  /**
   * PftHttpChatNode:client:
   *
   * The client that sends the requests (provider, base URL, key, model,
   * max-tokens, ...). A node made without one gets a default OpenAI-style
   * client.
   *
   * Since: 0.1
   */
  properties[PROP_CLIENT] =
    g_param_spec_object ("client", NULL, NULL, PFT_HTTP_TYPE_CHAT_CLIENT, rw);
  /**
   * PftHttpChatNode:token-limiter:
   *
   * The limiter whose `max-cost-per-window` counts tokens; by default one
   * of the node's own with no token limit, which the provider's token
   * headers calibrate (and whose window they set to the provider's). Share one between nodes that use
   * the same key. %NULL turns token accounting off.
   *
   * Since: 0.1
   */
  properties[PROP_TOKEN_LIMITER] =
    g_param_spec_object ("token-limiter", NULL, NULL, PFT_TYPE_RATE_LIMITER, rw);
  /**
   * PftHttpChatNode:input-key:
   *
   * The store key `prep` reads the items from.
   *
   * Since: 0.1
   */
  properties[PROP_INPUT_KEY] =
    g_param_spec_string ("input-key", NULL, NULL, DEFAULT_INPUT_KEY, rw);
  /**
   * PftHttpChatNode:output-key:
   *
   * The store key `post` writes the results to (a [class@Pft.Values] in
   * input order).
   *
   * Since: 0.1
   */
  properties[PROP_OUTPUT_KEY] =
    g_param_spec_string ("output-key", NULL, NULL, DEFAULT_OUTPUT_KEY, rw);
  /**
   * PftHttpChatNode:provider-window:
   *
   * Seconds the provider's limits count over when its headers do not say
   * (`RateLimit-Policy: N;w=S` does): 60, since OpenAI and Anthropic
   * publish per-minute limits. A provider limit of L per this window is L
   * × limiter window / this window on the node's limiter.
   *
   * Since: 0.1
   */
  properties[PROP_PROVIDER_WINDOW] =
    g_param_spec_double ("provider-window", NULL, NULL, 1e-3, G_MAXDOUBLE,
                         PFT_HTTP_RATE_HEADERS_DEFAULT_WINDOW, rw);
  /**
   * PftHttpChatNode:arrival-margin:
   *
   * Seconds by which the node's limiter window is widened when it equals
   * the provider's (see [method@PftHttp.RateHeaders.set_arrival_margin]):
   * the provider counts requests when they arrive, a varying moment after
   * the limiter admitted them. 0 leaves the window alone.
   *
   * Since: 0.1
   */
  properties[PROP_ARRIVAL_MARGIN] =
    g_param_spec_double ("arrival-margin", NULL, NULL, 0, 3600,
                         PFT_HTTP_RATE_HEADERS_ARRIVAL_MARGIN,
                         G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  /**
   * PftHttpChatNode:requests-sent:
   *
   * Requests sent since the node was made or
   * [method@PftHttp.ChatNode.reset_counters] (retries included).
   *
   * Since: 0.1
   */
  properties[PROP_REQUESTS_SENT] =
    g_param_spec_uint64 ("requests-sent", NULL, NULL, 0, G_MAXUINT64, 0, ro);
  /**
   * PftHttpChatNode:rate-limited-replies:
   *
   * Answers that were HTTP 429.
   *
   * Since: 0.1
   */
  properties[PROP_RATE_LIMITED_REPLIES] =
    g_param_spec_uint64 ("rate-limited-replies", NULL, NULL, 0, G_MAXUINT64, 0, ro);
  /**
   * PftHttpChatNode:retries:
   *
   * Attempts after the first of their item (retries after errors; retries
   * after a 429 do not count, they do not use up max-retries).
   *
   * Since: 0.1
   */
  properties[PROP_RETRIES] =
    g_param_spec_uint64 ("retries", NULL, NULL, 0, G_MAXUINT64, 0, ro);

  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * PftHttpChatNode::rate-headers:
   * @self: the node
   * @headers: the rate-limit headers of an answer
   * @actions: what they did to the node's limiters
   *
   * Emitted on the run's main context after every answer that had
   * rate-limit headers, once they acted on the limiters: what the provider
   * taught the node.
   *
   * Since: 0.1
   */
  signals[SIGNAL_RATE_HEADERS] =
    g_signal_new ("rate-headers", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 2,
                  PFT_HTTP_TYPE_RATE_HEADERS, PFT_HTTP_TYPE_RATE_ACTION);
}

static void
pft_http_chat_node_init (PftHttpChatNode *self)
{
  PftHttpChatNodePrivate *priv = pft_http_chat_node_get_instance_private (self);

  g_mutex_init (&priv->mutex);
  priv->client = pft_http_chat_client_new (PFT_HTTP_PROVIDER_OPENAI, NULL, NULL);
  priv->token_limiter = pft_rate_limiter_new (G_MAXUINT, 0, 60.0);
  priv->own_token_limiter = TRUE;
  priv->input_key = g_strdup (DEFAULT_INPUT_KEY);
  priv->output_key = g_strdup (DEFAULT_OUTPUT_KEY);
  priv->provider_window = PFT_HTTP_RATE_HEADERS_DEFAULT_WINDOW;
  priv->arrival_margin = PFT_HTTP_RATE_HEADERS_ARRIVAL_MARGIN;
}


/**
 * pft_http_chat_node_new:
 * @client: (nullable): the client, or %NULL for a default OpenAI-style one
 *
 * Makes a chat node with the adaptive defaults of [class@Pft.AdaptiveNode].
 *
 * Returns: (transfer full): a new node
 *
 * Since: 0.1
 */
PftNode *
pft_http_chat_node_new (PftHttpChatClient *client)
{
  g_return_val_if_fail (client == NULL || PFT_HTTP_IS_CHAT_CLIENT (client), NULL);

  if (client == NULL)
    return g_object_new (PFT_HTTP_TYPE_CHAT_NODE, NULL);
  return g_object_new (PFT_HTTP_TYPE_CHAT_NODE, "client", client, NULL);
}

/* ------------------------------------------------------------------ */
/* Accessors                                                            */

/**
 * pft_http_chat_node_get_client:
 * @self: a chat node
 *
 * Gets [property@PftHttp.ChatNode:client], the client that sends the
 * requests.
 *
 * Returns: (transfer none): the client
 *
 * Since: 0.1
 */
PftHttpChatClient *
pft_http_chat_node_get_client (PftHttpChatNode *self)
{
  PftHttpChatNodePrivate *priv;

  g_return_val_if_fail (PFT_HTTP_IS_CHAT_NODE (self), NULL);
  priv = pft_http_chat_node_get_instance_private (self);
  return priv->client;
}

/**
 * pft_http_chat_node_set_client:
 * @self: a chat node
 * @client: the client
 *
 * Sets [property@PftHttp.ChatNode:client].
 *
 * Since: 0.1
 */
void
pft_http_chat_node_set_client (PftHttpChatNode   *self,
                               PftHttpChatClient *client)
{
  PftHttpChatNodePrivate *priv;

  g_return_if_fail (PFT_HTTP_IS_CHAT_NODE (self));
  g_return_if_fail (PFT_HTTP_IS_CHAT_CLIENT (client));
  priv = pft_http_chat_node_get_instance_private (self);
  if (g_set_object (&priv->client, client))
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CLIENT]);
}

/**
 * pft_http_chat_node_get_token_limiter:
 * @self: a chat node
 *
 * Gets [property@PftHttp.ChatNode:token-limiter], the limiter the
 * estimated tokens of every request are charged to.
 *
 * Returns: (transfer none) (nullable): the token limiter
 *
 * Since: 0.1
 */
PftRateLimiter *
pft_http_chat_node_get_token_limiter (PftHttpChatNode *self)
{
  PftHttpChatNodePrivate *priv;

  g_return_val_if_fail (PFT_HTTP_IS_CHAT_NODE (self), NULL);
  priv = pft_http_chat_node_get_instance_private (self);
  return priv->token_limiter;
}

/**
 * pft_http_chat_node_set_token_limiter:
 * @self: a chat node
 * @limiter: (nullable): a limiter whose cost window counts tokens, or
 *   %NULL for no token accounting
 *
 * Sets [property@PftHttp.ChatNode:token-limiter].
 *
 * Since: 0.1
 */
void
pft_http_chat_node_set_token_limiter (PftHttpChatNode *self,
                                      PftRateLimiter  *limiter)
{
  PftHttpChatNodePrivate *priv;

  g_return_if_fail (PFT_HTTP_IS_CHAT_NODE (self));
  g_return_if_fail (limiter == NULL || PFT_IS_RATE_LIMITER (limiter));
  priv = pft_http_chat_node_get_instance_private (self);
  if (g_set_object (&priv->token_limiter, limiter))
    {
      priv->own_token_limiter = FALSE;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_TOKEN_LIMITER]);
    }
}

static gboolean
pft_http_chat_node_set_key (PftHttpChatNode *self,
                            char           **field,
                            const char      *value,
                            GParamSpec      *pspec)
{
  g_return_val_if_fail (value != NULL && *value != '\0', FALSE);
  if (g_strcmp0 (*field, value) == 0)
    return FALSE;
  g_free (*field);
  *field = g_strdup (value);
  g_object_notify_by_pspec (G_OBJECT (self), pspec);
  return TRUE;
}

/**
 * pft_http_chat_node_get_input_key:
 * @self: a chat node
 *
 * Gets [property@PftHttp.ChatNode:input-key], where prep reads the items
 * from the store.
 *
 * Returns: the store key of the items
 *
 * Since: 0.1
 */
const char *
pft_http_chat_node_get_input_key (PftHttpChatNode *self)
{
  PftHttpChatNodePrivate *priv;

  g_return_val_if_fail (PFT_HTTP_IS_CHAT_NODE (self), NULL);
  priv = pft_http_chat_node_get_instance_private (self);
  return priv->input_key;
}

/**
 * pft_http_chat_node_set_input_key:
 * @self: a chat node
 * @key: a store key
 *
 * Sets [property@PftHttp.ChatNode:input-key].
 *
 * Since: 0.1
 */
void
pft_http_chat_node_set_input_key (PftHttpChatNode *self,
                                  const char      *key)
{
  PftHttpChatNodePrivate *priv;

  g_return_if_fail (PFT_HTTP_IS_CHAT_NODE (self));
  priv = pft_http_chat_node_get_instance_private (self);
  pft_http_chat_node_set_key (self, &priv->input_key, key, properties[PROP_INPUT_KEY]);
}

/**
 * pft_http_chat_node_get_output_key:
 * @self: a chat node
 *
 * Gets [property@PftHttp.ChatNode:output-key], where post stores the
 * results.
 *
 * Returns: the store key of the results
 *
 * Since: 0.1
 */
const char *
pft_http_chat_node_get_output_key (PftHttpChatNode *self)
{
  PftHttpChatNodePrivate *priv;

  g_return_val_if_fail (PFT_HTTP_IS_CHAT_NODE (self), NULL);
  priv = pft_http_chat_node_get_instance_private (self);
  return priv->output_key;
}

/**
 * pft_http_chat_node_set_output_key:
 * @self: a chat node
 * @key: a store key
 *
 * Sets [property@PftHttp.ChatNode:output-key].
 *
 * Since: 0.1
 */
void
pft_http_chat_node_set_output_key (PftHttpChatNode *self,
                                   const char      *key)
{
  PftHttpChatNodePrivate *priv;

  g_return_if_fail (PFT_HTTP_IS_CHAT_NODE (self));
  priv = pft_http_chat_node_get_instance_private (self);
  pft_http_chat_node_set_key (self, &priv->output_key, key, properties[PROP_OUTPUT_KEY]);
}

/**
 * pft_http_chat_node_get_provider_window:
 * @self: a chat node
 *
 * Gets [property@PftHttp.ChatNode:provider-window], the window the
 * provider's rate-limit headers are read against.
 *
 * Returns: the window assumed for the provider's limits, in seconds
 *
 * Since: 0.1
 */
double
pft_http_chat_node_get_provider_window (PftHttpChatNode *self)
{
  PftHttpChatNodePrivate *priv;

  g_return_val_if_fail (PFT_HTTP_IS_CHAT_NODE (self), 0);
  priv = pft_http_chat_node_get_instance_private (self);
  return priv->provider_window;
}

/**
 * pft_http_chat_node_set_provider_window:
 * @self: a chat node
 * @window: seconds, more than 0
 *
 * Sets [property@PftHttp.ChatNode:provider-window].
 *
 * Since: 0.1
 */
void
pft_http_chat_node_set_provider_window (PftHttpChatNode *self,
                                        double           window)
{
  PftHttpChatNodePrivate *priv;

  g_return_if_fail (PFT_HTTP_IS_CHAT_NODE (self));
  g_return_if_fail (window > 0 && isfinite (window));
  priv = pft_http_chat_node_get_instance_private (self);
  if (priv->provider_window != window)
    {
      priv->provider_window = window;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PROVIDER_WINDOW]);
    }
}

/**
 * pft_http_chat_node_get_requests_sent:
 * @self: a chat node
 *
 * Gets [property@PftHttp.ChatNode:requests-sent], counted since the node
 * was made.
 *
 * Returns: requests sent, retries included
 *
 * Since: 0.1
 */
guint64
pft_http_chat_node_get_requests_sent (PftHttpChatNode *self)
{
  PftHttpChatNodePrivate *priv;

  g_return_val_if_fail (PFT_HTTP_IS_CHAT_NODE (self), 0);
  priv = pft_http_chat_node_get_instance_private (self);
  return pft_http_chat_node_read_counter (self, &priv->requests_sent);
}

/**
 * pft_http_chat_node_get_rate_limited_replies:
 * @self: a chat node
 *
 * Gets [property@PftHttp.ChatNode:rate-limited-replies], counted since the
 * node was made.
 *
 * Returns: answers that were HTTP 429
 *
 * Since: 0.1
 */
guint64
pft_http_chat_node_get_rate_limited_replies (PftHttpChatNode *self)
{
  PftHttpChatNodePrivate *priv;

  g_return_val_if_fail (PFT_HTTP_IS_CHAT_NODE (self), 0);
  priv = pft_http_chat_node_get_instance_private (self);
  return pft_http_chat_node_read_counter (self, &priv->rate_limited);
}

/**
 * pft_http_chat_node_get_retries:
 * @self: a chat node
 *
 * Gets the number of retries the node made since it was made.
 *
 * Returns: attempts after the first of their item, see
 *   [property@PftHttp.ChatNode:retries]
 *
 * Since: 0.1
 */
guint64
pft_http_chat_node_get_retries (PftHttpChatNode *self)
{
  PftHttpChatNodePrivate *priv;

  g_return_val_if_fail (PFT_HTTP_IS_CHAT_NODE (self), 0);
  priv = pft_http_chat_node_get_instance_private (self);
  return pft_http_chat_node_read_counter (self, &priv->retries);
}

/**
 * pft_http_chat_node_reset_counters:
 * @self: a chat node
 *
 * Sets [property@PftHttp.ChatNode:requests-sent],
 * [property@PftHttp.ChatNode:rate-limited-replies] and
 * [property@PftHttp.ChatNode:retries] back to 0.
 *
 * Since: 0.1
 */
void
pft_http_chat_node_reset_counters (PftHttpChatNode *self)
{
  PftHttpChatNodePrivate *priv;

  g_return_if_fail (PFT_HTTP_IS_CHAT_NODE (self));
  priv = pft_http_chat_node_get_instance_private (self);
  g_mutex_lock (&priv->mutex);
  priv->requests_sent = priv->rate_limited = priv->retries = 0;
  g_mutex_unlock (&priv->mutex);
}
