/* pft-store.c: the shared store of a run
 *
 * SPDX-License-Identifier: MIT
 */

#include "pft-store.h"
#include "pft-private.h"

/**
 * PftStore:
 *
 * The store shared by every node of a run: PocketFlow's `shared` dict.
 *
 * A thread-safe map from string keys to #GValue. Nodes read it in `prep`
 * and write it in `post`; `exec` may use it too, from a worker thread.
 * Every read returns a copy, so a value never changes under a reader.
 *
 * The [signal@Pft.Store::changed] signal is emitted after a key is set or
 * removed, on the thread that changed it, with the key as detail.
 *
 * In Python the store is dict-like (`store["k"] = v`, `store["k"]`, `in`,
 * `len`, `keys()`); Python ints are stored as 64-bit integers.
 *
 * Since: 0.1
 */
struct _PftStore
{
  GObject     parent_instance;

  GMutex      mutex;
  GHashTable *values;   /* char* -> GValue* */
};

G_DEFINE_FINAL_TYPE (PftStore, pft_store, G_TYPE_OBJECT)

enum {
  CHANGED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void
pft_store_value_free (gpointer data)
{
  GValue *value = data;

  g_value_unset (value);
  g_free (value);
}

static void
pft_store_finalize (GObject *object)
{
  PftStore *self = (PftStore *)object;

  g_hash_table_unref (self->values);
  g_mutex_clear (&self->mutex);

  G_OBJECT_CLASS (pft_store_parent_class)->finalize (object);
}

static void
pft_store_class_init (PftStoreClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  _pft_init_i18n ();

  object_class->finalize = pft_store_finalize;

  /**
   * PftStore::changed:
   * @self: the store
   * @key: the key that was set or removed
   *
   * Emitted after @key was set or removed, on the thread that did it, with
   * @key as the signal detail (connect to `changed::results` to watch one
   * key). Handlers may read the store; the lock is not held.
   *
   * Since: 0.1
   */
  signals[CHANGED] =
    g_signal_new ("changed",
                  G_TYPE_FROM_CLASS (klass),
                  G_SIGNAL_RUN_LAST | G_SIGNAL_DETAILED,
                  0, NULL, NULL, NULL,
                  G_TYPE_NONE, 1, G_TYPE_STRING);
}

static void
pft_store_init (PftStore *self)
{
  g_mutex_init (&self->mutex);
  self->values = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, pft_store_value_free);
}

/**
 * pft_store_new:
 *
 * Creates an empty store.
 *
 * Returns: (transfer full): a new #PftStore
 *
 * Since: 0.1
 */
PftStore *
pft_store_new (void)
{
  return g_object_new (PFT_TYPE_STORE, NULL);
}

static void
pft_store_emit_changed (PftStore   *self,
                        const char *key)
{
  g_signal_emit (self, signals[CHANGED], g_quark_from_string (key), key);
}

/* Takes ownership of @value (a heap GValue). */
static void
pft_store_take_value (PftStore   *self,
                      const char *key,
                      GValue     *value)
{
  g_mutex_lock (&self->mutex);
  g_hash_table_replace (self->values, g_strdup (key), value);
  g_mutex_unlock (&self->mutex);

  pft_store_emit_changed (self, key);
}

/**
 * pft_store_set_value:
 * @self: a #PftStore
 * @key: the key
 * @value: the value to store a copy of
 *
 * Sets @key to a copy of @value, replacing what it held.
 *
 * Since: 0.1
 */
void
pft_store_set_value (PftStore     *self,
                     const char   *key,
                     const GValue *value)
{
  GValue *copy;

  g_return_if_fail (PFT_IS_STORE (self));
  g_return_if_fail (key != NULL);
  g_return_if_fail (G_IS_VALUE (value));

  copy = g_new0 (GValue, 1);
  g_value_init (copy, G_VALUE_TYPE (value));
  g_value_copy (value, copy);
  pft_store_take_value (self, key, copy);
}

/**
 * pft_store_lookup:
 * @self: a #PftStore
 * @key: the key
 * @value: (out caller-allocates): where to copy the value
 *
 * Copies the value of @key into @value. @value is always filled in: when
 * @key is absent it holds a %NULL `gpointer` (None in Python, null in
 * JavaScript). Use [method@Pft.Store.contains] to tell an absent key from
 * a stored %NULL. An initialized @value is unset first.
 *
 * Since: 0.1
 */
void
pft_store_lookup (PftStore   *self,
                  const char *key,
                  GValue     *value)
{
  const GValue *found;

  g_return_if_fail (PFT_IS_STORE (self));
  g_return_if_fail (key != NULL);
  g_return_if_fail (value != NULL);

  if (G_IS_VALUE (value))
    g_value_unset (value);

  g_mutex_lock (&self->mutex);
  found = g_hash_table_lookup (self->values, key);
  if (found != NULL)
    {
      g_value_init (value, G_VALUE_TYPE (found));
      g_value_copy (found, value);
    }
  else
    {
      g_value_init (value, G_TYPE_POINTER);
    }
  g_mutex_unlock (&self->mutex);
}

/**
 * pft_store_contains:
 * @self: a #PftStore
 * @key: the key
 *
 * Tells whether @key is set.
 *
 * Returns: %TRUE if @key is in the store
 *
 * Since: 0.1
 */
gboolean
pft_store_contains (PftStore   *self,
                    const char *key)
{
  gboolean ret;

  g_return_val_if_fail (PFT_IS_STORE (self), FALSE);
  g_return_val_if_fail (key != NULL, FALSE);

  g_mutex_lock (&self->mutex);
  ret = g_hash_table_contains (self->values, key);
  g_mutex_unlock (&self->mutex);
  return ret;
}

/**
 * pft_store_remove:
 * @self: a #PftStore
 * @key: the key
 *
 * Removes @key.
 *
 * Returns: %TRUE if @key was set
 *
 * Since: 0.1
 */
gboolean
pft_store_remove (PftStore   *self,
                  const char *key)
{
  gboolean ret;

  g_return_val_if_fail (PFT_IS_STORE (self), FALSE);
  g_return_val_if_fail (key != NULL, FALSE);

  g_mutex_lock (&self->mutex);
  ret = g_hash_table_remove (self->values, key);
  g_mutex_unlock (&self->mutex);

  if (ret)
    pft_store_emit_changed (self, key);
  return ret;
}

/**
 * pft_store_get_size:
 * @self: a #PftStore
 *
 * Counts the keys.
 *
 * Returns: the number of keys in the store
 *
 * Since: 0.1
 */
guint
pft_store_get_size (PftStore *self)
{
  guint ret;

  g_return_val_if_fail (PFT_IS_STORE (self), 0);

  g_mutex_lock (&self->mutex);
  ret = g_hash_table_size (self->values);
  g_mutex_unlock (&self->mutex);
  return ret;
}

/**
 * pft_store_dup_keys:
 * @self: a #PftStore
 *
 * Lists the keys, sorted.
 *
 * Returns: (transfer full) (array zero-terminated=1): the keys
 *
 * Since: 0.1
 */
char **
pft_store_dup_keys (PftStore *self)
{
  GPtrArray *keys;
  GHashTableIter iter;
  gpointer key;

  g_return_val_if_fail (PFT_IS_STORE (self), NULL);

  keys = g_ptr_array_new ();
  g_mutex_lock (&self->mutex);
  g_hash_table_iter_init (&iter, self->values);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    g_ptr_array_add (keys, g_strdup (key));
  g_mutex_unlock (&self->mutex);
  g_ptr_array_sort (keys, (GCompareFunc) _pft_strptr_cmp);
  g_ptr_array_add (keys, NULL);
  return (char **) g_ptr_array_free (keys, FALSE);
}

static GValue *
pft_store_new_value (GType type)
{
  GValue *value = g_new0 (GValue, 1);

  g_value_init (value, type);
  return value;
}

/**
 * pft_store_set_string:
 * @self: a #PftStore
 * @key: the key
 * @value: (nullable): a string
 *
 * Sets @key to a copy of the string @value.
 *
 * Since: 0.1
 */
void
pft_store_set_string (PftStore   *self,
                      const char *key,
                      const char *value)
{
  GValue *v;

  g_return_if_fail (PFT_IS_STORE (self));
  g_return_if_fail (key != NULL);

  v = pft_store_new_value (G_TYPE_STRING);
  g_value_set_string (v, value);
  pft_store_take_value (self, key, v);
}

/* Copies the value of @key, transformed to @type, into @out (which must be
 * unset); returns FALSE when @key is absent or does not transform. */
static gboolean
pft_store_read (PftStore   *self,
                const char *key,
                GType       type,
                GValue     *out)
{
  const GValue *found;
  gboolean ret = FALSE;

  g_mutex_lock (&self->mutex);
  found = g_hash_table_lookup (self->values, key);
  if (found != NULL && g_value_type_transformable (G_VALUE_TYPE (found), type))
    {
      g_value_init (out, type);
      ret = g_value_transform (found, out);
      if (!ret)
        g_value_unset (out);
    }
  g_mutex_unlock (&self->mutex);
  return ret;
}

/**
 * pft_store_dup_string:
 * @self: a #PftStore
 * @key: the key
 *
 * Reads @key as a string.
 *
 * Returns: (transfer full) (nullable): a copy of the string, or %NULL when
 *   @key is absent or does not hold a string
 *
 * Since: 0.1
 */
char *
pft_store_dup_string (PftStore   *self,
                      const char *key)
{
  const GValue *found;
  char *ret = NULL;

  g_return_val_if_fail (PFT_IS_STORE (self), NULL);
  g_return_val_if_fail (key != NULL, NULL);

  g_mutex_lock (&self->mutex);
  found = g_hash_table_lookup (self->values, key);
  if (found != NULL && G_VALUE_HOLDS_STRING (found))
    ret = g_value_dup_string (found);
  g_mutex_unlock (&self->mutex);
  return ret;
}

/**
 * pft_store_set_int:
 * @self: a #PftStore
 * @key: the key
 * @value: a 64-bit integer
 *
 * Sets @key to the integer @value (a `gint64` value).
 *
 * Since: 0.1
 */
void
pft_store_set_int (PftStore   *self,
                   const char *key,
                   gint64      value)
{
  GValue *v;

  g_return_if_fail (PFT_IS_STORE (self));
  g_return_if_fail (key != NULL);

  v = pft_store_new_value (G_TYPE_INT64);
  g_value_set_int64 (v, value);
  pft_store_take_value (self, key, v);
}

/**
 * pft_store_get_int:
 * @self: a #PftStore
 * @key: the key
 * @default_value: what to return when @key is absent or not a number
 *
 * Reads @key as a 64-bit integer; any integer type converts.
 *
 * Returns: the integer, or @default_value
 *
 * Since: 0.1
 */
gint64
pft_store_get_int (PftStore   *self,
                   const char *key,
                   gint64      default_value)
{
  g_auto(GValue) v = G_VALUE_INIT;

  g_return_val_if_fail (PFT_IS_STORE (self), default_value);
  g_return_val_if_fail (key != NULL, default_value);

  if (pft_store_read (self, key, G_TYPE_INT64, &v))
    return g_value_get_int64 (&v);
  return default_value;
}

/**
 * pft_store_add_int:
 * @self: a #PftStore
 * @key: the key
 * @delta: what to add
 *
 * Adds @delta to the integer at @key atomically (an absent key counts as
 * 0), so that parallel execs can count into the store without losing
 * updates.
 *
 * Returns: the new value
 *
 * Since: 0.1
 */
gint64
pft_store_add_int (PftStore   *self,
                   const char *key,
                   gint64      delta)
{
  GValue *found;
  gint64 ret;

  g_return_val_if_fail (PFT_IS_STORE (self), 0);
  g_return_val_if_fail (key != NULL, 0);

  g_mutex_lock (&self->mutex);
  found = g_hash_table_lookup (self->values, key);
  if (found != NULL && G_VALUE_HOLDS_INT64 (found))
    {
      ret = g_value_get_int64 (found) + delta;
      g_value_set_int64 (found, ret);
    }
  else
    {
      g_auto(GValue) old = G_VALUE_INIT;
      GValue *v = pft_store_new_value (G_TYPE_INT64);

      ret = delta;
      if (found != NULL && g_value_type_transformable (G_VALUE_TYPE (found), G_TYPE_INT64))
        {
          g_value_init (&old, G_TYPE_INT64);
          if (g_value_transform (found, &old))
            ret += g_value_get_int64 (&old);
        }
      g_value_set_int64 (v, ret);
      g_hash_table_replace (self->values, g_strdup (key), v);
    }
  g_mutex_unlock (&self->mutex);

  pft_store_emit_changed (self, key);
  return ret;
}

/**
 * pft_store_set_double:
 * @self: a #PftStore
 * @key: the key
 * @value: a double
 *
 * Sets @key to the double @value.
 *
 * Since: 0.1
 */
void
pft_store_set_double (PftStore   *self,
                      const char *key,
                      double      value)
{
  GValue *v;

  g_return_if_fail (PFT_IS_STORE (self));
  g_return_if_fail (key != NULL);

  v = pft_store_new_value (G_TYPE_DOUBLE);
  g_value_set_double (v, value);
  pft_store_take_value (self, key, v);
}

/**
 * pft_store_get_double:
 * @self: a #PftStore
 * @key: the key
 * @default_value: what to return when @key is absent or not a number
 *
 * Reads @key as a double; integers convert.
 *
 * Returns: the number, or @default_value
 *
 * Since: 0.1
 */
double
pft_store_get_double (PftStore   *self,
                      const char *key,
                      double      default_value)
{
  g_auto(GValue) v = G_VALUE_INIT;

  g_return_val_if_fail (PFT_IS_STORE (self), default_value);
  g_return_val_if_fail (key != NULL, default_value);

  if (pft_store_read (self, key, G_TYPE_DOUBLE, &v))
    return g_value_get_double (&v);
  return default_value;
}

/**
 * pft_store_set_boolean:
 * @self: a #PftStore
 * @key: the key
 * @value: a boolean
 *
 * Sets @key to the boolean @value.
 *
 * Since: 0.1
 */
void
pft_store_set_boolean (PftStore   *self,
                       const char *key,
                       gboolean    value)
{
  GValue *v;

  g_return_if_fail (PFT_IS_STORE (self));
  g_return_if_fail (key != NULL);

  v = pft_store_new_value (G_TYPE_BOOLEAN);
  g_value_set_boolean (v, value);
  pft_store_take_value (self, key, v);
}

/**
 * pft_store_get_boolean:
 * @self: a #PftStore
 * @key: the key
 * @default_value: what to return when @key is absent or not a boolean
 *
 * Reads @key as a boolean.
 *
 * Returns: the boolean, or @default_value
 *
 * Since: 0.1
 */
gboolean
pft_store_get_boolean (PftStore   *self,
                       const char *key,
                       gboolean    default_value)
{
  g_auto(GValue) v = G_VALUE_INIT;

  g_return_val_if_fail (PFT_IS_STORE (self), default_value);
  g_return_val_if_fail (key != NULL, default_value);

  if (pft_store_read (self, key, G_TYPE_BOOLEAN, &v))
    return g_value_get_boolean (&v);
  return default_value;
}

/**
 * pft_store_set_object:
 * @self: a #PftStore
 * @key: the key
 * @object: (type GObject) (nullable): an object
 *
 * Sets @key to a reference on @object.
 *
 * Since: 0.1
 */
void
pft_store_set_object (PftStore   *self,
                      const char *key,
                      gpointer    object)
{
  GValue *v;

  g_return_if_fail (PFT_IS_STORE (self));
  g_return_if_fail (key != NULL);
  g_return_if_fail (object == NULL || G_IS_OBJECT (object));

  v = pft_store_new_value (object != NULL ? G_OBJECT_TYPE (object) : G_TYPE_OBJECT);
  g_value_set_object (v, object);
  pft_store_take_value (self, key, v);
}

/**
 * pft_store_dup_object:
 * @self: a #PftStore
 * @key: the key
 *
 * Reads @key as an object.
 *
 * Returns: (transfer full) (nullable) (type GObject): a reference on the
 *   object, or %NULL when @key is absent or does not hold an object
 *
 * Since: 0.1
 */
gpointer
pft_store_dup_object (PftStore   *self,
                      const char *key)
{
  const GValue *found;
  gpointer ret = NULL;

  g_return_val_if_fail (PFT_IS_STORE (self), NULL);
  g_return_val_if_fail (key != NULL, NULL);

  g_mutex_lock (&self->mutex);
  found = g_hash_table_lookup (self->values, key);
  if (found != NULL && G_VALUE_HOLDS_OBJECT (found))
    ret = g_value_dup_object (found);
  g_mutex_unlock (&self->mutex);
  return ret;
}

/**
 * pft_store_set_values:
 * @self: a #PftStore
 * @key: the key
 * @values: (nullable): a #PftValues
 *
 * Sets @key to a reference on @values (not a copy: later appends show).
 *
 * Since: 0.1
 */
void
pft_store_set_values (PftStore   *self,
                      const char *key,
                      PftValues  *values)
{
  g_return_if_fail (values == NULL || PFT_IS_VALUES (values));

  pft_store_set_object (self, key, values);
}

/**
 * pft_store_dup_values:
 * @self: a #PftStore
 * @key: the key
 *
 * Reads @key as a [class@Pft.Values].
 *
 * Returns: (transfer full) (nullable): a reference on the values, or %NULL
 *   when @key is absent or holds something else
 *
 * Since: 0.1
 */
PftValues *
pft_store_dup_values (PftStore   *self,
                      const char *key)
{
  GObject *obj = pft_store_dup_object (self, key);

  if (obj != NULL && !PFT_IS_VALUES (obj))
    g_clear_object (&obj);
  return (PftValues *) obj;
}
