/*
 * match_ldb.c - evaluating a logical signature once its object has been matched.
 *
 * The expression is in reverse Polish notation (sigdb_ldb.c); each value on the stack carries
 * whether it holds, how many matches its subsignatures had in all, and how many distinct
 * subsignatures matched, which is what ClamAV's count operators compare: "(0|1)>5,2" holds when
 * subsignatures 0 and 1 matched more than 5 times together, and both at least once.
 */
#include "match/match.h"

#define STACK 64

typedef struct val {
    int ok;
    uint64_t count, distinct;
} val;

int khi_ldb_eval(const khi_ldb *l, const uint32_t *counts)
{
    val st[STACK];
    size_t sp = 0;
    for (size_t i = 0; i < l->nexpr; i++) {
        const khi_lop *op = &l->expr[i];
        switch (op->op) {
        case KHI_LOP_SUB:
            if (sp == STACK)
                return 0;
            st[sp].count = counts[op->sub];
            st[sp].ok = st[sp].count > 0;
            st[sp].distinct = st[sp].count > 0;
            sp++;
            break;
        case KHI_LOP_AND:
        case KHI_LOP_OR:
            if (sp < 2)
                return 0;
            sp--;
            st[sp - 1].ok = op->op == KHI_LOP_AND ? st[sp - 1].ok && st[sp].ok
                                                   : st[sp - 1].ok || st[sp].ok;
            st[sp - 1].count += st[sp].count;
            st[sp - 1].distinct += st[sp].distinct;
            break;
        default: {
            if (sp < 1)
                return 0;
            val *v = &st[sp - 1];
            int c = op->op == KHI_LOP_EQ ? v->count == op->n
                    : op->op == KHI_LOP_GT ? v->count > op->n
                                           : v->count < op->n;
            v->ok = c && (op->m == 0 || v->distinct >= op->m);
            break;
        }
        }
    }
    return sp == 1 && st[0].ok;
}
