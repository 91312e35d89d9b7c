/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Edits of keyturn.conf that keyturnctl makes for the administrator:
 * pure text in, text out, every other byte kept (comments, blank lines,
 * order, spelling). Writing the file is the caller's.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"

static bool blank(char c)
{
	return c == ' ' || c == '\t';
}

/* [s, end) without the blanks around it. */
static void strip(const char **s, const char **end)
{
	while (*s < *end && blank(**s))
		(*s)++;
	while (*end > *s && (blank((*end)[-1]) || (*end)[-1] == '\r'))
		(*end)--;
}

/* Whether the line [s, end) is the header of [volume name]. A header is
 * '[' 'volume' blanks NAME blanks ']' and a comment at most. */
static int section_of(const char *s, const char *end, const char *name,
		      bool *ret_is_section)
{
	const char *close, *inside, *inside_end;

	strip(&s, &end);
	*ret_is_section = s < end && *s == '[';
	if (!*ret_is_section)
		return 0;
	close = memchr(s, ']', (size_t)(end - s));
	if (!close)
		return 0;
	inside = s + 1;
	inside_end = close;
	strip(&inside, &inside_end);
	if ((size_t)(inside_end - inside) < 6 || memcmp(inside, "volume", 6))
		return 0;
	inside += 6;
	if (inside == inside_end || !blank(*inside))
		return 0;
	strip(&inside, &inside_end);
	return (size_t)(inside_end - inside) == strlen(name) &&
	       memcmp(inside, name, strlen(name)) == 0;
}

/* For a "key = value" line: whether the key is key, and the value
 * without blanks and inline comment. */
static bool assignment(const char *s, const char *end, const char *key,
		       const char **ret_value, const char **ret_value_end)
{
	const char *eq, *k_end, *v, *v_end;

	strip(&s, &end);
	if (s == end || *s == '#' || *s == ';' || *s == '[')
		return false;
	eq = memchr(s, '=', (size_t)(end - s));
	if (!eq)
		return false;
	k_end = eq;
	strip(&s, &k_end);
	if ((size_t)(k_end - s) != strlen(key) || memcmp(s, key, strlen(key)))
		return false;
	v = eq + 1;
	v_end = end;
	for (const char *c = v; c < v_end; c++)
		if (*c == '#' && c > v && blank(c[-1])) {
			v_end = c;
			break;
		}
	strip(&v, &v_end);
	*ret_value = v;
	*ret_value_end = v_end;
	return true;
}

static bool content(const char *s, const char *end)
{
	strip(&s, &end);
	return s < end && *s != '#' && *s != ';';
}

int kt_config_pin_uuid(const char *text, size_t len, const char *volume,
		       const char *uuid, char **ret, size_t *ret_len)
{
	const char *line = text, *end = text + len, *insert = NULL;
	bool in_section = false, found = false;
	size_t ulen, n;
	char *out;

	if ((!text && len) || !volume || !kt_uuid_valid(uuid) || !ret ||
	    !ret_len)
		return -EINVAL;
	ulen = strlen(uuid);
	while (line < end) {
		const char *nl = memchr(line, '\n', (size_t)(end - line));
		const char *line_end = nl ? nl : end;
		const char *next = nl ? nl + 1 : end;
		const char *v, *v_end;
		bool is_section;

		if (section_of(line, line_end, volume, &is_section)) {
			if (found)
				return -EINVAL; /* two sections: not ours */
			found = in_section = true;
			insert = next;
		} else if (is_section) {
			in_section = false;
		} else if (in_section &&
			   assignment(line, line_end, "uuid", &v, &v_end)) {
			if ((size_t)(v_end - v) == ulen &&
			    strncasecmp(v, uuid, ulen) == 0)
				return 1;
			return -EEXIST;
		} else if (in_section && content(line, line_end)) {
			/* After the section's last key, before the blank
			 * lines and comments that lead to the next. */
			insert = next;
		}
		line = next;
	}
	if (!found)
		return -ENOENT;

	/* "uuid = " UUID "\n", and a newline first if the line before has
	 * none (the last line of the file). */
	n = len + 8 + ulen + 1;
	out = malloc(n + 1);
	if (!out)
		return -ENOMEM;
	{
		size_t head = (size_t)(insert - text), w = head;

		memcpy(out, text, head);
		if (head > 0 && text[head - 1] != '\n')
			out[w++] = '\n';
		w += (size_t)sprintf(out + w, "uuid = %s\n", uuid);
		memcpy(out + w, insert, len - head);
		w += len - head;
		out[w] = '\0';
		*ret_len = w;
	}
	*ret = out;
	return 0;
}
