#ifndef FORUMNET_TEXT_H
#define FORUMNET_TEXT_H

/* Checks of text shared by body validation, query parameters and path ids. */

int text_is_uuid(const char *s);
int text_is_email(const char *s);
int text_is_slug(const char *s, long min, long max);
/* Number of UTF-8 code points, or -1 if s is not valid UTF-8. */
long utf8_length(const char *s);
/* A new string: s cut to at most max_chars code points, then to its longest valid UTF-8 prefix (NULL
 * when out of memory). The caller frees it. */
char *utf8_cut(const char *s, long max_chars);
/* 1 if s is one of choices (NULL-terminated). */
int text_is_choice(const char *s, const char *const *choices);
/* 1 when the space-separated list words holds word (OAuth scopes). */
int text_has_word(const char *words, const char *word);

#endif
