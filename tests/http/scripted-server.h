/* scripted-server.h: a tiny SoupServer for the client's tests, answering
 * per the first path segment (/ok/, /notjson/, /status500/, ...), on the
 * thread-default main context of the test
 *
 * SPDX-License-Identifier: MIT
 */

#pragma once

#include <pft-http.h>

G_BEGIN_DECLS

typedef struct _ScriptedServer ScriptedServer;

ScriptedServer *scripted_server_new          (void);
void            scripted_server_free         (ScriptedServer *self);
/* http://127.0.0.1:PORT/MODE (no trailing slash) */
char           *scripted_server_base_url     (ScriptedServer *self,
                                              const char     *mode);
guint           scripted_server_get_requests (ScriptedServer *self);
guint           scripted_server_get_in_flight (ScriptedServer *self);
/* The last request: its headers and JSON body. */
const char     *scripted_server_last_header  (ScriptedServer *self,
                                              const char     *name);
JsonObject     *scripted_server_last_body    (ScriptedServer *self);
const char     *scripted_server_last_path    (ScriptedServer *self);
/* Modes "flaky" and "flakydrop": fail the first @n requests. */
void            scripted_server_set_failures (ScriptedServer *self,
                                              guint           n);
/* Mode "slow": answer after @seconds. */
void            scripted_server_set_delay    (ScriptedServer *self,
                                              double          seconds);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (ScriptedServer, scripted_server_free)

G_END_DECLS
