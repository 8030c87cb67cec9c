/* pft-limiter-registry.c: named rate limiters shared across a process
 *
 * SPDX-License-Identifier: MIT
 */

#include <string.h>

#include <glib/gi18n-lib.h>

#include "pft-error.h"
#include "pft-limiter-registry.h"
#include "pft-limiter-registry-config-private.h"
#include "pft-presets.h"
#include "pft-private.h"
#include "pft-rate-limiter-private.h"
#include "pft-rate-limiter-redis-private.h"

/**
 * PftLimiterRegistry:
 *
 * Named [class@Pft.RateLimiter]s shared by every node and flow of a
 * process, so that all the code calling one API respects one limit.
 *
 * Most programs use the process-wide registry,
 * [func@Pft.LimiterRegistry.get_default]; [ctor@Pft.LimiterRegistry.new]
 * makes an independent one (for tests, or a plug-in with its own limits).
 *
 * Register limiters at start-up with
 * [method@Pft.LimiterRegistry.register_new],
 * [method@Pft.LimiterRegistry.register_preset] or from a configuration file
 * with [method@Pft.LimiterRegistry.load_from_file], then find them anywhere
 * with [method@Pft.LimiterRegistry.lookup].
 *
 * ## Configuration files
 *
 * [method@Pft.LimiterRegistry.load_from_file] reads limiter definitions
 * from a [struct@GLib.KeyFile]: one group per limiter, named after it, the
 * limiter's properties as keys and an optional `preset`. Loading is atomic
 * (on any error nothing changes) and is also a reload: a limiter already
 * registered under a group's name gets the new limits in place. The keys,
 * their ranges and the errors are listed in
 * [Configuration files](throttling.html#configuration-files).
 *
 * ## Threads and the list model
 *
 * Every method may be called from any thread. The
 * [iface@Gio.ListModel] of [method@Pft.LimiterRegistry.get_model] is the
 * exception GTK requires: it changes, and emits
 * [signal@Gio.ListModel::items-changed], only in the thread-default
 * [struct@GLib.MainContext] that was current when the registry was created
 * (for the default registry, when it was first asked for). A change made
 * while that context is being iterated by the calling thread, or made by
 * the thread that created the registry while no other thread iterates the
 * context, shows in the model at once; any other change shows at the
 * context's next iteration.
 *
 * Since: 0.1
 */

struct _PftLimiterRegistry
{
  GObject       parent_instance;

  GMutex        mutex;
  GHashTable   *limiters;     /* owned name -> owned PftRateLimiter */
  GSource      *sync_source;  /* pending model update, or NULL */

  /* Touched only in @context's thread. */
  GMainContext *context;
  GThread      *thread;       /* that created the registry */
  GListStore   *model;        /* PftRateLimiter, sorted by name */
  GPtrArray    *model_names;  /* char *, parallel to @model */
  gboolean      syncing;
};

G_DEFINE_FINAL_TYPE (PftLimiterRegistry, pft_limiter_registry, G_TYPE_OBJECT)

static void
pft_limiter_registry_finalize (GObject *object)
{
  PftLimiterRegistry *self = PFT_LIMITER_REGISTRY (object);

  /* A pending sync source holds a reference, so there is none here. */
  g_assert (self->sync_source == NULL);

  g_clear_pointer (&self->limiters, g_hash_table_unref);
  g_clear_object (&self->model);
  g_clear_pointer (&self->model_names, g_ptr_array_unref);
  g_clear_pointer (&self->context, g_main_context_unref);
  g_clear_pointer (&self->thread, g_thread_unref);
  g_mutex_clear (&self->mutex);

  G_OBJECT_CLASS (pft_limiter_registry_parent_class)->finalize (object);
}

static void
pft_limiter_registry_class_init (PftLimiterRegistryClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  _pft_init_i18n ();

  object_class->finalize = pft_limiter_registry_finalize;
}

static void
pft_limiter_registry_init (PftLimiterRegistry *self)
{
  g_mutex_init (&self->mutex);
  self->limiters = g_hash_table_new_full (g_str_hash, g_str_equal,
                                          g_free, g_object_unref);
  self->context = g_main_context_ref_thread_default ();
  self->thread = g_thread_ref (g_thread_self ());
  self->model = g_list_store_new (PFT_TYPE_RATE_LIMITER);
  self->model_names = g_ptr_array_new_with_free_func (g_free);
}

/**
 * pft_limiter_registry_new:
 *
 * Creates an empty registry, independent of the default one. Its list
 * model belongs to the calling thread's thread-default main context.
 *
 * Returns: (transfer full): a new [class@Pft.LimiterRegistry]
 *
 * Since: 0.1
 */
PftLimiterRegistry *
pft_limiter_registry_new (void)
{
  return g_object_new (PFT_TYPE_LIMITER_REGISTRY, NULL);
}

/**
 * pft_limiter_registry_get_default:
 *
 * The process-wide registry, created on first use. Safe to call from any
 * thread; its list model belongs to the thread-default main context of the
 * first caller (usually the main thread's default context).
 *
 * Returns: (transfer none): the default [class@Pft.LimiterRegistry]; it
 *   lives as long as the process
 *
 * Since: 0.1
 */
PftLimiterRegistry *
pft_limiter_registry_get_default (void)
{
  static PftLimiterRegistry *default_registry;

  if (g_once_init_enter (&default_registry))
    g_once_init_leave (&default_registry, pft_limiter_registry_new ());

  return default_registry;
}

/* -------------------------------------------------------------------- */
/* The list model                                                        */

typedef struct {
  char           *name;
  PftRateLimiter *limiter;
} PftLimiterRegistrySnapshot;

static void
pft_limiter_registry_snapshot_clear (gpointer data)
{
  PftLimiterRegistrySnapshot *s = data;

  g_free (s->name);
  g_object_unref (s->limiter);
}

static int
pft_limiter_registry_snapshot_compare (gconstpointer a,
                                       gconstpointer b)
{
  return strcmp (((const PftLimiterRegistrySnapshot *) a)->name,
                 ((const PftLimiterRegistrySnapshot *) b)->name);
}

/* The registered (name, limiter) pairs sorted by name, taken under the
 * mutex so that the caller can then work without it. */
static GArray *
pft_limiter_registry_dup_snapshot (PftLimiterRegistry *self)
{
  GArray *snap = g_array_new (FALSE, FALSE, sizeof (PftLimiterRegistrySnapshot));
  GHashTableIter iter;
  gpointer key, value;

  g_array_set_clear_func (snap, pft_limiter_registry_snapshot_clear);

  g_mutex_lock (&self->mutex);
  g_hash_table_iter_init (&iter, self->limiters);
  while (g_hash_table_iter_next (&iter, &key, &value))
    {
      PftLimiterRegistrySnapshot s = { g_strdup (key), g_object_ref (value) };
      g_array_append_val (snap, s);
    }
  g_mutex_unlock (&self->mutex);

  g_array_sort (snap, pft_limiter_registry_snapshot_compare);
  return snap;
}

/* Bring the model in line with the hash table: one splice of the range
 * between the common prefix and the common suffix. Runs in @context. */
static void
pft_limiter_registry_sync_model (PftLimiterRegistry *self)
{
  g_autoptr(GArray) snap = pft_limiter_registry_dup_snapshot (self);
  guint old_n, new_n, prefix = 0, suffix = 0;
  g_autofree gpointer *additions = NULL;

  old_n = self->model_names->len;
  new_n = snap->len;

  while (prefix < old_n && prefix < new_n)
    {
      g_autoptr(PftRateLimiter) item =
        g_list_model_get_item (G_LIST_MODEL (self->model), prefix);
      PftLimiterRegistrySnapshot *s = &g_array_index (snap, PftLimiterRegistrySnapshot, prefix);

      if (item != s->limiter ||
          !g_str_equal (g_ptr_array_index (self->model_names, prefix), s->name))
        break;
      prefix++;
    }
  while (suffix < old_n - prefix && suffix < new_n - prefix)
    {
      g_autoptr(PftRateLimiter) item =
        g_list_model_get_item (G_LIST_MODEL (self->model), old_n - 1 - suffix);
      PftLimiterRegistrySnapshot *s = &g_array_index (snap, PftLimiterRegistrySnapshot, new_n - 1 - suffix);

      if (item != s->limiter ||
          !g_str_equal (g_ptr_array_index (self->model_names, old_n - 1 - suffix),
                        s->name))
        break;
      suffix++;
    }

  if (prefix == old_n && prefix == new_n)
    return;

  additions = g_new0 (gpointer, new_n - prefix - suffix + 1);
  for (guint i = prefix; i < new_n - suffix; i++)
    additions[i - prefix] = g_array_index (snap, PftLimiterRegistrySnapshot, i).limiter;

  /* Names first, so that an items-changed handler calling
   * pft_limiter_registry_dup_name_of() or reading the model sees a
   * consistent state. */
  g_ptr_array_remove_range (self->model_names, prefix, old_n - prefix - suffix);
  for (guint i = prefix; i < new_n - suffix; i++)
    g_ptr_array_insert (self->model_names, i,
                        g_strdup (g_array_index (snap, PftLimiterRegistrySnapshot, i).name));

  self->syncing = TRUE;
  g_list_store_splice (self->model, prefix, old_n - prefix - suffix,
                       additions, new_n - prefix - suffix);
  self->syncing = FALSE;
}

static gboolean
pft_limiter_registry_sync_model_cb (gpointer user_data)
{
  PftLimiterRegistry *self = user_data;

  g_mutex_lock (&self->mutex);
  g_clear_pointer (&self->sync_source, g_source_unref);
  g_mutex_unlock (&self->mutex);

  pft_limiter_registry_sync_model (self);

  return G_SOURCE_REMOVE;
}

/* Called after every change, without the mutex held. */
static void
pft_limiter_registry_schedule_sync (PftLimiterRegistry *self)
{
  if (g_main_context_is_owner (self->context) && !self->syncing)
    {
      pft_limiter_registry_sync_model (self);
      return;
    }

  /* The creating thread, with nobody iterating the context: take it, so
   * that the model is up to date when register() returns there. */
  if (!self->syncing && self->thread == g_thread_self () &&
      g_main_context_acquire (self->context))
    {
      pft_limiter_registry_sync_model (self);
      g_main_context_release (self->context);
      return;
    }

  g_mutex_lock (&self->mutex);
  if (self->sync_source == NULL)
    {
      self->sync_source = g_idle_source_new ();
      g_source_set_priority (self->sync_source, G_PRIORITY_DEFAULT);
      g_source_set_name (self->sync_source, "[pft] limiter registry model");
      g_source_set_callback (self->sync_source, pft_limiter_registry_sync_model_cb,
                             g_object_ref (self), g_object_unref);
      g_source_attach (self->sync_source, self->context);
    }
  g_mutex_unlock (&self->mutex);
}

/**
 * pft_limiter_registry_get_model:
 * @self: a [class@Pft.LimiterRegistry]
 *
 * The registered limiters as a list model of [class@Pft.RateLimiter],
 * sorted by name like [method@Pft.LimiterRegistry.dup_names]; for showing
 * them in a user interface. Read it, and connect to its signals, only in the
 * thread of the main context that was thread-default when the registry was
 * created (see the class documentation); the name of an item is
 * [method@Pft.LimiterRegistry.dup_name_of]. The model is read-only: change
 * the registry, not the model.
 *
 * Returns: (transfer none): a [iface@Gio.ListModel] of
 *   [class@Pft.RateLimiter]
 *
 * Since: 0.1
 */
GListModel *
pft_limiter_registry_get_model (PftLimiterRegistry *self)
{
  g_return_val_if_fail (PFT_IS_LIMITER_REGISTRY (self), NULL);

  return G_LIST_MODEL (self->model);
}

/* -------------------------------------------------------------------- */
/* Registration                                                          */

/* Names are shown (statistics, the model, logs) as strings: valid UTF-8. */
static gboolean
pft_limiter_registry_check_name (const char  *name,
                                 GError     **error)
{
  g_autofree char *shown = NULL;

  if (g_utf8_validate (name, -1, NULL))
    return TRUE;
  shown = g_utf8_make_valid (name, -1);
  g_set_error (error, PFT_ERROR, PFT_ERROR_INVALID_ARGUMENT,
               _("A rate limiter name must be valid UTF-8, not “%s”"), shown);
  return FALSE;
}

/* Inserts @limiter (transfer full) unless @name exists and !@replace.
 * Returns the limiter now registered under @name (borrowed), or NULL with
 * @error set. */
static PftRateLimiter *
pft_limiter_registry_insert_limiter (PftLimiterRegistry  *self,
                                     const char          *name,
                                     PftRateLimiter      *limiter,
                                     gboolean             replace,
                                     GError             **error)
{
  PftRateLimiter *old;
  gpointer old_key = NULL, old_value = NULL;
  gboolean changed = TRUE;

  if (!pft_limiter_registry_check_name (name, error))
    {
      g_object_unref (limiter);
      return NULL;
    }

  g_mutex_lock (&self->mutex);
  old = g_hash_table_lookup (self->limiters, name);
  if (old != NULL && !replace)
    {
      g_mutex_unlock (&self->mutex);
      g_object_unref (limiter);
      g_set_error (error, PFT_ERROR, PFT_ERROR_EXISTS,
                   _("A rate limiter named “%s” is already registered; "
                     "remove it first or register with replace"),
                   name);
      return NULL;
    }
  if (old == limiter)
    {
      changed = FALSE;
      g_object_unref (limiter);
    }
  else
    {
      /* The replaced limiter is dropped after unlocking: its disposal may
       * run code (waiters failing) that re-enters the registry. */
      if (old != NULL)
        g_hash_table_steal_extended (self->limiters, name, &old_key, &old_value);
      g_hash_table_insert (self->limiters, g_strdup (name), limiter);
    }
  g_mutex_unlock (&self->mutex);

  g_free (old_key);
  g_clear_object (&old_value);

  if (changed)
    pft_limiter_registry_schedule_sync (self);

  return limiter;
}

/**
 * pft_limiter_registry_register:
 * @self: a [class@Pft.LimiterRegistry]
 * @name: the name to register @limiter under (any non-empty string)
 * @limiter: the limiter
 * @replace: whether to replace a limiter already registered as @name
 * @error: return location for a #GError
 *
 * Registers @limiter as @name; the registry keeps a reference. If @name is
 * taken, this fails with %PFT_ERROR_EXISTS unless @replace is %TRUE, in
 * which case @limiter takes the place of the old object (whose holders keep
 * using the old one; to change the limits that existing holders see, change
 * the limiter's properties or reload a configuration file instead).
 *
 * Returns: %TRUE if @limiter is now registered as @name
 *
 * Since: 0.1
 */
gboolean
pft_limiter_registry_register (PftLimiterRegistry  *self,
                               const char          *name,
                               PftRateLimiter      *limiter,
                               gboolean             replace,
                               GError             **error)
{
  g_return_val_if_fail (PFT_IS_LIMITER_REGISTRY (self), FALSE);
  g_return_val_if_fail (name != NULL && *name != '\0', FALSE);
  g_return_val_if_fail (PFT_IS_RATE_LIMITER (limiter), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  return pft_limiter_registry_insert_limiter (self, name, g_object_ref (limiter), replace, error) != NULL;
}

/**
 * pft_limiter_registry_register_new:
 * @self: a [class@Pft.LimiterRegistry]
 * @name: the name to register the new limiter under
 * @max_concurrent: how many permits may be held at once (>= 1)
 * @max_per_window: how many admissions any @window may hold; 0 for no limit
 * @window: the window length in seconds (1e-6 to 1e9), usually 60
 * @error: return location for a #GError
 *
 * Creates a limiter as [ctor@Pft.RateLimiter.new] does and registers it as
 * @name. Fails with %PFT_ERROR_EXISTS if @name is taken, and with
 * %PFT_ERROR_INVALID_ARGUMENT, naming the number, when @max_concurrent or
 * @window is out of range or @name is not valid UTF-8.
 *
 * Returns: (transfer none) (nullable): the new limiter, owned by the
 *   registry: valid while it stays registered (take a reference if another
 *   thread may remove it), or %NULL on error
 *
 * Since: 0.1
 */
PftRateLimiter *
pft_limiter_registry_register_new (PftLimiterRegistry  *self,
                                   const char          *name,
                                   guint                max_concurrent,
                                   guint                max_per_window,
                                   double               window,
                                   GError             **error)
{
  g_return_val_if_fail (PFT_IS_LIMITER_REGISTRY (self), NULL);
  g_return_val_if_fail (name != NULL && *name != '\0', NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!_pft_limit_check_uint ("max-concurrent", max_concurrent, error) ||
      !_pft_limit_check_window (window, error) ||
      !pft_limiter_registry_check_name (name, error))
    return NULL;

  return pft_limiter_registry_insert_limiter (self, name,
                         pft_rate_limiter_new (max_concurrent, max_per_window, window),
                         FALSE, error);
}

/**
 * pft_limiter_registry_register_preset:
 * @self: a [class@Pft.LimiterRegistry]
 * @name: the name to register the new limiter under
 * @preset_name: a preset name, as for [func@Pft.presets_lookup]
 * @error: return location for a #GError
 *
 * Creates a limiter with a preset's limits (see
 * [method@Pft.Preset.new_limiter]: a 60-second window) and registers it as
 * @name. Fails with %PFT_ERROR_NOT_FOUND for an unknown preset and
 * %PFT_ERROR_EXISTS if @name is taken.
 *
 * Returns: (transfer none) (nullable): the new limiter, owned by the
 *   registry as for [method@Pft.LimiterRegistry.register_new], or %NULL on
 *   error
 *
 * Since: 0.1
 */
PftRateLimiter *
pft_limiter_registry_register_preset (PftLimiterRegistry  *self,
                                      const char          *name,
                                      const char          *preset_name,
                                      GError             **error)
{
  g_autoptr(PftPreset) preset = NULL;

  g_return_val_if_fail (PFT_IS_LIMITER_REGISTRY (self), NULL);
  g_return_val_if_fail (name != NULL && *name != '\0', NULL);
  g_return_val_if_fail (preset_name != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  preset = pft_presets_lookup (preset_name, error);
  if (preset == NULL)
    return NULL;

  return pft_limiter_registry_insert_limiter (self, name, pft_preset_new_limiter (preset),
                         FALSE, error);
}

/**
 * pft_limiter_registry_lookup:
 * @self: a [class@Pft.LimiterRegistry]
 * @name: a limiter name
 * @error: return location for a #GError
 *
 * Finds the limiter registered as @name.
 *
 * Returns: (transfer full): the limiter, or %NULL with @error set to
 *   %PFT_ERROR_NOT_FOUND, whose message names @name and says how to
 *   register it
 *
 * Since: 0.1
 */
PftRateLimiter *
pft_limiter_registry_lookup (PftLimiterRegistry  *self,
                             const char          *name,
                             GError             **error)
{
  PftRateLimiter *limiter;

  g_return_val_if_fail (PFT_IS_LIMITER_REGISTRY (self), NULL);
  g_return_val_if_fail (name != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  g_mutex_lock (&self->mutex);
  limiter = g_hash_table_lookup (self->limiters, name);
  if (limiter != NULL)
    g_object_ref (limiter);
  g_mutex_unlock (&self->mutex);

  if (limiter == NULL)
    g_set_error (error, PFT_ERROR, PFT_ERROR_NOT_FOUND,
                 _("No rate limiter named “%s” is registered; register it "
                   "first with pft_limiter_registry_register_new(), "
                   "register_preset() or register(), load it from a "
                   "configuration file, or use get_or_create()"),
                 name);

  return limiter;
}

/**
 * pft_limiter_registry_get_or_create:
 * @self: a [class@Pft.LimiterRegistry]
 * @name: a limiter name
 * @max_concurrent: for a new limiter: permits held at once (>= 1)
 * @max_per_window: for a new limiter: admissions per window; 0 for no limit
 * @window: for a new limiter: the window length in seconds (1e-6 to 1e9)
 *
 * Returns the limiter registered as @name, registering a new one with the
 * given limits first if there is none. The limits are ignored when @name
 * exists: the existing limiter is returned unchanged. Any number of threads
 * may race on the same name: they all get the same object.
 *
 * Numbers out of range, or a name that is not valid UTF-8, are programmer
 * errors here (a critical that names them, %NULL, nothing registered),
 * checked by the same rules as [method@Pft.LimiterRegistry.register_new],
 * which reports them as errors.
 *
 * Returns: (transfer full) (nullable): the limiter registered as @name
 *
 * Since: 0.1
 */
PftRateLimiter *
pft_limiter_registry_get_or_create (PftLimiterRegistry *self,
                                    const char         *name,
                                    guint               max_concurrent,
                                    guint               max_per_window,
                                    double              window)
{
  PftRateLimiter *limiter;
  gboolean created = FALSE;

  GError *error = NULL;

  g_return_val_if_fail (PFT_IS_LIMITER_REGISTRY (self), NULL);
  g_return_val_if_fail (name != NULL && *name != '\0', NULL);

  /* Checked even when @name exists: a call that works only while someone
   * else registered the name first is a bug waiting. */
  if (!_pft_limit_check_uint ("max-concurrent", max_concurrent, &error) ||
      !_pft_limit_check_window (window, &error) ||
      !pft_limiter_registry_check_name (name, &error))
    {
      g_critical ("%s: %s", G_STRFUNC, error->message);
      g_error_free (error);
      return NULL;
    }

  g_mutex_lock (&self->mutex);
  limiter = g_hash_table_lookup (self->limiters, name);
  if (limiter == NULL)
    {
      limiter = pft_rate_limiter_new (max_concurrent, max_per_window, window);
      g_hash_table_insert (self->limiters, g_strdup (name), limiter);
      created = TRUE;
    }
  g_object_ref (limiter);
  g_mutex_unlock (&self->mutex);

  if (created)
    pft_limiter_registry_schedule_sync (self);

  return limiter;
}

/**
 * pft_limiter_registry_remove:
 * @self: a [class@Pft.LimiterRegistry]
 * @name: a limiter name
 *
 * Unregisters the limiter named @name. Nodes and flows holding it keep
 * using it; only the name is gone.
 *
 * Returns: %TRUE if there was such a limiter
 *
 * Since: 0.1
 */
gboolean
pft_limiter_registry_remove (PftLimiterRegistry *self,
                             const char         *name)
{
  gpointer key = NULL, value = NULL;
  gboolean found;

  g_return_val_if_fail (PFT_IS_LIMITER_REGISTRY (self), FALSE);
  g_return_val_if_fail (name != NULL, FALSE);

  g_mutex_lock (&self->mutex);
  found = g_hash_table_steal_extended (self->limiters, name, &key, &value);
  g_mutex_unlock (&self->mutex);

  if (found)
    {
      g_free (key);
      g_object_unref (value);
      pft_limiter_registry_schedule_sync (self);
    }

  return found;
}

/**
 * pft_limiter_registry_clear:
 * @self: a [class@Pft.LimiterRegistry]
 *
 * Unregisters every limiter.
 *
 * Since: 0.1
 */
void
pft_limiter_registry_clear (PftLimiterRegistry *self)
{
  GHashTable *old;

  g_return_if_fail (PFT_IS_LIMITER_REGISTRY (self));

  g_mutex_lock (&self->mutex);
  old = self->limiters;
  self->limiters = g_hash_table_new_full (g_str_hash, g_str_equal,
                                          g_free, g_object_unref);
  g_mutex_unlock (&self->mutex);

  if (g_hash_table_size (old) > 0)
    {
      g_hash_table_unref (old);
      pft_limiter_registry_schedule_sync (self);
    }
  else
    g_hash_table_unref (old);
}

/**
 * pft_limiter_registry_contains:
 * @self: a [class@Pft.LimiterRegistry]
 * @name: a limiter name
 *
 * Checks whether a limiter is registered under @name, without creating
 * one (unlike [method@Pft.LimiterRegistry.get_or_create]).
 *
 * Returns: whether a limiter is registered as @name
 *
 * Since: 0.1
 */
gboolean
pft_limiter_registry_contains (PftLimiterRegistry *self,
                               const char         *name)
{
  gboolean found;

  g_return_val_if_fail (PFT_IS_LIMITER_REGISTRY (self), FALSE);
  g_return_val_if_fail (name != NULL, FALSE);

  g_mutex_lock (&self->mutex);
  found = g_hash_table_contains (self->limiters, name);
  g_mutex_unlock (&self->mutex);

  return found;
}

static int
pft_limiter_registry_compare_strings (gconstpointer a,
                                      gconstpointer b)
{
  return strcmp (*(char * const *) a, *(char * const *) b);
}

/**
 * pft_limiter_registry_dup_names:
 * @self: a [class@Pft.LimiterRegistry]
 *
 * The names of the registered limiters, sorted (byte-wise).
 *
 * Returns: (transfer full) (array zero-terminated=1): a %NULL-terminated
 *   array; free with g_strfreev()
 *
 * Since: 0.1
 */
char **
pft_limiter_registry_dup_names (PftLimiterRegistry *self)
{
  char **names;
  guint n;

  g_return_val_if_fail (PFT_IS_LIMITER_REGISTRY (self), NULL);

  g_mutex_lock (&self->mutex);
  names = (char **) g_hash_table_get_keys_as_array (self->limiters, &n);
  for (guint i = 0; i < n; i++)
    names[i] = g_strdup (names[i]);
  g_mutex_unlock (&self->mutex);

  qsort (names, n, sizeof (char *), pft_limiter_registry_compare_strings);

  return names;
}

/**
 * pft_limiter_registry_dup_name_of:
 * @self: a [class@Pft.LimiterRegistry]
 * @limiter: a limiter
 *
 * The name @limiter is registered under; if it is registered under several,
 * the first in sorted order.
 *
 * Returns: (transfer full) (nullable): the name, or %NULL if @limiter is
 *   not registered
 *
 * Since: 0.1
 */
char *
pft_limiter_registry_dup_name_of (PftLimiterRegistry *self,
                                  PftRateLimiter     *limiter)
{
  GHashTableIter iter;
  gpointer key, value;
  const char *best = NULL;
  char *result;

  g_return_val_if_fail (PFT_IS_LIMITER_REGISTRY (self), NULL);
  g_return_val_if_fail (PFT_IS_RATE_LIMITER (limiter), NULL);

  g_mutex_lock (&self->mutex);
  g_hash_table_iter_init (&iter, self->limiters);
  while (g_hash_table_iter_next (&iter, &key, &value))
    if (value == limiter && (best == NULL || strcmp (key, best) < 0))
      best = key;
  result = g_strdup (best);
  g_mutex_unlock (&self->mutex);

  return result;
}

/* -------------------------------------------------------------------- */
/* Statistics                                                            */

/**
 * pft_limiter_registry_get_stats:
 * @self: a [class@Pft.LimiterRegistry]
 * @name: a limiter name
 * @error: return location for a #GError
 *
 * A snapshot of a limiter's limits and use, taken at one instant under
 * the limiter's lock: the dictionary (`a{sv}`)
 * [method@Pft.RateLimiter.dup_stats] returns, whose documentation lists
 * the keys and their units. `window_count` and `window_cost` count only
 * entries that have not expired.
 * For a limiter shared through Redis ([ctor@Pft.RateLimiter.new_redis]),
 * the counts of every process sharing it are read from the server now
 * (waiting at most its [property@Pft.RateLimiter:backend-timeout]) and
 * added as `shared_window_count`, `shared_window_cost`,
 * `shared_in_flight` and `shared_paused_for`, beside this process's own.
 *
 * Returns: (transfer full): the statistics, or %NULL with @error set to
 *   %PFT_ERROR_NOT_FOUND
 *
 * Since: 0.1
 */
GVariant *
pft_limiter_registry_get_stats (PftLimiterRegistry  *self,
                                const char          *name,
                                GError             **error)
{
  g_autoptr(PftRateLimiter) limiter = NULL;

  g_return_val_if_fail (PFT_IS_LIMITER_REGISTRY (self), NULL);
  g_return_val_if_fail (name != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  limiter = pft_limiter_registry_lookup (self, name, error);
  if (limiter == NULL)
    return NULL;

  _pft_rate_limiter_redis_refresh_stats (limiter);
  return pft_rate_limiter_dup_stats (limiter);
}

/**
 * pft_limiter_registry_get_all_stats:
 * @self: a [class@Pft.LimiterRegistry]
 *
 * The statistics of every registered limiter, as a dictionary from
 * name to the dictionary [method@Pft.LimiterRegistry.get_stats] returns
 * (`a{sa{sv}}`), each taken under its limiter's lock.
 *
 * Returns: (transfer full): the statistics
 *
 * Since: 0.1
 */
GVariant *
pft_limiter_registry_get_all_stats (PftLimiterRegistry *self)
{
  g_autoptr(GArray) snap = NULL;
  GVariantBuilder b;

  g_return_val_if_fail (PFT_IS_LIMITER_REGISTRY (self), NULL);

  snap = pft_limiter_registry_dup_snapshot (self);

  g_variant_builder_init (&b, G_VARIANT_TYPE ("a{sa{sv}}"));
  for (guint i = 0; i < snap->len; i++)
    {
      PftLimiterRegistrySnapshot *s = &g_array_index (snap, PftLimiterRegistrySnapshot, i);
      g_autoptr(GVariant) stats = NULL;

      _pft_rate_limiter_redis_refresh_stats (s->limiter);
      stats = pft_rate_limiter_dup_stats (s->limiter);

      g_variant_builder_add (&b, "{s@a{sv}}", s->name, stats);
    }

  return g_variant_ref_sink (g_variant_builder_end (&b));
}

/* -------------------------------------------------------------------- */
/* Configuration files                                                   */

static void
pft_limiter_registry_unref_nullable (gpointer object)
{
  if (object != NULL)
    g_object_unref (object);
}

/* Registers or updates a limiter per config (transfer full), all or
 * nothing: @configs were checked whole before this. */
static gboolean
pft_limiter_registry_load_configs (PftLimiterRegistry  *self,
                                   GPtrArray           *configs,
                                   GError             **error)
{
  g_autoptr(GPtrArray) owned = configs;
  g_autoptr(GPtrArray) fresh = NULL;
  g_autoptr(GPtrArray) updated = NULL;     /* existing limiters ... */
  g_autoptr(GPtrArray) updates = NULL;     /* ... and their configs */
  gboolean changed = FALSE;

  if (configs == NULL)
    return FALSE;

  /* New limiters are built before anyone can see them (a Redis one
   * connects, and may fail: then nothing changes); an existing one must
   * be able to take its group in place. */
  fresh = g_ptr_array_new_with_free_func (pft_limiter_registry_unref_nullable);
  for (guint i = 0; i < configs->len; i++)
    {
      PftLimiterRegistryConfig *c = g_ptr_array_index (configs, i);
      g_autoptr(PftRateLimiter) old = pft_limiter_registry_lookup (self, c->name, NULL);
      PftRateLimiter *limiter = NULL;

      if (old != NULL && !_pft_limiter_registry_config_check_update (c, old, error))
        return FALSE;
      if (old == NULL && (limiter = _pft_limiter_registry_config_new_limiter (c, error)) == NULL)
        return FALSE;
      g_ptr_array_add (fresh, limiter);
    }

  /* Register the new ones; remember the existing ones to update. */
  updated = g_ptr_array_new_with_free_func (g_object_unref);
  updates = g_ptr_array_new ();
  g_mutex_lock (&self->mutex);
  for (guint i = 0; i < configs->len; i++)
    {
      PftLimiterRegistryConfig *c = g_ptr_array_index (configs, i);
      PftRateLimiter *old = g_hash_table_lookup (self->limiters, c->name);

      if (old != NULL)
        {
          g_ptr_array_add (updated, g_object_ref (old));
          g_ptr_array_add (updates, c);
        }
      else if (g_ptr_array_index (fresh, i) != NULL)   /* else unregistered meanwhile */
        {
          g_hash_table_insert (self->limiters, g_strdup (c->name),
                               g_object_ref (g_ptr_array_index (fresh, i)));
          changed = TRUE;
        }
    }
  g_mutex_unlock (&self->mutex);

  /* Existing limiters are updated in place, outside the lock: their
   * notify handlers may call back into the registry. */
  for (guint i = 0; i < updated->len; i++)
    _pft_limiter_registry_config_apply (g_ptr_array_index (updates, i),
                                        g_ptr_array_index (updated, i));

  if (changed)
    pft_limiter_registry_schedule_sync (self);

  return TRUE;
}

/**
 * pft_limiter_registry_load_keyfile:
 * @self: a [class@Pft.LimiterRegistry]
 * @keyfile: a parsed key file, one group per limiter
 * @error: return location for a #GError
 *
 * Registers or updates a limiter for every group of @keyfile, as described
 * in [Configuration files](throttling.html#configuration-files): new names
 * are registered, existing limiters get their limits updated in place, and
 * on error nothing changes. Since a parsed #GKeyFile has no line numbers,
 * errors name the group and key only; prefer
 * [method@Pft.LimiterRegistry.load_from_file].
 *
 * Returns: %TRUE on success; %FALSE with @error set to %PFT_ERROR_PARSE
 *
 * Since: 0.1
 */
gboolean
pft_limiter_registry_load_keyfile (PftLimiterRegistry  *self,
                                   GKeyFile            *keyfile,
                                   GError             **error)
{
  g_return_val_if_fail (PFT_IS_LIMITER_REGISTRY (self), FALSE);
  g_return_val_if_fail (keyfile != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  return pft_limiter_registry_load_configs (self,
           _pft_limiter_registry_config_parse_keyfile (keyfile, error), error);
}

/**
 * pft_limiter_registry_load_from_data:
 * @self: a [class@Pft.LimiterRegistry]
 * @data: the text of a key file
 * @length: the length of @data in bytes, or -1 if it is nul-terminated
 * @error: return location for a #GError
 *
 * Like [method@Pft.LimiterRegistry.load_from_file], for text in memory;
 * errors give the line as `line N`.
 *
 * Returns: %TRUE on success; %FALSE with @error set to %PFT_ERROR_PARSE
 *
 * Since: 0.1
 */
gboolean
pft_limiter_registry_load_from_data (PftLimiterRegistry  *self,
                                     const char          *data,
                                     gssize               length,
                                     GError             **error)
{
  g_return_val_if_fail (PFT_IS_LIMITER_REGISTRY (self), FALSE);
  g_return_val_if_fail (data != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  return pft_limiter_registry_load_configs (self,
           _pft_limiter_registry_config_parse_text (data, length < 0 ? strlen (data) : (gsize) length,
                                                    NULL, error), error);
}

/**
 * pft_limiter_registry_load_from_file:
 * @self: a [class@Pft.LimiterRegistry]
 * @path: (type filename): the path of a key file
 * @error: return location for a #GError
 *
 * Reads limiter definitions from a key file (format in
 * [Configuration files](throttling.html#configuration-files)) and
 * registers or updates them, atomically. Errors are
 * %PFT_ERROR_PARSE, in the form `PATH:LINE: group “G”, key “K”: problem`,
 * or a #GFileError if the file cannot be read.
 *
 * Returns: %TRUE on success, %FALSE with @error set
 *
 * Since: 0.1
 */
gboolean
pft_limiter_registry_load_from_file (PftLimiterRegistry  *self,
                                     const char          *path,
                                     GError             **error)
{
  g_autofree char *data = NULL;
  g_autofree char *display = NULL;
  gsize length;

  g_return_val_if_fail (PFT_IS_LIMITER_REGISTRY (self), FALSE);
  g_return_val_if_fail (path != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!g_file_get_contents (path, &data, &length, error))
    return FALSE;

  display = g_filename_display_name (path);
  return pft_limiter_registry_load_configs (self,
           _pft_limiter_registry_config_parse_text (data, length, display, error), error);
}
