/* fake-llm.h: an in-process stand-in for an LLM API, for the cookbook
 *
 * It translates a word or two after a short delay, and has limits of its
 * own that the caller is not told about, like a real provider: a call
 * beyond them fails at once with PFT_ERROR_RATE_LIMITED (the "429"), with
 * a retry-after when the per-second quota is what ran out. Thread-safe.
 *
 * SPDX-License-Identifier: MIT
 */

#pragma once

#include <pft.h>

typedef struct _FakeLlm FakeLlm;

/* Hidden limits: calls at once, calls in any second (0: none). */
FakeLlm *fake_llm_new        (guint        max_concurrent,
                              guint        max_per_second);
void     fake_llm_free       (FakeLlm     *llm);

/* Blocks for about 20 ms, like a network call: call it from exec, which
 * runs in a worker thread. Returns the translation of @text into @lang. */
char    *fake_llm_translate  (FakeLlm     *llm,
                              const char  *text,
                              const char  *lang,
                              GError     **error);

/* What the API saw, counted on its side. */
guint    fake_llm_get_served       (FakeLlm *llm);
guint    fake_llm_get_rejected     (FakeLlm *llm);
guint    fake_llm_get_peak_in_flight (FakeLlm *llm);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (FakeLlm, fake_llm_free)
