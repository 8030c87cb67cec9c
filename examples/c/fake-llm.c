/* fake-llm.c: an in-process stand-in for an LLM API, for the cookbook
 *
 * SPDX-License-Identifier: MIT
 */

#include "fake-llm.h"

#define LATENCY_US (20 * G_USEC_PER_SEC / 1000)

struct _FakeLlm
{
  guint   max_concurrent;
  guint   max_per_second;
  GMutex  mutex;
  guint   in_flight;
  guint   peak_in_flight;
  guint   served;
  guint   rejected;
  GQueue  starts;          /* gint64 µs of the calls of the last second */
};

static const struct { const char *en, *de, *fr; } fake_llm_words[] = {
  { "hello", "hallo", "bonjour" }, { "world", "Welt", "monde" },
  { "good morning", "guten Morgen", "bonjour" }, { "thank you", "danke", "merci" },
  { "cat", "Katze", "chat" }, { "dog", "Hund", "chien" },
  { "rate limit", "Ratenbegrenzung", "limite de débit" }, { "flow", "Fluss", "flux" },
};

FakeLlm *
fake_llm_new (guint max_concurrent,
              guint max_per_second)
{
  FakeLlm *llm = g_new0 (FakeLlm, 1);

  llm->max_concurrent = max_concurrent;
  llm->max_per_second = max_per_second;
  g_mutex_init (&llm->mutex);
  g_queue_init (&llm->starts);
  return llm;
}

void
fake_llm_free (FakeLlm *llm)
{
  g_queue_clear_full (&llm->starts, g_free);
  g_mutex_clear (&llm->mutex);
  g_free (llm);
}

/* Admits a call or says why not; the provider's own bookkeeping. */
static gboolean
fake_llm_admit (FakeLlm *llm,
                GError **error)
{
  gint64 now = g_get_monotonic_time ();
  g_autoptr(GMutexLocker) locker = g_mutex_locker_new (&llm->mutex);

  while (!g_queue_is_empty (&llm->starts) &&
         *(gint64 *) g_queue_peek_head (&llm->starts) <= now - G_USEC_PER_SEC)
    g_free (g_queue_pop_head (&llm->starts));

  if (llm->max_concurrent > 0 && llm->in_flight >= llm->max_concurrent)
    {
      llm->rejected++;
      g_propagate_error (error, pft_error_new_rate_limited (-1, "fake-llm",
                                                            "429 Too Many Requests: too many calls at once"));
      return FALSE;
    }
  if (llm->max_per_second > 0 && g_queue_get_length (&llm->starts) >= llm->max_per_second)
    {
      gint64 oldest = *(gint64 *) g_queue_peek_head (&llm->starts);

      llm->rejected++;
      g_propagate_error (error, pft_error_new_rate_limited ((oldest + G_USEC_PER_SEC - now) / 1e6, "fake-llm",
                                                            "429 Too Many Requests: quota per second used up"));
      return FALSE;
    }
  llm->in_flight++;
  llm->peak_in_flight = MAX (llm->peak_in_flight, llm->in_flight);
  g_queue_push_tail (&llm->starts, g_memdup2 (&now, sizeof now));
  return TRUE;
}

char *
fake_llm_translate (FakeLlm     *llm,
                    const char  *text,
                    const char  *lang,
                    GError     **error)
{
  const char *answer = NULL;

  if (!fake_llm_admit (llm, error))
    return NULL;
  g_usleep (LATENCY_US);

  for (guint i = 0; i < G_N_ELEMENTS (fake_llm_words) && answer == NULL; i++)
    if (g_str_equal (text, fake_llm_words[i].en))
      answer = g_str_equal (lang, "fr") ? fake_llm_words[i].fr : fake_llm_words[i].de;

  g_mutex_lock (&llm->mutex);
  llm->in_flight--;
  llm->served++;
  g_mutex_unlock (&llm->mutex);
  return answer != NULL ? g_strdup (answer) : g_strdup_printf ("[%s] %s", lang, text);
}

guint
fake_llm_get_served (FakeLlm *llm)
{
  g_autoptr(GMutexLocker) locker = g_mutex_locker_new (&llm->mutex);
  return llm->served;
}

guint
fake_llm_get_rejected (FakeLlm *llm)
{
  g_autoptr(GMutexLocker) locker = g_mutex_locker_new (&llm->mutex);
  return llm->rejected;
}

guint
fake_llm_get_peak_in_flight (FakeLlm *llm)
{
  g_autoptr(GMutexLocker) locker = g_mutex_locker_new (&llm->mutex);
  return llm->peak_in_flight;
}
