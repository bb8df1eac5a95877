/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* CidMap against a plain reference model, plus the edges of the CID range. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/cid-map.h"

#define VALUE(cid) ((void *) (uintptr_t) ((cid) * 2 + 1))

static void test_basic(void **state)
{
    CidMap m;
    cid_map_init(&m);
    assert_int_equal(cid_map_next_free(&m, 0), CID_MIN);
    assert_int_equal(cid_map_put(&m, 2, VALUE(2)), -ERANGE);
    assert_int_equal(cid_map_put(&m, 0xffffffffU, VALUE(1)), -ERANGE);
    assert_int_equal(cid_map_put(&m, 3, VALUE(3)), 0);
    assert_int_equal(cid_map_put(&m, 3, VALUE(3)), -EEXIST);
    assert_int_equal(cid_map_put(&m, 4, VALUE(4)), 0);
    assert_int_equal(cid_map_put(&m, CID_MAX, VALUE(CID_MAX)), 0);
    assert_int_equal(m.count, 3);
    assert_ptr_equal(cid_map_get(&m, 4), VALUE(4));
    assert_null(cid_map_get(&m, 5));
    assert_int_equal(cid_map_next_free(&m, 3), 5);
    /* From the top: CID_MAX is taken, so it wraps to the lowest free. */
    assert_int_equal(cid_map_next_free(&m, CID_MAX), 5);
    assert_ptr_equal(cid_map_remove(&m, 3), VALUE(3));
    assert_null(cid_map_remove(&m, 3));
    assert_int_equal(cid_map_next_free(&m, 3), 3);
    cid_map_clear(&m);
    assert_int_equal(m.count, 0);
    assert_null(cid_map_get(&m, 4));
}

/* Filling whole subtrees exercises the full masks at several levels. */
static void test_dense(void **state)
{
    CidMap m;
    cid_map_init(&m);
    const uint32_t n = 300000; /* beyond 64^3: full level-2 subtrees */
    for (uint32_t c = CID_MIN; c < CID_MIN + n; c++) {
        assert_int_equal(cid_map_next_free(&m, CID_MIN), c);
        assert_int_equal(cid_map_put(&m, c, VALUE(c)), 0);
    }
    assert_int_equal(cid_map_next_free(&m, CID_MIN), CID_MIN + n);
    assert_ptr_equal(cid_map_remove(&m, 70000), VALUE(70000));
    assert_int_equal(cid_map_next_free(&m, CID_MIN), 70000);
    assert_int_equal(cid_map_next_free(&m, 70001), CID_MIN + n);
    cid_map_clear(&m);
}

static int count_in_order(uint32_t cid, void *value, void *userdata)
{
    uint32_t *last = userdata;
    assert_true(cid > *last);
    assert_ptr_equal(value, VALUE(cid));
    *last = cid;
    return 0;
}

/* Random operations in a window, checked against a byte array. */
static void test_random_against_model(void **state)
{
    enum { BASE = 0xfffff000U, SPAN = 4095 }; /* up to CID_MAX */
    static uint8_t model[SPAN];
    CidMap m;
    cid_map_init(&m);
    srand(1234);
    for (int i = 0; i < 200000; i++) {
        uint32_t c = BASE + (uint32_t) (rand() % SPAN);
        switch (rand() % 3) {
        case 0:
            assert_int_equal(cid_map_put(&m, c, VALUE(c)), model[c - BASE] ? -EEXIST : 0);
            model[c - BASE] = 1;
            break;
        case 1:
            assert_ptr_equal(cid_map_remove(&m, c), model[c - BASE] ? VALUE(c) : NULL);
            model[c - BASE] = 0;
            break;
        default: {
            uint32_t want = 0;
            for (uint32_t k = c; k < BASE + SPAN; k++)
                if (!model[k - BASE]) {
                    want = k;
                    break;
                }
            if (want)
                assert_int_equal(cid_map_next_free(&m, c), want);
            else /* wraps to the bottom of the range, which is empty */
                assert_int_equal(cid_map_next_free(&m, c), CID_MIN);
        }
        }
    }
    uint32_t last = 0;
    cid_map_foreach(&m, count_in_order, &last);
    size_t taken = 0;
    for (int k = 0; k < SPAN; k++)
        taken += model[k];
    assert_int_equal(m.count, taken);
    cid_map_clear(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_basic),
        cmocka_unit_test(test_dense),
        cmocka_unit_test(test_random_against_model),
    };
    return cmocka_run_group_tests_name("cid_map", tests, NULL, NULL);
}
