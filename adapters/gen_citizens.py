#!/usr/bin/env python3
"""gen_citizens.py - deterministic synthetic Da Nang citizens for popdb-sim and its tests.

Households with heads, spouses with consistent marital status, children linked to parents,
~2% deceased, personal IDs whose gender/century and year digits agree with the record.
Python 3 standard library only; the same --seed and --count always give the same file.
"""
import argparse
import datetime
import json
import random
import sys

FAMILY = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi",
          "Đỗ", "Hồ", "Ngô", "Dương", "Lý"]
# Rough real-world frequencies: Nguyễn dominates.
FAMILY_WEIGHTS = [38, 11, 9, 7, 5, 5, 4, 4, 4, 3, 3, 2, 2, 1, 1, 1]
MIDDLE = {"M": ["Văn", "Hữu", "Đức", "Công", "Quang", "Minh", "Thành", "Xuân", "Đình", "Ngọc"],
          "F": ["Thị", "Thị", "Thị", "Ngọc", "Thu", "Thanh", "Kim", "Bảo", "Mỹ", "Diệu"]}
GIVEN = {"M": ["An", "Bình", "Cường", "Dũng", "Hải", "Hùng", "Khánh", "Long", "Minh", "Nam",
               "Phúc", "Quân", "Sơn", "Tài", "Thắng", "Trung", "Tuấn", "Việt", "Vinh", "Huy"],
         "F": ["Anh", "Chi", "Dung", "Giang", "Hà", "Hạnh", "Hoa", "Hương", "Lan", "Linh",
               "Mai", "Ngân", "Nhung", "Oanh", "Phương", "Quỳnh", "Thảo", "Trang", "Vy", "Yến"]}
# Da Nang ward codes (statistics list of 25/6/2025, see docs/DOMAIN) with the pre-July-2025
# district each code belonged to (synthetic approximation; districts were abolished 2025-07-01).
WARDS = [("20242", "Hải Châu", "492"), ("20257", "Hòa Cường", "492"), ("20209", "Thanh Khê", "491"),
         ("20305", "An Khê", "491"), ("20275", "An Hải", "493"), ("20263", "Sơn Trà", "493"),
         ("20285", "Ngũ Hành Sơn", "494"), ("20200", "Hòa Khánh", "490"), ("20194", "Hải Vân", "490"),
         ("20197", "Liên Chiểu", "490"), ("20260", "Cẩm Lệ", "495"), ("20314", "Hòa Xuân", "495"),
         ("20333", "Hoàng Sa", "498")]
STREETS = ["Lê Duẩn", "Hùng Vương", "Nguyễn Văn Linh", "Bạch Đằng", "Trần Phú", "Điện Biên Phủ",
           "Ngô Quyền", "Võ Nguyên Giáp", "Hoàng Diệu", "Phan Châu Trinh", "Tôn Đức Thắng",
           "Nguyễn Tất Thành", "Lê Văn Hiến", "Ông Ích Khiêm", "Nguyễn Hữu Thọ", "Cách Mạng Tháng Tám"]
PROVINCE = "48"              # Da Nang (2-digit admin code after 2025)
DISTRICTS_ABOLISHED = datetime.date(2025, 7, 1)
TODAY = datetime.date(2025, 11, 1)  # fixed "now" so ages never drift between runs


class Gen:
    def __init__(self, seed):
        self.r = random.Random(seed)
        self.used_ids = set()
        self.people = []

    def birth_date(self, min_age, max_age):
        # Age in whole years within [min_age, max_age] on TODAY.
        lo = TODAY.replace(year=TODAY.year - max_age - 1) + datetime.timedelta(days=1)
        hi = TODAY.replace(year=TODAY.year - min_age)
        return lo + datetime.timedelta(days=self.r.randrange((hi - lo).days + 1))

    def personal_id(self, gender, born):
        # PPP G YY RRRRRR: 048 Da Nang, a few 049 (Quang Nam) birth registrations.
        ppp = "049" if self.r.random() < 0.04 else "048"
        century = (born.year // 100) - 19            # 1900s -> 0, 2000s -> 1
        g = 2 * century + (0 if gender == "M" else 1)
        while True:
            pid = "%s%d%02d%06d" % (ppp, g, born.year % 100, self.r.randrange(1000000))
            if pid not in self.used_ids:
                self.used_ids.add(pid)
                return pid

    def address(self, ward=None):
        code, name, district = ward or self.r.choice(WARDS)
        detail = "%d %s, phường %s" % (self.r.randrange(1, 400), self.r.choice(STREETS), name)
        recorded = datetime.date(2005, 1, 1) + datetime.timedelta(days=self.r.randrange(7600))
        if recorded > TODAY:
            recorded = TODAY
        a = {"province": PROVINCE, "ward": code, "detail": detail, "recorded": recorded.isoformat()}
        if recorded < DISTRICTS_ABOLISHED:
            a["district"] = district
        return a, (code, name, district)

    def person(self, gender, born, family=None):
        family = family or self.r.choices(FAMILY, FAMILY_WEIGHTS)[0]
        middle = self.r.choice(MIDDLE[gender])
        given = self.r.choice(GIVEN[gender])
        p = {"personal_id": self.personal_id(gender, born), "family_name": family,
             "middle_name": middle, "given_name": given,
             "full_name": "%s %s %s" % (family, middle, given), "gender": gender,
             "birth_date": born.strftime("%Y%m%d"), "ethnicity": "Kinh",
             "marital_status": "SINGLE", "spouse_id": None, "father_id": None, "mother_id": None,
             "deceased": False}
        self.people.append(p)
        return p

    def household(self, index):
        head_gender = "M" if self.r.random() < 0.7 else "F"
        head = self.person(head_gender, self.birth_date(24, 85))
        members = [(head, "SELF")]
        kind = self.r.random()
        spouse = None
        if kind < 0.72:  # couple
            other = "F" if head_gender == "M" else "M"
            head_year = int(head["birth_date"][:4])
            age = max(20, min(85, TODAY.year - head_year + self.r.randint(-6, 4)))
            spouse = self.person(other, self.birth_date(age, age))
            for a, b in ((head, spouse), (spouse, head)):
                a["marital_status"] = "MARRIED"
                a["spouse_id"] = b["personal_id"]
            members.append((spouse, "SPOUSE"))
        elif kind < 0.82:
            head["marital_status"] = "DIVORCED"
        elif kind < 0.90 and int(head["birth_date"][:4]) < 1975:
            head["marital_status"] = "WIDOWED"
        if spouse is not None:
            father, mother = (head, spouse) if head_gender == "M" else (spouse, head)
            youngest_parent = max(int(head["birth_date"][:4]), int(spouse["birth_date"][:4]))
            oldest_child_age = TODAY.year - youngest_parent - 20
            for _ in range(self.r.choice([0, 1, 1, 2, 2, 2, 3])):
                if oldest_child_age < 0:
                    break
                child = self.person(self.r.choice("MF"),
                                    self.birth_date(0, max(0, oldest_child_age)),
                                    family=father["family_name"])
                child["father_id"] = father["personal_id"]
                child["mother_id"] = mother["personal_id"]
                members.append((child, "CHILD"))
        perm, ward = self.address()
        hh_id = "HK%s%05d" % (ward[0], index)
        for p, rel in members:
            p["household_id"] = hh_id
            p["household_head_id"] = head["personal_id"]
            p["relation_to_head"] = rel
            p["permanent_residence"] = dict(perm)
            if self.r.random() < 0.15:   # lives elsewhere in the city (temporary residence)
                p["current_residence"], _ = self.address()
            else:
                p["current_residence"] = dict(perm)
        return members

    def kill_some(self, rate):
        """Mark ~rate of adults deceased; a surviving spouse becomes WIDOWED."""
        by_id = {p["personal_id"]: p for p in self.people}
        n = max(1, round(len(self.people) * rate))
        adults = [p for p in self.people if int(p["birth_date"][:4]) <= TODAY.year - 40]
        for p in self.r.sample(adults, min(n, len(adults))):
            p["deceased"] = True
            spouse = by_id.get(p["spouse_id"]) if p["spouse_id"] else None
            if spouse and not spouse["deceased"]:
                spouse["marital_status"] = "WIDOWED"


def known_sets(people):
    """Small, deterministic lists the tests pick from (read them instead of hard-coding)."""
    def first(pred, n=10):
        return [p["personal_id"] for p in people if pred(p)][:n]
    return {
        "alive": first(lambda p: not p["deceased"]),
        "deceased": first(lambda p: p["deceased"], 5),
        "married": first(lambda p: p["marital_status"] == "MARRIED" and not p["deceased"], 5),
        "single_adult": first(lambda p: p["marital_status"] == "SINGLE" and not p["deceased"]
                              and int(p["birth_date"][:4]) <= TODAY.year - 18, 5),
        "moved": first(lambda p: p["current_residence"]["ward"] != p["permanent_residence"]["ward"]
                       and not p["deceased"], 5),
        "born_2000s": first(lambda p: p["personal_id"][3] in "23" and not p["deceased"], 5),
        "quang_nam_birth": first(lambda p: p["personal_id"].startswith("049"), 5),
    }


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=48)
    ap.add_argument("--count", type=int, default=1200, help="minimum number of citizens")
    ap.add_argument("--out", required=True)
    args = ap.parse_args(argv)
    if args.count < 1 or args.count > 1000000:
        ap.error("--count must be 1..1000000")
    g = Gen(args.seed)
    index = 0
    while len(g.people) < args.count:
        index += 1
        g.household(index)
    g.kill_some(0.02)
    doc = {"meta": {"generator": "adapters/gen_citizens.py", "seed": args.seed,
                    "count": len(g.people), "households": index, "as_of": TODAY.isoformat(),
                    "note": "synthetic data; any likeness to real persons is coincidence"},
           "known": known_sets(g.people),
           "citizens": g.people}
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=False, indent=1, sort_keys=True)
        f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
