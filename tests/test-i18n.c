/* test-i18n.c: Pft's messages in German, GLib's left to GLib
 *
 * Runs with LANGUAGE=de under the C.UTF-8 locale (no other locale needs to
 * be installed: GNU gettext honours LANGUAGE for any locale but plain C)
 * and binds Pft's domain to the catalogue built from po/de.po, and GLib's
 * to a stand-in built from tests/i18n/de.po.
 *
 * SPDX-License-Identifier: MIT
 */

#include <locale.h>
#include <libintl.h>

#include <pft.h>

/* The library binds its domain to the installed catalogues the first time
 * a class of it is initialized; bind it here after that, or the library
 * would replace this binding. */
static void
bind_test_catalogues (void)
{
  g_type_class_unref (g_type_class_ref (PFT_TYPE_PRESET));
  bindtextdomain (GETTEXT_PACKAGE, PFT_TEST_PO_DIR);
  bindtextdomain ("glib20", PFT_TEST_GLIB_LOCALE_DIR);
  bind_textdomain_codeset ("glib20", "UTF-8");
}

static void
test_i18n_catalogue_found (void)
{
  /* Guards the other tests: without the catalogue they would only see
   * English and fail for the wrong reason. */
  g_assert_cmpstr (g_dgettext (GETTEXT_PACKAGE, "Rate limited"), ==, "Ratenbegrenzung erreicht");
}

static void
test_i18n_unknown_preset (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PftPreset) preset = pft_presets_lookup ("no_such_tier", &error);

  g_assert_null (preset);
  g_assert_error (error, PFT_ERROR, PFT_ERROR_NOT_FOUND);
  g_assert_true (g_str_has_prefix (error->message, "Unbekannte Voreinstellung „no_such_tier“; gültige Voreinstellungen sind: "));
}

static void
test_i18n_preset_description (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PftPreset) preset = pft_presets_lookup ("openai_tier1", &error);

  g_assert_no_error (error);
  g_assert_cmpstr (pft_preset_get_description (preset), ==, "OpenAI, Stufe 1");
}

static void
test_i18n_keyfile_error (void)
{
  g_autoptr(PftLimiterRegistry) registry = pft_limiter_registry_new ();
  g_autoptr(GError) error = NULL;

  g_assert_false (pft_limiter_registry_load_from_data (registry, "[openai]\nmax-concurency = 3\n", -1, &error));
  g_assert_error (error, PFT_ERROR, PFT_ERROR_PARSE);
  g_assert_nonnull (strstr (error->message, "Gruppe „openai“, Schlüssel „max-concurency“"));
  g_assert_nonnull (strstr (error->message, "unbekannter Schlüssel (bekannte Schlüssel: "));
}

static void
on_acquired (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GError **error = user_data;
  g_autoptr(PftPermit) permit = pft_rate_limiter_acquire_finish (PFT_RATE_LIMITER (source), result, error);

  g_assert_null (permit);
}

static void
test_i18n_cancelled_is_glib_message (void)
{
  g_autoptr(PftRateLimiter) limiter = pft_rate_limiter_new (1, 0, 60.0);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(PftPermit) held = NULL;
  g_autoptr(GError) error = NULL;

  held = pft_rate_limiter_try_acquire (limiter, 1, &error);
  g_assert_no_error (error);
  g_assert_nonnull (held);

  /* A waiter cancelled while queued. */
  pft_rate_limiter_acquire_async (limiter, 1, cancellable, on_acquired, &error);
  g_cancellable_cancel (cancellable);
  while (error == NULL)
    g_main_context_iteration (NULL, TRUE);

  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  /* GLib's own translation, not a copy in Pft's catalogue. */
  g_assert_cmpstr (error->message, ==, "Vorgang wurde abgebrochen");
  g_assert_cmpstr (g_dgettext (GETTEXT_PACKAGE, "Operation was cancelled"), ==, "Operation was cancelled");
}

int
main (int argc, char **argv)
{
  setlocale (LC_ALL, "");
  g_test_init (&argc, &argv, NULL);
  bind_test_catalogues ();

  g_test_add_func ("/i18n/catalogue-found", test_i18n_catalogue_found);
  g_test_add_func ("/i18n/unknown-preset", test_i18n_unknown_preset);
  g_test_add_func ("/i18n/preset-description", test_i18n_preset_description);
  g_test_add_func ("/i18n/keyfile-error", test_i18n_keyfile_error);
  g_test_add_func ("/i18n/cancelled-is-glib-message", test_i18n_cancelled_is_glib_message);
  return g_test_run ();
}
