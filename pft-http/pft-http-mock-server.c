/* pft-http-mock-server.c: an OpenAI/Anthropic-compatible mock API on loopback
 *
 * SPDX-License-Identifier: MIT
 */

#include "pft-http-mock-server.h"

#include <errno.h>
#include <libsoup/soup.h>
#include <sys/socket.h>

#include "pft-http-enums.h"
#include "pft-http-mock-protocol-private.h"
#include "pft-http-mock-window-private.h"

/**
 * PftHttpMockServer:
 *
 * A mock of the OpenAI and Anthropic chat APIs on a [class@Soup.Server]
 * bound to 127.0.0.1, for tests, benchmarks and offline runs.
 *
 * It answers `POST /v1/chat/completions` and `POST /chat/completions`
 * (OpenAI) and `POST /v1/messages` (Anthropic) with a deterministic reply
 * (`echo: ` and the last user message) and a `usage` block, and enforces
 * its own limits, on its own clock (g_get_monotonic_time()):
 * [property@PftHttp.MockServer:max-requests] and
 * [property@PftHttp.MockServer:max-tokens] per sliding
 * [property@PftHttp.MockServer:window], and
 * [property@PftHttp.MockServer:max-concurrency]. A request over a limit is
 * answered 429 with `retry-after`, `retry-after-ms` and the provider's
 * rate-limit headers; every other answer carries the headers too.
 *
 * Admitted requests wait their latency without blocking the server (the
 * message is paused and a timeout source on the server's context answers
 * it), and fault injection turns a share of them into 500s, dropped
 * connections or slow answers, drawn from a generator seeded by
 * [property@PftHttp.MockServer:seed].
 *
 * Every property may be changed while the server runs, from any thread.
 * What the server saw is read at any time, from any thread, with
 * [method@PftHttp.MockServer.get_stats] and
 * [method@PftHttp.MockServer.get_records].
 *
 * Since: 0.1
 */

/* An admitted request waiting for its latency. Server thread only. */
typedef struct
{
  PftHttpMockServer *self;
  SoupServerMessage *msg;
  GSource *source;
  GSource *watch;           /* the client's socket, to see it go away */
  gulong disconnected_id;
  guint record;
  guint generation;
  gint64 deadline;
  guint status;             /* 0: drop the connection */
  char *body;
} PftHttpMockPending;

struct _PftHttpMockServer
{
  GObject parent_instance;

  /* Guards the configuration and the state below, which any thread may
   * read or change while the server thread answers. */
  GMutex mutex;

  guint requested_port;
  guint max_requests;
  double window;
  guint max_tokens;
  guint max_concurrency;
  double latency_min;
  double latency_max;
  double error_rate;
  double drop_rate;
  double slow_rate;
  double slow_latency;
  guint seed;
  PftHttpMockHeaderStyle header_style;
  char *expected_api_key;

  GRand *rand;
  PftHttpMockWindow request_window;
  PftHttpMockWindow token_window;
  PftHttpMockStats stats;
  GArray *records;          /* PftHttpMockRecord */
  guint generation;         /* bumped by reset_stats: old record indexes go stale */
  guint64 next_id;

  /* The server, its context and (with start_in_thread) its thread; the
   * server and the pending queue are only touched from the thread that
   * runs @context. */
  guint port;
  SoupServer *server;
  GMainContext *context;
  GMainLoop *loop;
  GThread *thread;
  GQueue pending;
};

enum {
  PROP_0,
  PROP_PORT,
  PROP_MAX_REQUESTS,
  PROP_WINDOW,
  PROP_MAX_TOKENS,
  PROP_MAX_CONCURRENCY,
  PROP_LATENCY_MIN,
  PROP_LATENCY_MAX,
  PROP_ERROR_RATE,
  PROP_DROP_RATE,
  PROP_SLOW_RATE,
  PROP_SLOW_LATENCY,
  PROP_SEED,
  PROP_HEADER_STYLE,
  PROP_EXPECTED_API_KEY,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

G_DEFINE_FINAL_TYPE (PftHttpMockServer, pft_http_mock_server, G_TYPE_OBJECT)

static void
pft_http_mock_server_respond (SoupServerMessage *msg,
                              guint              status,
                              char              *body)
{
  soup_server_message_set_status (msg, status, NULL);
  soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_TAKE,
                                    body, strlen (body));
}

static void
pft_http_mock_server_respond_error (SoupServerMessage *msg,
                                    PftHttpMockApi     api,
                                    guint              status,
                                    const char        *message)
{
  pft_http_mock_server_respond (msg, status, pft_http_mock_error_body (api, status, NULL, message));
}

/* Closes a record and counts its outcome. Called with the mutex held. */
static void
pft_http_mock_server_finish_locked (PftHttpMockServer *self,
                                    guint              generation,
                                    guint              record,
                                    guint              status,
                                    gint64             retry_after_ms)
{
  g_assert (PFT_HTTP_IS_MOCK_SERVER (self));

  if (generation == self->generation && record < self->records->len)
    {
      PftHttpMockRecord *r = &g_array_index (self->records, PftHttpMockRecord, record);

      r->finished = g_get_monotonic_time ();
      r->status = status;
      r->retry_after_ms = retry_after_ms;
    }
}

static void
pft_http_mock_server_finish (PftHttpMockServer *self,
                             guint              generation,
                             guint              record,
                             guint              status,
                             gint64             retry_after_ms)
{
  g_mutex_lock (&self->mutex);
  pft_http_mock_server_finish_locked (self, generation, record, status, retry_after_ms);
  switch (status)
    {
    case SOUP_STATUS_BAD_REQUEST:
      self->stats.bad_requests++;
      break;
    case SOUP_STATUS_UNAUTHORIZED:
      self->stats.unauthorized++;
      break;
    case PFT_HTTP_MOCK_STATUS_TOO_MANY_REQUESTS:
      self->stats.rate_limited++;
      break;
    default:
      break;
    }
  g_mutex_unlock (&self->mutex);
}

/* An admitted request is over: answered (@status), dropped (0) or given
 * up by its client (@cancelled). */
static void
pft_http_mock_server_complete (PftHttpMockServer *self,
                               guint              generation,
                               guint              record,
                               guint              status,
                               gboolean           cancelled)
{
  g_mutex_lock (&self->mutex);
  pft_http_mock_server_finish_locked (self, generation, record, cancelled ? 0 : status, -1);
  g_assert (self->stats.in_flight > 0);
  self->stats.in_flight--;
  if (cancelled)
    self->stats.cancelled++;
  else if (status == 0)
    self->stats.dropped++;
  else if (status == SOUP_STATUS_OK)
    self->stats.accepted++;
  else
    self->stats.server_errors++;
  g_mutex_unlock (&self->mutex);
}

static void
pft_http_mock_server_pending_free (PftHttpMockPending *pending)
{
  PftHttpMockServer *self = pending->self;

  g_assert (PFT_HTTP_IS_MOCK_SERVER (self));

  g_queue_remove (&self->pending, pending);
  if (pending->disconnected_id != 0)
    g_signal_handler_disconnect (pending->msg, pending->disconnected_id);
  if (pending->source != NULL)
    {
      g_source_destroy (pending->source);
      g_source_unref (pending->source);
    }
  if (pending->watch != NULL)
    {
      g_source_destroy (pending->watch);
      g_source_unref (pending->watch);
    }
  g_object_unref (pending->msg);
  g_free (pending->body);
  g_free (pending);
}

static gboolean
pft_http_mock_server_pending_fire (gpointer data)
{
  PftHttpMockPending *pending = data;
  PftHttpMockServer *self = pending->self;

  g_assert (PFT_HTTP_IS_MOCK_SERVER (self));

  g_signal_handler_disconnect (pending->msg, pending->disconnected_id);
  pending->disconnected_id = 0;

  if (pending->status == 0)
    {
      /* The fault: the client sent its request and sees the socket close. */
      g_autoptr(GIOStream) stream = soup_server_message_steal_connection (pending->msg);

      if (stream != NULL)
        g_io_stream_close (stream, NULL, NULL);
    }
  else
    {
      pft_http_mock_server_respond (pending->msg, pending->status, g_steal_pointer (&pending->body));
      soup_server_message_unpause (pending->msg);
    }

  pft_http_mock_server_complete (self, pending->generation, pending->record, pending->status, FALSE);
  pft_http_mock_server_pending_free (pending);
  return G_SOURCE_REMOVE;
}

static void
pft_http_mock_server_pending_disconnected (SoupServerMessage  *msg,
                                           PftHttpMockPending *pending)
{
  pft_http_mock_server_complete (pending->self, pending->generation, pending->record, pending->status, TRUE);
  pft_http_mock_server_pending_free (pending);
}

/* The client's socket became readable while its request waits: either it
 * closed the connection (it gave up: the request is cancelled now, not
 * answered to nobody when the latency ends) or it sent more (nothing to
 * watch any more). libsoup does not read a connection whose message is
 * paused, so it would not notice. */
static gboolean
pft_http_mock_server_pending_watch (GSocket      *socket,
                                    GIOCondition  condition,
                                    gpointer      data)
{
  PftHttpMockPending *pending = data;
  char byte;
  gssize n;

  /* A peek that never blocks, whatever the GSocket's blocking property. */
  n = recv (g_socket_get_fd (socket), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
    return G_SOURCE_CONTINUE;
  if (n > 0)
    {
      g_clear_pointer (&pending->watch, g_source_unref);
      return G_SOURCE_REMOVE;
    }

  g_signal_handler_disconnect (pending->msg, pending->disconnected_id);
  pending->disconnected_id = 0;
  {
    g_autoptr(GIOStream) stream = soup_server_message_steal_connection (pending->msg);

    if (stream != NULL)
      g_io_stream_close (stream, NULL, NULL);
  }
  pft_http_mock_server_complete (pending->self, pending->generation, pending->record, pending->status, TRUE);
  /* Returning REMOVE destroys the source: pending_free must not. */
  g_clear_pointer (&pending->watch, g_source_unref);
  pft_http_mock_server_pending_free (pending);
  return G_SOURCE_REMOVE;
}

/* Microseconds until the first pending request is answered, which frees
 * a concurrency slot. */
static gint64
pft_http_mock_server_next_slot (PftHttpMockServer *self,
                                gint64             now)
{
  gint64 first = G_MAXINT64;

  g_assert (PFT_HTTP_IS_MOCK_SERVER (self));

  for (GList *l = self->pending.head; l != NULL; l = l->next)
    first = MIN (first, ((PftHttpMockPending *) l->data)->deadline);
  return first == G_MAXINT64 ? G_USEC_PER_SEC : MAX (first - now, 1000);
}

static void
pft_http_mock_server_limit_state_locked (PftHttpMockServer     *self,
                                         gint64                 now,
                                         gint64                 window,
                                         PftHttpMockLimitState *state)
{
  state->request_limit = self->max_requests;
  state->request_remaining = self->max_requests > self->request_window.total ?
                             self->max_requests - self->request_window.total : 0;
  state->request_reset = pft_http_mock_window_reset (&self->request_window, now, window);
  state->token_limit = self->max_tokens;
  state->token_remaining = self->max_tokens > self->token_window.total ?
                           self->max_tokens - self->token_window.total : 0;
  state->token_reset = pft_http_mock_window_reset (&self->token_window, now, window);
}

static gboolean
pft_http_mock_server_authorized (SoupServerMessage *msg,
                                 PftHttpMockApi     api,
                                 const char        *key)
{
  SoupMessageHeaders *headers = soup_server_message_get_request_headers (msg);
  const char *value;

  if (key == NULL)
    return TRUE;
  if (api == PFT_HTTP_MOCK_API_ANTHROPIC)
    return g_strcmp0 (soup_message_headers_get_one (headers, "x-api-key"), key) == 0;
  value = soup_message_headers_get_one (headers, "Authorization");
  return value != NULL && g_str_has_prefix (value, "Bearer ") && g_str_equal (value + strlen ("Bearer "), key);
}

static void
pft_http_mock_server_handle (SoupServer        *server,
                             SoupServerMessage *msg,
                             const char        *path,
                             GHashTable        *query,
                             gpointer           user_data)
{
  PftHttpMockServer *self = user_data;
  gint64 now = g_get_monotonic_time ();
  PftHttpMockRequest request;
  PftHttpMockLimitState state;
  PftHttpMockHeaderStyle style;
  PftHttpMockApi api;
  SoupMessageBody *body;
  SoupMessageHeaders *response_headers;
  g_autoptr(GError) error = NULL;
  g_autofree char *expected_key = NULL;
  g_autofree char *reply = NULL;
  g_autofree char *answer = NULL;
  const char *limited = NULL;
  guint record, generation, completion_tokens, status;
  gboolean truncated;
  guint64 cost, id;
  gint64 window, wait = 0, latency;
  double u_error, u_drop, u_slow;

  g_assert (PFT_HTTP_IS_MOCK_SERVER (self));

  if (g_str_equal (path, "/v1/chat/completions") || g_str_equal (path, "/chat/completions"))
    api = PFT_HTTP_MOCK_API_OPENAI;
  else if (g_str_equal (path, "/v1/messages"))
    api = PFT_HTTP_MOCK_API_ANTHROPIC;
  else
    {
      g_autofree char *message = g_strdup_printf ("no such endpoint: %s (the mock serves POST /v1/chat/completions, "
                                                  "/chat/completions and /v1/messages)", path);

      pft_http_mock_server_respond_error (msg, PFT_HTTP_MOCK_API_OPENAI, SOUP_STATUS_NOT_FOUND, message);
      return;
    }
  if (g_strcmp0 (soup_server_message_get_method (msg), SOUP_METHOD_POST) != 0)
    {
      soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Allow", "POST");
      pft_http_mock_server_respond_error (msg, api, SOUP_STATUS_METHOD_NOT_ALLOWED, "only POST is allowed here");
      return;
    }

  g_mutex_lock (&self->mutex);
  record = self->records->len;
  g_array_append_vals (self->records, &(PftHttpMockRecord) { now, 0, 0, -1 }, 1);
  generation = self->generation;
  self->stats.requests++;
  expected_key = g_strdup (self->expected_api_key);
  style = self->header_style;
  g_mutex_unlock (&self->mutex);

  if (style == PFT_HTTP_MOCK_HEADER_STYLE_AUTO)
    style = api == PFT_HTTP_MOCK_API_OPENAI ? PFT_HTTP_MOCK_HEADER_STYLE_OPENAI : PFT_HTTP_MOCK_HEADER_STYLE_ANTHROPIC;

  if (!pft_http_mock_server_authorized (msg, api, expected_key))
    {
      pft_http_mock_server_respond_error (msg, api, SOUP_STATUS_UNAUTHORIZED,
                                          api == PFT_HTTP_MOCK_API_OPENAI ?
                                          "Incorrect API key provided in the Authorization header (Bearer)" :
                                          "invalid x-api-key");
      pft_http_mock_server_finish (self, generation, record, SOUP_STATUS_UNAUTHORIZED, -1);
      return;
    }
  if (api == PFT_HTTP_MOCK_API_ANTHROPIC &&
      soup_message_headers_get_one (soup_server_message_get_request_headers (msg), "anthropic-version") == NULL)
    {
      pft_http_mock_server_respond_error (msg, api, SOUP_STATUS_BAD_REQUEST,
                                          "anthropic-version: header is required");
      pft_http_mock_server_finish (self, generation, record, SOUP_STATUS_BAD_REQUEST, -1);
      return;
    }

  body = soup_server_message_get_request_body (msg);
  if (!pft_http_mock_request_parse (api, body->data, body->length, &request, &error))
    {
      pft_http_mock_server_respond_error (msg, api, SOUP_STATUS_BAD_REQUEST, error->message);
      pft_http_mock_server_finish (self, generation, record, SOUP_STATUS_BAD_REQUEST, -1);
      return;
    }
  reply = pft_http_mock_reply_text (&request, &completion_tokens, &truncated);
  cost = (guint64) request.prompt_tokens + completion_tokens;

  g_mutex_lock (&self->mutex);
  window = (gint64) (self->window * G_USEC_PER_SEC);
  pft_http_mock_window_prune (&self->request_window, now, window);
  pft_http_mock_window_prune (&self->token_window, now, window);

  if (self->max_tokens > 0 && cost > self->max_tokens)
    {
      g_autofree char *message = g_strdup_printf ("the request needs %" G_GUINT64_FORMAT " tokens, more than the "
                                                  "limit of %u tokens per %g s", cost, self->max_tokens, self->window);

      g_mutex_unlock (&self->mutex);
      pft_http_mock_request_clear (&request);
      pft_http_mock_server_respond_error (msg, api, SOUP_STATUS_BAD_REQUEST, message);
      pft_http_mock_server_finish (self, generation, record, SOUP_STATUS_BAD_REQUEST, -1);
      return;
    }

  self->stats.max_concurrency = MAX (self->stats.max_concurrency, self->stats.in_flight + 1);
  if (self->max_concurrency > 0 && self->stats.in_flight >= self->max_concurrency)
    {
      wait = pft_http_mock_server_next_slot (self, now);
      limited = "concurrent requests";
    }
  if (self->max_requests > 0)
    {
      gint64 w = pft_http_mock_window_wait (&self->request_window, now, window, self->max_requests, 1);

      if (w > wait)
        {
          wait = w;
          limited = "requests";
        }
    }
  if (self->max_tokens > 0)
    {
      gint64 w = pft_http_mock_window_wait (&self->token_window, now, window, self->max_tokens, cost);

      if (w > wait)
        {
          wait = w;
          limited = "tokens";
        }
    }

  if (wait > 0)
    {
      g_autofree char *message = NULL;
      gint64 retry_after_ms = (wait + 999) / 1000;

      pft_http_mock_server_limit_state_locked (self, now, window, &state);
      if (g_str_equal (limited, "concurrent requests"))
        message = g_strdup_printf ("Rate limit reached for concurrent requests: limit %u", self->max_concurrency);
      else
        message = g_strdup_printf ("Rate limit reached for %s: limit %u per %g s",
                                   limited,
                                   g_str_equal (limited, "tokens") ? self->max_tokens : self->max_requests,
                                   self->window);
      g_mutex_unlock (&self->mutex);
      pft_http_mock_request_clear (&request);

      response_headers = soup_server_message_get_response_headers (msg);
      pft_http_mock_set_rate_headers (response_headers, style, &state);
      pft_http_mock_set_retry_after (response_headers, wait);
      pft_http_mock_server_respond (msg, PFT_HTTP_MOCK_STATUS_TOO_MANY_REQUESTS,
                                    pft_http_mock_error_body (api, PFT_HTTP_MOCK_STATUS_TOO_MANY_REQUESTS,
                                                              g_str_equal (limited, "tokens") ? "tokens" : "requests",
                                                              message));
      pft_http_mock_server_finish (self, generation, record, PFT_HTTP_MOCK_STATUS_TOO_MANY_REQUESTS, retry_after_ms);
      return;
    }

  pft_http_mock_window_add (&self->request_window, now, 1);
  pft_http_mock_window_add (&self->token_window, now, cost);
  self->stats.in_flight++;
  self->stats.tokens += cost;
  id = self->next_id++;

  /* Always four draws, so that the sequence of outcomes depends on the seed
   * and the order of admissions only, not on which faults are enabled. */
  latency = (gint64) (self->latency_min * G_USEC_PER_SEC);
  if (self->latency_max > self->latency_min)
    latency += (gint64) (g_rand_double (self->rand) * (self->latency_max - self->latency_min) * G_USEC_PER_SEC);
  else
    (void) g_rand_double (self->rand);
  u_error = g_rand_double (self->rand);
  u_drop = g_rand_double (self->rand);
  u_slow = g_rand_double (self->rand);
  if (u_slow < self->slow_rate)
    {
      latency += (gint64) (self->slow_latency * G_USEC_PER_SEC);
      self->stats.slow++;
    }
  if (u_drop < self->drop_rate)
    status = 0;
  else if (u_error < self->error_rate)
    status = SOUP_STATUS_INTERNAL_SERVER_ERROR;
  else
    status = SOUP_STATUS_OK;

  pft_http_mock_server_limit_state_locked (self, now, window, &state);
  g_mutex_unlock (&self->mutex);

  pft_http_mock_set_rate_headers (soup_server_message_get_response_headers (msg), style, &state);

  if (status == SOUP_STATUS_OK)
    answer = pft_http_mock_reply_body (api, id, &request, reply, completion_tokens, truncated);
  else if (status != 0)
    answer = pft_http_mock_error_body (api, status, NULL, "The server had an error while processing your request (injected fault)");

  if (latency <= 0 && status != 0)
    {
      pft_http_mock_server_respond (msg, status, g_steal_pointer (&answer));
      pft_http_mock_server_complete (self, generation, record, status, FALSE);
    }
  else
    {
      PftHttpMockPending *pending = g_new0 (PftHttpMockPending, 1);

      pending->self = self;
      pending->msg = g_object_ref (msg);
      pending->record = record;
      pending->generation = generation;
      pending->deadline = now + latency;
      pending->status = status;
      pending->body = g_steal_pointer (&answer);
      pending->disconnected_id = g_signal_connect (msg, "disconnected",
                                                   G_CALLBACK (pft_http_mock_server_pending_disconnected),
                                                   pending);
      soup_server_message_pause (msg);
      /* Rounded up: an answer is never earlier than its latency. */
      pending->source = g_timeout_source_new ((guint) ((latency + 999) / 1000));
      g_source_set_callback (pending->source, pft_http_mock_server_pending_fire, pending, NULL);
      g_source_set_static_name (pending->source, "[pft-http] mock latency");
      g_source_attach (pending->source, self->context);
      if (soup_server_message_get_socket (msg) != NULL)
        {
          pending->watch = g_socket_create_source (soup_server_message_get_socket (msg),
                                                   G_IO_IN | G_IO_HUP | G_IO_ERR, NULL);
          g_source_set_callback (pending->watch, (GSourceFunc) (void (*) (void)) pft_http_mock_server_pending_watch,
                                 pending, NULL);
          g_source_set_static_name (pending->watch, "[pft-http] mock client watch");
          g_source_attach (pending->watch, self->context);
        }
      g_queue_push_tail (&self->pending, pending);
    }
  pft_http_mock_request_clear (&request);
}

/* Creates the server and binds it on the thread-default main context. */
static gboolean
pft_http_mock_server_listen (PftHttpMockServer  *self,
                             GError            **error)
{
  g_autoptr(GInetAddress) loopback = NULL;
  g_autoptr(GSocketAddress) address = NULL;
  g_autoptr(SoupServer) server = NULL;
  g_autoptr(GSocketAddress) local = NULL;
  GSList *listeners;

  g_assert (PFT_HTTP_IS_MOCK_SERVER (self));

  server = soup_server_new ("server-header", "pft-mock-llm", NULL);
  soup_server_add_handler (server, NULL, pft_http_mock_server_handle, self, NULL);

  loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  address = g_inet_socket_address_new (loopback, self->requested_port);
  if (!soup_server_listen (server, address, 0, error))
    return FALSE;

  /* The port from the listening socket: soup_server_get_uris() leaks the
   * address it caches in libsoup < 3.4 (upstream c07ff61f). */
  listeners = soup_server_get_listeners (server);
  g_assert (listeners != NULL);
  local = g_socket_get_local_address (listeners->data, error);
  g_slist_free (listeners);
  if (local == NULL)
    return FALSE;
  self->port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (local));

  self->server = g_steal_pointer (&server);
  return TRUE;
}

/* On the server's thread: requests still waiting get no answer. */
static void
pft_http_mock_server_shutdown (PftHttpMockServer *self)
{
  g_assert (PFT_HTTP_IS_MOCK_SERVER (self));

  while (self->pending.head != NULL)
    {
      PftHttpMockPending *pending = self->pending.head->data;

      pft_http_mock_server_complete (self, pending->generation, pending->record, pending->status, TRUE);
      pft_http_mock_server_pending_free (pending);
    }
  if (self->server != NULL)
    soup_server_disconnect (self->server);
  g_clear_object (&self->server);
}

static void
pft_http_mock_server_dispose (GObject *object)
{
  PftHttpMockServer *self = PFT_HTTP_MOCK_SERVER (object);

  pft_http_mock_server_stop (self);

  G_OBJECT_CLASS (pft_http_mock_server_parent_class)->dispose (object);
}

static void
pft_http_mock_server_finalize (GObject *object)
{
  PftHttpMockServer *self = PFT_HTTP_MOCK_SERVER (object);

  g_free (self->expected_api_key);
  g_rand_free (self->rand);
  pft_http_mock_window_clear (&self->request_window);
  pft_http_mock_window_clear (&self->token_window);
  g_array_unref (self->records);
  g_mutex_clear (&self->mutex);

  G_OBJECT_CLASS (pft_http_mock_server_parent_class)->finalize (object);
}

static void
pft_http_mock_server_get_property (GObject    *object,
                                   guint       prop_id,
                                   GValue     *value,
                                   GParamSpec *pspec)
{
  PftHttpMockServer *self = PFT_HTTP_MOCK_SERVER (object);

  if (prop_id == PROP_PORT)
    {
      g_value_set_uint (value, pft_http_mock_server_get_port (self));
      return;
    }

  g_mutex_lock (&self->mutex);
  switch (prop_id)
    {
    case PROP_MAX_REQUESTS:
      g_value_set_uint (value, self->max_requests);
      break;
    case PROP_WINDOW:
      g_value_set_double (value, self->window);
      break;
    case PROP_MAX_TOKENS:
      g_value_set_uint (value, self->max_tokens);
      break;
    case PROP_MAX_CONCURRENCY:
      g_value_set_uint (value, self->max_concurrency);
      break;
    case PROP_LATENCY_MIN:
      g_value_set_double (value, self->latency_min);
      break;
    case PROP_LATENCY_MAX:
      g_value_set_double (value, self->latency_max);
      break;
    case PROP_ERROR_RATE:
      g_value_set_double (value, self->error_rate);
      break;
    case PROP_DROP_RATE:
      g_value_set_double (value, self->drop_rate);
      break;
    case PROP_SLOW_RATE:
      g_value_set_double (value, self->slow_rate);
      break;
    case PROP_SLOW_LATENCY:
      g_value_set_double (value, self->slow_latency);
      break;
    case PROP_SEED:
      g_value_set_uint (value, self->seed);
      break;
    case PROP_HEADER_STYLE:
      g_value_set_enum (value, self->header_style);
      break;
    case PROP_EXPECTED_API_KEY:
      g_value_set_string (value, self->expected_api_key);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
  g_mutex_unlock (&self->mutex);
}

static void
pft_http_mock_server_set_property (GObject      *object,
                                   guint         prop_id,
                                   const GValue *value,
                                   GParamSpec   *pspec)
{
  PftHttpMockServer *self = PFT_HTTP_MOCK_SERVER (object);

  g_mutex_lock (&self->mutex);
  switch (prop_id)
    {
    case PROP_PORT:
      self->requested_port = g_value_get_uint (value);
      break;
    case PROP_MAX_REQUESTS:
      self->max_requests = g_value_get_uint (value);
      break;
    case PROP_WINDOW:
      self->window = g_value_get_double (value);
      break;
    case PROP_MAX_TOKENS:
      self->max_tokens = g_value_get_uint (value);
      break;
    case PROP_MAX_CONCURRENCY:
      self->max_concurrency = g_value_get_uint (value);
      break;
    case PROP_LATENCY_MIN:
      self->latency_min = g_value_get_double (value);
      break;
    case PROP_LATENCY_MAX:
      self->latency_max = g_value_get_double (value);
      break;
    case PROP_ERROR_RATE:
      self->error_rate = g_value_get_double (value);
      break;
    case PROP_DROP_RATE:
      self->drop_rate = g_value_get_double (value);
      break;
    case PROP_SLOW_RATE:
      self->slow_rate = g_value_get_double (value);
      break;
    case PROP_SLOW_LATENCY:
      self->slow_latency = g_value_get_double (value);
      break;
    case PROP_SEED:
      self->seed = g_value_get_uint (value);
      g_rand_set_seed (self->rand, self->seed);
      break;
    case PROP_HEADER_STYLE:
      self->header_style = g_value_get_enum (value);
      break;
    case PROP_EXPECTED_API_KEY:
      g_free (self->expected_api_key);
      self->expected_api_key = g_value_dup_string (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
  g_mutex_unlock (&self->mutex);
}

static void
pft_http_mock_server_class_init (PftHttpMockServerClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GParamFlags flags = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS;

  object_class->dispose = pft_http_mock_server_dispose;
  object_class->finalize = pft_http_mock_server_finalize;
  object_class->get_property = pft_http_mock_server_get_property;
  object_class->set_property = pft_http_mock_server_set_property;

  /**
   * PftHttpMockServer:port:
   *
   * The TCP port on 127.0.0.1. Set before starting: 0 (the default) lets
   * the system pick a free port. Once started, reads give the port the
   * server listens on.
   *
   * Since: 0.1
   */
  properties[PROP_PORT] =
    g_param_spec_uint ("port", NULL, NULL, 0, G_MAXUINT16, 0, flags);

  /**
   * PftHttpMockServer:max-requests:
   *
   * How many requests the server admits per sliding
   * [property@PftHttp.MockServer:window]; 0 (the default) for no limit.
   * Requests answered 429, 400 or 401 do not count.
   *
   * Since: 0.1
   */
  properties[PROP_MAX_REQUESTS] =
    g_param_spec_uint ("max-requests", NULL, NULL, 0, G_MAXUINT, 0, flags);

  /**
   * PftHttpMockServer:window:
   *
   * The length of the sliding window of
   * [property@PftHttp.MockServer:max-requests] and
   * [property@PftHttp.MockServer:max-tokens], in seconds (default 60). Also
   * the interval over which [struct@PftHttp.MockStats].max_in_window
   * counts arrivals.
   *
   * Since: 0.1
   */
  properties[PROP_WINDOW] =
    g_param_spec_double ("window", NULL, NULL, 0.001, 86400.0, 60.0, flags);

  /**
   * PftHttpMockServer:max-tokens:
   *
   * How many tokens (prompt plus completion, counted as the reply's
   * `usage` says) the server admits per sliding
   * [property@PftHttp.MockServer:window]; 0 (the default) for no limit. A
   * single request that needs more than the limit is answered 400.
   *
   * Since: 0.1
   */
  properties[PROP_MAX_TOKENS] =
    g_param_spec_uint ("max-tokens", NULL, NULL, 0, G_MAXUINT, 0, flags);

  /**
   * PftHttpMockServer:max-concurrency:
   *
   * How many admitted requests may wait for their answer at once; one more
   * is answered 429, with a `retry-after-ms` until the first of them is
   * answered. 0 (the default) for no limit.
   *
   * Since: 0.1
   */
  properties[PROP_MAX_CONCURRENCY] =
    g_param_spec_uint ("max-concurrency", NULL, NULL, 0, G_MAXUINT, 0, flags);

  /**
   * PftHttpMockServer:latency-min:
   *
   * The shortest time an admitted request waits before its answer, in
   * seconds (default 0).
   *
   * Since: 0.1
   */
  properties[PROP_LATENCY_MIN] =
    g_param_spec_double ("latency-min", NULL, NULL, 0.0, 3600.0, 0.0, flags);

  /**
   * PftHttpMockServer:latency-max:
   *
   * The longest time an admitted request waits before its answer, in
   * seconds: each request draws its latency uniformly between
   * [property@PftHttp.MockServer:latency-min] and this. When it is not
   * above latency-min (the default, 0), the latency is latency-min.
   *
   * Since: 0.1
   */
  properties[PROP_LATENCY_MAX] =
    g_param_spec_double ("latency-max", NULL, NULL, 0.0, 3600.0, 0.0, flags);

  /**
   * PftHttpMockServer:error-rate:
   *
   * The share of admitted requests answered 500 after their latency
   * (fault injection), from 0 (the default) to 1.
   *
   * Since: 0.1
   */
  properties[PROP_ERROR_RATE] =
    g_param_spec_double ("error-rate", NULL, NULL, 0.0, 1.0, 0.0, flags);

  /**
   * PftHttpMockServer:drop-rate:
   *
   * The share of admitted requests whose connection the server closes
   * after their latency without answering (fault injection), from 0 (the
   * default) to 1. Takes precedence over
   * [property@PftHttp.MockServer:error-rate].
   *
   * Since: 0.1
   */
  properties[PROP_DROP_RATE] =
    g_param_spec_double ("drop-rate", NULL, NULL, 0.0, 1.0, 0.0, flags);

  /**
   * PftHttpMockServer:slow-rate:
   *
   * The share of admitted requests that wait
   * [property@PftHttp.MockServer:slow-latency] more than their latency
   * (fault injection), from 0 (the default) to 1.
   *
   * Since: 0.1
   */
  properties[PROP_SLOW_RATE] =
    g_param_spec_double ("slow-rate", NULL, NULL, 0.0, 1.0, 0.0, flags);

  /**
   * PftHttpMockServer:slow-latency:
   *
   * The extra wait of a slow response, in seconds (default 1).
   *
   * Since: 0.1
   */
  properties[PROP_SLOW_LATENCY] =
    g_param_spec_double ("slow-latency", NULL, NULL, 0.0, 3600.0, 1.0, flags);

  /**
   * PftHttpMockServer:seed:
   *
   * The seed of the generator that draws latencies and faults (default 0).
   * Setting it restarts the sequence, so that a run whose requests arrive
   * one after the other gets the same outcomes every time.
   *
   * Since: 0.1
   */
  properties[PROP_SEED] =
    g_param_spec_uint ("seed", NULL, NULL, 0, G_MAXUINT, 0, flags);

  /**
   * PftHttpMockServer:header-style:
   *
   * Which rate-limit headers the answers carry; by default
   * (%PFT_HTTP_MOCK_HEADER_STYLE_AUTO) those of the provider whose
   * endpoint was called.
   *
   * Since: 0.1
   */
  properties[PROP_HEADER_STYLE] =
    g_param_spec_enum ("header-style", NULL, NULL,
                       PFT_HTTP_TYPE_MOCK_HEADER_STYLE, PFT_HTTP_MOCK_HEADER_STYLE_AUTO, flags);

  /**
   * PftHttpMockServer:expected-api-key:
   *
   * When set, requests must carry this key (`Authorization: Bearer KEY` on
   * the OpenAI endpoints, `x-api-key: KEY` on Anthropic's) or are answered
   * 401. %NULL (the default) accepts any request.
   *
   * Since: 0.1
   */
  properties[PROP_EXPECTED_API_KEY] =
    g_param_spec_string ("expected-api-key", NULL, NULL, NULL, flags);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
pft_http_mock_server_init (PftHttpMockServer *self)
{
  g_mutex_init (&self->mutex);
  self->window = 60.0;
  self->slow_latency = 1.0;
  self->rand = g_rand_new_with_seed (0);
  pft_http_mock_window_init (&self->request_window);
  pft_http_mock_window_init (&self->token_window);
  self->records = g_array_new (FALSE, FALSE, sizeof (PftHttpMockRecord));
  g_queue_init (&self->pending);
}

/**
 * pft_http_mock_server_new:
 *
 * Creates a mock API server with no limits, no latency and no faults. Set
 * its properties, then call [method@PftHttp.MockServer.start] or
 * [method@PftHttp.MockServer.start_in_thread].
 *
 * Returns: (transfer full): a new mock server, not listening yet
 *
 * Since: 0.1
 */
PftHttpMockServer *
pft_http_mock_server_new (void)
{
  return g_object_new (PFT_HTTP_TYPE_MOCK_SERVER, NULL);
}

/**
 * pft_http_mock_server_start:
 * @self: a mock server
 * @error: return location for a #GError
 *
 * Listens on 127.0.0.1 and serves requests from the thread-default main
 * context of the caller: that context must be iterated (by a main loop or
 * by an asynchronous client waiting on it) for requests to be answered. A
 * synchronous client on the same thread would deadlock: use
 * [method@PftHttp.MockServer.start_in_thread] for that.
 *
 * Returns: %TRUE when listening, %FALSE with @error set (for example
 *   %G_IO_ERROR_ADDRESS_IN_USE when the [property@PftHttp.MockServer:port]
 *   is taken)
 *
 * Since: 0.1
 */
gboolean
pft_http_mock_server_start (PftHttpMockServer  *self,
                            GError            **error)
{
  g_return_val_if_fail (PFT_HTTP_IS_MOCK_SERVER (self), FALSE);
  g_return_val_if_fail (self->context == NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!pft_http_mock_server_listen (self, error))
    return FALSE;
  self->context = g_main_context_ref_thread_default ();
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PORT]);
  return TRUE;
}

typedef struct
{
  PftHttpMockServer *self;
  GMutex mutex;
  GCond cond;
  gboolean done;
  GError *error;
} PftHttpMockServerStartup;

static gpointer
pft_http_mock_server_thread_main (gpointer data)
{
  PftHttpMockServerStartup *startup = data;
  PftHttpMockServer *self = startup->self;
  gboolean listening;
  GError *error = NULL;

  g_main_context_push_thread_default (self->context);
  listening = pft_http_mock_server_listen (self, &error);

  g_mutex_lock (&startup->mutex);
  startup->error = error;
  startup->done = TRUE;
  g_cond_signal (&startup->cond);
  g_mutex_unlock (&startup->mutex);
  /* startup belongs to the starting thread from here on. */

  if (listening)
    {
      g_main_loop_run (self->loop);
      pft_http_mock_server_shutdown (self);
    }

  g_main_context_pop_thread_default (self->context);
  return NULL;
}

/**
 * pft_http_mock_server_start_in_thread:
 * @self: a mock server
 * @error: return location for a #GError
 *
 * Listens on 127.0.0.1 and serves requests from a thread of its own, with
 * its own main context, so that the caller may block (a synchronous
 * client, a test waiting on its own loop). Returns once the server is
 * listening.
 *
 * Returns: %TRUE when listening, %FALSE with @error set
 *
 * Since: 0.1
 */
gboolean
pft_http_mock_server_start_in_thread (PftHttpMockServer  *self,
                                      GError            **error)
{
  PftHttpMockServerStartup startup = { self, };

  g_return_val_if_fail (PFT_HTTP_IS_MOCK_SERVER (self), FALSE);
  g_return_val_if_fail (self->context == NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  g_mutex_init (&startup.mutex);
  g_cond_init (&startup.cond);
  self->context = g_main_context_new ();
  self->loop = g_main_loop_new (self->context, FALSE);
  self->thread = g_thread_new ("pft-mock-llm", pft_http_mock_server_thread_main, &startup);

  g_mutex_lock (&startup.mutex);
  while (!startup.done)
    g_cond_wait (&startup.cond, &startup.mutex);
  g_mutex_unlock (&startup.mutex);
  g_mutex_clear (&startup.mutex);
  g_cond_clear (&startup.cond);

  if (startup.error != NULL)
    {
      g_propagate_error (error, startup.error);
      g_thread_join (g_steal_pointer (&self->thread));
      g_clear_pointer (&self->loop, g_main_loop_unref);
      g_clear_pointer (&self->context, g_main_context_unref);
      return FALSE;
    }

  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PORT]);
  return TRUE;
}

static gboolean
pft_http_mock_server_quit_loop (gpointer data)
{
  g_main_loop_quit (data);
  return G_SOURCE_REMOVE;
}

/**
 * pft_http_mock_server_stop:
 * @self: a mock server
 *
 * Stops listening and closes every connection; requests still waiting for
 * their latency get no answer (they count as cancelled). Call it from the
 * thread that called [method@PftHttp.MockServer.start] (or any thread
 * after [method@PftHttp.MockServer.start_in_thread]). Does nothing when
 * the server is not running. The statistics stay readable, and the server
 * may be started again.
 *
 * Since: 0.1
 */
void
pft_http_mock_server_stop (PftHttpMockServer *self)
{
  g_return_if_fail (PFT_HTTP_IS_MOCK_SERVER (self));

  if (self->context == NULL)
    return;

  if (self->thread != NULL)
    {
      /* A source, not g_main_loop_quit(): the loop may not run yet. */
      g_autoptr(GSource) quit = g_idle_source_new ();

      g_source_set_callback (quit, pft_http_mock_server_quit_loop,
                             g_main_loop_ref (self->loop),
                             (GDestroyNotify) g_main_loop_unref);
      g_source_attach (quit, self->context);
      g_thread_join (g_steal_pointer (&self->thread));
      g_clear_pointer (&self->loop, g_main_loop_unref);
    }
  else
    pft_http_mock_server_shutdown (self);

  g_clear_pointer (&self->context, g_main_context_unref);
}

/**
 * pft_http_mock_server_get_port:
 * @self: a mock server
 *
 * Gets the TCP port the server listens on.
 *
 * Returns: the port, or the requested [property@PftHttp.MockServer:port]
 *   (0 by default) when not started
 *
 * Since: 0.1
 */
guint
pft_http_mock_server_get_port (PftHttpMockServer *self)
{
  g_return_val_if_fail (PFT_HTTP_IS_MOCK_SERVER (self), 0);

  return self->context != NULL ? self->port : self->requested_port;
}

/**
 * pft_http_mock_server_get_uri:
 * @self: a started mock server
 *
 * Gets the server's base URI, `http://127.0.0.1:PORT` without a trailing
 * slash. An OpenAI-style client takes it (or it with `/v1` appended) as
 * its base URL and posts to `/chat/completions`; an Anthropic-style client
 * posts to `/v1/messages` under it.
 *
 * Returns: (transfer full): the base URI
 *
 * Since: 0.1
 */
char *
pft_http_mock_server_get_uri (PftHttpMockServer *self)
{
  g_return_val_if_fail (PFT_HTTP_IS_MOCK_SERVER (self), NULL);
  g_return_val_if_fail (self->context != NULL, NULL);

  return g_strdup_printf ("http://127.0.0.1:%u", self->port);
}

/**
 * pft_http_mock_server_set_limits:
 * @self: a mock server
 * @max_requests: requests admitted per window, 0 for no limit
 * @window: the window, in seconds (> 0)
 * @max_tokens: tokens admitted per window, 0 for no limit
 * @max_concurrency: requests answered at once, 0 for no limit
 *
 * Sets [property@PftHttp.MockServer:max-requests],
 * [property@PftHttp.MockServer:window],
 * [property@PftHttp.MockServer:max-tokens] and
 * [property@PftHttp.MockServer:max-concurrency] at once: the next request
 * sees all four. Works while the server runs; what was admitted before
 * stays in the window.
 *
 * Since: 0.1
 */
void
pft_http_mock_server_set_limits (PftHttpMockServer *self,
                                 guint              max_requests,
                                 double             window,
                                 guint              max_tokens,
                                 guint              max_concurrency)
{
  g_return_if_fail (PFT_HTTP_IS_MOCK_SERVER (self));
  g_return_if_fail (window >= 0.001);

  g_mutex_lock (&self->mutex);
  self->max_requests = max_requests;
  self->window = window;
  self->max_tokens = max_tokens;
  self->max_concurrency = max_concurrency;
  g_mutex_unlock (&self->mutex);

  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_MAX_REQUESTS]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_WINDOW]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_MAX_TOKENS]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_MAX_CONCURRENCY]);
}

/**
 * pft_http_mock_server_set_latency:
 * @self: a mock server
 * @latency_min: the shortest latency, in seconds
 * @latency_max: the longest latency, in seconds; not above @latency_min
 *   for a fixed latency
 *
 * Sets [property@PftHttp.MockServer:latency-min] and
 * [property@PftHttp.MockServer:latency-max] at once.
 *
 * Since: 0.1
 */
void
pft_http_mock_server_set_latency (PftHttpMockServer *self,
                                  double             latency_min,
                                  double             latency_max)
{
  g_return_if_fail (PFT_HTTP_IS_MOCK_SERVER (self));
  g_return_if_fail (latency_min >= 0 && latency_max >= 0);

  g_mutex_lock (&self->mutex);
  self->latency_min = latency_min;
  self->latency_max = latency_max;
  g_mutex_unlock (&self->mutex);

  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_LATENCY_MIN]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_LATENCY_MAX]);
}

/**
 * pft_http_mock_server_get_stats:
 * @self: a mock server
 *
 * Takes a snapshot of what the server saw since it was created or since
 * [method@PftHttp.MockServer.reset_stats]. Safe from any thread at any
 * time.
 *
 * Returns: (transfer full): the counters
 *
 * Since: 0.1
 */
PftHttpMockStats *
pft_http_mock_server_get_stats (PftHttpMockServer *self)
{
  PftHttpMockStats *stats;
  g_autofree gint64 *times = NULL;
  gint64 window;
  guint n;

  g_return_val_if_fail (PFT_HTTP_IS_MOCK_SERVER (self), NULL);

  g_mutex_lock (&self->mutex);
  stats = pft_http_mock_stats_copy (&self->stats);
  n = self->records->len;
  times = g_new (gint64, MAX (n, 1));
  for (guint i = 0; i < n; i++)
    times[i] = g_array_index (self->records, PftHttpMockRecord, i).arrival;
  window = (gint64) (self->window * G_USEC_PER_SEC);
  g_mutex_unlock (&self->mutex);

  stats->max_in_window = pft_http_mock_window_max_count (times, n, window);
  return stats;
}

/**
 * pft_http_mock_server_get_records:
 * @self: a mock server
 *
 * Lists the requests that reached a chat endpoint, in order of arrival,
 * since the server was created or since
 * [method@PftHttp.MockServer.reset_stats]. Safe from any thread at any
 * time; requests still in flight have a `finished` of 0.
 *
 * Returns: (transfer full) (element-type PftHttpMockRecord): the records;
 *   free with `g_list_free_full (records, (GDestroyNotify) pft_http_mock_record_free)`
 *
 * Since: 0.1
 */
GList *
pft_http_mock_server_get_records (PftHttpMockServer *self)
{
  GList *records = NULL;

  g_return_val_if_fail (PFT_HTTP_IS_MOCK_SERVER (self), NULL);

  /* A GList, not a GPtrArray: PyGObject frees the elements of a
   * transfer-full GPtrArray that has a free function, after wrapping them. */
  g_mutex_lock (&self->mutex);
  for (guint i = self->records->len; i > 0; i--)
    records = g_list_prepend (records, pft_http_mock_record_copy (&g_array_index (self->records, PftHttpMockRecord, i - 1)));
  g_mutex_unlock (&self->mutex);
  return records;
}

/**
 * pft_http_mock_server_get_arrivals:
 * @self: a mock server
 *
 * Lists when the requests that reached a chat endpoint arrived, in
 * microseconds of g_get_monotonic_time(), in order: the `arrival` of each
 * of [method@PftHttp.MockServer.get_records].
 *
 * Returns: (transfer full) (element-type gint64): the arrival times
 *
 * Since: 0.1
 */
GArray *
pft_http_mock_server_get_arrivals (PftHttpMockServer *self)
{
  GArray *arrivals;

  g_return_val_if_fail (PFT_HTTP_IS_MOCK_SERVER (self), NULL);

  g_mutex_lock (&self->mutex);
  arrivals = g_array_sized_new (FALSE, FALSE, sizeof (gint64), self->records->len);
  for (guint i = 0; i < self->records->len; i++)
    g_array_append_val (arrivals, g_array_index (self->records, PftHttpMockRecord, i).arrival);
  g_mutex_unlock (&self->mutex);
  return arrivals;
}

/**
 * pft_http_mock_server_reset_stats:
 * @self: a mock server
 *
 * Sets the counters back to zero and forgets the records, so that a test
 * may observe a phase on its own. The limits' windows and the requests in
 * flight are not touched: they are the server's state, not observations
 * ([struct@PftHttp.MockStats].in_flight keeps its value).
 *
 * Since: 0.1
 */
void
pft_http_mock_server_reset_stats (PftHttpMockServer *self)
{
  guint in_flight;

  g_return_if_fail (PFT_HTTP_IS_MOCK_SERVER (self));

  g_mutex_lock (&self->mutex);
  in_flight = self->stats.in_flight;
  memset (&self->stats, 0, sizeof self->stats);
  self->stats.in_flight = in_flight;
  g_array_set_size (self->records, 0);
  self->generation++;
  g_mutex_unlock (&self->mutex);
}
