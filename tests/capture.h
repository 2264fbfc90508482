/*
 * capture.h - what a function writes to a file descriptor, for tests of
 * output (mem_show's table): the descriptor redirected to a temporary file
 * while the function runs. Header-only; cmocka assertions.
 */
#ifndef GJB_TESTS_CAPTURE_H
#define GJB_TESTS_CAPTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* Runs fn with file descriptor fd redirected to a temporary file; returns
 * what was written, at least one byte (free() it). */
static char *capture(int fd, void (*fn)(void))
{
    FILE *tmp = tmpfile();
    assert_non_null(tmp);
    fflush(stdout);
    fflush(stderr);
    int saved = dup(fd);
    assert_true(saved >= 0);
    assert_true(dup2(fileno(tmp), fd) >= 0);
    fn();
    fflush(stdout);
    fflush(stderr);
    assert_true(dup2(saved, fd) >= 0);
    close(saved);
    assert_int_equal(fseek(tmp, 0, SEEK_END), 0); /* the descriptor's offset, not the stream's */
    long len = ftell(tmp);
    assert_true(len > 0);
    rewind(tmp);
    char *text = calloc(1, (size_t)len + 1);
    assert_non_null(text);
    assert_int_equal(fread(text, 1, (size_t)len, tmp), (size_t)len);
    fclose(tmp);
    return text;
}

#endif
