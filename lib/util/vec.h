/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <errno.h>
#include <stdlib.h>

/*
 * A typed growable array: `VEC(struct foo) v = { 0 };` then VEC_PUSH(&v, x).
 * Elements are stored by value; the vector owns only its array (v.items).
 */
#define VEC(T)              \
	struct {            \
		T *items;   \
		size_t n;   \
		size_t cap; \
	}

/* Ensures room for `extra` more elements; evaluates to 0 or -ENOMEM. */
#define VEC_RESERVE(v, extra)                                                             \
	({                                                                                \
		int _r_ = 0;                                                              \
		size_t _need_ = (v)->n + (extra);                                         \
		if (_need_ > (v)->cap) {                                                  \
			size_t _cap_ = (v)->cap ? (v)->cap * 2 : 8;                       \
			while (_cap_ < _need_)                                            \
				_cap_ *= 2;                                               \
			void *_p_ = reallocarray((v)->items, _cap_, sizeof(*(v)->items)); \
			if (_p_) {                                                        \
				(v)->items = _p_;                                         \
				(v)->cap = _cap_;                                         \
			} else                                                            \
				_r_ = -ENOMEM;                                            \
		}                                                                         \
		_r_;                                                                      \
	})

/* Appends x by value; evaluates to 0 or -ENOMEM. */
#define VEC_PUSH(v, x)                              \
	({                                          \
		int _rr_ = VEC_RESERVE(v, 1);       \
		if (_rr_ == 0)                      \
			(v)->items[(v)->n++] = (x); \
		_rr_;                               \
	})

#define VEC_FOREACH(p, v) \
	for (__typeof__((v)->items) p = (v)->items; p && p < (v)->items + (v)->n; p++)

/* Frees the array only (not what elements point to) and empties v. */
#define VEC_DONE(v)                    \
	do {                           \
		free((v)->items);      \
		(v)->items = NULL;     \
		(v)->n = (v)->cap = 0; \
	} while (0)
