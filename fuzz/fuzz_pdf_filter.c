/*
 * fuzz_pdf_filter.c - the PDF stream decoders alone (lib/formats/fmt_pdf_filter.c).
 *
 * The walker reaches a decoder only through a well-formed enough stream; this target feeds
 * them directly. The first two bytes choose the filter and its /DecodeParms (predictor,
 * colours, bits per component, columns, EarlyChange); the rest is the stream. The output cap
 * is small (1 MiB) so that bombs end quickly; the output must stay within it.
 */
#include "formats/fmt_pdf.h"
#include "core/core.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t sink;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const int predictors[8] = {1, 2, 10, 11, 12, 13, 14, 15};
    static const int bpcs[4] = {1, 4, 8, 16};
    if (size < 2)
        return 0;
    khi_pdf_parms pp;
    khi_pdf_parms_default(&pp);
    khi_pdf_filter f = (khi_pdf_filter)((data[0] & 7) % 6);
    pp.predictor = predictors[data[0] >> 5];
    pp.early_change = (data[0] >> 4) & 1;
    pp.colors = 1 + (data[1] & 3);
    pp.bpc = bpcs[(data[1] >> 2) & 3];
    pp.columns = 1 + (data[1] >> 4) * 3;
    khi_pdf_out o = {NULL, 0, 0, 1u << 20};
    khi_pdf_status st;
    if (khi_pdf_decode(f, &pp, data + 2, size - 2, &o, &st) == KH_OK) {
        if (o.len > o.max || o.len > o.cap)
            abort();
        for (size_t i = 0; i < o.len; i++)
            sink += o.data[i];
        sink += (size_t)st;
    }
    khi_free(o.data);
    return 0;
}
