/* pft-permit.c: one admission granted by a PftRateLimiter
 *
 * SPDX-License-Identifier: MIT
 */

#include "pft-private.h"
#include "pft-rate-limiter-private.h"

/**
 * PftPermit:
 *
 * One admission granted by a [class@Pft.RateLimiter]: while the permit is
 * held, it takes one of the limiter's [property@Pft.RateLimiter:max-concurrent]
 * slots. Its request (and cost) stays in the limiter's window after it is
 * released, because the request was made.
 *
 * [method@Pft.Permit.release] gives the slot back; dropping the last
 * reference releases too, so in C `g_autoptr(PftPermit)` is enough, and in
 * Python or JavaScript the permit is released when it is collected (call
 * `release()` to be prompt). Permits may be released from any thread.
 *
 * Since: 0.1
 */
struct _PftPermit
{
  GObject         parent_instance;

  PftRateLimiter *limiter;   /* (owned) */
  guint64         entry;     /* window entry id, or PFT_ENTRY_NONE */
  guint64         cost;      /* written under the limiter's mutex */
  gint            released;  /* atomic */
};

G_DEFINE_FINAL_TYPE (PftPermit, pft_permit, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_LIMITER,
  PROP_COST,
  PROP_RELEASED,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void
pft_permit_dispose (GObject *object)
{
  PftPermit *self = PFT_PERMIT (object);

  if (self->limiter != NULL)
    {
      if (g_atomic_int_compare_and_exchange (&self->released, FALSE, TRUE))
        _pft_rate_limiter_release (self->limiter, self->entry);
      g_clear_object (&self->limiter);
    }

  G_OBJECT_CLASS (pft_permit_parent_class)->dispose (object);
}

static void
pft_permit_get_property (GObject    *object,
                         guint       prop_id,
                         GValue     *value,
                         GParamSpec *pspec)
{
  PftPermit *self = PFT_PERMIT (object);

  switch (prop_id)
    {
    case PROP_LIMITER:
      g_value_set_object (value, self->limiter);
      break;
    case PROP_COST:
      g_value_set_uint64 (value, pft_permit_get_cost (self));
      break;
    case PROP_RELEASED:
      g_value_set_boolean (value, pft_permit_is_released (self));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
pft_permit_class_init (PftPermitClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  _pft_init_i18n ();

  object_class->dispose = pft_permit_dispose;
  object_class->get_property = pft_permit_get_property;

  /**
   * PftPermit:limiter:
   *
   * The limiter that granted the permit.
   *
   * Since: 0.1
   */
  properties[PROP_LIMITER] =
    g_param_spec_object ("limiter", NULL, NULL,
                         PFT_TYPE_RATE_LIMITER,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);

  /**
   * PftPermit:cost:
   *
   * The cost (for example tokens) counted against the limiter's
   * [property@Pft.RateLimiter:max-cost-per-window]: the estimate given to
   * acquire, or the actual cost once [method@Pft.Permit.settle] was called.
   *
   * Since: 0.1
   */
  properties[PROP_COST] =
    g_param_spec_uint64 ("cost", NULL, NULL,
                         0, G_MAXUINT64, 0,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);

  /**
   * PftPermit:released:
   *
   * Whether [method@Pft.Permit.release] was called (the concurrency slot
   * is free again).
   *
   * Since: 0.1
   */
  properties[PROP_RELEASED] =
    g_param_spec_boolean ("released", NULL, NULL,
                          FALSE,
                          G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
pft_permit_init (PftPermit *self)
{
  self->entry = PFT_ENTRY_NONE;
}

PftPermit *
_pft_permit_new (PftRateLimiter *limiter,
                 guint64         cost,
                 guint64         entry)
{
  PftPermit *self = g_object_new (PFT_TYPE_PERMIT, NULL);

  self->limiter = g_object_ref (limiter);
  self->cost = cost;
  self->entry = entry;
  return self;
}

void
_pft_permit_start (PftPermit *self)
{
  guint64 started = _pft_rate_limiter_start (self->limiter, self->entry);

  if (started != PFT_ENTRY_NONE)
    self->entry = started;
}

/**
 * pft_permit_release:
 * @self: a permit
 *
 * Gives the concurrency slot back to the limiter, which admits the next
 * waiter if it can now go. The request stays counted in the limiter's
 * window. Calling it again does nothing; disposing the permit releases it
 * too.
 *
 * Since: 0.1
 */
void
pft_permit_release (PftPermit *self)
{
  g_return_if_fail (PFT_IS_PERMIT (self));

  if (self->limiter != NULL &&
      g_atomic_int_compare_and_exchange (&self->released, FALSE, TRUE))
    _pft_rate_limiter_release (self->limiter, self->entry);
}

/**
 * pft_permit_settle:
 * @self: a permit
 * @actual_cost: what the request really cost, in the same unit as the
 *   limiter's [property@Pft.RateLimiter:max-cost-per-window] (for example
 *   tokens)
 *
 * Corrects the cost recorded in the limiter's window once the response is
 * known: when @actual_cost is below the estimate given to acquire, the
 * difference is given back (and waiters that now fit are admitted); when
 * it is above, the difference is charged, so later requests wait longer.
 * May be called before or after [method@Pft.Permit.release], and more than
 * once (the last call wins). Once the request has left the window, there is
 * nothing left to correct and only [property@Pft.Permit:cost] changes.
 *
 * Since: 0.1
 */
void
pft_permit_settle (PftPermit *self,
                   guint64    actual_cost)
{
  g_return_if_fail (PFT_IS_PERMIT (self));

  if (self->limiter == NULL)
    return;

  /* self->cost is read and written under the limiter's lock. */
  if (_pft_rate_limiter_settle (self->limiter, self->entry, &self->cost, actual_cost))
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_COST]);
}

/**
 * pft_permit_is_released:
 * @self: a permit
 *
 * Tells whether the permit was given back. A released permit no longer
 * counts against the limiter's concurrency; releasing it again does nothing.
 *
 * Returns: %TRUE once [method@Pft.Permit.release] was called
 *
 * Since: 0.1
 */
gboolean
pft_permit_is_released (PftPermit *self)
{
  g_return_val_if_fail (PFT_IS_PERMIT (self), FALSE);

  return g_atomic_int_get (&self->released);
}

/**
 * pft_permit_get_cost:
 * @self: a permit
 *
 * The cost counted for this permit: the estimate given to acquire, or the
 * last value given to [method@Pft.Permit.settle].
 *
 * Returns: the cost, in the unit of the limiter's
 *   [property@Pft.RateLimiter:max-cost-per-window]
 *
 * Since: 0.1
 */
guint64
pft_permit_get_cost (PftPermit *self)
{
  g_return_val_if_fail (PFT_IS_PERMIT (self), 0);

  return self->cost;
}

/**
 * pft_permit_get_limiter:
 * @self: a permit
 *
 * Gets the limiter the permit was acquired from, the one that
 * [method@Pft.Permit.release] gives it back to.
 *
 * Returns: (transfer none): the limiter that granted the permit
 *
 * Since: 0.1
 */
PftRateLimiter *
pft_permit_get_limiter (PftPermit *self)
{
  g_return_val_if_fail (PFT_IS_PERMIT (self), NULL);

  return self->limiter;
}
