/* pid.c - local consistency check and masking of the 12-digit personal ID.
 * The province table is the birth-registration code list of the 63 provinces before the
 * July 2025 merger (Circular 07/2016/TT-BCA, later 59/2021/TT-BCA); codes never change. */
#include "pid.h"

#include <stdio.h>
#include <string.h>

static const struct {
    const char code[4];
    const char *name;
} pid_provinces[] = {
    {"001", "Hà Nội"}, {"002", "Hà Giang"}, {"004", "Cao Bằng"}, {"006", "Bắc Kạn"},
    {"008", "Tuyên Quang"}, {"010", "Lào Cai"}, {"011", "Điện Biên"}, {"012", "Lai Châu"},
    {"014", "Sơn La"}, {"015", "Yên Bái"}, {"017", "Hòa Bình"}, {"019", "Thái Nguyên"},
    {"020", "Lạng Sơn"}, {"022", "Quảng Ninh"}, {"024", "Bắc Giang"}, {"025", "Phú Thọ"},
    {"026", "Vĩnh Phúc"}, {"027", "Bắc Ninh"}, {"030", "Hải Dương"}, {"031", "Hải Phòng"},
    {"033", "Hưng Yên"}, {"034", "Thái Bình"}, {"035", "Hà Nam"}, {"036", "Nam Định"},
    {"037", "Ninh Bình"}, {"038", "Thanh Hóa"}, {"040", "Nghệ An"}, {"042", "Hà Tĩnh"},
    {"044", "Quảng Bình"}, {"045", "Quảng Trị"}, {"046", "Thừa Thiên Huế"}, {"048", "Đà Nẵng"},
    {"049", "Quảng Nam"}, {"051", "Quảng Ngãi"}, {"052", "Bình Định"}, {"054", "Phú Yên"},
    {"056", "Khánh Hòa"}, {"058", "Ninh Thuận"}, {"060", "Bình Thuận"}, {"062", "Kon Tum"},
    {"064", "Gia Lai"}, {"066", "Đắk Lắk"}, {"067", "Đắk Nông"}, {"068", "Lâm Đồng"},
    {"070", "Bình Phước"}, {"072", "Tây Ninh"}, {"074", "Bình Dương"}, {"075", "Đồng Nai"},
    {"077", "Bà Rịa - Vũng Tàu"}, {"079", "Hồ Chí Minh"}, {"080", "Long An"},
    {"082", "Tiền Giang"}, {"083", "Bến Tre"}, {"084", "Trà Vinh"}, {"086", "Vĩnh Long"},
    {"087", "Đồng Tháp"}, {"089", "An Giang"}, {"091", "Kiên Giang"}, {"092", "Cần Thơ"},
    {"093", "Hậu Giang"}, {"094", "Sóc Trăng"}, {"095", "Bạc Liêu"}, {"096", "Cà Mau"},
};

_Static_assert(sizeof(pid_provinces) / sizeof(pid_provinces[0]) == 63, "63 provinces");

static bool all_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

const char *pid_province_name(const char *code)
{
    if (!code || strlen(code) != 3)
        return NULL;
    for (size_t i = 0; i < sizeof(pid_provinces) / sizeof(pid_provinces[0]); i++)
        if (memcmp(pid_provinces[i].code, code, 3) == 0)
            return pid_provinces[i].name;
    return NULL;
}

bool pid_province_known(const char *code)
{
    return pid_province_name(code) != NULL;
}

static mc_err fail(char *why, size_t whycap, const char *msg)
{
    if (why && whycap)
        snprintf(why, whycap, "%s", msg);
    return MC_ERR_PID_INVALID;
}

mc_err pid_check(const char *pid, const char *birth_date, char gender, char *why, size_t whycap)
{
    char ppp[4] = {0};
    char buf[256];
    int year, g, want_g;

    if (why && whycap)
        why[0] = '\0';
    if (!pid || strnlen(pid, PID_LEN + 1) != PID_LEN || !all_digits(pid, PID_LEN))
        return fail(why, whycap, "Số định danh cá nhân phải gồm đúng 12 chữ số "
                                 "(the personal ID must be exactly 12 digits)");
    if (!birth_date || strnlen(birth_date, 11) < 4 || !all_digits(birth_date, 4) ||
        (birth_date[4] != '\0' && birth_date[4] != '-'))
        return fail(why, whycap, "Ngày sinh khai báo không hợp lệ "
                                 "(the declared date of birth is not valid)");
    if (gender != 'M' && gender != 'F')
        return fail(why, whycap, "Giới tính khai báo phải là M hoặc F "
                                 "(the declared gender must be M or F)");

    memcpy(ppp, pid, 3);
    if (!pid_province_known(ppp)) {
        snprintf(buf, sizeof(buf), "Ba chữ số đầu %s không phải mã tỉnh nơi đăng ký khai sinh "
                 "(the first three digits %s are not a birth-registration province code)", ppp, ppp);
        return fail(why, whycap, buf);
    }

    year = (birth_date[0] - '0') * 1000 + (birth_date[1] - '0') * 100 +
           (birth_date[2] - '0') * 10 + (birth_date[3] - '0');
    if (year < 1900 || year > 2199)
        return fail(why, whycap, "Năm sinh nằm ngoài khoảng 1900-2199 mà số định danh biểu diễn được "
                                 "(the birth year is outside 1900-2199, which the ID can encode)");

    /* G: even = male, odd = female; 0/1 1900s, 2/3 2000s, 4/5 2100s. */
    g = pid[3] - '0';
    want_g = (year - 1900) / 100 * 2 + (gender == 'F');
    if (g > 5) {
        snprintf(buf, sizeof(buf), "Chữ số thứ tư (%d) không phải mã giới tính và thế kỷ hợp lệ "
                 "(the fourth digit %d is not a valid gender-and-century code)", g, g);
        return fail(why, whycap, buf);
    }
    if (g % 2 != want_g % 2) {
        snprintf(buf, sizeof(buf), "Chữ số thứ tư của số định danh (%d) cho giới tính %s, khác giới tính "
                 "khai báo (the fourth digit %d means %s, not the declared gender)", g,
                 g % 2 ? "nữ" : "nam", g, g % 2 ? "female" : "male");
        return fail(why, whycap, buf);
    }
    if (g / 2 != want_g / 2) {
        snprintf(buf, sizeof(buf), "Chữ số thứ tư của số định danh (%d) ứng với người sinh trong những năm %d00, "
                 "khác năm sinh khai báo %d (the fourth digit %d means born in the %d00s, not in %d)", g,
                 19 + g / 2, year, g, 19 + g / 2, year);
        return fail(why, whycap, buf);
    }
    if ((pid[4] - '0') * 10 + (pid[5] - '0') != year % 100) {
        snprintf(buf, sizeof(buf), "Chữ số thứ năm và sáu của số định danh (%c%c) khác hai số cuối "
                 "năm sinh %d (digits five and six %c%c do not match the birth year %d)",
                 pid[4], pid[5], year, pid[4], pid[5], year);
        return fail(why, whycap, buf);
    }
    return MC_OK;
}

char *pid_mask(const char *pid, char *out, size_t cap)
{
    size_t n, i;

    if (!out || cap == 0)
        return out;
    n = pid ? strnlen(pid, cap) : 0;
    if (n == PID_LEN && all_digits(pid, PID_LEN) && cap > PID_LEN) {
        memcpy(out, pid, 3);
        memset(out + 3, '*', PID_LEN - 6);
        memcpy(out + PID_LEN - 3, pid + PID_LEN - 3, 3);
        out[PID_LEN] = '\0';
        return out;
    }
    /* Not a PID (or no room for one): reveal nothing but the length. */
    if (n > cap - 1)
        n = cap - 1;
    for (i = 0; i < n; i++)
        out[i] = '*';
    out[n] = '\0';
    return out;
}
