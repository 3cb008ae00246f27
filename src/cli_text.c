/*
 * cli_text.c - the command line's report texts in Vietnamese.
 *
 * A catalogue keyed by the English text, as gettext keys by its msgid: cli_tr("Scanned files:
 * %llu\n") is the English text itself until KHIEN_LANG=vi (or a command's --lang vi) picks
 * Vietnamese, then the Vietnamese one. Only what people read is here: the summaries of `khien
 * scan` and `khien dns scan` and the word a DNS client line starts with. Lines that tools parse
 * (clamscan's "FOUND" lines, the key=value fields, JSON, CSV) stay as they are, and English stays
 * the default so that scripts reading the summaries keep working. Each Vietnamese text has the
 * same printf conversions in the same order as its English key (tests/cli/test_cli_text.sh
 * checks it; cli_tr's format_arg attribute lets the compiler check the English one against the
 * arguments).
 */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

static const struct {
    const char *en, *vi;
} texts[] = {
    /* khien scan */
    {"\n----------- SCAN SUMMARY -----------\n", "\n----------- TÓM TẮT QUÉT -----------\n"},
    {"Known signatures: %u (hash %u, body %u, logical %u, YARA %u, allow-list %u)\n",
     "Mẫu nhận diện đã nạp: %u (băm %u, nội dung %u, logic %u, YARA %u, danh sách cho phép %u)\n"},
    {"Engine version: %s\n", "Phiên bản bộ máy: %s\n"},
    {"Scanned directories: %llu\n", "Thư mục đã quét: %llu\n"},
    {"Scanned files: %llu\n", "Tệp đã quét: %llu\n"},
    {"Infected files: %llu\n", "Tệp nhiễm mã độc: %llu\n"},
    {"Warnings: %llu\n", "Cảnh báo: %llu\n"},
    {"Errors: %llu\n", "Lỗi: %llu\n"},
    {"Data scanned: %.2f MB\n", "Dữ liệu đã quét: %.2f MB\n"},
    {"Data read: %.2f MB (ratio %.2f:1)\n", "Dữ liệu đã đọc: %.2f MB (tỉ lệ %.2f:1)\n"},
    {"Time: %.3f sec (%d m %d s)\n", "Thời gian: %.3f giây (%d phút %d giây)\n"},
    {"Start Date: %s\n", "Bắt đầu:  %s\n"},
    {"End Date:   %s\n", "Kết thúc: %s\n"},
    /* khien dns scan */
    {"INFECTED", "NHIỄM MÃ ĐỘC"},
    {"clean", "sạch"},
    {"\n----------- DNS SUMMARY -----------\n", "\n----------- TÓM TẮT DNS -----------\n"},
    {"Indicators: %llu domains, %llu IPs, %llu URLs, %llu families; allow-list %llu\n",
     "Chỉ dấu: %llu tên miền, %llu địa chỉ IP, %llu URL, %llu họ mã độc; danh sách cho phép "
     "%llu\n"},
    {"Indicator tables: %.1f MB for %.1f MB of lists\n",
     "Bảng chỉ dấu: %.1f MB cho %.1f MB danh sách\n"},
    {"Log lines: %llu (records %llu, malformed %llu, ignored %llu)\n",
     "Dòng nhật ký: %llu (bản ghi %llu, sai định dạng %llu, bỏ qua %llu)\n"},
    {"Clients: %llu, infected: %llu\n", "Máy khách: %llu, nhiễm mã độc: %llu\n"},
    {"Queries: %llu, hitting indicators: %llu, NXDOMAIN: %llu, DGA names: %llu\n",
     "Truy vấn: %llu, trúng chỉ dấu: %llu, NXDOMAIN: %llu, tên miền DGA: %llu\n"},
    {"Time: %.3f sec to load lists, %.3f sec to read logs (%.0f lines/s)\n",
     "Thời gian: %.3f giây nạp danh sách, %.3f giây đọc nhật ký (%.0f dòng/giây)\n"},
};

static int lang_vi;

/* name is the language code, alone or as a locale ("vi", "vi_VN.UTF-8", "vi-VN"). */
static int is_lang(const char *name, const char *code)
{
    size_t n = strlen(code);
    return strncmp(name, code, n) == 0 &&
           (name[n] == '\0' || name[n] == '_' || name[n] == '-' || name[n] == '.');
}

int cli_lang_set(const char *name)
{
    if (!name || (!is_lang(name, "vi") && !is_lang(name, "en")))
        return -1;
    lang_vi = is_lang(name, "vi");
    return 0;
}

void cli_lang_from_env(void)
{
    const char *e = getenv("KHIEN_LANG");
    if (e && *e)
        (void)cli_lang_set(e);
}

const char *cli_tr(const char *en)
{
    if (!lang_vi)
        return en;
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
        if (strcmp(texts[i].en, en) == 0)
            return texts[i].vi;
    return en;
}
