/*
 * test_vmm_records.c - the record-file program of
 * spec/mmap-msync-example.zh.md through <mman.h> with its standard names,
 * with every result checked: record 43 reads 43, then 143 (rewritten with
 * stdio), then 243 after the mapped write, msync and munmap, seen by a plain
 * read(). The MS_SYNC variant is checked the same way.
 */
#include "vmm_helpers.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <mman.h> /* standard names -> gjbmem_ */

typedef struct {
    int integer;
    char string[24];
} RECORD;

#define NRECORDS (100)

static void write_records(const char *path)
{
    RECORD record;
    FILE *fp = fopen(path, "w+");
    assert_non_null(fp);
    for (int i = 0; i < NRECORDS; i++) {
        memset(&record, 0, sizeof record);
        record.integer = i;
        sprintf(record.string, "RECORD-%d", i);
        fwrite(&record, sizeof(record), 1, fp);
    }
    fclose(fp);
}

static void read_record(const char *path, RECORD *out)
{
    int f = open(path, O_RDONLY);
    assert_true(f >= 0);
    assert_int_equal(pread(f, out, sizeof *out, 43 * (off_t)sizeof *out),
                     (ssize_t)sizeof *out);
    close(f);
}

static void run_sample(int sync_flag)
{
    char path[64];
    int tmp = temp_file(path, 0, 0);
    assert_true(tmp >= 0);
    close(tmp);
    RECORD record, *mapped;
    write_records(path);

    FILE *fp = fopen(path, "r+");
    fseek(fp, 43 * sizeof(record), SEEK_SET);
    assert_int_equal(fread(&record, sizeof(record), 1, fp), 1);
    assert_int_equal(record.integer, 43);
    assert_string_equal(record.string, "RECORD-43");
    record.integer = 143;
    sprintf(record.string, "RECORD-%d", record.integer);
    fseek(fp, 43 * sizeof(record), SEEK_SET);
    fwrite(&record, sizeof(record), 1, fp);
    fclose(fp);

    int f = open(path, O_RDWR);
    mapped = (RECORD *)mmap(0, NRECORDS * sizeof(record), PROT_READ | PROT_WRITE,
                            MAP_SHARED, f, 0);
    assert_ptr_not_equal(mapped, MAP_FAILED);
    assert_int_equal(mapped[43].integer, 143);
    assert_string_equal(mapped[43].string, "RECORD-143");
    mapped[43].integer = 243;
    sprintf(mapped[43].string, "RECORD-%d", mapped[43].integer);
    EXPECT_OK(msync((void *)mapped, NRECORDS * sizeof(record), sync_flag));
    if (sync_flag == MS_SYNC) { /* written to the file before munmap */
        read_record(path, &record);
        assert_int_equal(record.integer, 243);
    }
    EXPECT_OK(munmap((void *)mapped, NRECORDS * sizeof(record)));
    close(f);

    read_record(path, &record);
    assert_int_equal(record.integer, 243);
    assert_string_equal(record.string, "RECORD-243");
    unlink(path);
}

static void sample_with_ms_async(void **state)
{
    (void)state;
    run_sample(MS_ASYNC);
}

static void sample_with_ms_sync(void **state)
{
    (void)state;
    run_sample(MS_SYNC);
}

/* MS_INVALIDATE never throws away what was written through the mapping. */
static void invalidate_keeps_shared_writes(void **state)
{
    (void)state;
    char path[64];
    int f = temp_file(path, page_size(), 'a');
    char *m = mmap(0, page_size(), PROT_READ | PROT_WRITE, MAP_SHARED, f, 0);
    assert_ptr_not_equal(m, MAP_FAILED);
    m[10] = 'Z';
    EXPECT_OK(msync(m, page_size(), MS_INVALIDATE));
    assert_int_equal(m[10], 'Z');
    EXPECT_OK(msync(m, page_size(), MS_SYNC | MS_INVALIDATE));
    char c;
    assert_int_equal(pread(f, &c, 1, 10), 1);
    assert_int_equal(c, 'Z');
    EXPECT_OK(munmap(m, page_size()));
    close(f);
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sample_with_ms_async),
        cmocka_unit_test(sample_with_ms_sync),
        cmocka_unit_test(invalidate_keeps_shared_writes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
