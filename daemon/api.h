/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

struct manager;
struct api;

/* Opens the local API socket (socket activation, else cfg.socket_path with its mode and group)
 * and the optional metrics listener, served by libmicrohttpd inside m's event loop. Returns 0
 * and *ret, or -errno (logged). */
int api_new(struct manager *m, struct api **ret);
/* Closes everything; returns NULL. */
struct api *api_free(struct api *a);
/* Sends one line of JSON to every /v1/findings/stream client (a NULL api is ignored). */
void api_broadcast(struct api *a, const char *json_line);
