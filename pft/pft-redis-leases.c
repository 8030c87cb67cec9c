/* pft-redis-leases.c: the leases a process holds, renewed
 *
 * SPDX-License-Identifier: MIT
 */

#include "pft-redis-leases-private.h"

/* Renewal ids per RENEW script: keeps each script short for Redis. */
#define PFT_REDIS_RENEW_CHUNK 256

struct _PftRedisLeases
{
  PftRedisConnection *conn;
  PftRedisKeys        keys;
  char               *quota;
  gpointer            owner;
  gpointer          (*owner_ref) (gpointer);
  GDestroyNotify      owner_unref;

  GMutex              lock;
  GHashTable         *held;          /* lease id -> NULL */
  gint64              ttl_us;
  gint                lost;          /* atomic */

  /* Only on the "pft-redis" thread. */
  GSource            *renew_source;
  gint64              renew_every_us;
};

static void
pft_redis_leases_on_renew_reply (PftRedisConnection *conn,
                                 redisReply         *reply,
                                 const GError       *error,
                                 gpointer            data)
{
  PftRedisLeases *self = data;
  guint gone = 0;

  if (error != NULL)
    g_debug ("Quota “%s”: renewing leases: %s", self->quota, error->message);
  else if (reply->type == REDIS_REPLY_ARRAY)
    {
      /* Not added back (others may have the slots now), not renewed. */
      g_mutex_lock (&self->lock);
      for (gsize i = 0; i < reply->elements; i++)
        if (reply->element[i]->type == REDIS_REPLY_STRING &&
            g_hash_table_remove (self->held, reply->element[i]->str))
          gone++;
      g_mutex_unlock (&self->lock);
    }
  if (gone > 0)
    {
      g_warning ("Quota “%s”: %u leases expired in Redis while held", self->quota, gone);
      g_atomic_int_add (&self->lost, (gint) gone);
    }
  self->owner_unref (self->owner);
}

static void pft_redis_leases_start_timer (PftRedisLeases *self,
                                          gint64          ttl_us);

static gboolean
pft_redis_leases_on_renew (gpointer data)
{
  PftRedisLeases *self = data;
  g_autoptr(GPtrArray) ids = g_ptr_array_new_with_free_func (g_free);
  GHashTableIter iter;
  gpointer id;
  gint64 ttl_us;
  char ttl[32];

  g_mutex_lock (&self->lock);
  g_hash_table_iter_init (&iter, self->held);
  while (g_hash_table_iter_next (&iter, &id, NULL))
    g_ptr_array_add (ids, g_strdup (id));
  ttl_us = self->ttl_us;
  g_mutex_unlock (&self->lock);
  g_snprintf (ttl, sizeof ttl, "%" G_GINT64_FORMAT, ttl_us);

  for (guint start = 0; start < ids->len; start += PFT_REDIS_RENEW_CHUNK)
    {
      guint n = MIN (PFT_REDIS_RENEW_CHUNK, ids->len - start);
      g_autofree const char **args = g_new (const char *, n + 1);

      args[0] = ttl;
      for (guint i = 0; i < n; i++)
        args[1 + i] = g_ptr_array_index (ids, start + i);
      /* The reply holds the owner too (and the owner, @self). */
      self->owner_ref (self->owner);
      _pft_redis_script_eval (self->conn, &self->keys, PFT_REDIS_SCRIPT_RENEW, n + 1, args,
                              pft_redis_leases_on_renew_reply, self);
    }

  /* Nothing held: the timer (and the owner's reference) goes. A new TTL:
   * a timer at its pace. */
  if (ids->len == 0 || ttl_us / 3 != self->renew_every_us)
    {
      self->renew_source = NULL;
      if (ids->len > 0)
        pft_redis_leases_start_timer (self, ttl_us);
      return G_SOURCE_REMOVE;
    }
  return G_SOURCE_CONTINUE;
}

/* The timer's reference to the owner (which may free @self with it). */
static void
pft_redis_leases_unref_owner (gpointer data)
{
  PftRedisLeases *self = data;

  self->owner_unref (self->owner);
}

static void
pft_redis_leases_start_timer (PftRedisLeases *self,
                              gint64          ttl_us)
{
  self->renew_every_us = ttl_us / 3;
  self->renew_source = g_timeout_source_new ((guint) MAX (1, self->renew_every_us / 1000));
  g_source_set_callback (self->renew_source, pft_redis_leases_on_renew,
                         self, pft_redis_leases_unref_owner);
  self->owner_ref (self->owner);
  g_source_attach (self->renew_source, _pft_redis_connection_get_context (self->conn));
  g_source_unref (self->renew_source);
}

PftRedisLeases *
_pft_redis_leases_new (PftRedisConnection *conn,
                       const PftRedisKeys *keys,
                       const char         *quota,
                       gint64              ttl_us,
                       gpointer            owner,
                       gpointer          (*owner_ref) (gpointer),
                       GDestroyNotify      owner_unref)
{
  PftRedisLeases *self = g_new0 (PftRedisLeases, 1);

  self->conn = _pft_redis_connection_ref (conn);
  for (guint i = 0; i < PFT_REDIS_N_KEYS; i++)
    self->keys.keys[i] = g_strdup (keys->keys[i]);
  self->quota = g_strdup (quota);
  self->owner = owner;
  self->owner_ref = owner_ref;
  self->owner_unref = owner_unref;
  g_mutex_init (&self->lock);
  self->held = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->ttl_us = ttl_us;
  return self;
}

void
_pft_redis_leases_free (PftRedisLeases *self)
{
  g_assert (self->renew_source == NULL);
  g_hash_table_unref (self->held);
  g_mutex_clear (&self->lock);
  g_free (self->quota);
  _pft_redis_keys_clear (&self->keys);
  _pft_redis_connection_unref (self->conn);
  g_free (self);
}

void
_pft_redis_leases_set_ttl (PftRedisLeases *self,
                           gint64          ttl_us)
{
  g_mutex_lock (&self->lock);
  self->ttl_us = ttl_us;
  g_mutex_unlock (&self->lock);
}

void
_pft_redis_leases_hold (PftRedisLeases *self,
                        const char     *id)
{
  gint64 ttl_us;

  g_mutex_lock (&self->lock);
  g_hash_table_add (self->held, g_strdup (id));
  ttl_us = self->ttl_us;
  g_mutex_unlock (&self->lock);
  if (self->renew_source == NULL)
    pft_redis_leases_start_timer (self, ttl_us);
}

void
_pft_redis_leases_drop (PftRedisLeases *self,
                        const char     *id)
{
  g_mutex_lock (&self->lock);
  g_hash_table_remove (self->held, id);
  g_mutex_unlock (&self->lock);
}

guint
_pft_redis_leases_count (PftRedisLeases *self)
{
  guint n;

  g_mutex_lock (&self->lock);
  n = g_hash_table_size (self->held);
  g_mutex_unlock (&self->lock);
  return n;
}

guint
_pft_redis_leases_get_lost (PftRedisLeases *self)
{
  return (guint) g_atomic_int_get (&self->lost);
}

gboolean
_pft_redis_leases_is_renewing (PftRedisLeases *self)
{
  return self->renew_source != NULL;
}
