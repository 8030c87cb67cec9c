/* pft-values.c: an ordered sequence of GValues
 *
 * SPDX-License-Identifier: MIT
 */

#include <string.h>

#include "pft-values.h"
#include "pft-private.h"

/**
 * PftValues:
 *
 * An ordered sequence of #GValue: what a batch node's `prep` returns (one
 * item per element) and what its `post` receives as results, in input
 * order; the param sets a batch flow's `prep` returns (each an `a{sv}`
 * #GVariant).
 *
 * Elements are plain #GValue of any type. A #PftValues is not locked:
 * fill it from one thread at a time (the engine only writes results on
 * the run's main context).
 *
 * In Python a #PftValues is list-like (`len`, indexing, iteration,
 * `append`), and `Pft.Values.new_from_list()` builds one from a list; in
 * GJS use the typed `append_*` methods or wrap with `GObject.Value`.
 *
 * Since: 0.1
 */
struct _PftValues
{
  GObject  parent_instance;
  GArray  *values;   /* of GValue */
};

G_DEFINE_FINAL_TYPE (PftValues, pft_values, G_TYPE_OBJECT)

static void
pft_values_finalize (GObject *object)
{
  PftValues *self = (PftValues *)object;

  g_array_unref (self->values);

  G_OBJECT_CLASS (pft_values_parent_class)->finalize (object);
}

static void
pft_values_class_init (PftValuesClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = pft_values_finalize;
}

static void
pft_values_init (PftValues *self)
{
  self->values = g_array_new (FALSE, TRUE, sizeof (GValue));
  g_array_set_clear_func (self->values, (GDestroyNotify) g_value_unset);
}

/**
 * pft_values_new:
 *
 * Creates an empty sequence.
 *
 * Returns: (transfer full): a new #PftValues
 *
 * Since: 0.1
 */
PftValues *
pft_values_new (void)
{
  return g_object_new (PFT_TYPE_VALUES, NULL);
}

/**
 * pft_values_new_sized:
 * @reserved: how many elements to reserve room for
 *
 * Creates an empty sequence with room for @reserved elements, which saves
 * reallocations when the final length is known.
 *
 * Returns: (transfer full): a new #PftValues
 *
 * Since: 0.1
 */
PftValues *
pft_values_new_sized (guint reserved)
{
  PftValues *self = pft_values_new ();

  g_array_set_size (self->values, reserved);
  g_array_set_size (self->values, 0);
  return self;
}

/**
 * pft_values_new_from_strv:
 * @strv: (array zero-terminated=1): strings
 *
 * Creates a sequence of the strings of @strv.
 *
 * Returns: (transfer full): a new #PftValues
 *
 * Since: 0.1
 */
PftValues *
pft_values_new_from_strv (const char * const *strv)
{
  PftValues *self;

  g_return_val_if_fail (strv != NULL, NULL);

  self = pft_values_new_sized (g_strv_length ((char **) strv));
  for (guint i = 0; strv[i] != NULL; i++)
    pft_values_append_string (self, strv[i]);
  return self;
}

/**
 * pft_values_get_length:
 * @self: a #PftValues
 *
 * Counts the elements.
 *
 * Returns: the number of elements
 *
 * Since: 0.1
 */
guint
pft_values_get_length (PftValues *self)
{
  g_return_val_if_fail (PFT_IS_VALUES (self), 0);

  return self->values->len;
}

static GValue *
pft_values_append_slot (PftValues *self)
{
  g_array_set_size (self->values, self->values->len + 1);
  return &g_array_index (self->values, GValue, self->values->len - 1);
}

/**
 * pft_values_append:
 * @self: a #PftValues
 * @value: a value
 *
 * Appends a copy of @value. An unset @value appends an unset element
 * (a "None" result).
 *
 * Since: 0.1
 */
void
pft_values_append (PftValues    *self,
                   const GValue *value)
{
  GValue *slot;

  g_return_if_fail (PFT_IS_VALUES (self));
  g_return_if_fail (value != NULL);

  slot = pft_values_append_slot (self);
  if (G_IS_VALUE (value))
    {
      g_value_init (slot, G_VALUE_TYPE (value));
      g_value_copy (value, slot);
    }
}

/**
 * pft_values_take:
 * @self: a #PftValues
 * @value: a value, whose contents are moved
 *
 * Appends @value without copying its contents; @value is left unset, so
 * that the caller may reuse or drop it.
 *
 * Since: 0.1
 */
void
pft_values_take (PftValues *self,
                 GValue    *value)
{
  GValue *slot;

  g_return_if_fail (PFT_IS_VALUES (self));
  g_return_if_fail (value != NULL);

  slot = pft_values_append_slot (self);
  *slot = *value;
  memset (value, 0, sizeof *value);
}

/**
 * pft_values_append_string:
 * @self: a #PftValues
 * @value: (nullable): a string
 *
 * Appends a copy of the string @value.
 *
 * Since: 0.1
 */
void
pft_values_append_string (PftValues  *self,
                          const char *value)
{
  GValue *slot;

  g_return_if_fail (PFT_IS_VALUES (self));

  slot = pft_values_append_slot (self);
  g_value_init (slot, G_TYPE_STRING);
  g_value_set_string (slot, value);
}

/**
 * pft_values_append_int:
 * @self: a #PftValues
 * @value: an integer
 *
 * Appends a `gint64` element.
 *
 * Since: 0.1
 */
void
pft_values_append_int (PftValues *self,
                       gint64     value)
{
  GValue *slot;

  g_return_if_fail (PFT_IS_VALUES (self));

  slot = pft_values_append_slot (self);
  g_value_init (slot, G_TYPE_INT64);
  g_value_set_int64 (slot, value);
}

/**
 * pft_values_append_double:
 * @self: a #PftValues
 * @value: a double
 *
 * Appends a double element.
 *
 * Since: 0.1
 */
void
pft_values_append_double (PftValues *self,
                          double     value)
{
  GValue *slot;

  g_return_if_fail (PFT_IS_VALUES (self));

  slot = pft_values_append_slot (self);
  g_value_init (slot, G_TYPE_DOUBLE);
  g_value_set_double (slot, value);
}

/**
 * pft_values_append_object:
 * @self: a #PftValues
 * @object: (type GObject) (nullable): an object
 *
 * Appends a reference on @object.
 *
 * Since: 0.1
 */
void
pft_values_append_object (PftValues *self,
                          gpointer   object)
{
  GValue *slot;

  g_return_if_fail (PFT_IS_VALUES (self));
  g_return_if_fail (object == NULL || G_IS_OBJECT (object));

  slot = pft_values_append_slot (self);
  g_value_init (slot, object != NULL ? G_OBJECT_TYPE (object) : G_TYPE_OBJECT);
  g_value_set_object (slot, object);
}

/**
 * pft_values_append_variant:
 * @self: a #PftValues
 * @variant: (nullable): a variant, such as an `a{sv}` param set
 *
 * Appends @variant (a floating reference is sunk).
 *
 * Since: 0.1
 */
void
pft_values_append_variant (PftValues *self,
                           GVariant  *variant)
{
  GValue *slot;

  g_return_if_fail (PFT_IS_VALUES (self));

  slot = pft_values_append_slot (self);
  g_value_init (slot, G_TYPE_VARIANT);
  g_value_set_variant (slot, variant);
}

/**
 * pft_values_peek:
 * @self: a #PftValues
 * @index_: an index below the length
 *
 * Reads the element at @index_ in place, without copying. The pointer
 * stays valid until @self changes length.
 *
 * Returns: (transfer none): the element
 *
 * Since: 0.1
 */
const GValue *
pft_values_peek (PftValues *self,
                 guint      index_)
{
  g_return_val_if_fail (PFT_IS_VALUES (self), NULL);
  g_return_val_if_fail (index_ < self->values->len, NULL);

  return &g_array_index (self->values, GValue, index_);
}

/**
 * pft_values_get:
 * @self: a #PftValues
 * @index_: an index below the length
 * @value: (out caller-allocates): where to copy the element
 *
 * Copies the element at @index_ into @value. An unset element (a "None"
 * result) reads as a %NULL `gpointer`.
 *
 * Since: 0.1
 */
void
pft_values_get (PftValues *self,
                guint      index_,
                GValue    *value)
{
  const GValue *src;

  g_return_if_fail (PFT_IS_VALUES (self));
  g_return_if_fail (value != NULL);
  g_return_if_fail (index_ < self->values->len);

  if (G_IS_VALUE (value))
    g_value_unset (value);
  src = &g_array_index (self->values, GValue, index_);
  if (G_IS_VALUE (src))
    {
      g_value_init (value, G_VALUE_TYPE (src));
      g_value_copy (src, value);
    }
  else
    {
      g_value_init (value, G_TYPE_POINTER);
    }
}

/**
 * pft_values_set:
 * @self: a #PftValues
 * @index_: an index; the sequence grows to hold it
 * @value: a value
 *
 * Replaces the element at @index_ with a copy of @value, growing the
 * sequence with unset elements when @index_ is past its end.
 *
 * Since: 0.1
 */
void
pft_values_set (PftValues    *self,
                guint         index_,
                const GValue *value)
{
  GValue *slot;

  g_return_if_fail (PFT_IS_VALUES (self));
  g_return_if_fail (value != NULL);

  if (index_ >= self->values->len)
    g_array_set_size (self->values, index_ + 1);
  slot = &g_array_index (self->values, GValue, index_);
  if (G_IS_VALUE (slot))
    g_value_unset (slot);
  if (G_IS_VALUE (value))
    {
      g_value_init (slot, G_VALUE_TYPE (value));
      g_value_copy (value, slot);
    }
}

/* Moves @value into slot @index_ (which must exist), leaving @value unset. */
void
_pft_values_take_at (PftValues *self,
                     guint      index_,
                     GValue    *value)
{
  GValue *slot = &g_array_index (self->values, GValue, index_);

  if (G_IS_VALUE (slot))
    g_value_unset (slot);
  *slot = *value;
  memset (value, 0, sizeof *value);
}

void
_pft_values_set_length (PftValues *self,
                        guint      length)
{
  g_array_set_size (self->values, length);
}

/**
 * pft_values_get_string:
 * @self: a #PftValues
 * @index_: an index below the length
 *
 * Reads a string element in place.
 *
 * Returns: (nullable): the string, or %NULL when the element is not a string
 *
 * Since: 0.1
 */
const char *
pft_values_get_string (PftValues *self,
                       guint      index_)
{
  const GValue *v = pft_values_peek (self, index_);

  if (v != NULL && G_VALUE_HOLDS_STRING (v))
    return g_value_get_string (v);
  return NULL;
}

static gboolean
pft_values_transform_at (PftValues *self,
                         guint      index_,
                         GType      type,
                         GValue    *out)
{
  const GValue *v = pft_values_peek (self, index_);

  if (v == NULL || !G_IS_VALUE (v) || !g_value_type_transformable (G_VALUE_TYPE (v), type))
    return FALSE;
  g_value_init (out, type);
  return g_value_transform (v, out);
}

/**
 * pft_values_get_int:
 * @self: a #PftValues
 * @index_: an index below the length
 *
 * Reads an integer element; any integer type converts.
 *
 * Returns: the integer, or 0 when the element is not a number
 *
 * Since: 0.1
 */
gint64
pft_values_get_int (PftValues *self,
                    guint      index_)
{
  g_auto(GValue) out = G_VALUE_INIT;

  if (pft_values_transform_at (self, index_, G_TYPE_INT64, &out))
    return g_value_get_int64 (&out);
  return 0;
}

/**
 * pft_values_get_double:
 * @self: a #PftValues
 * @index_: an index below the length
 *
 * Reads a numeric element as a double.
 *
 * Returns: the number, or 0 when the element is not a number
 *
 * Since: 0.1
 */
double
pft_values_get_double (PftValues *self,
                       guint      index_)
{
  g_auto(GValue) out = G_VALUE_INIT;

  if (pft_values_transform_at (self, index_, G_TYPE_DOUBLE, &out))
    return g_value_get_double (&out);
  return 0;
}

/**
 * pft_values_dup_object:
 * @self: a #PftValues
 * @index_: an index below the length
 *
 * Reads an object element.
 *
 * Returns: (transfer full) (nullable) (type GObject): a reference on the
 *   object, or %NULL when the element is not an object
 *
 * Since: 0.1
 */
gpointer
pft_values_dup_object (PftValues *self,
                       guint      index_)
{
  const GValue *v = pft_values_peek (self, index_);

  if (v != NULL && G_VALUE_HOLDS_OBJECT (v))
    return g_value_dup_object (v);
  return NULL;
}

/**
 * pft_values_dup_variant:
 * @self: a #PftValues
 * @index_: an index below the length
 *
 * Reads a #GVariant element.
 *
 * Returns: (transfer full) (nullable): the variant, or %NULL when the
 *   element is not a variant
 *
 * Since: 0.1
 */
GVariant *
pft_values_dup_variant (PftValues *self,
                        guint      index_)
{
  const GValue *v = pft_values_peek (self, index_);

  if (v != NULL && G_VALUE_HOLDS_VARIANT (v))
    return g_value_dup_variant (v);
  return NULL;
}

/**
 * pft_values_get_error:
 * @self: a #PftValues
 * @index_: an index below the length
 *
 * Reads the error of a failed item: with continue-on-error, a throttled
 * batch keeps each failed item's #GError in its slot of the results.
 *
 * Returns: (transfer none) (nullable): the error, or %NULL when the
 *   element is not an error (the item succeeded)
 *
 * Since: 0.1
 */
const GError *
pft_values_get_error (PftValues *self,
                      guint      index_)
{
  const GValue *v = pft_values_peek (self, index_);

  if (v != NULL && G_VALUE_HOLDS (v, G_TYPE_ERROR))
    return g_value_get_boxed (v);
  return NULL;
}

/**
 * pft_values_dup_strv:
 * @self: a #PftValues
 *
 * Copies the string elements; elements that are not strings are skipped.
 *
 * Returns: (transfer full) (array zero-terminated=1): the strings
 *
 * Since: 0.1
 */
char **
pft_values_dup_strv (PftValues *self)
{
  GPtrArray *strv;

  g_return_val_if_fail (PFT_IS_VALUES (self), NULL);

  strv = g_ptr_array_new ();
  for (guint i = 0; i < self->values->len; i++)
    {
      const GValue *v = &g_array_index (self->values, GValue, i);
      if (G_VALUE_HOLDS_STRING (v))
        g_ptr_array_add (strv, g_value_dup_string (v));
    }
  g_ptr_array_add (strv, NULL);
  return (char **) g_ptr_array_free (strv, FALSE);
}
