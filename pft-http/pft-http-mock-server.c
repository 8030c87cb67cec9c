/* pft-http-mock-server.c: an OpenAI/Anthropic-compatible mock API on loopback
 *
 * SPDX-License-Identifier: MIT
 */

#include "pft-http-mock-server.h"

#include <libsoup/soup.h>

/**
 * PftHttpMockServer:
 *
 * A mock of the OpenAI and Anthropic chat APIs on a [class@Soup.Server]
 * bound to 127.0.0.1, for tests and offline runs.
 *
 * Since: 0.1
 */
struct _PftHttpMockServer
{
  GObject parent_instance;

  GMutex mutex;

  guint requested_port;
  guint port;

  /* The server, its context and (with start_in_thread) its thread. Only
   * touched from the thread that runs @context. */
  SoupServer *server;
  GMainContext *context;
  GMainLoop *loop;
  GThread *thread;
};

enum {
  PROP_0,
  PROP_PORT,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

G_DEFINE_FINAL_TYPE (PftHttpMockServer, pft_http_mock_server, G_TYPE_OBJECT)

static void
pft_http_mock_server_handle (SoupServer        *server,
                             SoupServerMessage *msg,
                             const char        *path,
                             GHashTable        *query,
                             gpointer           user_data)
{
  soup_server_message_set_status (msg, SOUP_STATUS_NOT_FOUND, NULL);
}

/* Creates the server and binds it on the thread-default main context. */
static gboolean
pft_http_mock_server_listen (PftHttpMockServer  *self,
                             GError            **error)
{
  g_autoptr(GInetAddress) loopback = NULL;
  g_autoptr(GSocketAddress) address = NULL;
  g_autoptr(SoupServer) server = NULL;
  GSList *uris;

  g_assert (PFT_HTTP_IS_MOCK_SERVER (self));

  server = soup_server_new ("server-header", "pft-mock-llm", NULL);
  soup_server_add_handler (server, NULL, pft_http_mock_server_handle, self, NULL);

  loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  address = g_inet_socket_address_new (loopback, self->requested_port);
  if (!soup_server_listen (server, address, 0, error))
    return FALSE;

  uris = soup_server_get_uris (server);
  g_assert (uris != NULL);
  self->port = g_uri_get_port (uris->data);
  g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);

  self->server = g_steal_pointer (&server);
  return TRUE;
}

static void
pft_http_mock_server_shutdown (PftHttpMockServer *self)
{
  g_assert (PFT_HTTP_IS_MOCK_SERVER (self));

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

  switch (prop_id)
    {
    case PROP_PORT:
      g_value_set_uint (value, pft_http_mock_server_get_port (self));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
pft_http_mock_server_set_property (GObject      *object,
                                   guint         prop_id,
                                   const GValue *value,
                                   GParamSpec   *pspec)
{
  PftHttpMockServer *self = PFT_HTTP_MOCK_SERVER (object);

  switch (prop_id)
    {
    case PROP_PORT:
      self->requested_port = g_value_get_uint (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
pft_http_mock_server_class_init (PftHttpMockServerClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

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
    g_param_spec_uint ("port", NULL, NULL,
                       0, G_MAXUINT16, 0,
                       G_PARAM_READWRITE | G_PARAM_CONSTRUCT | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
pft_http_mock_server_init (PftHttpMockServer *self)
{
  g_mutex_init (&self->mutex);
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
 * their latency get no answer. Call it from the thread that called
 * [method@PftHttp.MockServer.start] (or any thread after
 * [method@PftHttp.MockServer.start_in_thread]). Does nothing when the
 * server is not running. The statistics stay readable.
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
