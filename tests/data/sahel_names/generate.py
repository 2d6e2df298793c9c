"""Writes generated.tsv: deterministic labelled Sahel name pairs (run from the repo root).

`python tests/data/sahel_names/generate.py`. The lexicon below is written independently of the
matcher's variant table; spellings come from press, sanctions lists and civil-registry usage.
"""

from pathlib import Path
import random

GIVEN = [  # latin spellings (first is main) | arabic
    (["Mohamed", "Mohammed", "Muhammad", "Mahamat", "Mouhamed"], "محمد"),
    (["Ahmed", "Ahmad", "Ahmedou"], "أحمد"),
    (["Mahmoud", "Mahmud", "Mahmoude"], "محمود"),
    (["Oumar", "Omar", "Umar", "Oumarou"], "عمر"),
    (["Ousmane", "Usman", "Othman", "Osman"], "عثمان"),
    (["Ibrahim", "Ibrahima", "Brahim"], "إبراهيم"),
    (["Moussa", "Musa", "Mousa"], "موسى"),
    (["Issa", "Isa", "Aissa"], "عيسى"),
    (["Youssouf", "Yusuf", "Youssef", "Yousouf"], "يوسف"),
    (["Souleymane", "Suleiman", "Soulaymane", "Sliman"], "سليمان"),
    (["Abdallahi", "Abdullah", "Abdellahi", "Abdoulaye"], "عبد الله"),
    (["Abdelkader", "Abdulkadir", "Abdoul Kader", "Abd el Kader"], "عبد القادر"),
    (["Abderrahmane", "Abdourahmane", "Abdul Rahman"], "عبد الرحمن"),
    (["Aboubacar", "Abubakar", "Boubacar", "Abou Bakr"], "أبو بكر"),
    (["Moustapha", "Mustapha", "Mustafa"], "مصطفى"),
    (["Ismail", "Ismael", "Ismaila"], "إسماعيل"),
    (["Yacouba", "Yacoub", "Yakouba"], "يعقوب"),
    (["Idrissa", "Idriss", "Idris"], "إدريس"),
    (["Hamidou", "Hamidu"], "حميدو"),
    (["Khalil", "Khalilou"], "خليل"),
    (["Hussein", "Houssein", "Hissein", "Ousseini"], "حسين"),
    (["Hassan", "Hassane", "Hasan"], "حسن"),
    (["Djibril", "Jibril", "Gibril"], "جبريل"),
    (["Haroun", "Harouna", "Harun"], "هارون"),
    (["Zakaria", "Zakariya", "Zacharia"], "زكريا"),
    (["Yahya", "Yahia", "Yehia"], "يحيى"),
    (["Mokhtar", "Moctar", "Mukhtar"], "مختار"),
    (["Salah", "Salah"], "صلاح"),
    (["Khaled", "Khalid"], "خالد"),
    (["Bilal"], "بلال"),
    (["Hamza", "Hamzat"], "حمزة"),
    (["Iyad", "Ayad"], "إياد"),
    (["Sidi", "Sidy"], "سيدي"),
    (["Lamine", "Lemine", "El Amine"], "الأمين"),
]
FEMALE_GIVEN = [
    (["Fatimetou", "Fatimata", "Fatma", "Fatoumata"], "فاطمة"),
    (["Aicha", "Aichetou", "Aissata"], "عائشة"),
    (["Mariem", "Mariam", "Maryam"], "مريم"),
    (["Khadija", "Khadijetou", "Khadidja"], "خديجة"),
    (["Zeinabou", "Zeinab", "Zainab"], "زينب"),
    (["Aminetou", "Aminata", "Amina"], "آمنة"),
    (["Halima", "Alima"], "حليمة"),
    (["Hawa", "Awa"], "حواء"),
    (["Safia", "Safiatou", "Safiya"], "صفية"),
]
FAMILY = [
    (["Traoré", "Traore", "Trawore"], "تراوري"),
    (["Touré", "Toure"], "توري"),
    (["Keïta", "Keita"], "كيتا"),
    (["Coulibaly", "Koulibaly"], "كوليبالي"),
    (["Diarra", "Diara"], "ديارا"),
    (["Maïga", "Maiga", "Mayga"], "مايغا"),
    (["Cissé", "Cisse", "Sisse"], "سيسي"),
    (["Ouédraogo", "Ouedraogo", "Wedraogo"], "ويدراوغو"),
    (["Sawadogo", "Savadogo"], "ساوادوغو"),
    (["Diallo", "Jallow", "Jalloh"], "ديالو"),
    (["Dicko", "Diko"], "ديكو"),
    (["Sanogo"], "سانوغو"),
    (["Sangaré", "Sangare"], "سنغاري"),
    (["Ouattara", "Wattara"], "واتارا"),
    (["Kaboré", "Kabore"], "كابوري"),
    (["Zongo"], "زونغو"),
    (["Goïta", "Goita"], "غويتا"),
    (["Bazoum"], "بازوم"),
    (["Tandja", "Tanja"], "تانجا"),
    (["Kountché", "Kountche"], "كونتشي"),
    (["Déby", "Deby"], "ديبي"),
    (["Kamougué", "Kamougue"], "كاموغي"),
    (["Intalla", "Intallah"], "انتالا"),
    (["Ghaly", "Ghali"], "غالي"),
    (["Najim", "Nadjim"], "نجيم"),
    (["Kounta", "Kunta"], "كنتة"),
    (["Mahjoub", "Mahjoub", "Mahdjoub"], "محجوب"),
    (["Lemrabott", "Lemrabet"], "المرابط"),
    (["Barka", "Baraka"], "بركة"),
    (["Bakri", "Bekri"], "بكري"),
    (["Hamoud", "Hammoud"], "حمود"),
    (["Salem", "Saalem"], "سالم"),
    (["Vall", "Val"], "فال"),
    (["Cheikh", "Sheikh"], "الشيخ"),
]
SON_OF = [("Ould", "ولد"), ("Wuld", "ولد"), ("Ag", "أغ"), ("Ben", "بن"), ("Bin", "بن")]


def name_parts(rng: random.Random, female: bool = False) -> tuple[tuple[list[str], str], tuple[list[str], str], bool]:
    given = rng.choice(FEMALE_GIVEN if female else GIVEN)
    father = rng.choice(GIVEN + FAMILY)
    while father is given:
        father = rng.choice(GIVEN + FAMILY)
    return given, father, female


def latin(parts: tuple[list[str], str], index: int = 0) -> str:
    spellings = parts[0]
    return spellings[min(index, len(spellings) - 1)]


def typo(rng: random.Random, word: str) -> str:
    if len(word) < 5:
        return word + word[-1]
    i = rng.randrange(1, len(word) - 1)
    kind = rng.choice(["drop", "swap", "double", "vowel"])
    if kind == "drop":
        return word[:i] + word[i + 1 :]
    if kind == "swap":
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    if kind == "double":
        return word[:i] + word[i] + word[i:]
    vowels = "aeiou"
    j = next((k for k in range(i, len(word)) if word[k] in vowels), i)
    return word[:j] + rng.choice([v for v in vowels if v != word[j]]) + word[j + 1 :]


def rows(rng: random.Random) -> list[tuple[str, str, str, str]]:
    out: list[tuple[str, str, str, str]] = []
    for _ in range(70):
        female = rng.random() < 0.25
        given, father, _ = name_parts(rng, female)
        particle, particle_ar = ("Mint", "منت") if female else rng.choice(SON_OF)
        base = f"{latin(given)} {particle} {latin(father)}"
        arabic = f"{given[1]} {particle_ar} {father[1]}"
        out.append((base, arabic, "match", "cross_script"))
        variant = f"{latin(given, rng.randrange(1, 5))} {particle} {latin(father, rng.randrange(1, 4))}"
        if variant != base:
            out.append((base, variant, "match", "variant"))
        out.append((base, f"{typo(rng, latin(given))} {particle} {latin(father)}", "match", "typo"))
        other = rng.choice(GIVEN + FAMILY)
        if other is not father and other is not given:
            out.append((base, f"{latin(given)} {particle} {latin(other)}", "nonmatch", "hard_negative"))
        if not female and father in GIVEN:
            out.append((base, f"{latin(father)} {particle} {latin(given)}", "nonmatch", "hard_negative"))
        if female:
            out.append((base, f"{latin(rng.choice(GIVEN))} Ould {latin(father)}", "nonmatch", "hard_negative"))
    for _ in range(60):
        given, family = rng.choice(GIVEN + FEMALE_GIVEN), rng.choice(FAMILY)
        base = f"{latin(given)} {latin(family)}"
        out.append((base, f"{family[0][0].upper()} {latin(given)}", "match", "word_order"))
        out.append((base, f"{given[1]} {family[1]}", "match", "cross_script"))
        out.append((base, f"{latin(given)} {typo(rng, latin(family))}", "match", "typo"))
        out.append((base, f"{latin(given, rng.randrange(1, 4))} {latin(family, rng.randrange(1, 3))}", "match", "variant"))
        out.append((base, f"El Hadj {latin(given)} {latin(family)}", "match", "title"))
        other_family = rng.choice(FAMILY)
        if other_family is not family:
            out.append((base, f"{latin(given)} {latin(other_family)}", "nonmatch", "hard_negative"))
        other_given = rng.choice(GIVEN)
        if other_given is not given:
            out.append((base, f"{other_given[1]} {family[1]}", "nonmatch", "hard_negative_cross_script"))
    return list(dict.fromkeys(r for r in out if r[0] != r[1]))


def main() -> None:
    target = Path(__file__).with_name("generated.tsv")
    with target.open("w", encoding="utf-8") as out:
        out.write("left\tright\tlabel\tcategory\n")
        for row in rows(random.Random(20261129)):
            out.write("\t".join(row) + "\n")
    print(f"wrote {target}")


if __name__ == "__main__":
    main()
